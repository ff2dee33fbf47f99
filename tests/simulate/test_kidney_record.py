"""Kidney disease in a generated practice (20,000 patients, seed 5), read from its DuckDB file: every eGFR is the
era's equation of its creatinine, creatinine stays compatible with life, one current CKD stage per person,
metformin stopped below eGFR 30 and spironolactone after K+ > 6."""

import numpy as np

from synthgp.clinical import egfr as eq
from synthgp.core import codes, reference

STAGE_KEYS = ("ckd_stage3", "ckd_stage4", "ckd_stage5", "ckd_stage5_dialysis")


def _prods(name: str) -> str:
    return ", ".join(str(lv["prodcodeid"]) for lv in reference.toml("medicines.toml")[name]["levels"])


def test_every_egfr_is_the_eras_equation_of_its_creatinine(con):
    """One sample a day: the eGFR and creatinine of a patient's day (days with one eGFR), to the lab's rounding."""
    e, c = codes.medcode("egfr"), codes.medcode("creatinine")
    df = con.execute(f"""
        WITH one AS (SELECT patid, obsdate FROM observation WHERE medcodeid = {e} GROUP BY ALL HAVING count(*) = 1)
        SELECT g.value AS egfr, r.value AS creat, p.gender = 2 AS female, t.ethnicity_broad = 'Black' AS black,
               date_diff('day', t.date_of_birth, g.obsdate) / 365.25 AS age, date_diff('day', DATE '1970-01-01', g.obsdate) AS day
        FROM observation g JOIN one USING (patid, obsdate)
        JOIN observation r ON r.patid = g.patid AND r.obsdate = g.obsdate AND r.medcodeid = {c}
        JOIN patient p ON p.patid = g.patid JOIN person_truth t ON t.patid = g.patid
        WHERE g.medcodeid = {e}""").df()
    assert len(df) > 10_000
    want = np.round(eq.reported(df.creat.values, df.age.values, df.female.values, df.black.values, df.day.values))
    assert np.array_equal(want, df.egfr.values)
    eras = eq.era_index(df.day.values)
    assert set(np.unique(eras)) == {0, 1, 2}  # every era's equation is in the record


def test_creatinine_stays_within_what_life_allows(con):
    worst = con.execute(f"SELECT max(value) FROM observation WHERE medcodeid = {codes.medcode('creatinine')}").fetchone()[0]
    assert worst < 1500


def test_at_most_one_current_ckd_stage_per_person(con):
    ids = ", ".join(str(codes.medcode(k)) for k in STAGE_KEYS)
    most, people, ended = con.execute(f"""
        SELECT max(n), count(*), (SELECT count(*) FROM problem WHERE probenddate IS NOT NULL) FROM (
          SELECT o.patid, count(*) AS n FROM problem pr JOIN observation o USING (obsid)
          WHERE o.medcodeid IN ({ids}) AND pr.probenddate IS NULL GROUP BY 1)""").fetchone()
    assert people > 100 and most == 1 and ended > 0


def test_no_metformin_after_an_egfr_below_30_without_a_later_one_of_30_or_more(con):
    e = codes.medcode("egfr")
    low, bad = con.execute(f"""
        WITH low AS (SELECT patid, min(obsdate) AS d FROM observation WHERE medcodeid = {e} AND value < 30 GROUP BY 1)
        SELECT (SELECT count(*) FROM low JOIN drug_issue i USING (patid) WHERE i.prodcodeid IN ({_prods('metformin')})
                  AND i.issuedate <= low.d),
               count(DISTINCT i.patid) FROM drug_issue i JOIN low USING (patid)
        WHERE i.prodcodeid IN ({_prods('metformin')}) AND i.issuedate > low.d
          AND NOT EXISTS (SELECT 1 FROM observation o WHERE o.patid = i.patid AND o.medcodeid = {e} AND o.value >= 30
                          AND o.obsdate > low.d AND o.obsdate < i.issuedate)""").fetchone()
    assert low > 0 and bad == 0  # some took metformin before a low eGFR; none after it


def test_no_spironolactone_after_potassium_above_6_or_egfr_below_30(con):
    """Stopped on the result (an issue already printed may follow within a few days); started again only after a
    later sample shows eGFR >= 30 and K+ <= 6 (step 4 of the hypertension pathway may choose it again)."""
    k, e = codes.medcode("potassium"), codes.medcode("egfr")
    bad = con.execute(f"""
        WITH res AS (SELECT g.patid, g.obsdate, g.value AS egfr, kk.value AS k FROM observation g
                     JOIN observation kk ON kk.patid = g.patid AND kk.obsdate = g.obsdate AND kk.medcodeid = {k}
                     WHERE g.medcodeid = {e}),
             hk AS (SELECT patid, min(obsdate) AS d FROM res WHERE k > 6 OR egfr < 30 GROUP BY 1)
        SELECT count(DISTINCT i.patid) FROM drug_issue i JOIN hk USING (patid)
        WHERE i.prodcodeid IN ({_prods('spironolactone')}) AND i.issuedate > hk.d + 3
          AND NOT EXISTS (SELECT 1 FROM res WHERE res.patid = i.patid AND res.obsdate > hk.d AND res.obsdate <= i.issuedate
                          AND res.egfr >= 30 AND res.k <= 6)""").fetchone()[0]
    assert bad == 0


def test_renal_referrals_and_dialysis_are_coded(con):
    ref, dial = (con.execute(f"SELECT count(DISTINCT patid) FROM observation WHERE medcodeid = {codes.medcode(k)}").fetchone()[0]
                 for k in ("renal_referral", "ckd_stage5_dialysis"))
    assert ref > 10 and dial >= 1
    no_letter = con.execute(f"""SELECT count(*) FROM observation o LEFT JOIN referral r USING (obsid)
                                WHERE o.medcodeid = {codes.medcode('renal_referral')} AND r.obsid IS NULL""").fetchone()[0]
    assert no_letter == 0
