"""Everyday consultations' reasons and outcomes (pathways/consultations.py, data/consultations.toml): reasons
plausible for age and sex, the share coded, antibiotics at the reason's rate and falling, fit notes at working
age, referrals and acute items through the prescribing service."""

import copy

import numpy as np
import pytest

from synthgp.core import codes, reference, scenario
from synthgp.engine.services.contacts import Plan
from synthgp.pathways.consultations import MAX_AGE, load_reasons
from synthgp.population.people import simulate_people
from synthgp.population.plan import make_plan

from tests.engine.build import day, emitted, make_sim, month_at, person, put

DATA = reference.toml("consultations.toml")
REASONS = list(DATA["reason"])
FEMALE_ONLY = {k for k, v in DATA["reason"].items() if v.get("sex") == "female"}
MENSTRUAL = {"contraception", "menorrhagia", "dysmenorrhoea"}
ON = day(2015, 3, 10)


def med_index():
    return make_sim().rx.meds.index


def run_months(sim, age: float, start: int, months: int, male=None, frailty: float = 6.0):
    """Contacts then reasons for `months` months, everyone of the block made `age` (and of one sex)."""
    pos = sim.everyone
    person(sim, pos, age=age, on=start, male=male)
    put(sim, pos, ent=np.where(age >= 18, sim.start, sim.end + 1), consult_frailty=frailty)
    seen, on = [], start
    for _ in range(months):
        m = month_at(sim, on, act=pos if age >= 18 else np.empty(0, np.int64))
        m.all, m.all_vday, m.all_age = pos, np.full(len(pos), on), np.full(len(pos), float(age))
        if age >= 18:
            m.age = np.full(len(m.act), float(age))
        sim.contacts.consult(sim, m)
        sim.consultations.reasons(sim, m)
        seen.append(sim.contacts.seen)
        on = m.day1
    return seen


def reason_rows(sim):
    obs = emitted(sim, "obs")
    reason = np.isin(obs["medcode"], sim.record.codes(*REASONS))
    return {k: v[reason] for k, v in obs.items()}


def keys_of(medcodes) -> set[str]:
    by = {codes.medcode(k): k for k in REASONS}
    return {by[int(m)] for m in np.unique(medcodes)}


def test_every_reason_is_a_reason_code_and_its_rules_hold_in_the_table():
    r = load_reasons(DATA, med_index())
    assert r.keys == REASONS and all(codes.get(k).cluster == "REASON" for k in REASONS)
    contraception, croup = REASONS.index("contraception"), REASONS.index("croup")
    assert not r.allowed[:, 80, contraception].any() and not r.allowed[1, :, contraception].any()
    assert r.allowed[0, 25, contraception] and not r.allowed[:, 40, croup].any()
    for k in FEMALE_ONLY:
        assert not r.allowed[1, :, REASONS.index(k)].any(), k
    # a reason's weight is zero wherever its rules forbid it
    w = np.diff(np.concatenate([np.zeros((2, MAX_AGE + 1, 1)), r.cdf], axis=2), axis=2)
    assert (w[~r.allowed] == 0).all()


def test_bad_reason_data_is_named():
    bad = copy.deepcopy(DATA)
    bad["reason"]["urti"]["weight"] = [1, 2]
    with pytest.raises(ValueError, match="urti"):
        load_reasons(bad, med_index())
    bad = copy.deepcopy(DATA)
    bad["reason"]["urti"]["antibiotic"] = [0.3, "no_such_drug", "amoxicillin"]
    with pytest.raises(ValueError, match="no_such_drug"):
        load_reasons(bad, med_index())
    bad = copy.deepcopy(DATA)
    bad["reason"]["fit_note"] = {"weight": [1] * 7}  # a code of another cluster
    with pytest.raises(ValueError, match="REASON"):
        load_reasons(bad, med_index())


@pytest.mark.parametrize("age,male", [(80.0, False), (35.0, True), (2.0, False), (8.0, True)])
def test_reasons_are_plausible_for_age_and_sex(age, male):
    sim = make_sim()
    run_months(sim, age, ON, 12, male=male)
    got = keys_of(reason_rows(sim)["medcode"])
    assert len(got) >= 8  # a spread of reasons, not one
    if male or age < 10:
        assert not got & FEMALE_ONLY, got & FEMALE_ONLY
    if age >= 60:
        assert not got & MENSTRUAL and not got & {"acne"}
    if age >= 10:
        assert not got & {"croup", "fever"}
    if age < 10:
        assert not got & {"acne", "fall", "insomnia", "dyspepsia"}
    r = load_reasons(DATA, med_index())
    assert all(r.allowed[int(male), int(age), REASONS.index(k)] for k in got)


def test_most_consultations_carry_one_reason_at_that_consultation():
    sim = make_sim()
    seen = run_months(sim, 40.0, ON, 6)
    keys = np.concatenate([s.key for s in seen])
    rows = reason_rows(sim)
    assert len(np.unique(rows["cons"])) == len(rows["cons"])  # one reason a consultation
    assert np.isin(rows["cons"], keys).all()
    share = len(rows["cons"]) / len(keys)
    coded = DATA["coding"]["coded_share"]
    assert share == pytest.approx(coded, abs=4 * np.sqrt(coded * (1 - coded) / len(keys)))
    cons = emitted(sim, "cons")
    assert (cons["day"][rows["cons"]] == rows["day"]).all() and (cons["pat"][rows["cons"]] == rows["pat"]).all()


def antibiotic_share(start: int, age: float = 70.0, male: bool = False) -> tuple[float, float]:
    """(antibiotic issues per consultation for a UTI, the share the data file gives) over a year from `start`."""
    sim = make_sim()
    run_months(sim, age, start, 12, male=male, frailty=10.0)
    rows = reason_rows(sim)
    uti = rows["medcode"] == codes.medcode("urinary_tract_infection")
    issues = emitted(sim, "issue")
    nitro = sim.rx.meds.prod[sim.rx.meds.index["nitrofurantoin"], 0]
    pairs = set(zip(issues["pat"][issues["prod"] == nitro], issues["day"][issues["prod"] == nitro]))
    n = uti.sum()
    given = sum((p, d) in pairs for p, d in zip(rows["pat"][uti], rows["day"][uti]))
    p = DATA["reason"]["urinary_tract_infection"]["antibiotic"][0] * sim.consultations.antibiotic_factor(start)
    return given / n, p, n


def test_antibiotics_follow_the_reason_and_fall_over_the_decade():
    early, p_early, n1 = antibiotic_share(day(2014, 1, 5))
    late, p_late, n2 = antibiotic_share(day(2021, 6, 5))
    assert n1 > 100 and n2 > 100
    assert early == pytest.approx(p_early, abs=4 * np.sqrt(p_early * (1 - p_early) / n1))
    assert late == pytest.approx(p_late, abs=4 * np.sqrt(p_late * (1 - p_late) / n2))
    assert p_late < 0.8 * p_early and late < early


def test_children_get_a_childrens_antibiotic_and_outcomes_are_acute_items_of_their_own():
    sim = make_sim()
    run_months(sim, 3.0, ON, 12)
    issues = emitted(sim, "issue")
    meds = sim.rx.meds
    assert len(issues["pat"])
    adult_only = [meds.prod[meds.index[k], 0] for k in ("amoxicillin", "nitrofurantoin", "desogestrel", "naproxen")]
    assert not np.isin(issues["prod"], adult_only).any()
    assert np.isin(meds.prod[meds.index["amoxicillin_suspension"], 0], issues["prod"])
    assert len(np.unique(issues["course"])) == len(issues["course"])  # each acute item a course of its own
    assert (issues["day"] >= sim.start).all()


def test_fit_notes_only_at_working_age_and_referrals_are_coded_referrals():
    fit = codes.medcode("fit_note")
    young, old = make_sim(), make_sim()
    run_months(young, 40.0, ON, 12)
    run_months(old, 75.0, ON, 12)
    obs_y, obs_o = emitted(young, "obs"), emitted(old, "obs")
    assert (obs_y["medcode"] == fit).sum() > 5 and not (obs_o["medcode"] == fit).any()
    referral = young.record.obstype("Referral")
    ref = obs_y["obstype"] == referral
    assert ref.any() and (obs_y["referral"][ref] == 1).all()
    assert {codes.get(k).cluster for k in keys_of_any(obs_y["medcode"][ref])} == {"REFERRAL"}


def keys_of_any(medcodes) -> set[str]:
    by = {c.medcodeid: k for k, c in codes.table().items()}
    return {by[int(m)] for m in np.unique(medcodes)}


def test_an_hca_consultations_prescriptions_are_signed_by_a_gp():
    sc = scenario.build({"population": {"list_size_mean": 8000, "list_size_sd": 0, "list_size_min": 8000,
                                        "list_size_max": 8000}})
    plan = make_plan(sc, 7, 8000)  # a practice large enough to have HCAs
    assert plan.staff_count[0, 2] > 0
    sim = make_sim(plan=plan, people=simulate_people(plan, 0, 200))
    seen = run_months(sim, 30.0, ON, 12, male=False)
    issues = emitted(sim, "issue")
    jobs = Plan().jobs
    staff = np.concatenate([s.staff for s in seen])
    job = np.concatenate([s.job for s in seen])
    hca_staff = set(staff[job == jobs.index("hca")].tolist())
    assert hca_staff and not (set(issues["staff"].tolist()) & hca_staff)
