"""Contacts: staff of the patient's practice, bookings on working days, and who consults each month (every age):
rates by age and sex, weekdays, the pandemic, roles and modes (data/consultations.toml)."""

import datetime as dt
import functools

import numpy as np
import pytest

from synthgp.core import reference, scenario
from synthgp.core.bank_holidays import easter, holidays, is_holiday, to_working_day_before
from synthgp.core.ids import PATID_MULT
from synthgp.engine.services.contacts import Plan, poisson, to_working_day, weekday
from synthgp.population.people import simulate_people
from synthgp.population.plan import make_plan

from tests.engine.build import SEED, day, emitted, make_sim, month_at, person, put

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


def test_weekdays_and_working_days():
    monday = day(2024, 1, 8)  # a Monday, not a bank holiday
    assert weekday(monday) == 0 and weekday(monday + 5) == 5 and weekday(monday + 6) == 6
    week = monday + np.arange(7)
    assert to_working_day(week).tolist() == [monday, monday + 1, monday + 2, monday + 3, monday + 4, monday + 7, monday + 7]


def test_bank_holidays_are_not_working_days():
    """England and Wales, against GOV.UK's published lists (2021-2024: substitutes, jubilee, funeral, coronation)."""
    published = {2021: ["01-01", "04-02", "04-05", "05-03", "05-31", "08-30", "12-27", "12-28"],
                 2022: ["01-03", "04-15", "04-18", "05-02", "06-02", "06-03", "08-29", "09-19", "12-26", "12-27"],
                 2023: ["01-02", "04-07", "04-10", "05-01", "05-08", "05-29", "08-28", "12-25", "12-26"],
                 2024: ["01-01", "03-29", "04-01", "05-06", "05-27", "08-26", "12-25", "12-26"]}
    for year, days in published.items():
        assert sorted(h for h in holidays() if h.year == year) == [dt.date.fromisoformat(f"{year}-{d}") for d in days]
    assert easter(2019) == dt.date(2019, 4, 21) and easter(2038) == dt.date(2038, 4, 25)
    christmas_eve = day(2021, 12, 24)  # a Friday; Christmas and Boxing Day on the weekend, made up Mon 27 and Tue 28
    assert to_working_day(christmas_eve + np.arange(6)).tolist() == [christmas_eve] + [christmas_eve + 5] * 5
    assert to_working_day_before(christmas_eve + np.arange(6)).tolist() == [christmas_eve] * 5 + [christmas_eve + 5]
    assert is_holiday(np.array([day(2020, 5, 8), day(2020, 5, 4)])).tolist() == [True, False]  # VE Day moved


def test_weekend_bookings_spread_evenly_over_the_next_working_week():
    """A clinic due on a Saturday or Sunday goes to one of the next five working days, each about a fifth (so Monday
    is not the week's busiest day by the weekend's bookings); a working day's booking stays; urgent care (no pos)
    still takes the next working day."""
    sim = make_sim()
    pos = np.arange(sim.n)
    person(sim, pos, age=50, on=ON)
    saturday = day(2017, 9, 16)  # the next five working days are 18-22 September (no bank holiday)
    got = []
    for k in range(40):  # 40 weekends of bookings for everyone
        d = saturday + 7 * k + (pos % 2)
        sat = d - (d - saturday) % 7
        moved = sim.contacts.weekday(d, pos)
        assert (moved > d).all() and (moved - sat <= 13).all()
        got.append(weekday(moved))
    got = np.concatenate(got)
    assert not (got >= 5).any()
    share = np.bincount(got, minlength=5)[:5] / len(got)
    se = np.sqrt(0.2 * 0.8 / len(got))
    assert np.abs(share - 0.2).max() < 4 * se, share  # four standard errors: the draw is uniform over five days
    wednesday = saturday + 4
    assert (sim.contacts.weekday(np.full(sim.n, wednesday), pos) == wednesday).all()
    assert sim.contacts.weekday(np.array([saturday, saturday + 1])).tolist() == [saturday + 2, saturday + 2]
    keys = sim.contacts.book(pos[:50], np.full(50, saturday), "gp", "test", 0, "Clinic")
    held = emitted(sim, "cons")["day"]
    assert len(keys) == 50 and ((held >= saturday + 2) & (held <= saturday + 6)).all() and len(np.unique(held)) > 1


def test_poisson_counts_have_the_mean_and_variance_asked_for():
    rng = np.random.default_rng(3)
    for lam in (0.1, 0.8, 2.5):
        k = poisson(rng.random(200_000), np.full(200_000, lam))
        assert k.mean() == pytest.approx(lam, rel=0.02) and k.var() == pytest.approx(lam, rel=0.03)


def seen_over(sim, pos, age: float, start: int, months: int, male=None):
    """Everyday consultations (contacts.seen) over `months` months from `start`, everyone of `pos` made `age`
    (children too: the month's every-age arrays are filled as the engine fills them)."""
    person(sim, pos, age=age, on=start, male=male)
    put(sim, pos, ent=np.where(age >= 18, sim.start, sim.end + 1))  # a child stays a child
    rows, on = [], start
    for _ in range(months):
        m = month_at(sim, on, act=pos if age >= 18 else np.empty(0, np.int64))
        m.all, m.all_vday, m.all_age = pos, np.full(len(pos), on), np.full(len(pos), float(age))
        if age >= 18:
            m.age = np.full(len(m.act), float(age))
        sim.contacts.consult(sim, m)
        rows.append((m, sim.contacts.seen))
        on = m.day1
    return rows


@pytest.mark.parametrize("age", [2.0, 10.0, 30.0, 55.0, 80.0])
def test_rates_by_age_and_sex_are_the_data_files_within_sampling_error(age):
    """Calibration check at a fixed seed: 3 years of 120 people, each sex apart; tolerance 4 standard errors of a
    Poisson count with the lognormal propensity (variance mean * (1 + mean * (exp(sigma^2) - 1)) a person)."""
    plan = Plan()
    for male in (False, True):
        sim = make_sim()
        months = 36
        rows = seen_over(sim, sim.everyone, age, ON, months, male=male)
        n = sum(len(s.pos) for _, s in rows)
        level = np.mean([plan.level(m.day0) for m, _ in rows])
        expect = plan.everyday(np.array([age]), np.array([male]))[0] * level * months / 12 * sim.n
        per = expect / sim.n
        sd = np.sqrt(sim.n * (per + per * per * (np.exp(plan.sigma ** 2) - 1)))
        assert abs(n - expect) < 4 * sd, (age, male, n, expect)


def test_women_of_working_age_consult_more_and_the_curve_is_u_shaped():
    plan = Plan()
    f = plan.everyday(np.array([2.0, 10.0, 30.0, 85.0]), np.zeros(4, bool))
    m = plan.everyday(np.array([2.0, 10.0, 30.0, 85.0]), np.ones(4, bool))
    assert f[2] > 1.8 * m[2]
    assert min(f[0], f[3]) > f[1] and min(m[0], m[3]) > m[1] and m[3] > m[2] > m[1]


def test_children_consult_and_are_not_in_the_adults_consultations():
    sim = make_sim()
    rows = seen_over(sim, sim.everyone, 3.0, ON, 12)
    assert sum(len(s.pos) for _, s in rows) > 3 * sim.n
    assert all(len(m.consults.pos) == 0 for m, _ in rows)
    jobs = np.concatenate([s.job for _, s in rows])
    assert set(np.unique(jobs)) <= {Plan().jobs.index("gp"), Plan().jobs.index("nurse")}


def test_no_consultation_on_a_sunday_few_on_saturdays_and_all_inside_the_month_and_registration():
    sim = make_sim()
    rows = seen_over(sim, sim.everyone, 40.0, ON, 24)
    for m, s in rows:
        assert ((s.day >= m.day0) & (s.day < m.day1)).all()
    days = np.concatenate([s.day for _, s in rows])
    assert not (weekday(days) == 6).any()
    assert (weekday(days) == 5).mean() < 0.03
    sim = make_sim()
    person(sim, sim.everyone, age=40, on=ON)
    put(sim, sim.everyone, lst=ON + 3)  # all leave on the fourth day of the month
    m = month_at(sim, ON)
    m.age = np.full(len(m.act), 40.0)
    sim.contacts.consult(sim, m)
    assert len(sim.contacts.seen.pos) and (sim.contacts.seen.day <= ON + 3).all()


def test_the_pandemic_cuts_april_2020_and_remote_consultations_rise():
    sim = make_sim()
    put(sim, sim.everyone, consult_frailty=10.0)  # many consultations, so a month's count is precise
    april19 = seen_over(sim, sim.everyone, 50.0, day(2019, 4, 5), 1)[0][1]
    before = seen_over(sim, sim.everyone, 50.0, day(2019, 6, 5), 6)
    sim = make_sim()
    put(sim, sim.everyone, consult_frailty=10.0)
    april20 = seen_over(sim, sim.everyone, 50.0, day(2020, 4, 5), 1)[0][1]
    after = seen_over(sim, sim.everyone, 50.0, day(2020, 6, 5), 6)
    plan = Plan()
    assert plan.level(day(2020, 4, 5)) / plan.level(day(2019, 4, 5)) == pytest.approx(0.73 / 0.97, rel=0.02)
    assert len(april20.pos) == pytest.approx(len(april19.pos) * 0.73 / 0.97, rel=0.12)  # about 440 a month: SE 5%
    f2f = sim.record.source("Face to face consultation")
    share = lambda rows: np.mean(np.concatenate([s.source for _, s in rows]) == f2f)  # noqa: E731
    assert share(before) > 0.7 and share(after) < 0.55


def test_the_months_consultations_are_one_per_adult_preferring_a_nurse_or_hca_face_to_face():
    sim = make_sim()
    person(sim, sim.everyone, age=70, on=ON)
    put(sim, sim.everyone, consult_frailty=8.0)  # several consultations each
    m = month_at(sim, ON)
    m.age = np.full(len(m.act), 70.0)
    sim.contacts.consult(sim, m)
    s, c = sim.contacts.seen, m.consults
    assert len(s.pos) > 2 * len(c.pos) and len(np.unique(c.pos)) == len(c.pos) and np.isin(c.pos, m.act).all()
    jobs = Plan().jobs
    rows = emitted(sim, "cons")
    assert (rows["pat"][c.key] == c.pos).all() and (rows["day"][c.key] == c.day).all()
    f2f = sim.record.source("Face to face consultation")
    for p, k, remote in zip(c.pos, c.key, c.remote):
        mine = s.pos == p
        pick = np.flatnonzero(s.key == k)[0]
        f2f_nurse = mine & (s.source == f2f) & np.isin(s.job, [jobs.index("nurse"), jobs.index("hca")])
        if f2f_nurse.any():
            assert f2f_nurse[pick]
        assert remote == (s.source[pick] != f2f and s.source[pick] != sim.record.source("Home visit"))


def test_staff_do_the_job_drawn_and_home_visits_are_gps_for_the_old():
    sim = make_sim()
    rows = seen_over(sim, sim.everyone, 85.0, ON, 12)
    s = [x for _, x in rows]
    job, staff, source = (np.concatenate([getattr(x, f) for x in s]) for f in ("job", "staff", "source"))
    jobs = Plan().jobs
    home = source == sim.record.source("Home visit")
    assert home.any() and (job[home] == jobs.index("gp")).all()
    prac = sim.state.array("practice")[np.concatenate([x.pos for x in s])]
    for k, name in enumerate(jobs):
        j = JOBS.index(name)
        sel = job == k
        first, count = sim.plan.staff_first[prac[sel], j], sim.plan.staff_count[prac[sel], j]
        idx = staff[sel] // PATID_MULT
        assert ((idx >= first) & (idx < first + count)).all()


def test_an_entry_at_a_booking_moved_off_a_weekend_takes_the_consultations_day():
    sim = make_sim()
    person(sim, [3, 4], age=50, on=ON)
    saturday = day(2017, 9, 16)
    k = sim.contacts.book(np.array([3, 4]), np.array([saturday, saturday - 1]), "nurse", "test", 0, "Clinic")
    code = sim.record.code("fit_note")
    sim.record.observation(np.array([3, 4]), np.array([saturday, saturday - 1]), code, cons=k)
    sim.record.observation(np.array([3]), np.array([saturday]), code)  # at no consultation: its own day
    sim.record.blood_pressure(np.array([3]), np.array([saturday]), [150.0], [90.0], k[:1])
    obs = emitted(sim, "obs")
    held = emitted(sim, "cons")["day"][0]
    assert saturday + 2 <= held <= saturday + 6
    assert obs["day"].tolist() == [held, saturday - 1, saturday, held, held]
