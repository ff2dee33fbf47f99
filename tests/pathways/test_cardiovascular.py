"""Cardiovascular events: deaths through the life service, the truth, and the practice's follow-up."""

import numpy as np
import pytest

from synthgp.core import codes
from synthgp.engine.sim import YEAR

from tests.engine.build import day, emitted, get, make_sim, month_at, person, put, truth

ON = day(2020, 7, 8)
NEVER = np.iinfo(np.int64).max // 4


def excess_death(sim, event: str, m: int, day: int) -> np.ndarray:
    """Everyone's day of death from the event's excess mortality, were they to survive an `event` on `day`."""
    rate = sim.cardiovascular.cfg[event]["excess_death_rate"]
    return day + 30 + np.round(sim.draws(f"excess.{event}").exponential(sim.everyone, YEAR / rate, m)).astype(np.int64)


def dies_in_the_period(sim, pos) -> None:
    """Make each of `pos` one of the population's deaths (on the last day): their event may kill them sooner."""
    sim.people.death[sim.P[pos]] = sim.end


def chosen(sim, event: str, m: int, fatal: bool, k: int = 1, day: int = ON) -> np.ndarray:
    """`k` positions whose draw in month `m` makes an `event` fatal (or not, and survived to the end)."""
    u = sim.draws(f"fatal.{event}").uniform(sim.everyone, m)
    spec = sim.cardiovascular.cfg[event]
    ok = (u < spec["case_fatality"]) == fatal
    if not fatal:
        ok &= excess_death(sim, event, m, day) > sim.end
    return np.flatnonzero(ok)[:k]


@pytest.mark.parametrize("event", ["stroke", "mi"])
def test_a_fatal_event_ends_life_through_the_life_service_and_is_in_the_truth(event):
    sim = make_sim()
    m = month_at(sim, ON)
    f, nf = chosen(sim, event, m.m, True), chosen(sim, event, m.m, False)
    pos = np.concatenate([f, nf])
    person(sim, pos, age=75, on=ON)
    dies_in_the_period(sim, pos)
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


def test_an_event_whose_death_the_list_rules_out_is_not_drawn():
    """Who dies is the population's: a fatal event, or a survivor's excess death, before the day someone is known
    to be alive (the end, for those on the list then; the study start, for anyone in the burn-in) is a history the
    list cannot hold, and is not drawn. Someone who dies in the period may die of it, but never in the burn-in."""
    sim = make_sim(400)
    when = sim.study_start - 200
    m = month_at(sim, when)
    u = sim.draws("fatal.stroke").uniform(sim.everyone, m.m)
    later = excess_death(sim, "stroke", m.m, when)
    fatal = u < sim.cardiovascular.cfg["stroke"]["case_fatality"]
    in_burn_in = np.flatnonzero(fatal)[:3]  # would die in the burn-in: never drawn, even for one who dies later
    alive_at_end = np.flatnonzero(~fatal & (later > sim.study_start + 100) & (later < sim.end))[:3]
    dying = np.flatnonzero(~fatal & (later > sim.study_start + 100) & (later < sim.end))[3:6]
    pos = np.concatenate([in_burn_in, alive_at_end, dying])
    person(sim, pos, age=75, on=when)
    dies_in_the_period(sim, np.concatenate([in_burn_in, dying]))
    sim.cardiovascular._event(sim, "stroke", pos, np.full(len(pos), when), np.full(len(pos), 170.0), m.m)
    gone = np.concatenate([in_burn_in, alive_at_end])
    assert (get(sim, "stroke_day")[gone] == -1).all() and (get(sim, "lst")[gone] == sim.end).all()
    t = truth(sim, "outcome_truth")
    assert sorted(t["pat"]) == sorted(sim.P[dying]) and (t["fatal"] == 0).all()
    assert get(sim, "death_day")[dying].tolist() == later[dying].tolist()


def test_survivors_die_sooner_at_the_published_excess_rate():
    """Heart failure has no 30-day case fatality here; its survivors die at about 6% a year more (Taylor 2017),
    so of 2,000 people who die in the period (on its last day), followed four years, about 1 - exp(-0.06 * 4) =
    21% die of it sooner: 3 binomial standard errors (about 2.7 points) either way."""
    sim = make_sim(2000)
    pos = sim.everyone
    when = sim.end - int(4 * YEAR)
    person(sim, pos, age=70, on=when)
    dies_in_the_period(sim, pos)
    sim.cardiovascular._event(sim, "heart_failure", pos, np.full(len(pos), when), np.full(len(pos), 150.0), month_at(sim, when).m)
    death = get(sim, "death_day")[pos]
    assert (death[death >= 0] >= when + 30).all()  # never within the 30 days
    share = (death >= 0).mean()
    expected = 1 - np.exp(-sim.cardiovascular.cfg["heart_failure"]["excess_death_rate"] * (sim.end - when - 30) / YEAR)
    assert abs(share - expected) < 3 * np.sqrt(expected * (1 - expected) / len(pos))


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
    dies_in_the_period(sim, old)
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
