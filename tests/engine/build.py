"""A tiny engine `Sim` for tests on hand-made state.

    sim = make_sim()                            # a real plan and people (small practices), every component
    put(sim, [0, 1], dob=..., ent=..., lst=...) # set state fields by hand
    month = month_at(sim, day(2018, 3, 5))      # the Month holding that day, as life and vitals would fill it
    sim.rx.issue(sim, month)                    # call ONE step
    rows = emitted(sim, "issue", pos=0)         # what was written to the log (before finishing), or
    fin = finish(sim)                           # the finished log (ids, parents), every row kept

Nothing here runs the schedule: a test builds the state it needs and calls a single step or service.
Draws are counter-based and the seeds fixed, so every test is deterministic.
"""

from __future__ import annotations

import datetime as dt
import functools
import json

import numpy as np

from synthgp import pathways
from synthgp.core import codes, dates, scenario
from synthgp.engine.sim import MONTH, YEAR, Month, Sim
from synthgp.population.people import People, simulate_people
from synthgp.population.plan import Plan, make_plan
from synthgp.record.log import EventLog, Finished

SEED = 7
N = 120
# practices of a few dozen records, so a small block spans several practices
SMALL_PRACTICES = {"list_size_mean": 40, "list_size_sd": 10, "list_size_min": 20, "list_size_max": 80}


def day(y: int, m: int = 1, d: int = 1) -> int:
    return dates.to_days(dt.date(y, m, d))


@functools.cache
def _population(n: int, seed: int, overrides: str) -> tuple[Plan, People]:
    sc = scenario.build(json.loads(overrides))
    plan = make_plan(sc, seed, n)
    return plan, simulate_people(plan, 0, n)


def population(n: int = N, seed: int = SEED, **sections: dict) -> tuple[Plan, People]:
    """A plan and its people (cached: do not change their arrays). `sections` override the scenario,
    e.g. care={"inertia": 0.0}."""
    over = {"population": dict(SMALL_PRACTICES), **sections}
    return _population(n, seed, json.dumps(over, sort_keys=True))


def make_sim(n: int = N, seed: int = SEED, *, plan: Plan | None = None, people: People | None = None, components=None,
             history=(), monthly=(), **sections: dict) -> Sim:
    """A Sim of the practice's services and pathways (or `components`: (services, pathways)) over a
    small block (or the given plan and people). The log keeps what block.py's would (each record's
    registration to death or leaving)."""
    if plan is None:
        plan, ppl = population(n, seed, **sections)
        people = ppl if people is None else people
    first = np.maximum(people.dob, people.regstart)
    last = np.where(people.death >= 0, people.death, np.where(people.regend >= 0, people.regend, plan.end_day))
    log = EventLog(first, last.copy())
    services, care = pathways.practice() if components is None else components
    return Sim(plan, people, log, services, care, list(history), list(monthly))


def put(sim: Sim, pos, **fields) -> None:
    """Set state fields of `pos` by hand (through the state, so ownership does not matter)."""
    for name, value in fields.items():
        sim.state.array(name)[pos] = value


def get(sim: Sim, name: str) -> np.ndarray:
    return sim.state.array(name)


def person(sim: Sim, pos, *, age: float, on: int, male: bool | None = None, black: bool | None = None) -> None:
    """Make each of `pos` `age` years old on day `on`, simulated (and in the record) from the start of
    the burn-in to the end of data collection, with nothing known or begun. Their arms are taken as
    already compared (clinic readings in the right arm, one a visit); the tests of the first measurement
    in both arms set `bp_arm` back."""
    pos = np.atleast_1d(pos)
    dob = on - int(round(age * YEAR))
    never = np.iinfo(np.int64).max // 4
    put(sim, pos, dob=dob, first_allowed=dob, ent=sim.start, lst=sim.end, age_entry=(sim.start - dob) / YEAR,
        death_day=-1, dereg_day=-1, bp_arm=1)
    for c in ("type2", "ckd", "af"):
        put(sim, pos, **{f"onset_{c}": never, f"known_{c}": never})
    for e in ("stroke", "mi", "heart_failure"):
        put(sim, pos, **{f"{e}_day": -1})
    if male is not None:
        put(sim, pos, male=male)
    if black is not None:
        put(sim, pos, black=black)
    sim.log.first_day[sim.P[pos]] = dob
    sim.log.last_day[sim.P[pos]] = sim.end


def month_at(sim: Sim, on: int, act=None, vday=None) -> Month:
    """The engine's month holding day `on`: its index and days, `act` (default: those the engine would
    take), each one's day (default: `on`, within their time) and what life and vitals fill in."""
    m = int((on - sim.start) // MONTH)
    while sim.start + int(round((m + 1) * MONTH)) <= on:
        m += 1
    while sim.start + int(round(m * MONTH)) > on:
        m -= 1
    day0 = sim.start + int(round(m * MONTH))
    day1 = min(sim.start + int(round((m + 1) * MONTH)), sim.end + 1)
    if act is None:
        act = np.flatnonzero((sim.ent < day1) & (sim.lst >= day0))
    act = np.atleast_1d(np.asarray(act, dtype=np.int64))
    month = Month(m, day0, day1, act)
    v = np.broadcast_to(np.asarray(on if vday is None else vday, dtype=np.int64), len(act))
    month.vday = np.clip(v, sim.ent[act], sim.lst[act])
    month.age = sim.life.age_at(act, month.vday)
    month.bmi = sim.life.bmi_at(act, month.vday)
    month.usual_sbp, month.usual_dbp = sim.vitals.usual(act, month.vday, month.age, month.bmi)
    month.treated_sbp, month.treated_dbp = sim.vitals.treated(act, month.usual_sbp, month.usual_dbp)
    return month


# ---------------------------------------------------------------- reading the log back

_TABLES = {"cons": "_cons", "obs": "_obs", "issue": "_issue"}


def emitted(sim: Sim, table: str = "obs", pos=None, code: str | None = None) -> dict[str, np.ndarray]:
    """The rows emitted so far (nothing dropped, no ids), in emission order; `pat` is the simulated
    position. Optionally only those of `pos` and, for observations, of the code named `code`."""
    rows = getattr(sim.log, _TABLES[table])
    cols = {k: rows.column(k) for k in rows.dtypes}
    back = np.full(len(sim.people.index), -1)
    back[sim.P] = np.arange(sim.n)
    cols["pat"] = back[cols["pat"]]
    keep = np.ones(len(cols["pat"]), dtype=bool)
    if pos is not None:
        keep &= np.isin(cols["pat"], np.atleast_1d(pos))
    if code is not None:
        keep &= cols["medcode"] == codes.medcode(code)
    return {k: v[keep] for k, v in cols.items()}


def finish(sim: Sim, keep_all: bool = True) -> Finished:
    """The finished log. With `keep_all`, every row is kept whatever its date (a hand-made state need
    not agree with the population's registration)."""
    if keep_all:
        sim.log.first_day[:] = -(10**9)
        sim.log.last_day[:] = 10**9
    return sim.log.finish(sim.people.patid, sim.people.pracid)


def truth(sim: Sim, table: str) -> dict[str, np.ndarray]:
    """A truth table as the component that writes it hands it back (pat = block index)."""
    for c in sim.components.values():
        if table in c.truth:
            return c.truth_tables(sim)[table]
    raise KeyError(table)
