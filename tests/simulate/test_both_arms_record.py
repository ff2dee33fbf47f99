"""Both arms at the first measurement (NG136 1.2.3-1.2.4; from CG34, data/eras.toml), read from the shared
20,000-patient practice's record alone."""

from synthgp.core import codes

CLINIC = f"""
WITH cr AS (SELECT o.patid, o.obsdate, o.obsid, o.value AS sbp, d.value AS dbp FROM observation o
            JOIN observation d ON d.parentobsid = o.obsid JOIN medical_dictionary m ON m.medcodeid = o.medcodeid
            WHERE m.snomedctconceptid IN ({codes.sql("bp_systolic")})),
f AS (SELECT patid, min(obsdate) AS d FROM cr WHERE obsdate >= DATE '2006-06-28' GROUP BY 1),
day1 AS (SELECT cr.patid, f.d, count(*) AS n, min(cr.sbp) AS lo, max(cr.sbp) AS hi, max(cr.dbp) AS dhi,
                arg_max(cr.sbp, cr.obsid) AS last_sbp
         FROM cr JOIN f ON cr.patid = f.patid AND cr.obsdate = f.d GROUP BY 1, 2)"""


def test_a_first_measurement_since_cg34_holds_both_arms_the_higher_recorded_last(con):
    """A person's first clinic BP since June 2006 is two readings (four when the arms differ by more than the
    era's figure), the one used, the higher of its pair, recorded last. A few have one: their arms were
    compared before they joined this practice's record (a measurement not recorded here)."""
    rows = con.execute(f"""{CLINIC} SELECT count(*), avg((n IN (2, 4))::INT), avg((n = 2 AND last_sbp = hi)::INT) / avg((n = 2)::INT)
                           FROM day1""").fetchone()
    assert rows[0] > 5000
    assert rows[1] > 0.99, rows
    assert rows[2] == 1.0, rows


def test_the_decision_follows_the_higher_arm(con):
    """Undiagnosed people whose first pair (under 180/90, since ABPM, CG127) straddles 140 systolic are offered
    ABPM or HBPM as often as those with both arms raised (the practice arranges it for 30%, data/default_scenario.toml
    care.out_of_clinic_done), and far more often than those with both below. Were the lower arm used, the
    straddling group would read like the group below. At 20,000 patients about 300 straddle: the binomial SE of
    a 30% rate is under 3 points, so 15% is more than 5 SE below it."""
    oc = codes.sql("abpm_systolic", "hbpm_systolic")
    got = dict((g, (n, r)) for g, n, r in con.execute(f"""{CLINIC},
        oc AS (SELECT DISTINCT o.patid, o.obsdate FROM observation o JOIN medical_dictionary m ON m.medcodeid = o.medcodeid
               WHERE m.snomedctconceptid IN ({oc})),
        g AS (SELECT CASE WHEN hi < 140 THEN 'below' WHEN lo < 140 THEN 'straddle' ELSE 'raised' END AS grp,
                     EXISTS (SELECT 1 FROM oc WHERE oc.patid = day1.patid AND oc.obsdate > day1.d AND oc.obsdate <= day1.d + 35) AS followed
              FROM day1 JOIN hypertension_truth h USING (patid)
              WHERE n = 2 AND d >= DATE '2011-08-24' AND hi < 180 AND dhi < 90
                AND (h.diagnosed_date IS NULL OR h.diagnosed_date > d))
        SELECT grp, count(*), avg(followed::INT) FROM g GROUP BY 1""").fetchall())
    assert got["straddle"][0] >= 100 and got["raised"][0] >= 100, got
    assert got["straddle"][1] > 0.15 and got["raised"][1] > 0.15, got
    assert got["below"][1] < 0.01, got
