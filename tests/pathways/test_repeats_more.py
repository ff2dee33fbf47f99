"""The long-term repeats added for England's 2019 volume (h17f): each follows its register or codes its indication at
the consultation that starts it (every medicine of repeats.toml keyed on a consultation's indication, those added since
too), never for the wrong sex, never beside its alternative, the pen needles only with
insulin, thiamine only for higher-risk drinkers, the packs that last longer than 28 days issued at their interval; and hypertension reviews due on a weekend
spread over the next working week."""

import numpy as np
import pytest

from synthgp.core.bank_holidays import to_working_day
from synthgp.engine.services.contacts import weekday
from synthgp.pathways.registers.onset import NEVER

from tests.engine.build import day, emitted, get, make_sim, month_at, person, put
from tests.pathways.test_hypertension import for_review, htn_sim

ON = day(2018, 3, 5)


def _k(sim, name: str) -> int:
    return [m.name for m in sim.repeats.meds].index(name)


def _only(sim, pos, name: str) -> None:
    """Everyone of `pos` certain to want `name` and nothing else of repeats.toml."""
    u = get(sim, "rep_u")[pos].copy()
    u[:] = 1.0
    u[:, _k(sim, name)] = 0.0
    put(sim, pos, rep_u=u)


def _diagnosed(sim, pos, register: str, days) -> None:
    """`pos` known on `register`'s list from `days` (one day, or one each; NEVER: never)."""
    known = get(sim, "reg_known")[pos].copy()
    known[:, sim.repeats.registers.index(register)] = days
    put(sim, pos, reg_known=known)


def _review(sim, pos, on=ON):
    sim.repeats.review(sim, month_at(sim, on, act=pos))


@pytest.mark.parametrize("drug, register, male", [
    ("digoxin", "af", True), ("tiotropium", "copd", False), ("gtn_spray", "chd", True), ("letrozole", "cancer", False),
    ("carbamazepine", "epilepsy", False), ("levothyroxine_25", "hypothyroidism", False),
])
def test_a_register_medicine_follows_the_diagnosis_and_codes_nothing(drug, register, male):
    sim = make_sim(n=50)
    pos = np.arange(3)
    person(sim, pos, age=70, on=ON, male=male)
    _only(sim, pos, drug)
    _diagnosed(sim, pos, register, [ON - 500, ON + 500, NEVER])  # diagnosed, not yet, never
    _review(sim, pos)
    assert sim.rx.on_regular(pos, drug, np.full(3, ON + 1)).tolist() == [True, False, False]
    assert not emitted(sim, "obs", pos=pos)["pat"].size  # the register's diagnosis is the indication


def test_letrozole_and_estriol_never_for_men():
    sim = make_sim(n=50)
    pos = np.arange(2)
    person(sim, pos, age=65, on=ON, male=True)
    _diagnosed(sim, pos, "cancer", ON - 500)
    u = get(sim, "rep_u")[pos].copy()
    u[:] = 1.0
    u[:, [_k(sim, "letrozole"), _k(sim, "estriol_cream")]] = 0.0
    put(sim, pos, rep_u=u)
    _review(sim, pos)
    at = np.full(2, ON + 1)
    assert not sim.rx.on_regular(pos, "letrozole", at).any() and not sim.rx.on_regular(pos, "estriol_cream", at).any()


@pytest.mark.parametrize("drug, code, age, on", [
    ("hydroxocobalamin", "cobalamin_deficiency", 70, ON), ("estriol_cream", "atrophic_vaginitis", 70, ON),
    ("betahistine", "vertigo", 70, ON), ("alginate", "dyspepsia", 70, ON),
    # conditions' medicines (BNF chapters 1, 4, 5), the cardiovascular ones (chapter 2, in their years), the appliances
    ("fluoxetine", "anxiety", 70, ON), ("mesalazine", "ulcerative_colitis", 70, ON),
    ("co_beneldopa", "parkinsons_disease", 70, ON), ("trimethoprim_100", "recurrent_urinary_tract_infection", 70, ON),
    ("rivaroxaban", "venous_thromboembolism", 80, day(2019, 3, 4)), ("furosemide_20", "peripheral_oedema", 80, day(2019, 3, 4)),
    ("film_dressing", "leg_ulcer", 80, ON), ("ileostomy_bag", "ileostomy", 80, ON), ("quinine", "leg_cramps", 80, ON),
])
def test_an_indication_medicine_starts_at_a_consultation_coding_it(drug, code, age, on):
    sim = make_sim(n=50)
    pos = np.arange(2)
    person(sim, pos, age=age, on=on, male=False)
    _only(sim, pos[:1], drug)
    u = get(sim, "rep_u")[pos[1:]].copy()
    u[:] = 1.0  # the second wants nothing
    put(sim, pos[1:], rep_u=u)
    _review(sim, pos, on)
    assert sim.rx.on_regular(pos, drug, np.full(2, on + 7)).tolist() == [True, False]
    coded = emitted(sim, "obs", pos=pos, code=code)
    assert coded["pat"].tolist() == [0]


def test_prochlorperazine_never_beside_betahistine():
    sim = make_sim(n=50)
    pos = np.arange(2)
    person(sim, pos, age=70, on=ON, male=False)
    _only(sim, pos, "prochlorperazine")
    sim.rx.start_regular(pos[:1], "betahistine", np.array([ON - 60]))
    _review(sim, pos)
    assert sim.rx.on_regular(pos, "prochlorperazine", np.full(2, ON + 7)).tolist() == [False, True]


def test_pen_needles_only_with_insulin():
    sim = make_sim(n=50)
    pos = np.arange(2)
    person(sim, pos, age=60, on=ON)
    u = get(sim, "rep_u")[pos].copy()
    u[:] = 1.0
    u[:, _k(sim, "pen_needles")] = 0.0
    u[0, _k(sim, "insulin_glargine")] = 0.0  # the first on insulin
    known = get(sim, "reg_known")[pos].copy()
    known[:, sim.repeats.registers.index("type2")] = ON - 500
    put(sim, pos, rep_u=u, reg_known=known)
    _review(sim, pos)
    at = np.full(2, ON + 1)
    assert sim.rx.on_regular(pos, "insulin_glargine", at).tolist() == [True, False]
    assert sim.rx.on_regular(pos, "pen_needles", at).tolist() == [True, False]


@pytest.mark.parametrize("drug, every", [("gtn_spray", 168), ("hydroxocobalamin", 84), ("pen_needles", 84)])
def test_a_long_pack_is_issued_at_its_interval(drug, every):
    sim = make_sim(n=50)
    person(sim, [0], age=70, on=ON)
    sim.rx.start_regular(np.array([0]), drug, np.array([ON]))
    for k in range(26):
        sim.rx.issue(sim, month_at(sim, ON + k * 28, act=[0]))
    days = np.unique(emitted(sim, "issue", pos=[0])["day"])
    assert len(days) >= 728 // every - 1
    assert (np.abs(np.diff(days) - every) <= 2).all()  # each moved to a working day at most


def test_hypertension_reviews_due_on_a_weekend_spread_over_the_next_working_week():
    """Due on a Saturday: held on one of the five working days after it, not all on the Monday."""
    sim = htn_sim()
    saturday = day(2021, 3, 13)  # the next five working days are 15-19 March 2021 (no bank holiday)
    pos = np.arange(100)
    for_review(sim, pos, [("C", "amlodipine", 0)], high=False)
    put(sim, pos, next_review=saturday)
    sim.hypertension.review(sim, month_at(sim, saturday, act=pos))
    bp = emitted(sim, "obs", code="bp_systolic")
    days = np.unique(np.stack([bp["pat"], bp["day"]], axis=1), axis=0)[:, 1]
    assert len(days) > 50  # a clinic BP for most (the rest read at home)
    assert (days > saturday).all() and (days <= saturday + 6).all()
    assert (to_working_day(days) == days).all()
    assert np.bincount(weekday(days), minlength=5)[0] < len(days) / 2  # the Monday about a fifth, not all
    assert len(np.unique(weekday(days))) == 5


def test_thiamine_only_for_higher_risk_drinkers_at_a_consultation_coding_alcohol_misuse():
    sim = make_sim(n=50)
    pos = np.arange(2)
    person(sim, pos, age=50, on=ON, male=True)
    _only(sim, pos, "thiamine")
    levels = np.array([3, 2], dtype=get(sim, "alcohol").dtype)  # higher risk, increasing risk (life.ALCOHOL_LEVELS)
    put(sim, pos, alcohol=levels)
    _review(sim, pos)
    assert sim.rx.on_regular(pos, "thiamine", np.full(2, ON + 7)).tolist() == [True, False]
    assert emitted(sim, "obs", pos=pos, code="alcohol_misuse")["pat"].tolist() == [0]


def test_an_unknown_drinking_level_fails_clearly():
    from synthgp.pathways.repeats import Medicine

    spec = {"indication": "alcohol_misuse", "drinkers": "heavy", "female": [0.1] * 9, "male": [0.1] * 9}
    with pytest.raises(ValueError, match="drinkers"):
        Medicine("thiamine", spec, np.arange(9.0), ["af"])
