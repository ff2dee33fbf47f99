"""Resources passed on as DuckDB's JSON text (serve/fhir_json.py) are the resources the API parsed and dumped
before: the same objects with meta.versionId and meta.lastUpdated, for every type of a generated practice."""

from __future__ import annotations

import json

import duckdb
import pytest

from synthgp.formats import fhir_resources as fhir
from synthgp.serve.fhir_json import Raw, dumps, parsed, resource

from tests.conftest import generate

UPDATED = "2026-12-01T09:00:00+00:00"


def _old(text: str) -> dict:
    """What the API did before: parse, and put versionId and lastUpdated first in meta."""
    res = json.loads(text)
    res["meta"] = {"versionId": "1", "lastUpdated": UPDATED, **res.get("meta", {})}
    return res


@pytest.fixture(scope="module")
def texts(tmp_path_factory) -> dict[str, list[str]]:
    out = generate(tmp_path_factory.mktemp("fhirjson") / "out", 200, seed=59, formats=("duckdb",))
    con = duckdb.connect(str(out / "synthgp.duckdb"), read_only=True)
    return {kind: [t for (t,) in con.execute(f"SELECT resource FROM ({fhir.QUERIES[kind]()}) LIMIT 300").fetchall()]
            for kind in fhir.TYPES}


def test_every_types_text_is_passed_on_and_means_what_the_parsed_one_did(texts):
    for kind, rows in texts.items():
        assert rows, kind
        for t in rows:
            r = resource(t, UPDATED)
            assert isinstance(r, Raw), (kind, t[:80])  # DuckDB's text begins as expected: nothing is parsed
            assert json.loads(r) == _old(t) and list(json.loads(r)["meta"])[:2] == ["versionId", "lastUpdated"]
            assert json.loads(dumps({"entry": [{"resource": r}]})) == {"entry": [{"resource": _old(t)}]}


def test_unusual_text_is_parsed_and_a_clients_string_is_never_taken_for_a_resource():
    t = '{"id":"1","resourceType":"Patient","meta":{"profile":["x"]}}'  # not in DuckDB's order
    assert resource(t, UPDATED) == _old(t) and not isinstance(resource(t, UPDATED), Raw)
    t = '{"resourceType":"Patient","id":"1","meta":{}}'
    assert json.loads(resource(t, UPDATED)) == _old(t)  # an empty meta gets no stray comma
    raw = resource('{"resourceType":"Patient","id":"7","meta":{"profile":["p"]}}', UPDATED)
    sneaky = {"note": "\u00000\u0000", "also": '"\u00000:0\u0000"'}  # what a mark looks like, written by a client
    out = json.loads(dumps({"a": sneaky, "b": raw}))
    assert out["a"] == sneaky and out["b"] == parsed(raw)
