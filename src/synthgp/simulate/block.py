"""One block of patients, from the plan to every per-patient table: a pure function of (plan, lo, hi)."""

from __future__ import annotations

import dataclasses
from concurrent.futures import Executor

import numpy as np
import pyarrow as pa

from synthgp import pathways
from synthgp.core import schema
from synthgp.engine.sim import Outcome, Sim
from synthgp.population import identities
from synthgp.population.people import People, simulate_people
from synthgp.population.plan import Plan
from synthgp.record import tables
from synthgp.record.log import EventLog

# truth tables the simulation writes (person_truth comes from the population)
SIMULATED_TRUTH = tuple(t.name for t in schema.BLOCK_TABLES if t.group == "truth" and t.name != "person_truth")


def simulate(plan: Plan, people: People, log: EventLog) -> Outcome:
    """Care for the block's people, written into `log`: the practice's services and pathways."""
    services, care = pathways.practice()
    return Sim(plan, people, log, services, care, pathways.HISTORY, pathways.MONTHLY).run()


@dataclasses.dataclass
class Simulated:
    """A block simulated but not yet made into tables: its people, the log of what was recorded, and
    what the simulation returned (None for the registered population alone)."""

    people: People
    log: EventLog
    outcome: Outcome | None


def simulate_block(plan: Plan, lo: int, hi: int) -> Simulated:
    """Patients lo..hi-1 simulated: the first half of block_tables."""
    people = simulate_people(plan, lo, hi)
    first = np.maximum(people.dob, people.regstart)
    last = np.where(people.death >= 0, people.death, np.where(people.regend >= 0, people.regend, plan.end_day))
    log = EventLog(first, last.copy(), people.dob)
    tables.ethnicity(plan, people, log)
    outcome = simulate(plan, people, log) if plan.care else None
    if outcome is not None:  # deaths the simulation brought forward
        people = dataclasses.replace(people, death=outcome.death, regend=outcome.regend)
    return Simulated(people, log, outcome)


def tables_of(plan: Plan, block: Simulated, pool: Executor | None = None) -> dict[str, pa.Table]:
    """A simulated block's tables: the second half of block_tables (sorting the log, building Arrow).
    With a `pool`, the people's tables are built in it while this thread makes the record's."""
    people = pool.submit(_people_tables, plan, block) if pool is not None else None
    people_tables = _people_tables(plan, block) if people is None else None
    outcome = block.outcome
    fin = block.log.finish(block.people.patid, block.people.pracid, pool)
    no_problems = {"pat": np.empty(0, dtype=np.int64), "key": np.empty(0, dtype=np.int64)}
    record = tables.record_tables(plan, block.people, fin, outcome.problem_key if outcome else no_problems)
    people_tables = people_tables if people is None else people.result()
    return {"patient": people_tables.pop("patient"), **record, **people_tables}


def _people_tables(plan: Plan, block: Simulated) -> dict[str, pa.Table]:
    """The tables that come from the people and the simulation's truth, not from the record."""
    people, outcome = block.people, block.outcome
    out = {"patient": tables.patient(plan, people), "patient_deprivation": tables.deprivation(people),
           "patient_identity": identities.patient_identity(plan, people), "person_truth": tables.person_truth(plan, people)}
    for name in SIMULATED_TRUTH:
        t = schema.BY_NAME[name]
        out[name] = tables.truth_table(t, outcome.truth[name], people) if outcome else t.arrow_schema.empty_table()
    return out


def block_tables(plan: Plan, lo: int, hi: int) -> dict[str, pa.Table]:
    """All per-patient tables for patients lo..hi-1. A pure function of (plan, lo, hi)."""
    return tables_of(plan, simulate_block(plan, lo, hi))
