"""The practice population: practices and staff (the plan), then people, simulated a block at a time.

A run of N patient records is planned up front: practices with list sizes drawn until their
records add up to N, and their staff. Patients are then global indices 0..N-1, and every draw
about patient i is keyed by i (see rng.py), so any split into blocks gives the same people.

Who is in the records: everyone registered at any time in the study period. Of a practice's
records, `current` are registered on the end date (age and sex drawn from the list's age
structure), `leavers` died or moved away during the period (age at leaving drawn in proportion to
the list's age structure times the age-specific death and moving rates), and a small share are
temporary residents. The end-date list therefore lands on the published age structure by
construction (a calibration), while the deaths, turnover and age at death follow from the rates.
Time since registration is drawn from the same moving rates, counted back from each person's age,
so the list keeps its size and age structure through the study instead of drifting.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from synthgp.core import dates, reference
from synthgp.core.rng import Draws
from synthgp.core.scenario import Scenario

MAX_AGE = 100


# ---------------------------------------------------------------- age, sex and hazards

def _step_lookup(starts: list[int], values: list[float], ages: np.ndarray) -> np.ndarray:
    return np.asarray(values, dtype=np.float64)[np.searchsorted(starts, ages, side="right") - 1]


@dataclass(frozen=True)
class Demography:
    """Age-sex distributions of one region, as 2 x 101 arrays (row 0 men, row 1 women)."""

    current: np.ndarray  # P(sex, age) on the list at the end date
    leaver: np.ndarray  # P(sex, age at leaving) among those who died or moved
    death_share: np.ndarray  # P(died | left, sex, age)
    hazard: float  # mean leaving rate per person-year on the list
    move_grid: np.ndarray  # ages (years) on a fine grid
    move_cumulative: np.ndarray  # cumulative moving hazard from birth to each grid age

    def years_since_registration(self, age: np.ndarray, e: np.ndarray) -> np.ndarray:
        """Time back to the last move for people aged `age`, given Exp(1) draws `e`: moves happen at the
        age-specific moving rates, so older people have been registered longer. Capped at `age` (registered
        since birth)."""
        c_now = np.interp(age, self.move_grid, self.move_cumulative)
        target = c_now - e
        moved_at = np.interp(np.maximum(target, 0.0), self.move_cumulative, self.move_grid)
        return np.where(target > 0, age - moved_at, age)

    @classmethod
    def for_region(cls, region: str) -> "Demography":
        pop = reference.toml("population.toml")
        ages = np.arange(MAX_AGE + 1)
        bands = pop["age_bands"]["bands"]
        share = np.asarray(pop["age_bands"]["share"], dtype=np.float64)
        profile = reference.toml("regions.toml")[region].get("profile", {})
        share = share * np.asarray(profile.get("age_band_multiplier", np.ones(len(bands))))
        shape = _step_lookup(pop["age_shape"]["starts"], pop["age_shape"]["weight"], ages)
        by_age = np.zeros(len(ages))
        for (lo, hi), s in zip(bands, share):
            sel = (ages >= lo) & (ages <= hi)
            by_age[sel] = s * shape[sel] / shape[sel].sum()
        by_age /= by_age.sum()
        male = _step_lookup(pop["male_share"]["starts"], pop["male_share"]["share"], ages)
        current = np.vstack([by_age * male, by_age * (1 - male)])

        m = pop["mortality"]
        mort = np.vstack([
            _step_lookup(m["starts"], m["male_per_1000"], ages),
            _step_lookup(m["starts"], m["female_per_1000"], ages),
        ]) / 1000.0
        mv = pop["moving_out"]
        move = np.broadcast_to(_step_lookup(mv["starts"], mv["rate"], ages), mort.shape)
        rate = mort + move
        leaver = current * rate
        hazard = float(leaver.sum())
        grid = np.arange(0, MAX_AGE + 1.01, 0.05)
        cum = np.concatenate([[0.0], np.cumsum(_step_lookup(mv["starts"], mv["rate"], grid[:-1]) * 0.05)])
        return cls(current=current, leaver=leaver / hazard, death_share=mort / rate, hazard=hazard,
                   move_grid=grid, move_cumulative=cum)


# ---------------------------------------------------------------- the plan

@dataclass(frozen=True)
class Plan:
    """Everything decided before patients are simulated: small arrays, cheap to send to workers."""

    seed: int
    n_patients: int
    start_day: int
    end_day: int
    scenario: Scenario
    pracid: np.ndarray
    region_id: np.ndarray
    town: np.ndarray  # index into the postcode table's towns
    outward: np.ndarray  # practice postcode outward index
    list_size: np.ndarray
    first_record: np.ndarray  # global index of each practice's first record
    n_records: np.ndarray
    n_current: np.ndarray
    n_leavers: np.ndarray
    uts_day: np.ndarray
    staff_first: np.ndarray  # (practices, jobs): first local staff number of each job
    staff_count: np.ndarray  # (practices, jobs)
    care: bool = True  # simulate care pathways (False: the registered population only)

    @property
    def n_practices(self) -> int:
        return len(self.pracid)

    @property
    def years(self) -> float:
        return (self.end_day - self.start_day + 1) / dates.DAYS_PER_YEAR


def _lognormal_sizes(seed: int, n: int, sc: Scenario) -> np.ndarray:
    p = sc.population
    sigma2 = np.log1p((p.list_size_sd / p.list_size_mean) ** 2)
    mu = np.log(p.list_size_mean) - sigma2 / 2
    z = Draws(seed, "practice.list_size").normal(np.arange(n))
    return np.clip(np.round(np.exp(mu + np.sqrt(sigma2) * z)), p.list_size_min, p.list_size_max).astype(np.int64)


def make_plan(sc: Scenario, seed: int, n_patients: int, care: bool = True) -> Plan:
    if n_patients < 1:
        raise ValueError("n_patients must be at least 1")
    start_day = dates.to_days(sc.period.first_day)
    end_day = dates.to_days(sc.period.end)
    years = (end_day - start_day + 1) / dates.DAYS_PER_YEAR
    demo = Demography.for_region(sc.population.region)
    temp = sc.registration.temporary_resident_share
    per_list = (1 + years * demo.hazard) / (1 - temp)  # records per patient on the end-date list

    # Draw list sizes until the practices' records reach n_patients (a few spare draws at a time).
    sizes = np.empty(0, dtype=np.int64)
    while np.round(sizes * per_list).sum() < n_patients:
        sizes = _lognormal_sizes(seed, len(sizes) + 64, sc)
        cum = np.cumsum(np.round(sizes * per_list))
        k = int(np.searchsorted(cum, n_patients)) + 1
        if k <= len(sizes):
            sizes = sizes[:k]
    records = np.round(sizes * per_list).astype(np.int64)
    records[-1] -= records.sum() - n_patients
    sizes[-1] = max(1, int(round(records[-1] / per_list)))
    n_current = np.minimum(records, np.round(records * (1 - temp) / (1 + years * demo.hazard))).astype(np.int64)
    n_temp = np.round(records * temp).astype(np.int64)
    n_leavers = np.maximum(records - n_current - n_temp, 0)
    n_prac = len(records)
    ids = np.arange(n_prac)

    regions = reference.toml("regions.toml")
    lookup = regions["lookup"]
    if sc.population.region == "england":
        rkey_idx = Draws(seed, "practice.region").categorical(ids, np.asarray(lookup["population_share"]))
    else:
        rkey_idx = np.full(n_prac, lookup["keys"].index(sc.population.region))
    region_id = np.asarray(lookup["ids"])[rkey_idx]
    pc = postcode_table()
    outward = np.empty(n_prac, dtype=np.int64)
    for r in np.unique(rkey_idx):
        sel = rkey_idx == r
        first, count = pc.region_range[lookup["keys"][r]]
        outward[sel] = first + Draws(seed, "practice.outward").integers(ids[sel], count)

    prac = reference.toml("practice.toml")
    dc = prac["data_collection"]
    uts_lo = dates.to_days(__import__("datetime").date(dc["uts_year_min"], 1, 1))
    uts_hi = dates.to_days(__import__("datetime").date(dc["uts_year_max"], 12, 31))
    uts = uts_lo + Draws(seed, "practice.uts").integers(ids, uts_hi - uts_lo + 1)

    spp = prac["staff_per_patient"]
    jitter = 0.8 + 0.4 * np.stack([Draws(seed, f"practice.staff.{j}").uniform(ids) for j in spp["jobs"]], axis=1)
    counts = np.maximum(np.round(sizes[:, None] / np.asarray(spp["patients_per"])[None, :] * jitter),
                        np.asarray(spp["min"])[None, :]).astype(np.int64)
    first = 1 + np.cumsum(counts, axis=1) - counts

    return Plan(
        seed=seed, n_patients=n_patients, start_day=start_day, end_day=end_day, scenario=sc,
        pracid=prac["identifiers"]["first_pracid"] + ids, region_id=region_id,
        town=pc.town_index[outward], outward=outward, list_size=sizes,
        first_record=np.cumsum(records) - records, n_records=records, n_current=n_current,
        n_leavers=n_leavers, uts_day=uts, staff_first=first, staff_count=counts, care=care,
    )


@dataclass(frozen=True)
class PostcodeTable:
    outward: np.ndarray  # str
    town_index: np.ndarray  # per outward code
    towns: np.ndarray  # str, unique
    region_range: dict[str, tuple[int, int]]  # region key -> (first row, count); rows sorted by region
    town_range: np.ndarray  # per town: (first row, count)


_PC: PostcodeTable | None = None


def postcode_table() -> PostcodeTable:
    global _PC
    if _PC is None:
        rows = sorted(reference.csv_rows("postcodes.csv"), key=lambda r: (r["region"], r["town"]))
        outward = np.array([r["outward"] for r in rows])
        town_names = [r["town"] for r in rows]
        towns, town_index = np.unique(np.array(town_names), return_inverse=True)
        ranges: dict[str, tuple[int, int]] = {}
        for i, r in enumerate(rows):
            f, c = ranges.get(r["region"], (i, 0))
            ranges[r["region"]] = (f, c + 1)
        town_range = np.zeros((len(towns), 2), dtype=np.int64)
        for t in range(len(towns)):
            rows_t = np.flatnonzero(town_index == t)
            town_range[t] = (rows_t[0], len(rows_t))
        _PC = PostcodeTable(outward, town_index, towns, ranges, town_range)
    return _PC
