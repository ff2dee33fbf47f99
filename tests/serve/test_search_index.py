"""The FHIR API's search index (serve/search_index.py): built once beside the read-only practice, it gives the
same answers as building the search columns from the record, leaves the practice file's bytes alone, and the
sandbox overlay's writes still come in searches across everyone."""

from __future__ import annotations

import hashlib
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from synthgp.serve.app import create_app

from tests.conftest import generate
from tests.serve.running import serving

SNOMED = "http://snomed.info/sct"
BP = "75367002"  # the BP panel's SNOMED code, as a client searches it (docs/serve.md); an input, not read by synthgp
SEARCHES = [
    f"/fhir/Observation?code={BP}&_count=7&_offset=30",
    f"/fhir/Observation?code={BP},85354-9&_count=5&_sort=-date",
    f"/fhir/Observation?code={BP}&code=85354-9&date=ge2015-01-01&_count=4",
    "/fhir/Observation?category=laboratory&_count=3&_offset=10",
    "/fhir/Observation?date=2019&_count=0",
    "/fhir/MedicationRequest?_count=4&_sort=-date",
    "/fhir/MedicationRequest?authoredon=ge2020-06&_total=none&_count=3",
    "/fhir/Encounter?date=2019-03&_count=3",
    "/fhir/Immunization?status=completed&_count=2",
    "/fhir/Procedure?_count=2&_total=none",
    "/fhir/DiagnosticReport?category=laboratory&_count=2&_sort=_id",
    "/fhir/Condition?_count=3",
]


@pytest.fixture(scope="module")
def out(tmp_path_factory) -> Path:
    return generate(tmp_path_factory.mktemp("index") / "out", 300, seed=47, formats=("duckdb",))


def _answers(client: TestClient, urls: list[str]) -> list[tuple]:
    out = []
    for u in urls:
        r = client.get(u)
        if "?" not in u:  # a read
            out.append((u, r.status_code, r.json()))
            continue
        assert r.status_code == 200, (u, r.text)
        b = r.json()
        out.append((u, b.get("total"), [e["resource"] for e in b.get("entry", [])],
                    [(link["relation"], link["url"]) for link in b["link"]]))
    return out


def test_the_index_answers_as_the_record_does(out):
    app = create_app(out)
    index = app.state.search_index
    assert index.wait(300), "the index is built"
    with TestClient(app) as client:
        found = client.get(f"/fhir/Observation?code={BP}&_count=3").json()["entry"]
        reads = [f"/fhir/Observation/{e['resource']['id']}" for e in found] + ["/fhir/Observation/1", "/fhir/Encounter/2"]
        indexed = _answers(client, SEARCHES + reads)
        ready = set(index._ready)
        index._ready.clear()  # no type ready: every search builds its columns from the record, as before the index
        from_record = _answers(client, SEARCHES + reads)
        index._ready |= ready
        assert client.get("/status").json()["search_index"] == "ready"
    assert indexed == from_record
    # the comparison is not empty: most searches find something, one finds many
    assert sum(bool(a[2]) for a in indexed) >= 8 and indexed[0][1] > 100
    assert [a[1] for a in indexed[-5:]] == [200, 200, 200, 404, 404]  # reads: three found, two unknown


def test_the_practice_is_untouched_and_written_resources_are_searched(out):
    db = out / "synthgp.duckdb"
    before = hashlib.sha256(db.read_bytes()).hexdigest()
    with serving(out, "--writable") as base:
        fhir = base + "/fhir"
        assert httpx.get(base + "/status").json()["search_index"] == "ready"
        total = httpx.get(f"{fhir}/Observation", params={"code": BP, "_count": 3}).json()["total"]
        patid = httpx.get(f"{fhir}/Patient", params={"_count": 1}).json()["entry"][0]["resource"]["id"]
        made = httpx.post(f"{fhir}/Observation", json={
            "resourceType": "Observation", "status": "final", "subject": {"reference": f"Patient/{patid}"},
            "code": {"coding": [{"system": SNOMED, "code": BP}]}, "effectiveDateTime": "2024-06-01"})
        assert made.status_code == 201, made.text
        page = httpx.get(f"{fhir}/Observation", params={"code": BP, "_count": 3}).json()
        assert page["total"] == total + 1
        assert made.json()["id"] in [e["resource"]["id"] for e in page["entry"]]
        httpx.post(base + "/sandbox/reset").raise_for_status()
        assert httpx.get(f"{fhir}/Observation", params={"code": BP, "_count": 3}).json()["total"] == total
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before
    assert not list(out.glob("*.wal"))


def test_a_patients_searches_reads_and_everything_agree_with_the_record(out):
    """The paths that build only some resources (a patient's search through the index sorted by patient, a read by
    id, $everything from the shared builder) give what the export's own query gives for that patient."""
    import duckdb

    from synthgp.formats import fhir_resources as fhir
    from synthgp.serve.fhir_params import PATIENT_SCOPED

    app = create_app(out)
    index = app.state.search_index
    with TestClient(app) as client:
        assert index.wait(120)
        patid = client.get(f"/fhir/Observation?code={BP}&_count=1").json()["entry"][0]["resource"]["subject"]["reference"][8:]
        searches = [f"/fhir/Observation?patient={patid}", f"/fhir/Observation?patient={patid}&code={BP}&_count=2&_offset=1",
                    f"/fhir/MedicationRequest?subject=Patient/{patid}&_sort=-date&_count=5",
                    f"/fhir/Encounter?patient={patid}&date=ge2018&_total=none",
                    f"/fhir/Observation?patient={patid}&category=vital-signs&_sort=_id",
                    f"/fhir/Observation?patient={patid},{int(patid) + 1},{int(patid) + 2}&code={BP},85354-9&_sort=-date",
                    f"/fhir/Condition?patient={patid}&_include=Condition:patient",
                    f"/fhir/Immunization?patient={patid}&patient={int(patid) + 1}",  # ANDed: nobody
                    f"/fhir/Procedure?patient={patid}&_id=1,2,3&_count=0"]
        indexed = _answers(client, searches)
        ready = set(index._ready)
        index._ready.clear()
        from_record = _answers(client, searches)
        index._ready |= ready
        everything = client.get(f"/fhir/Patient/{patid}/$everything").json()
    assert indexed == from_record
    assert indexed[0][1] > 5 and indexed[1][2] and indexed[2][1] > 0  # the comparisons hold resources
    con = duckdb.connect(str(out / "synthgp.duckdb"), read_only=True)
    expect = [("Patient", patid)]
    for kind in PATIENT_SCOPED:  # the export's query, the patient's rows in the search's default order
        sql = f"SELECT id FROM ({fhir.QUERIES[kind](lambda a: f'{a}.patid = {int(patid)}')}) ORDER BY sdate, id"
        expect += [(kind, i) for (i,) in con.execute(sql).fetchall()]
    got = [(e["resource"]["resourceType"], e["resource"]["id"]) for e in everything["entry"]]
    assert got == expect and everything["total"] == len(expect) > 20



def test_ids_past_the_largest_integer_are_nobody(out):
    """A patient id past DuckDB's BIGINT (19 digits pass the id check) is nobody: 404 or no matches, before and
    after the index is built, never a server error (schemathesis found the patient page's 500)."""
    app = create_app(out)
    big = "9999999999999999999"
    urls = [f"/patient/{big}0", f"/fhir/Patient/{big}", f"/fhir/Patient/{big}/$everything", f"/fhir/Observation/{big}",
            f"/fhir/Observation?patient={big}", f"/fhir/Encounter?subject=Patient/{big}&date=ge2015"]
    with TestClient(app) as client:
        before = [client.get(u).status_code for u in urls]
        assert app.state.search_index.wait(120)
        after = [client.get(u) for u in urls]
    assert before == [r.status_code for r in after] == [404, 404, 404, 404, 200, 200]
    assert [r.json()["total"] for r in after[4:]] == [0, 0]
