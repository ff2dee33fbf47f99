"""Structure learning over discrete codes: hill-climbing with tabu search on a penalised log-likelihood (BIC, or AIC),
with add / delete / reverse moves, a parent limit, required and forbidden edges, and optional
bootstrap averaging. Local scores are exact counts (numpy bincount), cached per (node, parents)."""

from __future__ import annotations

import math
from typing import Iterable

import numpy as np


def config(codes: np.ndarray, cards: list[int], parents: tuple[int, ...]) -> tuple[np.ndarray, int]:
    """Each row's parent combination as one integer (the last parent varies fastest), and how many
    combinations there are."""
    idx = np.zeros(len(codes), dtype=np.int64)
    q = 1
    for p in parents:
        idx = idx * cards[p] + codes[:, p]
        q *= cards[p]
    return idx, q


def alias(table: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Walker's alias tables for each row of a (q, r) table of distributions (Vose's construction, all rows
    at once): state k is kept with probability keep[c, k], else it becomes other[c, k]."""
    q, r = table.shape
    p = table / table.sum(axis=1, keepdims=True) * r
    keep, other = np.ones((q, r)), np.tile(np.arange(r), (q, 1))
    open_ = np.ones((q, r), dtype=bool)
    rows = np.arange(q)
    for _ in range(r - 1):  # each pass settles the smallest open state of every row on its largest
        small = np.where(open_, p, np.inf).argmin(axis=1)
        open_[rows, small] = False
        large = np.where(open_, p, -np.inf).argmax(axis=1)
        keep[rows, small] = np.minimum(p[rows, small], 1.0)
        other[rows, small] = large
        p[rows, large] -= 1.0 - keep[rows, small]
    return keep, other


class Draws:
    """Sampling n rows a node at a time, by the alias method, in buffers reused for every node (writing
    fresh memory costs as much as the arithmetic at a million rows)."""

    def __init__(self, n: int):
        self.u = np.empty(n)
        self.k = np.empty(n, dtype=np.int32)
        self.cfg = np.empty(n, dtype=np.int32)
        self.hit = np.empty(n, dtype=bool)
        self.keep = np.empty(n)

    def config(self, codes: np.ndarray, cards: list[int], parents: tuple[int, ...]) -> np.ndarray | None:
        """`config(codes, cards, parents)` in the int32 buffer (None without parents)."""
        if not parents:
            return None
        cfg = self.cfg
        np.copyto(cfg, codes[:, parents[0]], casting="unsafe")
        for p in parents[1:]:
            cfg *= cards[p]
            cfg += codes[:, p]
        return cfg

    def draw(self, table: np.ndarray, cfg: np.ndarray | None, out: np.ndarray) -> None:
        """out[i]: the state of table[cfg_i] that the uniform self.u[i] picks (self.u and cfg are overwritten).
        Column k = floor(u r) of row cfg is kept when the rest of u r falls below keep, else its alias:
        one lookup in a table of both choices, (row, column, kept) laid out flat."""
        r = table.shape[1]
        if 2 * table.size >= 2**31:  # int32 indexes; such a table would hold over 8 GB of floats
            raise ValueError(f"a conditional table of {table.size:,} cells is too large to sample from")
        keep, other = alias(table)
        pick = np.stack([other, np.broadcast_to(np.arange(r), other.shape)], axis=2).astype(np.int32).ravel()
        u, k = self.u, self.k
        u *= r
        np.copyto(k, u, casting="unsafe")  # floor, as u >= 0
        np.minimum(k, r - 1, out=k)
        u -= k
        idx = k
        if cfg is not None:
            cfg *= r
            cfg += k
            idx = cfg
        np.take(keep.ravel(), idx, out=self.keep, mode="clip")  # clip: no bounds-checked copy (idx is in range)
        np.less(u, self.keep, out=self.hit)
        idx *= 2
        idx += self.hit
        np.take(pick, idx, out=out, mode="clip")

    def node(self, codes: np.ndarray, cards: list[int], parents: tuple[int, ...], table: np.ndarray,
             rng: np.random.Generator, out: np.ndarray) -> None:
        """out[i]: a state drawn from table[config(codes, cards, parents)_i]."""
        rng.random(out=self.u)
        self.draw(table, self.config(codes, cards, parents), out)


def penalty_weight(penalty: str | float, n: int) -> float:
    """Score penalty per free parameter."""
    if penalty == "aic":
        return 1.0
    return (1.0 if penalty == "bic" else float(penalty)) * 0.5 * math.log(max(n, 2))


class Scorer:
    def __init__(self, codes: np.ndarray, cards: list[int], penalty: str | float = "bic",
                 weights: np.ndarray | None = None, n: int | None = None):
        """penalty: "bic" (half log n per parameter), "aic" (1), or a number: that share of BIC's.
        weights: per-row weights (expected counts, for structural EM), with n the number of real rows."""
        self.codes = np.asfortranarray(codes, dtype=np.int64)  # columns contiguous: a score reads whole columns
        self.cards = cards
        self.weights = weights
        self.n = n if n is not None else len(codes)
        self.k = penalty_weight(penalty, self.n)
        self.cache: dict[tuple[int, tuple[int, ...]], float] = {}

    def local(self, j: int, parents: tuple[int, ...]) -> float:
        key = (j, parents)
        if key not in self.cache:
            r = self.cards[j]
            idx, q = self._index(parents, j)
            counts = np.bincount(idx, weights=self.weights, minlength=q * r).reshape(q, r).astype(float)
            tot = counts.sum(axis=1, keepdims=True)
            nz = counts > 0
            ll = float(np.sum(counts[nz] * np.log(counts[nz] / np.broadcast_to(tot, counts.shape)[nz])))
            used_q = int((tot[:, 0] > 1e-9).sum())  # parameters of configurations never seen cost nothing to fit
            self.cache[key] = ll - self.k * used_q * (r - 1)
        return self.cache[key]

    def _index(self, parents: tuple[int, ...], j: int) -> tuple[np.ndarray, int]:
        """config(codes, cards, parents)[0] * cards[j] + codes[:, j], in place in one array, and q."""
        codes, cards = self.codes, self.cards
        idx = codes[:, parents[0] if parents else j].copy()
        q = cards[parents[0]] if parents else 1
        for p in parents[1:]:
            idx *= cards[p]
            idx += codes[:, p]
            q *= cards[p]
        if parents:
            idx *= cards[j]
            idx += codes[:, j]
        return idx, q


def _reaches(parents: list[set[int]], src: int, dst: int) -> bool:
    """Is there a directed path src -> ... -> dst? (parents[j] = set of j's parents)"""
    children: dict[int, list[int]] = {}
    for j, ps in enumerate(parents):
        for p in ps:
            children.setdefault(p, []).append(j)
    stack, seen = [src], {src}
    while stack:
        u = stack.pop()
        if u == dst:
            return True
        for v in children.get(u, ()):
            if v not in seen:
                seen.add(v)
                stack.append(v)
    return False


def _ancestors(parents: list[set[int]]) -> list[set[int]]:
    memo: dict[int, set[int]] = {}

    def up(j: int) -> set[int]:
        if j not in memo:
            memo[j] = set()
            acc: set[int] = set()
            for q in parents[j]:
                acc |= up(q) | {q}
            memo[j] = acc
        return memo[j]

    return [up(j) for j in range(len(parents))]


def hill_climb(scorer: Scorer, p: int, max_parents: int, required: Iterable[tuple[int, int]] = (),
               forbidden: Iterable[tuple[int, int]] = (), max_iter: int = 10_000, tabu_length: int = 10,
               max_tabu_steps: int = 10, start: list[set[int]] | None = None) -> list[set[int]]:
    """Greedy search over add / delete / reverse moves. Once no move improves the score, it goes on
    as tabu search (bnlearn's defaults): the best move whose undoing is not among the last
    `tabu_length` moves is taken even if it lowers the score, for up to `max_tabu_steps` steps
    without beating the best graph, which is returned. This escapes the local optima plain
    hill-climbing stops in (a wrongly oriented edge that then attracts extra edges)."""
    required, forbidden = set(required), set(forbidden)
    parents: list[set[int]] = [set(s) for s in start] if start else [set() for _ in range(p)]
    for a, b in required:
        parents[b].add(a)
    if any(_reaches(parents, b, a) for a, b in required):
        raise ValueError("the required edges form a cycle")
    score = [scorer.local(j, tuple(sorted(parents[j]))) for j in range(p)]
    best_total, best_graph = sum(score), [set(s) for s in parents]
    tabu: list[tuple[str, int, int]] = []
    stale = 0
    for _ in range(max_iter):
        best, move = -np.inf, None
        anc = _ancestors(parents)
        for j in range(p):
            pa = parents[j]
            for i in range(p):
                if i == j:
                    continue
                if i in pa:
                    if (i, j) in required:
                        continue
                    d = scorer.local(j, tuple(sorted(pa - {i}))) - score[j]
                    if d > best and ("add", i, j) not in tabu:
                        best, move = d, ("del", i, j)
                    # reverse i -> j into j -> i: a cycle unless no other path leads from i to j
                    if (j, i) not in forbidden and len(parents[i]) < max_parents:
                        d2 = d + scorer.local(i, tuple(sorted(parents[i] | {j}))) - score[i]
                        if d2 > best and ("rev", j, i) not in tabu and not any(q == i or i in anc[q] for q in pa - {i}):
                            best, move = d2, ("rev", i, j)
                elif (i, j) not in forbidden and len(pa) < max_parents:
                    d = scorer.local(j, tuple(sorted(pa | {i}))) - score[j]
                    if d > best and ("del", i, j) not in tabu and j not in anc[i]:
                        best, move = d, ("add", i, j)
        if move is None:
            break
        kind, i, j = move
        if kind == "add":
            parents[j].add(i)
        elif kind == "del":
            parents[j].discard(i)
        else:
            parents[j].discard(i)
            parents[i].add(j)
            score[i] = scorer.local(i, tuple(sorted(parents[i])))
        score[j] = scorer.local(j, tuple(sorted(parents[j])))
        tabu = (tabu + [move])[-tabu_length:]
        total = sum(score)
        if total > best_total + 1e-9:
            best_total, best_graph, stale = total, [set(s) for s in parents], 0
        else:
            stale += 1
            if stale > max_tabu_steps:
                break
    return best_graph


def total(scorer: Scorer, parents: list[set[int]]) -> float:
    return sum(scorer.local(j, tuple(sorted(ps))) for j, ps in enumerate(parents))


def search(scorer: Scorer, p: int, max_parents: int, rng: np.random.Generator, restarts: int = 5,
           perturb: int = 3, required=(), forbidden=()) -> list[set[int]]:
    """Tabu hill-climbing, then `restarts` more climbs, each from the best graph so far with `perturb`
    random edges reversed or removed (bnlearn's restart/perturb); the best-scoring graph wins."""
    best = hill_climb(scorer, p, max_parents, required, forbidden)
    best_score = total(scorer, best)
    req = set(required)
    for _ in range(restarts):
        g = [set(s) for s in best]
        edges = [(i, j) for j, ps in enumerate(g) for i in ps if (i, j) not in req]
        for k in rng.permutation(len(edges))[:perturb]:
            i, j = edges[k]
            g[j].discard(i)
            if rng.random() < 0.5 and len(g[i]) < max_parents and (j, i) not in set(forbidden) and not _reaches(g, i, j):
                g[i].add(j)
        cand = hill_climb(scorer, p, max_parents, required, forbidden, start=g)
        sc = total(scorer, cand)
        if sc > best_score + 1e-9:
            best, best_score = cand, sc
    return best


def bootstrap(codes: np.ndarray, cards: list[int], max_parents: int, rounds: int, threshold: float,
              rng: np.random.Generator, penalty: str, required=(), forbidden=()) -> tuple[list[set[int]], dict]:
    """Structure averaged over bootstrap resamples: directed edges kept when found in at least
    `threshold` of rounds (in either direction), oriented as most often found, added strongest first
    while they keep the graph acyclic and within the parent limit."""
    p = codes.shape[1]
    freq = np.zeros((p, p))
    for _ in range(rounds):
        sample = codes[rng.integers(0, len(codes), len(codes))]
        for j, ps in enumerate(search(Scorer(sample, cards, penalty), p, max_parents, rng, 1, 3, required, forbidden)):
            for i in ps:
                freq[i, j] += 1
    freq /= rounds
    parents: list[set[int]] = [set() for _ in range(p)]
    for a, b in required:
        parents[b].add(a)
    cand = sorted(((freq[i, j] + freq[j, i], i, j) for i in range(p) for j in range(p)
                   if i != j and freq[i, j] >= freq[j, i] and freq[i, j] + freq[j, i] >= threshold), reverse=True)
    for _, i, j in cand:
        if i in parents[j] or j in parents[i] or len(parents[j]) >= max_parents or (i, j) in set(forbidden):
            continue
        if not _reaches(parents, j, i):
            parents[j].add(i)
    return parents, {"edge_frequency": freq}
