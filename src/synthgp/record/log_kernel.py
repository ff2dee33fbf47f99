"""The log's compiled passes (numba): a batch's single value spread over its rows, and each row's
rank within its patient by (day, emission), the basis of its id, found by a counting sort on the
patient and a stable sort of each patient's days (most patients' rows arrive in day order, and are
only checked). The same values as record/log.py's numpy versions, which it falls back to when numba
is absent."""

from __future__ import annotations

import numpy as np

ranks = runs = None
try:  # pragma: no cover - exercised where numba is installed (it is a dependency)
    import numba

    @numba.njit(cache=True, nogil=True)
    def _ranks(pat, day, n_pat):
        """Per row, its 0-based rank among its patient's rows ordered by (day, row). pat in [0, n_pat)."""
        n = len(pat)
        start = np.zeros(n_pat + 1, dtype=np.int64)
        for i in range(n):
            start[pat[i] + 1] += 1
        for p in range(n_pat):
            start[p + 1] += start[p]
        fill = start[:-1].copy()
        rows = np.empty(n, dtype=np.int64)  # row numbers grouped by patient, in emission order
        for i in range(n):
            p = pat[i]
            rows[fill[p]] = i
            fill[p] += 1
        out = np.empty(n, dtype=np.int64)
        for p in range(n_pat):
            a, b = start[p], start[p + 1]
            ordered = True
            for j in range(a + 1, b):
                if day[rows[j]] < day[rows[j - 1]]:
                    ordered = False
                    break
            if ordered:
                for j in range(a, b):
                    out[rows[j]] = j - a
            else:
                group = rows[a:b]
                by_day = np.argsort(day[group], kind="mergesort")  # stable: emission order within a day
                for r in range(b - a):
                    out[group[by_day[r]]] = r
        return out

    @numba.njit(cache=True, nogil=True)
    def _runs(values, sizes, n):
        """np.repeat(values, sizes): each batch's single value over its rows."""
        out = np.empty(n, dtype=values.dtype)
        at = 0
        for b in range(len(sizes)):
            v = values[b]
            for j in range(at, at + sizes[b]):
                out[j] = v
            at += sizes[b]
        return out

    ranks, runs = _ranks, _runs
except ImportError:
    pass
