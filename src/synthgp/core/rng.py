"""Counter-based random numbers: every draw is a pure function of (seed, purpose, id, step).

Nothing here has state. The same patient gets the same draws whichever block, worker or order
computes them, which is what makes output byte-identical across worker counts and block sizes.
The mixer is SplitMix64's finaliser, applied twice over the combined key; it passes the usual
statistical batteries for simulation use (it is not a cryptographic generator).
"""

from __future__ import annotations

import hashlib

import numpy as np

_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_STEP = np.uint64(0xD1B54A32D192ED03)
_S30, _S27, _S31 = np.uint64(30), np.uint64(27), np.uint64(31)
_TO_UNIT = 2.0**-53


def _mix(z: np.ndarray) -> np.ndarray:
    """SplitMix64's finaliser, in place on `z` (a fresh uint64 array), which it returns."""
    z ^= z >> _S30
    z *= _M1
    z ^= z >> _S27
    z *= _M2
    z ^= z >> _S31
    return z


def _step_key(step: int | np.ndarray) -> np.uint64 | np.ndarray:
    return (np.asarray(step, dtype=np.int64).astype(np.uint64) + np.uint64(1)) * _STEP


def _unit(bits: np.ndarray) -> np.ndarray:
    return (bits >> np.uint64(11)).astype(np.float64) * _TO_UNIT


def _purpose_key(seed: int, purpose: str) -> np.uint64:
    digest = hashlib.blake2b(f"{seed}:{purpose}".encode(), digest_size=8).digest()
    return np.uint64(int.from_bytes(digest, "little"))


class Draws:
    """Random draws for one named purpose, keyed by entity ids (e.g. patient indices)."""

    __slots__ = ("_key",)

    def __init__(self, seed: int, purpose: str):
        self._key = _purpose_key(seed, purpose)

    def bits(self, ids: np.ndarray, step: int | np.ndarray = 0) -> np.ndarray:
        """64 random bits per id. `step` is a counter: a number, or one per id (e.g. a day)."""
        with np.errstate(over="ignore"):
            z = np.asarray(ids, dtype=np.uint64) * _GOLDEN
            z += self._key
            z = _mix(z)
            z += _step_key(step)
            return _mix(z)

    def uniform(self, ids: np.ndarray, step: int = 0) -> np.ndarray:
        """Uniform on [0, 1)."""
        return _unit(self.bits(ids, step))

    def keyed(self, ids: np.ndarray) -> "KeyedDraws":
        """These draws for a fixed array of ids, asked for by position in it: the per-id half of the
        mixing is done once, so each later draw costs half as much. Same values as asking by id."""
        return KeyedDraws(self, ids)

    def normal(self, ids: np.ndarray, step: int = 0) -> np.ndarray:
        """Standard normal by Box-Muller over two counter steps."""
        step = np.asarray(step, dtype=np.int64)
        u1 = self.uniform(ids, 2 * step)
        u2 = self.uniform(ids, 2 * step + 1)
        return np.sqrt(-2.0 * np.log1p(-u1)) * np.cos(2.0 * np.pi * u2)

    def exponential(self, ids: np.ndarray, mean: float | np.ndarray, step: int = 0) -> np.ndarray:
        return -np.log1p(-self.uniform(ids, step)) * mean

    def categorical(self, ids: np.ndarray, probs: np.ndarray, step: int = 0) -> np.ndarray:
        """Index into `probs` (1-D, or one row per id) for each id."""
        return _categorical(self.uniform(ids, step), probs)

    def integers(self, ids: np.ndarray, high: int | np.ndarray, step: int = 0) -> np.ndarray:
        """Integers in [0, high)."""
        return np.minimum((self.uniform(ids, step) * high).astype(np.int64), np.asarray(high) - 1)


def _categorical(u: np.ndarray, probs: np.ndarray) -> np.ndarray:
    probs = np.asarray(probs, dtype=np.float64)
    if probs.ndim == 1:
        cdf = np.cumsum(probs)
        cdf /= cdf[-1]
        return np.minimum(np.searchsorted(cdf, u, side="right"), len(probs) - 1)
    cdf = np.cumsum(probs, axis=1)
    cdf /= cdf[:, -1:]
    return np.minimum((u[:, None] >= cdf).sum(axis=1), probs.shape[1] - 1)


class KeyedDraws:
    """Draws for one purpose over a fixed array of ids (Draws.keyed), asked for by position: the
    same numbers as Draws(...).uniform(ids[pos], step) and so on."""

    __slots__ = ("_inner",)

    def __init__(self, draws: Draws, ids: np.ndarray):
        with np.errstate(over="ignore"):
            z = np.asarray(ids, dtype=np.uint64) * _GOLDEN
            z += draws._key
            self._inner = _mix(z)

    def bits(self, pos: np.ndarray, step: int | np.ndarray = 0) -> np.ndarray:
        with np.errstate(over="ignore"):
            z = np.take(self._inner, pos)
            z += _step_key_fast(step)
            return _mix(z)

    def uniform(self, pos: np.ndarray, step: int | np.ndarray = 0) -> np.ndarray:
        return _unit(self.bits(pos, step))

    def normal(self, pos: np.ndarray, step: int | np.ndarray = 0) -> np.ndarray:
        """Box-Muller over counter steps 2*step and 2*step+1, both mixed in one pass."""
        n = len(pos)
        with np.errstate(over="ignore"):
            inner = np.take(self._inner, pos)
            z = np.empty(2 * n, dtype=np.uint64)
            if np.ndim(step) == 0:
                z[:n] = inner + _step_key_fast(2 * int(step))
                z[n:] = inner + _step_key_fast(2 * int(step) + 1)
            else:
                step = np.asarray(step, dtype=np.int64)
                z[:n] = inner + _step_key(2 * step)
                z[n:] = inner + _step_key(2 * step + 1)
            u = _unit(_mix(z))
        return np.sqrt(-2.0 * np.log1p(-u[:n])) * np.cos(2.0 * np.pi * u[n:])

    def exponential(self, pos: np.ndarray, mean: float | np.ndarray, step: int | np.ndarray = 0) -> np.ndarray:
        return -np.log1p(-self.uniform(pos, step)) * mean

    def integers(self, pos: np.ndarray, high: int | np.ndarray, step: int | np.ndarray = 0) -> np.ndarray:
        return np.minimum((self.uniform(pos, step) * high).astype(np.int64), np.asarray(high) - 1)

    def categorical(self, pos: np.ndarray, probs: np.ndarray, step: int | np.ndarray = 0) -> np.ndarray:
        """Index into `probs` (1-D, or one row per position), as Draws.categorical."""
        return _categorical(self.uniform(pos, step), probs)


_U64 = (1 << 64) - 1


def _step_key_fast(step: int | np.ndarray) -> np.uint64 | np.ndarray:
    """_step_key, with a plain integer step worked out in Python rather than by numpy."""
    if isinstance(step, (int, np.integer)):
        return np.uint64(((int(step) + 1) * int(_STEP)) & _U64)
    return _step_key(step)


def normals(streams: "list[KeyedDraws | Draws]", pos: np.ndarray, step: int | np.ndarray = 0) -> np.ndarray:
    """Standard normals from several streams for the same positions and step, as rows of a (k, n)
    array: the same numbers as [s.normal(pos, step) for s in streams], mixed in one pass."""
    if not all(isinstance(s, KeyedDraws) for s in streams):
        return np.array([s.normal(pos, step) for s in streams]).reshape(len(streams), len(pos))
    k, n = len(streams), len(pos)
    if np.ndim(step) == 0:
        keys = (_step_key_fast(2 * int(step)), _step_key_fast(2 * int(step) + 1))
    else:
        step = np.asarray(step, dtype=np.int64)
        keys = (_step_key(2 * step), _step_key(2 * step + 1))
    z = np.empty((2, k, n), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for j, s in enumerate(streams):
            inner = np.take(s._inner, pos)
            np.add(inner, keys[0], out=z[0, j])
            np.add(inner, keys[1], out=z[1, j])
        u = _unit(_mix(z.reshape(-1))).reshape(2, k, n)
    return np.sqrt(-2.0 * np.log1p(-u[0])) * np.cos(2.0 * np.pi * u[1])
