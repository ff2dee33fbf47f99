"""Counter-based random numbers: every draw is a pure function of (seed, purpose, id, step).

Nothing here has state. The same patient gets the same draws whichever block, worker or order
computes them, which is what makes output byte-identical across worker counts and block sizes.
The mixer is SplitMix64's finaliser, applied twice over the combined key; it passes the usual
statistical batteries for simulation use (it is not a cryptographic generator). core/mixing.py
does the mixing (compiled when numba is installed, the same bits either way).
"""

from __future__ import annotations

import hashlib

import numpy as np

from synthgp.core import mixing

_STEP = mixing.STEP
_U64 = (1 << 64) - 1


def step_key(step: int | np.ndarray) -> np.uint64 | np.ndarray:
    """The counter's part of the key: (step + 1) * STEP, wrapping at 64 bits."""
    if isinstance(step, (int, np.integer)):
        return np.uint64(((int(step) + 1) * int(_STEP)) & _U64)
    with np.errstate(over="ignore"):
        return (np.asarray(step, dtype=np.int64).astype(np.uint64) + np.uint64(1)) * _STEP


def _purpose_key(seed: int, purpose: str) -> np.uint64:
    digest = hashlib.blake2b(f"{seed}:{purpose}".encode(), digest_size=8).digest()
    return np.uint64(int.from_bytes(digest, "little"))


def _box_muller(u1: np.ndarray, u2: np.ndarray) -> np.ndarray:
    return np.sqrt(-2.0 * np.log1p(-u1)) * np.cos(2.0 * np.pi * u2)


def _categorical(u: np.ndarray, probs: np.ndarray) -> np.ndarray:
    probs = np.asarray(probs, dtype=np.float64)
    if probs.ndim == 1:
        cdf = np.cumsum(probs)
        cdf /= cdf[-1]
        return np.minimum(np.searchsorted(cdf, u, side="right"), len(probs) - 1)
    cdf = np.cumsum(probs, axis=1)
    cdf /= cdf[:, -1:]
    return np.minimum((u[:, None] >= cdf).sum(axis=1), probs.shape[1] - 1)


def _doubled(step: int | np.ndarray) -> tuple[int | np.ndarray, int | np.ndarray]:
    """Counter steps 2*step and 2*step+1 (a normal takes two uniforms)."""
    if isinstance(step, (int, np.integer)):
        return 2 * int(step), 2 * int(step) + 1
    step = np.asarray(step, dtype=np.int64)
    return 2 * step, 2 * step + 1


class _Methods:
    """Uniform, normal, exponential, integers and categorical from a subclass's `uniform`."""

    def uniform(self, where: np.ndarray, step: int | np.ndarray = 0) -> np.ndarray:
        raise NotImplementedError

    def normal(self, where: np.ndarray, step: int | np.ndarray = 0) -> np.ndarray:
        """Standard normal by Box-Muller over two counter steps."""
        s1, s2 = _doubled(step)
        return _box_muller(self.uniform(where, s1), self.uniform(where, s2))

    def exponential(self, where: np.ndarray, mean: float | np.ndarray, step: int | np.ndarray = 0) -> np.ndarray:
        return -np.log1p(-self.uniform(where, step)) * mean

    def integers(self, where: np.ndarray, high: int | np.ndarray, step: int | np.ndarray = 0) -> np.ndarray:
        """Integers in [0, high)."""
        return np.minimum((self.uniform(where, step) * high).astype(np.int64), np.asarray(high) - 1)

    def categorical(self, where: np.ndarray, probs: np.ndarray, step: int | np.ndarray = 0) -> np.ndarray:
        """Index into `probs` (1-D, or one row per id) for each id."""
        return _categorical(self.uniform(where, step), probs)


class Draws(_Methods):
    """Random draws for one named purpose, keyed by entity ids (e.g. patient indices)."""

    __slots__ = ("_key",)

    def __init__(self, seed: int, purpose: str):
        self._key = _purpose_key(seed, purpose)

    def uniform(self, ids: np.ndarray, step: int | np.ndarray = 0) -> np.ndarray:
        """Uniform on [0, 1). `step` is a counter: a number, or one per id (e.g. a day)."""
        return mixing.uniform_ids(ids, self._key, step_key(step))

    def keyed(self, ids: np.ndarray) -> "KeyedDraws":
        """These draws for a fixed array of ids, asked for by position in it: the per-id half of the
        mixing is done once, so each later draw costs half as much. Same values as asking by id."""
        return KeyedDraws(self, ids)


class KeyedDraws(_Methods):
    """Draws for one purpose over a fixed array of ids (Draws.keyed), asked for by position: the
    same numbers as Draws(...).uniform(ids[pos], step) and so on."""

    __slots__ = ("inner",)

    def __init__(self, draws: Draws, ids: np.ndarray):
        with np.errstate(over="ignore"):
            z = np.asarray(ids, dtype=np.uint64) * mixing.GOLDEN
            z += draws._key
            self.inner = mixing.mix(z)  # per id: the mixed (id, purpose) half of every draw's key

    def uniform(self, pos: np.ndarray, step: int | np.ndarray = 0) -> np.ndarray:
        if isinstance(step, np.ndarray) and step.ndim:  # one step per position: keyed in one compiled pass
            return mixing.uniform_at_steps(self.inner, pos, step, 1, 0)
        return mixing.uniform_at(self.inner, pos, step_key(step))

    def normal(self, pos: np.ndarray, step: int | np.ndarray = 0) -> np.ndarray:
        """Standard normal by Box-Muller over counter steps 2*step and 2*step+1 (as _Methods.normal)."""
        if isinstance(step, np.ndarray) and step.ndim:
            return _box_muller(mixing.uniform_at_steps(self.inner, pos, step, 2, 0),
                               mixing.uniform_at_steps(self.inner, pos, step, 2, 1))
        return super().normal(pos, step)


def normals(streams: "list[KeyedDraws | Draws]", pos: np.ndarray, step: int | np.ndarray = 0) -> np.ndarray:
    """Standard normals from several streams for the same positions and step, as rows of a (k, n)
    array: the same numbers as [s.normal(pos, step) for s in streams], transformed in one pass."""
    if not all(isinstance(s, KeyedDraws) for s in streams):
        return np.array([s.normal(pos, step) for s in streams]).reshape(len(streams), len(pos))
    if isinstance(step, np.ndarray) and step.ndim:
        u1, u2 = np.empty((2, len(streams), len(pos)))
        for i, s in enumerate(streams):
            u1[i] = mixing.uniform_at_steps(s.inner, pos, step, 2, 0)
            u2[i] = mixing.uniform_at_steps(s.inner, pos, step, 2, 1)
        return _box_muller(u1, u2)
    s1, s2 = _doubled(step)
    k1, k2 = step_key(s1), step_key(s2)
    u1 = np.array([mixing.uniform_at(s.inner, pos, k1) for s in streams]).reshape(len(streams), len(pos))
    u2 = np.array([mixing.uniform_at(s.inner, pos, k2) for s in streams]).reshape(len(streams), len(pos))
    return _box_muller(u1, u2)
