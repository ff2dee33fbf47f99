"""Structure learning over discrete codes: hill-climbing on a penalised log-likelihood (BIC, or AIC),
with add / delete / reverse moves, a parent limit, required and forbidden edges, and optional
bootstrap averaging. Local scores are exact counts (numpy bincount), cached per (node, parents)."""

from __future__ import annotations

import math
from typing import Iterable

import numpy as np


class Scorer:
    def __init__(self, codes: np.ndarray, cards: list[int], penalty: str = "bic"):
        self.codes = codes.astype(np.int64)
        self.cards = cards
        self.n = len(codes)
        self.k = 0.5 * math.log(max(self.n, 2)) if penalty == "bic" else 1.0
        self.cache: dict[tuple[int, tuple[int, ...]], float] = {}

    def config(self, parents: tuple[int, ...]) -> tuple[np.ndarray, int]:
        idx = np.zeros(self.n, dtype=np.int64)
        q = 1
        for p in parents:
            idx = idx * self.cards[p] + self.codes[:, p]
            q *= self.cards[p]
        return idx, q

    def local(self, j: int, parents: tuple[int, ...]) -> float:
        key = (j, parents)
        if key not in self.cache:
            cfg, q = self.config(parents)
            r = self.cards[j]
            counts = np.bincount(cfg * r + self.codes[:, j], minlength=q * r).reshape(q, r).astype(float)
            tot = counts.sum(axis=1, keepdims=True)
            nz = counts > 0
            ll = float(np.sum(counts[nz] * np.log(counts[nz] / np.broadcast_to(tot, counts.shape)[nz])))
            used_q = int((tot[:, 0] > 0).sum())  # parameters of configurations never seen cost nothing to fit
            self.cache[key] = ll - self.k * used_q * (r - 1)
        return self.cache[key]


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
               forbidden: Iterable[tuple[int, int]] = (), max_iter: int = 10_000) -> list[set[int]]:
    required, forbidden = set(required), set(forbidden)
    parents: list[set[int]] = [set() for _ in range(p)]
    for a, b in required:
        parents[b].add(a)
    if any(_reaches(parents, b, a) for a, b in required):
        raise ValueError("the required edges form a cycle")
    score = [scorer.local(j, tuple(sorted(parents[j]))) for j in range(p)]
    for _ in range(max_iter):
        best, move = 1e-9, None
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
                    if d > best:
                        best, move = d, ("del", i, j)
                    # reverse i -> j into j -> i: a cycle unless no other path leads from i to j
                    if (j, i) not in forbidden and len(parents[i]) < max_parents:
                        d2 = d + scorer.local(i, tuple(sorted(parents[i] | {j}))) - score[i]
                        if d2 > best and not any(q == i or i in anc[q] for q in pa - {i}):
                            best, move = d2, ("rev", i, j)
                elif (i, j) not in forbidden and len(pa) < max_parents:
                    d = scorer.local(j, tuple(sorted(pa | {i}))) - score[j]
                    if d > best and j not in anc[i]:
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
    return parents


def bootstrap(codes: np.ndarray, cards: list[int], max_parents: int, rounds: int, threshold: float,
              rng: np.random.Generator, penalty: str, required=(), forbidden=()) -> tuple[list[set[int]], dict]:
    """Structure averaged over bootstrap resamples: directed edges kept when found in at least
    `threshold` of rounds (in either direction), oriented as most often found, added strongest first
    while they keep the graph acyclic and within the parent limit."""
    p = codes.shape[1]
    freq = np.zeros((p, p))
    for _ in range(rounds):
        sample = codes[rng.integers(0, len(codes), len(codes))]
        for j, ps in enumerate(hill_climb(Scorer(sample, cards, penalty), p, max_parents, required, forbidden)):
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
