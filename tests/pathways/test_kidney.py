"""Kidney: eGFR decline month by month, CKD onset when it crosses 60, stages 4 and 5 coded once."""

import numpy as np
import pytest

from synthgp.core import codes

from tests.engine.build import day, emitted, get, make_sim, month_at, person, put

ON = day(2019, 11, 20)
NEVER = np.iinfo(np.int64).max // 4


def stages(sim, pos=None):
    o = emitted(sim, "obs", pos=pos)
    names = {codes.medcode("ckd_stage4"): 4, codes.medcode("ckd_stage5"): 5}
    keep = np.isin(o["medcode"], list(names))
    return [(int(p), names[c], int(d)) for p, c, d in zip(o["pat"][keep], o["medcode"][keep], o["day"][keep])]


def test_stage_4_is_coded_once_then_stage_5_when_a_result_first_shows_it():
    sim = make_sim()
    k = sim.kidney
    pos = np.array([3])
    k.code_stage(pos, np.array([ON]), np.array([25.0]))
    k.code_stage(pos, np.array([ON + 90]), np.array([27.0]))  # a second low result: nothing new
    k.code_stage(pos, np.array([ON + 180]), np.array([35.0]))  # better again: nothing un-coded
    assert stages(sim) == [(3, 4, ON)] and get(sim, "ckd_stage_coded")[3] == 4
    k.code_stage(pos, np.array([ON + 270]), np.array([14.0]))
    k.code_stage(pos, np.array([ON + 360]), np.array([10.0]))
    assert stages(sim) == [(3, 4, ON), (3, 5, ON + 270)] and get(sim, "ckd_stage_coded")[3] == 5
    obs = emitted(sim, "obs", code="ckd_stage4")
    assert (obs["problem"] == 1).all() and (obs["obstype"] == sim.record.obstype("Diagnosis")).all()


def test_a_first_result_below_15_codes_both_stages():
    sim = make_sim()
    sim.kidney.code_stage(np.array([1, 2]), np.array([ON, ON]), np.array([12.0, 45.0]))
    assert stages(sim) == [(1, 4, ON), (1, 5, ON)]
    assert get(sim, "ckd_stage_coded")[[1, 2]].tolist() == [5, 0]


def test_the_hook_codes_stages_from_blood_samples():
    sim = make_sim()
    person(sim, [4, 5], age=70, on=ON)
    put(sim, [4, 5], egfr=[20.0, 70.0])
    sim.labs.sample(np.array([4, 5]), ON, False)
    sim.labs.sample(np.array([4]), ON + 30, False)
    assert stages(sim) == [(4, 4, ON)]


def kidney_sim():
    sim = make_sim()
    person(sim, np.arange(6), age=70, on=ON)
    return sim


def test_a_decline_that_crosses_60_sets_onset_and_known_ckd():
    sim = kidney_sim()
    pos = np.array([0, 1, 2])
    put(sim, pos, egfr=60.05, ckd_onset=True, ckd_rate=1.2)
    put(sim, 1, known_ckd=ON - 10)  # already known (an earlier diagnosis stands)
    put(sim, 2, onset_ckd=ON - 400, known_ckd=ON - 300)  # CKD already started: not again
    m = month_at(sim, ON, act=pos)
    sim.kidney.decline(sim, m)
    assert (get(sim, "egfr")[pos] < 60).all()
    assert get(sim, "onset_ckd")[pos].tolist() == [ON, ON, ON - 400]
    known = get(sim, "known_ckd")[pos]
    assert ON <= known[0] < NEVER and known[1] == ON - 10 and known[2] == ON - 300


def test_no_onset_above_60():
    sim = kidney_sim()
    put(sim, [0], egfr=75.0, ckd_onset=True, ckd_rate=1.2)
    sim.kidney.decline(sim, month_at(sim, ON, act=[0]))
    assert get(sim, "onset_ckd")[0] == NEVER == get(sim, "known_ckd")[0]


def test_decline_by_kidney_disease_bp_and_diabetes():
    sim = kidney_sim()
    kc = sim.kidney.k
    pos = np.arange(6)
    # healthy, at the floor, diseased, diseased with high BP, diseased with diabetes, onset but above 75
    put(sim, pos, egfr=[90.0, kc["healthy_floor"], 70.0, 70.0, 70.0, 80.0],
        ckd_onset=[False, False, True, True, True, True], ckd_rate=1.5)
    put(sim, 4, onset_type2=ON - 100)
    m = month_at(sim, ON, act=pos)
    m.treated_sbp = np.array([120.0, 120.0, 120.0, 170.0, 120.0, 170.0])
    before = get(sim, "egfr")[pos].copy()
    sim.kidney.decline(sim, m)
    fall = (before - get(sim, "egfr")[pos]) * 12
    age = kc["age_decline"]
    assert fall == pytest.approx([age, 0.0, 1.5, 1.5 + kc["bp_decline_per_10"] * 4, 1.5 + kc["diabetes_decline"], age])


def test_egfr_never_falls_below_4():
    sim = kidney_sim()
    put(sim, [0], egfr=4.02, ckd_onset=True, ckd_rate=5.0)
    sim.kidney.decline(sim, month_at(sim, ON, act=[0]))
    assert get(sim, "egfr")[0] == 4.0


def test_initial_egfr_crosses_60_at_the_onset_age():
    sim = make_sim()
    onset = get(sim, "rf_onset_ckd")
    has = get(sim, "ckd_onset")
    assert (has == (onset < 900)).all()
    egfr, age = get(sim, "egfr"), get(sim, "age_entry")
    assert (egfr[~has] >= sim.kidney.k["healthy_floor"]).all()
    before = has & (onset > age)  # kidney disease still to come: above 60 at entry
    assert before.any() and (egfr[before] >= 60).all() and (egfr[has & (onset < age)] < 60).all()
