"""QRISK3 inputs from the risk-factor network in data/risk_factors.toml, vectorised.

Each node is a conditional distribution given its parents (features computed here and nodes
above it). Binary nodes marked `liability` keep a per-person uniform u: the person has the
condition at age a when u < p(a), so onset ages follow from the cross-sectional model.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from synthgp.core import reference
from synthgp.core.rng import Draws

ONSET_AGES = np.arange(18, 101)
NEVER = 1_000.0  # onset age of a condition the person never gets


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


@dataclass
class Person:
    """The fixed attributes the network is conditioned on."""

    ids: np.ndarray
    male: np.ndarray
    ethnicity_broad: np.ndarray  # strings: White, Asian, Black, Mixed, Other
    ethnicity_group: np.ndarray  # census group keys
    imd: np.ndarray

    def features(self, age: np.ndarray) -> dict[str, np.ndarray]:
        age10 = (age - 50.0) / 10.0
        return {"age10": age10, "age10_sq": age10**2, **self._fixed()}

    def _fixed(self) -> dict[str, np.ndarray]:
        """The features that do not change with age, worked out once (the onset search asks 83 times)."""
        cached = self.__dict__.get("_fixed_features")
        if cached is None:
            sa = np.isin(self.ethnicity_group, ["asian_indian", "asian_pakistani", "asian_bangladeshi", "asian_other"])
            black = self.ethnicity_broad == "Black"
            cached = self.__dict__["_fixed_features"] = {
                "male": self.male.astype(np.float64), "south_asian": sa.astype(np.float64), "black": black.astype(np.float64),
                "other_nonwhite": (~sa & ~black & (self.ethnicity_broad != "White")).astype(np.float64),
                "deprivation": 3.0 - self.imd,
            }
        return cached


def _linear(spec: dict, feats: dict[str, np.ndarray], n: int) -> np.ndarray:
    x = np.full(n, float(spec["intercept"]))
    centre = spec.get("centre", {})
    for k, beta in spec.get("coef", {}).items():
        x = x + beta * (feats[k] - centre.get(k, 0.0))
    return x


def sample(seed: int, person: Person, age: np.ndarray, given: dict[str, np.ndarray] | None = None) -> dict[str, np.ndarray]:
    """Risk factors at `age` (years, per person), plus onset ages of liability conditions.

    Returns arrays keyed by node name (binary as bool, continuous as float, smoking as level
    index 0-4) and `onset_<node>` ages for liability nodes. `given` holds values fixed from
    elsewhere (a learned cohort, see cohort.py), NaN where unknown: a given node takes them and
    the nodes below it are drawn conditional on them. For a liability condition the person's u is
    drawn conditional on having it or not at `age`, so the onset age agrees with the given status.
    """
    net = reference.toml("risk_factors.toml")["nodes"]
    given = given or {}
    n = len(person.ids)
    feats = person.features(age)
    out: dict[str, np.ndarray] = {}
    for name, spec in net.items():
        d = Draws(seed, f"risk.{name}")
        kind = spec["type"]
        g = given.get(name, np.full(n, np.nan))
        known = ~np.isnan(g)
        if kind == "lognormal":
            v = np.exp(_linear(spec, feats, n) + spec["sd"] * d.normal(person.ids))
            out[name] = np.clip(np.where(known, g, v), spec["min"], spec["max"])
        elif kind == "gaussian":
            v = _linear(spec, feats, n) + spec["sd"] * d.normal(person.ids)
            out[name] = np.clip(np.where(known, g, v), spec["min"], spec["max"])
        elif kind == "multinomial":
            logits = np.stack([np.zeros(n)] + [_linear(spec[lv], feats, n) for lv in spec["levels"][1:]], axis=1)
            p = np.exp(logits - logits.max(axis=1, keepdims=True))
            v = d.categorical(person.ids, p / p.sum(axis=1, keepdims=True))
            out[name] = np.where(known, np.nan_to_num(g), v).astype(v.dtype)
        elif kind == "logistic":
            u = d.uniform(person.ids)
            allowed = np.ones(n, dtype=bool)
            if "only" in spec:
                allowed &= feats[spec["only"]] > 0
            if "exclude_if" in spec:
                allowed &= ~out[spec["exclude_if"]]
            has = np.nan_to_num(g) > 0.5
            if spec.get("liability"):
                if known.any():
                    m = _peak_by_age(spec, person, feats, age)
                    u = np.where(known, np.where(has, u * m, m + u * (1 - m)), u)
                onset = _onset_age(spec, person, feats, u)
                onset[~allowed] = NEVER
                out[f"onset_{name}"] = onset
                out[name] = onset <= age
            else:
                drawn = u < _sigmoid(_linear(spec, feats, n))
                out[name] = np.where(known, has, drawn) & allowed
        else:
            raise ValueError(f"risk_factors.toml node {name}: unknown type {kind!r}")
        feats[name] = out[name].astype(np.float64)
    return out


def _p_at(spec: dict, person: Person, feats: dict, a: float) -> np.ndarray:
    n = len(person.ids)
    f = dict(feats)
    f.update(person.features(np.full(n, float(a))))
    return _sigmoid(_linear(spec, f, n))


def _peak_by_age(spec: dict, person: Person, feats: dict, age: np.ndarray) -> np.ndarray:
    """max p(a) over grid ages a <= age: the person has the condition by `age` exactly when u is below it."""
    peak = np.zeros(len(person.ids))
    for a in ONSET_AGES:
        reached = a <= age
        if not reached.any():
            break
        peak = np.where(reached, np.maximum(peak, _p_at(spec, person, feats, a)), peak)
    return peak


def _onset_age(spec: dict, person: Person, feats: dict, u: np.ndarray) -> np.ndarray:
    """First age on the grid at which p(age) exceeds u (NEVER if it never does)."""
    onset = np.full(len(u), NEVER)
    for a in ONSET_AGES:
        hit = (onset == NEVER) & (u < _p_at(spec, person, feats, a))
        onset[hit] = a
    return onset
