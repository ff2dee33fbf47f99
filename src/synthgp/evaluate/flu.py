"""Seasonal flu vaccination coverage of people aged 65 or over, computed from the record alone (never
from flu_truth). The dashboard of `synthgp serve` and the calibration figure use this one definition.

For the season starting in year Y (following UKHSA's survey of GP patients as far as a record can):
  cohort     - regular patients aged 65 or over on 31 March Y+1 who were registered on 1 September Y and
               were still registered and alive at the end of February Y+1 (UKHSA counts the patients
               registered when the data are extracted, at the season's end; someone who joined during
               the season was not the practice's to invite on 1 September);
  vaccinated - those of them with a flu vaccination code (codes.csv cluster FLU: given at the practice,
               or given by a pharmacist and notified) dated from 1 September Y to the end of February Y+1.
Coverage is vaccinated / cohort. A vaccination the practice was never told of is not in the record, so
it is not counted. Clinical risk under 65 is not a flag in the record, so only 65+ is measured.
A season is complete once its February has ended by the practice's last collection date (lcd).
"""

from __future__ import annotations

VACCINATED = "FLU"  # codes.csv cluster of a flu vaccination given (practice or pharmacy)
AGE = 65
DEFINITION = ("patients aged 65 or over on 31 March who were registered from 1 September to the end of "
              "February (on the list on 1 September, neither left nor died before March), vaccinated "
              "(a flu vaccination code, given at the practice or notified by a pharmacy) between "
              "1 September and the end of February")

# the latest season whose February has ended by the practice's last collection date
_LATEST = "(year(pr.lcd + 1) - CASE WHEN month(pr.lcd + 1) >= 3 THEN 1 ELSE 2 END)::INTEGER"


def season_label(year: int) -> str:
    """'2023/24' for the season starting in 2023."""
    return f"{year}/{(year + 1) % 100:02d}"


def coverage_sql(season: int | None = None) -> str:
    """Per practice: pracid, season (its starting year), season_end, complete (ended by the lcd), cohort
    and vaccinated. `season` None takes each practice's latest complete season."""
    year = _LATEST if season is None else f"{int(season)}::INTEGER"
    return f"""
WITH win AS (
  SELECT pr.pracid, pr.lcd, {year} AS season FROM practice pr),
w AS (
  SELECT pracid, season, make_date(season, 9, 1) AS s, make_date(season + 1, 3, 1) - 1 AS e,
         make_date(season + 1, 3, 31) AS age_on, make_date(season + 1, 3, 1) - 1 <= lcd AS complete FROM win),
cohort AS (
  SELECT p.patid, w.pracid, w.s, w.e
  FROM patient p JOIN patient_identity i USING (patid) JOIN w USING (pracid)
  WHERE p.patienttypeid = 3 AND p.regstartdate <= w.s
    AND (p.regenddate IS NULL OR p.regenddate > w.e) AND (p.cprd_ddate IS NULL OR p.cprd_ddate > w.e)
    AND i.date_of_birth <= w.age_on - INTERVAL {AGE} YEAR),
vac AS (
  SELECT DISTINCT c.patid FROM cohort c JOIN observation o ON o.patid = c.patid
  JOIN medical_dictionary d ON d.medcodeid = o.medcodeid
  WHERE d.cluster = '{VACCINATED}' AND o.obsdate BETWEEN c.s AND c.e)
SELECT w.pracid, w.season, w.e AS season_end, w.complete, count(c.patid) AS cohort, count(v.patid) AS vaccinated
FROM w LEFT JOIN cohort c USING (pracid) LEFT JOIN vac v ON v.patid = c.patid
GROUP BY ALL ORDER BY w.pracid"""
