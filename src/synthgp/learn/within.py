"""Where inside its bin a continuous value falls, given the column's observed parents.

A continuous column is a node of the network at its bin's resolution. Drawn back inside the bin from
the column's marginal quantile function alone, a value forgets how its parents shift it within the
bin: the lowest CD4 bin of a table where the risk of AIDS sits at the very bottom of that bin gives a
synthetic table in which an AIDS diagnosis says nothing about where in the bin the count lies. So
each bin is cut into SUB equal-probability sub-bins, and P(sub-bin | bin, observed parents) is
learned by counting, smoothed by the model's pseudo-rows towards the even split (which is the
marginal's own, by construction). Sampling draws the bin from the network as before, then the
sub-bin from this table, then the value inside the sub-bin from the quantile function: a conditional
histogram density at SUB times the resolution, with no Gaussian assumption (primary-care values are
rarely Gaussian). Parents that are latent variables are left out (their values are not observed).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from synthgp.learn import encode, structure

if TYPE_CHECKING:
    import pandas as pd

SUB = 4


def _bounds(c: encode.Column) -> np.ndarray:
    return np.concatenate([[0.0], c.cdf_at_edges, [1.0]])


def positions(table: pd.DataFrame, cols: list[encode.Column], codes: np.ndarray, j: int,
              rng: np.random.Generator) -> np.ndarray:
    """Each row's sub-bin (0..SUB-1) of continuous column j, by its mid-rank with ties split at random
    (so tied values spread over the probability they hold); -1 where the value is missing."""
    c = cols[j]
    x = table[c.name].to_numpy(dtype=float)
    obs = ~np.isnan(x)
    v = np.sort(x[obs])
    lo, hi = np.searchsorted(v, x[obs], "left"), np.searchsorted(v, x[obs], "right")
    u = (lo + rng.random(len(lo)) * (hi - lo)) / max(len(v), 1)
    b = _bounds(c)
    code = codes[obs, j].astype(np.int64)
    width = np.maximum(b[code + 1] - b[code], 1e-12)
    out = np.full(len(x), -1, dtype=np.int64)
    out[obs] = np.clip(((u - b[code]) / width * SUB).astype(np.int64), 0, SUB - 1)
    return out


def fit(table: pd.DataFrame, cols: list[encode.Column], codes: np.ndarray, cards: list[int],
        parents: list[tuple[int, ...]], smoothing: float, rng: np.random.Generator) -> dict[int, dict]:
    """For each continuous column: its observed parents and the (parent combination, bin, sub-bin) table."""
    out = {}
    c64 = codes.astype(np.int64)
    for j, c in enumerate(cols):
        if c.kind != "numeric":
            continue
        obs_parents = tuple(q for q in parents[j] if q < len(cols))
        s = positions(table, cols, c64, j, rng)
        keep = s >= 0
        cfg, q = structure.config(c64[keep], cards, obs_parents)
        r = cards[j]
        counts = np.bincount((cfg * r + c64[keep, j]) * SUB + s[keep], minlength=q * r * SUB).reshape(q, r, SUB)
        t = counts + smoothing / SUB
        out[j] = {"parents": list(obs_parents), "table": t / t.sum(axis=2, keepdims=True)}
    return out


def draw(codes: np.ndarray, cards: list[int], tables: dict[int, dict], rng: np.random.Generator,
         draws: structure.Draws | None = None) -> dict[int, np.ndarray]:
    """Relative positions in [0, 1) inside each row's bin, per continuous column with a table (every one,
    when the model has tables), as {column: array}."""
    draws = draws or structure.Draws(len(codes))
    sub = np.empty(len(codes), dtype=np.int32)
    pos = {}
    for j, w in tables.items():
        t = w["table"]  # (parent combination, bin, sub-bin): the bin is the last "parent" (the missing state included)
        draws.node(codes, [*cards[:j], t.shape[1], *cards[j + 1:]], (*w["parents"], j), t.reshape(-1, t.shape[2]),
                   rng, sub)
        p = rng.random(len(codes))
        p += sub
        p *= 1.0 / SUB
        pos[j] = p
    return pos
