"""Primary-prevention statins in a generated practice (20,000 patients, seed 5), read from its DuckDB file: every
first statin issue to someone with no cardiovascular or diabetes code follows a recorded risk score at or above the threshold of
the score's day (20% before NICE CG181, 10% after), and is 20 mg; lipids are checked after it. Statins held when the
record starts (data/statins.toml [history]) are left out: they were started before it."""

import numpy as np

from synthgp.core import codes, reference
from synthgp.pathways.statins import threshold

from tests.simulate.test_registers_record import _record_start

CVD = "'CHD', 'MI', 'STROKE', 'TIA', 'PAD', 'DM'"  # and type 2 diabetes, whose statin is the register's


def _levels() -> list[int]:
    return [lv["prodcodeid"] for lv in reference.toml("medicines.toml")["atorvastatin"]["levels"]]


def test_primary_prevention_starts_follow_a_score_over_the_eras_threshold(con, small):
    scores = ", ".join(str(codes.medcode(k)) for k in ("qrisk2", "qrisk3", "framingham_risk"))
    rows = con.execute(f"""
        WITH first AS (SELECT i.patid, min(i.issuedate) AS d, arg_min(i.prodcodeid, i.issuedate) AS prod FROM drug_issue i
                       WHERE i.prodcodeid IN ({', '.join(map(str, _levels()))}) GROUP BY 1),
             cv AS (SELECT o.patid, min(o.obsdate) AS d FROM observation o JOIN medical_dictionary m USING (medcodeid)
                    WHERE m.cluster IN ({CVD}) GROUP BY 1),
             reg AS (SELECT patid, regstartdate, greatest(regstartdate, date_of_birth + INTERVAL 18 YEAR,
                                                          {_record_start(small)}) AS entry
                     FROM patient JOIN patient_identity USING (patid))
        SELECT f.patid, f.prod, date_diff('day', DATE '1970-01-01', s.obsdate) AS sday, s.value
        FROM first f LEFT JOIN cv USING (patid) JOIN reg USING (patid)
        LEFT JOIN observation s ON s.patid = f.patid AND s.medcodeid IN ({scores}) AND s.obsdate <= f.d AND s.obsdate >= f.d - 60
        WHERE (cv.d IS NULL OR cv.d > f.d) AND f.d > reg.regstartdate + 400 AND f.d > reg.entry + INTERVAL 31 DAY
        ORDER BY f.patid""").fetchall()
    patid, prod, sday, value = (np.array(x, dtype=float) for x in zip(*rows))
    assert len(np.unique(patid)) > 50
    assert not np.isnan(value).any()  # every one follows a score
    # one score at or over its day's threshold in the 60 days before: the one the offer followed (a later score, say at
    # a hypertension diagnosis between the offer and the first issue, may be lower: the offer stands)
    over = value >= threshold(np.nan_to_num(sday).astype(np.int64))
    assert all(over[patid == p].any() for p in np.unique(patid))
    assert (prod == _levels()[0]).all()  # 20 mg
    assert (value < 20).any() and (value >= 20).any()
