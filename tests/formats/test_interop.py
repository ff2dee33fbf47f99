"""FHIR R4 (UK Core) and Synthea-style CSV outputs: valid, self-consistent, and the same facts as Aurum."""

from __future__ import annotations

import csv
import json
import re
from collections import Counter
from pathlib import Path

import duckdb
import pytest
from fhir.resources.R4B import get_fhir_model_class

from synthgp.cli import main
from synthgp.core import codes
from synthgp.formats import aurum
from synthgp.formats import fhir as fhir_export
from synthgp.formats import fhir_resources as fhir

from tests.conftest import generate

UK_CORE = "https://fhir.hl7.org.uk/StructureDefinition/UKCore-"
ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")
# required bindings we set (FHIR R4 value sets), checked because fhir.resources does not check codes
REQUIRED = {
    "Observation": ("status", {"registered", "preliminary", "final", "amended"}),
    "Encounter": ("status", {"planned", "arrived", "triaged", "in-progress", "onleave", "finished", "cancelled"}),
    "MedicationRequest": ("intent", {"proposal", "plan", "order", "original-order", "reflex-order", "filler-order",
                                     "instance-order", "option"}),
    "ServiceRequest": ("priority", {"routine", "urgent", "asap", "stat"}),
    "Procedure": ("status", {"preparation", "in-progress", "not-done", "on-hold", "stopped", "completed"}),
    "Patient": ("gender", {"male", "female", "other", "unknown"}),
}


@pytest.fixture(scope="module")
def out(tmp_path_factory) -> Path:
    return generate(tmp_path_factory.mktemp("interop") / "out", 2000, seed=21,
                    formats=("duckdb", "aurum", "fhir", "fhir-bundles", "csv"))


@pytest.fixture(scope="module")
def resources(out) -> dict[str, list[dict]]:
    return {k: [json.loads(line) for line in (out / "fhir" / f"{k}.ndjson").open()] for k in fhir.TYPES}


def _walk(x, path=""):
    """Yield (path, value) for every node of a JSON value."""
    yield path, x
    if isinstance(x, dict):
        for k, v in x.items():
            yield from _walk(v, f"{path}.{k}")
    elif isinstance(x, list):
        for i, v in enumerate(x):
            yield from _walk(v, f"{path}[{i}]")


def _mod11(number: str) -> bool:
    """NHS number check digit, written here independently of synthgp.nhs_number."""
    if not re.fullmatch(r"\d{10}", number):
        return False
    total = sum(int(d) * w for d, w in zip(number[:9], range(10, 1, -1)))
    check = 11 - total % 11
    check = 0 if check == 11 else check
    return check != 10 and check == int(number[9])


def test_every_resource_follows_fhir_json_rules_and_carries_its_uk_core_profile(resources):
    for kind, rows in resources.items():
        # lab panels come with codes of cluster PANEL (issue 17's labs part); test_new_content.py covers them before
        assert rows or (kind == "DiagnosticReport" and not codes.in_cluster("PANEL")), kind
        ids = [r["id"] for r in rows]
        assert len(ids) == len(set(ids)), f"duplicate {kind} ids"
        for r in rows:
            assert r["resourceType"] == kind and ID.match(r["id"])
            (prof,) = r["meta"]["profile"]
            assert prof.startswith(UK_CORE + kind), (kind, prof)
            for path, v in _walk(r):
                # FHIR JSON: no nulls, no empty strings, arrays or objects
                assert v is not None and v != "" and v != [] and v != {}, (kind, r["id"], path)
            if kind in REQUIRED:
                field, allowed = REQUIRED[kind]
                assert r[field] in allowed, (kind, field, r[field])


def test_resources_parse_with_fhir_resources_r4b(resources):
    """Every practice-level resource and every resource of 150 patients, through the R4B models."""
    sample = {r["id"] for r in resources["Patient"][:150]}
    n = 0
    for kind, rows in resources.items():
        model = get_fhir_model_class(kind)
        for r in rows:
            subject = r.get("subject", {}).get("reference", "Patient/" + r["id"] if kind == "Patient" else "")
            if kind in fhir.PRACTICE_TYPES or subject.split("/")[-1] in sample:
                model.model_validate(r)
                n += 1
    assert n > 5000
    # and the validator does reject what FHIR forbids, so passing means something
    with pytest.raises(Exception):
        get_fhir_model_class("Observation").model_validate({**resources["Observation"][0], "effectiveDateTime": "2020-13-01"})


def test_every_resource_of_a_small_practice_parses_with_fhir_resources(tmp_path):
    """All of them, no sampling: a 300-patient practice (the R4B models parse about 2,000 a second)."""
    small = generate(tmp_path / "out", 300, seed=22, formats=("fhir",))
    n = 0
    for kind in fhir.TYPES:
        model = get_fhir_model_class(kind)
        for line in (small / "fhir" / f"{kind}.ndjson").open():
            model.model_validate_json(line)
            n += 1
    assert n == sum(o["count"] for o in json.loads((small / "fhir" / "export.json").read_text())["output"]) > 5000


def test_every_reference_resolves_within_the_export(resources):
    have = {f"{k}/{r['id']}" for k, rows in resources.items() for r in rows}
    refs = Counter()
    for rows in resources.values():
        for r in rows:
            for path, v in _walk(r):
                if path.endswith(".reference"):
                    assert v in have, (r["resourceType"], r["id"], path, v)
                    refs[v.split("/")[0]] += 1
    assert set(refs) >= {"Patient", "Practitioner", "Organization", "Encounter", "Condition"}


def test_patients_carry_valid_nhs_numbers_names_and_ethnicity(out, resources):
    db = duckdb.connect(str(out / "synthgp.duckdb"), read_only=True)
    truth = dict(db.execute("SELECT CAST(patid AS VARCHAR), nhs_number FROM patient_identity").fetchall())
    with_eth = 0
    for p in resources["Patient"]:
        (ident,) = p["identifier"]
        assert ident["system"] == "https://fhir.nhs.uk/Id/nhs-number"
        assert _mod11(ident["value"]) and ident["value"] == truth[p["id"]]
        assert p["name"][0]["family"] and p["birthDate"]
        with_eth += any(e["url"].endswith("Extension-UKCore-EthnicCategory") for e in p.get("extension", []))
    assert len(resources["Patient"]) == len(truth)
    assert 0.5 < with_eth / len(truth) < 1.0  # recorded for most, not all (82% recorded)


def test_blood_pressure_is_one_panel_with_systolic_and_diastolic(resources):
    panels = [o for o in resources["Observation"] if o["meta"]["profile"][0].endswith("BloodPressure")]
    assert panels
    for o in panels:
        assert {c["code"] for c in o["code"]["coding"]} == {"75367002", "85354-9"}
        sys_, dia = o["component"]
        assert "8480-6" in {c["code"] for c in sys_["code"]["coding"]}
        assert "8462-4" in {c["code"] for c in dia["code"]["coding"]}
        assert sys_["valueQuantity"]["code"] == dia["valueQuantity"]["code"] == "mm[Hg]"
        assert sys_["valueQuantity"]["value"] > dia["valueQuantity"]["value"]


def _aurum(out: Path, name: str) -> list[dict]:
    """Rows of an Aurum file, or of every CPRD-named chunk of a table (a name without .txt)."""
    rows: list[dict] = []
    for path in [out / "aurum" / name] if name.endswith(".txt") else aurum.files(out / "aurum", name):
        with path.open() as f:
            rows += list(csv.DictReader(f, delimiter="\t"))
    return rows


def test_same_patient_same_facts_in_fhir_aurum_and_csv(out, resources):
    """Per patient: BP readings, prescriptions and diagnoses agree across the three formats. The CSV is
    joined through the NHS number (its SSN column), not through shared ids."""
    dictionary = {r["medcodeid"]: r for r in _aurum(out, "MedicalDictionary.txt")}
    bp_codes = {m for m, r in dictionary.items() if "systolic" in r["term"].lower()}
    obs = _aurum(out, "Observation")
    a_bp = Counter(r["patid"] for r in obs if r["medcodeid"] in bp_codes)
    a_rx = Counter(r["patid"] for r in _aurum(out, "DrugIssue"))
    fh = {m for m, r in dictionary.items() if r["term"].startswith("Family history")}
    medcode_of = {r["obsid"]: r["medcodeid"] for r in obs}
    a_dx = Counter(r["patid"] for r in _aurum(out, "Problem") if medcode_of[r["obsid"]] not in fh)

    def subject(r):
        return r["subject"]["reference"].split("/")[1]

    f_bp = Counter(subject(o) for o in resources["Observation"] if "component" in o)
    f_rx = Counter(subject(m) for m in resources["MedicationRequest"])
    f_dx = Counter(subject(c) for c in resources["Condition"])
    assert sum(a_bp.values()) > 1000 and sum(a_rx.values()) > 1000 and sum(a_dx.values()) > 100
    assert f_bp == a_bp and f_rx == a_rx and f_dx == a_dx

    nhs_to_patid = {p["identifier"][0]["value"]: p["id"] for p in resources["Patient"]}
    with (out / "csv" / "patients.csv").open() as f:
        uuid_to_patid = {r["Id"]: nhs_to_patid[r["SSN"]] for r in csv.DictReader(f)}
    c_bp, c_rx, c_dx = Counter(), Counter(), Counter()
    with (out / "csv" / "observations.csv").open() as f:
        for r in csv.DictReader(f):
            if r["CODE"] in {dictionary[m]["snomedctconceptid"] for m in bp_codes}:
                c_bp[uuid_to_patid[r["PATIENT"]]] += 1
    with (out / "csv" / "medications.csv").open() as f:
        for r in csv.DictReader(f):
            c_rx[uuid_to_patid[r["PATIENT"]]] += int(r["DISPENSES"])
    with (out / "csv" / "conditions.csv").open() as f:
        for r in csv.DictReader(f):
            c_dx[uuid_to_patid[r["PATIENT"]]] += 1
    assert c_bp == a_bp and c_rx == a_rx and c_dx == a_dx


def test_bundles_are_transactions_whose_references_resolve_inside(out, resources):
    by_subject: dict[str, set[str]] = {}
    for kind in fhir.PATIENT_TYPES:
        for r in resources[kind]:
            pid = r["id"] if kind == "Patient" else (r.get("subject") or r["patient"])["reference"].split("/")[1]
            by_subject.setdefault(pid, set()).add(f"{kind}/{r['id']}")
    files = sorted((out / "fhir-bundles").glob("*/*.json"))
    assert len(files) == len(resources["Patient"])
    bundle_model = get_fhir_model_class("Bundle")
    for i, path in enumerate(files[::25]):
        b = json.loads(path.read_text())
        assert b["type"] == "transaction"
        urls = [e["request"]["url"] for e in b["entry"]]
        assert all(e["request"]["method"] == "PUT" for e in b["entry"])
        assert urls == [f"{e['resource']['resourceType']}/{e['resource']['id']}" for e in b["entry"]]
        inside = set(urls)
        assert by_subject[path.stem] <= inside  # all of the patient's resources
        for path_, v in _walk(b):
            if path_.endswith(".reference"):
                assert v in inside, (path.name, v)
        if i < 5:
            bundle_model.model_validate(b)


def test_fhir_export_is_deterministic_and_replaces_atomically(out, tmp_path):
    con = duckdb.connect(str(out / "synthgp.duckdb"), read_only=True)
    fhir_export.write(con, tmp_path)
    for k in fhir.TYPES:
        assert (tmp_path / "fhir" / f"{k}.ndjson").read_bytes() == (out / "fhir" / f"{k}.ndjson").read_bytes(), k
    manifest = json.loads((out / "fhir" / "export.json").read_text())
    counts = {o["type"]: o["count"] for o in manifest["output"]}
    assert counts["Patient"] == 2000 and set(counts) == set(fhir.TYPES)
    assert main(["export", str(out), "--format", "fhir"]) == 2  # exists: refused without --overwrite


# Synthea's CSV data dictionary (github.com/synthetichealth/synthea/wiki/CSV-File-Data-Dictionary, v3):
# every column in order, with its documented type.
U, D, T, N, S = "UUID", "DATE", "TIMESTAMP", "DOUBLE", "VARCHAR"
SYNTHEA = {
    "patients": [("Id", U), ("BIRTHDATE", D), ("DEATHDATE", D), ("SSN", S), ("DRIVERS", S), ("PASSPORT", S),
                 ("PREFIX", S), ("FIRST", S), ("MIDDLE", S), ("LAST", S), ("SUFFIX", S), ("MAIDEN", S),
                 ("MARITAL", S), ("RACE", S), ("ETHNICITY", S), ("GENDER", S), ("BIRTHPLACE", S), ("ADDRESS", S),
                 ("CITY", S), ("STATE", S), ("COUNTY", S), ("FIPS", S), ("ZIP", S), ("LAT", N), ("LON", N),
                 ("HEALTHCARE_EXPENSES", N), ("HEALTHCARE_COVERAGE", N), ("INCOME", N)],
    "encounters": [("Id", U), ("START", T), ("STOP", T), ("PATIENT", U), ("ORGANIZATION", U), ("PROVIDER", U),
                   ("PAYER", U), ("ENCOUNTERCLASS", S), ("CODE", S), ("DESCRIPTION", S),
                   ("BASE_ENCOUNTER_COST", N), ("TOTAL_CLAIM_COST", N), ("PAYER_COVERAGE", N), ("REASONCODE", S),
                   ("REASONDESCRIPTION", S)],
    "conditions": [("START", D), ("STOP", D), ("PATIENT", U), ("ENCOUNTER", U), ("SYSTEM", S), ("CODE", S),
                   ("DESCRIPTION", S)],
    "medications": [("START", T), ("STOP", T), ("PATIENT", U), ("PAYER", U), ("ENCOUNTER", U), ("CODE", S),
                    ("DESCRIPTION", S), ("BASE_COST", N), ("PAYER_COVERAGE", N), ("DISPENSES", N), ("TOTALCOST", N),
                    ("REASONCODE", S), ("REASONDESCRIPTION", S)],
    "observations": [("DATE", T), ("PATIENT", U), ("ENCOUNTER", U), ("CATEGORY", S), ("CODE", S),
                     ("DESCRIPTION", S), ("VALUE", S), ("UNITS", S), ("TYPE", S)],
    "procedures": [("START", T), ("STOP", T), ("PATIENT", U), ("ENCOUNTER", U), ("SYSTEM", S), ("CODE", S),
                   ("DESCRIPTION", S), ("BASE_COST", N), ("REASONCODE", S), ("REASONDESCRIPTION", S)],
    "organizations": [("Id", U), ("NAME", S), ("ADDRESS", S), ("CITY", S), ("STATE", S), ("ZIP", S), ("LAT", N),
                      ("LON", N), ("PHONE", S), ("REVENUE", N), ("UTILIZATION", N)],
    "providers": [("Id", U), ("ORGANIZATION", U), ("NAME", S), ("GENDER", S), ("SPECIALITY", S), ("ADDRESS", S),
                  ("CITY", S), ("STATE", S), ("ZIP", S), ("LAT", N), ("LON", N), ("ENCOUNTERS", N),
                  ("PROCEDURES", N)],
}


def test_synthea_csv_loads_with_synthea_column_names_and_types(out):
    con = duckdb.connect()
    ids: dict[str, set] = {}
    for name, cols in SYNTHEA.items():
        path = (out / "csv" / f"{name}.csv").as_posix()
        with open(path) as f:
            assert next(csv.reader(f)) == [c for c, _ in cols], name
        typed = "{" + ", ".join(f"'{c}': '{t}'" for c, t in cols) + "}"
        # an unparseable value (a date, a UUID, a number) raises here
        n, = con.execute(f"SELECT count(*) FROM read_csv('{path}', header=true, columns={typed}, "
                         "timestampformat='%Y-%m-%dT%H:%M:%SZ', dateformat='%Y-%m-%d')").fetchone()
        assert n > 0, name
        key = "PATIENT" if "PATIENT" in dict(cols) else "Id"
        ids[name] = {r[0] for r in con.execute(f"SELECT {key} FROM read_csv('{path}', header=true, columns={typed})").fetchall()}
    # foreign keys: every PATIENT is in patients.csv, every provider's organisation in organizations.csv
    for name in ("encounters", "conditions", "medications", "observations", "procedures"):
        assert ids[name] <= ids["patients"], name
    prov = con.execute(f"SELECT DISTINCT ORGANIZATION FROM read_csv('{(out / 'csv' / 'providers.csv').as_posix()}')").fetchall()
    assert {str(r[0]) for r in prov} <= {str(i) for i in ids["organizations"]}
    genders = con.execute(f"SELECT DISTINCT GENDER FROM read_csv('{(out / 'csv' / 'patients.csv').as_posix()}')").fetchall()
    assert {g for (g,) in genders} <= {"M", "F", None}
