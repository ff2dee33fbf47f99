"""Latent variables found by causal discovery, as the regulator does it, then fitted by structural EM.

1. FCI (Spirtes, Meek and Richardson 1995; causal-learn's implementation, G-squared tests on the
   discrete codes) on bootstrap resamples. FCI allows hidden common causes: a bidirected edge A <-> B
   says A and B share one. Each pair of columns is scored by the edge marks found, averaged over the
   resamples as in the regulator's R code (CPRD/Synthetic-Data `latent_model`): bidirected 1, o-> 0.5,
   o-o 0.33, anything else 0. The regulator ran RFCI, a faster approximation of FCI that causal-learn
   does not have; FCI with a bounded conditioning depth is used instead (same output form).
2. A latent is proposed where bidirected edges cluster: pairs scoring at least `threshold` are linked,
   and each connected group of 2-4 columns (a larger one is cut to its most strongly linked 4) gets one.
3. Each latent is initialised by k-means of its children and EM (`synthgp.learn.latent.em`), then the
   whole network, latent included, is re-searched by structural EM (`synthgp.learn.missing`: the latent
   is a column missing in every row) until the penalised observed-data likelihood stops improving. The
   latent is kept when that score beats the network without it. Latents stay root nodes (nothing
   observed points into them), so `latent_posterior` reads them by Bayes over their children.
"""

from __future__ import annotations

import contextlib
import io
import time
import warnings
from typing import Any

import numpy as np

from synthgp.learn import latent, missing, structure

MARKS = {(1, 1): 1.0, (2, 1): 0.5, (1, 2): 0.5, (2, 2): 1 / 3}  # (mark at i, mark at j) -> score


def fci_scores(codes: np.ndarray, rounds: int, rng: np.random.Generator, alpha: float = 0.01, depth: int = 2,
               max_rows: int = 2_000) -> np.ndarray:
    """Pair scores averaged over `rounds` bootstrap resamples (each at most `max_rows` rows)."""
    from causallearn.search.ConstraintBased.FCI import fci

    p = codes.shape[1]
    total = np.zeros((p, p))
    keep = [j for j in range(p) if len(np.unique(codes[:, j])) > 1]  # a constant column breaks the G-squared test
    for _ in range(rounds):
        rows = rng.integers(0, len(codes), min(len(codes), max_rows))
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):  # it prints each orientation
            warnings.simplefilter("ignore")
            g, _ = fci(codes[np.ix_(rows, keep)].astype(float), "gsq", alpha, depth=depth, verbose=False,
                       show_progress=False)
        m = g.graph  # m[a, b]: the mark at a of the edge a - b (-1 tail, 1 arrow, 2 circle, 0 none)
        for a in range(len(keep)):
            for b in range(a + 1, len(keep)):
                s = MARKS.get((int(m[a, b]), int(m[b, a])), 0.0)
                total[keep[a], keep[b]] += s
                total[keep[b], keep[a]] += s
    return total / max(rounds, 1)


def groups(scores: np.ndarray, threshold: float = 0.3, max_size: int = 4) -> list[list[int]]:
    """Groups of 2-4 columns over pairs scoring >= threshold, strongest first: from the most strongly
    linked column left, its connected columns (among those left); a larger group keeps its 4 most
    strongly linked members and the others stay free for the next group."""
    p = len(scores)
    link = scores >= threshold
    free = set(range(p))
    out = []
    while True:
        starts = [i for i in np.argsort(-scores.max(1), kind="stable") if i in free and any(link[i, j] for j in free)]
        if not starts:
            break
        comp, stack, seen = [], [int(starts[0])], set()
        while stack:
            u = stack.pop()
            if u in seen:
                continue
            seen.add(u)
            comp.append(u)
            stack += [int(v) for v in np.flatnonzero(link[u]) if v in free and v not in seen]
        if len(comp) > max_size:
            comp = sorted(comp, key=lambda u: -scores[u, comp].sum())[:max_size]
        free -= set(comp)
        if len(comp) >= 2:
            out.append(sorted(comp))
    return sorted(out, key=lambda g: -np.mean([scores[a, b] for a in g for b in g if a < b]))[: p // 2]


def search(codes: np.ndarray, cards: list[int], parents: list[tuple[int, ...]], cpts: list[np.ndarray],
           states: int, penalty, smoothing: float, max_parents: int, rng: np.random.Generator, rounds: int = 10,
           threshold: float = 0.3, required=(), forbidden=()) -> dict[str, Any]:
    """FCI bootstrap, proposals, and structural EM per proposal (kept if it improves the score)."""
    t0 = time.perf_counter()
    p = codes.shape[1]
    scores = fci_scores(codes, rounds, rng)
    t1 = time.perf_counter()
    proposals = groups(scores, threshold)
    pen = structure.penalty_weight(penalty, len(codes))
    _, _, ll = missing.expand(codes, cards, parents, cpts)
    best = {"parents": list(parents), "cpts": list(cpts), "cards": list(cards), "codes": codes,
            "score": ll - pen * missing._n_params(cards, parents)}
    tried, kept = [], []
    for g in proposals:
        cur = best
        L = len(cur["cards"])
        others = {ch: tuple(q for q in cur["parents"][ch] if q not in g) for ch in g}
        f = latent.em(cur["codes"], cur["cards"], g, others, states, rng)
        cards2 = cur["cards"] + [states]
        par2 = [tuple(sorted(others[j] + (L,))) if j in g else ps for j, ps in enumerate(cur["parents"])] + [()]
        cpt2 = [f.cpts[j].reshape(-1, cards2[j]) if j in g else t for j, t in enumerate(cur["cpts"])] + [f.prior[None, :]]
        codes2 = np.concatenate([cur["codes"], np.full((len(codes), 1), -1, dtype=np.int64)], axis=1)
        forb = list(forbidden) + [(i, L) for i in range(L)]  # nothing points into a latent
        res = missing.structural_em(codes2, cards2, max_parents + 1, penalty, smoothing, rng, required, forb,
                                    start=[set(s) for s in par2], start_cpts=cpt2)
        children = [j for j, ps in enumerate(res["parents"]) if L in ps]
        gain = res["score"] - cur["score"]
        tried.append({"fci_group": g, "children": children, "score_gain": round(gain, 1),
                      "sem_iterations": res["iterations"], "score_trace": res["trace"]})
        if gain > 0 and len(children) >= 2:
            best = {"parents": res["parents"], "cpts": res["cpts"], "cards": cards2, "codes": codes2,
                    "score": res["score"]}
            kept.append(L)
    return {**best, "latents": kept, "proposals": tried, "pair_scores": scores, "observed": p,
            "fci_seconds": round(t1 - t0, 2), "sem_seconds": round(time.perf_counter() - t1, 2)}
