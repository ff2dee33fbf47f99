"""Latent variables: proposed where observed variables hang together more tightly than the network
explains, fitted by EM, and kept only when they improve the penalised likelihood.

Proposal (a light stand-in for the regulator's RFCI bootstrap): groups of 2-4 variables whose pairwise
normalised mutual information is high. For a group, a hidden discrete node L becomes a parent of each
member, replacing the edges among the members; each member keeps its other parents. L's states are
initialised by k-means on the members' codes and fitted by EM (expected counts in the M-step).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from synthgp.learn.structure import config


def _mi(x: np.ndarray, y: np.ndarray, rx: int, ry: int) -> float:
    t = np.bincount(x * ry + y, minlength=rx * ry).reshape(rx, ry).astype(float)
    t /= t.sum()
    px, py = t.sum(1, keepdims=True), t.sum(0, keepdims=True)
    nz = t > 0
    return float(np.sum(t[nz] * np.log(t[nz] / (px @ py)[nz])))


def _h(x: np.ndarray, r: int) -> float:
    p = np.bincount(x, minlength=r) / len(x)
    p = p[p > 0]
    return float(-np.sum(p * np.log(p)))


def propose(codes: np.ndarray, cards: list[int], max_groups: int, min_nmi: float = 0.05,
            max_rows: int = 50_000) -> list[list[int]]:
    """Disjoint groups of strongly linked variables, strongest first."""
    c = codes[:max_rows].astype(np.int64)
    p = c.shape[1]
    h = [_h(c[:, j], cards[j]) for j in range(p)]
    nmi = np.zeros((p, p))
    for i in range(p):
        for j in range(i + 1, p):
            den = min(h[i], h[j])
            nmi[i, j] = nmi[j, i] = _mi(c[:, i], c[:, j], cards[i], cards[j]) / den if den > 0 else 0.0
    used: set[int] = set()
    groups = []
    pairs = sorted(((nmi[i, j], i, j) for i in range(p) for j in range(i + 1, p)), reverse=True)
    for v, i, j in pairs:
        if len(groups) >= max_groups or v < min_nmi:
            break
        if i in used or j in used:
            continue
        g = [i, j]
        for k in np.argsort(-nmi[i] - nmi[j]):
            if len(g) >= 4:
                break
            if k not in g and k not in used and all(nmi[k, m] >= 0.5 * v for m in g):
                g.append(int(k))
        used.update(g)
        groups.append(g)
    return groups


def _nearest(x: np.ndarray, centres: np.ndarray) -> np.ndarray:
    return ((x[:, None, :] - centres[None]) ** 2).sum(2).argmin(1)


def kmeans(x: np.ndarray, k: int, rng: np.random.Generator, iterations: int = 50) -> np.ndarray:
    """k centres by Lloyd's algorithm from k-means++ seeds (Arthur and Vassilvitskii 2007), as scikit-learn's
    KMeans(n_init=1) does, without its 0.7 s of import on a few thousand rows of at most 4 columns."""
    centres = [x[rng.integers(len(x))]]
    d2 = ((x - centres[0]) ** 2).sum(1)
    for _ in range(1, k):
        centres.append(x[rng.choice(len(x), p=d2 / d2.sum())] if d2.sum() > 0 else x[rng.integers(len(x))])
        d2 = np.minimum(d2, ((x - centres[-1]) ** 2).sum(1))
    c = np.array(centres)
    for _ in range(iterations):
        label = _nearest(x, c)
        new = np.array([x[label == m].mean(0) if (label == m).any() else c[m] for m in range(k)])
        if np.allclose(new, c):
            break
        c = new
    return c


@dataclass
class Fit:
    prior: np.ndarray                      # P(L), shape (k,)
    cpts: dict[int, np.ndarray]            # child -> array (q_other_parents, k, r_child)
    other_parents: dict[int, tuple[int, ...]]
    loglik: float
    n_params: int
    iterations: int


def em(codes: np.ndarray, cards: list[int], children: list[int], other_parents: dict[int, tuple[int, ...]], k: int,
       rng: np.random.Generator, iterations: int = 50, tol: float = 1e-4, alpha: float = 0.5) -> Fit:
    n = len(codes)
    c = codes.astype(np.int64)
    sub = c[:, children].astype(float)
    sub = (sub - sub.mean(0)) / (sub.std(0) + 1e-9)
    centres = kmeans(sub[rng.choice(n, min(n, 20_000), replace=False)], k, rng)
    resp = np.full((n, k), 0.1 / max(k - 1, 1))
    resp[np.arange(n), _nearest(sub, centres)] = 0.9
    cfgs = {ch: config(c, cards, other_parents[ch]) for ch in children}
    prev = -np.inf
    it = 0
    for it in range(1, iterations + 1):
        prior = resp.mean(0)
        cpts = {}
        for ch in children:
            cfg, q = cfgs[ch]
            r = cards[ch]
            t = np.stack([np.bincount(cfg * r + c[:, ch], weights=resp[:, l], minlength=q * r).reshape(q, r)
                          for l in range(k)], axis=1) + alpha / r
            cpts[ch] = t / t.sum(axis=2, keepdims=True)
        logp = np.log(prior)[None, :].repeat(n, 0)
        for ch in children:
            cfg, _ = cfgs[ch]
            logp += np.log(cpts[ch][cfg, :, c[:, ch]])
        mx = logp.max(1, keepdims=True)
        lse = mx[:, 0] + np.log(np.exp(logp - mx).sum(1))
        resp = np.exp(logp - lse[:, None])
        ll = float(lse.sum())
        if ll - prev < tol * abs(ll):
            break
        prev = ll
    n_params = (k - 1) + sum(int(_cfg_count(cards, other_parents[ch])) * k * (cards[ch] - 1) for ch in children)
    return Fit(prior, cpts, other_parents, ll, n_params, it)


def _cfg_count(cards: list[int], parents: tuple[int, ...]) -> int:
    return math.prod(cards[p] for p in parents) if parents else 1
