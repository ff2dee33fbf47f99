"""Issue 17's new content in every format, from hand-made records (tests/formats/handmade.py) added to a generated
practice and written by the real exporters: a consultation's reason, a lab panel, a vaccination of an IMM
cluster and an acute prescription, as FHIR (UK Core), Synthea CSV and Aurum, and through the FHIR API."""

from __future__ import annotations

import csv
import json
import subprocess
import sys

import duckdb
import pytest
from fhir.resources.R4B import get_fhir_model_class

from synthgp.core import codes
from synthgp.formats import aurum
from synthgp.formats import fhir_resources as fhir

from tests.conftest import generate
from tests.formats import handmade
from tests.formats.clients import synthea, ukcore

ABSENT = "http://terminology.hl7.org/CodeSystem/data-absent-reason"


@pytest.fixture(scope="module")
def made(tmp_path_factory) -> handmade.Made:
    base = generate(tmp_path_factory.mktemp("new") / "base", 1200, seed=41, formats=("duckdb",))
    m = handmade.add(base, tmp_path_factory.mktemp("new") / "out")
    subprocess.run([sys.executable, "-m", "synthgp", "export", str(m.out), "--format", "fhir,fhir-bundles,csv,aurum"],
                   check=True, capture_output=True)
    return m


def _ndjson(made, kind: str) -> dict[str, dict]:
    return {r["id"]: r for r in (json.loads(line) for line in (made.out / "fhir" / f"{kind}.ndjson").open())}


@pytest.fixture(scope="module")
def res(made) -> dict[str, dict[str, dict]]:
    return {k: _ndjson(made, k) for k in fhir.TYPES}


def test_each_new_resource_is_valid_fhir_and_meets_uk_core(made, res):
    new = [res["DiagnosticReport"][str(made.panel)], res["Immunization"][str(made.vaccination)],
           res["Encounter"][str(made.consid)], res["MedicationRequest"][str(made.issue)]]
    for r in new:
        get_fhir_model_class(r["resourceType"]).model_validate(r)  # FHIR R4(B) structure and datatypes
        assert ukcore.check(r) == [], r["resourceType"]
    assert new[0]["meta"]["profile"] == [fhir.profile("DiagnosticReport-Lab")]
    # the checker would catch a lab report without its fixed category
    broken = {**new[0], "category": [{"coding": [{"system": "http://loinc.org", "code": "x"}]}]}
    assert ukcore.check(broken)
    # and the whole export keeps 0 failures
    assert [e for rs in res.values() for r in rs.values() for e in ukcore.check(r)] == []


def test_a_panel_is_one_diagnostic_report_with_its_results(made, res):
    report = res["DiagnosticReport"][str(made.panel)]  # the hand-made panel, among the practice's own
    assert report["id"] == str(made.panel)
    assert [x["reference"] for x in report["result"]] == [f"Observation/{i}" for i in made.results]
    assert report["category"][0]["coding"][0]["code"] == "LAB"
    assert report["encounter"] == {"reference": f"Encounter/{made.consid}"}
    assert report["effectiveDateTime"] == made.consdate.isoformat()
    assert str(made.panel) not in res["Observation"]  # the header is the report, not an Observation too
    for i, (key, value, low, high) in zip(made.results, handmade.RESULTS):
        o = res["Observation"][str(i)]
        assert o["code"]["coding"][0]["code"] == str(codes.snomed(key))
        assert o["valueQuantity"]["value"] == value
        assert o["referenceRange"] == [{"low": {**o["referenceRange"][0]["low"], "value": low},
                                        "high": {**o["referenceRange"][0]["high"], "value": high}}]
        assert o["category"][0]["coding"][0]["code"] == "laboratory"


def test_the_encounter_carries_its_reason_class_and_clinician_role(made, res):
    enc = res["Encounter"][str(made.consid)]
    reason = str(codes.snomed(handmade.STAND_INS["REASON"][0]))
    assert reason in [c["coding"][0]["code"] for c in enc["reasonCode"]]
    assert enc["class"]["code"] == "AMB"  # a face-to-face consultation
    (who,) = enc["participant"]
    assert who["type"][0]["coding"][0]["code"] == "PPRF"
    role = res["PractitionerRole"][who["individual"]["reference"].split("/")[1]]
    assert role["code"][0]["text"] == "General Medical Practitioner"
    assert who["individual"]["display"].endswith("(General Medical Practitioner)")
    # every encounter's class follows its consultation's mode; diagnoses made at it are its reasons
    con = duckdb.connect(str(made.out / "synthgp.duckdb"), read_only=True)
    src = dict(con.execute("SELECT CAST(consid AS VARCHAR), conssourceid FROM consultation").fetchall())
    want = {1: "AMB", 2: "VR", 3: "AMB", 4: "VR"}
    assert all(e["class"]["code"] == want[src[i]] for i, e in res["Encounter"].items() if src[i] in want)
    # reasons: REASON codes, diagnoses (ObsType 9) and problems (not family history) written at the consultation
    why = con.execute("""SELECT CAST(o.consid AS VARCHAR), CAST(d.snomedctconceptid AS VARCHAR) FROM observation o
        JOIN medical_dictionary d USING (medcodeid) LEFT JOIN problem pr ON pr.obsid = o.obsid
        WHERE o.consid IS NOT NULL AND (d.cluster = 'REASON' OR o.obstypeid = 9 OR (pr.obsid IS NOT NULL AND d.cluster <> 'FH'))
        """).fetchall()
    assert len(why) > 50
    assert all(s in [c["coding"][0]["code"] for c in res["Encounter"][c].get("reasonCode", [])] for c, s in why)
    assert sum("reasonCode" in e for e in res["Encounter"].values()) == len({c for c, _ in why})


def test_encounter_class_by_mode_names(made):
    """Modes the consult part may add to lookups/ConsSource.txt are read by their description."""
    con = duckdb.connect()
    got = dict(con.execute(f"""SELECT d, {fhir.encounter_mode('d')} FROM (VALUES ('Home visit'), ('Video consultation'),
        ('Telephone consultation'), ('Online consultation'), ('Face to face consultation'), ('Clinic')) t(d)""").fetchall())
    assert got == {"Home visit": "HH", "Video consultation": "VR", "Telephone consultation": "VR",
                   "Online consultation": "VR", "Face to face consultation": "AMB", "Clinic": "AMB"}


def test_an_imm_vaccination_is_an_immunization(made, res):
    imm = res["Immunization"][str(made.vaccination)]
    assert imm["status"] == "completed" and imm["primarySource"] is True
    assert imm["vaccineCode"]["coding"] == [{"system": ABSENT, "code": "unknown", "display": "Unknown"}]
    key = handmade.STAND_INS["IMM_TEST"][0]
    assert imm["vaccineCode"]["text"] == codes.get(key).term
    assert imm["extension"][0]["valueCodeableConcept"]["coding"][0]["code"] == str(codes.snomed(key))
    assert imm["occurrenceDateTime"] == made.consdate.isoformat()
    assert imm["encounter"] == {"reference": f"Encounter/{made.consid}"}
    assert imm["performer"][0]["function"]["coding"][0]["code"] == "AP"
    assert str(made.vaccination) not in res["Observation"]
    con = duckdb.connect()
    got = dict(con.execute(f"""SELECT c, {fhir.immunization_status('c')} FROM (VALUES ('IMM_MMR'), ('IMM_SHINGLES_DECL'),
        ('FLU'), ('FLUDECL'), ('LAB')) t(c)""").fetchall())
    assert got == {"IMM_MMR": "completed", "IMM_SHINGLES_DECL": "not-done", "FLU": "completed", "FLUDECL": "not-done",
                   "LAB": None}


def test_acute_and_repeat_issues(made, res):
    mr = res["MedicationRequest"]
    assert mr[str(made.issue)]["courseOfTherapyType"]["coding"][0]["code"] == "acute"
    assert mr[str(made.issue)]["encounter"] == {"reference": f"Encounter/{made.consid}"}  # issued at it, by its GP
    # the practice's own issues: everyday care's acute items are acute, every course of more than one issue continuous
    con = duckdb.connect(str(made.out / "synthgp.duckdb"), read_only=True)
    try:
        repeat = {str(i) for (i,) in con.execute("""SELECT issueid FROM drug_issue WHERE drugrecid IN
            (SELECT drugrecid FROM drug_issue GROUP BY 1 HAVING count(*) > 1)""").fetchall()}
    finally:
        con.close()
    others = {i: r["courseOfTherapyType"]["coding"][0]["code"] for i, r in mr.items() if i != str(made.issue)}
    assert len(others) > 1000 and set(others.values()) == {"acute", "continuous"}
    assert repeat and all(others[i] == "continuous" for i in repeat if i in others)


def test_bundles_resolve_every_reference(made):
    bundle = json.loads(next((made.out / "fhir-bundles").glob(f"*/{made.patid}.json")).read_text())
    have = {e["request"]["url"] for e in bundle["entry"]}
    assert {f"DiagnosticReport/{made.panel}", f"Immunization/{made.vaccination}", f"MedicationRequest/{made.issue}"} <= have

    def refs(node):
        if isinstance(node, dict):
            if isinstance(node.get("reference"), str):
                yield node["reference"]
            for v in node.values():
                yield from refs(v)
        elif isinstance(node, list):
            for v in node:
                yield from refs(v)
    missing = {r for e in bundle["entry"] for r in refs(e["resource"])} - have
    assert not missing


def test_fhir_api_searches_reports_and_reasons(made):
    from fastapi.testclient import TestClient

    from synthgp.serve.app import create_app

    with TestClient(create_app(made.out)) as c:
        b = c.get("/fhir/DiagnosticReport", params={"patient": str(made.patid)}).json()
        assert str(made.panel) in [e["resource"]["id"] for e in b["entry"]]
        assert all(e["resource"]["subject"]["reference"] == f"Patient/{made.patid}" for e in b["entry"])
        reason = str(codes.snomed(handmade.STAND_INS["REASON"][0]))
        b = c.get("/fhir/Encounter", params={"patient": str(made.patid), "reason-code": reason}).json()
        ids = [e["resource"]["id"] for e in b["entry"]]
        assert str(made.consid) in ids
        assert all(reason in {cd["code"] for rc in e["resource"]["reasonCode"] for cd in rc["coding"]} for e in b["entry"])
        assert c.get(f"/fhir/DiagnosticReport/{made.panel}").json()["result"][0] == {"reference": f"Observation/{made.results[0]}"}


def _csv(made, name: str) -> list[dict]:
    with (made.out / "csv" / f"{name}.csv").open() as f:
        return list(csv.DictReader(f))


def test_synthea_csv_carries_the_new_content(made):
    errs = synthea.check(made.out / "csv")
    assert errs["immunizations"] == [] and errs["encounters"] == [] and errs["observations"] == []
    header = next(csv.reader((made.out / "csv" / "immunizations.csv").open()))
    assert header == ["DATE", "PATIENT", "ENCOUNTER", "CODE", "DESCRIPTION", "BASE_COST"]
    key = handmade.STAND_INS["IMM_TEST"][0]
    imm = [r for r in _csv(made, "immunizations") if r["DATE"].startswith(made.consdate.isoformat())
           and r["CODE"] == str(codes.snomed(key))]
    assert len(imm) == 1 and imm[0]["DESCRIPTION"] == codes.get(key).term and float(imm[0]["BASE_COST"]) > 0
    enc = [r for r in _csv(made, "encounters") if r["Id"] == imm[0]["ENCOUNTER"]]
    assert enc[0]["REASONCODE"] == str(codes.snomed(handmade.STAND_INS["REASON"][0]))
    assert enc[0]["ENCOUNTERCLASS"] == "ambulatory"
    assert {r["ENCOUNTERCLASS"] for r in _csv(made, "encounters") if r["CODE"] == "2"} == {"virtual"}
    at = [r["CODE"] for r in _csv(made, "observations") if r["ENCOUNTER"] == enc[0]["Id"]]
    for key, *_ in handmade.RESULTS:
        assert at.count(str(codes.snomed(key))) == 1  # each result once; the panel header (its concept that of
    assert handmade.STAND_INS["PANEL"][0] in [k for k, *_ in handmade.RESULTS]  # a result) is no observation row


def test_aurum_carries_panels_staff_roles_and_consultation_sources(made):
    folder = made.out / "aurum"

    def table(name: str) -> list[dict]:
        with aurum.files(folder, name)[0].open() as f:
            return list(csv.DictReader(f, delimiter="\t"))
    obs = {r["obsid"]: r for r in table("Observation")}
    assert [obs[str(i)]["parentobsid"] for i in made.results] == [str(made.panel)] * 3
    assert obs[str(made.panel)]["consid"] == str(made.consid)
    staff = table("Staff")
    assert {r["jobcatid"] for r in staff} >= {"1", "2"}
    cons = {r["consid"]: r for r in table("Consultation")}
    assert cons[str(made.consid)]["conssourceid"] == "1"
    with (folder / "lookups" / "JobCat.txt").open() as f:
        assert {r["jobcatid"]: r["description"] for r in csv.DictReader(f, delimiter="\t")}["1"] == "General Medical Practitioner"


def test_a_child_s_flu_vaccine_is_the_nasal_one():
    """The children's programme gives the live attenuated nasal vaccine: its VMP below 18, the adult's from 18."""
    vac = fhir.mapping()["immunization"]["vaccine"]
    con = duckdb.connect()
    got = dict(con.execute(f"""SELECT c || '@' || a, {fhir.vaccine_sql('c', 'code', 'a', "DATE '2020-01-01'")} FROM (VALUES ('FLU', 3),
        ('FLU', 17), ('FLU', 18), ('FLU', 70), ('COVIDVAC', 12), ('IMM_MMR', 1), ('IMM_TEST', 1)) t(c, a)""").fetchall())
    assert got == {"FLU@3": vac["influenza_child"]["code"], "FLU@17": vac["influenza_child"]["code"],
                   "FLU@18": vac["influenza"]["code"], "FLU@70": vac["influenza"]["code"],
                   "COVIDVAC@12": vac["covid19"]["code"], "IMM_MMR@1": vac["mmr"]["code"], "IMM_TEST@1": None}
    assert vac["influenza_child"]["code"] != vac["influenza"]["code"]
