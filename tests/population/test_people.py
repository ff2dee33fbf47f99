"""Invariants of the registered population (plan and people), over many seeds, sizes and scenarios (Hypothesis)."""

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from synthgp.core import scenario
from synthgp.population import people
from synthgp.population import plan as population

REGIONS = st.sampled_from(["south_west", "england"])


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 4000), region=REGIONS,
       years=st.integers(1, 20), unrecorded=st.floats(0, 1))
def test_people_invariants(seed, n, region, years, unrecorded):
    sc = scenario.build({"population": {"region": region, "ethnicity_unrecorded": unrecorded},
                         "period": {"years": years}})
    plan = population.make_plan(sc, seed, n)
    assert plan.n_records.sum() == n and (plan.n_records >= 0).all()
    p = people.simulate_people(plan, 0, n)
    start, end = plan.start_day, plan.end_day
    assert len(np.unique(p.patid)) == n
    assert (p.patid % 100_000 == p.pracid).all()
    assert (p.dob <= p.regstart).all()
    assert (p.regstart <= end).all()
    ended = p.regend >= 0
    assert (p.regstart[ended] <= p.regend[ended]).all()
    assert (p.regend[ended] >= start).all() and (p.regend[ended] <= end).all()
    died = p.death >= 0
    assert ((p.death[died] >= start) & (p.death[died] <= end) & (p.death[died] >= p.dob[died])).all()
    assert (p.death[died] >= p.regstart[died]).all()
    # everyone is registered at some time within the period
    last_day = np.where(ended, p.regend, end)
    assert (last_day >= start).all()
    # nobody born after the end, nobody past 100 on their last day in the record
    last_seen = np.where(died, p.death, last_day)
    assert (p.dob <= end).all() and ((last_seen - p.dob) / 365.25 < 101).all()
