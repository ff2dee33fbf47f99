"""The mixing behind core/rng.py, compiled with numba when it is installed (one pass, no
temporaries: about six times faster than numpy's sequence of whole-array steps), with numpy's
version otherwise. Both compute the same uint64 bits and the same uniforms, bit for bit: integer
arithmetic wraps the same way, and the conversion to [0, 1) is exact.
"""

from __future__ import annotations

import numpy as np

M1 = np.uint64(0xBF58476D1CE4E5B9)
M2 = np.uint64(0x94D049BB133111EB)
GOLDEN = np.uint64(0x9E3779B97F4A7C15)
S30, S27, S31, S11 = np.uint64(30), np.uint64(27), np.uint64(31), np.uint64(11)
TO_UNIT = 2.0**-53
STEP = np.uint64(0xD1B54A32D192ED03)  # a counter step's key is (step + 1) * STEP, wrapping at 64 bits


def mix(z: np.ndarray) -> np.ndarray:
    """SplitMix64's finaliser, in place on `z` (a fresh uint64 array), which it returns."""
    z ^= z >> S30
    z *= M1
    z ^= z >> S27
    z *= M2
    z ^= z >> S31
    return z


def unit(bits: np.ndarray) -> np.ndarray:
    return (bits >> S11).astype(np.float64) * TO_UNIT


def _uniform_at(inner: np.ndarray, pos: np.ndarray, key) -> np.ndarray:
    """Uniforms from mix(inner[pos] + key); `key` one uint64 or one per position."""
    with np.errstate(over="ignore"):
        z = np.take(inner, pos)
        z += key
        return unit(mix(z))


def _uniform_ids(ids: np.ndarray, purpose: np.uint64, key) -> np.ndarray:
    """Uniforms from mix(mix(ids * GOLDEN + purpose) + key)."""
    with np.errstate(over="ignore"):
        z = np.asarray(ids, dtype=np.uint64) * GOLDEN
        z += purpose
        z = mix(z)
        z += key
        return unit(mix(z))


def _uniform_at_steps(inner: np.ndarray, pos: np.ndarray, step: np.ndarray, scale: int, offset: int) -> np.ndarray:
    """uniform_at keyed by counter step `scale * step + offset`, one step per position."""
    with np.errstate(over="ignore"):
        counter = np.asarray(step, dtype=np.int64) * scale + offset
        return _uniform_at(inner, pos, (counter.astype(np.uint64) + np.uint64(1)) * STEP)


uniform_at, uniform_ids, uniform_at_steps = _uniform_at, _uniform_ids, _uniform_at_steps
COMPILED = False
try:  # pragma: no cover - exercised where numba is installed (it is a dependency)
    import numba

    _mix1 = numba.njit(cache=True, nogil=True)(mix)  # the same function, compiled for one uint64 at a time

    @numba.njit(cache=True, nogil=True)
    def _uniform_at_one(inner, pos, key):
        out = np.empty(len(pos))
        for i in range(len(pos)):
            out[i] = np.float64(_mix1(inner[pos[i]] + key) >> S11) * TO_UNIT
        return out

    @numba.njit(cache=True, nogil=True)
    def _uniform_at_each(inner, pos, key):
        out = np.empty(len(pos))
        for i in range(len(pos)):
            out[i] = np.float64(_mix1(inner[pos[i]] + key[i]) >> S11) * TO_UNIT
        return out

    @numba.njit(cache=True, nogil=True)
    def _uniform_at_counted(inner, pos, step, scale, offset):
        out = np.empty(len(pos))
        for i in range(len(pos)):
            key = (np.uint64(step[i] * scale + offset) + np.uint64(1)) * STEP
            out[i] = np.float64(_mix1(inner[pos[i]] + key) >> S11) * TO_UNIT
        return out

    @numba.njit(cache=True, nogil=True)
    def _uniform_ids_one(ids, purpose, key):
        out = np.empty(len(ids))
        for i in range(len(ids)):
            out[i] = np.float64(_mix1(_mix1(np.uint64(ids[i]) * GOLDEN + purpose) + key) >> S11) * TO_UNIT
        return out

    @numba.njit(cache=True, nogil=True)
    def _uniform_ids_each(ids, purpose, key):
        out = np.empty(len(ids))
        for i in range(len(ids)):
            out[i] = np.float64(_mix1(_mix1(np.uint64(ids[i]) * GOLDEN + purpose) + key[i]) >> S11) * TO_UNIT
        return out

    def _keys(key, n: int) -> np.ndarray:
        """One uint64 key per position (most callers already pass exactly that)."""
        if type(key) is np.ndarray and key.dtype == np.uint64 and key.shape == (n,) and key.flags.c_contiguous:
            return key
        return np.ascontiguousarray(np.broadcast_to(key, n), dtype=np.uint64)

    def uniform_at(inner: np.ndarray, pos: np.ndarray, key) -> np.ndarray:  # noqa: F811
        if not (type(pos) is np.ndarray and pos.dtype == np.int64 and pos.flags.c_contiguous):
            pos = np.ascontiguousarray(pos, dtype=np.int64)
        if np.ndim(key) == 0:
            return _uniform_at_one(inner, pos, np.uint64(key))
        return _uniform_at_each(inner, pos, _keys(key, len(pos)))

    def uniform_at_steps(inner: np.ndarray, pos: np.ndarray, step: np.ndarray, scale: int, offset: int) -> np.ndarray:  # noqa: F811
        if not (type(pos) is np.ndarray and pos.dtype == np.int64 and pos.flags.c_contiguous):
            pos = np.ascontiguousarray(pos, dtype=np.int64)
        if not (type(step) is np.ndarray and step.dtype == np.int64 and step.flags.c_contiguous and len(step) == len(pos)):
            step = np.ascontiguousarray(np.broadcast_to(step, len(pos)), dtype=np.int64)
        return _uniform_at_counted(inner, pos, step, np.int64(scale), np.int64(offset))

    def uniform_ids(ids: np.ndarray, purpose: np.uint64, key) -> np.ndarray:  # noqa: F811
        ids = np.ascontiguousarray(ids, dtype=np.int64)
        if np.ndim(key) == 0:
            return _uniform_ids_one(ids, np.uint64(purpose), np.uint64(key))
        return _uniform_ids_each(ids, np.uint64(purpose), _keys(key, len(ids)))

    COMPILED = True
except ImportError:  # numpy's version above
    pass
