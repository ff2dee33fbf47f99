"""Primary-prevention statins in a generated practice (20,000 patients, seed 5), read from its DuckDB file: every
first statin issue to someone with no cardiovascular code follows a recorded risk score at or above the threshold of
the score's day (20% before NICE CG181, 10% after), and is 20 mg; lipids are checked after it."""

import numpy as np

from synthgp.core import codes, reference
from synthgp.pathways.statins import threshold

CVD = "'CHD', 'MI', 'STROKE', 'TIA', 'PAD'"


def _levels() -> list[int]:
    return [lv["prodcodeid"] for lv in reference.toml("medicines.toml")["atorvastatin"]["levels"]]


def test_primary_prevention_starts_follow_a_score_over_the_eras_threshold(con):
    """The highest score of the 60 days before the first issue: a start agreed on one score is not undone by a
    lower one recorded before the issue (seed 5: QRISK2 30.2 at a Health Check, 16.4 at the hypertension
    diagnosis two weeks later, new bloods between them; the statin issued four days after that)."""
    scores = ", ".join(str(codes.medcode(k)) for k in ("qrisk2", "qrisk3", "framingham_risk"))
    rows = con.execute(f"""
        WITH first AS (SELECT i.patid, min(i.issuedate) AS d, arg_min(i.prodcodeid, i.issuedate) AS prod FROM drug_issue i
                       WHERE i.prodcodeid IN ({', '.join(map(str, _levels()))}) GROUP BY 1),
             cv AS (SELECT o.patid, min(o.obsdate) AS d FROM observation o JOIN medical_dictionary m USING (medcodeid)
                    WHERE m.cluster IN ({CVD}) GROUP BY 1),
             reg AS (SELECT patid, regstartdate FROM patient)
        SELECT f.prod, date_diff('day', DATE '1970-01-01', s.obsdate) AS sday, s.value
        FROM first f LEFT JOIN cv USING (patid) JOIN reg USING (patid)
        LEFT JOIN LATERAL (SELECT o.obsdate, o.value FROM observation o WHERE o.patid = f.patid AND o.medcodeid IN ({scores})
                           AND o.obsdate <= f.d AND o.obsdate >= f.d - 60 ORDER BY o.value DESC LIMIT 1) s ON TRUE
        WHERE (cv.d IS NULL OR cv.d > f.d) AND f.d > reg.regstartdate + 400""").fetchall()
    prod, sday, value = (np.array(x, dtype=float) for x in zip(*rows))
    assert len(rows) > 50
    assert not np.isnan(value).any()  # every one follows a score
    assert (value >= threshold(sday.astype(np.int64))).all()
    assert (prod == _levels()[0]).all()  # 20 mg
    assert (value < 20).any() and (value >= 20).any()
