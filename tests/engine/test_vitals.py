"""Vitals: the BP lived with, and what measuring it records; and QRISK3 as the practice computes it."""

import numpy as np
import pytest

from synthgp.clinical import bp
from synthgp.core import codes
from synthgp.engine.services.vitals import LEFT, RIGHT, UNCHECKED

from tests.engine.build import day, emitted, get, make_sim, month_at, person, put, truth

ON = day(2021, 4, 14)


def on_drugs(sim, pos, n_drugs: int):
    meds = sim.rx.meds.index
    for slot, name in (("A", "ramipril"), ("C", "amlodipine"), ("D", "indapamide"))[:n_drugs]:
        sim.rx.set_drug(pos, slot, meds[name], 2 if name == "ramipril" else 0, ON)


def test_treated_bp_is_no_higher_than_usual_and_falls_with_more_drugs_taken():
    sim = make_sim()
    pos = np.arange(30)
    person(sim, pos, age=65, on=ON)
    put(sim, pos, adherence=0.9)
    us, ud, _, _ = sim.vitals.usual_at(pos, ON)
    lived = []
    for k in range(4):
        if k:
            on_drugs(sim, pos, k)
        lived.append(sim.vitals.treated(pos, us, ud))
    assert np.array_equal(lived[0][0], bp.bound(us, ud)[0])  # nothing held: the usual BP
    for (s0, d0), (s1, d1) in zip(lived, lived[1:]):
        assert (s1 <= s0).all() and (d1 <= d0).all() and (s1 < s0).any()
    assert (lived[3][0] < us).all()


def test_a_regimen_stopped_or_not_taken_does_not_lower_bp():
    sim = make_sim()
    pos = np.arange(10)
    person(sim, pos, age=65, on=ON)
    on_drugs(sim, pos, 2)
    us, ud, _, _ = sim.vitals.usual_at(pos, ON)
    taken, _ = sim.vitals.treated(pos, us, ud)
    sim.rx.stop_taking(pos[:5], ON)
    put(sim, pos[5:], adherence=0.0)
    s, d = sim.vitals.treated(pos, us, ud)
    assert np.array_equal(s, bp.bound(us, ud)[0]) and np.array_equal(d, bp.bound(us, ud)[1])
    assert (taken < s).all()


def test_measure_records_a_pair_and_updates_last_bp_and_recent_readings():
    sim = make_sim()
    pos = np.array([2, 6])
    person(sim, pos, age=55, on=ON)
    put(sim, pos, recent_sbp=[[150.0, 140.0, np.nan], [np.nan, np.nan, np.nan]], last_bp=ON - 500, bp_arm=RIGHT)
    cons = sim.contacts.book(pos, ON, "gp", "test", 0, "Face to face consultation")
    s, d, us, ud = sim.vitals.measure(pos, np.array([ON, ON]), cons, 11)
    o = emitted(sim, "obs")
    assert o["medcode"].tolist() == [codes.medcode("bp_systolic"), codes.medcode("bp_diastolic")] * 2
    assert o["value"].tolist() == [s[0], d[0], s[1], d[1]] and o["pat"].tolist() == [2, 2, 6, 6]
    assert o["cons"].tolist() == [cons[0], cons[0], cons[1], cons[1]]
    assert get(sim, "last_bp")[pos].tolist() == [ON, ON]
    assert np.array_equal(get(sim, "recent_sbp")[2], [s[0], 150.0, 140.0])
    assert np.array_equal(get(sim, "recent_sbp")[6], [s[1], np.nan, np.nan], equal_nan=True)
    assert np.allclose((us, ud), sim.vitals.usual_at(pos, ON)[:2])
    # a second reading pushes the oldest out; variability is the SD of what is kept
    sim.vitals.record_clinic(pos[:1], ON + 7, np.array([130.0]), np.array([80.0]), np.array([-1]))
    assert np.array_equal(get(sim, "recent_sbp")[2], [130.0, s[0], 150.0])
    assert sim.vitals.sbp_variability(pos).tolist() == [pytest.approx(np.std([130.0, s[0], 150.0])), 0.0]


def _pairs(sim, pos):
    """The clinic (sbp, dbp) pairs recorded for each of `pos`, in the order recorded."""
    o = emitted(sim, "obs", pos)
    keep = np.isin(o["medcode"], [codes.medcode("bp_systolic"), codes.medcode("bp_diastolic")])
    pat, value = o["pat"][keep], o["value"][keep]
    return {int(p): list(zip(value[pat == p][::2], value[pat == p][1::2])) for p in pos}


def test_a_first_measurement_takes_both_arms_and_returns_the_higher():
    """NG136 1.2.3-1.2.4: both arms at the first check; more than 15 mmHg apart, both again; the higher arm's
    reading (recorded last) is the one returned for decisions, and later visits read the arm chosen."""
    sim = make_sim()
    pos = np.arange(60)
    person(sim, pos, age=60, on=ON)
    diff = np.where(pos < 20, 0.0, np.where(pos < 40, 25.0, -25.0))  # equal arms; left 25 higher; left 25 lower
    put(sim, pos, bp_arm_diff=diff, bp_arm=UNCHECKED)
    s, d, _, _ = sim.vitals.measure(pos, np.full(60, ON), np.full(60, -1), 3)
    pairs = _pairs(sim, pos)
    for i in pos:
        got = pairs[int(i)]
        assert len(got) in (2, 4) and got[-1] == (s[i], d[i])
        assert got[-1][0] == max(got[-2][0], got[-1][0])  # the final pair's higher is the one used
    # a 25 mmHg difference is more than 15 at the repeat too (arm noise SD 3): four readings, the left arm chosen
    assert all(len(pairs[i]) == 4 for i in range(20, 60))
    assert (get(sim, "bp_arm")[20:40] == LEFT).all() and (get(sim, "bp_arm")[40:60] == RIGHT).all()
    assert (get(sim, "bp_arm")[:20] == RIGHT).all()  # no difference worth a repeat: the usual (right) arm
    # a later visit: one reading, in the arm chosen (the left 25 mmHg higher, within rounding and bounds)
    n_before = len(emitted(sim, "obs", pos)["pat"])
    later, _, _, _ = sim.vitals.measure(pos, np.full(60, ON + 30), np.full(60, -1), 4)
    assert len(emitted(sim, "obs", pos)["pat"]) == n_before + 2 * len(pos)
    put(sim, pos, bp_arm=RIGHT)
    right, _, _, _ = sim.vitals.measure(pos, np.full(60, ON + 30), np.full(60, -1), 4)
    assert np.array_equal(later[:20], right[:20]) and np.array_equal(later[40:], right[40:])
    assert (later[20:40] - right[20:40] >= 20).all()


def test_before_2006_one_arm_is_measured():
    """Both arms from CG34 (June 2006, data/eras.toml); under CG18 a first reading is one arm."""
    sim = make_sim()
    pos = np.arange(10)
    on = day(2005, 3, 1)
    person(sim, pos, age=60, on=on)
    put(sim, pos, bp_arm_diff=30.0, bp_arm=UNCHECKED)
    sim.vitals.measure(pos, np.full(10, on), np.full(10, -1), 3)
    assert all(len(p) == 1 for p in _pairs(sim, pos).values())
    assert (get(sim, "bp_arm")[pos] == UNCHECKED).all()


def test_a_clinic_reading_is_the_treated_bp_plus_white_coat_within_noise():
    sim = make_sim()
    pos = np.arange(40)
    person(sim, pos, age=60, on=ON)
    put(sim, pos, bp_white_coat_sbp=20.0, bp_white_coat_dbp=10.0, bp_arm=RIGHT)
    s, d, us, ud = sim.vitals.measure(pos, np.full(40, ON), np.full(40, -1), 3)
    assert 10 < np.mean(s - us) < 30 and 3 < np.mean(d - ud) < 17
    again, _, _, _ = sim.vitals.measure(pos, np.full(40, ON), np.full(40, -1), 3)
    assert np.array_equal(s, again)  # the same visit step draws the same readings


def test_out_of_clinic_readings_are_abpm_or_hbpm():
    sim = make_sim()
    pos = np.array([1, 2, 3])
    person(sim, pos, age=60, on=ON)
    s, d = sim.vitals.out_of_clinic(pos, np.full(3, ON), 5, np.array([False, True, False]))
    o = emitted(sim, "obs")
    assert o["pat"].tolist() == [1, 1, 3, 3, 2, 2]  # abpm first, then hbpm
    assert o["medcode"].tolist() == [codes.medcode(c) for c in ("abpm_systolic", "abpm_diastolic") * 2
                                     + ("hbpm_systolic", "hbpm_diastolic")]
    assert o["value"].tolist() == [s[0], d[0], s[2], d[2], s[1], d[1]]
    assert (get(sim, "last_bp")[pos] != ON).all()  # not a clinic reading


def test_advance_fills_the_month_and_accumulates_the_yearly_truth():
    sim = make_sim()
    m = month_at(sim, ON)
    m.usual_sbp = m.treated_sbp = np.empty(0)
    sim.vitals.advance(sim, m)
    us, ud = sim.vitals.usual(m.act, m.vday, m.age, m.bmi)
    assert np.array_equal(m.usual_sbp, us) and np.array_equal(m.usual_dbp, ud)
    assert (m.treated_sbp <= m.usual_sbp).all()
    t = truth(sim, "bp_truth_year")
    assert sorted(t["pat"]) == sorted(sim.P[m.act]) and (t["year"] == 2021).all() and (t["months"] == 1).all()
    order = np.argsort(t["pat"])
    assert np.allclose(t["usual_sbp"][order], np.round(us, 1))


def test_lifestyle_records_bmi_smoking_status_and_audit_c():
    sim = make_sim()
    put(sim, [0, 1], smoking=[0, 4])
    sim.vitals.lifestyle(np.array([0, 1]), ON, np.array([31.26, 22.04]))
    o = emitted(sim, "obs")
    bmi = o["medcode"] == codes.medcode("bmi")
    # a weighing varies about the true weight: within 3 sd of 1.5% (data/prevention.toml [bmi])
    assert np.allclose(o["value"][bmi], [31.26, 22.04], rtol=0.046)
    hw = np.isin(o["medcode"], [codes.medcode("body_height"), codes.medcode("body_weight")])
    audit = o["medcode"] == codes.medcode("audit_c_score")
    units = o["medcode"] == codes.medcode("alcohol_intake")
    assert o["medcode"][~bmi & ~hw & ~audit & ~units].tolist() == [codes.medcode("never_smoked"), codes.medcode("heavy_smoker")]
    assert audit.sum() + units.sum() <= 2 and ((o["value"][audit] >= 0) & (o["value"][audit] <= 12)).all()
    # adults: the height and weight behind the BMI, which is weight / height^2 rounded to 0.1
    adult = sim.life.age_at(np.array([0, 1]), ON) >= 18
    h = o["value"][o["medcode"] == codes.medcode("body_height")]
    w = o["value"][o["medcode"] == codes.medcode("body_weight")]
    assert len(h) == len(w) == adult.sum() > 0
    assert np.all(np.abs(w / h**2 - o["value"][bmi][adult]) <= 0.05 + 1e-9)


# ---------------------------------------------------------------- risk scores

def scored(sim, pos, sbp=150.0):
    n = len(pos)
    put(sim, pos, recent_sbp=sbp)  # three equal readings: no variability
    lab = {"tc": np.full(n, 5.5), "hdl": np.full(n, 1.2)}
    return sim.risk.qrisk3(pos, ON, np.full(n, sbp), lab, np.full(n, 27.0))


def test_qrisk3_is_recorded_for_those_aged_25_to_84():
    sim = make_sim()
    pos = np.array([0, 1, 2, 3])
    for p, age in zip(pos, (24, 30, 84, 86)):
        person(sim, p, age=age, on=ON)
    score, ok = scored(sim, pos)
    assert ok.tolist() == [False, True, True, False] and len(score) == 2
    o = emitted(sim, "obs", code="qrisk3")
    assert o["pat"].tolist() == [1, 2] and o["value"].tolist() == np.round(score, 1).tolist()
    assert 0 < score[0] < score[1] < 100


def test_qrisk3_uses_what_the_practice_knows_not_the_truth():
    sim = make_sim()
    pos = np.array([0, 1, 2, 3])
    person(sim, pos, age=60, on=ON, male=True)
    put(sim, pos, qrisk_ethnicity=1, smoking=0, townsend=0.0,
        **{f"rf_{f}": False for f in ("type1", "ra", "sle", "migraine", "semi", "atypical_antipsychotic",
                                      "corticosteroids", "impotence", "fh_cvd")})
    put(sim, 1, onset_type2=ON - 500)  # diabetic, unknown to the practice
    put(sim, 2, onset_type2=ON - 500, known_type2=ON - 100)
    sim.rx.set_drug(pos[3:], "C", sim.rx.meds.index["amlodipine"], 0, ON)
    score, _ = scored(sim, pos)
    assert score[1] == score[0] < score[2] and score[3] > score[0]
