"""Synthea's CSV data dictionary (github.com/synthetichealth/synthea/wiki/CSV-File-Data-Dictionary, read as
mirrored in pjabl/synthea_integration data_dictionary.md) as data, and a checker of a folder of CSV files
against it: every dictionary column present in order, every required column filled, each value of its type,
the enumerations Synthea writes, and the foreign keys between files."""

from __future__ import annotations

import csv
import re
from pathlib import Path

U, D, T, N, S = "uuid", "date", "timestamp", "numeric", "string"
# (column, type, required) in the dictionary's order; column names as the exporter writes them
DICTIONARY: dict[str, list[tuple[str, str, bool]]] = {
    "patients": [("Id", U, True), ("BIRTHDATE", D, True), ("DEATHDATE", D, False), ("SSN", S, True),
                 ("DRIVERS", S, False), ("PASSPORT", S, False), ("PREFIX", S, False), ("FIRST", S, True),
                 ("MIDDLE", S, False), ("LAST", S, True), ("SUFFIX", S, False), ("MAIDEN", S, False),
                 ("MARITAL", S, False), ("RACE", S, True), ("ETHNICITY", S, True), ("GENDER", S, True),
                 ("BIRTHPLACE", S, True), ("ADDRESS", S, True), ("CITY", S, True), ("STATE", S, True),
                 ("COUNTY", S, False), ("FIPS", S, False), ("ZIP", S, False), ("LAT", N, False), ("LON", N, False),
                 ("HEALTHCARE_EXPENSES", N, True), ("HEALTHCARE_COVERAGE", N, True), ("INCOME", N, True)],
    "encounters": [("Id", U, True), ("START", T, True), ("STOP", T, False), ("PATIENT", U, True),
                   ("ORGANIZATION", U, True), ("PROVIDER", U, True), ("PAYER", U, True), ("ENCOUNTERCLASS", S, True),
                   ("CODE", S, True), ("DESCRIPTION", S, True), ("BASE_ENCOUNTER_COST", N, True),
                   ("TOTAL_CLAIM_COST", N, True), ("PAYER_COVERAGE", N, True), ("REASONCODE", S, False),
                   ("REASONDESCRIPTION", S, False)],
    "conditions": [("START", D, True), ("STOP", D, False), ("PATIENT", U, True), ("ENCOUNTER", U, True),
                   ("CODE", S, True), ("DESCRIPTION", S, True)],
    "medications": [("START", T, True), ("STOP", T, False), ("PATIENT", U, True), ("PAYER", U, True),
                    ("ENCOUNTER", U, True), ("CODE", S, True), ("DESCRIPTION", S, True), ("BASE_COST", N, True),
                    ("PAYER_COVERAGE", N, True), ("DISPENSES", N, True), ("TOTALCOST", N, True),
                    ("REASONCODE", S, False), ("REASONDESCRIPTION", S, False)],
    "observations": [("DATE", T, True), ("PATIENT", U, True), ("ENCOUNTER", U, True), ("CATEGORY", S, False),
                     ("CODE", S, True), ("DESCRIPTION", S, True), ("VALUE", S, True), ("UNITS", S, False),
                     ("TYPE", S, True)],
    "procedures": [("START", T, True), ("STOP", T, False), ("PATIENT", U, True), ("ENCOUNTER", U, True),
                   ("CODE", S, True), ("DESCRIPTION", S, True), ("BASE_COST", N, True), ("REASONCODE", S, False),
                   ("REASONDESCRIPTION", S, False)],
    "careplans": [("Id", U, True), ("START", D, True), ("STOP", D, False), ("PATIENT", U, True), ("ENCOUNTER", U, True),
                  ("CODE", S, True), ("DESCRIPTION", S, True), ("REASONCODE", S, False), ("REASONDESCRIPTION", S, False)],
    "immunizations": [("DATE", T, True), ("PATIENT", U, True), ("ENCOUNTER", U, True), ("CODE", S, True),
                      ("DESCRIPTION", S, True), ("BASE_COST", N, True)],
    "organizations": [("Id", U, True), ("NAME", S, True), ("ADDRESS", S, True), ("CITY", S, True),
                      ("STATE", S, False), ("ZIP", S, False), ("LAT", N, False), ("LON", N, False),
                      ("PHONE", S, False), ("REVENUE", N, True), ("UTILIZATION", N, True)],
    "providers": [("Id", U, True), ("ORGANIZATION", U, True), ("NAME", S, True), ("GENDER", S, True),
                  ("SPECIALITY", S, True), ("ADDRESS", S, True), ("CITY", S, True), ("STATE", S, False),
                  ("ZIP", S, False), ("LAT", N, False), ("LON", N, False)],
    "payers": [("Id", U, True), ("NAME", S, True), ("ADDRESS", S, False), ("CITY", S, False),
               ("STATE_HEADQUARTERED", S, False), ("ZIP", S, False), ("PHONE", S, False),
               ("AMOUNT_COVERED", N, True), ("AMOUNT_UNCOVERED", N, True), ("REVENUE", N, True),
               ("COVERED_ENCOUNTERS", N, True), ("UNCOVERED_ENCOUNTERS", N, True), ("COVERED_MEDICATIONS", N, True),
               ("UNCOVERED_MEDICATIONS", N, True), ("COVERED_PROCEDURES", N, True), ("UNCOVERED_PROCEDURES", N, True),
               ("COVERED_IMMUNIZATIONS", N, True), ("UNCOVERED_IMMUNIZATIONS", N, True), ("UNIQUE_CUSTOMERS", N, True),
               ("QOLS_AVG", N, True), ("MEMBER_MONTHS", N, True)],
}
# columns Synthea's v3 exporter writes beyond that dictionary page (SYSTEM from v3.1; providers' utilisation
# split into ENCOUNTERS and PROCEDURES), allowed between the dictionary's columns
LATER = {"conditions": {"SYSTEM"}, "procedures": {"SYSTEM"}, "providers": {"ENCOUNTERS", "PROCEDURES"}}
DROPPED = {"providers": {"UTILIZATION"}}  # the v3 exporter's providers.csv no longer has it
# values Synthea writes (its exporter and modules)
ENUMS = {("patients", "GENDER"): {"M", "F"}, ("patients", "ETHNICITY"): {"hispanic", "nonhispanic"},
         ("patients", "RACE"): {"white", "black", "asian", "native", "hawaiian", "other"},
         ("encounters", "ENCOUNTERCLASS"): {"ambulatory", "emergency", "inpatient", "wellness", "urgentcare",
                                            "outpatient", "virtual", "home", "hospice", "snf"},
         ("observations", "TYPE"): {"numeric", "text"}}
# foreign keys: (file, column) -> file whose Id it names
KEYS = {("encounters", "PATIENT"): "patients", ("encounters", "ORGANIZATION"): "organizations",
        ("encounters", "PROVIDER"): "providers", ("encounters", "PAYER"): "payers",
        ("medications", "PAYER"): "payers", ("providers", "ORGANIZATION"): "organizations",
        **{(f, "PATIENT"): "patients" for f in ("conditions", "medications", "observations", "procedures", "immunizations", "careplans")},
        **{(f, "ENCOUNTER"): "encounters" for f in ("conditions", "medications", "observations", "procedures", "immunizations", "careplans")}}
PATTERN = {U: re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"),
           D: re.compile(r"^\d{4}-\d{2}-\d{2}$"), T: re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?Z$"),
           N: re.compile(r"^-?\d+(\.\d+)?([eE][-+]?\d+)?$")}


def read(folder: Path, name: str) -> tuple[list[str], list[dict]]:
    with (folder / f"{name}.csv").open(newline="") as f:
        r = csv.DictReader(f)
        return list(r.fieldnames or []), list(r)


def check(folder: Path) -> dict[str, list[str]]:
    """Per file of the dictionary, the rules it breaks ('COLUMN: what (n rows)'); [] for a valid file."""
    out: dict[str, list[str]] = {}
    data = {}
    for name, cols in DICTIONARY.items():
        errs = out.setdefault(name, [])
        if not (folder / f"{name}.csv").is_file():
            errs.append("file missing")
            continue
        header, rows = data[name] = read(folder, name)
        want = [c for c, _, _ in cols if c not in DROPPED.get(name, set())]
        extra = [c for c in header if c not in want]
        if [c for c in header if c in want] != want or set(extra) - LATER.get(name, set()):
            errs.append(f"header {header} is not the dictionary's {want}")
            continue
        for col, kind, required in cols:
            if col not in header:
                continue
            vals = [r[col] for r in rows]
            empty = sum(v == "" for v in vals)
            if required and empty:
                errs.append(f"{col}: required, empty in {empty} rows")
            bad = sum(1 for v in vals if v and kind in PATTERN and not PATTERN[kind].match(v))
            if bad:
                errs.append(f"{col}: not {kind} in {bad} rows")
            allowed = ENUMS.get((name, col))
            if allowed and (odd := {v for v in vals if v} - allowed):
                errs.append(f"{col}: {sorted(odd)[:3]} not among Synthea's values")
    for (name, col), target in KEYS.items():
        if name in data and target in data and col in data[name][0]:
            ids = {r["Id"] for r in data[target][1]}
            missing = sum(1 for r in data[name][1] if r[col] and r[col] not in ids)
            if missing:
                out[name].append(f"{col}: {missing} rows name no {target}.csv Id")
    return out
