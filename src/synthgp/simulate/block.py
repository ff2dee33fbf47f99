"""One block of patients, from the plan to every per-patient table: a pure function of (plan, lo, hi)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from synthgp.core import schema
from synthgp.pathways import hypertension
from synthgp.population import identities
from synthgp.population.people import simulate_people
from synthgp.population.plan import Plan
from synthgp.record import tables
from synthgp.record.log import EventLog


def block_tables(plan: Plan, lo: int, hi: int) -> dict[str, pa.Table]:
    """All per-patient tables for patients lo..hi-1. A pure function of (plan, lo, hi)."""
    people = simulate_people(plan, lo, hi)
    first = np.maximum(people.dob, people.regstart)
    last = np.where(people.death >= 0, people.death, np.where(people.regend >= 0, people.regend, plan.end_day))
    log = EventLog(first, last.copy())
    tables.ethnicity(plan, people, log)
    htn = hypertension.simulate(plan, people, log) if plan.care else None  # may bring deaths forward
    fin = log.finish(people.patid, people.pracid)
    out = {"patient": tables.patient(plan, people)}
    no_problems = {"pat": np.empty(0, dtype=np.int64), "key": np.empty(0, dtype=np.int64)}
    out.update(tables.record_tables(plan, people, fin, htn.truth["_problem_key"] if htn else no_problems))
    out["patient_deprivation"] = tables.table(schema.DEPRIVATION, {
        "patid": people.patid, "pracid": people.pracid, "e2019_imd_5": people.imd, "townsend": people.townsend})
    out["patient_identity"] = identities.patient_identity(plan, people)
    out["person_truth"] = tables.person_truth(plan, people)
    for name in ("hypertension_truth", "bp_truth_year", "decision_truth", "outcome_truth", "risk_factor_truth"):
        t = schema.BY_NAME[name]
        out[name] = tables.truth_table(t, htn.truth[name], people) if htn else t.arrow_schema.empty_table()
    return out
