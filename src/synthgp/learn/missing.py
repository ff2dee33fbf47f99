"""Values missing at random, marginalised by structural EM (Friedman, "Learning belief networks in the
presence of missing values and hidden variables", ICML 1997), as the regulator's method handles them.

A column fitted this way has no "missing" state: its values are what was measured, and a gap is an
unknown value. E-step: for each row, every completion of its missing cells gets its posterior
probability under the current network (rows are grouped by which cells are missing, and the
completions of a group are enumerated exactly). M-step: the structure is searched again by the same
tabu hill-climb, scored on the expected counts, and the conditional tables are re-counted from them.
The loop stops when the penalised observed-data log-likelihood (the completions summed out) stops
improving, and the best network is kept.
When to use it: when whether a value is missing depends only on what is observed (missing at random).
In health records a gap often says something itself (who gets a cholesterol test), which is missing
*not* at random; there the "missing node" (a missing state of the column, the default) keeps that
information, and the sample reproduces the gaps. Under EM the sample holds no gaps: its values are
the distribution the measured values would have had for everyone.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np

from synthgp.learn import structure, tune

MAX_COMPLETIONS = 4096  # completions of one row's missing cells enumerated exactly

WHY = {
    "indicator": "A missing value is a state of its own (the regulator's 'missing node'): whether a value was "
                 "recorded is kept as information, as it must be when data are not missing at random, and the "
                 "sample reproduces the gaps. Pass missing='em' (--missing em) for data missing at random.",
    "em": "Missing values were taken as missing at random (the user's choice) and marginalised by structural EM: "
          "the model describes the values as if measured for everyone, and the sample has no gaps.",
}


def log_joint(codes: np.ndarray, cards: list[int], parents: list[tuple[int, ...]], cpts: list[np.ndarray]) -> np.ndarray:
    out = np.zeros(len(codes))
    for j, ps in enumerate(parents):
        cfg, _ = structure.config(codes, cards, ps)
        out += np.log(cpts[j][cfg, codes[:, j]])
    return out


def expand(codes: np.ndarray, cards: list[int], parents: list[tuple[int, ...]],
           cpts: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray, float]:
    """Every row completed every way (cells coded -1 are missing), each completion weighted by its
    posterior; and the observed-data log-likelihood."""
    miss = codes < 0
    pattern = np.packbits(miss, axis=1, bitorder="little")
    keys, inv = np.unique(pattern, axis=0, return_inverse=True)
    inv = np.ravel(inv)
    rows, weights, ll = [], [], 0.0
    for g in range(len(keys)):
        sel = codes[inv == g]
        cols = np.flatnonzero(miss[inv == g][0])
        if not len(cols):
            rows.append(sel)
            weights.append(np.ones(len(sel)))
            ll += float(log_joint(sel, cards, parents, cpts).sum())
            continue
        n_comp = math.prod(cards[c] for c in cols)
        if n_comp > MAX_COMPLETIONS:
            raise ValueError(f"{len(sel)} rows miss {len(cols)} columns at once ({n_comp:,} completions each); "
                             f"EM enumerates at most {MAX_COMPLETIONS:,}: use missing='indicator' or fewer bins")
        comp = np.array(list(itertools.product(*[range(cards[c]) for c in cols])), dtype=np.int64)
        x = np.repeat(sel, n_comp, axis=0)
        x[:, cols] = np.tile(comp, (len(sel), 1))
        lj = log_joint(x, cards, parents, cpts).reshape(len(sel), n_comp)
        mx = lj.max(1, keepdims=True)
        lse = mx[:, 0] + np.log(np.exp(lj - mx).sum(1))
        rows.append(x)
        weights.append(np.exp(lj - lse[:, None]).ravel())
        ll += float(lse.sum())
    return np.concatenate(rows), np.concatenate(weights), ll


def _n_params(cards: list[int], parents: list[tuple[int, ...]]) -> int:
    return sum(math.prod(cards[q] for q in ps) * (cards[j] - 1) for j, ps in enumerate(parents))


def structural_em(codes: np.ndarray, cards: list[int], max_parents: int, penalty: str | float, smoothing: float,
                  rng: np.random.Generator, required=(), forbidden=(), start: list[set[int]] | None = None,
                  start_cpts: list[np.ndarray] | None = None, iterations: int = 10, tol: float = 1e-4) -> dict[str, Any]:
    """Parents, tables and the trace of the penalised observed-data log-likelihood. `start` and
    `start_cpts` give the first network (e.g. a latent initialised by k-means and EM)."""
    n, p = codes.shape
    pen = structure.penalty_weight(penalty, n)
    if start is not None and start_cpts is not None:
        return _loop(codes, cards, max_parents, penalty, smoothing, required, forbidden,
                     [tuple(sorted(s)) for s in start], list(start_cpts), iterations, tol, pen)
    # start: each gap filled from its column's observed values, then an ordinary search
    filled = codes.copy()
    for j in range(p):
        m = filled[:, j] < 0
        if m.any():
            obs = codes[~m, j]
            filled[m, j] = rng.choice(obs, int(m.sum())) if len(obs) else 0
    graph = start or structure.search(structure.Scorer(filled, cards, penalty), p, max_parents, rng, 1, 3, required, forbidden)
    parents = [tuple(sorted(s)) for s in graph]
    cpts = [tune.cpt(filled, cards, j, parents[j], smoothing) for j in range(p)]
    return _loop(codes, cards, max_parents, penalty, smoothing, required, forbidden, parents, cpts, iterations, tol, pen)


def _loop(codes, cards, max_parents, penalty, smoothing, required, forbidden, parents, cpts, iterations, tol, pen):
    n, p = codes.shape
    best, trace = None, []
    for it in range(iterations):
        x, w, ll = expand(codes, cards, parents, cpts)
        score = ll - pen * _n_params(cards, parents)
        trace.append(round(score, 2))
        if best is not None and score <= best["score"] + tol * abs(best["score"]):
            break
        best = {"parents": parents, "cpts": cpts, "score": score, "loglik": ll, "iterations": it + 1}
        sc = structure.Scorer(x, cards, penalty, weights=w, n=n)
        graph = structure.hill_climb(sc, p, max_parents, required, forbidden, start=[set(s) for s in parents])
        parents = [tuple(sorted(s)) for s in graph]
        cpts = [tune.cpt(x, cards, j, parents[j], smoothing, weights=w) for j in range(p)]
    best["trace"] = trace
    return best


def impute(codes: np.ndarray, cards: list[int], parents: list[tuple[int, ...]], cpts: list[np.ndarray],
           rng: np.random.Generator) -> np.ndarray:
    """One completion per row drawn from its posterior (for the steps that need complete codes)."""
    miss = codes < 0
    if not miss.any():
        return codes
    out = codes.copy()
    idx = np.flatnonzero(miss.any(1))
    x, w, _ = expand(codes[idx], cards, parents, cpts)
    # expand keeps rows grouped by pattern; recover which input row each completion belongs to
    pattern = np.packbits(miss[idx], axis=1, bitorder="little")
    keys, inv = np.unique(pattern, axis=0, return_inverse=True)
    inv = np.ravel(inv)
    pos = 0
    for g in range(len(keys)):
        rows = idx[inv == g]
        cols = np.flatnonzero(miss[rows[0]])
        k = math.prod(cards[c] for c in cols)
        wg = w[pos: pos + len(rows) * k].reshape(len(rows), k)
        xg = x[pos: pos + len(rows) * k].reshape(len(rows), k, -1)
        pick = (rng.random(len(rows))[:, None] > np.cumsum(wg, 1)[:, :-1]).sum(1)
        out[rows] = xg[np.arange(len(rows)), pick]
        pos += len(rows) * k
    return out
