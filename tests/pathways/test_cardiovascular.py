"""Cardiovascular events: deaths through the life service, the truth, and the practice's follow-up."""

import numpy as np
import pytest

from synthgp.core import codes

from tests.engine.build import day, emitted, get, make_sim, month_at, person, put, truth

ON = day(2020, 7, 8)
NEVER = np.iinfo(np.int64).max // 4


def chosen(sim, event: str, m: int, fatal: bool, k: int = 1) -> np.ndarray:
    """`k` positions whose draw in month `m` makes an `event` fatal (or not)."""
    u = sim.draws(f"fatal.{event}").uniform(sim.everyone, m)
    spec = sim.cardiovascular.cfg[event]
    return np.flatnonzero((u < spec["case_fatality"]) == fatal)[:k]


@pytest.mark.parametrize("event", ["stroke", "mi"])
def test_a_fatal_event_ends_life_through_the_life_service_and_is_in_the_truth(event):
    sim = make_sim()
    m = month_at(sim, ON)
    f, nf = chosen(sim, event, m.m, True), chosen(sim, event, m.m, False)
    pos = np.concatenate([f, nf])
    person(sim, pos, age=75, on=ON)
    sim.cardiovascular._event(sim, event, pos, np.array([ON, ON]), np.array([165.0, 150.0]), m.m)
    lst, death = get(sim, "lst")[pos], get(sim, "death_day")[pos]
    assert ON <= lst[0] < ON + 30 and death[0] == lst[0]
    assert lst[1] == sim.end and death[1] == -1
    assert get(sim, f"{event}_day")[pos].tolist() == [ON, ON]
    t = truth(sim, "outcome_truth")
    assert t["pat"].tolist() == sorted(sim.P[pos]) and set(t["event"]) == {event}
    fatal = dict(zip(t["pat"], t["fatal"]))
    assert fatal[sim.P[f[0]]] == 1 and fatal[sim.P[nf[0]]] == 0
    assert dict(zip(t["pat"], t["treated_sbp"]))[sim.P[f[0]]] == 165.0 and (t["date"] == ON).all()
    # the discharge letter reaches the record two to five weeks later
    dx = emitted(sim, "obs", code=sim.cardiovascular.cfg[event]["code"])
    assert dx["pat"].tolist() == pos.tolist() and (dx["day"] == ON).all()
    assert ((dx["enter"] - dx["day"] >= 14) & (dx["enter"] - dx["day"] <= 34)).all()
    # the death is what the block returns
    death_days, _ = sim.life.outcome(sim)
    assert death_days[sim.P[f[0]]] == lst[0]


def test_events_in_the_burn_in_are_never_fatal():
    sim = make_sim()
    when = sim.study_start - 200
    m = month_at(sim, when)
    f = chosen(sim, "stroke", m.m, True, k=3)
    person(sim, f, age=75, on=when)
    sim.cardiovascular._event(sim, "stroke", f, np.full(3, when), np.full(3, 170.0), m.m)
    assert (get(sim, "lst")[f] == sim.end).all() and (get(sim, "death_day")[f] == -1).all()
    assert (truth(sim, "outcome_truth")["fatal"] == 0).all()


def test_heart_failure_is_never_fatal():
    sim = make_sim()
    pos = np.arange(20)
    person(sim, pos, age=80, on=ON)
    sim.cardiovascular._event(sim, "heart_failure", pos, np.full(20, ON), np.full(20, 150.0), month_at(sim, ON).m)
    assert (get(sim, "death_day")[pos] == -1).all()


def test_the_practice_follows_up_a_non_fatal_event():
    sim = make_sim()
    m = month_at(sim, ON)
    pos = chosen(sim, "mi", m.m, False, k=3)
    person(sim, pos, age=70, on=ON)
    follow = sim.cardiovascular.follow_up
    # diagnosed with a review due later; diagnosed with one due sooner; not diagnosed
    put(sim, pos, dx=[True, True, False], next_review=[ON + 200, ON + 10, NEVER], post_event_check=NEVER)
    sim.cardiovascular._event(sim, "mi", pos, np.full(3, ON), np.full(3, 150.0), m.m)
    assert get(sim, "next_review")[pos].tolist() == [ON + follow, ON + 10, NEVER]
    assert get(sim, "post_event_check")[pos].tolist() == [NEVER, NEVER, ON + follow]


def test_events_strike_once_each_above_the_minimum_age_and_more_with_higher_bp():
    sim = make_sim()
    everyone = sim.everyone
    young, old = everyone[: sim.n // 2], everyone[sim.n // 2:]
    person(sim, young, age=25, on=ON)
    person(sim, old, age=88, on=ON)
    had = old[:5]
    put(sim, had, stroke_day=ON - 1000)  # a first stroke before: never a second
    on = ON
    for _ in range(60):
        m = month_at(sim, on)
        m.treated_sbp = np.full(len(m.act), 230.0)
        sim.cardiovascular.events(sim, m)
        on = m.day1
    t = truth(sim, "outcome_truth")
    pat = np.searchsorted(sim.P, t["pat"])
    assert len(pat) > 20 and np.isin(pat, old).all()
    pairs = list(zip(pat, t["event"]))
    assert len(set(pairs)) == len(pairs)
    assert not np.isin(pat[t["event"] == "stroke"], had).any()
    assert get(sim, "stroke_day")[had].tolist() == [ON - 1000] * 5
    # the dead have no events after death
    died = t["fatal"] == 1
    assert died.any()
    for p in pat[died]:
        assert (t["date"][pat == p] <= get(sim, "death_day")[p]).all()


def test_higher_treated_bp_brings_more_events():
    counts = []
    for sbp in (120.0, 200.0):
        sim = make_sim()
        person(sim, sim.everyone, age=80, on=ON)
        on = ON
        for _ in range(36):
            m = month_at(sim, on)
            m.treated_sbp = np.full(len(m.act), sbp)
            sim.cardiovascular.events(sim, m)
            on = m.day1
        counts.append(len(truth(sim, "outcome_truth")["pat"]))
    assert counts[1] > 2 * counts[0]


def test_event_codes_are_the_named_ones():
    cfg = make_sim().cardiovascular.cfg
    assert [codes.medcode(cfg[e]["code"]) for e in ("stroke", "mi", "heart_failure")] == \
        [codes.medcode(k) for k in ("stroke", "myocardial_infarction", "heart_failure")]
