"""The learner's compiled passes: numba where it imports (it is a dependency), else None, and the
caller runs its numpy expressions instead (the same results; tests/learn checks both)."""

from __future__ import annotations

from functools import cache
from typing import Callable


@cache
def njit(fn: Callable) -> Callable | None:
    """`fn` compiled by numba (cached on disk, releasing the GIL), once per process; None without numba."""
    try:
        import numba
    except ImportError:
        return None
    return numba.njit(cache=True, nogil=True)(fn)
