"""Seasonal flu vaccination: who is eligible, when and where they are vaccinated, and the truth."""

import numpy as np
import pytest

from synthgp.core import dates

from tests.engine.build import day, emitted, get, make_sim, month_at, person, put, truth

NEVER = np.iinfo(np.int64).max // 4
GROUPS = ("age_65_plus", "clinical_risk", "age_50_64")


def flu_sim(**flu):
    sim = make_sim(flu=flu)
    person(sim, sim.everyone, age=40, on=day(2015, 1, 1))
    put(sim, sim.everyone, rf_type1=False, rf_corticosteroids=False, rf_bmi=25.0)
    return sim


def season(sim, year):
    return next(s for s in sim.flu.seasons if s.year == year)


def born(y, m, d):
    return day(y, m, d)


def test_seasons_start_on_1_september_except_adults_in_2024():
    sim = flu_sim()
    years = [s.year for s in sim.flu.seasons]
    assert years == list(range(2005, 2025))
    assert season(sim, 2019).start == day(2019, 9, 1) and season(sim, 2024).start == day(2024, 10, 3)
    assert season(sim, 2019).month_starts == tuple(day(2019 + (m > 12), (m - 1) % 12 + 1, 1) for m in range(9, 16))


# (season, date of birth, other state, group or -1, day the group starts or None for the season's start)
CASES = [
    (2019, born(1955, 3, 30), {}, 0, None),  # 65 by 31 March 2020
    (2019, born(1955, 4, 1), {}, -1, None),  # 65 on 1 April 2020: too late
    (2019, born(1950, 6, 1), {"known_type2": day(2019, 1, 1)}, 0, None),  # old and at risk: by age
    (2019, born(1979, 1, 1), {"known_type2": day(2019, 8, 31)}, 1, None),
    (2019, born(1979, 1, 1), {"known_type2": day(2019, 9, 2), "onset_type2": day(2010, 1, 1)}, -1, None),
    (2019, born(1979, 1, 1), {"known_ckd": day(2018, 1, 1)}, 1, None),
    (2019, born(1979, 1, 1), {"stroke_day": day(2016, 1, 1)}, 1, None),
    (2019, born(1979, 1, 1), {"stroke_day": day(2019, 10, 1)}, -1, None),  # after the invitation
    (2019, born(1979, 1, 1), {"mi_day": day(2019, 9, 1)}, 1, None),
    (2019, born(1979, 1, 1), {"heart_failure_day": day(2017, 1, 1)}, 1, None),
    (2019, born(1979, 1, 1), {"rf_type1": True}, 1, None),
    (2019, born(1979, 1, 1), {"rf_corticosteroids": True}, 1, None),
    (2015, born(1979, 1, 1), {"rf_bmi": 41.0}, 1, None),  # morbid obesity from 2015/16
    (2014, born(1979, 1, 1), {"rf_bmi": 41.0}, -1, None),
    (2019, born(1979, 1, 1), {"rf_bmi": 38.0, "age_entry": 70.0}, -1, None),
    (2019, born(1965, 6, 1), {}, -1, None),  # healthy 54-year-old: not before 2020/21
    (2020, born(1965, 6, 1), {}, 2, day(2020, 12, 1)),  # the 50-64s from 1 December 2020
    (2020, born(1970, 12, 2), {}, -1, None),  # 49 on 1 December 2020
    (2020, born(1970, 12, 1), {"known_type2": day(2015, 1, 1)}, 1, None),  # at risk: from the start
    (2021, born(1965, 6, 1), {}, 2, day(2021, 9, 1)),
    (2022, born(1965, 6, 1), {}, 2, day(2022, 10, 15)),
    (2023, born(1965, 6, 1), {}, -1, None),  # not eligible from 2023/24
    (2024, born(1950, 6, 1), {}, 0, day(2024, 10, 3)),  # adults from 3 October in 2024/25
]


@pytest.mark.parametrize("year, dob, extra, group, start", CASES)
def test_eligibility(year, dob, extra, group, start):
    sim = flu_sim()
    put(sim, 3, dob=dob, **extra)
    g, s = sim.flu.eligible(np.array([3]), season(sim, year))
    assert g[0] == group
    if group >= 0:
        assert s[0] == (season(sim, year).start if start is None else start)


@pytest.mark.parametrize("year", [2015, 2016, 2017, 2018, 2019, 2021, 2023])  # leap years and not
def test_a_65th_birthday_on_31_march_is_eligible(year):
    sim = flu_sim()
    put(sim, 3, dob=born(year + 1 - 65, 3, 31))
    g, _ = sim.flu.eligible(np.array([3]), season(sim, year))
    assert g[0] == 0


def varied(sim):
    """Everyone simulated throughout, aged 30 to 89 in 2020, a third at risk."""
    rng = np.random.default_rng(5)
    age = rng.uniform(30, 90, sim.n)
    for p, a in zip(sim.everyone, age):
        person(sim, p, age=a, on=day(2020, 9, 1))
    put(sim, sim.everyone, rf_type1=False, rf_bmi=25.0, rf_corticosteroids=rng.random(sim.n) < 0.33)


def run_months(sim, first: int, last: int) -> None:
    """The flu steps, month by month, over the months holding days first..last."""
    on = first
    while on <= last:
        m = month_at(sim, on)
        sim.flu.invite(sim, m)
        sim.flu.vaccinate(sim, m)
        on = m.day1


@pytest.mark.parametrize("year", [2014, 2019, 2020, 2024])
def test_planned_vaccinations_fall_inside_the_season_and_after_the_groups_start(year):
    sim = make_sim(flu={"uptake_scale": 2.0})
    varied(sim)
    sn = season(sim, year)
    group, starts = sim.flu.eligible(sim.everyone, sn)
    m = month_at(sim, sn.start)
    sim.flu.invite(sim, m)
    planned = np.flatnonzero(get(sim, "flu_season") == year)
    assert len(planned) > 0.8 * (group >= 0).sum()
    due = get(sim, "flu_due")[planned]
    assert (due >= starts[planned]).all() and (due >= sn.start).all() and (due < sn.month_starts[6]).all()
    assert (get(sim, "flu_group")[planned] == group[planned]).all()
    assert (get(sim, "flu_due")[group < 0] == NEVER).all()
    if year == 2020:
        fifty = planned[group[planned] == 2]
        assert len(fifty) and (get(sim, "flu_due")[fifty] >= day(2020, 12, 1)).all()
    # most of the 65s and over in September and October
    old = planned[group[planned] == 0]
    assert np.mean(get(sim, "flu_due")[old] < sn.month_starts[2]) > 0.6


@pytest.mark.parametrize("year, some", [(2012, False), (2014, False), (2021, True)])
def test_no_pharmacy_vaccination_before_2015(year, some):
    sim = make_sim(flu={"uptake_scale": 2.0})
    varied(sim)
    assert (sim.flu.pharmacy_share(year) > 0) == some
    sn = season(sim, year)
    sim.flu.invite(sim, month_at(sim, sn.start))
    planned = get(sim, "flu_season") == year
    assert planned.any() and (get(sim, "flu_place")[planned] == 1).any() == some


def test_vaccinations_at_the_practice_and_at_pharmacies_reach_the_record():
    sim = make_sim(flu={"uptake_scale": 2.0, "not_notified": 0.3})
    varied(sim)
    sn = season(sim, 2021)
    run_months(sim, sn.start, sn.month_starts[6] - 1)
    t = truth(sim, "flu_truth")
    vac = t["vaccinated"] == 1
    pat = np.searchsorted(sim.P, t["pat"])
    gp = vac & (t["place"] == "practice")
    ph = vac & (t["place"] == "pharmacy")
    assert gp.any() and ph.any() and (t["recorded"][gp] == 1).all() and (t["recorded"][ph] == 0).any()
    at_gp = emitted(sim, "obs", code="flu_vaccination")
    assert sorted(zip(at_gp["pat"], at_gp["day"])) == sorted(zip(pat[gp], t["date"][gp]))
    assert (at_gp["cons"] >= 0).all()
    cons = emitted(sim, "cons")
    assert (cons["source"][at_gp["cons"]] == sim.record.source("Clinic")).all()
    assert (cons["day"][at_gp["cons"]] == at_gp["day"]).all()
    told = ph & (t["recorded"] == 1)
    at_ph = emitted(sim, "obs", code="flu_vaccination_pharmacy")
    assert sorted(zip(at_ph["pat"], at_ph["day"])) == sorted(zip(pat[told], t["date"][told]))
    delay = at_ph["enter"] - at_ph["day"]
    assert ((delay >= 2) & (delay <= 21)).all() and (at_ph["cons"] == -1).all()
    assert (get(sim, "flu_due") == NEVER).all() and (get(sim, "flu_season") == -1).all()


def test_every_eligible_person_season_has_exactly_one_truth_row():
    sim = make_sim()
    varied(sim)
    # some leave or die mid-season, before a planned vaccination
    put(sim, np.arange(0, sim.n, 7), lst=day(2020, 10, 3))
    want = set()
    on = day(2019, 8, 1)
    while on <= day(2022, 8, 31):
        m = month_at(sim, on)
        for sn in sim.flu.seasons:
            if m.day0 <= sn.start < m.day1:
                here = m.act[(sim.ent[m.act] <= sn.start) & (sim.lst[m.act] >= sn.start)]
                g, _ = sim.flu.eligible(here, sn)
                want |= {(int(sim.P[p]), sn.year, GROUPS[k]) for p, k in zip(here, g) if k >= 0}
        sim.flu.invite(sim, m)
        sim.flu.vaccinate(sim, m)
        on = m.day1
    t = truth(sim, "flu_truth")
    got = list(zip(t["pat"].tolist(), t["season"].tolist(), t["eligible_as"].tolist()))
    assert len(got) == len(set(got)) and set(got) == want
    assert {s for _, s, _ in want} == {2019, 2020, 2021, 2022}
    left = np.isin(t["pat"], sim.P[np.arange(0, sim.n, 7)]) & (t["season"] == 2020)
    assert (t["date"][left & (t["vaccinated"] == 1)] <= day(2020, 10, 3)).all()
    assert (t["date"][t["vaccinated"] == 0] == dates.NONE).all()
    assert (t["vaccinated"][left] == 0).any()  # plans the person did not live or stay to see


def test_nobody_is_vaccinated_when_uptake_is_nil():
    sim = make_sim(flu={"uptake_scale": 0.0, "declined_coded": 1.0})
    varied(sim)
    sn = season(sim, 2019)
    run_months(sim, sn.start, sn.month_starts[6] - 1)
    t = truth(sim, "flu_truth")
    assert len(t["pat"]) > 20 and (t["vaccinated"] == 0).all()
    d = emitted(sim, "obs", code="flu_vaccination_declined")
    assert len(d["pat"]) == len(t["pat"])
    assert ((d["day"] >= sn.start + 30) & (d["day"] < sn.start + 90)).all()
