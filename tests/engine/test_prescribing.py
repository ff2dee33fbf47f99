"""Prescribing: the antihypertensive slots, their issues, and regular medicines."""

import numpy as np
import pytest

from synthgp.core.bank_holidays import to_working_day
from synthgp.core.ids import PATID_MULT
from synthgp.engine.services.contacts import weekday
from synthgp.engine.services.prescribing import NEVER, REGULAR_COURSE_BASE, REGULAR_COURSE_STRIDE, SLOTS

from tests.engine.build import day, emitted, get, make_sim, month_at, person, put

ON = day(2019, 5, 10)


def sim_with(pos, **fields):
    sim = make_sim()
    person(sim, pos, age=60, on=ON)
    put(sim, pos, adherence=1.0, repeat_days=28, **fields)
    return sim


def med(sim, name):
    return sim.rx.meds.index[name]


def test_slot_changes_keep_units_equal_to_the_sum_over_slots():
    pos = np.array([0, 1])
    sim = sim_with(pos)
    rx = sim.rx
    units = get(sim, "rx_units")
    steps = [
        (lambda: rx.set_drug(pos, "A", med(sim, "ramipril"), 1, ON), 0.78),  # a step below standard (Law 2003)
        (lambda: rx.set_drug(pos, "C", med(sim, "amlodipine"), 0, ON), 1.78),  # amlodipine 5 mg is standard
        (lambda: rx.titrate(pos, SLOTS.index("A"), ON), 2.0),  # ramipril up to standard
        (lambda: rx.titrate(pos, SLOTS.index("C"), ON), 2.25),  # amlodipine 10 mg
        (lambda: rx.set_drug(pos, "A", med(sim, "losartan"), 0, ON), 2.03),  # a switch replaces the slot
        (lambda: rx.set_drug(pos, "D", med(sim, "indapamide"), 0, ON), 3.03),
        (lambda: rx.stop_slot(pos, "C"), 1.78),
        (lambda: rx.stop_slot(pos, "A"), 1.0),
        (lambda: rx.stop_slot(pos, "D"), 0.0),
    ]
    for change, want in steps:
        change()
        assert units[pos] == pytest.approx([want, want])
        assert (rx.units(pos) == units[pos]).all()
        assert rx.on_any(pos).tolist() == [want > 0] * 2
    assert (get(sim, "rx_drug")[pos] == -1).all() and (get(sim, "rx_course")[pos] == -1).all()


def test_every_start_or_titration_is_a_new_course_issued_from_its_day():
    pos = np.array([0, 1])
    sim = sim_with(pos)
    rx, course = sim.rx, get(sim, "rx_course")
    rx.set_drug(pos, "A", med(sim, "ramipril"), 1, ON)
    first = course[pos, 0].copy()
    rx.set_drug(pos, "C", med(sim, "amlodipine"), 0, np.array([ON + 3, ON + 4]))
    assert get(sim, "rx_next_issue")[pos].tolist() == [ON + 3, ON + 4]
    rx.titrate(pos[:1], 0, ON + 9)
    assert course[0, 0] not in (first[0], course[1, 0]) and course[1, 0] == first[1]
    assert len(np.unique(course[pos][course[pos] >= 0])) == 4
    assert get(sim, "rx_level")[pos, 0].tolist() == [2, 1] and get(sim, "rx_next_issue")[0] == ON + 9


def test_a_due_regimen_issues_every_held_slot_on_one_day_with_a_course_each():
    pos = np.array([5])
    sim = sim_with(pos)
    m = month_at(sim, ON)
    due = m.day0 + 5
    sim.rx.set_drug(pos, "A", med(sim, "ramipril"), 2, due)
    sim.rx.set_drug(pos, "C", med(sim, "amlodipine"), 0, due)
    sim.rx.issue(sim, m)
    iss = emitted(sim, "issue")
    assert iss["pat"].tolist() == [5, 5] and iss["day"].tolist() == [due, due]
    assert iss["course"].tolist() == get(sim, "rx_course")[5, :2].tolist()
    meds = sim.rx.meds
    assert iss["prod"].tolist() == [meds.prod[med(sim, "ramipril"), 2], meds.prod[med(sim, "amlodipine"), 0]]
    assert iss["dosage"].tolist() == ["OD1C", "OD1"] and iss["qunit"].tolist() == [2, 1]  # ramipril is a capsule
    assert (iss["qty"] == 28).all() and (iss["duration"] == 28).all()
    assert (iss["staff"] % PATID_MULT == sim.people.pracid[sim.P[5]]).all()
    assert get(sim, "rx_next_issue")[5] == due + 28


def test_a_56_day_repeat_issues_twice_the_quantity_at_twice_the_cost():
    pos = np.array([5, 6])
    sim = sim_with(pos)
    put(sim, 6, repeat_days=56)
    m = month_at(sim, ON)
    sim.rx.set_drug(pos, "C", med(sim, "amlodipine"), 0, m.day0 + 5)
    sim.rx.issue(sim, m)
    iss = emitted(sim, "issue")
    assert iss["qty"].tolist() == [28, 56] and iss["duration"].tolist() == [28, 56]
    assert iss["cost"][1] == pytest.approx(2 * iss["cost"][0], abs=0.011)
    assert get(sim, "rx_next_issue")[pos].tolist() == [m.day0 + 33, m.day0 + 61]


def test_a_stopped_regimen_issues_nothing():
    pos = np.array([5, 6])
    sim = sim_with(pos)
    m = month_at(sim, ON)
    sim.rx.set_drug(pos, "A", med(sim, "losartan"), 1, m.day0 + 5)
    sim.rx.stop_taking(pos[:1], m.day0)
    sim.rx.issue(sim, m)
    assert emitted(sim, "issue")["pat"].tolist() == [6]
    assert get(sim, "rx_next_issue")[5] == m.day0 + 5  # still due: nothing moves while stopped
    assert get(sim, "rx_stop_day")[5] == m.day0


def test_nothing_is_issued_after_the_last_day_or_when_nothing_is_held():
    pos = np.array([5, 6])
    sim = sim_with(pos)
    m = month_at(sim, ON)
    sim.rx.set_drug(pos, "A", med(sim, "losartan"), 1, m.day0 + 10)
    put(sim, 5, lst=m.day0 + 9)
    sim.rx.stop_slot(pos[1:], "A")
    sim.rx.issue(sim, m)
    assert len(emitted(sim, "issue")["pat"]) == 0
    assert get(sim, "rx_next_issue")[5] == m.day0 + 10  # past their last day: left as it was
    assert get(sim, "rx_next_issue")[6] == NEVER  # nothing held: never due again


@pytest.mark.parametrize("delay, adherence, gap", [(1.0, 1.0, 28), (1.0, 0.9, 31), (1.0, 0.7, 40), (1.0, 0.5, 56),
                                                     (1.0, 0.2, 80), (0.5, 0.5, 37), (0.0, 0.2, 28), (0.0, 1.0, 28)])
def test_untaken_doses_delay_the_next_issue_by_the_share_set(delay, adherence, gap):
    pos = np.array([7])
    sim = sim_with(pos)
    sim.care = sim.care.model_copy(update={"refill_delay_share": delay})
    put(sim, 7, adherence=adherence)
    m = month_at(sim, ON)
    sim.rx.set_drug(pos, "D", med(sim, "indapamide"), 0, m.day0 + 5)
    sim.rx.issue(sim, m)
    assert get(sim, "rx_next_issue")[7] - (m.day0 + 5) == gap
    assert len(emitted(sim, "issue")["day"]) == 1


def test_an_overdue_regimen_catches_up_at_most_three_issues_in_a_month():
    pos = np.array([7])
    sim = sim_with(pos)
    m = month_at(sim, ON)
    sim.rx.set_drug(pos, "D", med(sim, "indapamide"), 0, m.day0 - 200)
    sim.rx.issue(sim, m)
    assert emitted(sim, "issue")["day"].tolist() == [m.day0 - 200, m.day0 - 172, m.day0 - 144]


def test_history_issues_three_repeats_before_entry():
    pos = np.array([3, 4])
    sim = sim_with(pos)
    ent = ON
    put(sim, pos, ent=ent, first_allowed=[ent - 1000, ent - 60])
    sim.rx.set_drug(pos, "A", med(sim, "ramipril"), 1, ent)
    sim.rx.set_drug(pos, "C", med(sim, "amlodipine"), 0, ent)
    sim.rx.history(pos)
    iss = emitted(sim, "issue")
    three = iss["pat"] == 3
    assert iss["day"][three].tolist() == [ent - 84] * 2 + [ent - 56] * 2 + [ent - 28] * 2
    assert iss["day"][~three].tolist() == [ent - 56] * 2 + [ent - 28] * 2  # none before registration
    for p in pos:  # the issues carried over belong to the current courses
        assert set(iss["course"][iss["pat"] == p]) == set(get(sim, "rx_course")[p, :2])
    assert (iss["day"] < ent).all()


def test_regular_medicines_are_issued_every_28_days_on_working_days_from_a_day_in_the_first_four_weeks():
    pos = np.array([8, 9])
    sim = sim_with(pos)
    ent = ON - 3
    put(sim, pos, ent=ent)
    sim.rx.start_regular(pos[:1], "olanzapine")
    sim.rx.start_regular(pos[1:], "prednisolone")
    on = ent
    for _ in range(4):
        m = month_at(sim, on)
        sim.rx.issue(sim, m)
        on = m.day1
    iss = emitted(sim, "issue")
    for p, j in ((8, 0), (9, 1)):
        days = iss["day"][iss["pat"] == p]
        assert ent <= days[0] < ent + 30 and (np.diff(days) == 28).all() and len(days) >= 3
        assert (weekday(days) < 5).all()  # the cycle runs on working days (issue 17: they peaked on Saturdays)
        assert (iss["course"][iss["pat"] == p] == p + REGULAR_COURSE_BASE + j * REGULAR_COURSE_STRIDE).all()
    assert (iss["qty"] == 28).all()
    prod = {sim.rx.meds.prod[med(sim, "olanzapine"), 0], sim.rx.meds.prod[med(sim, "prednisolone"), 0]}
    assert set(iss["prod"]) == prod


def test_regular_history_is_a_year_of_issues_before_registration_in_step_with_the_cycle():
    pos = np.array([8, 9])
    sim = sim_with(pos)
    put(sim, pos, ent=ON, first_allowed=[ON - 1000, ON - 100])
    sim.rx.start_regular(pos, "olanzapine")
    sim.rx.regular_history()
    iss = emitted(sim, "issue")
    cycle = get(sim, "regular_next")[pos]
    assert ((cycle >= ON) & (cycle < ON + 30)).all() and (weekday(cycle) < 5).all()
    # in step with the cycle, a bank holiday's issue on the next working day
    assert iss["day"][iss["pat"] == 8].tolist() == [to_working_day(cycle[0] - 28 * k) for k in range(13, 0, -1)]
    assert iss["day"][iss["pat"] == 9].tolist() == [to_working_day(cycle[1] - 28 * k) for k in range(13, 0, -1)
                                                   if cycle[1] - 28 * k >= ON - 100]
    assert (iss["day"] < ON).all()


def test_carried_in_repeats_run_on_each_persons_weekday_not_all_on_the_day_the_record_starts():
    """Repeats held when the record starts (started before entry, or `carried`) take each person's own cycle day, evenly
    over the weekdays of the first four weeks; one started since entry runs from its day. (Anchored at entry, every
    carried-in repeat of the list fell on one weekday: 2.4 times the others' issues on Tuesdays, seed 5.)"""
    sim = make_sim(n=2000)
    pos = np.arange(sim.n)
    put(sim, pos, ent=ON, lst=ON + 3650)
    sim.rx.start_regular(pos[::2], "olanzapine", np.full(len(pos[::2]), ON - 400))
    sim.rx.start_regular(pos[1::2], "olanzapine", np.full(len(pos[1::2]), ON), carried=True)
    cycle = get(sim, "regular_next")[pos]
    assert ((cycle >= ON) & (cycle < ON + 28)).all() and (weekday(cycle) < 5).all()
    share = np.bincount(weekday(cycle), minlength=5)[:5] / len(pos)
    assert len(pos) >= 1000 and (np.abs(share - 0.2) < 0.05).all(), share  # binomial SE about 0.013
    later = pos[:3]
    sim.rx.start_regular(later, "prednisolone", np.full(3, ON + 40))  # since entry: from its day, issued on it
    assert (get(sim, "regular_next")[later] == cycle[:3]).all()
    issued = emitted(sim, "issue")
    assert (issued["day"][np.isin(issued["pat"], later)] == to_working_day(ON + 40)).all()


def test_restart_brings_the_next_issue_to_the_restart_day():
    pos = np.array([5])
    sim = sim_with(pos)
    sim.rx.set_drug(pos, "A", med(sim, "losartan"), 1, ON + 40)
    sim.rx.stop_taking(pos, ON)
    sim.rx.restart(pos, np.array([ON + 10]))
    assert not get(sim, "rx_stopped")[5] and get(sim, "rx_next_issue")[5] == ON + 10


def test_a_restarted_regimen_is_issued_from_the_restart_day_not_back_dated():
    pos = np.array([5])
    sim = sim_with(pos)
    m0 = month_at(sim, ON)
    due = m0.day0 + 5
    sim.rx.set_drug(pos, "A", med(sim, "losartan"), 1, due)
    sim.rx.stop_taking(pos, m0.day0)
    sim.rx.issue(sim, m0)  # stopped: not issued, still due on `due`
    later = month_at(sim, ON + 200)
    restart = later.day0 + 3
    sim.rx.restart(pos, np.array([restart]))
    sim.rx.issue(sim, later)
    days = emitted(sim, "issue")["day"]
    assert len(days) and (days >= restart).all(), days


def test_problem_keys_are_per_simulated_patient():
    sim = make_sim()
    sim.rx.link_problem(np.array([2]), np.array([77]))
    pk = sim.rx.problem_keys()
    assert (pk["pat"] == sim.P).all() and pk["key"][2] == 77 and (np.delete(pk["key"], 2) == -1).all()
    assert get(sim, "rx_next_issue")[0] == NEVER  # nothing is issued until a regimen starts
