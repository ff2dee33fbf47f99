"""When each register condition starts and when the practice knows: drawn once, at the start of a block.

A condition's cumulative onset curve F(age) (data/registers.toml, by sex, times its fitted `level`) is the share
diagnosed by each age. A person with risk multiplier r has onset by age a with probability 1 - (1 - F(a))^r
(their hazard is r times the curve's), so one uniform u gives the onset age F^-1(1 - (1 - u)^(1/r)); beyond the
curve's last age there is no onset. r = exp(risk log-hazards + frailty * z - frailty^2 / 2), where z is one
normal a person shares with every condition: the conditions cluster in the same people.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from synthgp.core import codes, dates, reference
from synthgp.engine.sim import YEAR

if TYPE_CHECKING:
    from synthgp.engine.sim import Sim

NEVER = np.iinfo(np.int64).max // 4
FACTORS = ("smoker", "ex_smoker", "deprivation", "obese", "diabetes", "af")


@dataclass
class Condition:
    """One register condition as data/registers.toml describes it (own onset, or `external` care only)."""

    name: str
    external: bool
    spec: dict
    codes: list[str] = field(default_factory=list)

    @property
    def review(self) -> dict | None:
        return self.spec.get("review")

    @property
    def medicines(self) -> list[dict]:
        return self.spec.get("medicines", [])


def load() -> tuple[dict, list[Condition]]:
    """The data file and its conditions, own ones first, in file order; a clear error on a malformed entry."""
    cfg = reference.toml("registers.toml")
    out = []
    for name, spec in cfg["condition"].items():
        n_ages = len(cfg["ages"])
        for sex in ("female", "male"):
            curve = np.asarray(spec[sex], dtype=float)
            if len(curve) != n_ages or (np.diff(curve) < 0).any() or curve[0] != 0:
                raise ValueError(f"registers.toml [condition.{name}] {sex}: {n_ages} shares from 0, never falling")
        bad = set(spec.get("risk", {})) - set(FACTORS)
        if bad:
            raise ValueError(f"registers.toml [condition.{name}] risk: unknown factors {sorted(bad)}; known {FACTORS}")
        for sex in ("female", "male"):
            share = spec.get(f"code_share_{sex}", [1.0])
            if len(share) != len(spec["codes"]) or abs(sum(share) - 1) > 1e-9:
                raise ValueError(f"registers.toml [condition.{name}] code_share_{sex} must give each code a share, summing to 1")
        out.append(Condition(name, False, spec, list(spec["codes"])))
    out += [Condition(name, True, spec) for name, spec in cfg.get("external", {}).items()]
    return cfg, out


def factors(sim: "Sim") -> dict[str, np.ndarray]:
    """Each risk factor of `FACTORS` for everyone simulated, from the state at entry."""
    st = sim.state
    smoking, imd = st.array("rf_smoking"), st.array("imd")
    return {"smoker": (smoking >= 2).astype(float), "ex_smoker": (smoking == 1).astype(float),
            "deprivation": (3 - imd).astype(float), "obese": (st.array("rf_bmi") >= 30).astype(float),
            "diabetes": (st.array("rf_onset_type2") < 900).astype(float), "af": (st.array("rf_onset_af") < 900).astype(float)}


def onset_ages(ages: np.ndarray, curve_f: np.ndarray, curve_m: np.ndarray, male: np.ndarray, mult: np.ndarray,
               u: np.ndarray) -> np.ndarray:
    """Onset age of each person (inf where none), by inverting the curve of their sex raised to `mult`."""
    v = 1 - (1 - u) ** (1 / mult)
    out = np.full(len(u), np.inf)
    for is_male, curve in ((False, curve_f), (True, curve_m)):
        sel = male == is_male
        strict = curve + np.arange(len(curve)) * 1e-12  # strictly rising, so the inverse is a function
        hit = sel & (v < curve[-1])
        out[hit] = np.interp(v[hit], strict, ages)
    return out


def draw(sim: "Sim", cfg: dict, conditions: list[Condition]) -> dict[str, np.ndarray]:
    """Onset and known days (n, C) for everyone simulated, and the code each would get. External conditions
    take conditions.py's days; history-only ones have no onset after entry."""
    st, n, C = sim.state, sim.n, len(conditions)
    dob, ent, first, male = st.array("dob"), st.array("ent"), st.array("first_allowed"), st.array("male")
    ages = np.asarray(cfg["ages"], dtype=float)
    rf = factors(sim)
    z = sim.draws("reg.frailty").normal(sim.everyone)
    onset = np.full((n, C), NEVER, dtype=np.int64)
    known = np.full((n, C), NEVER, dtype=np.int64)
    code = np.full((n, C), -1, dtype=np.int64)
    care = sim.care
    for j, c in enumerate(conditions):
        if c.external and "flag" in c.spec:  # on the register from the day they are simulated as adults (coded at
            has = st.array(f"rf_{c.spec['flag']}").astype(bool) & (ent <= st.array("lst"))  # entry: conditions.py)
            onset[:, j] = known[:, j] = np.where(has, ent, NEVER)
            continue
        if c.external:
            onset[:, j], known[:, j] = st.array(f"onset_{c.name}"), st.array(f"known_{c.name}")
            continue
        sp, w = c.spec, c.spec.get("frailty", 0.0)
        logr = w * z * cfg["frailty_sd"] - (w * cfg["frailty_sd"]) ** 2 / 2
        for f, b in sp.get("risk", {}).items():
            logr = logr + b * rf[f]
        level = sp["level"]
        curves = [np.minimum(np.asarray(sp[s], dtype=float) * level, 0.999) for s in ("female", "male")]
        age = onset_ages(ages, *curves, male, np.exp(logr), sim.draws(f"reg.onset.{c.name}").uniform(sim.everyone))
        starts = np.isfinite(age)
        on = np.full(n, NEVER, dtype=np.int64)
        on[starts] = dob[starts] + np.round(age[starts] * YEAR).astype(np.int64)
        if sp.get("history_only"):
            on[on > ent] = NEVER
        if "after_entry_share" in sp:  # after entry, only this share of the curve's onsets is this register's own
            gone = sim.draws(f"reg.after_entry.{c.name}").uniform(sim.everyone) >= sp["after_entry_share"]
            on[(on > ent) & (on < NEVER) & gone] = NEVER
        delay = np.round(sim.draws(f"reg.delay.{c.name}").exponential(sim.everyone, max(sp["delay_years"], 1e-9) * YEAR)).astype(np.int64)
        if "deaths" in sp:  # the condition behind its share of the population's deaths: there before the death
            on, delay = _before_death(sim, c, on, delay)
        at_entry = (on <= ent) & (sim.draws(f"reg.known.{c.name}").uniform(sim.everyone) < care.condition_known_at_entry)
        k = np.where(at_entry, on, np.minimum(on + delay, NEVER))
        k = np.where(k < ent, np.maximum(k, dob), np.maximum(k, first))
        onset[:, j], known[:, j] = on, np.where(on < NEVER, k, NEVER)
        code[:, j] = _codes(sim, c, male, on > ent)
    return {"reg_onset": onset, "reg_known": known, "reg_code": code}


def _before_death(sim: "Sim", c: Condition, on: np.ndarray, delay: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`deaths`: of the people who die in the record (the population's deaths) at `min_age` or over, `share` die of
    the condition: one who would not have it by then has its onset `median_years` (exponential) before the death,
    diagnosed within half that time. Nobody's death moves: the list, and the crude death rate, stay the population's."""
    d = c.spec["deaths"]
    dob, death = sim.state.array("dob"), sim.people.death[sim.P]
    dies = (death >= 0) & (death - dob >= d["min_age"] * YEAR)
    pick = dies & (sim.draws(f"reg.death.{c.name}").uniform(sim.everyone) < d["share"]) & (on > death)
    gap = np.round(sim.draws(f"reg.death.gap.{c.name}").exponential(sim.everyone, d["median_years"] / np.log(2) * YEAR))
    gap = np.minimum(gap.astype(np.int64), death - dob - int(d["min_age"] * YEAR))  # not before the condition's ages
    on, delay = on.copy(), delay.copy()
    on[pick] = death[pick] - gap[pick]
    delay[pick] = np.minimum(delay[pick], gap[pick] // 2)
    return on, delay


def _codes(sim: "Sim", c: Condition, male: np.ndarray, after_entry: np.ndarray) -> np.ndarray:
    """The medcodeid each person's diagnosis is coded with."""
    rec_codes = np.array([codes.medcode(k) for k in c.codes], dtype=np.int64)
    u = sim.draws(f"reg.code.{c.name}").uniform(sim.everyone)
    out = np.empty(sim.n, dtype=np.int64)
    for is_male, key in ((False, "code_share_female"), (True, "code_share_male")):
        cum = np.cumsum(c.spec.get(key, [1.0]))
        idx = np.minimum(np.searchsorted(cum, u, side="right"), len(cum) - 1)
        out[male == is_male] = rec_codes[idx[male == is_male]]
    later = c.spec.get("after_entry_code")
    if later:
        out[after_entry] = codes.medcode(later)
    return out


def day_of(text: str) -> int:
    """A data file's ISO date as a day number."""
    import datetime as dt

    return dates.to_days(dt.date.fromisoformat(text))
