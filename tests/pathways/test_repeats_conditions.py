"""The long-term repeats added for England's 2019 volume (BNF chapters 1, 4-6, 9, 10, 13): each codes its
indication at the consultation that starts it or follows its register or the truth's risk factor, fluoxetine never on
the depression register (its medicines are the register's), trimethoprim prophylaxis never for men, and that
prophylaxis counted among the antibiotics of the Sun & Gulliford calibration."""

import numpy as np
import pytest

from synthgp.core import reference
from synthgp.evaluate.consultations import antibiotic_products
from synthgp.pathways.registers.onset import NEVER

from tests.engine.build import day, get, make_sim, person, put
from tests.pathways.test_repeats_more import _diagnosed, _k, _only, _review

ON = day(2018, 3, 5)


@pytest.mark.parametrize("drug, flag", [("hydroxychloroquine", "rf_ra"), ("topiramate", "rf_migraine")])
def test_a_truth_medicine_only_with_the_risk_factor(drug, flag):
    sim = make_sim(n=50)
    pos = np.arange(2)
    person(sim, pos, age=40, on=ON, male=False)
    _only(sim, pos, drug)
    put(sim, pos, **{flag: np.array([1, 0], dtype=get(sim, flag).dtype)})
    _review(sim, pos)
    assert sim.rx.on_regular(pos, drug, np.full(2, ON + 1)).tolist() == [True, False]


def test_fluoxetine_for_anxiety_never_on_the_depression_register():
    sim = make_sim(n=50)
    pos = np.arange(2)
    person(sim, pos, age=30, on=ON, male=False)
    _only(sim, pos, "fluoxetine")
    _diagnosed(sim, pos, "depression", [ON - 500, NEVER])
    _review(sim, pos)
    assert sim.rx.on_regular(pos, "fluoxetine", np.full(2, ON + 7)).tolist() == [False, True]


def test_trimethoprim_prophylaxis_never_for_men():
    sim = make_sim(n=50)
    pos = np.arange(2)
    person(sim, pos, age=70, on=ON, male=True)
    _only(sim, pos, "trimethoprim_100")
    _review(sim, pos)
    assert not sim.rx.on_regular(pos, "trimethoprim_100", np.full(2, ON + 7)).any()
    assert sim.repeats.shares[0, :, _k(sim, "trimethoprim_100")].max() == 0.0  # no share for men in any band


def test_trimethoprim_prophylaxis_counts_among_the_antibiotics():
    ids = {int(i) for i in antibiotic_products().split(", ")}
    levels = reference.toml("medicines.toml")["trimethoprim_100"]["levels"]
    assert {lv["prodcodeid"] for lv in levels} <= ids
