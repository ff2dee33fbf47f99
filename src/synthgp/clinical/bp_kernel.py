"""A month of blood pressure for everyone simulated, in one compiled pass (numba).

The same arithmetic as bp.usual, bp.drug_lowering and bp.bound, in the same order, element by
element, with numpy's interpolation rule: the results are the same floats (the golden digests hold
them to it). Vitals uses it when numba is installed and falls back to the numpy functions otherwise.
"""

from __future__ import annotations

import numpy as np

from synthgp.core import reference

PARAMS = ("bmi_centre", "sbp_per_bmi", "black_sbp", "south_asian_sbp", "deprivation_sbp", "type2_sbp", "ckd_sbp",
          "dbp_per_bmi", "black_dbp", "ckd_dbp", "sbp_min", "sbp_max", "dbp_min", "dbp_max", "min_pulse_pressure",
          "law_reference_sbp", "per_10_above_154_sbp", "standard_sbp", "standard_dbp", "max_fraction_of_excess",
          "floor_sbp")


def params() -> np.ndarray:
    c = reference.toml("blood_pressure.toml")
    merged = {**c["effects"], **c["bounds"], **c["treatment"]}
    return np.array([float(merged[k]) for k in PARAMS])


def curves() -> tuple[np.ndarray, ...]:
    u = reference.toml("blood_pressure.toml")["usual"]
    return tuple(np.asarray(u[k], dtype=np.float64) for k in ("ages", "sbp_male", "sbp_female", "dbp_male", "dbp_female"))


month_bp = None
try:  # pragma: no cover - exercised where numba is installed (it is a dependency)
    import numba

    @numba.njit(cache=True, nogil=True)
    def _interp(x, xp, fp):
        """np.interp for one value, as numpy computes it."""
        n = len(xp)
        if x < xp[0]:
            return fp[0]
        if x >= xp[n - 1]:
            return fp[n - 1]
        j = 0
        while xp[j + 1] <= x:
            j += 1
        if xp[j] == x:
            return fp[j]
        slope = (fp[j + 1] - fp[j]) / (xp[j + 1] - xp[j])
        return slope * (x - xp[j]) + fp[j]

    @numba.njit(inline="always")
    def _max(a, b):
        return a if a >= b else b

    @numba.njit(inline="always")
    def _min(a, b):
        return a if a <= b else b

    @numba.njit(cache=True, nogil=True)
    def _month_bp(pos, day, age, bmi, male, black, south_asian, imd, onset_type2, onset_ckd, level_sbp, level_dbp,
                  slope_sbp, units, stopped, response, adherence, xp, sbp_m, sbp_f, dbp_m, dbp_f, p, sums):
        n = len(pos)
        us, ud, ts, td = np.empty(n), np.empty(n), np.empty(n), np.empty(n)
        for i in range(n):
            k = pos[i]
            a = age[i]
            if male[k]:
                s, d = _interp(a, xp, sbp_m), _interp(a, xp, dbp_m)
            else:
                s, d = _interp(a, xp, sbp_f), _interp(a, xp, dbp_f)
            dev = bmi[i] - p[0]
            t2 = 1.0 if onset_type2[k] <= day[i] else 0.0
            ck = 1.0 if onset_ckd[k] <= day[i] else 0.0
            s = (s + level_sbp[k] + slope_sbp[k] * (a - 50.0) / 10.0 + p[1] * dev + p[2] * (1.0 if black[k] else 0.0)
                 + p[3] * (1.0 if south_asian[k] else 0.0) + p[4] * np.float64(3 - imd[k]) + p[5] * t2 + p[6] * ck)
            d = d + level_dbp[k] + p[7] * dev + p[8] * (1.0 if black[k] else 0.0) + p[9] * ck
            s, d = _bound(s, d, p)
            nstd = units[k] * (0.0 if stopped[k] else 1.0)
            extra = _max(s - p[15], 0.0) / 10.0 * p[16]
            ls = nstd * (p[17] + extra) * response[k] * adherence[k]
            ld = nstd * p[18] * response[k] * adherence[k]
            cap = p[19] * _max(s - p[20], 0.0)
            scale = cap / _max(ls, 1e-9) if ls > cap else 1.0
            t_s, t_d = _bound(s - ls * scale, d - ld * scale, p)
            us[i], ud[i], ts[i], td[i] = s, d, t_s, t_d
            if sums.shape[1] > 0:
                sums[0, k] += s
                sums[1, k] += d
                sums[2, k] += t_s
                sums[3, k] += t_d
                sums[4, k] += 1.0
        return us, ud, ts, td

    @numba.njit(inline="always")
    def _bound(s, d, p):
        s = _min(_max(s, p[10]), p[11])
        d = _min(_max(d, p[12]), p[13])
        d = _min(d, s - p[14])
        return s, _max(d, p[12])

    month_bp = _month_bp
except ImportError:  # Vitals uses the numpy functions
    pass
