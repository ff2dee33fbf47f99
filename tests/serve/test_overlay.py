"""Write-back for apps under test (serve/overlay.py), against `synthgp serve --writable` started for real: writes land
in an overlay beside the practice, reads and patient searches see them, a reset drops them, the practice's own
files never change, and bad writes get a clear 4xx."""

from __future__ import annotations

import hashlib
from pathlib import Path

import duckdb
import httpx
import pytest

from synthgp.serve import overlay
from synthgp.serve.smart import access_of

from tests.conftest import generate
from tests.serve.running import serving

SNOMED = "http://snomed.info/sct"


@pytest.fixture(scope="module")
def out(tmp_path_factory) -> Path:
    return generate(tmp_path_factory.mktemp("overlay") / "out", 300, seed=43, formats=("duckdb",))


def _patient(out: Path) -> int:
    with duckdb.connect(str(out / "synthgp.duckdb"), read_only=True) as con:
        return con.execute("SELECT min(patid) FROM observation").fetchone()[0]


def _obs(patid, code="271649006", day="2024-06-01", value=128):
    return {"resourceType": "Observation", "status": "final", "subject": {"reference": f"Patient/{patid}"},
            "code": {"coding": [{"system": SNOMED, "code": code}]}, "effectiveDateTime": day,
            "valueQuantity": {"value": value, "unit": "mmHg", "system": "http://unitsofmeasure.org", "code": "mm[Hg]"}}


def test_writes_go_to_the_overlay_and_a_reset_drops_them(out):
    patid = _patient(out)
    db = out / "synthgp.duckdb"
    before = hashlib.sha256(db.read_bytes()).hexdigest()
    with serving(out, "--writable") as base:
        fhir = base + "/fhir"
        n0 = httpx.get(f"{fhir}/Observation", params={"patient": patid, "_count": 500}).json()["total"]
        made = httpx.post(f"{fhir}/Observation", json=_obs(patid))
        assert made.status_code == 201, made.text
        res = made.json()
        assert res["id"] == "w1" and res["meta"]["versionId"] == "1" and made.headers["location"].endswith("/fhir/Observation/w1/_history/1")
        assert httpx.get(f"{fhir}/Observation/w1").json()["valueQuantity"]["value"] == 128
        httpx.post(f"{fhir}/Observation", json=_obs(patid, code="72313002", day="2023-01-05")).raise_for_status()
        page = httpx.get(f"{fhir}/Observation", params={"patient": patid, "_count": 500}).json()
        ids = [e["resource"]["id"] for e in page["entry"]]
        assert page["total"] == n0 + 2 and {"w1", "w2"} <= set(ids)
        # the overlay answers the search parameters it can judge: code, date, _id
        by_code = httpx.get(f"{fhir}/Observation", params={"patient": patid, "code": f"{SNOMED}|72313002"}).json()
        assert "w2" in [e["resource"]["id"] for e in by_code.get("entry", [])]
        assert "w1" not in [e["resource"]["id"] for e in by_code.get("entry", [])]
        by_date = httpx.get(f"{fhir}/Observation", params={"patient": patid, "date": "ge2024-01-01", "_count": 500}).json()
        assert "w1" in [e["resource"]["id"] for e in by_date["entry"]] and "w2" not in [e["resource"]["id"] for e in by_date["entry"]]
        # another patient's search does not see them
        other = httpx.get(f"{fhir}/Observation", params={"patient": patid + 1, "_count": 500}).json()
        assert not {"w1", "w2"} & {e["resource"]["id"] for e in other.get("entry", [])}
        cap = httpx.get(f"{fhir}/metadata").json()
        obs_cap = next(r for r in cap["rest"][0]["resource"] if r["type"] == "Observation")
        assert {"code": "create"} in obs_cap["interaction"]
        assert httpx.post(base + "/sandbox/reset").status_code == 204
        assert httpx.get(f"{fhir}/Observation/w1").status_code == 404
        assert httpx.get(f"{fhir}/Observation", params={"patient": patid, "_count": 500}).json()["total"] == n0
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before  # the practice itself never changed


def test_bad_writes_get_a_clear_4xx_and_a_read_only_server_refuses(out):
    patid = _patient(out)
    with serving(out, "--writable") as base:
        fhir = base + "/fhir"
        cases = [
            (f"{fhir}/Observation", {"resourceType": "Condition"}, 400, "takes a Observation"),
            (f"{fhir}/Observation", {**_obs(patid), "subject": {"reference": "Patient/999999999"}}, 422, "must name a patient"),
            (f"{fhir}/Observation", {k: v for k, v in _obs(patid).items() if k != "status"}, 422, "needs status"),
            (f"{fhir}/MedicationRequest", {"resourceType": "MedicationRequest", "status": "active",
                                           "subject": {"reference": f"Patient/{patid}"}}, 422, "needs intent"),
        ]
        for url, body, status, words in cases:
            r = httpx.post(url, json=body)
            assert r.status_code == status and words in r.json()["issue"][0]["diagnostics"], (body, r.text)
        r = httpx.post(f"{fhir}/Observation", content=b"{not json", headers={"content-type": "application/fhir+json"})
        assert r.status_code == 400 and "not JSON" in r.text
        r = httpx.post(f"{fhir}/Observation", content=b" " * (overlay.MAX_BODY + 1))
        assert r.status_code == 413
        assert httpx.post(f"{fhir}/Patient", json={"resourceType": "Patient"}).status_code == 405
    with serving(out) as base:  # started without --writable
        r = httpx.post(base + "/fhir/Observation", json=_obs(patid))
        assert r.status_code == 405 and "--writable" in r.json()["issue"][0]["diagnostics"]


def test_write_scopes():
    read_only = access_of("launch/patient patient/*.read", 5)
    assert not read_only.may_write("Observation")
    v2 = access_of("patient/Observation.cruds patient/*.rs", 5)
    assert v2.may_write("Observation") and not v2.may_write("Condition")
    v1 = access_of("patient/*.write patient/*.read", 5)
    assert v1.may_write("MedicationRequest") and v1.patient == 5
