"""The engine: one block of patients, simulated month by month through a declared schedule.

Time model: monthly steps with dated events. Each month every component's steps run in the
schedule's order, vectorised over the block's patients; what happens inside a month carries its
exact day. Why not an event queue: a queue is processed an event at a time in Python and cannot be
vectorised across 50,000 patients; why not days: thirty times the steps for the same care. What does
not depend on the state (a random day in the month, who consults) is drawn for everyone at once by
the counter-based generator, so the draws are the same whatever the block.

The engine owns the schedule, the state and the month; components own everything else
(engine/component.py). Deaths come back to the caller (`Outcome`) instead of being written into the
population's arrays.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from synthgp.core.rng import Draws, KeyedDraws
from synthgp.engine.state import State

if TYPE_CHECKING:
    from synthgp.engine.component import Component
    from synthgp.population.people import People
    from synthgp.population.plan import Plan
    from synthgp.record.log import EventLog

MONTH = 30.4375
YEAR = 365.25
STREAM = "htn"  # the random streams' namespace: renaming it changes every draw, hence the output


@dataclass
class Consults:
    """A month's consultations (engine/services/contacts.py): one per patient seen, on their day."""

    pos: np.ndarray
    day: np.ndarray
    key: np.ndarray  # consultation keys, for observations made at them
    remote: np.ndarray  # by telephone: nothing can be measured
    age: np.ndarray


@dataclass
class Month:
    """What the engine knows of the month being simulated. `act` are the positions registered, alive and
    adult during it (the adult pathways' patients); `all` those registered and alive of any age, children
    included (`act` is a subset). The per-`act` and per-`all` arrays are filled by the services in the
    schedule."""

    m: int
    day0: int
    day1: int  # exclusive
    act: np.ndarray
    all: "np.ndarray | None" = None  # None: the adults alone (a month built by hand)
    all_vday: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))  # each one's day, as vday for adults
    all_age: np.ndarray = field(default_factory=lambda: np.empty(0))  # years, at all_vday
    vday: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))  # each one's day of the month
    age: np.ndarray = field(default_factory=lambda: np.empty(0))  # years, at vday
    bmi: np.ndarray = field(default_factory=lambda: np.empty(0))
    usual_sbp: np.ndarray = field(default_factory=lambda: np.empty(0))  # untreated usual BP at vday
    usual_dbp: np.ndarray = field(default_factory=lambda: np.empty(0))
    treated_sbp: np.ndarray = field(default_factory=lambda: np.empty(0))  # the BP actually lived with
    treated_dbp: np.ndarray = field(default_factory=lambda: np.empty(0))
    consults: "Consults | None" = None  # this month's consultations (contacts)
    # clinic BP readings other programmes took this month, (pos, day, sbp, dbp) each, for the
    # hypertension pathway to follow up
    bp_screens: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.all is None:
            self.all = self.act


@dataclass
class Outcome:
    """What a block's simulation returns: truth tables, and the deaths it brought forward."""

    truth: dict[str, dict[str, np.ndarray]]
    death: np.ndarray  # per person of the block: day of death, or -1
    regend: np.ndarray  # per person of the block: day of deregistration, or -1
    problem_key: dict[str, np.ndarray]  # the problem each patient's antihypertensives treat (drug_issue.probobsid)


class Sim:
    """Everything one block's simulation shares: plan, people, log, state, services and pathways."""

    def __init__(self, plan: "Plan", people: "People", log: "EventLog", services: list["Component"],
                 pathways: list["Component"], history: list[tuple[str, str]], monthly: list[tuple[str, str]]):
        self.plan, self.people, self.log = plan, people, log
        self.scenario, self.seed = plan.scenario, plan.seed
        self.care = plan.scenario.care
        self.study_start, self.end = plan.start_day, plan.end_day
        self.start = self.study_start - int(round(self.care.burn_in_years * YEAR))
        life = next((c for c in services if c.name == "life"), None)
        if life is None:
            raise ValueError("a simulation needs the life service (engine/services/life.py): it chooses whom to simulate")
        # simulated patients (block-local index), the first day simulated (any age), the first day as an adult
        # (after `lst` for someone who stays a child), the last day
        self.P, self.first, self.ent, self.lst = life.select(self)
        self.n = len(self.P)
        self.adults = np.flatnonzero(self.ent <= self.lst)  # positions simulated as adults at some time
        self.ids = people.index[self.P]
        self.everyone = np.arange(self.n)
        self.state = State(self.n)
        self._draws: dict[str, KeyedDraws] = {}
        self.components = {c.name: c for c in [*services, *pathways]}
        for c in self.components.values():
            values = c.init(self)
            missing = set(c.fields) - set(values)
            if missing or set(values) - set(c.fields):
                raise ValueError(f"{c.name}.init must give exactly its declared fields; "
                                 f"missing {sorted(missing)}, undeclared {sorted(set(values) - set(c.fields))}")
            for k in c.fields:
                self.state.add(c.name, k, values[k], c.fields[k])
        for c in self.components.values():
            c.bind(self)
        self.history_names, self.history = history, [self._step(c, s) for c, s in history]
        self.monthly_keys, self.monthly = [f"{c}.{s}" for c, s in monthly], [self._step(c, s) for c, s in monthly]
        self.seconds: dict[str, float] = dict.fromkeys(self.monthly_keys, 0.0)  # time spent in each step
        self.month: Month | None = None

    def _step(self, component: str, step: str):
        if component not in self.components:
            raise ValueError(f"schedule names {component!r}; components: {', '.join(self.components)}")
        fn = getattr(self.components[component], step, None)
        if fn is None:
            raise ValueError(f"schedule names {component}.{step}, which {component} does not have")
        return fn

    def __getattr__(self, name: str):  # the services and pathways by name: sim.rx, sim.hypertension
        comps = self.__dict__.get("components", {})
        if name in comps:
            return comps[name]
        raise AttributeError(name)

    def adult(self, pos: np.ndarray) -> np.ndarray:
        """Those of `pos` simulated as adults at some time (history at entry is theirs alone)."""
        return pos[self.ent[pos] <= self.lst[pos]]

    def _adults_only(self, table: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """An adult component's table with a row per simulated position keeps the adults' rows."""
        pat = table.get("pat")
        if pat is None or len(pat) != self.n or len(self.adults) == self.n or not np.array_equal(pat, self.P):
            return table
        return {k: v[self.adults] for k, v in table.items()}

    def stream(self, purpose: str) -> KeyedDraws:
        """The random stream named `purpose`, over this block's simulated patients, asked for by
        position: the same numbers as core.rng.Draws(seed, purpose) asked for by patient index."""
        d = self._draws.get(purpose)
        if d is None:
            d = self._draws[purpose] = Draws(self.seed, purpose).keyed(self.ids)
        return d

    def draws(self, purpose: str) -> KeyedDraws:
        """The care simulation's stream for `purpose` (named within STREAM)."""
        return self.stream(f"{STREAM}.{purpose}")

    def run(self) -> Outcome:
        clock = time.perf_counter
        for (c, name), step in zip(self.history_names, self.history):
            t = clock()
            step(self)
            self.seconds[f"{c}.{name}"] = self.seconds.get(f"{c}.{name}", 0.0) + clock() - t
        n_months = int(np.ceil((self.end - self.start + 1) / MONTH))
        for m in range(n_months):
            day0 = self.start + int(round(m * MONTH))
            day1 = min(self.start + int(round((m + 1) * MONTH)), self.end + 1)
            here = (self.first < day1) & (self.lst >= day0)
            every = np.flatnonzero(here)
            if not len(every):
                continue
            self.month = Month(m, day0, day1, np.flatnonzero(here & (self.ent < day1)), every)
            for key, step in zip(self.monthly_keys, self.monthly):
                t = clock()
                step(self, self.month)
                self.seconds[key] += clock() - t
        truth: dict[str, dict[str, np.ndarray]] = {}
        for c in self.components.values():
            tables = c.truth_tables(self)
            if set(tables) != set(c.truth):
                raise ValueError(f"{c.name} declares truth tables {sorted(c.truth)} and wrote {sorted(tables)}")
            truth.update(tables if c.all_ages else {k: self._adults_only(t) for k, t in tables.items()})
        death, regend = self.life.outcome(self)
        return Outcome(truth, death, regend, self.rx.problem_keys())
