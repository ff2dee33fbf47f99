"""Guidance by date (data/eras.toml): each rule takes the day and applies the guidance of that day."""

import datetime as dt

import numpy as np
import pytest

from synthgp.clinical import eras
from synthgp.clinical import ng136 as g
from synthgp.core import dates, reference

a = np.array


def d(y, m, day):
    return dates.to_days(dt.date(y, m, day))


CG18, CG34, CG127, NG136 = d(2005, 6, 1), d(2008, 6, 1), d(2015, 6, 1), d(2021, 6, 1)


def test_eras_start_on_their_publication_dates_each_with_a_source():
    assert eras.names() == ("CG18", "CG34", "CG127", "NG136")
    assert [eras.start(n) for n in eras.names()] == [d(2004, 8, 25), d(2006, 6, 28), d(2011, 8, 24), d(2019, 8, 28)]
    assert list(eras.index(a([d(2006, 6, 27), d(2006, 6, 28), d(2011, 8, 23), d(2011, 8, 24), d(2019, 8, 28)]))) == [0, 1, 1, 2, 3]
    cfg = reference.toml("eras.toml")
    assert all(e["source"] for e in cfg["era"]) and all(r["source"] for r in cfg["risk_score"])


def test_risk_score_by_date_never_qrisk3_before_2017():
    days = a([d(2008, 12, 31), d(2009, 4, 1), d(2016, 12, 31), d(2017, 12, 31), d(2018, 1, 1)])
    assert list(eras.risk_score_code(days)) == ["framingham_risk", "qrisk2", "qrisk2", "qrisk2", "qrisk3"]
    assert eras.programme_start("health_check") == d(2009, 4, 1)


def test_severe_was_180_over_110_before_ng136():
    sbp, dbp = a([150, 150]), a([112, 121])
    assert list(g.clinic_severe(sbp, dbp, CG127)) == [True, True]
    assert list(g.clinic_severe(sbp, dbp, NG136)) == [False, True]


def test_the_abpm_requirement_and_the_nice_2011_codes_start_with_cg127():
    days = a([CG18, CG34, d(2011, 8, 23), d(2011, 8, 24), NG136])
    assert list(g.abpm_required(days)) == [False, False, False, True, True]
    assert list(g.nice2011_codes(days)) == [False, False, False, True, True]
    # before ABPM the confirming reading is a clinic one, judged at 140/90
    assert list(g.confirmed(a([138, 138]), a([84, 84]), a([CG34, CG127]))) == [False, True]


@pytest.mark.parametrize("day, threshold", [(CG18, 20), (CG34, 20), (CG127, 20), (NG136, 10)])
def test_stage_1_risk_threshold_20_percent_before_ng136_10_after(day, threshold):
    f = a([False, False])
    offer, _ = g.offer_treatment(a([g.STAGE1] * 2), a([60, 60]), f, f, f, f, a([threshold - 0.1, threshold]), day)
    assert list(offer) == [False, True]


def test_older_stage_1_and_younger_consider_by_era():
    f = a([False])
    # CG18 and CG34 set no upper age for treating raised risk; CG127 and NG136 stop at 80
    assert g.offer_treatment(a([g.STAGE1]), a([85]), a([True]), f, f, f, a([0.0]), CG34)[0][0]
    assert not g.offer_treatment(a([g.STAGE1]), a([85]), a([True]), f, f, f, a([0.0]), CG127)[0][0]
    # "consider under 60" (1.4.12) and "over 80 above 150/90" (1.4.13) are NG136's
    assert not g.offer_treatment(a([g.STAGE1]), a([50]), f, f, f, f, a([5.0]), CG127)[1][0]
    assert g.offer_treatment(a([g.STAGE1]), a([50]), f, f, f, f, a([5.0]), NG136)[1][0]
    assert not g.offer_treatment_over80(a([g.STAGE1]), a([85]), a([155]), a([85]), CG127)[0]
    assert g.offer_treatment_over80(a([g.STAGE1]), a([85]), a([155]), a([85]), NG136)[0]


def test_targets_at_80_were_140_90_before_cg127():
    assert list(g.target(a([85, 85]), a([False, False]), a([np.nan, np.nan]), a([CG34, CG127]))[0]) == [140, 150]


def test_first_line_by_era_for_the_same_people():
    # 45 not Black; 60 not Black; 45 Black; 60 with type 2 diabetes
    age, black, t2, hf = a([45, 60, 45, 60]), a([False, False, True, False]), a([False, False, False, True]), a([False] * 4)
    assert list(g.first_line(age, black, t2, hf, CG18)) == ["D", "D", "D", "A"]
    assert list(g.first_line(age, black, t2, hf, CG34)) == ["A", "D", "D", "A"]
    assert list(g.first_line(age, black, t2, hf, CG127)) == ["A", "C", "C", "A"]
    assert list(g.first_line(age, black, t2, hf, NG136)) == ["A", "C", "C", "A"]
    # a day per patient
    assert list(g.first_line(a([60, 60]), a([False, False]), a([False, False]), a([False, False]), a([CG34, NG136]))) == ["D", "C"]


def test_both_arms_from_cg34_repeated_above_20_then_15_mmhg():
    """Both arms at the first measurement from CG34 (June 2006); a repeat above 20 mmHg (CG127), 15 (NG136 1.2.3)."""
    days = np.array([dates.to_days(dt.date(*x)) for x in ((2005, 1, 1), (2006, 7, 1), (2015, 1, 1), (2019, 9, 1))])
    assert g.both_arms(days).tolist() == [False, True, True, True]
    assert g.arm_difference(days)[1:].tolist() == [20.0, 20.0, 15.0]
