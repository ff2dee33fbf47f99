"""Adults' prevention figures from the record alone (never from the truth): pneumococcal and shingles vaccination
coverage, cervical screening coverage, and how complete the record of BMI, smoking and alcohol is.

Definitions (following the published ones as far as a record can):
  ppv_coverage_65_plus      - regular patients on the list at the end date aged 65 or over, with a pneumococcal
                              vaccination (codes.csv cluster IMM_PNEUMO) on their record at any time, given here or
                              transferred from a previous practice (UKHSA's "vaccinated at any time");
  shingles_coverage_71_79   - on the list at the end date aged 71-79, with a shingles vaccination (IMM_SHINGLES)
                              at any time (UKHSA's cumulative coverage of those cohorts);
  shingles_first_year_70    - aged 70 on 1 September Y and registered from then to 31 August Y+1, vaccinated in
                              that programme year (PHE's routine-cohort coverage), by programme year Y, for the
                              Zostavax years (2013/14-2022/23) the study holds whole;
  cervical_coverage_25_49   - women on the list at the end date aged 25-49, screened (CERVSCREEN "screening
                              done") within the last 3.5 years; cervical_coverage_50_64 likewise at 50-64 within
                              5.5 years (NHS Digital's age-appropriate coverage);
  recorded_5y_{bmi,smoking,alcohol} - adults on the list with a BMI, a smoking status, an alcohol record (units
                              a week or AUDIT-C) in the last five years;
  alcohol_recorded_2018     - adults (18+) registered on 1 January 2018 with an alcohol record in the 5 years before;
                              audit_recorded_2018 likewise with an AUDIT-C score (Mansfield et al. 2019's definitions);
  bmi_recorded_2005_2011    - adults registered on 31 December 2011 with a BMI dated 2005-2011 (Bhaskaran et al. 2013);
  smoking_first_year        - adults who registered during the study, more than a year before its end, with a
                              smoking status within a year of registering (Marston et al. 2014).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import duckdb

from synthgp.core import codes
from synthgp.evaluate.sampling import share

SCREENED = codes.sql("cervical_screening_done")
BMI = codes.sql("bmi")
SMOKING = codes.sql("never_smoked", "ex_smoker", "light_smoker", "moderate_smoker", "heavy_smoker")
AUDIT = codes.sql("audit_c_score")
ALCOHOL = codes.sql("audit_c_score", "alcohol_intake")

_LIST = """
  SELECT p.patid, p.gender,
         date_diff('year', i.date_of_birth, ?::DATE) - (strftime(i.date_of_birth, '%m%d') > strftime(?::DATE, '%m%d'))::INT AS age
  FROM patient p JOIN patient_identity i USING (patid)
  WHERE p.regenddate IS NULL AND p.cprd_ddate IS NULL AND p.patienttypeid = 3"""


def _share(con: duckdb.DuckDBPyConnection, end: dt.date, who: str, has: str) -> float | None:
    """Share of the list at `end` matching `who` (SQL on l.age, l.gender) with an observation matching `has`
    (SQL on o, m: the observation and its dictionary row)."""
    n, k = con.execute(f"""
        WITH l AS ({_LIST})
        SELECT count(*), count(*) FILTER (WHERE EXISTS (
            SELECT 1 FROM observation o JOIN medical_dictionary m USING (medcodeid) WHERE o.patid = l.patid AND {has}))
        FROM l WHERE {who}""", [end, end]).fetchone()
    return share(k / n, n) if n else None


def _on_list_share(con: duckdb.DuckDBPyConnection, at: dt.date, since: dt.date, ids: str) -> float | None:
    """Share of the adults registered and alive on `at` with one of `ids` (SNOMED) dated from `since` to `at`."""
    n, k = con.execute(f"""
        WITH l AS (SELECT p.patid FROM patient p JOIN patient_identity i USING (patid)
                   WHERE p.patienttypeid = 3 AND p.regstartdate <= ?::DATE AND (p.regenddate IS NULL OR p.regenddate > ?::DATE)
                     AND (p.cprd_ddate IS NULL OR p.cprd_ddate > ?::DATE) AND i.date_of_birth <= ?::DATE - INTERVAL 18 YEAR)
        SELECT count(*), count(*) FILTER (WHERE EXISTS (
            SELECT 1 FROM observation o JOIN medical_dictionary m USING (medcodeid)
            WHERE o.patid = l.patid AND m.snomedctconceptid IN ({ids}) AND o.obsdate BETWEEN ?::DATE AND ?::DATE)) FROM l""",
                         [at, at, at, at, since, at]).fetchone()
    return share(k / n, n) if n else None


def _smoking_first_year(con: duckdb.DuckDBPyConnection, start: dt.date, end: dt.date) -> float | None:
    n, k = con.execute(f"""
        WITH j AS (SELECT p.patid, p.regstartdate AS reg FROM patient p JOIN patient_identity i USING (patid)
                   WHERE p.patienttypeid = 3 AND p.regstartdate > ?::DATE AND p.regstartdate <= ?::DATE - INTERVAL 1 YEAR
                     AND (p.regenddate IS NULL OR p.regenddate > p.regstartdate + INTERVAL 1 YEAR)
                     AND (p.cprd_ddate IS NULL OR p.cprd_ddate > p.regstartdate + INTERVAL 1 YEAR)
                     AND i.date_of_birth <= p.regstartdate - INTERVAL 18 YEAR)
        SELECT count(*), count(*) FILTER (WHERE EXISTS (
            SELECT 1 FROM observation o JOIN medical_dictionary m USING (medcodeid) WHERE o.patid = j.patid
              AND m.snomedctconceptid IN ({SMOKING}) AND o.obsdate BETWEEN j.reg AND j.reg + INTERVAL 365 DAY)) FROM j""",
                         [start, end]).fetchone()
    return share(k / n, n) if n else None


def _first_year_70(con: duckdb.DuckDBPyConnection, start: dt.date, end: dt.date) -> dict[int, float] | None:
    out = {}
    for year in range(max(2013, start.year), 2023):
        s, e = dt.date(year, 9, 1), dt.date(year + 1, 8, 31)
        got = _cohort_70(con, s, e) if s >= start and e <= end else None
        if got is not None:
            out[year] = got
    return out or None


def _cohort_70(con: duckdb.DuckDBPyConnection, s: dt.date, e: dt.date) -> float | None:
    n, k = con.execute("""
        WITH c AS (
          SELECT p.patid FROM patient p JOIN patient_identity i USING (patid)
          WHERE p.patienttypeid = 3 AND p.regstartdate <= ?::DATE AND (p.regenddate IS NULL OR p.regenddate > ?::DATE)
            AND (p.cprd_ddate IS NULL OR p.cprd_ddate > ?::DATE)
            AND i.date_of_birth > ?::DATE - INTERVAL 71 YEAR AND i.date_of_birth <= ?::DATE - INTERVAL 70 YEAR)
        SELECT count(*), count(*) FILTER (WHERE EXISTS (
            SELECT 1 FROM observation o JOIN medical_dictionary m USING (medcodeid)
            WHERE o.patid = c.patid AND m.cluster = 'IMM_SHINGLES' AND o.obsdate BETWEEN ?::DATE AND ?::DATE)) FROM c""",
                         [s, e, e, s, s, s, e]).fetchone()
    return share(k / n, n) if n else None


def measure(con: duckdb.DuckDBPyConnection, start: dt.date, end: dt.date) -> dict[str, Any]:
    """The figures above, keyed like calibration.toml ids (a figure with no one to measure is left out)."""
    five = end - dt.timedelta(days=round(5 * 365.25))
    out: dict[str, Any] = {
        "ppv_coverage_65_plus": _share(con, end, "age >= 65", "m.cluster = 'IMM_PNEUMO'"),
        "shingles_coverage_71_79": _share(con, end, "age BETWEEN 71 AND 79", "m.cluster = 'IMM_SHINGLES'"),
        "shingles_first_year_70": _first_year_70(con, start, end),
        "cervical_coverage_25_49": _share(con, end, "gender = 2 AND age BETWEEN 25 AND 49",
                                          f"m.snomedctconceptid IN ({SCREENED}) AND o.obsdate > DATE '{end - dt.timedelta(days=round(3.5 * 365.25))}'"),
        "cervical_coverage_50_64": _share(con, end, "gender = 2 AND age BETWEEN 50 AND 64",
                                          f"m.snomedctconceptid IN ({SCREENED}) AND o.obsdate > DATE '{end - dt.timedelta(days=round(5.5 * 365.25))}'"),
    }
    for key, ids in (("bmi", BMI), ("smoking", SMOKING), ("alcohol", ALCOHOL)):
        out[f"recorded_5y_{key}"] = _share(con, end, "age >= 18", f"m.snomedctconceptid IN ({ids}) AND o.obsdate > DATE '{five}'")
    # published completeness figures of their own dates, where the record (burn-in history included) spans them
    history_from = dt.date(start.year - 10, start.month, start.day)
    if history_from <= dt.date(2013, 1, 1) and end >= dt.date(2018, 1, 1):
        at = dt.date(2018, 1, 1)
        out["alcohol_recorded_2018"] = _on_list_share(con, at, dt.date(2013, 1, 1), ALCOHOL)
        out["audit_recorded_2018"] = _on_list_share(con, at, dt.date(2013, 1, 1), AUDIT)
    if history_from <= dt.date(2005, 1, 1) and end >= dt.date(2011, 12, 31):
        out["bmi_recorded_2005_2011"] = _on_list_share(con, dt.date(2011, 12, 31), dt.date(2005, 1, 1), BMI)
    out["smoking_first_year"] = _smoking_first_year(con, start, end)
    return {k: v for k, v in out.items() if v is not None}
