"""Blood pressure physiology (clinical/bp.py): readings, out-of-clinic readings, treatment, on arrays of
hand-made people."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from synthgp.clinical import bp
from synthgp.core.rng import Draws


def test_readings_show_end_digit_preference_and_stay_physiological():
    ids = np.arange(200_000)
    true_s = np.random.default_rng(1).normal(140, 25, len(ids))
    true_d = true_s * 0.6
    s, d, _ = bp.clinic_reading(lambda purpose: Draws(3, purpose), ids, 0, true_s, true_d, np.zeros(len(ids)), np.zeros(len(ids)))
    zero = (s % 10 == 0).mean()
    assert 0.3 < zero < 0.45  # 30% manual rounding + 10% by chance of the rest: far above 10%
    assert s.min() >= 75 and s.max() <= 260 and (s - d >= 15).all()


@settings(max_examples=200, deadline=None)
@given(usual=st.floats(60, 320), units=st.floats(0, 8), response=st.floats(0.1, 5), adherence=st.floats(0, 1))
def test_treatment_lowering_is_bounded_and_never_impossible(usual, units, response, adherence):
    u = np.array([usual])
    ls, ld = bp.drug_lowering(u, np.array([units]), np.array([response]), np.array([adherence]))
    assert ls[0] >= 0 and ld[0] >= 0
    assert ls[0] <= 0.8 * max(usual - 100, 0) + 1e-9
    s, d = bp.bound(u - ls, u * 0.6 - ld)
    assert 75 <= s[0] <= 260 and 40 <= d[0] <= 150 and s[0] - d[0] >= 15 - 1e-9


def test_out_of_clinic_readings_run_below_clinic():
    ids = np.arange(100_000)
    true_s = np.full(len(ids), 150.0)
    oc_s, _ = bp.out_of_clinic(lambda purpose: Draws(1, purpose), ids, 0, true_s, true_s * 0.6, np.zeros(len(ids), dtype=bool))
    assert abs(oc_s.mean() - 145) < 0.2  # 5 mmHg below clinic-equivalent (NG136 1.4.18)
