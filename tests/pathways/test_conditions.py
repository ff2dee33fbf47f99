"""Conditions: onsets from the risk factors, what the practice knows and codes, and regular medicines."""

import numpy as np

from synthgp.engine.sim import YEAR
from synthgp.pathways.conditions import DIAGNOSED, HISTORY, NEVER

from tests.engine.build import day, emitted, get, make_sim, month_at, person, put

ON = day(2016, 5, 2)


def test_onsets_come_from_the_risk_factor_ages_and_are_known_no_earlier():
    sim = make_sim()
    dob, first = get(sim, "dob"), get(sim, "first_allowed")
    for c in DIAGNOSED:
        age = get(sim, f"rf_onset_{c}")
        onset, known = get(sim, f"onset_{c}"), get(sim, f"known_{c}")
        has = age < 900
        assert (~has).any() and (onset[~has] >= NEVER).all() and (np.abs(onset[has] - (dob[has] + age[has] * YEAR)) <= 0.5).all()
        # known no earlier than birth; a diagnosis made before entry keeps its date (before registration if it
        # came with the records), a later one is made no earlier than registration
        assert (known >= onset).all() and (known >= dob).all() and ((known >= first) | (known < sim.ent)).all()
    # some conditions begun before entry are known from the start, dated at their onset, some before registration
    on, known = get(sim, "onset_type2"), get(sim, "known_type2")
    before = on <= sim.ent
    assert (known[before] == on[before]).any() and (known[before] < first[before]).any()


def test_a_condition_that_never_starts_has_onset_never():
    sim = make_sim()
    for c in DIAGNOSED:
        never = get(sim, f"rf_onset_{c}") >= 900
        assert (get(sim, f"onset_{c}")[never] == NEVER).all(), c


def test_history_codes_diagnoses_made_before_entry_and_the_other_qrisk3_conditions():
    sim = make_sim()
    pos = np.array([0, 1, 2])
    person(sim, pos, age=60, on=ON)
    put(sim, pos, ent=ON)
    put(sim, 0, onset_type2=ON - 900, known_type2=ON - 800)  # known before entry
    put(sim, 1, onset_type2=ON - 900, known_type2=ON + 50)  # diagnosed later: coded when the month comes
    for flag in HISTORY:
        put(sim, pos, **{f"rf_{flag}": False})
    put(sim, 2, rf_ra=True, rf_fh_cvd=True, history_day=ON - 40)
    sim.conditions.history(sim)
    t2 = emitted(sim, "obs", code="type2_diabetes", pos=pos)
    assert t2["pat"].tolist() == [0] and t2["day"].tolist() == [ON - 800] and t2["problem"][0] == 1
    ra, fh = emitted(sim, "obs", code="rheumatoid_arthritis", pos=pos), emitted(sim, "obs", code="family_history_chd", pos=pos)
    assert ra["pat"].tolist() == [2] == fh["pat"].tolist() and ra["day"][0] == ON - 40 == fh["day"][0]


def test_diagnoses_are_coded_in_the_month_the_practice_makes_them():
    sim = make_sim()
    pos = np.array([0, 1, 2, 3])
    person(sim, pos, age=60, on=ON)
    m = month_at(sim, ON, act=pos)
    put(sim, 0, known_af=m.day0 + 3)
    put(sim, 1, known_ckd=m.day1)  # next month
    put(sim, 2, known_type2=m.day0 - 1)  # last month
    put(sim, 3, known_type2=m.day0 + 5, ent=m.day0 + 10)  # known before entry: history's, not this step's
    sim.conditions.diagnose(sim, m)
    o = emitted(sim, "obs")
    assert o["pat"].tolist() == [0] and o["day"].tolist() == [m.day0 + 3]
    assert (o["medcode"] == sim.record.code("atrial_fibrillation")).all()


def test_regular_medicines_follow_the_risk_factors():
    sim = make_sim()
    pos = sim.everyone
    a, b = sim.adults[:2]  # a child throughout has no adult history to bring
    child = np.setdiff1d(pos, sim.adults)[0]
    put(sim, pos, rf_atypical_antipsychotic=False, rf_corticosteroids=False)
    put(sim, a, rf_atypical_antipsychotic=True)
    put(sim, child, rf_atypical_antipsychotic=True)
    put(sim, b, rf_corticosteroids=True, ent=sim.start + 2000)
    sim.conditions.medicines(sim)
    reg = get(sim, "regular_drug")
    meds = sim.rx.meds.index
    assert reg[a, :2].tolist() == [meds["olanzapine"], -1] and reg[b, :2].tolist() == [-1, meds["prednisolone"]]
    assert (reg[np.setdiff1d(pos, [a, b])] == -1).all() and (reg[[a, b], 2:] == -1).all()
    iss = emitted(sim, "issue")
    assert set(iss["pat"]) <= {a, b} and (iss["day"][iss["pat"] == b] < sim.start + 2000).all()
    assert get(sim, "regular_next")[b] == sim.start + 2000
