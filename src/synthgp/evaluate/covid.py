"""COVID-19 figures of a generated practice, for `synthgp calibrate` and the dashboard.

Positive tests and outcomes (admissions, critical care, deaths) come from `covid_truth` (every infection,
whether or not the practice recorded its result: national surveillance counts every positive test); vaccine
uptake and coded long COVID from the record alone (clusters COVIDVAC and LONGCOVID). Reads only the output's DuckDB file.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import duckdb

from synthgp.core import codes
from synthgp.evaluate.sampling import share

VACCINATED = "COVIDVAC"  # codes.csv cluster of a COVID-19 vaccination given
UPTAKE_BANDS = ((18, 30, "18-29"), (30, 40, "30-39"), (40, 50, "40-49"), (50, 60, "50-59"), (60, 70, "60-69"),
                (70, 80, "70-79"), (80, 200, "80+"))
LONG_COVID = "LONGCOVID"  # codes.csv cluster of a post-COVID-19 syndrome diagnosis
LONG_COVID_BY = dt.date(2021, 5, 25)  # the end of Walker et al.'s count (OpenSAFELY, BJGP 2021)
UPTAKE_ON = dt.date(2021, 12, 31)  # first doses by this date (NHS England statistics, end of 2021)
DISRUPTION_DAYS = (dt.date(2020, 3, 1), dt.date(2021, 2, 1))  # before the pandemic, and its low (Wiedemann et al. 2024)
DEFINITION = ("patients aged 18 or over on the day, registered and alive on it, with a COVID-19 vaccination code "
              "(first dose, second dose or booster) on or before it")


def _age(day: str) -> str:
    return (f"(date_diff('year', i.date_of_birth, DATE '{day}') - "
            f"(strftime(i.date_of_birth, '%m%d') > strftime(DATE '{day}', '%m%d'))::INT)")


def coverage_sql(on: dt.date) -> str:
    """Per practice and age band (as UPTAKE_BANDS): pracid, band, people, vaccinated (at least one dose) on `on`."""
    d = on.isoformat()
    band = "CASE " + " ".join(f"WHEN c.a >= {lo} AND c.a < {hi} THEN '{name}'" for lo, hi, name in UPTAKE_BANDS) + " END"
    return f"""
WITH cohort AS (
  SELECT p.patid, p.pracid, {_age(d)} AS a FROM patient p JOIN patient_identity i USING (patid)
  WHERE p.patienttypeid = 3 AND p.regstartdate <= DATE '{d}' AND (p.regenddate IS NULL OR p.regenddate > DATE '{d}')
    AND (p.cprd_ddate IS NULL OR p.cprd_ddate > DATE '{d}')),
vac AS (
  SELECT DISTINCT o.patid FROM observation o JOIN medical_dictionary m USING (medcodeid)
  WHERE m.cluster = '{VACCINATED}' AND o.obsdate <= DATE '{d}')
SELECT c.pracid, {band} AS band, count(*) AS people,
       count(v.patid) AS vaccinated
FROM cohort c LEFT JOIN vac v USING (patid) WHERE c.a >= 18 GROUP BY ALL ORDER BY 1, 2"""


def hypertension_care_sql(on: dt.date) -> str:
    """On `on`, among adults on the hypertension register (a HYP code by then, registered and alive): under 80
    (0/1), people, with a BP recorded in the preceding 12 months, treated to target (the latest such BP at most
    140/90 under 80, 150/90 at 80+; QOF HYP003/HYP007 and HYP008/HYP009 logic, no exceptions)."""
    d = on.isoformat()
    systolic = codes.sql("bp_systolic", "abpm_systolic", "hbpm_systolic")
    return f"""
WITH reg AS (
  SELECT p.patid, {_age(d)} AS a FROM patient p JOIN patient_identity i USING (patid)
  WHERE p.patienttypeid = 3 AND p.regstartdate <= DATE '{d}' AND (p.regenddate IS NULL OR p.regenddate > DATE '{d}')
    AND (p.cprd_ddate IS NULL OR p.cprd_ddate > DATE '{d}')
    AND p.patid IN (SELECT o.patid FROM observation o JOIN medical_dictionary m USING (medcodeid)
                    WHERE m.cluster = 'HYP' AND o.obsdate <= DATE '{d}')),
bp AS (
  SELECT o.patid, o.value AS sbp, dd.value AS dbp,
         row_number() OVER (PARTITION BY o.patid ORDER BY o.obsdate DESC, o.obsid DESC) AS rn
  FROM observation o JOIN observation dd ON dd.parentobsid = o.obsid AND dd.patid = o.patid
  JOIN medical_dictionary m ON m.medcodeid = o.medcodeid
  WHERE m.snomedctconceptid IN ({systolic}) AND o.obsdate > DATE '{d}' - INTERVAL 12 MONTH AND o.obsdate <= DATE '{d}')
SELECT (reg.a < 80)::INT AS under80, count(*) AS people, count(bp.patid) AS recorded,
       sum(CASE WHEN bp.patid IS NULL THEN 0 WHEN reg.a >= 80 THEN (bp.sbp <= 150 AND bp.dbp <= 90)::INT
                ELSE (bp.sbp <= 140 AND bp.dbp <= 90)::INT END) AS to_target
FROM reg LEFT JOIN bp ON bp.patid = reg.patid AND bp.rn = 1 WHERE reg.a >= 18 GROUP BY 1 ORDER BY 1"""


def disruption(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """The pandemic's dip in hypertension care: on the register, the share with a BP recorded in the preceding 12
    months and the shares treated to target (under 80, 80+), on 1 February 2021 over 1 March 2020."""
    got = {}
    for on in DISRUPTION_DAYS:
        rows = con.execute(hypertension_care_sql(on)).fetchall()
        people = sum(r[1] for r in rows)
        if not people:
            return {}
        by = {r[0]: r for r in rows}
        got[on] = (sum(r[2] for r in rows) / people,
                   *(by[u][3] / by[u][1] if u in by and by[u][1] else float("nan") for u in (1, 0)))
    before, low = (got[on] for on in DISRUPTION_DAYS)
    return {"covid_disruption_bp_recorded": low[0] / before[0],
            "covid_disruption_controlled_under80": low[1] / before[1],
            "covid_disruption_controlled_80_plus": low[2] / before[2]}


def _has(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    return bool(con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = ?", [table]).fetchone()[0])


def measure(con: duckdb.DuckDBPyConnection, start: dt.date, end: dt.date) -> dict[str, Any]:
    """The COVID-19 figures of calibration.toml whose period the study holds whole."""
    if not _has(con, "covid_truth"):
        return {}
    out: dict[str, Any] = {}
    q = lambda sql, *a: con.execute(sql, list(a)).fetchall()  # noqa: E731
    years = [y for y in (2020, 2021, 2022) if start <= dt.date(y, 1, 1) and dt.date(y, 12, 31) <= end]
    if years:
        per = {}
        for y in years:  # tested-positive infections per 100 adults on the list at mid-year
            mid = f"{y}-07-01"
            adults = q(f"""SELECT count(*) FROM patient p JOIN patient_identity i USING (patid)
                           WHERE p.patienttypeid = 3 AND p.regstartdate <= DATE '{mid}' AND (p.regenddate IS NULL OR p.regenddate > DATE '{mid}')
                             AND (p.cprd_ddate IS NULL OR p.cprd_ddate > DATE '{mid}') AND {_age(mid)} >= 18""")[0][0]
            pos = q("SELECT count(*) FROM covid_truth WHERE tested = 1 AND year(date) = ?", y)[0][0]
            per[str(y)] = 100 * pos / adults if adults else float("nan")
        out["covid_positive_tests_per_100"] = per
    if start <= dt.date(2020, 3, 1) and dt.date(2021, 12, 31) <= end:
        died = q("""SELECT count(*), avg((date_diff('day', i.date_of_birth, t.date) / 365.25 >= 60)::INT),
                           avg((p.gender = 1)::INT)
                    FROM covid_truth t JOIN patient p USING (patid) JOIN patient_identity i USING (patid)
                    WHERE t.died = 1 AND t.date < DATE '2022-01-01'""")[0]
        if died[0]:
            out["covid_deaths_aged_60_plus"], out["covid_deaths_male"] = share(died[1], died[0]), share(died[2], died[0])
        mid = "2020-07-01"
        adults = q(f"""SELECT count(*) FROM patient p JOIN patient_identity i USING (patid)
                       WHERE p.patienttypeid = 3 AND p.regstartdate <= DATE '{mid}' AND (p.regenddate IS NULL OR p.regenddate > DATE '{mid}')
                         AND (p.cprd_ddate IS NULL OR p.cprd_ddate > DATE '{mid}') AND {_age(mid)} >= 18""")[0][0]
        deaths = q("SELECT count(*) FROM covid_truth WHERE died = 1 AND date <= DATE '2021-01-30'")[0][0]
        if adults:
            out["covid_deaths_per_1000_adults"] = 1000 * deaths / adults
        adm = q("""SELECT median(date_diff('day', i.date_of_birth, t.date) / 365.25) FROM covid_truth t
                   JOIN patient_identity i USING (patid) WHERE t.admitted = 1 AND t.date < DATE '2020-08-01'""")[0][0]
        if adm is not None:
            out["covid_admission_median_age_wave1"] = adm
        icu, admitted = q("SELECT avg(icu), count(*) FROM covid_truth WHERE admitted = 1 AND date < DATE '2020-08-01'")[0]
        if icu is not None:
            out["covid_icu_share_wave1"] = share(icu, admitted)
    if start <= DISRUPTION_DAYS[0] - dt.timedelta(days=366) and DISRUPTION_DAYS[1] <= end:
        out.update(disruption(con))
    if start <= dt.date(2020, 2, 1) and LONG_COVID_BY <= end:
        d = LONG_COVID_BY.isoformat()
        people = q(f"""SELECT count(*) FROM patient p WHERE p.patienttypeid = 3 AND p.regstartdate <= DATE '{d}'
                       AND (p.regenddate IS NULL OR p.regenddate > DATE '{d}') AND (p.cprd_ddate IS NULL OR p.cprd_ddate > DATE '{d}')""")[0][0]
        coded = q(f"""SELECT count(DISTINCT o.patid) FROM observation o JOIN medical_dictionary m USING (medcodeid)
                      JOIN patient p USING (patid)
                      WHERE m.cluster = '{LONG_COVID}' AND o.obsdate <= DATE '{d}' AND p.regstartdate <= DATE '{d}'
                        AND (p.regenddate IS NULL OR p.regenddate > DATE '{d}') AND (p.cprd_ddate IS NULL OR p.cprd_ddate > DATE '{d}')""")[0][0]
        if people:
            out["covid_long_covid_coded_per_100000"] = share(100_000 * coded / people, people, per=100_000)
    if start <= dt.date(2020, 12, 8) and UPTAKE_ON <= end:
        rows = q(coverage_sql(UPTAKE_ON))
        got: dict[str, list[int]] = {}
        for _, band, people, vac in rows:
            g = got.setdefault(band, [0, 0])
            g[0] += people
            g[1] += vac
        out["covid_vaccine_uptake_by_age"] = {b: share(v / n, n) for b, (n, v) in got.items() if n}
    return out
