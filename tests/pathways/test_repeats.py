"""Long-term repeats on hand-made patients: started for the person's age band, sex and year at a GP consultation coding
the indication, stopped on their day when the share of their age falls to nothing (no pill at 50), never for the
other sex, a smoker from 35 or someone with hypertension (the combined pill), never without the register or beside
the register's own antidepressant (citalopram); the pills issued three months at a time; a bad data file fails."""

import numpy as np
import pytest

from synthgp.core import reference
from synthgp.core.bank_holidays import to_working_day
from synthgp.engine.sim import YEAR
from synthgp.pathways.registers.onset import NEVER
from synthgp.pathways.repeats import Medicine

from tests.engine.build import day, emitted, get, make_sim, month_at, person, put

ON = day(2018, 3, 5)


def _sim(n: int = 400):
    return make_sim(n=n)


def _k(sim, name: str) -> int:
    return [m.name for m in sim.repeats.meds].index(name)


def _prod(name: str) -> int:
    return reference.toml("medicines.toml")[name]["levels"][0]["prodcodeid"]


def _review(sim, pos, on=ON):
    sim.repeats.review(sim, month_at(sim, on, act=pos))


def test_a_start_codes_the_indication_and_prescribes():
    sim = _sim()
    pos = np.arange(4)
    person(sim, pos, age=30, on=ON, male=False)
    u = get(sim, "rep_u").copy()
    u[pos] = 1.0  # nothing else
    u[pos[:2], _k(sim, "combined_pill")] = 0.0  # certain to be on it at 30
    put(sim, pos, rep_u=u[pos], smoking=np.zeros(4, dtype=get(sim, "smoking").dtype), dx=np.zeros(4, dtype=bool))
    _review(sim, pos)
    on = sim.rx.on_regular(pos, "combined_pill", np.full(4, ON + 1))
    assert on.tolist() == [True, True, False, False]
    coded = emitted(sim, "obs", pos=pos, code="contraception")
    assert sorted(coded["pat"].tolist()) == [0, 1]


def test_never_the_other_sex_a_smoker_from_35_or_with_hypertension():
    sim = _sim()
    man, smoker30, smoker36, hyp = 0, 1, 2, 3
    pos = np.arange(4)
    person(sim, [man], age=30, on=ON, male=True)
    person(sim, [smoker30, hyp], age=30, on=ON, male=False)
    person(sim, [smoker36], age=36, on=ON, male=False)
    u = get(sim, "rep_u")[pos].copy()
    u[:] = 1.0
    u[:, _k(sim, "combined_pill")] = 0.0
    lv = get(sim, "smoking").dtype
    put(sim, pos, rep_u=u, smoking=np.array([0, 3, 3, 0], dtype=lv), dx=np.array([False, False, False, True]))
    _review(sim, pos)
    assert sim.rx.on_regular(pos, "combined_pill", np.full(4, ON + 1)).tolist() == [False, True, False, False]


def test_the_pill_stops_on_the_day_before_a_50th_birthday_in_the_month():
    sim = _sim()
    birthday = ON + 10
    person(sim, [0], age=50 - 10 / YEAR, on=ON, male=False)  # 50 ten days after ON
    u = get(sim, "rep_u")[[0]].copy()
    u[:] = 1.0
    u[0, _k(sim, "combined_pill")] = 0.0
    put(sim, [0], rep_u=u, smoking=np.zeros(1, dtype=get(sim, "smoking").dtype), dx=np.zeros(1, dtype=bool))
    _review(sim, [0], ON - 40)  # started at 49.9
    assert sim.rx.on_regular(np.array([0]), "combined_pill", np.array([ON - 30]))[0]
    _review(sim, [0], ON)
    assert not sim.rx.on_regular(np.array([0]), "combined_pill", np.array([birthday]))[0]


def test_citalopram_only_on_the_depression_register_and_not_beside_sertraline():
    sim = _sim()
    pos = np.arange(3)
    person(sim, pos, age=50, on=ON)
    u = get(sim, "rep_u")[pos].copy()
    u[:] = 1.0
    u[:, _k(sim, "citalopram")] = 0.0
    known = get(sim, "reg_known")[pos].copy()
    j = sim.repeats.registers.index("depression")
    known[:, j] = [ON - 500, ON - 500, ON + 500]  # the third not yet diagnosed
    put(sim, pos, rep_u=u, reg_known=known)
    sim.rx.start_regular(pos[1:2], "sertraline", np.array([ON - 30]))
    _review(sim, pos)
    assert sim.rx.on_regular(pos, "citalopram", np.full(3, ON + 1)).tolist() == [True, False, False]


@pytest.mark.parametrize("drug", ["gliclazide", "sitagliptin", "dapagliflozin", "insulin_glargine"])
def test_diabetes_medicines_only_on_the_type_2_register_and_not_before_their_era(drug):
    """The medicines beyond metformin follow the type 2 diabetes register's diagnosis (no indication coded of their
    own); the DPP-4 and SGLT2 inhibitors not before their first licence (their trend's scale is 0 before it)."""
    sim = _sim()
    pos = np.arange(3)
    person(sim, pos, age=60, on=ON)
    u = get(sim, "rep_u")[pos].copy()
    u[:] = 1.0
    u[:, _k(sim, drug)] = 0.0
    known = get(sim, "reg_known")[pos].copy()
    j = sim.repeats.registers.index("type2")
    known[:, j] = [ON - 500, ON + 500, NEVER]  # the second not yet diagnosed, the third never
    put(sim, pos, rep_u=u, reg_known=known)
    _review(sim, pos)
    assert sim.rx.on_regular(pos, drug, np.full(3, ON + 1)).tolist() == [True, False, False]
    assert not emitted(sim, "obs", pos=pos)["pat"].size  # the register's diagnosis is the indication
    first = {"sitagliptin": 2007.5, "dapagliflozin": 2013.5}.get(drug)
    if first is not None:
        med = sim.repeats.meds[_k(sim, drug)]
        assert med.scale(np.array([day(int(first) - 1, 6, 1)]))[0] == 0.0


def test_vitamin_d_codes_its_deficiency_and_leaves_the_osteoporosis_register_to_its_own():
    """Colecalciferol starts at a GP consultation coding vitamin D deficiency; someone on the osteoporosis register has
    calcium with vitamin D from it (data/registers.toml), not this repeat too."""
    sim = _sim()
    pos = np.arange(2)
    person(sim, pos, age=80, on=ON, male=False)
    u = get(sim, "rep_u")[pos].copy()
    u[:] = 1.0
    u[:, _k(sim, "colecalciferol")] = 0.0
    known = get(sim, "reg_known")[pos].copy()
    known[:, sim.repeats.registers.index("osteoporosis")] = [NEVER, ON - 500]
    put(sim, pos, rep_u=u, reg_known=known)
    _review(sim, pos)
    assert sim.rx.on_regular(pos, "colecalciferol", np.full(2, ON + 1)).tolist() == [True, False]
    assert emitted(sim, "obs", pos=pos, code="vitamin_d_deficiency")["pat"].tolist() == [0]


def test_salbutamol_is_issued_as_needed_every_84_days():
    """A reliever is not a 28-day repeat: one inhaler every 84 days (England's SABA volume, data/medicines.toml)."""
    sim = _sim()
    person(sim, [0], age=40, on=ON)
    sim.rx.start_regular(np.array([0]), "salbutamol", np.array([ON]))
    for k in range(14):
        sim.rx.issue(sim, month_at(sim, ON + k * 28, act=[0]))
    days = np.unique(emitted(sim, "issue", pos=[0])["day"])
    assert len(days) >= 4
    assert set(np.diff(days).tolist()) <= {82, 83, 84, 85, 86}


def test_a_pill_is_issued_every_84_days():
    sim = _sim()
    person(sim, [0], age=25, on=ON, male=False)
    sim.rx.start_regular(np.array([0]), "desogestrel", np.array([ON]))
    for k in range(12):
        on = ON + k * 28
        sim.rx.issue(sim, month_at(sim, on, act=[0]))
    rows = emitted(sim, "issue", pos=[0])
    days = np.unique(rows["day"])
    assert len(days) >= 3
    assert set(np.diff(days).tolist()) <= {82, 83, 84, 85, 86}  # 84 days, each moved to a working day


def test_a_start_is_issued_on_its_day_even_when_the_cycle_fell_earlier_that_month():
    sim = _sim()
    person(sim, [0], age=60, on=ON, male=True)
    sim.rx.start_regular(np.array([0]), "allopurinol", np.array([ON - 3]))  # the person's cycle: ON - 3, ON + 25, ...
    sim.rx.start_regular(np.array([0]), "tamsulosin", np.array([ON]))  # after the cycle's day: issued today
    sim.rx.issue(sim, month_at(sim, ON, act=[0]))
    sim.rx.issue(sim, month_at(sim, ON + 30, act=[0]))
    rows = emitted(sim, "issue", pos=[0])
    tam = np.sort(rows["day"][rows["prod"] == _prod("tamsulosin")])
    allo = np.sort(rows["day"][rows["prod"] == _prod("allopurinol")])
    # the cycle's next turn, ON + 25, is Good Friday 2018: both are issued on the Tuesday after Easter Monday
    assert tam[0] == ON and allo[0] == ON - 3 and tam[1] == allo[1] == to_working_day(ON + 25) == ON + 29


@pytest.mark.parametrize("spec, message", [
    ({"female": [0.1] * 9, "male": [0.1] * 9}, "an indication, a register or a truth"),
    ({"female": [0.1] * 9, "male": [0.1] * 9, "indication": "gout", "truth": "ra"}, "an indication, a register or a truth"),
    ({"female": [0.1] * 9, "male": [0.1] * 9, "truth": "gout"}, "none of"),
    ({"female": [0.1] * 8, "male": [0.1] * 9, "indication": "gout"}, "9 shares"),
    ({"female": [0.1] * 9, "male": [0.1] * 9, "register": "gout"}, "no register"),
])
def test_a_malformed_medicine_fails_clearly(spec, message):
    with pytest.raises(ValueError, match=message):
        Medicine("allopurinol", spec, np.arange(18.0, 90.0, 8.0), ["depression", "cancer"])


def test_an_unknown_medicine_fails_clearly():
    with pytest.raises(ValueError, match="not a regular medicine"):
        Medicine("aspirin_gel", {"female": [0.1] * 9, "male": [0.1] * 9, "indication": "gout"}, np.arange(18.0, 90.0, 8.0), [])


def test_a_truth_medicine_only_with_the_risk_factor_and_without_a_consultation():
    """Sildenafil: for a man whose truth has erectile dysfunction (coded from entry by the conditions pathway), not
    for one without it; nothing new is coded at the start."""
    sim = _sim()
    pos = np.arange(2)
    person(sim, pos, age=60, on=ON, male=True)
    u = get(sim, "rep_u").copy()
    u[pos] = 1.0
    u[pos, _k(sim, "sildenafil")] = 0.0
    put(sim, pos, rep_u=u[pos], rf_impotence=np.array([1, 0], dtype=get(sim, "rf_impotence").dtype))
    _review(sim, pos)
    assert sim.rx.on_regular(pos, "sildenafil", np.full(2, ON + 1)).tolist() == [True, False]
    assert len(emitted(sim, "obs", pos=pos, code="erectile_dysfunction")["pat"]) == 0


def test_folic_acid_only_beside_methotrexate():
    """Folic acid (`with` methotrexate): on with it, off without it, whatever the person's own propensity."""
    sim = _sim()
    pos = np.arange(2)
    person(sim, pos, age=55, on=ON, male=False)
    u = get(sim, "rep_u").copy()
    u[pos] = 1.0
    u[pos, _k(sim, "folic_acid")] = 0.0
    u[0, _k(sim, "methotrexate")] = 0.0  # the first on methotrexate
    put(sim, pos, rep_u=u[pos], rf_ra=np.ones(2, dtype=get(sim, "rf_ra").dtype))
    _review(sim, pos)
    at = np.full(2, ON + 1)
    assert sim.rx.on_regular(pos, "methotrexate", at).tolist() == [True, False]
    assert sim.rx.on_regular(pos, "folic_acid", at).tolist() == [True, False]


def test_iron_deficiency_on_a_blood_count_starts_a_course_of_iron():
    """A low haemoglobin in iron-deficiency anaemia: the anaemia coded and ferrous fumarate for the course, a week
    after the draw; anaemia of another cause starts nothing, and a second result during the course no second one."""
    sim = _sim()
    pos = np.arange(3)
    person(sim, pos, age=40, on=ON, male=False)
    cfg = reference.toml("repeats.toml")["iron"]
    sim.repeats.on_fbc(pos, np.full(3, ON), np.array([100.0, 105.0, 100.0]), np.array([True, True, False]))
    start = ON + cfg["after_days"]
    assert sim.rx.on_regular(pos, "ferrous_fumarate", np.full(3, start)).tolist() == [True, True, False]
    assert not sim.rx.on_regular(pos[:1], "ferrous_fumarate", np.array([start + cfg["course_days"]]))[0]
    coded = emitted(sim, "obs", pos=pos, code="iron_deficiency_anaemia")
    assert sorted(coded["pat"].tolist()) == [0, 1] and set(coded["day"].tolist()) == {start}
    sim.repeats.on_fbc(pos[:1], np.array([ON + 60]), np.array([101.0]), np.array([True]))
    assert len(emitted(sim, "obs", pos=pos, code="iron_deficiency_anaemia")["pat"]) == 2
