"""Queries shared by concurrent requests (serve/shared_queries.py): requests for different patients at once are
answered by fewer queries than requests, each request gets exactly what it gets alone, and an error reaches
every request of its batch."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import duckdb
import pytest

from synthgp.serve import viewer
from synthgp.serve.fhir_build import Builder
from synthgp.serve.shared_queries import Shared

from tests.conftest import generate


@pytest.fixture(scope="module")
def out(tmp_path_factory) -> Path:
    return generate(tmp_path_factory.mktemp("shared") / "out", 300, seed=53, formats=("duckdb",))


def _at_once(fn, args: list) -> dict:
    """fn(arg) for every arg, each in its own thread, started together: {arg: result or the exception}."""
    got, start = {}, threading.Barrier(len(args))

    def one(a):
        start.wait()
        try:
            got[a] = fn(a)
        except Exception as exc:  # noqa: BLE001 (the test compares what each thread met)
            got[a] = exc

    threads = [threading.Thread(target=one, args=(a,)) for a in args]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return got


def test_fhir_resources_built_together_are_each_requests_own(out):
    con = duckdb.connect(str(out / "synthgp.duckdb"), read_only=True)
    patids = [p for (p,) in con.execute("SELECT patid FROM patient ORDER BY patid LIMIT 24").fetchall()]
    queries = []

    def connect():
        queries.append(1)
        return con.cursor()

    builder = Builder(connect)
    alone = {p: sorted(builder.build("Observation", [p])) for p in patids}
    assert len(queries) == len(patids) and sum(len(v) for v in alone.values()) > 100
    together = _at_once(lambda p: sorted(builder.build("Observation", [p])), patids)
    assert together == alone
    assert len(queries) - len(patids) < len(patids)  # shared: fewer queries than requests
    one = alone[patids[0]][0]
    assert builder.build("Observation", [patids[0]], [one[1]]) == [one]  # asked by id: that one alone
    records = _at_once(lambda p: builder.records(p, ("Observation", "Encounter")), patids[:8])
    assert {p: sorted(r["Observation"]) for p, r in records.items()} == {p: alone[p] for p in patids[:8]}
    assert all(r["Encounter"] for r in records.values())


def test_a_patients_page_read_together_is_as_read_alone(out):
    con = duckdb.connect(str(out / "synthgp.duckdb"), read_only=True)
    patids = [p for (p,) in con.execute("SELECT patid FROM patient ORDER BY patid DESC LIMIT 12").fetchall()] + [1]
    alone = {p: viewer.record(con, p) for p in patids}
    shared = Shared()
    together = _at_once(lambda p: viewer.record(con.cursor(), p, shared), patids)
    assert together == alone and alone[1] is None and sum(len(r["journal"]) for r in alone.values() if r) > 20


def test_an_error_reaches_every_request_of_its_batch():
    shared, started, release = Shared(), threading.Event(), threading.Event()

    def execute(values):
        if 0 in values:  # the first batch: hold it until the others wait behind it
            started.set()
            release.wait(10)
            return [v * 10 for v in values]
        time.sleep(0.2)  # long enough for the other requests to queue behind it
        raise ValueError(f"broken batch {sorted(values)}")

    def ask(v):
        if v:
            started.wait(10)
        if v == 5:
            threading.Timer(0.3, release.set).start()
        return shared.run("k", v, execute)

    got = _at_once(ask, list(range(6)))
    assert got[0] == 0
    errors = [got[v] for v in range(1, 6)]
    assert all(isinstance(e, ValueError) for e in errors)
    assert len({str(e) for e in errors}) < 5  # they were batched: fewer distinct batches than requests


def test_two_runs_of_a_key_go_at_once_and_the_rest_wait():
    """MAX_RUNNING (2) runs of a key at once: a lone pair of requests waits for nobody; a third waits and is answered
    by a run of its own once one ends."""
    shared, inside, release = Shared(), [], threading.Event()

    def execute(values):
        inside.append(values)
        release.wait(10)
        return values

    threads = [threading.Thread(target=shared.run, args=("k", v, execute)) for v in range(3)]
    for t in threads:
        t.start()
        time.sleep(0.1)
    assert sorted(map(tuple, inside)) == [(0,), (1,)]  # two running, the third waiting
    release.set()
    for t in threads:
        t.join()
    assert sorted(map(tuple, inside)) == [(0,), (1,), (2,)]
