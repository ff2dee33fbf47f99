"""Childhood vaccination coverage computed from the record alone, as UKHSA's COVER programme measures it,
for `synthgp calibrate`. Reads only the output's DuckDB file (never the simulation).

For financial year Y (1 April Y to 31 March Y+1) and a measure:
  cohort  - regular patients whose first, second or fifth birthday falls in the year, registered and alive
            on that birthday (COVER counts the children a practice or area is responsible for then);
  covered - those with the doses by that birthday: three DTaP-containing vaccinations (codes.csv cluster
            IMM_DTAP) on different days by the first birthday (the primary course); an MMR vaccination
            (cluster IMM_MMR) by the second; MMR on two different days by the fifth. Vaccinations given
            elsewhere and transferred with the record count, as they do in a practice's own record.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import duckdb

# measure -> (calibration id, birthday, codes.csv cluster, doses on different days)
MEASURES = {
    "primary_12m": ("imm_primary_12m", 1, "IMM_DTAP", 3),
    "mmr1_24m": ("imm_mmr1_24m", 2, "IMM_MMR", 1),
    "mmr2_5y": ("imm_mmr2_5y", 5, "IMM_MMR", 2),
}


def coverage_sql(measure: str) -> str:
    """Rows of (financial year, cohort, covered) for one measure of MEASURES, every year with a cohort."""
    if measure not in MEASURES:
        raise ValueError(f"no coverage measure {measure!r}; measures: {', '.join(MEASURES)}")
    _, years, cluster, doses = MEASURES[measure]
    return f"""
WITH kids AS (
  SELECT p.patid, i.date_of_birth + INTERVAL {years} YEAR AS bday, p.regstartdate, p.regenddate, p.cprd_ddate
  FROM patient p JOIN patient_identity i USING (patid) WHERE p.patienttypeid = 3),
cohort AS (
  SELECT patid, CAST(bday AS DATE) AS bday,
         (year(bday) - CASE WHEN month(bday) < 4 THEN 1 ELSE 0 END)::INTEGER AS fy
  FROM kids WHERE regstartdate <= bday AND (regenddate IS NULL OR regenddate > bday)
    AND (cprd_ddate IS NULL OR cprd_ddate > bday)),
doses AS (
  SELECT c.patid, count(DISTINCT o.obsdate) AS n FROM cohort c JOIN observation o ON o.patid = c.patid
  JOIN medical_dictionary m ON m.medcodeid = o.medcodeid
  WHERE m.cluster = '{cluster}' AND o.obsdate <= c.bday GROUP BY 1)
SELECT c.fy, count(*) AS cohort, count(*) FILTER (WHERE coalesce(d.n, 0) >= {doses}) AS covered
FROM cohort c LEFT JOIN doses d USING (patid) GROUP BY 1 ORDER BY 1"""


BIRTHS_YEAR = 2023  # the year of the newborn-registration figure (calibration.toml newborns_per_1000)
NEWBORN_DAYS = 90  # registered within this many days of birth: born into the practice


def newborns_per_1000(con: duckdb.DuckDBPyConnection, year: int = BIRTHS_YEAR) -> float | None:
    """Babies born in `year` and registered within NEWBORN_DAYS of birth, per 1,000 regular patients registered
    and alive on 1 July of the year (the practice's births, against a crude birth rate)."""
    mid = dt.date(year, 7, 1).isoformat()
    births, listed = con.execute(f"""
        SELECT count(*) FILTER (WHERE year(i.date_of_birth) = {int(year)}
                                  AND p.regstartdate <= i.date_of_birth + INTERVAL {NEWBORN_DAYS} DAY),
               count(*) FILTER (WHERE p.regstartdate <= DATE '{mid}' AND (p.regenddate IS NULL OR p.regenddate > DATE '{mid}')
                                  AND (p.cprd_ddate IS NULL OR p.cprd_ddate > DATE '{mid}') AND i.date_of_birth <= DATE '{mid}')
        FROM patient p JOIN patient_identity i USING (patid) WHERE p.patienttypeid = 3""").fetchone()
    return 1000 * births / listed if listed else None


def measure(con: duckdb.DuckDBPyConnection, start: dt.date, end: dt.date) -> dict[str, Any]:
    """Coverage of each measure by financial year, for the years wholly inside the study (start to end), and the
    newborn registrations of BIRTHS_YEAR if the study holds it."""
    out: dict[str, Any] = {}
    if start <= dt.date(BIRTHS_YEAR, 1, 1) and dt.date(BIRTHS_YEAR, 12, 31) <= end:
        rate = newborns_per_1000(con)
        if rate is not None:
            out["newborns_per_1000"] = rate
    for name, (fid, _, _, _) in MEASURES.items():
        got = {}
        for fy, cohort, covered in con.execute(coverage_sql(name)).fetchall():
            if dt.date(fy, 4, 1) >= start and dt.date(fy + 1, 3, 31) <= end and cohort:
                got[int(fy)] = covered / cohort
        if got:
            out[fid] = got
    return out
