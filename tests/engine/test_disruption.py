"""The pandemic's disruption of routine booked care (engine/services/disruption.py, data/covid.toml [disruption]),
asked through the contacts service."""

import numpy as np
import pytest

from synthgp.core import reference
from synthgp.engine.services.disruption import Disruption

from tests.engine.build import day, make_sim

CFG = reference.toml("covid.toml")["disruption"]


def test_routine_care_as_usual_outside_the_pandemic_and_scaled_inside():
    d = Disruption()
    assert list(d.share(np.array([day(2019, 12, 31), day(2020, 3, 22), day(2022, 1, 1), day(2024, 6, 1)]))) == [1, 1, 1, 1]
    assert d.share(np.array([day(2020, 4, 15)]))[0] == pytest.approx(CFG["routine_held"][0])
    half = Disruption(scale=0.5).share(np.array([day(2020, 4, 15)]))[0]
    assert half == pytest.approx(1 - 0.5 * (1 - CFG["routine_held"][0]))
    assert Disruption(scale=0.0).share(np.array([day(2020, 4, 15)]))[0] == 1


def test_bad_configuration_is_refused():
    with pytest.raises(ValueError, match="one routine_held share per date"):
        Disruption({**CFG, "routine_held": CFG["routine_held"][:-1]})
    with pytest.raises(ValueError, match="the last 1"):
        Disruption({**CFG, "routine_held": [*CFG["routine_held"][:-1], 0.9]})
    with pytest.raises(ValueError, match="disruption_scale"):
        Disruption(scale=1.5)


def test_the_contacts_service_holds_few_routine_contacts_in_the_first_lockdown_and_defers_the_rest():
    """April 2020: about routine_held[0] of 3,000 go ahead (binomial SE about 0.005); the others are asked again
    deferral_days later. Before and after the pandemic every one goes ahead, on its own day."""
    sim = make_sim(n=3000)
    pos = sim.everyone
    d = np.full(len(pos), day(2020, 4, 15))
    held, retry = sim.contacts.routine(pos, d, "test", 3)
    assert held.mean() == pytest.approx(CFG["routine_held"][0], abs=0.03)
    lo, hi = CFG["deferral_days"]
    assert (retry[held] == d[held]).all()
    gap = retry[~held] - d[~held]
    assert gap.min() >= lo and gap.max() <= hi and gap.max() - gap.min() > (hi - lo) / 2
    for on in (day(2019, 4, 15), day(2022, 4, 15)):
        held, retry = sim.contacts.routine(pos, np.full(len(pos), on), "test", 3)
        assert held.all() and (retry == on).all()
    # the same person and step get the same answer (keyed draws), whatever else is asked with them
    again, _ = sim.contacts.routine(pos[::2], d[::2], "test", 3)
    first, _ = sim.contacts.routine(pos, d, "test", 3)
    assert (again == first[::2]).all()


def test_no_disruption_when_the_scenario_turns_it_off():
    sim = make_sim(n=500, covid={"disruption_scale": 0.0})
    held, _ = sim.contacts.routine(sim.everyone, np.full(sim.n, day(2020, 4, 15)), "test", 1)
    assert held.all()
