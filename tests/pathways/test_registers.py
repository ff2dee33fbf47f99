"""Registers: register rules, medicines and monitoring on hand-made patients (pathways/registers)."""

import numpy as np
import pytest

from synthgp.core import codes
from synthgp.pathways.registers import LETTER_DAYS, onset
from synthgp.pathways.registers.onset import NEVER

from tests.engine.build import day, emitted, get, make_sim, month_at, person, put

ON = day(2018, 3, 5)


def _col(sim, name):
    return sim.registers.col[name]


def _clear(sim, pos):
    """Nothing of the registers known, due or prescribed for `pos`."""
    for f in ("reg_onset", "reg_known", "reg_review"):
        get(sim, f)[pos] = NEVER
    for f in ("reg_next", "reg_tsh_due", "reg_lipid_due"):
        get(sim, f)[pos] = NEVER
    get(sim, "regular_drug")[pos] = -1
    get(sim, "regular_next")[pos] = NEVER


def test_onset_inverts_the_curve_and_a_higher_risk_comes_earlier():
    ages = np.array([0, 50, 100.0])
    curve = np.array([0, 0.1, 0.2])
    u = np.array([0.05, 0.05, 0.15, 0.5])
    got = onset.onset_ages(ages, curve, curve, np.zeros(4, bool), np.array([1, 2, 1, 1.0]), u)
    assert got[0] == pytest.approx(25)  # F(25) = 0.05
    assert got[1] < got[0]  # twice the hazard: the same draw reaches onset earlier
    assert got[2] == pytest.approx(75) and np.isinf(got[3])  # beyond the curve's last share: never


def test_the_data_file_rejects_a_falling_curve(monkeypatch):
    from synthgp.core import reference

    real = reference.toml("registers.toml")
    bad = {**real, "condition": {"x": {**real["condition"]["asthma"], "male": [0, 0.2, 0.1, *[0.1] * 7]}}}
    monkeypatch.setattr(reference, "toml", lambda name: bad if name == "registers.toml" else real)
    with pytest.raises(ValueError, match=r"condition.x\] male"):
        onset.load()


def test_a_diagnosis_is_coded_in_its_month_with_medicines_and_a_review_a_year_on():
    sim = make_sim()
    pos = np.array([0, 1, 2])
    person(sim, pos, age=50, on=ON)
    _clear(sim, pos)
    m = month_at(sim, ON, act=pos)
    a, t = _col(sim, "asthma"), _col(sim, "hypothyroidism")
    get(sim, "reg_known")[0, a] = m.day0 + 3
    get(sim, "reg_code")[0, a] = codes.medcode("asthma")
    get(sim, "reg_known")[1, t] = m.day0 + 4
    get(sim, "reg_code")[1, t] = codes.medcode("hypothyroidism")
    get(sim, "reg_known")[2, a] = m.day1 + 40  # a later month
    get(sim, "reg_next")[pos] = get(sim, "reg_known")[pos].min(axis=1)
    sim.registers.care(sim, m)
    dx = emitted(sim, "obs", code="asthma")
    assert dx["pat"].tolist() == [0] and dx["day"].tolist() == [m.day0 + 3] and dx["problem"][0] == 1
    assert emitted(sim, "obs", code="hypothyroidism")["pat"].tolist() == [1]
    # the TSH that made the diagnosis, above the range
    tsh = emitted(sim, "obs", code="tsh")
    assert tsh["pat"].tolist() == [1] and tsh["day"].tolist() == [m.day0 + 4]
    assert get(sim, "reg_tsh_due")[1] == m.day0 + 4 + 49  # the check after starting levothyroxine
    assert 335 <= get(sim, "reg_review")[0, a] - (m.day0 + 3) <= 395
    assert get(sim, "reg_next")[2] == m.day1 + 40  # nothing yet for the later diagnosis
    assert not emitted(sim, "obs", pos=2)["pat"].size
    rx = sim.rx
    assert rx.on_regular(np.array([1]), "levothyroxine", m.day0 + 4)[0]
    assert not rx.on_regular(np.array([0, 2]), "levothyroxine", m.day1).any()  # no levothyroxine without the diagnosis
    assert not rx.on_regular(np.array([1, 2]), "salbutamol", m.day1).any()  # no inhaler without a respiratory one


def test_history_codes_diagnoses_made_before_entry_as_transferred():
    sim = make_sim()
    pos = np.array([0, 1])
    person(sim, pos, age=70, on=ON)
    _clear(sim, pos)
    put(sim, pos, ent=ON, first_allowed=ON - 100)
    c = _col(sim, "copd")
    get(sim, "reg_known")[0, c] = ON - 400  # before registration: from the previous practice
    get(sim, "reg_known")[1, c] = ON + 30  # after entry: coded when its month comes, not as history
    get(sim, "reg_code")[pos, c] = codes.medcode("copd")
    sim.registers.history(sim)
    dx = emitted(sim, "obs", code="copd", pos=pos)
    assert dx["pat"].tolist() == [0] and dx["day"].tolist() == [ON - 400]
    assert dx["enter"][0] == ON - 100  # filed on the registration day
    assert ON <= get(sim, "reg_review")[0, c] < ON + 365  # reviewed in the first year here
    assert get(sim, "reg_next")[1] == ON + 30


def test_an_mi_joins_the_chd_register_from_its_letter_and_starts_secondary_prevention():
    sim = make_sim()
    pos = np.array([0, 1])
    person(sim, pos, age=66, on=ON)
    _clear(sim, pos)
    m = month_at(sim, ON, act=pos)
    put(sim, 0, mi_day=m.day0 + 1)
    put(sim, 1, mi_day=m.day0 - 200)  # an older event is not this month's
    chd = _col(sim, "chd")
    get(sim, "reg_known")[0, chd] = m.day0 + 400  # angina that would have been diagnosed later: overtaken
    sim.registers.care(sim, m)
    assert get(sim, "reg_known")[0, chd] == m.day0 + 1 + LETTER_DAYS and get(sim, "reg_code")[0, chd] == -1
    assert get(sim, "reg_known")[1, chd] == NEVER
    later = month_at(sim, m.day0 + 1 + LETTER_DAYS, act=pos)
    if later.m != m.m:
        sim.registers.care(sim, later)
    assert not emitted(sim, "obs", code="angina")["pat"].size  # the MI was coded by its own pathway
    meds = sim.rx.meds.index
    j_statin = list(sim.rx.s.regular_drug[0]).count(meds["atorvastatin"])
    statin = sim.rx.on_regular(np.array([0]), "atorvastatin", m.day0 + 1 + LETTER_DAYS)[0]
    assert j_statin == statin  # either prescribed from the letter on (a share are not), or not at all
    if statin:
        level = get(sim, "regular_level")[0][list(sim.rx.s.regular_drug[0]).index(meds["atorvastatin"])]
        assert level == 1  # 80 mg in secondary prevention (CG181)
        assert get(sim, "reg_lipid_due")[0] == m.day0 + 1 + LETTER_DAYS + 90


def test_monitoring_after_a_start_is_done_in_its_month():
    sim = make_sim()
    pos = np.array([0, 1])
    person(sim, pos, age=55, on=ON)
    _clear(sim, pos)
    m = month_at(sim, ON, act=pos)
    get(sim, "reg_tsh_due")[0] = m.day0 + 2
    get(sim, "reg_lipid_due")[1] = m.day0 + 6
    get(sim, "reg_next")[pos] = [m.day0 + 2, m.day0 + 6]
    sim.registers.care(sim, m)
    assert emitted(sim, "obs", code="tsh")["day"].tolist() == [m.day0 + 2]
    chol = emitted(sim, "obs", code="cholesterol")
    assert chol["pat"].tolist() == [1] and chol["day"].tolist() == [m.day0 + 6]
    assert get(sim, "reg_tsh_due")[0] == NEVER == get(sim, "reg_lipid_due")[1]
    assert (get(sim, "reg_next")[pos] == NEVER).all()


def test_a_review_records_what_qof_asks_and_sets_the_next():
    sim = make_sim()
    pos = np.arange(30)
    person(sim, pos, age=60, on=ON)
    _clear(sim, pos)
    put(sim, pos, dx=False)
    m = month_at(sim, ON, act=pos)
    j = _col(sim, "type2")
    get(sim, "reg_review")[pos, j] = m.day0 + 5
    get(sim, "reg_next")[pos] = m.day0 + 5
    sim.registers.care(sim, m)
    went = np.unique(emitted(sim, "obs", code="diabetes_annual_review")["pat"])
    assert 15 <= len(went) < 30  # attend 0.85: most, not all
    for key in ("diabetic_foot_examination", "hba1c", "bmi"):  # its BP is the hypertension pathway's
        assert set(emitted(sim, "obs", code=key)["pat"]) == set(went), key
    nxt = get(sim, "reg_review")[pos, j]
    assert ((nxt - (m.day0 + 5) >= 335) & (nxt - (m.day0 + 5) <= 395)).all()  # missed or not, next year's


def test_nothing_of_the_registers_after_death():
    sim = make_sim()
    pos = np.array([0])
    person(sim, pos, age=80, on=ON)
    _clear(sim, pos)
    m = month_at(sim, ON, act=pos)
    a = _col(sim, "asthma")
    get(sim, "reg_known")[0, a] = m.day0 + 1
    get(sim, "reg_code")[0, a] = codes.medcode("asthma")
    get(sim, "reg_next")[0] = m.day0 + 1
    sim.registers.care(sim, m)
    sim.rx.start_regular(pos, "salbutamol", np.array([m.day0 + 1]))  # whether or not the share drew it
    get(sim, "reg_review")[0, a] = m.day0 + 200  # a review due after death
    get(sim, "reg_next")[0] = m.day0 + 200
    death = m.day0 + 10
    sim.log.last_day[sim.P[0]] = death  # as the life service records a death
    for k in range(1, 14):  # a year of months: repeats and any review fall due after death
        mk = month_at(sim, m.day0 + int(k * 30.44) + 1, act=pos)
        sim.rx.issue(sim, mk)
        sim.registers.care(sim, mk)
    assert (emitted(sim, "issue")["day"] > death).any()  # repeats fell due after death...
    fin = sim.log.finish(sim.people.patid, sim.people.pracid)
    assert len(fin.issue["day"])  # ...the ones before it are kept
    for table in ("obs", "issue"):  # ...and the record holds nothing after it
        rows = getattr(fin, table)
        assert (np.asarray(rows["day"]) <= death).all(), table


def _heart_failure_letter(sim, n: int):
    """`n` people of 78 with heart failure this month (cardiovascular.py's event), nothing else held; the month of
    its letter after the registers' care has run in both months."""
    pos = np.arange(n)
    person(sim, pos, age=78, on=ON)
    _clear(sim, pos)
    get(sim, "rx_drug")[pos] = -1
    get(sim, "no_acei_arb")[pos] = False
    m = month_at(sim, ON, act=pos)
    put(sim, pos, heart_failure_day=np.full(n, m.day0 + 1))
    sim.registers.care(sim, m)
    letter = m.day0 + 1 + LETTER_DAYS
    later = month_at(sim, letter, act=pos)
    if later.m != m.m:
        sim.registers.care(sim, later)
    return pos, letter


def test_heart_failure_brings_its_medicines_from_the_letter():
    """NICE NG106: a loop diuretic, an ACE inhibitor and a beta-blocker (slots A and S), an MRA for some: each for its
    share of data/registers.toml [event_care.heart_failure], from the letter, never before it."""
    sim = make_sim(n=1200)
    pos, letter = _heart_failure_letter(sim, 1000)
    spec = sim.registers.event_care["heart_failure"][1]
    shares = {m["drug"]: m["share"] for m in spec["medicines"]}
    for drug in ("furosemide", "eplerenone"):
        on = sim.rx.on_regular(pos, drug, np.full(len(pos), letter))
        assert not sim.rx.on_regular(pos, drug, np.full(len(pos), letter - 1)).any()
        assert on.mean() == pytest.approx(shares[drug], abs=0.05)  # binomial sd at 1,000 is at most 0.016
    meds = sim.rx.meds.index
    drug = get(sim, "rx_drug")[pos]
    for slot, name in ((0, "ramipril"), (3, "bisoprolol")):
        share = next(m["share"] for m in spec["antihypertensives"] if m["drug"] == name)
        held = drug[:, slot] == meds[name]
        assert held.mean() == pytest.approx(share, abs=0.05)
        assert (drug[~held, slot] == -1).all()  # nothing else put in the slot


def test_no_heart_failure_medicine_without_heart_failure():
    sim = make_sim(n=600)
    pos = np.arange(500)
    person(sim, pos, age=78, on=ON)
    _clear(sim, pos)
    m = month_at(sim, ON, act=pos)
    put(sim, pos, heart_failure_day=np.full(len(pos), -1))
    sim.registers.care(sim, m)
    for drug in ("furosemide", "eplerenone"):
        assert not sim.rx.on_regular(pos, drug, np.full(len(pos), m.day1)).any()


def test_angina_and_af_beta_blocker_only_in_an_empty_slot():
    """A condition's `antihypertensives` (a beta-blocker for angina or AF) fill slot S only where it is empty: a person
    already on spironolactone there keeps it."""
    from synthgp.pathways.registers import care

    sim = make_sim(n=600)
    pos = np.arange(400)
    person(sim, pos, age=70, on=ON)
    _clear(sim, pos)
    meds = sim.rx.meds.index
    get(sim, "rx_drug")[pos] = -1
    get(sim, "rx_drug")[pos[:200], 3] = meds["spironolactone"]
    chd = sim.registers.conditions[_col(sim, "chd")]
    care.start_slot_drugs(sim.registers, sim, "chd", chd.spec["antihypertensives"], pos, np.full(len(pos), ON))
    s = get(sim, "rx_drug")[pos, 3]
    assert (s[:200] == meds["spironolactone"]).all()
    share = chd.spec["antihypertensives"][0]["share"]
    assert (s[200:] == meds["bisoprolol"]).mean() == pytest.approx(share, abs=0.1)  # binomial sd at 200: 0.035


def test_af_anticoagulation_by_era():
    """data/registers.toml [external.af]: warfarin for the share of those diagnosed before NICE CG180 (June 2014), a
    DOAC for the larger share of those diagnosed after it (GRASP-AF's rise), never both."""
    from synthgp.pathways.registers import care

    sim = make_sim(n=2600)
    before, after = np.arange(0, 1200), np.arange(1200, 2400)
    person(sim, before, age=75, on=day(2012, 5, 1))
    person(sim, after, age=75, on=day(2017, 5, 1))
    pos = np.arange(2400)
    _clear(sim, pos)
    days = np.where(pos < 1200, day(2012, 5, 1), day(2017, 5, 1))
    af = sim.registers.conditions[_col(sim, "af")]
    care.start_medicines(sim.registers, sim, af, pos, days)
    warf = sim.rx.on_regular(pos, "warfarin", days)
    doac = sim.rx.on_regular(pos, "apixaban", days)
    assert not (warf & doac).any() and not warf[after].any() and not doac[before].any()
    med = af.medicines[0]
    # binomial sd at 1,200 is at most 0.015: 0.05 is over 3 sd
    assert warf[before].mean() == pytest.approx(med["share"], abs=0.05)
    assert doac[after].mean() == pytest.approx(med["then_share"], abs=0.05)


@pytest.mark.parametrize("name", ["dementia", "cancer", "copd"])
def test_a_share_of_deaths_has_the_condition_diagnosed_before_it(name):
    """data/registers.toml `deaths`: at least the published share of the population's deaths (ONS: dementia 11.6%,
    cancers 29%; COPD about 5%, BLF) have the condition before they die, diagnosed before the death; nobody's death moves."""
    sim = make_sim(n=6000)
    spec = sim.registers.conditions[_col(sim, name)].spec["deaths"]
    death = sim.people.death[sim.P]
    dob = get(sim, "dob")
    dies = (death >= 0) & (death - dob >= spec["min_age"] * 365.25)
    on, known = get(sim, "reg_onset")[:, _col(sim, name)], get(sim, "reg_known")[:, _col(sim, name)]
    have = dies & (on <= death)
    sd = np.sqrt(spec["share"] * (1 - spec["share"]) / dies.sum())
    assert dies.sum() > 200 and have.sum() / dies.sum() >= spec["share"] - 3 * sd
    assert (known[have] <= death[have]).mean() > 0.95
    gap = (death - on)[have] / 365.25
    if name != "copd":  # COPD's own onset curve already puts it on more decedents (6.7%) than its 5% share, years before
        assert np.median(gap) < 2.5 * spec["median_years"]  # most came near the death (dementia 5.8, cancer 1.9 years)


def test_copd_is_behind_its_share_of_deaths_when_nobody_had_it():
    """onset._before_death with COPD's `deaths` (about 5% of deaths at 40+, BLF/Snell 2016): with nobody on the curve,
    the share of those deaths given COPD before them is the published one, a median 5 years before (exponential,
    capped at age 40), and diagnosed within half that gap."""
    sim = make_sim(n=20_000)  # about 1,200 deaths at 40+, about 60 given COPD
    c = sim.registers.conditions[_col(sim, "copd")]
    d = c.spec["deaths"]
    n = len(get(sim, "dob"))
    on, delay = onset._before_death(sim, c, np.full(n, NEVER, dtype=np.int64), np.full(n, 10_000, dtype=np.int64))
    death, dob = sim.people.death[sim.P], get(sim, "dob")
    dies = (death >= 0) & (death - dob >= d["min_age"] * 365.25)
    got = on < NEVER
    assert not (got & ~dies).any() and (on[got] <= death[got]).all() and (on[got] >= dob[got] + 40 * 365).all()
    sd = np.sqrt(d["share"] * (1 - d["share"]) / dies.sum())
    assert dies.sum() > 300 and abs(got.sum() / dies.sum() - d["share"]) < 3 * sd
    gap = (death - on)[got] / 365.25
    assert 0.5 * d["median_years"] < np.median(gap) < 1.5 * d["median_years"]  # an exponential's median from ~60 draws: SE about 15%
    assert (delay[got] <= (death - on)[got] // 2).all()
