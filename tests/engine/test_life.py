"""Life: ageing, BMI drift, quitting smoking, and deaths brought forward."""

import dataclasses

import numpy as np
import pytest

from synthgp.core import reference
from synthgp.core.bank_holidays import to_working_day
from synthgp.engine.sim import YEAR

from tests.engine.build import day, emitted, get, make_sim, month_at, person, put

STUDY = day(2018, 6, 1)


def test_die_moves_the_last_day_earlier_and_keeps_the_earliest_death():
    sim = make_sim()
    pos = np.array([1, 2])
    person(sim, pos, age=70, on=STUDY)
    sim.life.die(sim, pos, np.array([STUDY, STUDY + 10]), "stroke", 0)
    assert get(sim, "lst")[pos].tolist() == [STUDY, STUDY + 10]
    assert get(sim, "death_day")[pos].tolist() == [STUDY, STUDY + 10]
    # a second death: an earlier one wins, a later one changes nothing
    sim.life.die(sim, pos, np.array([STUDY + 30, STUDY - 5]), "mi", 1)
    assert get(sim, "death_day")[pos].tolist() == [STUDY, STUDY - 5]
    assert get(sim, "lst")[pos].tolist() == [STUDY, STUDY - 5]
    dereg = get(sim, "dereg_day")[pos]
    assert (dereg >= get(sim, "death_day")[pos]).all() and (dereg <= sim.end).all()


def test_death_is_no_later_than_the_last_day():
    sim = make_sim()
    person(sim, 3, age=70, on=STUDY)
    put(sim, 3, lst=STUDY)
    sim.life.die(sim, np.array([3]), np.array([STUDY + 100]), "stroke", 0)
    assert get(sim, "death_day")[3] == STUDY == get(sim, "lst")[3]


def test_deregistration_after_the_end_of_data_collection_is_unseen():
    sim = make_sim()
    pos = np.arange(40)
    person(sim, pos, age=80, on=STUDY)
    sim.life.die(sim, pos, np.full(40, sim.end), "stroke", 0)
    dereg = get(sim, "dereg_day")[pos]
    assert set(np.unique(dereg)) <= {-1, sim.end}  # the day of death itself, or not yet
    assert (dereg == -1).sum() > 30  # most take days to be deregistered
    # deaths well before the end are deregistered, after the death and by the end
    early = np.arange(40, 60)
    person(sim, early, age=80, on=STUDY)
    sim.life.die(sim, early, np.full(20, sim.end - 400), "stroke", 0)
    d = get(sim, "dereg_day")[early]
    assert ((d >= sim.end - 400) & (d <= sim.end)).all() and (d > sim.end - 400).any()


def test_outcome_combines_pathway_deaths_with_the_populations_own():
    base = make_sim()
    people = base.people
    died = base.P[people.death[base.P] >= 0]
    assert len(died) >= 2
    sim = make_sim(people=dataclasses.replace(people, death=people.death.copy(), regend=people.regend.copy()))
    pos_of = {b: i for i, b in enumerate(sim.P)}
    a, b = pos_of[died[0]], pos_of[died[1]]
    alive = int(np.flatnonzero((people.death[sim.P] < 0) & (people.regend[sim.P] < 0))[0])
    own_a, own_b = people.death[died[0]], people.death[died[1]]
    # an earlier death for a, none for b, a death for someone the population keeps alive
    put(sim, a, lst=own_a)
    sim.life.die(sim, np.array([a, alive]), np.array([own_a - 20, sim.end - 300]), "mi", 0)
    death, regend = sim.life.outcome(sim)
    assert death[sim.P[a]] == own_a - 20
    assert death[sim.P[b]] == own_b and regend[sim.P[b]] == people.regend[sim.P[b]]
    assert death[sim.P[alive]] == sim.end - 300
    assert regend[sim.P[alive]] == get(sim, "dereg_day")[alive]
    assert sim.log.last_day[sim.P[a]] == own_a - 20 == get(sim, "lst")[a]
    # everyone else keeps the population's dates; the population's arrays are not changed
    other = np.setdiff1d(np.arange(len(people.index)), sim.P[[a, alive]])
    assert (death[other] == people.death[other]).all() and (regend[other] == people.regend[other]).all()
    assert sim.people.death[sim.P[a]] == own_a


def test_advance_gives_each_a_day_inside_the_month_and_their_time():
    sim = make_sim()
    person(sim, [0, 1, 2], age=50, on=STUDY)
    m = month_at(sim, STUDY)
    put(sim, 1, ent=m.day0 + 20)
    put(sim, 2, lst=m.day0 + 2)
    sim.life.advance(sim, m)
    i = np.searchsorted(m.act, [0, 1, 2])
    assert ((m.vday >= m.day0) & (m.vday < m.day1)).all()
    assert m.vday[i[1]] >= m.day0 + 20 and m.vday[i[2]] <= m.day0 + 2
    assert np.allclose(m.age, (m.vday - get(sim, "dob")[m.act]) / YEAR)
    assert np.allclose(m.bmi, sim.life.bmi_at(m.act, m.vday))


@pytest.mark.parametrize("age_at_entry, years_on, drift_years, old_years", [(40, 10, 10, 0), (60, 10, 5, 0), (70, 10, 0, 5),
                                                                      (40, -1, 0, 0)])
def test_bmi_drifts_up_until_65_and_falls_from_75(age_at_entry, years_on, drift_years, old_years):
    sim = make_sim()
    ent = sim.start + 1000
    put(sim, 0, ent=ent, age_entry=age_at_entry, rf_bmi=27.0, bmi_slope=0.0)
    got = sim.life.bmi_at(np.array([0]), ent + years_on * YEAR)[0]
    old = reference.toml("prevention.toml")["bmi"]["old_age_per_year"]
    assert got == pytest.approx(27.0 + sim.life.drift * drift_years + old * old_years)
    assert sim.life.drift > 0 and old < 0


def test_each_person_has_a_bmi_slope_of_their_own():
    sim = make_sim()
    ent = sim.start + 1000
    put(sim, [0, 1], ent=ent, age_entry=40.0, rf_bmi=27.0, bmi_slope=[0.2, -0.2])
    got = sim.life.bmi_at(np.array([0, 1]), ent + 5 * YEAR)
    assert got[0] - got[1] == pytest.approx(2.0)
    slopes = get(sim, "bmi_slope")
    assert 0.05 < slopes.std() < 0.3 and abs(slopes.mean()) < 0.05


def test_smokers_quit_on_their_day():
    sim = make_sim()
    pos = np.array([0, 1, 2, 3])
    person(sim, pos, age=50, on=STUDY)
    m = month_at(sim, STUDY, act=pos)
    put(sim, pos, smoking=[3, 4, 2, 0], quit_day=[STUDY, STUDY + 1, STUDY - 300, STUDY - 300])
    sim.life.quit_smoking(sim, m)
    assert get(sim, "smoking")[pos].tolist() == [1, 4, 1, 0]


def test_history_records_bmi_and_smoking_at_the_history_day_of_those_who_enter_as_adults():
    sim = make_sim()
    sim.life.history(sim)
    bmi = emitted(sim, "obs", code="bmi")
    adults = np.flatnonzero(sim.ent <= sim.lst)
    assert 0 < len(adults) < sim.n  # the block has children who stay children: they bring no adult history
    # everyone, but the adults who join during the simulation and miss their new-patient check
    joined = (sim.ent[adults] == get(sim, "first_allowed")[adults]) & (get(sim, "first_allowed")[adults] > sim.start)
    missed = adults[~np.isin(adults, bmi["pat"])]
    assert np.isin(missed, adults[joined]).all() and len(missed) < joined.sum() / 2
    adults = adults[np.isin(adults, bmi["pat"])]
    assert bmi["pat"].tolist() == adults.tolist()
    # the new-patient check is booked on a working day: a history day on a closed day moves to one of the next five
    # working days (contacts.weekday with pos), never earlier (a weighing at no consultation keeps its day)
    hd_all = get(sim, "history_day")[adults]
    moved = bmi["day"] != hd_all
    assert (to_working_day(hd_all[~moved]) == hd_all[~moved]).mean() > 0.6
    assert ((bmi["day"][moved] > hd_all[moved]) & (bmi["day"][moved] <= hd_all[moved] + 13)).all()
    assert (to_working_day(bmi["day"][moved]) == bmi["day"][moved]).all()
    assert len(np.unique(bmi["day"][moved] - to_working_day(hd_all[moved]))) > 2  # spread, not all the next day
    # a weighing varies about the true weight (data/prevention.toml [bmi] weighing_sd, capped at 3 sd)
    assert np.allclose(bmi["value"], sim.life.bmi_at(adults, sim.ent[adults]), rtol=0.05, atol=0.05)
    hd = get(sim, "history_day")[adults]
    ent = sim.ent[adults]
    assert (hd <= ent).all() and (hd >= get(sim, "first_allowed")[adults]).all() and (hd >= ent - 3 * YEAR - 1).all()


def test_everyone_is_simulated_from_birth_or_registration_and_adult_care_from_eighteen():
    sim = make_sim()
    dob = get(sim, "dob")
    assert (sim.first >= dob).all() and (sim.first <= sim.lst).all() and (sim.first <= sim.ent).all()
    assert ((sim.ent - dob) >= np.round(18 * YEAR)).all()
    born_here = sim.first == dob  # born during the period simulated, or registered at birth
    assert ((sim.ent - dob)[born_here] == np.round(18 * YEAR)).all()
