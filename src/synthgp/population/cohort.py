"""A cohort learned from real data as the source of the population's risk factors: the bridge from
`synthgp learn` to the simulator.

A scenario names a model (`risk_factors.model`). Once per run, and per worker, a pool of rows is
sampled from it with a seed derived from the run's. Each simulated adult takes one pool row from
their own stratum (sex, age band when their record starts here, and optionally IMD quintile and
ethnic group). The row is chosen by the counter-based generator, so the choice is a pure function
of seed and patient, and the output does not depend on blocks or workers.

The practice keeps its own age, sex, ethnicity and deprivation; the model says what a person is
like given those. A model column named like a node of the built-in network (risk_factors.toml)
replaces that node. Nodes the model lacks are drawn from the built-in network given the learned
ones, so a model of BMI and smoking alone still yields every QRISK3 input. A missing value in a
learned column falls back to the built-in draw for that person.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from synthgp.core import reference
from synthgp.core.rng import Draws

if TYPE_CHECKING:
    from synthgp.core.scenario import RiskFactors, Scenario
    from synthgp.learn.model import BayesianNetworkSynthesizer
    from synthgp.population.risk_factors import Person

ADULT = 18.0
SEX = {"m": 1, "male": 1, "man": 1, "f": 0, "female": 0, "woman": 0}
ETHNICITY = ("white", "asian", "black", "mixed", "other")  # the population's broad groups
YES = {"1", "1.0", "true", "yes", "y"}
NO = {"0", "0.0", "false", "no", "n"}


def nodes() -> dict[str, dict]:
    """The built-in network's nodes: the risk factors a model may supply."""
    return reference.toml("risk_factors.toml")["nodes"]


@functools.lru_cache(maxsize=4)
def _load(path: str, mtime_ns: int) -> "BayesianNetworkSynthesizer":
    from synthgp.learn.model import BayesianNetworkSynthesizer

    return BayesianNetworkSynthesizer.load(path)


def load(path: str | Path) -> "BayesianNetworkSynthesizer":
    p = Path(path)
    if not p.is_file():
        raise ValueError(f"model file not found: {p} (make one with `synthgp learn fit DATA --out MODEL.npz`)")
    return _load(str(p.resolve()), p.stat().st_mtime_ns)


def _level_keys(levels: list) -> list[str]:
    return [str(v).strip().lower() for v in levels]


def _bad_levels(col, allowed: set[str]) -> list[str]:
    return [str(v) for v, k in zip(col.levels, _level_keys(col.levels)) if k not in allowed]


def check(path: str | Path, match: tuple[str, ...]) -> list[str]:
    """The risk factors the model supplies. Raises ValueError naming what is wrong with it."""
    m = load(path)
    cols = {c.name: c for c in m.columns}
    have = ", ".join(cols)
    lacking = [k for k in match if k not in cols]
    if lacking:
        raise ValueError(f"{path}: the model has no column {', '.join(lacking)} to match people on (its columns: "
                         f"{have}); set risk_factors.match to those it has, from sex, age, imd, ethnicity")
    for k in match:
        c = cols[k]
        if k == "age" and c.kind != "numeric":
            raise ValueError(f"{path}: column age must be numeric (years); the model holds it as categories")
        bad = {"sex": lambda: _bad_levels(c, set(SEX)), "ethnicity": lambda: _bad_levels(c, set(ETHNICITY)),
               "imd": lambda: _bad_levels(c, {"1", "2", "3", "4", "5", "1.0", "2.0", "3.0", "4.0", "5.0"})}
        if k in bad and c.kind != "categorical":
            raise ValueError(f"{path}: column {k} must be categorical; pass it in --categorical when fitting")
        if k in bad and bad[k]():
            allowed = {"sex": "M, F, male, female", "ethnicity": "White, Asian, Black, Mixed, Other",
                       "imd": "quintiles 1 to 5"}[k]
            raise ValueError(f"{path}: column {k} has values {', '.join(bad[k]())}; allowed: {allowed}")
    supplied = [n for n in nodes() if n in cols]
    if not supplied:
        raise ValueError(f"{path}: the model has none of the risk factors the simulator uses "
                         f"({', '.join(nodes())}); its columns: {have}")
    for name in supplied:
        spec, c = nodes()[name], cols[name]
        if spec["type"] in ("lognormal", "gaussian") and c.kind != "numeric":
            raise ValueError(f"{path}: column {name} must be numeric; the model holds it as categories")
        if spec["type"] == "logistic" and c.kind == "categorical" and _bad_levels(c, YES | NO):
            raise ValueError(f"{path}: column {name} has values {', '.join(_bad_levels(c, YES | NO))}; "
                             "allowed: 0/1, true/false, yes/no")
        if spec["type"] == "logistic" and c.kind == "numeric":
            raise ValueError(f"{path}: column {name} must be 0/1 (categorical), not a continuous number")
        if spec["type"] == "multinomial":
            allowed = {lv.lower() for lv in spec["levels"]} | {str(i) for i in range(len(spec["levels"]))}
            bad = [str(v) for v in c.levels if str(v).strip().lower().removesuffix(".0") not in allowed]
            if c.kind != "categorical" or bad:
                raise ValueError(f"{path}: column {name} has values {', '.join(bad) or '(numeric)'}; allowed: "
                                 f"{', '.join(spec['levels'])} or their positions 0 to {len(spec['levels']) - 1}")
    return supplied


def check_scenario(sc: "Scenario") -> None:
    """Raise ScenarioError naming what is wrong with the scenario's learned model, if it names one."""
    from synthgp.core.scenario import ScenarioError

    if sc.risk_factors.model:
        try:
            check(sc.risk_factors.model, sc.risk_factors.match)
        except ValueError as exc:
            raise ScenarioError(f"invalid scenario:\n  risk_factors.model: {exc}") from None


def _as_values(name: str, s: pd.Series) -> np.ndarray:
    """A model column as the simulator holds the node: floats, 0/1 for yes/no, level index for
    smoking; NaN where the value is missing."""
    spec = nodes()[name]
    if spec["type"] in ("lognormal", "gaussian"):
        return pd.to_numeric(s, errors="coerce").to_numpy(dtype=np.float64)
    keys = s.astype("string").str.strip().str.lower().str.removesuffix(".0")
    if spec["type"] == "multinomial":
        index = {lv.lower(): i for i, lv in enumerate(spec["levels"])} | {str(i): i for i in range(len(spec["levels"]))}
    else:
        index = {k.removesuffix(".0"): 1 for k in YES} | {k.removesuffix(".0"): 0 for k in NO}
    return keys.map(index).astype("Float64").to_numpy(dtype=np.float64, na_value=np.nan)


@dataclass(frozen=True)
class _Pool:
    values: dict[str, np.ndarray]   # risk factor -> one value per pool row (NaN: missing)
    strata: list[tuple[np.ndarray, np.ndarray]]  # per match prefix length: (row order, sorted keys)
    radix: tuple[int, ...]
    age_bands: tuple[int, int]      # lowest and highest age band in the pool


def _codes(kind: str, values, band: int) -> np.ndarray:
    """Stratum codes (-1: missing) of a match column, for pool rows or people alike."""
    if kind == "age":
        a = pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(dtype=np.float64)
        return np.where(np.isnan(a), -1, np.floor((np.nan_to_num(a) - ADULT) / band)).astype(np.int64)
    keys = pd.Series(values).astype("string").str.strip().str.lower().str.removesuffix(".0")
    table = {"sex": SEX, "ethnicity": {e: i for i, e in enumerate(ETHNICITY)},
             "imd": {str(q): q - 1 for q in range(1, 6)}}[kind]
    return keys.map(table).astype("Float64").fillna(-1).to_numpy(dtype=np.int64)


def _pool_seed(seed: int) -> int:
    return int.from_bytes(hashlib.blake2b(f"{seed}:risk_factors.pool".encode(), digest_size=8).digest(), "little")


@functools.lru_cache(maxsize=2)
def _pool(path: str, mtime_ns: int, seed: int, rows: int, match: tuple[str, ...], band: int) -> _Pool:
    model = _load(path, mtime_ns)
    table = model.sample(rows, random_state=_pool_seed(seed))
    codes = {k: _codes(k, table[k], band) for k in match}
    keep = np.ones(len(table), dtype=bool)
    for k, c in codes.items():  # adults with every match value known
        keep &= c >= 0
    if not keep.any():
        raise ValueError(f"{path}: no sampled row is an adult with {', '.join(match)} all known")
    table = table[keep].reset_index(drop=True)
    codes = {k: c[keep] for k, c in codes.items()}
    lo, hi = (int(codes["age"].min()), int(codes["age"].max())) if "age" in codes else (0, 0)
    radix = tuple({"sex": 2, "ethnicity": len(ETHNICITY), "imd": 5, "age": hi + 1}[k] for k in match)
    strata = []
    for length in range(len(match) + 1):
        key = _key([codes[k] for k in match[:length]], radix, len(table))
        order = np.argsort(key, kind="stable")
        strata.append((order, key[order]))
    values = {n: _as_values(n, table[n]) for n in nodes() if n in table.columns}
    return _Pool(values, strata, radix, (lo, hi))


def _key(codes: list[np.ndarray], radix: tuple[int, ...], n: int) -> np.ndarray:
    key = np.zeros(n, dtype=np.int64)
    for c, r in zip(codes, radix):
        key = key * r + c
    return key


def draw(seed: int, rf: "RiskFactors", person: "Person", age: np.ndarray) -> dict[str, np.ndarray]:
    """Each person's learned risk factors (NaN where the model left a value missing), from a pool
    row in the person's stratum; a stratum the pool lacks falls back to the match list without its
    last name, and so on. Ages beyond the pool's bands take its nearest band."""
    p = Path(rf.model).resolve()
    pool = _pool(str(p), p.stat().st_mtime_ns, seed, rf.pool_rows, tuple(rf.match), rf.age_band_years)
    n = len(person.ids)
    mine = {"sex": person.male.astype(np.int64),
            "ethnicity": _codes("ethnicity", person.ethnicity_broad, 1),
            "imd": np.asarray(person.imd, dtype=np.int64) - 1,
            "age": np.clip(_codes("age", age, rf.age_band_years), *pool.age_bands)}
    u = Draws(seed, "risk.cohort.pick").uniform(person.ids)
    pick = np.full(n, -1, dtype=np.int64)
    for length in range(len(rf.match), -1, -1):
        todo = np.flatnonzero(pick < 0)
        if len(todo) == 0:
            break
        order, keys = pool.strata[length]
        k = _key([mine[m][todo] for m in rf.match[:length]], pool.radix, len(todo))
        lo, hi = np.searchsorted(keys, k, "left"), np.searchsorted(keys, k, "right")
        ok = hi > lo
        at = lo[ok] + np.minimum((u[todo[ok]] * (hi - lo)[ok]).astype(np.int64), (hi - lo)[ok] - 1)
        pick[todo[ok]] = order[at]
    return {name: v[pick] for name, v in pool.values.items()}
