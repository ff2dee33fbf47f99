"""Sim: the schedule and the components' declarations are checked; months cover the period; draws."""

import numpy as np
import pytest

from synthgp import pathways
from synthgp.core.rng import Draws
from synthgp.engine.component import Pathway
from synthgp.engine.sim import STREAM, Sim

from tests.engine.build import make_sim


class Probe(Pathway):
    """A pathway that notes what the engine hands it."""

    name = "probe"
    fields = {"probe_seen": "months the person was active"}
    reads = ("ent", "lst")

    def __init__(self):
        self.months, self.calls = [], []

    def init(self, sim):
        return {"probe_seen": np.zeros(sim.n, dtype=np.int64)}

    def history(self, sim):
        self.calls.append("history")

    def first(self, sim, month):
        self.calls.append("first")
        self.months.append((month.m, month.day0, month.day1, month.act.copy(), month.all.copy()))
        self.s.probe_seen[month.all] += 1

    def second(self, sim, month):
        self.calls.append("second")


def components(*extra):
    services, care = pathways.practice()
    return services, [*care, *extra]


def test_schedule_naming_a_missing_component_raises():
    with pytest.raises(ValueError, match="schedule names 'nope'"):
        make_sim(components=components(), monthly=[("nope", "step")])


def test_schedule_naming_a_missing_step_raises():
    with pytest.raises(ValueError, match="schedule names flu.vaccinnate, which flu does not have"):
        make_sim(components=components(), monthly=[("flu", "vaccinnate")])
    with pytest.raises(ValueError, match="kidney.history"):
        make_sim(components=components(), history=[("kidney", "history")])


def test_init_must_give_exactly_the_declared_fields():
    class Short(Probe):
        fields = {"probe_seen": "", "probe_other": ""}

    with pytest.raises(ValueError, match=r"probe.init must give exactly its declared fields; missing \['probe_other'\]"):
        make_sim(components=components(Short()))

    class Extra(Probe):
        def init(self, sim):
            return {"probe_seen": np.zeros(sim.n), "probe_stray": np.zeros(sim.n)}

    with pytest.raises(ValueError, match=r"undeclared \['probe_stray'\]"):
        make_sim(components=components(Extra()))


def test_two_components_declaring_one_field_raises():
    class Clash(Probe):
        fields = {"egfr": "mine too"}

        def init(self, sim):
            return {"egfr": np.zeros(sim.n)}

    with pytest.raises(ValueError, match="'egfr' of probe is already declared by kidney"):
        make_sim(components=components(Clash()))


def test_reading_a_field_nobody_declares_fails_at_bind():
    class Reader(Probe):
        reads = ("no_such_field",)

    with pytest.raises(AttributeError, match="no_such_field"):
        make_sim(components=components(Reader()))


@pytest.mark.parametrize("declared, written", [((), ("probe_truth",)), (("probe_truth",), ()),
                                               (("probe_truth",), ("probe_other",))])
def test_truth_tables_must_be_those_declared(declared, written):
    class Truthful(Probe):
        truth = declared

        def truth_tables(self, sim):
            return {t: {"pat": sim.P} for t in written}

    sim = make_sim(components=components(Truthful()))
    with pytest.raises(ValueError, match="probe declares truth tables"):
        sim.run()


def test_run_covers_the_period_month_by_month_in_schedule_order():
    probe = Probe()
    sim = make_sim(components=components(probe), history=[("probe", "history")],
                   monthly=[("probe", "first"), ("probe", "second")])
    out = sim.run()
    assert probe.calls[0] == "history" and probe.calls.count("history") == 1
    assert probe.calls[1:] == ["first", "second"] * len(probe.months)
    ms, day0, day1 = (np.array([x[i] for x in probe.months]) for i in range(3))
    assert len(sim.adults) < sim.n  # the block holds children who stay children
    assert day0[0] == sim.start and day1[-1] == sim.end + 1
    assert (day0[1:] == day1[:-1]).all() and (np.diff(ms) == 1).all()  # contiguous, none skipped
    assert np.isin((day1 - day0)[:-1], [30, 31]).all() and 0 < day1[-1] - day0[-1] <= 31
    for _, d0, d1, act, every in probe.months:  # active: simulated at some time in the month; act as an adult
        assert ((sim.ent[act] < d1) & (sim.lst[act] >= d0)).all()
        assert ((sim.first[every] < d1) & (sim.lst[every] >= d0)).all() and np.isin(act, every).all()
        others = np.setdiff1d(sim.everyone, act)
        assert not ((sim.ent[others] < d1) & (sim.lst[others] >= d0)).any()
        others = np.setdiff1d(sim.everyone, every)
        assert not ((sim.first[others] < d1) & (sim.lst[others] >= d0)).any()
    assert (sim.state.array("probe_seen") > 0).all()  # everyone simulated is active in some month
    assert set(sim.seconds) >= {"probe.first", "probe.second", "probe.history"}
    # nobody's death was brought forward: the population's own dates come back
    assert (out.death == sim.people.death).all() and (out.regend == sim.people.regend).all()
    assert set(out.truth) >= {"risk_factor_truth", "bp_truth_year", "flu_truth"}


def test_simulated_patients_are_those_registered_in_the_window_and_adults_from_eighteen():
    sim = make_sim()
    p = sim.people
    assert (sim.first <= sim.lst).all()
    assert (sim.first >= sim.start).all() and (sim.lst <= sim.end).all()
    assert (sim.first >= p.regstart[sim.P]).all() and (sim.first >= p.dob[sim.P]).all()
    assert (sim.ent >= sim.first).all() and ((sim.ent - p.dob[sim.P]) >= round(18 * 365.25)).all()
    assert np.array_equal(sim.adults, np.flatnonzero(sim.ent <= sim.lst))
    # nobody registered in the window is left out: a person not simulated left or died before it
    out = np.setdiff1d(np.arange(len(p.index)), sim.P)
    last = np.where(p.death >= 0, p.death, np.where(p.regend >= 0, p.regend, sim.end))
    assert (last[out] < np.maximum.reduce([p.regstart[out], np.full(len(out), sim.start), p.dob[out]])).all()
    assert (sim.ids == p.index[sim.P]).all() and sim.n == len(sim.P)


def test_draws_are_keyed_by_patient_index_asked_by_position():
    sim = make_sim()
    pos = np.array([5, 0, 5, 17])
    got = sim.draws("consult").uniform(pos, 42)
    want = Draws(sim.seed, f"{STREAM}.consult").uniform(sim.ids[pos], 42)
    assert np.array_equal(got, want)
    assert got[0] == got[2] and got[0] != got[1]
    assert sim.draws("consult") is sim.draws("consult")  # made once per purpose
    assert not np.array_equal(sim.stream("consult").uniform(pos, 42), got)


def test_components_are_attributes_by_name():
    sim = make_sim()
    assert sim.rx is sim.components["rx"] and sim.labs.name == "labs"
    with pytest.raises(AttributeError):
        sim.no_such_service
    assert isinstance(sim, Sim)
