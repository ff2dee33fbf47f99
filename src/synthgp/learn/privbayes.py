"""Learning under epsilon-differential privacy, PrivBayes-style (Zhang, Cormode, Procopiuc, Srivastava
and Xiao, "PrivBayes: private data release via Bayesian networks", ACM TODS 42(4):25, 2017).

Neighbouring tables differ in one row replaced by another (bounded DP, as in PrivBayes), and the
number of rows n is public. The budget epsilon is split three ways and composes sequentially:
  columns    (SHARE_COLUMNS, only if there are continuous columns) each continuous column's quantile
             function comes from a Laplace-noised histogram of CELLS equal-width cells over its range
             (L1 sensitivity 2 per histogram, the share split evenly over those columns); bin edges are
             that noisy function's quantiles, so no bin edge or within-bin value is read from the data;
  structure  (SHARE_STRUCTURE, PrivBayes' beta = 0.3) the network is built greedily as PrivBayes does:
             a random first column, then d-1 rounds, each choosing (column, parent set) among the
             columns not yet placed and subsets of those placed, by the exponential mechanism on the
             mutual information I(X; parents), whose sensitivity is
             (2/n) log((n+1)/2) + ((n-1)/n) log((n+1)/(n-1)) (PrivBayes, Lemma 4.1); each round
             spends an equal part of the share;
  tables     (the rest) each column's joint count table with its parents gets Laplace noise of scale
             2d / epsilon_tables (d tables of L1 sensitivity 2), negative counts are cut to zero and the
             conditional distributions are read from the noisy table.
A parent set is allowed only while its joint table keeps an expected count per cell of at least
THETA times the noise's scale (PrivBayes' theta-usefulness, theta = 4), so a small table or a small
epsilon gets fewer, coarser parents instead of tables drowned in noise.
What is taken as public (not protected, as PrivBayes takes the attribute domains as known): column
names and types, the levels of categorical columns, whether a column can be missing, each continuous
column's range (the observed minimum and maximum unless `bounds` gives public ones) and whether it
holds whole numbers. Nothing else is read from the data outside the three noisy steps. Hyperparameter
tuning, latent variables and the within-bin tables are data-dependent steps without a privacy
account, so they are off under epsilon.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np
import pandas as pd

from synthgp.learn import encode, structure

SHARE_COLUMNS = 0.1
SHARE_STRUCTURE = 0.3
CELLS = 64
THETA = 4.0
MAX_CANDIDATES = 400  # parent sets tried per column per round (drawn at random beyond this; data-independent)


def mi_sensitivity(n: int) -> float:
    """Sensitivity of the empirical mutual information (nats) to replacing one of n rows (PrivBayes, Lemma 4.1)."""
    if n < 2:
        return math.log(2.0)
    return (2 / n) * math.log((n + 1) / 2) + ((n - 1) / n) * math.log((n + 1) / (n - 1))


def _laplace(rng: np.random.Generator, scale: float, shape) -> np.ndarray:
    return rng.laplace(0.0, scale, shape) if math.isfinite(scale) and scale > 0 else np.zeros(shape)


def private_columns(table: pd.DataFrame, cols: list[encode.Column], bins: int, epsilon: float,
                    bounds: dict[str, tuple[float, float]], rng: np.random.Generator) -> list[str]:
    """Replace each continuous column's quantile function and bin edges by ones from a noisy histogram.
    Returns the columns whose range was taken from the data (declared public)."""
    numeric = [c for c in cols if c.kind == "numeric"]
    from_data = []
    scale = 2 * len(numeric) / epsilon if numeric else 0.0
    for c in numeric:
        x = table[c.name].dropna().to_numpy(dtype=float)
        if c.name in bounds:
            lo, hi = map(float, bounds[c.name])
            x = np.clip(x, lo, hi)
        else:
            lo, hi = float(x.min()), float(x.max())
            from_data.append(c.name)
        if hi <= lo:
            hi = lo + 1.0
        grid = np.linspace(lo, hi, CELLS + 1)
        counts = np.histogram(x, grid)[0] + _laplace(rng, scale, CELLS)
        counts = np.maximum(counts, 0) + 1e-6  # every cell keeps a sliver of mass: the function stays invertible
        cdf = np.concatenate([[0.0], np.cumsum(counts) / counts.sum()])
        levels = np.linspace(0, 1, encode.GRID)
        c.quantiles = np.interp(levels, cdf, grid).tolist()
        edges = np.unique(np.interp(np.linspace(0, 1, bins + 1)[1:-1], cdf, grid))
        c.edges = edges.tolist()
        c.cdf_at_edges = np.interp(edges, grid, cdf).tolist()
    return from_data


def _mi(codes: np.ndarray, cards: list[int], x: int, ps: tuple[int, ...]) -> float:
    if not ps:
        return 0.0
    cfg, q = structure.config(codes, cards, ps)
    r = cards[x]
    t = np.bincount(cfg * r + codes[:, x], minlength=q * r).reshape(q, r).astype(float)
    t /= t.sum()
    pa, px = t.sum(1, keepdims=True), t.sum(0, keepdims=True)
    nz = t > 0
    return float(np.sum(t[nz] * np.log(t[nz] / (pa @ px)[nz])))


def greedy_structure(codes: np.ndarray, cards: list[int], max_parents: int, epsilon: float, cap: float,
                     rng: np.random.Generator) -> tuple[list[tuple[int, ...]], list[int]]:
    """PrivBayes' greedy network: parents per column and the order columns were placed in."""
    d = codes.shape[1]
    n = len(codes)
    step = epsilon / max(d - 1, 1)
    sens = mi_sensitivity(n)
    order = [int(rng.integers(d))]
    parents: list[tuple[int, ...]] = [() for _ in range(d)]
    while len(order) < d:
        cands: list[tuple[int, tuple[int, ...]]] = []
        for x in (j for j in range(d) if j not in order):
            sets = [ps for k in range(1, min(max_parents, len(order)) + 1)
                    for ps in itertools.combinations(sorted(order), k)
                    if cards[x] * math.prod(cards[p] for p in ps) <= cap]
            if len(sets) > MAX_CANDIDATES:
                sets = [sets[i] for i in rng.choice(len(sets), MAX_CANDIDATES, replace=False)]
            cands += [(x, ())] + [(x, ps) for ps in sets]
        score = np.array([_mi(codes, cards, x, ps) for x, ps in cands])
        if math.isfinite(step):
            w = step * score / (2 * sens)
            prob = np.exp(w - w.max())
            pick = int(rng.choice(len(cands), p=prob / prob.sum()))
        else:
            pick = int(np.argmax(score))
        x, ps = cands[pick]
        parents[x] = ps
        order.append(x)
    return parents, order


def noisy_cpt(codes: np.ndarray, cards: list[int], j: int, ps: tuple[int, ...], scale: float,
              rng: np.random.Generator) -> np.ndarray:
    """P(child | parents) from the Laplace-noised joint counts (negative counts cut to zero); a parent
    combination left with no mass gets the child's noisy marginal, itself uniform if all mass is gone."""
    cfg, q = structure.config(codes, cards, ps)
    r = cards[j]
    t = np.bincount(cfg * r + codes[:, j], minlength=q * r).reshape(q, r).astype(float)
    t = np.maximum(t + _laplace(rng, scale, t.shape), 0.0)
    marg = t.sum(0)
    marg = marg / marg.sum() if marg.sum() > 0 else np.full(r, 1.0 / r)
    tot = t.sum(1, keepdims=True)
    return np.where(tot > 0, t / np.where(tot > 0, tot, 1), marg)


def fit(table: pd.DataFrame, cols: list[encode.Column], epsilon: float, bins: int, max_parents: int,
        bounds: dict[str, tuple[float, float]], rng: np.random.Generator) -> dict[str, Any]:
    """Columns (noisy quantile functions), parents and noisy tables, and the budget account."""
    if not (epsilon > 0):
        raise ValueError(f"epsilon must be above 0 (or infinite for no noise), not {epsilon!r}")
    n, d = len(table), len(cols)
    unknown = set(bounds) - {c.name for c in cols if c.kind == "numeric"}
    if unknown:
        raise ValueError(f"bounds given for columns that are not continuous columns of the table: {sorted(unknown)}")
    has_numeric = any(c.kind == "numeric" for c in cols)
    e_cols = SHARE_COLUMNS * epsilon if has_numeric else 0.0
    e_struct = SHARE_STRUCTURE * epsilon
    e_tables = epsilon - e_cols - e_struct
    from_data = private_columns(table, cols, bins, e_cols, bounds, rng) if has_numeric else []
    codes = encode.encode(table, cols).astype(np.int64)
    cards = [c.cardinality for c in cols]
    scale = 2 * d / e_tables
    cap = n / (THETA * scale) if math.isfinite(scale) else float("inf")
    parents, order = greedy_structure(codes, cards, max_parents, e_struct, max(cap, 1.0), rng)
    cpts = [noisy_cpt(codes, cards, j, parents[j], scale, rng) for j in range(d)]
    finite = math.isfinite(epsilon)
    account = {
        "epsilon": epsilon if finite else "inf", "neighbouring": "one row replaced (bounded DP); n is public",
        "spent": {"columns": round(e_cols, 9) if finite else "inf", "structure": round(e_struct, 9) if finite else "inf",
                  "tables": round(e_tables, 9) if finite else "inf"},
        "mechanisms": {"columns": f"Laplace on a {CELLS}-cell histogram per continuous column",
                       "structure": "exponential mechanism on mutual information, d-1 rounds",
                       "tables": f"Laplace of scale {scale:.4g} on each joint count table"},
        "max_cells_per_table": round(cap, 1) if math.isfinite(cap) else "unlimited", "order": [cols[j].name for j in order],
        "public": "column names, types, categorical levels, whether missing can occur, integer-ness; ranges of "
                  + (", ".join(from_data) + " taken from the data" if from_data else "continuous columns given as bounds"),
        "range_from_data": from_data,
        "reference": "Zhang et al., PrivBayes, ACM TODS 42(4):25 (2017)",
    }
    return {"columns": cols, "parents": parents, "cpts": cpts, "cards": cards, "privacy": account}
