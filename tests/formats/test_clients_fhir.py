"""FHIR as the clients users have take it: the UK Core profiles each resource claims (checked from the
profiles' StructureDefinitions, tests/formats/clients/ukcore.py), and per-patient bundles as a folder
loader such as fhir-load (PyPI fhir-load 1.5: every file of the folder given must be .json, each entry keyed
by its fullUrl in a VARCHAR(45) primary key, Procedure.performedPeriod and Observation.issued read into
columns) takes them."""

from __future__ import annotations

import copy
import json
import os
from collections import Counter
from pathlib import Path

import pytest

from synthgp.core import codes, reference
from synthgp.formats import fhir_resources as fhir

from tests.formats.clients import ukcore

UK = reference.toml("fhir.toml")


@pytest.fixture(scope="module")
def resources(clients_out) -> dict[str, list[dict]]:
    return {k: [json.loads(line) for line in (clients_out / "fhir" / f"{k}.ndjson").open()] for k in fhir.TYPES}


def test_every_resource_meets_the_uk_core_profiles_it_claims(resources):
    profiles = Counter()
    failures = Counter()
    for kind, rs in resources.items():
        # lab panels come with codes of cluster PANEL (issue 17's labs part); before them there are none
        # (test_new_content.py checks hand-made panels against the profile)
        assert rs or (kind == "DiagnosticReport" and not codes.in_cluster("PANEL")), f"no {kind}"
        for r in rs:
            claimed = r["meta"]["profile"]
            assert claimed and all(p.startswith(ukcore.PROFILE_BASE) for p in claimed)
            profiles[claimed[0].removeprefix(ukcore.PROFILE_BASE)] += 1
            for err in ukcore.check(r):
                failures[err] += 1
    assert not failures, failures.most_common(10)
    for p in ("Observation-VitalSigns-BloodPressure", "Observation-VitalSigns-BMI", "Observation-VitalSigns-BodyHeight",
              "Observation-VitalSigns-BodyWeight", "MedicationRequest", "Encounter", "PractitionerRole", "Organization"):
        assert profiles[p] > 0, p


def _first(resources, kind, pred=lambda r: True) -> dict:
    return copy.deepcopy(next(r for r in resources[kind] if pred(r)))


def _bp(r):
    return "UKCore-Observation-VitalSigns-BloodPressure" in r["meta"]["profile"][0]


def test_the_checker_finds_what_the_independent_validator_reported(resources):
    """Each failure the UK Core validation found before this fix, put back into a good resource, is caught."""
    mr = _first(resources, "MedicationRequest")
    del mr["substitution"]
    assert any(e.startswith("MedicationRequest.substitution: missing") for e in ukcore.check(mr))
    bp = _first(resources, "Observation", _bp)
    bp["component"][0]["valueQuantity"]["unit"] = "mmHg"
    bp["component"][1]["code"]["text"] = "O/E - diastolic BP reading"
    errs = ukcore.check(bp)
    assert any("SystolicBP.value[x].unit" in e for e in errs) and any("DiastolicBP.code.text" in e for e in errs)
    bp = _first(resources, "Observation", _bp)
    del bp["component"][0]  # no systolic: the SystolicBP slice (min 1) is empty
    assert any(e.startswith("Observation.component:SystolicBP: missing") for e in ukcore.check(bp))
    enc = _first(resources, "Encounter")
    enc["type"] = [{"text": enc["type"][0]["text"]}]
    assert any(e.startswith("Encounter.type: text only") for e in ukcore.check(enc))
    org = _first(resources, "Organization")
    org["type"] = [{"text": "GP practice"}]
    assert any(e.startswith("Organization.type: text only") for e in ukcore.check(org))
    pr = _first(resources, "Procedure")
    pr["code"] = {"text": pr["code"]["text"]}
    assert any(e.startswith("Procedure.code: text only") for e in ukcore.check(pr))
    pat = _first(resources, "Patient")
    pat["identifier"][0]["system"] = "https://fhir.nhs.uk/Id/nhs-number"  # still right
    assert ukcore.check(pat) == []


def test_codes_are_coded_where_uk_core_and_loaders_look(resources):
    dmd = UK["system"]["dmd"]
    assert dmd == "https://dmd.nhs.uk"
    for r in resources["MedicationRequest"]:
        assert [c["system"] for c in r["medicationCodeableConcept"]["coding"]] == [dmd]
        assert r["substitution"] == {"allowedBoolean": True}
    # a vaccine product is dm+d; where the record names no product (the childhood and adult programmes' codes:
    # data/fhir.toml lists none for them yet) the code is data-absent "unknown" with the record's term, never a guess
    absent = "http://terminology.hl7.org/CodeSystem/data-absent-reason"
    systems = [r["vaccineCode"]["coding"][0]["system"] for r in resources["Immunization"]]
    assert dmd in systems and set(systems) <= {dmd, absent}
    for r in resources["Immunization"]:
        if r["vaccineCode"]["coding"][0]["system"] == absent:
            assert r["vaccineCode"]["coding"][0]["code"] == "unknown" and r["vaccineCode"].get("text")
    sct = UK["system"]["snomed"]
    for kind in ("Procedure", "Observation", "Condition"):
        for r in resources[kind]:
            assert any(c["system"] == sct for c in r["code"]["coding"]), (kind, r["code"])
    for r in resources["Encounter"]:
        assert r["type"][0]["coding"][0]["system"] == UK["uk_core"]["cons_source_system"]
    gp = UK["uk_core"]["role_snomed"]["General Medical Practitioner"]["code"]
    roles = [r["code"][0] for r in resources["PractitionerRole"]]
    assert all(c["coding"] for c in roles)
    assert any(any(c["system"] == sct and c["code"] == gp for c in r["coding"]) for r in roles)
    assert resources["Organization"][0]["type"][0]["coding"][0]["code"] == UK["uk_core"]["organization_type"]["code"]


def test_bp_components_carry_the_texts_and_unit_the_profile_fixes(resources):
    bps = [r for r in resources["Observation"] if _bp(r)]
    assert len(bps) > 1000
    uk = UK["uk_core"]
    for r in bps:
        sys_, dia = r["component"]
        assert (sys_["code"]["text"], dia["code"]["text"]) == (uk["bp_systolic_text"], uk["bp_diastolic_text"])
        assert {sys_["valueQuantity"]["unit"], dia["valueQuantity"]["unit"]} == {uk["bp_unit_text"]}
        assert {sys_["valueQuantity"]["code"], dia["valueQuantity"]["code"]} == {"mm[Hg]"}


# ------------------------------------------------------------------------------ bundles, as fhir-load reads them

def _loader_folders(root: Path) -> list[Path]:
    """What a folder loader is pointed at: the root holds only practice folders, each only .json files
    (fhir-load exits on the first entry of its folder that is not a .json file)."""
    entries = sorted(root.iterdir())
    assert entries and all(p.is_dir() and p.name.isdigit() for p in entries), "the root holds only <pracid>/ folders"
    for d in entries:
        assert all(os.path.splitext(f)[1] == ".json" for f in os.listdir(d)), d
    return entries


def test_bundle_folders_load_as_a_folder_loader_reads_them(clients_out, resources):
    rows: Counter = Counter()
    keys: dict[str, str] = {}
    for folder in _loader_folders(clients_out / "fhir-bundles"):
        for f in sorted(folder.iterdir()):
            bundle = json.loads(f.read_text())
            assert bundle["resourceType"] == "Bundle" and bundle["type"] == "transaction"
            for e in bundle["entry"]:
                r, url = e["resource"], e.get("fullUrl")
                assert url and url.startswith("urn:uuid:") and len(url) <= 45, url  # the loader's id VARCHAR(45)
                key = f"{r['resourceType']}/{r['id']}"
                assert keys.setdefault(url, key) == key, "one fullUrl, one resource"
                assert e["request"] == {"method": "PUT", "url": key}
                rows[r["resourceType"]] += 1
                if r["resourceType"] == "Procedure":
                    p = r["performedPeriod"]
                    assert p["start"] and p["end"] >= p["start"]
                if r["resourceType"] == "Observation":
                    assert r["issued"].endswith("Z") and r["issued"][:10] >= r["effectiveDateTime"][:10]
    # every patient resource reached the loader once; the practice and its staff are in every bundle
    for kind in fhir.PATIENT_TYPES:
        assert rows[kind] == len(resources[kind]), kind
    assert len({u for u, k in keys.items() if k.startswith("Patient/")}) == len(resources["Patient"])
