"""Synthea-style CSV: the files and column names of Synthea's CSV exporter (v3), so tools written for
Synthea's output read ours unchanged.

Conventions kept from Synthea: ids are UUID-shaped strings (derived from the record's ids, so the same
patient has the same Id in every file and run), dates in conditions.csv and patients.csv are
YYYY-MM-DD, the other times ISO 8601 in UTC (`2020-03-01T00:00:00Z`; the record has no times of day),
GENDER is M/F, conditions and procedures carry SYSTEM `SNOMED-CT`, observations.csv has one row per
value (a blood pressure is a systolic row and a diastolic row) with TYPE numeric or text, and
medications.csv has one row per course (a drug record) with DISPENSES the number of issues, and
immunizations.csv one row per vaccination given.
What differs, because the source is an English GP record: codes are SNOMED CT (observations) and dm+d
(medications) rather than LOINC and RxNorm, and an immunization's CODE is its dm+d VMP rather than CVX;
SSN holds the NHS number; STATE is the NHS England region; costs are NHS Drug Tariff prices in pounds
(an immunization's, the NHS fee for giving it); encounter CODE is CPRD's consultation source id.
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

# first group of the UUID-shaped id, per kind of record id
_TAG = {"patient": 1, "consultation": 2, "practice": 3, "staff": 4}


def uuid(kind: str, col: str) -> str:
    """SQL for a UUID-shaped id of a record id (NULL stays NULL)."""
    return (f"CASE WHEN {col} IS NOT NULL THEN printf('%08x-0000-4000-%04x-%012x', {_TAG[kind]}, "
            f"(({col})::UBIGINT >> 48)::INTEGER | 32768, ({col})::UBIGINT & 281474976710655) END")


def _ts(col: str) -> str:
    return f"strftime({col}, '%Y-%m-%dT00:00:00Z')"


def _queries() -> dict[str, str]:
    m = fhir.mapping()
    cats = fhir._case("o.cluster", m["cluster"]["observation_category"])
    procs = ", ".join(fhir.q(c) for c in m["cluster"]["procedure"])
    im = m["immunization"]
    given = fhir.immunization_clusters("completed")
    vaccine = {c: im["vaccine"][im["cluster"][c]["vaccine"]] for c in given}
    race = ("CASE WHEN eth.term IS NULL THEN NULL WHEN eth.term LIKE 'White%' THEN 'white' "
            "WHEN eth.term LIKE 'Mixed%' THEN 'mixed' WHEN eth.term LIKE 'Asian%' THEN 'asian' "
            "WHEN eth.term LIKE 'Black%' THEN 'black' ELSE 'other' END")
    return {
        "patients": f"""
WITH eth AS (
  SELECT o.patid, arg_max(d.term, o.obsdate) AS term FROM observation o JOIN medical_dictionary d USING (medcodeid)
  WHERE d.cluster = 'ETH' GROUP BY o.patid),
cost AS (SELECT patid, round(sum(estnhscost), 2) AS total FROM drug_issue GROUP BY patid)
SELECT {uuid('patient', 'p.patid')} AS Id, i.date_of_birth AS BIRTHDATE, p.emis_ddate AS DEATHDATE,
  i.nhs_number AS SSN, NULL::VARCHAR AS DRIVERS, NULL::VARCHAR AS PASSPORT, i.title AS PREFIX, i.given_name AS FIRST, NULL::VARCHAR AS MIDDLE,
  i.family_name AS LAST, NULL::VARCHAR AS SUFFIX, NULL::VARCHAR AS MAIDEN, NULL::VARCHAR AS MARITAL, {race} AS RACE,
  split_part(eth.term, ' - England and Wales', 1) AS ETHNICITY,
  CASE p.gender WHEN 1 THEN 'M' WHEN 2 THEN 'F' END AS GENDER, NULL::VARCHAR AS BIRTHPLACE,
  i.address_line AS ADDRESS, i.town AS CITY, r.description AS STATE, NULL::VARCHAR AS COUNTY, NULL::VARCHAR AS FIPS, i.postcode AS ZIP,
  NULL::DOUBLE AS LAT, NULL::DOUBLE AS LON, coalesce(cost.total, 0) AS HEALTHCARE_EXPENSES,
  coalesce(cost.total, 0) AS HEALTHCARE_COVERAGE, NULL::DOUBLE AS INCOME
FROM patient p JOIN patient_identity i USING (patid) JOIN practice pr ON pr.pracid = p.pracid
LEFT JOIN "lookup_Region" r ON r.regionid = pr.region LEFT JOIN eth ON eth.patid = p.patid
LEFT JOIN cost ON cost.patid = p.patid ORDER BY p.patid""",
        "encounters": f"""
SELECT {uuid('consultation', 'c.consid')} AS Id, {_ts('c.consdate')} AS START, {_ts('c.consdate')} AS STOP,
  {uuid('patient', 'c.patid')} AS PATIENT, {uuid('practice', 'c.pracid')} AS ORGANIZATION,
  {uuid('staff', 'c.staffid')} AS PROVIDER, NULL::VARCHAR AS PAYER,
  CASE WHEN c.conssourceid IN (2, 4) THEN 'virtual' ELSE 'ambulatory' END AS ENCOUNTERCLASS,
  c.conssourceid AS CODE, cs.description AS DESCRIPTION, 0.0 AS BASE_ENCOUNTER_COST, 0.0 AS TOTAL_CLAIM_COST,
  0.0 AS PAYER_COVERAGE, NULL::VARCHAR AS REASONCODE, NULL::VARCHAR AS REASONDESCRIPTION
FROM consultation c LEFT JOIN "lookup_ConsSource" cs USING (conssourceid) ORDER BY c.patid, c.consdate, c.consid""",
        "conditions": f"""
SELECT o.obsdate AS START, pr.probenddate AS STOP, {uuid('patient', 'pr.patid')} AS PATIENT,
  {uuid('consultation', 'o.consid')} AS ENCOUNTER, 'SNOMED-CT' AS SYSTEM, d.snomedctconceptid AS CODE,
  d.term AS DESCRIPTION
FROM problem pr JOIN observation o ON o.obsid = pr.obsid JOIN medical_dictionary d ON d.medcodeid = o.medcodeid
WHERE d.cluster NOT IN {fhir._not_condition()} ORDER BY pr.patid, o.obsdate, pr.obsid""",
        "medications": f"""
WITH course AS (
  SELECT patid, drugrecid, any_value(prodcodeid) AS prodcodeid, min(issuedate) AS start,
    max(issuedate + duration::INTEGER) AS stop, count(*) AS n, round(sum(estnhscost), 2) AS total,
    round(arg_min(estnhscost, issuedate), 2) AS base, any_value(probobsid) AS probobsid
  FROM drug_issue GROUP BY patid, drugrecid)
SELECT {_ts('c.start')} AS START, {_ts('c.stop')} AS STOP, {uuid('patient', 'c.patid')} AS PATIENT, NULL::VARCHAR AS PAYER,
  NULL::VARCHAR AS ENCOUNTER, pd.dmdid AS CODE, pd.termfromemis AS DESCRIPTION, c.base AS BASE_COST, c.total AS PAYER_COVERAGE,
  c.n AS DISPENSES, c.total AS TOTALCOST, d.snomedctconceptid AS REASONCODE, d.term AS REASONDESCRIPTION
FROM course c JOIN product_dictionary pd USING (prodcodeid)
LEFT JOIN observation o ON o.obsid = c.probobsid LEFT JOIN medical_dictionary d ON d.medcodeid = o.medcodeid
ORDER BY c.patid, c.start, c.drugrecid""",
        "observations": f"""
WITH {fhir._observation_rows(fhir.everyone, given)},
rows AS (SELECT * FROM main UNION ALL SELECT * FROM dia)
SELECT {_ts('o.obsdate')} AS DATE, {uuid('patient', 'o.patid')} AS PATIENT, {uuid('consultation', 'o.consid')} AS ENCOUNTER,
  {cats} AS CATEGORY, o.sct AS CODE, o.term AS DESCRIPTION,
  CASE WHEN o.value IS NOT NULL THEN CAST(o.value AS VARCHAR) ELSE o.term END AS VALUE,
  o.unit AS UNITS, CASE WHEN o.value IS NOT NULL THEN 'numeric' ELSE 'text' END AS TYPE
FROM rows o ORDER BY o.patid, o.obsdate, o.obsid""",
        "immunizations": f"""
SELECT {_ts('o.obsdate')} AS DATE, {uuid('patient', 'o.patid')} AS PATIENT, {uuid('consultation', 'o.consid')} AS ENCOUNTER,
  {fhir._case('d.cluster', {c: v['code'] for c, v in vaccine.items()})} AS CODE,
  {fhir._case('d.cluster', {c: v['display'] for c, v in vaccine.items()})} AS DESCRIPTION,
  {codes.sql_case('d.snomedctconceptid', im['base_cost'])}::DOUBLE AS BASE_COST
FROM observation o JOIN medical_dictionary d USING (medcodeid)
WHERE d.cluster IN ({', '.join(fhir.q(c) for c in given)}) ORDER BY o.patid, o.obsdate, o.obsid""",
        "procedures": f"""
SELECT {_ts('o.obsdate')} AS START, {_ts('o.obsdate')} AS STOP, {uuid('patient', 'o.patid')} AS PATIENT,
  {uuid('consultation', 'o.consid')} AS ENCOUNTER, 'SNOMED-CT' AS SYSTEM, d.snomedctconceptid AS CODE,
  d.term AS DESCRIPTION, NULL::DOUBLE AS BASE_COST, NULL::VARCHAR AS REASONCODE, NULL::VARCHAR AS REASONDESCRIPTION
FROM observation o JOIN medical_dictionary d USING (medcodeid)
WHERE d.cluster IN ({procs}) ORDER BY o.patid, o.obsdate, o.obsid""",
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


def write(con: duckdb.DuckDBPyConnection, out: Path, sc: object = None) -> None:
    folder = Path(out) / SUBDIR
    folder.mkdir(parents=True, exist_ok=True)
    for name, sql in _queries().items():
        con.execute(f"COPY ({sql}) TO '{(folder / name).as_posix()}.csv' ({_OPTIONS})")
