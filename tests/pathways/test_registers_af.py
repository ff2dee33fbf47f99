"""AF anticoagulation by CHA2DS2-VASc, and the move from warfarin to a DOAC (pathways/registers/af.py)."""

import numpy as np
import pytest

from synthgp.core import dates
from synthgp.pathways.registers import af
from synthgp.pathways.registers.onset import NEVER, day_of

from tests.engine.build import day, get, make_sim, month_at, person, put
from tests.pathways.test_registers import _clear, _col

ON = day(2017, 5, 1)


def _people(sim, pos, age, male):
    person(sim, pos, age=age, on=ON, male=male)
    _clear(sim, pos)
    put(sim, pos, dx_day=dates.NONE)
    get(sim, "reg_doac_switch")[pos] = NEVER


def test_chads_vasc_counts_what_the_practice_knows_on_the_day():
    sim = make_sim(n=8)
    r = sim.registers
    _people(sim, np.arange(8), 60, True)
    _people(sim, [1], 76, False)  # 75+: 2, female: 1
    _people(sim, [2], 70, True)  # 65-74: 1
    put(sim, [3], dx_day=ON - 10)  # hypertension diagnosed: 1
    put(sim, [4], dx_day=ON + 10)  # diagnosed after the day: 0
    put(sim, [5], stroke_day=ON - 100)  # stroke: 2
    put(sim, [6], mi_day=ON - 100, known_type2=ON - 5)  # vascular disease and diabetes: 2
    get(sim, "reg_known")[7, _col(sim, "heart_failure")] = ON - 1  # heart failure: 1
    got = af.chads_vasc(r, sim, np.arange(8), np.full(8, ON))
    assert got.tolist() == [0, 3, 1, 1, 0, 2, 2, 1]


def test_anticoagulation_by_score():
    """A DOAC for the data file's share at a score of 2 or more, Adderley 2016's fractions of it for a man at 1 and
    below (NICE CG180: offer at 2, consider for men at 1, not at 0 or a woman at 1)."""
    from synthgp.pathways.registers import care

    sim = make_sim(n=3000)
    hi, one, low = np.arange(0, 1000), np.arange(1000, 2000), np.arange(2000, 3000)
    _people(sim, hi, 80, True)  # 2
    _people(sim, one, 70, True)  # 1, a man
    _people(sim, low, 50, False)  # 1, a woman (sex alone)
    pos = np.arange(3000)
    days = np.full(3000, ON)
    c = sim.registers.conditions[_col(sim, "af")]
    care.start_medicines(sim.registers, sim, c, pos, days)
    doac = sim.rx.on_regular(pos, "apixaban", days)
    share = c.medicines[0]["then_share"]
    a = sim.registers.anticoagulation
    # binomial sd at 1,000 is at most 0.016: 0.05 is over 3 sd
    assert doac[hi].mean() == pytest.approx(share, abs=0.05)
    assert doac[one].mean() == pytest.approx(share * a.male_one, abs=0.05)
    assert doac[low].mean() == pytest.approx(share * a.low, abs=0.03)  # sd 0.009
    assert not sim.rx.on_regular(pos, "warfarin", days).any()


def test_switch_days_follow_the_published_rates():
    """No switch before NICE CG180; 3.35% a quarter after it (OpenSAFELY 2019); 12.2% in March-May 2020."""
    sim = make_sim(n=20000)
    a = sim.registers.anticoagulation
    pos = np.arange(20000)
    early = a.switch_day(sim, pos, np.full(20000, day(2012, 1, 1)))
    assert early.min() >= day_of("2014-06-18")
    q = a.switch_day(sim, pos, np.full(20000, day(2019, 3, 1)))
    assert (q < day(2019, 6, 1)).mean() == pytest.approx(0.0335, abs=0.006)  # sd 0.0013
    s = a.switch_day(sim, pos, np.full(20000, day(2020, 3, 1)))
    assert (s < day(2020, 6, 1)).mean() == pytest.approx(0.122, abs=0.012)  # sd 0.0023
    assert (s < day(2020, 9, 1)).mean() > (s < day(2020, 6, 1)).mean()  # the usual rate after the surge
    bad = {**sim.registers.cfg, "af_anticoagulation": {**sim.registers.cfg["af_anticoagulation"], "low_score": 0.9}}
    with pytest.raises(ValueError, match="low_score"):
        af.Anticoagulation(bad)


def test_a_switch_stops_warfarin_and_starts_a_doac_that_day():
    from synthgp.pathways.registers import care

    sim = make_sim(n=4)
    pos = np.arange(4)
    _people(sim, pos, 80, True)
    c = sim.registers.conditions[_col(sim, "af")]
    med = [{**c.medicines[0], "share": 1.0}]
    start = day(2012, 5, 1)
    care.start_medicines(sim.registers, sim, c, pos, np.full(4, start), med, "af")
    rx = sim.rx
    assert rx.on_regular(pos, "warfarin", np.full(4, start)).all()
    sw = day(2018, 3, 5)
    get(sim, "reg_doac_switch")[pos] = [sw, sw, NEVER, sw]
    put(sim, [3], lst=sw - 1)  # died before the day: nothing changes
    m = month_at(sim, sw, act=pos[:3])
    sim.registers.anticoagulation.month(sim.registers, sim, m)
    after = np.full(4, sw)
    assert rx.on_regular(pos, "apixaban", after).tolist() == [True, True, False, False]
    assert rx.on_regular(pos, "warfarin", after).tolist() == [False, False, True, True]
    assert rx.on_regular(pos[:2], "warfarin", after[:2] - 1).all()  # until the day before
    assert (get(sim, "reg_doac_switch")[:2] == NEVER).all()  # once


def test_a_review_offers_anticoagulation_as_the_score_rises():
    """Men diagnosed at 63 with nothing else (score 0) are offered it at Adderley's low-risk fraction; at a review at
    68 (score 1) the share anticoagulated becomes a man-at-1's, and with hypertension diagnosed (score 2) the share of
    a score of 2; nobody gets a second anticoagulant."""
    from synthgp.pathways.registers import care

    sim = make_sim(n=3000)
    pos = np.arange(3000)
    dx = day(2015, 3, 1)
    person(sim, pos, age=63, on=dx, male=True)
    _clear(sim, pos)
    put(sim, pos, dx_day=dates.NONE)
    r, rx = sim.registers, sim.rx
    c, med = r.af_medicine
    care.start_medicines(r, sim, c, pos, np.full(3000, dx))
    a, share = r.anticoagulation, med["then_share"]

    def anticoagulated(on):
        return rx.on_regular(pos, "apixaban", np.full(3000, on)) | rx.on_regular(pos, "warfarin", np.full(3000, on))

    # binomial sd at 3,000 is at most 0.009: 0.03 is over 3 sd
    assert anticoagulated(dx).mean() == pytest.approx(share * a.low, abs=0.03)
    at65 = day(2020, 3, 1)
    a.reassess(r, sim, pos, np.full(3000, at65))
    assert anticoagulated(at65).mean() == pytest.approx(share * a.male_one, abs=0.03)
    put(sim, pos, dx_day=at65 + 10)
    later = day(2021, 3, 1)
    a.reassess(r, sim, pos, np.full(3000, later))
    assert anticoagulated(later).mean() == pytest.approx(share, abs=0.03)
    assert not (rx.on_regular(pos, "apixaban", np.full(3000, later)) & rx.on_regular(pos, "warfarin", np.full(3000, later))).any()
    a.reassess(r, sim, pos, np.full(3000, later + 400))  # no rise: nobody more
    assert anticoagulated(later + 400).mean() == pytest.approx(anticoagulated(later).mean(), abs=1e-9)
