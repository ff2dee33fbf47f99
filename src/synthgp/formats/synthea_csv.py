"""Synthea-style CSV: the files and column names of Synthea's CSV exporter (v3), filled as Synthea fills
them, so tools written for Synthea's output read ours unchanged. docs/synthea_mapping.md gives each
column's source in the English GP record.

Conventions kept from Synthea: ids are UUID-shaped strings (derived from the record's ids, so the same
patient has the same Id in every file and run), dates in conditions.csv and patients.csv are
YYYY-MM-DD, the other times ISO 8601 in UTC (`2020-03-01T00:00:00Z`; the record has no times of day),
GENDER is M/F, RACE one of Synthea's races and ETHNICITY hispanic/nonhispanic, conditions and procedures
carry SYSTEM `SNOMED-CT`, observations.csv has one row per value (a blood pressure is a systolic row and
a diastolic row) with TYPE numeric or text, medications.csv has one row per course (a drug record) with
DISPENSES the number of issues, immunizations.csv one row per vaccination given, careplans.csv one row per care
plan agreed (as FHIR's CarePlan: STOP when the next one of its code replaced it, REASONCODE the condition), and every row of a
patient's record names its ENCOUNTER and every encounter and course its PAYER (payers.csv: the NHS).
An entry made without a consultation belongs to the consultation of that patient and day if there is
one, else to an encounter of its own (class and cost of CPRD's "Administration" consultation source).
What differs, because the source is an English GP record: codes are SNOMED CT (observations) and dm+d
(medications) rather than LOINC and RxNorm, and an immunization's CODE is its dm+d VMP rather than CVX;
SSN holds the NHS number; STATE is the NHS England region; costs are in pounds; encounter CODE is CPRD's
consultation source id; the UK census ethnic category is an observation (observations.csv, SNOMED coded).
A vaccination declined stays in observations.csv (Synthea's immunizations.csv has no status).
The same rows as the FHIR export: a patient's conditions, observations and issues agree in count.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from synthgp.core import codes
from synthgp.formats import fhir_resources as fhir

SUBDIR = "csv"
_OPTIONS = "HEADER, DELIMITER ','"

# first group of the UUID-shaped id, per kind of record id; an "entry" id is of a patient and a day
_TAG = {"patient": 1, "consultation": 2, "practice": 3, "staff": 4, "entry": 5, "payer": 6, "careplan": 7}
ADMIN_SOURCE = 5  # lookups/ConsSource.txt: Administration, the kind of an encounter made for lone entries


def uuid(kind: str, col: str) -> str:
    """SQL for a UUID-shaped id of a record id (NULL stays NULL)."""
    return (f"CASE WHEN {col} IS NOT NULL THEN printf('%08x-0000-4000-%04x-%012x', {_TAG[kind]}, "
            f"(({col})::UBIGINT >> 48)::INTEGER | 32768, ({col})::UBIGINT & 281474976710655) END")


def _entry_key(patid: str, day: str) -> str:
    """One number per patient and day (days since 1900 fit in 16 bits until 2079)."""
    return f"({patid} * 65536 + date_diff('day', DATE '1900-01-01', {day}))"


def _ts(col: str) -> str:
    return f"strftime({col}, '%Y-%m-%dT00:00:00Z')"


def _csv() -> dict:
    return fhir.mapping()["synthea_csv"]


PAYER = uuid("payer", "1")
# the consultation of each patient and day (the first, where there were several)
DAY_CONS = "day_cons AS (SELECT patid, consdate, min(consid) AS consid FROM consultation GROUP BY patid, consdate)"


def _encounter(alias: str, day: str) -> str:
    """ENCOUNTER of a row: its consultation, else that patient's consultation of the day, else the day's entry
    encounter. Needs `LEFT JOIN day_cons dc ON dc.patid = <alias>.patid AND dc.consdate = <day>`."""
    return (f"coalesce({uuid('consultation', f'{alias}.consid')}, {uuid('consultation', 'dc.consid')}, "
            f"{uuid('entry', _entry_key(f'{alias}.patid', day))})")


def _lone_entries() -> str:
    """(patid, day, staffid) of each day a patient has record entries but no consultation (the lowest staffid of
    the day's entries, so that the output does not depend on DuckDB's scan order)."""
    return """
SELECT e.patid, e.day, min(e.staffid) AS staffid FROM (
  SELECT patid, obsdate AS day, staffid FROM observation WHERE consid IS NULL
  UNION ALL SELECT patid, min(issuedate), arg_min(staffid, issueid) FROM drug_issue GROUP BY patid, drugrecid) e
WHERE NOT EXISTS (SELECT 1 FROM consultation c WHERE c.patid = e.patid AND c.consdate = e.day)
GROUP BY e.patid, e.day"""


def _patients() -> str:
    race = ("CASE WHEN eth.term LIKE 'White%' THEN 'white' WHEN eth.term LIKE 'Asian%' THEN 'asian' "
            "WHEN eth.term LIKE 'Black%' THEN 'black' ELSE 'other' END")
    return f"""
WITH eth AS (
  SELECT o.patid, arg_max(d.term, o.obsdate) AS term FROM observation o JOIN medical_dictionary d USING (medcodeid)
  WHERE d.cluster = 'ETH' GROUP BY o.patid),
cost AS (SELECT patid, round(sum(x), 2) AS total FROM (
  SELECT patid, estnhscost AS x FROM drug_issue
  UNION ALL SELECT patid, {_cost('conssourceid')}::DOUBLE FROM consultation) GROUP BY patid)
SELECT {uuid('patient', 'p.patid')} AS Id, i.date_of_birth AS BIRTHDATE, p.emis_ddate AS DEATHDATE,
  i.nhs_number AS SSN, NULL::VARCHAR AS DRIVERS, NULL::VARCHAR AS PASSPORT, i.title AS PREFIX, i.given_name AS FIRST, NULL::VARCHAR AS MIDDLE,
  i.family_name AS LAST, NULL::VARCHAR AS SUFFIX, NULL::VARCHAR AS MAIDEN, NULL::VARCHAR AS MARITAL, {race} AS RACE,
  {fhir.q(_csv()['ethnicity'])} AS ETHNICITY, CASE p.gender WHEN 1 THEN 'M' WHEN 2 THEN 'F' END AS GENDER,
  i.town AS BIRTHPLACE, i.address_line AS ADDRESS, i.town AS CITY, r.description AS STATE, NULL::VARCHAR AS COUNTY,
  NULL::VARCHAR AS FIPS, i.postcode AS ZIP, NULL::DOUBLE AS LAT, NULL::DOUBLE AS LON, 0.0 AS HEALTHCARE_EXPENSES,
  coalesce(cost.total, 0) AS HEALTHCARE_COVERAGE, NULL::DOUBLE AS INCOME
FROM patient p JOIN patient_identity i USING (patid) JOIN practice pr ON pr.pracid = p.pracid
LEFT JOIN "lookup_Region" r ON r.regionid = pr.region LEFT JOIN eth ON eth.patid = p.patid
LEFT JOIN cost ON cost.patid = p.patid ORDER BY p.patid"""


def _cost(src: str) -> str:
    """SQL for the cost (pounds) of an encounter of consultation source `src`."""
    return fhir._case(src, {str(k): v for k, v in _csv()["encounter_cost"].items()}, cast="::INTEGER")


def _encounters() -> str:
    cost = _cost("src")
    ec = fhir.mapping()["encounter_class"]
    synthea = fhir._case(fhir.encounter_mode("cs.description"), {v["code"]: v["synthea"] for v in (*ec["mode"], ec["default"])})
    return f"""
WITH why AS (SELECT consid, sct, term FROM ({fhir.reasons_sql()}) WHERE n = 1),
enc AS (
  SELECT c.consid AS key, 'consultation' AS kind, c.patid, c.consdate AS day, c.pracid, c.staffid, c.conssourceid AS src
  FROM consultation c
  UNION ALL SELECT {_entry_key('e.patid', 'e.day')}, 'entry', e.patid, e.day, p.pracid, e.staffid, {ADMIN_SOURCE}
  FROM ({_lone_entries()}) e JOIN patient p USING (patid))
SELECT CASE kind WHEN 'consultation' THEN {uuid('consultation', 'key')} ELSE {uuid('entry', 'key')} END AS Id,
  {_ts('day')} AS START, {_ts('day')} AS STOP, {uuid('patient', 'patid')} AS PATIENT, {uuid('practice', 'pracid')} AS ORGANIZATION,
  {uuid('staff', 'staffid')} AS PROVIDER, {PAYER} AS PAYER,
  {synthea} AS ENCOUNTERCLASS,
  src AS CODE, cs.description AS DESCRIPTION, {cost}::DOUBLE AS BASE_ENCOUNTER_COST, {cost}::DOUBLE AS TOTAL_CLAIM_COST,
  {cost}::DOUBLE AS PAYER_COVERAGE, CAST(why.sct AS VARCHAR) AS REASONCODE, why.term AS REASONDESCRIPTION
FROM enc LEFT JOIN "lookup_ConsSource" cs ON cs.conssourceid = enc.src
LEFT JOIN why ON enc.kind = 'consultation' AND why.consid = enc.key ORDER BY patid, day, kind, key"""


def _clinical() -> dict[str, str]:
    m = fhir.mapping()
    cats = fhir._case("o.cluster", {**m["cluster"]["observation_category"], "ETH": "social-history"})
    procs = ", ".join(fhir.q(c) for c in m["cluster"]["procedure"])
    given = fhir.immunization_status("cluster") + " = 'completed'"
    return {
        "conditions": f"""
WITH {DAY_CONS}
SELECT o.obsdate AS START, pr.probenddate AS STOP, {uuid('patient', 'pr.patid')} AS PATIENT,
  {_encounter('o', 'o.obsdate')} AS ENCOUNTER, 'SNOMED-CT' AS SYSTEM, d.snomedctconceptid AS CODE, d.term AS DESCRIPTION
FROM problem pr JOIN observation o ON o.obsid = pr.obsid JOIN medical_dictionary d ON d.medcodeid = o.medcodeid
LEFT JOIN day_cons dc ON dc.patid = o.patid AND dc.consdate = o.obsdate
WHERE d.cluster NOT IN {fhir._not_condition()} ORDER BY pr.patid, o.obsdate, pr.obsid""",
        "medications": f"""
WITH {DAY_CONS},
course AS (
  SELECT patid, drugrecid, any_value(prodcodeid) AS prodcodeid, min(issuedate) AS start,
    max(issuedate + duration::INTEGER) AS stop, count(*) AS n, round(sum(estnhscost), 2) AS total,
    round(arg_min(estnhscost, issuedate), 2) AS base, any_value(probobsid) AS probobsid, NULL::BIGINT AS consid
  FROM drug_issue GROUP BY patid, drugrecid)
SELECT {_ts('c.start')} AS START, {_ts('c.stop')} AS STOP, {uuid('patient', 'c.patid')} AS PATIENT, {PAYER} AS PAYER,
  {_encounter('c', 'c.start')} AS ENCOUNTER, pd.dmdid AS CODE, pd.termfromemis AS DESCRIPTION, c.base AS BASE_COST,
  c.total AS PAYER_COVERAGE, c.n AS DISPENSES, c.total AS TOTALCOST, d.snomedctconceptid AS REASONCODE, d.term AS REASONDESCRIPTION
FROM course c JOIN product_dictionary pd USING (prodcodeid)
LEFT JOIN day_cons dc ON dc.patid = c.patid AND dc.consdate = c.start
LEFT JOIN observation o ON o.obsid = c.probobsid LEFT JOIN medical_dictionary d ON d.medcodeid = o.medcodeid
ORDER BY c.patid, c.start, c.drugrecid""",
        "observations": f"""
WITH {fhir._observation_rows(fhir.everyone, given)},
eth AS (SELECT * FROM obs WHERE cluster = 'ETH'),
rows AS (SELECT * FROM main UNION ALL SELECT * FROM dia UNION ALL SELECT * FROM eth), {DAY_CONS}
SELECT {_ts('o.obsdate')} AS DATE, {uuid('patient', 'o.patid')} AS PATIENT, {_encounter('o', 'o.obsdate')} AS ENCOUNTER,
  {cats} AS CATEGORY, o.sct AS CODE, o.term AS DESCRIPTION,
  CASE WHEN o.value IS NOT NULL THEN CAST(o.value AS VARCHAR) ELSE o.term END AS VALUE,
  o.unit AS UNITS, CASE WHEN o.value IS NOT NULL THEN 'numeric' ELSE 'text' END AS TYPE
FROM rows o LEFT JOIN day_cons dc ON dc.patid = o.patid AND dc.consdate = o.obsdate ORDER BY o.patid, o.obsdate, o.obsid""",
        "immunizations": _immunizations(),
        "careplans": f"""
WITH {DAY_CONS}
SELECT {uuid('careplan', 'cp.obsid')} AS Id, cp.obsdate AS START, cp.stop AS STOP, {uuid('patient', 'cp.patid')} AS PATIENT,
  {_encounter('cp', 'cp.obsdate')} AS ENCOUNTER, cp.sct AS CODE, cp.term AS DESCRIPTION,
  d.snomedctconceptid AS REASONCODE, d.term AS REASONDESCRIPTION
FROM ({fhir.care_plan_rows(fhir.everyone)}) cp LEFT JOIN day_cons dc ON dc.patid = cp.patid AND dc.consdate = cp.obsdate
LEFT JOIN observation o ON o.obsid = cp.condid LEFT JOIN medical_dictionary d ON d.medcodeid = o.medcodeid
ORDER BY cp.patid, cp.obsdate, cp.obsid""",
        "procedures": f"""
WITH {DAY_CONS}
SELECT {_ts('o.obsdate')} AS START, {_ts('o.obsdate')} AS STOP, {uuid('patient', 'o.patid')} AS PATIENT,
  {_encounter('o', 'o.obsdate')} AS ENCOUNTER, 'SNOMED-CT' AS SYSTEM, d.snomedctconceptid AS CODE,
  d.term AS DESCRIPTION, 0.0 AS BASE_COST, NULL::VARCHAR AS REASONCODE, NULL::VARCHAR AS REASONDESCRIPTION
FROM observation o JOIN medical_dictionary d USING (medcodeid)
LEFT JOIN day_cons dc ON dc.patid = o.patid AND dc.consdate = o.obsdate
WHERE d.cluster IN ({procs}) ORDER BY o.patid, o.obsdate, o.obsid""",
    }


AGE = "(year(o.obsdate) - p.yob)"  # years at a vaccination (of observation o, patient p)


def _immunizations() -> str:
    """One row per vaccination given: CODE the dm+d VMP where fhir.toml names one (as FHIR's vaccineCode), else the
    record's SNOMED CT vaccination code; BASE_COST the fee for the code ([immunization.base_cost]), else the
    item-of-service fee every other programme pays ([immunization] default_fee)."""
    im = fhir.mapping()["immunization"]
    return f"""
WITH {DAY_CONS}
SELECT {_ts('o.obsdate')} AS DATE, {uuid('patient', 'o.patid')} AS PATIENT, {_encounter('o', 'o.obsdate')} AS ENCOUNTER,
  coalesce({fhir.vaccine_sql('d.cluster', 'code', AGE, 'o.obsdate', 'd.snomedctconceptid')}, CAST(d.snomedctconceptid AS VARCHAR), CAST(o.medcodeid AS VARCHAR)) AS CODE,
  coalesce({fhir.vaccine_sql('d.cluster', 'display', AGE, 'o.obsdate', 'd.snomedctconceptid')}, d.term) AS DESCRIPTION,
  coalesce({codes.sql_case('d.snomedctconceptid', im['base_cost'])}, {float(im['default_fee'])})::DOUBLE AS BASE_COST
FROM observation o JOIN medical_dictionary d USING (medcodeid) JOIN patient p ON p.patid = o.patid
LEFT JOIN day_cons dc ON dc.patid = o.patid AND dc.consdate = o.obsdate
WHERE {fhir.immunization_status('d.cluster')} = 'completed' ORDER BY o.patid, o.obsdate, o.obsid"""


def _organisations() -> dict[str, str]:
    procs = ", ".join(fhir.q(c) for c in fhir.mapping()["cluster"]["procedure"])
    return {
        "organizations": f"""
SELECT {uuid('practice', 'pr.pracid')} AS Id, pr.name AS NAME, NULL::VARCHAR AS ADDRESS, pr.town AS CITY, r.description AS STATE,
  pr.postcode AS ZIP, NULL::DOUBLE AS LAT, NULL::DOUBLE AS LON, NULL::VARCHAR AS PHONE, 0.0 AS REVENUE,
  (SELECT count(*) FROM consultation c WHERE c.pracid = pr.pracid) AS UTILIZATION
FROM practice pr LEFT JOIN "lookup_Region" r ON r.regionid = pr.region ORDER BY pr.pracid""",
        "providers": f"""
WITH enc AS (SELECT staffid, count(*) AS n FROM consultation GROUP BY staffid),
proc AS (SELECT o.staffid, count(*) AS n FROM observation o JOIN medical_dictionary d USING (medcodeid)
         WHERE d.cluster IN ({procs}) GROUP BY o.staffid)
SELECT {uuid('staff', 's.staffid')} AS Id, {uuid('practice', 's.pracid')} AS ORGANIZATION,
  concat_ws(' ', si.title, si.given_name, si.family_name) AS NAME,
  CASE WHEN si.title = 'Mr' THEN 'M' WHEN si.title IN ('Mrs', 'Ms', 'Miss') THEN 'F' END AS GENDER,
  upper(j.description) AS SPECIALITY, NULL::VARCHAR AS ADDRESS, pr.town AS CITY, r.description AS STATE, pr.postcode AS ZIP,
  NULL::DOUBLE AS LAT, NULL::DOUBLE AS LON, coalesce(enc.n, 0) AS ENCOUNTERS, coalesce(proc.n, 0) AS PROCEDURES
FROM staff s JOIN staff_identity si USING (staffid) JOIN practice pr ON pr.pracid = s.pracid
LEFT JOIN "lookup_Region" r ON r.regionid = pr.region LEFT JOIN "lookup_JobCat" j USING (jobcatid)
LEFT JOIN enc ON enc.staffid = s.staffid LEFT JOIN proc ON proc.staffid = s.staffid ORDER BY s.staffid""",
    }


def _payers(folder: Path) -> str:
    """payers.csv: the NHS, with the totals of the files already written (read back from them)."""
    c = _csv()
    f = {n: f"read_csv('{(folder / n).as_posix()}.csv', header=true)" for n in
         ("encounters", "medications", "procedures", "immunizations", "patients")}
    covered = " + ".join(f"(SELECT coalesce(sum(TRY_CAST({col} AS DOUBLE)), 0) FROM {f[n]})" for n, col in
                         (("encounters", "TOTAL_CLAIM_COST"), ("medications", "TOTALCOST"), ("immunizations", "BASE_COST")))
    months = ("(SELECT sum(greatest(date_diff('month', p.regstartdate, least(coalesce(p.regenddate, pr.lcd), "
              "coalesce(p.cprd_ddate, pr.lcd), pr.lcd)), 0)) FROM patient p JOIN practice pr USING (pracid))")
    return f"""
SELECT {PAYER} AS Id, {fhir.q(c['payer_name'])} AS NAME, NULL::VARCHAR AS ADDRESS, {fhir.q(c['payer_city'])} AS CITY,
  NULL::VARCHAR AS STATE_HEADQUARTERED, NULL::VARCHAR AS ZIP, NULL::VARCHAR AS PHONE,
  round({covered}, 2) AS AMOUNT_COVERED, 0.0 AS AMOUNT_UNCOVERED, 0.0 AS REVENUE,
  (SELECT count(*) FROM {f['encounters']}) AS COVERED_ENCOUNTERS, 0 AS UNCOVERED_ENCOUNTERS,
  (SELECT count(*) FROM {f['medications']}) AS COVERED_MEDICATIONS, 0 AS UNCOVERED_MEDICATIONS,
  (SELECT count(*) FROM {f['procedures']}) AS COVERED_PROCEDURES, 0 AS UNCOVERED_PROCEDURES,
  (SELECT count(*) FROM {f['immunizations']}) AS COVERED_IMMUNIZATIONS, 0 AS UNCOVERED_IMMUNIZATIONS,
  (SELECT count(*) FROM {f['patients']}) AS UNIQUE_CUSTOMERS, NULL::DOUBLE AS QOLS_AVG, {months} AS MEMBER_MONTHS"""


def _queries() -> dict[str, str]:
    return {"patients": _patients(), "encounters": _encounters(), **_clinical(), **_organisations()}


def write(con: duckdb.DuckDBPyConnection, out: Path, sc: object = None) -> None:
    folder = Path(out) / SUBDIR
    folder.mkdir(parents=True, exist_ok=True)
    for name, sql in _queries().items():
        con.execute(f"COPY ({sql}) TO '{(folder / name).as_posix()}.csv' ({_OPTIONS})")
    con.execute(f"COPY ({_payers(folder)}) TO '{(folder / 'payers').as_posix()}.csv' ({_OPTIONS})")
