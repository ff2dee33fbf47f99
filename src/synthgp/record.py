"""From simulated arrays to the record's Arrow tables (schema.py), for the plan and for each block."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from synthgp import dates, identities, reference, schema
from synthgp.population import (CURRENT, LEAVER, OBS_PER_PATIENT_BITS, PATID_MULT, TEMPORARY, People, Plan,
                                postcode_table, simulate_people)
from synthgp.rng import Draws

_INT_NULL = None


def _opt(values: np.ndarray, missing: np.ndarray, type_: pa.DataType) -> pa.Array:
    return pa.array(values, type=type_, mask=missing)


def _table(t: schema.Table, columns: dict[str, pa.Array | np.ndarray]) -> pa.Table:
    """Build a table in declared column order; columns left out are all null."""
    n = len(next(iter(columns.values())))
    arrays = []
    for col in t.columns:
        v = columns.get(col.name)
        arrays.append(pa.nulls(n, col.type) if v is None else pa.array(v, type=col.type))
    return pa.Table.from_arrays(arrays, schema=t.arrow_schema)


# ---------------------------------------------------------------- plan-level tables

def plan_tables(plan: Plan) -> dict[str, pa.Table]:
    cfg = reference.toml("practice.toml")
    pcs = postcode_table()
    ids = np.arange(plan.n_practices)
    suffixes = np.array(cfg["practice_names"]["suffixes"])
    names_town = identities._pick(pcs.towns, plan.town)
    suffix = identities._pick(suffixes, Draws(plan.seed, "practice.name_suffix").integers(ids, len(suffixes)))
    surname_pool = identities._names()["last"]
    surname = identities._pick(surname_pool, Draws(plan.seed, "practice.name").integers(ids, len(surname_pool)))
    use_town = Draws(plan.seed, "practice.name_form").uniform(ids) < 0.5
    import pyarrow.compute as pc

    name = pc.if_else(pa.array(use_town), identities._join(names_town, " ", suffix),
                      identities._join(surname, " ", suffix))
    postcode = identities._join(identities._pick(pcs.outward, plan.outward), " ",
                                identities.inward_codes(plan.seed, ids, "practice.inward"))
    practice = _table(schema.PRACTICE, {
        "pracid": plan.pracid, "lcd": dates.arrow(np.full(plan.n_practices, plan.end_day)),
        "uts": dates.arrow(plan.uts_day), "region": plan.region_id, "name": name, "town": names_town,
        "postcode": postcode, "list_size": plan.list_size,
    })

    jobs = reference.toml("aurum_lookups.toml")["JobCat"]
    job_ids = np.array([r[0] for r in jobs["rows"]])
    keys = np.array(jobs["job_keys"])
    counts = plan.staff_count
    prac_of = np.repeat(np.arange(plan.n_practices), counts.sum(axis=1))
    job_of = np.concatenate([np.repeat(np.arange(counts.shape[1]), c) for c in counts])
    local = np.concatenate([np.arange(1, c.sum() + 1) for c in counts])
    staffid = local * PATID_MULT + plan.pracid[prac_of]
    staff = _table(schema.STAFF, {"staffid": staffid, "pracid": plan.pracid[prac_of], "jobcatid": job_ids[job_of]})
    title, given, family = identities.staff_names(plan, staffid, keys[job_of])
    staff_identity = _table(schema.STAFF_IDENTITY, {"staffid": staffid, "title": title, "given_name": given,
                                                    "family_name": family})
    return {"practice": practice, "staff": staff, "staff_identity": staff_identity}


def lookup_tables() -> dict[str, pa.Table]:
    """Aurum lookups and the medical dictionary, as small tables."""
    out: dict[str, pa.Table] = {}
    lk = reference.toml("aurum_lookups.toml")
    for name, spec in lk.items():
        if not isinstance(spec, dict):
            continue
        cols = list(zip(*spec["rows"]))
        out[name] = pa.table({c: pa.array(v) for c, v in zip(spec["columns"], cols)})
    reg = reference.toml("regions.toml")["lookup"]
    out["Region"] = pa.table({"regionid": pa.array(reg["ids"], pa.int16()), "description": reg["names"]})
    codes = reference.csv_rows("codes.csv")
    out["MedicalDictionary"] = pa.table({
        "medcodeid": pa.array([int(r["medcodeid"]) for r in codes], pa.int64()),
        "term": [r["term"] for r in codes],
        "originalreadcode": pa.nulls(len(codes), pa.string()),
        "cleansedreadcode": pa.nulls(len(codes), pa.string()),
        "snomedctconceptid": pa.array([int(r["snomedctconceptid"]) for r in codes], pa.int64()),
        "snomedctdescriptionid": pa.nulls(len(codes), pa.int64()),
        "release": pa.nulls(len(codes), pa.string()),
        "emiscodecategoryid": pa.nulls(len(codes), pa.int16()),
    })
    return out


# ---------------------------------------------------------------- block tables

def _patient(plan: Plan, p: People) -> pa.Table:
    lk = reference.toml("aurum_lookups.toml")["PatientType"]["rows"]
    ptype = {desc: i for i, desc in lk}
    under16 = (plan.end_day - p.dob) < 16 * 365.25
    return _table(schema.PATIENT, {
        "patid": p.patid, "pracid": p.pracid, "usualgpstaffid": p.usual_gp,
        "gender": np.where(p.male, 1, 2), "yob": dates.year_of(p.dob),
        "mob": _opt(dates.month_of(p.dob), ~under16, pa.int8()),
        "emis_ddate": dates.arrow(p.death, p.death < 0), "regstartdate": dates.arrow(p.regstart),
        "patienttypeid": np.where(p.status == TEMPORARY, ptype["Temporary"], ptype["Regular"]),
        "regenddate": dates.arrow(p.regend, p.regend < 0),
        "acceptable": np.where(p.status == TEMPORARY, 0, 1),
        "cprd_ddate": dates.arrow(p.death, p.death < 0),
    })


def _ethnicity_observations(plan: Plan, p: People) -> pa.Table:
    """An ethnicity code for those whose ethnicity the practice recorded, soon after registration."""
    pop = reference.toml("population.toml")["ethnicity"]
    r = np.flatnonzero(p.ethnicity_recorded)
    ids = p.index[r]
    obsdate = p.regstart[r] + np.round(Draws(plan.seed, "obs.ethnicity.delay").exponential(ids, 30.0)).astype(np.int64)
    last = np.where(p.regend[r] >= 0, p.regend[r], plan.end_day)
    obsdate = np.minimum(obsdate, last)
    seq = p.patid[r] // PATID_MULT
    prac = p.practice[r]
    admin_job = reference.toml("aurum_lookups.toml")["JobCat"]["job_keys"].index("admin")
    k = plan.staff_first[prac, admin_job] + Draws(plan.seed, "obs.ethnicity.staff").integers(ids, plan.staff_count[prac, admin_job])
    obstype = {d: i for i, d in reference.toml("aurum_lookups.toml")["ObsType"]["rows"]}["Observation"]
    return _table(schema.OBSERVATION, {
        "patid": p.patid[r], "pracid": p.pracid[r],
        "obsid": ((seq << OBS_PER_PATIENT_BITS) | 0) * PATID_MULT + p.pracid[r],
        "obsdate": dates.arrow(obsdate), "enterdate": dates.arrow(obsdate),
        "staffid": k * PATID_MULT + p.pracid[r],
        "medcodeid": np.asarray(pop["medcodeid"])[p.ethnicity[r]],
        "obstypeid": np.full(len(r), obstype),
    })


def _truth(plan: Plan, p: People) -> pa.Table:
    pop = reference.toml("population.toml")["ethnicity"]
    exit_reason = np.where(p.status == TEMPORARY, "temporary",
                           np.where(p.death >= 0, "died", np.where(p.status == LEAVER, "moved", None)))
    return _table(schema.PERSON_TRUTH, {
        "patid": p.patid, "ethnicity": np.asarray(pop["groups"])[p.ethnicity],
        "ethnicity_broad": np.asarray(pop["broad"])[p.ethnicity], "date_of_birth": dates.arrow(p.dob),
        "date_of_death": dates.arrow(p.death, p.death < 0), "exit_reason": exit_reason,
    })


def block_tables(plan: Plan, lo: int, hi: int) -> dict[str, pa.Table]:
    """All per-patient tables for patients lo..hi-1. A pure function of (plan, lo, hi)."""
    people = simulate_people(plan, lo, hi)
    return {
        "patient": _patient(plan, people),
        "observation": _ethnicity_observations(plan, people),
        "patient_deprivation": _table(schema.DEPRIVATION, {
            "patid": people.patid, "pracid": people.pracid, "e2019_imd_5": people.imd, "townsend": people.townsend}),
        "patient_identity": identities.patient_identity(plan, people),
        "person_truth": _truth(plan, people),
    }


assert CURRENT == 0  # status codes are shared with population.py
