"""The compiled kernels (numba) give exactly what numpy's version gives: the same random bits, the same
month of blood pressure. The output's byte-identity across machines with and without numba rests on it."""

import numpy as np
import pytest

from synthgp.clinical import bp_kernel
from synthgp.core import mixing
from synthgp.core.rng import Draws
from synthgp.engine.services import vitals as vitals_module

from tests.engine.build import day, make_sim, month_at

pytestmark = pytest.mark.skipif(not mixing.COMPILED, reason="numba is not installed (it is a dependency)")


@pytest.mark.parametrize("step", [0, 7, -1, "array"])
def test_compiled_draws_give_numpys_bits(step):
    d = Draws(11, "kernel.check")
    ids = np.arange(5_000, 25_000, 3)
    keyed = d.keyed(ids)
    pos = np.random.default_rng(0).choice(len(ids), 2_000, replace=False)
    st = np.random.default_rng(1).integers(-5, 20_000, len(pos)) if step == "array" else step
    from synthgp.core.rng import step_key

    key = step_key(st)
    assert np.array_equal(mixing.uniform_at(keyed.inner, pos, key), mixing._uniform_at(keyed.inner, pos, key))
    assert np.array_equal(mixing.uniform_ids(ids[pos], d._key, key), mixing._uniform_ids(ids[pos], d._key, key))
    # and the draws asked for by position equal those asked for by id
    assert np.array_equal(keyed.normal(pos, st), d.normal(ids[pos], st))
    if step == "array":  # the key computed inside the compiled pass, from the steps themselves
        for scale, offset in ((1, 0), (2, 0), (2, 1)):
            key = step_key(scale * st + offset)
            assert np.array_equal(mixing.uniform_at_steps(keyed.inner, pos, st, scale, offset),
                                  mixing._uniform_at(keyed.inner, pos, key))
            assert np.array_equal(mixing._uniform_at_steps(keyed.inner, pos, st, scale, offset),
                                  mixing._uniform_at(keyed.inner, pos, key))
        assert np.array_equal(keyed.uniform(pos, st), d.uniform(ids[pos], st))


def test_compiled_month_of_blood_pressure_equals_numpys(monkeypatch):
    sim = make_sim(n=400)
    rx = sim.rx
    treated = np.arange(0, sim.n, 3)
    rx.set_drug(treated, "A", rx.meds.index["ramipril"], np.full(len(treated), 2), day(2016))
    rx.set_drug(treated[::2], "C", rx.meds.index["amlodipine"], np.zeros(len(treated[::2]), dtype=np.int64), day(2016))
    rx.stop_taking(treated[::5], day(2016))
    results = []
    for kernel in (bp_kernel.month_bp, None):
        monkeypatch.setattr(bp_kernel, "month_bp", kernel)
        month = month_at(sim, day(2019, 6, 10))
        sums = sim.vitals._this_year.copy()
        sim.vitals.advance(sim, month)
        results.append((month.usual_sbp, month.usual_dbp, month.treated_sbp, month.treated_dbp,
                        sim.vitals._this_year - sums))
    assert len(results[0][0]) > 100
    for a, b in zip(*results):
        assert np.array_equal(a, b)
    assert (results[0][2] < results[0][0]).any()  # treatment lowered someone's BP
    assert vitals_module  # the module under test


def test_compiled_cardiovascular_draws_equal_numpys(monkeypatch):
    from synthgp.clinical import event_kernel

    sim = make_sim(n=400)
    cv = sim.cardiovascular
    everyone = np.arange(sim.n)
    sim.state.array("stroke_day")[everyone[::7]] = day(2010)  # some have had a stroke already
    results = []
    for kernel in (event_kernel.hits, None):
        monkeypatch.setattr(event_kernel, "hits", kernel)
        seen = []
        monkeypatch.setattr(cv, "_event", lambda sim_, ev, pos, d, sbp, m: seen.append((ev, pos.copy())))
        for y in range(2008, 2024):
            month = month_at(sim, day(y, 5, 10))
            month.treated_sbp = month.treated_sbp + 60.0  # raise the hazard so that events happen
            cv.events(sim, month)
        results.append(seen)
    assert sum(len(p) for _, p in results[0]) > 10
    assert [(e, p.tolist()) for e, p in results[0]] == [(e, p.tolist()) for e, p in results[1]]


def test_compiled_row_ranks_equal_numpys(monkeypatch):
    """The log's ids rest on each row's rank within its patient by (day, emission): the compiled
    counting sort gives numpy's two-radix-sort ranks, for rows in day order and rows out of it (history
    emitted after the months, same-day ties kept in emission order), and patients with no rows."""
    from synthgp.record import log, log_kernel

    rng = np.random.default_rng(5)
    n_pat = 3_000
    pat = rng.integers(0, n_pat - 100, 200_000)  # the last 100 patients have no rows
    day = np.sort(rng.integers(-2_000, 20_000, len(pat)))  # emitted month by month...
    day[rng.random(len(pat)) < 0.1] = rng.integers(-20_000, 20_000)  # ...with some out of order
    day[::7] = day[1::7][: len(day[::7])]  # and ties
    compiled = log._ranks(pat, day, n_pat)
    monkeypatch.setattr(log_kernel, "ranks", None)
    assert np.array_equal(compiled, log._ranks(pat, day, n_pat))
    # a rank is a position: each patient's ranks are 0..m-1
    assert np.array_equal(np.sort(compiled[pat == 7]), np.arange((pat == 7).sum()))


def test_compiled_runs_equal_numpys_repeat():
    from synthgp.record import log_kernel

    sizes = np.array([3, 0, 1, 5, 2], dtype=np.int64)
    for values in (np.array([1, -2, 3, 4, 5], dtype=np.int64), np.array([0.5, np.nan, 2.0, -1.0, 7.0])):
        assert np.array_equal(log_kernel.runs(values, sizes, int(sizes.sum())), np.repeat(values, sizes), equal_nan=True)
