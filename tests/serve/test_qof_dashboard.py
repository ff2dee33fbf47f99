"""The viewer's QOF dashboard shows every register of every practice, with the figures evaluate/qof_registers.py
computes from the record (the real server over a freshly generated practice)."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import httpx
import pytest

from synthgp.evaluate import qof_registers

from tests.conftest import generate
from tests.serve.running import serving


@pytest.fixture(scope="module")
def out(tmp_path_factory) -> Path:
    return generate(tmp_path_factory.mktemp("qofdash") / "out", 1500, seed=31)


def test_the_dashboard_lists_every_register_with_its_indicator(out):
    con = duckdb.connect(str(out / "synthgp.duckdb"), read_only=True)
    try:
        want = qof_registers.by_practice(con)
    finally:
        con.close()
    with serving(out) as base:
        html = httpx.get(base + "/").text
    assert 'id="qof-registers"' in html
    tables = re.findall(r'<table class="grid qof-registers" data-pracid="(\d+)">(.*?)</table>', html, re.S)
    assert {int(p) for p, _ in tables} == set(want)
    for pracid, body in tables:
        rows = re.findall(r"<tr><td>([a-z ]+)</td><td class=\"n\">([\d,]+)</td>", body)
        assert [r[0] for r in rows] == [n.replace("_", " ") for n in qof_registers.ROWS]
        assert [int(r[1].replace(",", "")) for r in rows] == [q["count"] for q in want[int(pracid)]]
        for q in want[int(pracid)]:
            if q["den"]:
                assert f"<b>{q['indicator']}</b>" in body and f"({q['num']}/{q['den']})" in body
