"""Primary-prevention statins on hand-made patients: offered at the era's QRISK threshold (20% before NICE CG181 in
July 2014, then 10%), never with known CVD or a statin already prescribed, at atorvastatin 20 mg; stopped and
restarted at the published rates; raised to 80 mg when CVD is diagnosed."""

import numpy as np
import pytest

from synthgp.engine.services.prescribing import REGULAR
from synthgp.pathways.statins import NEVER, threshold

from tests.engine.build import day, get, make_sim, month_at, person, put

BEFORE, AFTER = day(2012, 5, 1), day(2016, 5, 1)


def test_the_threshold_of_each_era():
    assert threshold([BEFORE, day(2014, 7, 17), day(2014, 7, 18), AFTER]).tolist() == [20.0, 20.0, 10.0, 10.0]


def _sim(n_people: int, on: int):
    sim = make_sim(n=max(2000, n_people + 500))
    pos = np.arange(n_people)
    person(sim, pos, age=60, on=on)
    return sim, pos


def _on(sim, pos, on):
    return sim.rx.on_regular(pos, "atorvastatin", on)


@pytest.mark.parametrize("on, below, between, above", [(BEFORE, 0.0, 0.0, 0.35), (AFTER, 0.0, 0.138, 0.35)])
def test_uptake_by_score_and_era(on, below, between, above):
    sim, pos = _sim(1500, on)
    score = np.repeat([8.0, 15.0, 25.0], 500)
    sim.statins.offer(pos, on, score)
    took = _on(sim, pos, on + 1)
    # binomial sd at 500 people is at most 0.022: 0.06 is over 2.7 sd
    for part, want in zip(np.split(took, 3), (below, between, above)):
        assert part.mean() == pytest.approx(want, abs=0.06)
    assert took[:500].sum() == 0 and (on < day(2014, 7, 18)) == (took[500:1000].sum() == 0)
    j = REGULAR.index("atorvastatin")
    assert (get(sim, "regular_level")[pos[took], j] == 0).all()  # 20 mg
    assert (get(sim, "statin_check")[pos[took]] == on + 90).all()


def test_no_offer_with_known_cvd_or_a_statin_already():
    sim, pos = _sim(600, AFTER)
    put(sim, pos[:200], mi_day=AFTER - 100)
    sim.rx.start_regular(pos[200:400], "atorvastatin", np.full(200, AFTER - 300), 1)
    sim.statins.offer(pos, AFTER, np.full(600, 40.0))
    assert not get(sim, "statin_primary")[pos[:400]].any() and get(sim, "statin_primary")[pos[400:]].mean() > 0.25


def test_courses_stop_and_most_restart_at_the_published_rates():
    sim, pos = _sim(1500, AFTER)
    sim.statins.start(pos, np.full(1500, AFTER))
    c = sim.statins.course
    years = c["discontinue_over_years"]
    on_later = _on(sim, pos, AFTER + int(years * 365.25))
    # the share stopped by the follow-up is the published one (binomial sd 0.013)
    assert 1 - on_later.mean() == pytest.approx(c["discontinue_share"], abs=0.04)
    restart = get(sim, "statin_restart")[pos]
    stopped = get(sim, "regular_until")[pos, REGULAR.index("atorvastatin")]
    assert (restart[restart < NEVER] >= stopped[restart < NEVER]).all()
    assert (restart < NEVER).mean() == pytest.approx(c["restart_share"], abs=0.04)
    # a restart (within the period) is a new course from its day
    who = pos[restart < sim.end - 60][:50]
    when = restart[who]
    for p, d in zip(who, when):
        sim.statins.follow_up(sim, month_at(sim, int(d), act=[p]))
    assert (get(sim, "regular_from")[who, REGULAR.index("atorvastatin")] == when).all()


def test_cvd_raises_a_primary_prevention_dose_to_80mg():
    from synthgp.pathways.registers import care

    sim, pos = _sim(10, AFTER)
    sim.statins.start(pos, np.full(10, AFTER))
    reg = sim.registers
    chd = next(c for c in reg.conditions if c.name == "chd")
    med = next(m for m in chd.medicines if m["drug"] == "atorvastatin")
    care._start(reg, sim, chd, med, "atorvastatin", pos, np.full(10, AFTER + 200))
    j = REGULAR.index("atorvastatin")
    assert med["level"] == 1 and (get(sim, "regular_level")[pos, j] == 1).all()
    assert _on(sim, pos, AFTER + 5000).all()  # secondary prevention does not stop


def test_statins_held_at_entry_by_age_and_sex_without_cardiovascular_disease():
    """data/statins.toml [history]: a share of those without known CVD at entry hold atorvastatin 20 mg from entry (so
    its year of issues before it is written), by age band and sex; none under 40, none with CVD (the registers' 80 mg
    is theirs)."""
    from synthgp.core import reference

    h = reference.toml("statins.toml")["history"]
    sim = make_sim(n=6000)
    young, old_men, old_women, cvd = np.arange(0, 1000), np.arange(1000, 3000), np.arange(3000, 5000), np.arange(5000, 5500)
    entry = day(2015, 1, 1)
    person(sim, young, age=30, on=entry)
    person(sim, old_men, age=72, on=entry, male=True)
    person(sim, old_women, age=72, on=entry, male=False)
    person(sim, cvd, age=72, on=entry, male=True)
    everyone = np.arange(5500)
    put(sim, everyone, ent=np.full(5500, entry), mi_day=np.full(5500, -1), stroke_day=np.full(5500, -1))
    get(sim, "regular_drug")[everyone] = -1
    get(sim, "reg_known")[everyone] = NEVER
    get(sim, "reg_known")[cvd, sim.registers.col["chd"]] = entry - 400
    sim.statins.history(sim)
    on = sim.rx.on_regular(everyone, "atorvastatin", np.full(5500, entry))
    band = np.searchsorted(h["bands"], 72, side="right") - 1
    assert not on[young].any() and not on[cvd].any()
    # binomial sd at 2,000 people is at most 0.011: 0.04 is over 3.5 sd
    assert on[old_men].mean() == pytest.approx(h["male"][band], abs=0.04)
    assert on[old_women].mean() == pytest.approx(h["female"][band], abs=0.04)
    j = REGULAR.index("atorvastatin")
    assert (get(sim, "regular_level")[on.nonzero()[0], j] == 0).all()  # 20 mg
    assert get(sim, "statin_primary")[everyone][on].all()
