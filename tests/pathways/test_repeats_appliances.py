"""Dressings and stoma appliances (BNF pseudo-chapters 20 and 23): each is issued as its pack in its own unit every 28
days (that each starts at a consultation coding its indication is test_repeats_more.py's; the generated practice's
issues, tests/simulate/test_repeats_record.py's)."""

import numpy as np
import pytest

from synthgp.core import reference

from tests.engine.build import day, emitted, make_sim, month_at, person

ON = day(2018, 3, 5)
MEDS = reference.toml("medicines.toml")
UNITS = {d: i for i, d in reference.toml("aurum_lookups.toml")["QuantUnit"]["rows"]}
APPLIANCES = ["film_dressing", "ileostomy_bag"]


@pytest.mark.parametrize("drug", APPLIANCES)
def test_an_appliance_is_issued_as_its_pack_every_28_days(drug):
    sim = make_sim(n=20)
    person(sim, [0], age=80, on=ON)
    sim.rx.start_regular(np.array([0]), drug, np.array([ON]))
    for k in range(6):
        sim.rx.issue(sim, month_at(sim, ON + k * 28, act=[0]))
    issued = emitted(sim, "issue", pos=[0])
    qty, unit, every = MEDS[drug]["repeat_pack"][:3]
    assert len(issued["day"]) >= 5
    assert (issued["qty"] == qty).all() and (issued["qunit"] == UNITS[unit]).all()
    assert (np.abs(np.diff(issued["day"]) - every) <= 3).all()  # each moved to a working day at most
