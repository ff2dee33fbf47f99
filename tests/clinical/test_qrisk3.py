"""QRISK3 against scores from ClinRisk's original C implementation.

Reference values: the `QRISK_C_algorithm_score` column of the QRISK3 R package's test data
(Li, F1000Research 2019; CRAN QRISK3), cases 1, 2, 4, 15, 25, 37, 38: 64-year-old of Indian
ethnicity, cholesterol/HDL ratio 4, systolic BP 180, SD of systolic 20, non-smoker, Townsend 0,
BMI from weight / height^2. QRISK3 reports one decimal place.
"""

import numpy as np
import pytest

from synthgp.clinical import qrisk3

CASES = [
    # (male, weight kg, height cm, flags, expected %)
    (False, 80, 178, {}, 17.2),
    (False, 80, 178, {"af": 1}, 36.0),
    (False, 80, 178, {"corticosteroids": 1}, 24.1),
    (False, 80, 170, {}, 17.3),
    (True, 80, 178, {}, 27.1),
    (True, 80, 178, {"type2": 1}, 41.5),
    (True, 75, 178, {}, 27.2),
]


def _inputs(cases):
    n = len(cases)
    flags = {k: np.array([c[3].get(k, 0) for c in cases]) for k in qrisk3.BINARY}
    return qrisk3.Inputs(
        male=np.array([c[0] for c in cases]), age=np.full(n, 64.0), ethnicity=np.full(n, 2),
        smoking=np.zeros(n, dtype=int), bmi=np.array([c[1] / (c[2] / 100) ** 2 for c in cases]),
        chol_ratio=np.full(n, 4.0), sbp=np.full(n, 180.0), sbp_sd=np.full(n, 20.0), townsend=np.zeros(n), flags=flags)


def test_matches_the_original_c_algorithm():
    got = np.round(qrisk3.score(_inputs(CASES)), 1)
    assert list(got) == [c[4] for c in CASES]


@pytest.mark.parametrize("factor", ["af", "type2", "renal", "fh_cvd", "treated_hypertension"])
def test_risk_factors_raise_risk_in_both_sexes(factor):
    base = [(m, 80, 178, {}, 0) for m in (False, True)]
    more = [(m, 80, 178, {factor: 1}, 0) for m in (False, True)]
    assert (qrisk3.score(_inputs(more)) > qrisk3.score(_inputs(base))).all()


def test_risk_rises_with_age_and_blood_pressure():
    inp = _inputs([(True, 80, 178, {}, 0)] * 3)
    inp.age = np.array([45.0, 55.0, 65.0])
    s = qrisk3.score(inp)
    assert s[0] < s[1] < s[2]
    inp.age = np.full(3, 55.0)
    inp.sbp = np.array([120.0, 140.0, 160.0])
    s = qrisk3.score(inp)
    assert s[0] < s[1] < s[2]


def test_notice_is_carried():
    assert "ClinRisk" in qrisk3.NOTICE and "LGPL" in qrisk3.NOTICE
