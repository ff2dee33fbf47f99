"""Membership inference with shadow models (Shokri, Stronati, Song and Shmatikov, IEEE S&P 2017), in the
form Stadler, Oprisanu and Troncoso give it for synthetic data ("Synthetic data - anonymisation
groundhog day", USENIX Security 2022).

The attacker knows a target row, has reference data from the same population, and can run the same
learner. For each target:
  shadow games  draw a table of m reference rows; in half the games the target replaces one of them.
                Fit the learner, sample m rows, describe the synthetic table by features, and label the
                features by whether the target was in. A random forest learns to tell the two apart.
  real games    the same draw from the rows the released model learned from (the target's own table),
                target in or out, fitted and sampled as the data owner would. The classifier, trained
                only on shadow games, scores them; its AUC over the real games is the attack's success.
Features (Stadler et al.'s "histogram" set, plus the distance set that makes the attack sharper for an
outlier): each column's share of rows in each of its reference bins or levels, and the distances from
the target to its 5 nearest synthetic rows.
Targets are the training rows farthest from their nearest other training row (outliers are the people
Stadler et al. found at risk); the result is the mean AUC over targets with chance at 0.5. A useless
attack's AUC over g games has standard error sqrt((g + 1) / (3 g^2)) (Mann-Whitney with g/2 each way),
about that over sqrt(targets) for the mean; we accept a mean below 0.5 + 3 standard errors (a useless
attack exceeds it 1 time in 700), the same margin as the distance attack. With few games the margin is
wide: the figure says the learner leaks no more than that, not that it leaks nothing.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np
import pandas as pd

from synthgp.evaluate import fidelity

NEIGHBOURS = 5


def _features(synth: pd.DataFrame, target_x: np.ndarray, ref: pd.DataFrame, kinds, edges: dict) -> np.ndarray:
    from scipy.spatial import cKDTree

    out = []
    for c in ref.columns:
        s = synth[c]
        if c in edges:
            v = pd.to_numeric(s, errors="coerce").to_numpy(float)
            h = np.bincount(np.searchsorted(edges[c], v[~np.isnan(v)]), minlength=len(edges[c]) + 1)
            out += list(h / max(len(s), 1)) + [float(np.isnan(v).mean())]
        else:
            lv = ref[c].astype(str).unique()
            vc = s.astype(str).value_counts(normalize=True)
            out += [float(vc.get(x, 0.0)) for x in lv]
    d = cKDTree(fidelity._matrix(synth, kinds, ref)).query(target_x[None, :], k=min(NEIGHBOURS, len(synth)))[0]
    return np.concatenate([np.asarray(out, float), np.ravel(d)])


def _targets(train: pd.DataFrame, kinds, k: int) -> list[int]:
    from scipy.spatial import cKDTree

    x = fidelity._matrix(train, kinds, train)
    d = cKDTree(x).query(x, k=2)[0][:, 1]
    return [int(i) for i in np.argsort(-d, kind="stable")[:k]]


def attack(train: pd.DataFrame, reference: pd.DataFrame, fit_sample: Callable[[pd.DataFrame, int], pd.DataFrame],
           targets: int = 3, shadows: int = 20, games: int = 10, rows: int | None = None, seed: int = 0,
           categorical=()) -> dict[str, Any]:
    """Shadow-model membership inference against `fit_sample(table, seed) -> synthetic table` (the learner
    as the data owner runs it). `reference` is the attacker's own data (e.g. the holdout)."""
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.metrics import roc_auc_score

    if shadows < 4 or games < 4:
        raise ValueError("the shadow attack needs at least 4 shadow games and 4 real games per target")
    rng = np.random.default_rng(seed)
    train, reference = train.reset_index(drop=True), reference[list(train.columns)].reset_index(drop=True)
    kinds = fidelity.kinds(train, categorical)
    m = min(rows or len(train), len(train) - 1, len(reference))
    if m < 20:
        raise ValueError(f"the shadow attack needs at least 20 reference rows, not {m}")
    edges = {c: np.unique(np.nanquantile(pd.to_numeric(reference[c], errors="coerce").to_numpy(float),
                                         np.linspace(0.1, 0.9, 9))) for c in kinds.numeric}
    per_target = []
    for t in _targets(train, kinds, targets):
        target = train.iloc[[t]]
        tx = fidelity._matrix(target, kinds, reference)[0]

        def game(pool: pd.DataFrame, inside: bool, s: int) -> np.ndarray:
            d = pool.iloc[rng.choice(len(pool), m, replace=False)]
            if inside:
                d = pd.concat([d.iloc[1:], target], ignore_index=True)
            return _features(fit_sample(d.reset_index(drop=True), s), tx, reference, kinds, edges)

        lab = np.arange(shadows) % 2 == 0
        xs = np.array([game(reference, bool(y), int(rng.integers(2**31))) for y in lab])
        others = train.drop(index=t)
        lab_r = np.arange(games) % 2 == 0
        xr = np.array([game(others, bool(y), int(rng.integers(2**31))) for y in lab_r])
        clf = RandomForestClassifier(200, max_features=None, random_state=seed).fit(xs, lab)
        auc = float(roc_auc_score(lab_r, clf.predict_proba(xr)[:, 1]))
        per_target.append({"row": t, "auc": auc})
    g = games
    se = math.sqrt((g + 1) / (3 * g * g)) / math.sqrt(len(per_target))
    mean = float(np.mean([p["auc"] for p in per_target]))
    return {"auc": mean, "null_se": se, "limit": 0.5 + 3 * se, "passes": mean <= 0.5 + 3 * se,
            "targets": per_target, "shadow_games": shadows, "real_games": games, "rows_per_game": m,
            "method": "Stadler et al. 2022 shadow-model attack (histogram + nearest-distance features, random forest)"}


def generator(model) -> Callable[[pd.DataFrame, int], pd.DataFrame]:
    """The learner as `model` was fitted (its parameters, with the settings it chose fixed, so each game
    skips the tuning search), as a fit-and-sample function for `attack`."""
    from synthgp.learn import BayesianNetworkSynthesizer

    p = {k: v for k, v in model.params.items() if k not in ("required_edges", "forbidden_edges", "random_state")}
    if p.get("epsilon") is None:
        p.update({k: model.settings[k] for k in ("bins", "penalty", "smoothing") if k in model.settings})
    req = [tuple(e) for e in model.params["required_edges"]]
    forb = [tuple(e) for e in model.params["forbidden_edges"]]

    def fit_sample(table: pd.DataFrame, seed: int) -> pd.DataFrame:
        m = BayesianNetworkSynthesizer(**p, required_edges=req, forbidden_edges=forb, rules=model.rules, random_state=seed)
        return m.fit(table).sample(len(table), random_state=seed)
    return fit_sample
