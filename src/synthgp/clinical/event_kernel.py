"""Monthly first-event draws for cardiovascular events, in one compiled pass (numba).

For each person and event: the hazard annual_risk * base * (1 + sum of weight * factor) / 12, in the
factors' own order, and a hit when the person has not had the event, is old enough, and the event's
uniform draw (core/mixing.py, the same bits as the numpy streams) falls below the hazard. The same
floats and the same draws as pathways/cardiovascular.py's numpy version; it falls back to that when
numba is absent.
"""

from __future__ import annotations

import numpy as np

from synthgp.core import mixing

hits = None
try:  # pragma: no cover - exercised where numba is installed (it is a dependency)
    import numba

    _mix1 = numba.njit(cache=True, nogil=True)(mixing.mix)

    @numba.njit(cache=True, nogil=True)
    def _hits(pos, base, age, factors, first, inner, key, annual, order, weight, min_age):
        """factors: (4, n) of 0/1 for each person of `pos`; first: a tuple, per event, of the N
        first-event days (or -1);
        inner: (events, N) each event's keyed stream; order/weight: (events, 4) factor index (-1 ends)
        and weight in the data file's order. Returns (events, n) booleans."""
        n, e = len(pos), len(annual)
        out = np.zeros((e, n), dtype=np.bool_)
        for i in range(n):
            k = pos[i]
            if age[i] < min_age:
                continue
            for j in range(e):
                if first[j][k] >= 0:
                    continue
                extra = 0.0
                for f in range(order.shape[1]):
                    if order[j, f] < 0:
                        break
                    extra = extra + weight[j, f] * factors[order[j, f], i]
                haz = annual[j] * base[i] * (1.0 + extra) / 12.0
                z = _mix1(inner[j, k] + key)
                out[j, i] = np.float64(z >> mixing.S11) * mixing.TO_UNIT < haz
        return out

    hits = _hits
except ImportError:
    pass
