"""Record invariants, checked on a whole output through DuckDB. Each check counts violations.

Reads only the output's tables (never the simulation engine), so it serves the tests, the
evaluation report and anyone checking an output they were given.
"""

from __future__ import annotations

import duckdb

from synthgp.core import codes

# the parent (systolic) and child (diastolic) of each BP pair: clinic, ABPM daytime average, HBPM average
SYSTOLIC = codes.sql("bp_systolic", "abpm_systolic", "hbpm_systolic")
DIASTOLIC = codes.sql("bp_diastolic", "abpm_diastolic", "hbpm_diastolic")
POTASSIUM = codes.snomed("potassium")

_SPAN = """WITH span AS (
    SELECT p.patid, greatest(t.date_of_birth, p.regstartdate) AS first_day, t.date_of_birth AS birth,
           least(coalesce(p.regenddate, pr.lcd), coalesce(p.cprd_ddate, pr.lcd), pr.lcd) AS last_day
    FROM patient p JOIN person_truth t USING (patid) JOIN practice pr USING (pracid))"""

_BP = f"""bp AS (SELECT o.patid, o.obsid, o.value AS sbp, d.value AS dbp, d.obsid AS dia
            FROM observation o JOIN medical_dictionary m USING (medcodeid)
            LEFT JOIN observation d ON d.parentobsid = o.obsid AND d.patid = o.patid
            WHERE m.snomedctconceptid IN ({SYSTOLIC}))"""

CHECKS: dict[str, str] = {
    # history transferred from a previous practice keeps its date before registration (never before birth),
    # and is entered on or after registration
    "observation_outside_registration": f"""{_SPAN} SELECT count(*) FROM observation o JOIN span USING (patid)
        WHERE (o.obsdate < span.first_day AND (o.obsdate < span.birth OR o.enterdate < span.first_day))
           OR o.obsdate > span.last_day""",
    "consultation_outside_registration": f"""{_SPAN} SELECT count(*) FROM consultation c JOIN span USING (patid)
        WHERE c.consdate < span.first_day OR c.consdate > span.last_day""",
    "prescription_outside_registration": f"""{_SPAN} SELECT count(*) FROM drug_issue i JOIN span USING (patid)
        WHERE i.issuedate < span.first_day OR i.issuedate > span.last_day""",
    "entered_before_event": """SELECT (SELECT count(*) FROM observation WHERE enterdate < obsdate)
        + (SELECT count(*) FROM drug_issue WHERE enterdate < issuedate)""",
    "systolic_without_diastolic": f"WITH {_BP[0:]} SELECT count(*) FROM bp WHERE dia IS NULL",
    "diastolic_without_systolic": f"""SELECT count(*) FROM observation d JOIN medical_dictionary m USING (medcodeid)
        LEFT JOIN observation s ON s.obsid = d.parentobsid AND s.patid = d.patid
        WHERE m.snomedctconceptid IN ({DIASTOLIC}) AND s.obsid IS NULL""",
    "systolic_not_above_diastolic": f"WITH {_BP} SELECT count(*) FROM bp WHERE dia IS NOT NULL AND sbp <= dbp",
    "bp_outside_physiological_range": """SELECT count(*) FROM observation o JOIN medical_dictionary m USING (medcodeid)
        WHERE m.cluster = 'BP' AND (o.value IS NULL OR o.value < 40 OR o.value > 260)""",
    "acei_and_arb_together": """SELECT count(*) FROM drug_issue a JOIN product_dictionary pa ON pa.prodcodeid = a.prodcodeid
        JOIN drug_issue b ON b.patid = a.patid AND b.issuedate = a.issuedate
        JOIN product_dictionary pb ON pb.prodcodeid = b.prodcodeid
        WHERE pa.drugsubstancename IN ('Ramipril', 'Lisinopril', 'Perindopril')
          AND pb.drugsubstancename IN ('Losartan', 'Candesartan')""",
    "spironolactone_without_prior_potassium": f"""WITH first_spiro AS (
            SELECT i.patid, min(i.issuedate) AS d FROM drug_issue i JOIN product_dictionary p USING (prodcodeid)
            WHERE p.drugsubstancename = 'Spironolactone' GROUP BY 1),
          k AS (SELECT o.patid, o.obsdate, o.value FROM observation o JOIN medical_dictionary m USING (medcodeid)
                WHERE m.snomedctconceptid = {POTASSIUM})
        SELECT count(*) FROM first_spiro f WHERE NOT EXISTS (
            SELECT 1 FROM k WHERE k.patid = f.patid AND k.obsdate <= f.d AND k.value <= 4.5
              AND k.obsdate = (SELECT max(k2.obsdate) FROM k k2 WHERE k2.patid = f.patid AND k2.obsdate <= f.d))""",
    "code_not_in_dictionary": """SELECT (SELECT count(*) FROM observation WHERE medcodeid NOT IN (SELECT medcodeid FROM medical_dictionary))
        + (SELECT count(*) FROM drug_issue WHERE prodcodeid NOT IN (SELECT prodcodeid FROM product_dictionary))""",
    "dangling_reference": """SELECT (SELECT count(*) FROM observation WHERE consid IS NOT NULL AND consid NOT IN (SELECT consid FROM consultation))
        + (SELECT count(*) FROM problem WHERE obsid NOT IN (SELECT obsid FROM observation))
        + (SELECT count(*) FROM referral WHERE obsid NOT IN (SELECT obsid FROM observation))
        + (SELECT count(*) FROM drug_issue WHERE probobsid IS NOT NULL AND probobsid NOT IN (SELECT obsid FROM problem))
        + (SELECT count(*) FROM observation o WHERE patid NOT IN (SELECT patid FROM patient))
        + (SELECT count(*) FROM patient WHERE usualgpstaffid NOT IN (SELECT staffid FROM staff))""",
    "duplicate_ids": """SELECT (SELECT count(*) - count(DISTINCT obsid) FROM observation)
        + (SELECT count(*) - count(DISTINCT consid) FROM consultation)
        + (SELECT count(*) - count(DISTINCT issueid) FROM drug_issue)
        + (SELECT count(*) - count(DISTINCT patid) FROM patient)""",
}


def check(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Violations of each invariant (0 everywhere for a sound record)."""
    return {name: int(con.execute(sql).fetchone()[0]) for name, sql in CHECKS.items()}
