"""People, simulated a block at a time from the plan: age, sex, registration, death, ethnicity and
deprivation as arrays, every draw keyed by the person's global index (core/rng.py)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from synthgp.core import dates, reference
from synthgp.core.ids import PATID_MULT
from synthgp.core.rng import Draws
from synthgp.population.plan import Demography, Plan

# ---------------------------------------------------------------- people

CURRENT, LEAVER, TEMPORARY = 0, 1, 2


@dataclass
class People:
    """One block of people as arrays (one entry per patient record)."""

    index: np.ndarray  # global patient index
    practice: np.ndarray  # practice row in the plan
    patid: np.ndarray
    pracid: np.ndarray
    status: np.ndarray  # CURRENT, LEAVER or TEMPORARY
    male: np.ndarray  # bool
    dob: np.ndarray  # day numbers
    regstart: np.ndarray
    regend: np.ndarray  # day number, or -1 if registered at the end
    death: np.ndarray  # day number, or -1
    ethnicity: np.ndarray  # index into population.toml ethnicity groups
    ethnicity_recorded: np.ndarray  # bool
    ethnicity_day: np.ndarray  # day the practice codes the ethnicity of those recorded (population.toml)
    imd: np.ndarray  # 1..5
    townsend: np.ndarray
    usual_gp: np.ndarray  # staffid


def _scramble(local: np.ndarray, n: np.ndarray) -> np.ndarray:
    """A bijection of 0..n-1 per practice, so patid order says nothing about who left or died."""
    a = np.where(np.gcd(7919, n) == 1, 7919, np.where(np.gcd(104729, n) == 1, 104729, 1))
    return (local * a + 12345) % n


def _ethnicity_day(plan: Plan, idx: np.ndarray, regstart: np.ndarray, last: np.ndarray, cfg: dict) -> np.ndarray:
    """The day the practice codes a person's ethnicity with the 2011-census categories: soon after registration,
    or, for those registered before the codes existed, at a later contact after census day. Never after the
    person's last registered day (a death is applied when the record is made)."""
    first = dates.to_days(cfg["census_codes_first_day"])
    soon = regstart + np.round(Draws(plan.seed, "obs.ethnicity.delay").exponential(idx, cfg["after_registration_mean_days"]))
    later = first + np.round(Draws(plan.seed, "obs.ethnicity.existing").exponential(idx, cfg["existing_patients_mean_days"]))
    return np.minimum(np.where(regstart >= first, soon, later).astype(np.int64), last)


def simulate_people(plan: Plan, lo: int, hi: int) -> People:
    sc, seed = plan.scenario, plan.seed
    reg = sc.registration
    idx = np.arange(lo, hi, dtype=np.int64)
    prac = np.searchsorted(plan.first_record, idx, side="right") - 1
    local = idx - plan.first_record[prac]
    status = np.where(local < plan.n_current[prac], CURRENT,
                      np.where(local < plan.n_current[prac] + plan.n_leavers[prac], LEAVER, TEMPORARY))
    seq = _scramble(local, plan.n_records[prac]) + 1
    pracid = plan.pracid[prac]
    demo = Demography.for_region(sc.population.region)
    start, end = plan.start_day, plan.end_day
    span = end - start + 1

    # Age and sex: current and temporary from the list's structure, leavers from the leaving one.
    cell_cur = Draws(seed, "person.agesex").categorical(idx, demo.current.ravel())
    cell_lv = Draws(seed, "person.agesex.leaver").categorical(idx, demo.leaver.ravel())
    cell = np.where(status == LEAVER, cell_lv, cell_cur)
    male = cell < demo.current.shape[1]
    age = cell % demo.current.shape[1]
    frac = Draws(seed, "person.age_fraction").uniform(idx)

    # The reference day at which `age` holds: the end date, or the day of leaving.
    leave_day = start + Draws(seed, "person.leave_day").integers(idx, span)
    ref_day = np.where(status == LEAVER, leave_day, end)
    dob = ref_day - np.floor((age + frac) * dates.DAYS_PER_YEAR).astype(np.int64)

    died = (status == LEAVER) & (Draws(seed, "person.died").uniform(idx) < demo.death_share[(~male).astype(int), age])
    lag = np.round(Draws(seed, "person.newborn_lag").exponential(idx, reg.newborn_lag_mean_days)).astype(np.int64)
    # time since registration follows the age-specific moving rates backwards from the reference age,
    # so joiners are mostly young movers and newborns, and the list keeps its age structure over time
    since = demo.years_since_registration(age + frac, Draws(seed, "person.registration").exponential(idx, 1.0))
    duration = np.round(since * dates.DAYS_PER_YEAR).astype(np.int64)
    regstart = np.maximum(dob + lag, ref_day - duration)
    # no NHS registration before the NHS: those registered since birth before it date from its first day
    pop = reference.toml("population.toml")
    regstart = np.maximum(regstart, dates.to_days(pop["registration"]["nhs_first_day"]))
    regstart = np.minimum(regstart, ref_day)  # a newborn who dies within days is registered on the day

    regend = np.where(status == LEAVER, leave_day, -1)
    dereg = np.round(Draws(seed, "person.deregistration").exponential(idx, reg.deregistration_after_death_mean_days)).astype(np.int64)
    regend = np.where(died, leave_day + dereg, regend)
    regend = np.where(regend > end, -1, regend)  # deregistered after data collection: not yet in the record
    death = np.where(died, leave_day, -1)

    # Temporary residents: a short stay starting in the period.
    t = status == TEMPORARY
    t_start = start + Draws(seed, "person.temporary_start").integers(idx, span)
    t_start = np.maximum(t_start, dob)
    t_len = np.round(Draws(seed, "person.temporary_stay").exponential(idx, reg.temporary_stay_mean_days)).astype(np.int64)
    regstart = np.where(t, t_start, regstart)
    regend = np.where(t, np.where(t_start + t_len > end, -1, t_start + t_len), regend)

    region_key = sc.population.region
    profile = reference.toml("regions.toml")[region_key].get("profile", {})
    eth_share = np.asarray(profile.get("ethnicity_share", pop["ethnicity"]["share"]))
    ethnicity = Draws(seed, "person.ethnicity").categorical(idx, eth_share)
    recorded = Draws(seed, "person.ethnicity_recorded").uniform(idx) >= sc.population.ethnicity_unrecorded

    eth_cfg = pop["ethnicity_recording"]
    eth_day = _ethnicity_day(plan, idx, regstart, np.where(regend >= 0, regend, end), eth_cfg)
    recorded &= eth_day >= dates.to_days(eth_cfg["census_codes_first_day"])  # gone before the codes existed

    imd_share = np.asarray(profile.get("imd_quintile_share", pop["imd"]["quintile_share"]))
    imd = Draws(seed, "person.imd").categorical(idx, imd_share) + 1
    ts = pop["townsend"]
    townsend = np.clip(np.asarray(ts["mean_by_imd_quintile"])[imd - 1] + ts["sd"] * Draws(seed, "person.townsend").normal(idx),
                       ts["min"], ts["max"])
    townsend = np.round(townsend, 3)

    gp_k = plan.staff_first[prac, 0] + Draws(seed, "person.usual_gp").integers(idx, plan.staff_count[prac, 0])
    return People(
        index=idx, practice=prac, patid=seq * PATID_MULT + pracid, pracid=pracid, status=status,
        male=male, dob=dob, regstart=regstart, regend=regend, death=death, ethnicity=ethnicity,
        ethnicity_recorded=recorded, ethnicity_day=eth_day, imd=imd, townsend=townsend, usual_gp=gp_k * PATID_MULT + pracid,
    )
