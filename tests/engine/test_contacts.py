"""Contacts: staff of the patient's practice, bookings, and who consults each month."""

import functools

import numpy as np
import pytest

from synthgp.core import reference, scenario
from synthgp.core.ids import PATID_MULT
from synthgp.engine.services.contacts import rate_by_age
from synthgp.population.people import simulate_people
from synthgp.population.plan import make_plan

from tests.engine.build import SEED, day, emitted, make_sim, month_at, person

ON = day(2017, 9, 12)
JOBS = reference.toml("aurum_lookups.toml")["JobCat"]["job_keys"]


@functools.cache
def two_practices():
    """A block across the boundary of two practices with several GPs, nurses and admin staff each."""
    sc = scenario.build({"population": {"list_size_mean": 8000, "list_size_sd": 0, "list_size_min": 8000,
                                        "list_size_max": 8000}})
    plan = make_plan(sc, SEED, 30_000)
    mid = int(plan.first_record[1])
    return plan, simulate_people(plan, mid - 100, mid + 100)


@pytest.mark.parametrize("job", ["gp", "nurse", "admin"])
def test_staff_belong_to_the_patients_practice_and_do_that_job(job):
    plan, people = two_practices()
    sim = make_sim(plan=plan, people=people)
    prac = sim.state.array("practice")
    assert len(np.unique(prac)) == 2 and (plan.staff_count[np.unique(prac), JOBS.index(job)] >= 2).all()
    pos = np.repeat(sim.everyone, 5)
    step = np.tile(np.arange(5), sim.n)
    staff = sim.contacts.staff(job, pos, "test", step)
    assert (staff % PATID_MULT == people.pracid[sim.P[pos]]).all()
    k = staff // PATID_MULT
    j = JOBS.index(job)
    first, count = plan.staff_first[prac[pos], j], plan.staff_count[prac[pos], j]
    assert ((k >= first) & (k < first + count)).all()
    assert len(np.unique(k[prac[pos] == 0])) == count[prac[pos] == 0][0]  # every one of them is drawn
    again = sim.contacts.staff(job, pos, "test", step)
    assert np.array_equal(staff, again)


def test_booking_records_a_consultation_with_that_job_and_source():
    sim = make_sim()
    person(sim, [3, 4], age=50, on=ON)
    keys = sim.contacts.book(np.array([3, 4]), np.array([ON, ON + 1]), "nurse", "test", 0, "Clinic")
    c = emitted(sim, "cons")
    assert keys.tolist() == [0, 1] and c["pat"].tolist() == [3, 4] and c["day"].tolist() == [ON, ON + 1]
    assert (c["source"] == sim.record.source("Clinic")).all()
    nurse = JOBS.index("nurse")
    prac = sim.state.array("practice")[[3, 4]]
    k = c["staff"] // PATID_MULT
    assert ((k >= sim.plan.staff_first[prac, nurse]) & (k < sim.plan.staff_first[prac, nurse] + sim.plan.staff_count[prac, nurse])).all()


def consultations(sim, age: float, male: bool | None = None, months: int = 36) -> int:
    """Consultations over `months` months with everyone made `age` (and of one sex)."""
    person(sim, sim.everyone, age=age, on=ON, male=male)
    seen = 0
    on = ON
    for _ in range(months):
        m = month_at(sim, on)
        m.age = np.full(len(m.act), float(age))
        sim.contacts.consult(sim, m)
        seen += len(m.consults.pos)
        on = m.day1
    return seen


def test_more_consultations_at_higher_ages():
    counts = [consultations(make_sim(), age) for age in (25, 45, 65, 85)]
    assert counts == sorted(counts) and counts[-1] > 1.8 * counts[0]
    sim = make_sim()
    care, male = sim.care, sim.state.array("male")
    rate = rate_by_age(np.array([25.0]), care.consultation_rate_young, care.consultation_rate_old)[0]
    r = care.female_consultation_ratio
    p = np.where(male, 1 - np.exp(-rate * 2 / (1 + r) / 12), 1 - np.exp(-rate * 2 * r / (1 + r) / 12))
    assert counts[0] == pytest.approx(36 * p.sum(), rel=0.1)


def test_women_consult_more_than_men():
    assert consultations(make_sim(), 40, male=False) > 1.15 * consultations(make_sim(), 40, male=True)


def test_consult_fills_the_months_consultations():
    sim = make_sim()
    person(sim, sim.everyone, age=70, on=ON)
    m = month_at(sim, ON)
    m.vday = m.day0 + (np.arange(len(m.act)) % 28)
    sim.contacts.consult(sim, m)
    c = m.consults
    assert len(c.pos) and np.isin(c.pos, m.act).all()
    idx = np.searchsorted(m.act, c.pos)
    assert (c.day == m.vday[idx]).all() and (c.age == m.age[idx]).all()
    rows = emitted(sim, "cons")
    assert (rows["pat"][c.key] == c.pos).all() and (rows["day"][c.key] == c.day).all()
    phone = sim.record.source("Telephone consultation")
    assert ((rows["source"][c.key] == phone) == c.remote).all()
    assert 0 < c.remote.sum() < len(c.pos)
