"""COVID-19 in the GP record beyond the test: symptoms, advice and isolation at COVID consultations, home
oximetry, critical care, long COVID, and care homes and health workers in the JCVI order; on hand-made state."""

import numpy as np
import pytest

from synthgp.core import codes, reference

from tests.engine.build import day, emitted, get, put, truth
from tests.pathways.test_covid import covid_sim, plain, run

SYMPTOMS = ("covid_symptom_fever", "covid_symptom_cough", "covid_symptom_anosmia", "covid_symptom_ageusia",
            "covid_symptom_breathless")
CFG = reference.toml("covid.toml")


def rows(sim, *keys):
    got = [emitted(sim, "obs", code=k) for k in keys]
    return {f: np.concatenate([g[f] for g in got]) for f in got[0]}


@pytest.fixture(scope="module")
def pandemic():
    """900 adults 20-90 through the pandemic's first three years, at three times the national waves."""
    sim = covid_sim(n=900, wave_scale=3.0)
    run(sim, day(2019, 6, 1), day(2022, 12, 31))
    return sim


def test_symptoms_are_coded_only_at_a_covid_consultation_and_never_before_2020(pandemic):
    sim = pandemic
    sym = rows(sim, *SYMPTOMS)
    assert len(sym["pat"]) > 30 and sym["day"].min() >= day(2020, 2, 1)
    # every symptom sits at a consultation that also holds a suspected code, or one of a person with a positive result
    susp = rows(sim, "covid_suspected")
    positive = set(rows(sim, "covid_pcr_positive", "covid_antigen_positive")["pat"])
    susp_cons = set(susp["cons"])
    for p, c in zip(sym["pat"], sym["cons"]):
        assert c >= 0 and (c in susp_cons or p in positive)
    # at least one symptom at each consultation for COVID-19 with a suspected code
    assert susp_cons <= set(sym["cons"])
    for key in SYMPTOMS:
        assert codes.get(key).cluster == "COVIDSYMP" and len(emitted(sim, "obs", code=key)["pat"])
    adv, iso = rows(sim, "covid_advice"), rows(sim, "covid_self_isolation")
    assert len(adv["pat"]) and set(adv["cons"]) <= set(sym["cons"])
    assert len(iso["pat"]) and iso["day"].min() >= day(2020, 3, 12) and set(iso["cons"]) <= set(sym["cons"])


def test_oximetry_readings_only_in_the_programme_for_the_eligible(pandemic):
    sim = pandemic
    ox = rows(sim, "spo2")
    t = truth(sim, "covid_truth")
    assert len(ox["pat"]) > 5
    assert ox["day"].min() >= day(2020, 11, 1) and ox["day"].max() < day(2022, 7, 1) + 10
    assert (ox["value"] >= 85).all() and (ox["value"] <= 100).all() and np.median(ox["value"]) >= 95
    mon = t["oximetry"] == 1
    assert mon.any() and (t["recorded"][mon] == 1).all() and (t["symptomatic"][mon] == 1).all()
    assert (t["date"][mon] >= day(2020, 11, 1) - 3).all() and (t["date"][mon] < day(2022, 7, 1)).all()
    # 65 or over (no one here is clinically extremely vulnerable) at the infection
    dob = get(sim, "dob")[np.searchsorted(sim.P, t["pat"][mon])]
    assert ((t["date"][mon] - dob) / 365.25 >= 65).all()
    assert set(ox["pat"]) <= set(np.searchsorted(sim.P, t["pat"][mon]))


def test_icu_only_after_an_admission_and_in_its_letter(pandemic):
    sim = pandemic
    t = truth(sim, "covid_truth")
    icu = t["icu"] == 1
    assert icu.any() and (t["admitted"][icu] == 1).all()
    adm = rows(sim, "covid_pneumonia")
    letters = rows(sim, "covid_icu_admission")
    assert len(letters["pat"]) == icu.sum()
    first_admission = {}
    for p, d in zip(adm["pat"], adm["day"]):
        first_admission.setdefault(p, []).append(d)
    for p, d, e in zip(letters["pat"], letters["day"], letters["enter"]):
        assert any(0 <= d - a <= 3 for a in first_admission[p]) and e >= d


def test_icu_share_falls_with_age():
    sim = covid_sim()
    pos = np.arange(400)
    age = np.where(pos < 200, 45.0, 85.0)
    never = np.full(400, np.iinfo(np.int64).max // 4)
    went = sim.covid.care.icu(sim, pos, np.full(400, day(2020, 4, 10)), age, never, np.full(400, 20), 3)
    assert went[:200].mean() > went[200:].mean() + 0.15


def test_long_covid_only_after_a_symptomatic_infection_survived_and_codes_from_november_2020(pandemic):
    sim = pandemic
    t = truth(sim, "covid_truth")
    lc = t["long_covid"] == 1
    assert lc.sum() > 10 and (t["symptomatic"][lc] == 1).all() and (t["died"][lc] == 0).all()
    coded = rows(sim, "post_covid_syndrome")
    assert len(coded["pat"]) and coded["day"].min() >= day(2020, 11, 23)
    ref = rows(sim, "post_covid_referral")
    assert set(ref["cons"]) <= set(coded["cons"]) and (ref["day"] >= day(2020, 12, 1)).all()
    # each code comes at least 12 weeks after one of the person's long-COVID infections
    for p, d in zip(coded["pat"], coded["day"]):
        mine = (t["pat"] == sim.P[p]) & lc
        assert mine.any() and (d - t["date"][mine] >= 84).any()


def test_long_covid_is_rarer_after_omicron_and_vaccination_and_in_men():
    sim = covid_sim(n=4000)
    pos = np.arange(4000)
    put(sim, pos, male=pos % 2 == 0)
    male = get(sim, "male")[pos]
    age, ok = np.full(4000, 45.0), np.ones(4000, bool)
    on = np.full(4000, day(2020, 10, 1))
    wild = sim.covid.care.long_covid(sim, pos, on, np.zeros(4000, int), age, male, np.zeros(4000, int), ok, 8)
    omi = sim.covid.care.long_covid(sim, pos, on, np.full(4000, 3), age, male, np.zeros(4000, int), ok, 8)
    vac = sim.covid.care.long_covid(sim, pos, on, np.zeros(4000, int), age, male, np.full(4000, 2), ok, 8)
    none = sim.covid.care.long_covid(sim, pos, on, np.zeros(4000, int), age, male, np.zeros(4000, int), ~ok, 8)
    assert wild.mean() > omi.mean() + 0.03 and wild.mean() > vac.mean() + 0.02 and not none.any()
    assert wild[~male].mean() > wild[male].mean()


def test_nothing_of_the_new_codes_after_death(pandemic):
    sim = pandemic
    death = get(sim, "death_day")
    obs = rows(sim, *SYMPTOMS, "covid_advice", "covid_self_isolation", "spo2", "covid_icu_admission",
               "post_covid_syndrome", "post_covid_referral")
    dead = death[obs["pat"]] >= 0
    assert (obs["day"][dead] <= death[obs["pat"]][dead]).all()
    t = truth(sim, "covid_truth")
    assert (t["died"] == 1).any()


# ---------------------------------------------------------------- JCVI groups 1 and 2

def test_care_home_residents_first_and_workers_with_the_over_80s():
    sim = covid_sim()
    put(sim, [0, 1, 2, 3], dob=day(1981, 6, 1))  # 39 on 31 March 2021
    plain(sim, [0, 1, 2, 3])
    put(sim, 1, covid_worker=1)
    put(sim, 2, covid_home=1, dob=day(1935, 1, 1))
    put(sim, 3, rf_corticosteroids=True, covid_worker=1)
    g = sim.covid.group(np.array([0, 1, 2, 3]))
    assert g[0] == 11 and g[1] == 1 and g[2] == 0 and g[3] == 1
    assert CFG["vaccination"]["offered"][0] == CFG["vaccination"]["offered"][1] == "2020-12-08"


def test_care_home_and_worker_shares_follow_age():
    sim = covid_sim(n=6000)
    age = np.full(6000, 40.0)
    age[:3000] = 88.0
    put(sim, sim.everyone, dob=(day(2020, 12, 8) - age * 365.25).astype(np.int64))
    home, worker = sim.covid.care_home(sim.everyone), sim.covid.health_worker(sim.everyone)
    v = CFG["vaccination"]
    old = np.interp(88, v["care_home_ages"], v["care_home_share"])
    assert home[:3000].mean() == pytest.approx(old, abs=0.02) and not home[3000:].any()
    assert worker[3000:].mean() == pytest.approx(v["worker_share"], abs=0.015) and not worker[:3000].any()
    # drawn once: asked again, the same people
    assert (sim.covid.care_home(sim.everyone) == home).all()


def test_groups_truth_and_care_home_uptake():
    sim = covid_sim(n=800)
    put(sim, np.arange(0, 800, 2), covid_home=1, dob=day(1935, 1, 1))
    put(sim, np.arange(1, 800, 2), covid_home=0, covid_worker=0)
    run(sim, day(2020, 12, 1), day(2021, 7, 31), steps=("vaccinate",))
    g = truth(sim, "covid_groups")
    pos = np.searchsorted(sim.P, g["pat"])
    assert len(g["pat"]) == 800 and ((g["care_home"] == 1) == (pos % 2 == 0)).all()
    assert (g["jcvi_group"][g["care_home"] == 1] == 0).all() and (g["date"][g["care_home"] == 1] == day(2020, 12, 8)).all()
    first = emitted(sim, "obs", code="covid_vaccination_first")
    home_vacc = np.isin(np.arange(0, 800, 2), first["pat"]).mean()
    assert home_vacc == pytest.approx(CFG["vaccination"]["care_home_uptake"], abs=0.05)


def test_admission_and_discharge_letters(pandemic):
    """Every admission's letter codes the admission on its day (with the pneumonia); survivors' letters code the
    discharge some days on, entered with the letter; those who died have no discharge."""
    sim = pandemic
    t = truth(sim, "covid_truth")
    adm, pneu, out = rows(sim, "hospital_admission"), rows(sim, "covid_pneumonia"), rows(sim, "hospital_discharge")
    assert len(adm["pat"]) == (t["admitted"] == 1).sum() > 5
    assert sorted(zip(adm["pat"], adm["day"])) == sorted(zip(pneu["pat"], pneu["day"]))
    assert (adm["enter"] >= adm["day"] + CFG["hospital"]["letter_days"][0]).all()
    died = set(np.searchsorted(sim.P, t["pat"][t["died"] == 1]))
    assert len(out["pat"]) and not set(out["pat"]) & died
    stay = {}
    for p, d in zip(adm["pat"], adm["day"]):
        stay.setdefault(p, []).append(d)
    lo, hi = CFG["hospital"]["length_of_stay"]
    for p, d, e in zip(out["pat"], out["day"], out["enter"]):
        assert any(lo <= d - a <= hi + CFG["hospital"]["icu_extra_stay"] for a in stay[p]) and e >= d
    assert codes.get("hospital_admission").cluster == "HOSPADM" and codes.get("hospital_discharge").cluster == "HOSPDISCH"


def test_care_home_residents_more_severe_at_60_less_by_90():
    """Paranthaman et al. (covid.toml severity.care_home_or): a care-home resident's multiplier over the same person
    at home is 2.64 at 60, 0.80 at 90, and in between on the log scale."""
    sim = covid_sim(n=6)
    on = day(2020, 11, 1)
    for p, age in zip(sim.everyone, (60, 60, 75, 75, 90, 90)):
        put(sim, p, dob=on - round(age * 365.25))
    put(sim, sim.everyone, male=False, covid_home=np.array([1, 0, 1, 0, 1, 0], dtype=np.int8), covid_worker=0)
    m = sim.covid.multiplier(sim.everyone, on)
    ratio = m[0::2] / m[1::2]
    assert ratio == pytest.approx([2.64, np.sqrt(2.64 * 0.80), 0.80], rel=0.01)
