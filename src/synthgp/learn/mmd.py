"""Kernel maximum mean discrepancy over combinations of 2, 3 and 4 columns, beside a real-resample band
(the regulator's multivariate check, Tucker et al. 2020).

For a combination of columns, MMD^2 (unbiased, Gaussian kernel, bandwidth the median distance of the
pooled rows) between half A of the real table and m synthetic rows is set beside MMD^2 between
halves A and B of the real table, m rows each, over several random splits: synthetic data passes a
combination when its median MMD^2 is no larger than the real-vs-real band's largest value. Columns are
encoded so that each counts alike: a number as its distance from the median in units of the IQR's
normal-equivalent spread, plus a missing indicator (missing then adds 1, not a far-off value); a
category as a one-hot vector over sqrt 2 (two different levels are 1 apart).
At most `per_size` combinations of each size are drawn at random; rows are capped at `max_rows`.
"""

from __future__ import annotations

import itertools
from typing import Any, Iterable

import numpy as np
import pandas as pd

from synthgp.evaluate import fidelity


def _blocks(df: pd.DataFrame, ref: pd.DataFrame, k: fidelity.Kinds) -> dict[str, np.ndarray]:
    out = {}
    for c in df.columns:
        if c in k.numeric:
            r = ref[c].dropna().to_numpy(float)
            q1, q3 = np.quantile(r, [0.25, 0.75]) if len(r) else (0.0, 1.0)
            scale = (q3 - q1) / 1.349 if q3 > q1 else (r.std() if len(r) and r.std() > 0 else 1.0)
            v = (df[c].to_numpy(float) - (np.median(r) if len(r) else 0.0)) / scale
            miss = np.isnan(v)
            out[c] = np.column_stack([np.where(miss, 0.0, v), miss.astype(float)])
        else:
            levels = pd.Index(ref[c].astype(str).unique())
            idx = levels.get_indexer(df[c].astype(str))
            oh = np.zeros((len(df), len(levels) + 1))
            oh[np.arange(len(df)), np.where(idx < 0, len(levels), idx)] = 1.0
            out[c] = oh / np.sqrt(2)
    return out


def _mmd2(x: np.ndarray, y: np.ndarray) -> float:
    z = np.vstack([x, y])
    sq = np.sum(z * z, 1)
    d2 = np.maximum(sq[:, None] + sq[None, :] - 2 * z @ z.T, 0)
    med = np.median(d2[np.triu_indices(len(z), 1)])
    kern = np.exp(-d2 / (med if med > 0 else 1.0))
    n, m = len(x), len(y)
    kxx, kyy, kxy = kern[:n, :n], kern[n:, n:], kern[:n, n:]
    return float((kxx.sum() - np.trace(kxx)) / (n * (n - 1)) + (kyy.sum() - np.trace(kyy)) / (m * (m - 1))
                 - 2 * kxy.mean())


def combinations(real: pd.DataFrame, synth: pd.DataFrame, categorical: Iterable[str] = (), sizes=(2, 3, 4),
                 per_size: int = 30, max_rows: int = 300, resamples: int = 5, seed: int = 0) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    k = fidelity.kinds(real, categorical)
    cols = list(real.columns)
    m = min(max_rows, len(real) // 2, len(synth))
    if m < 10:  # too few rows for a band: say so rather than fail the whole evaluation
        return {"rows": m, "resamples": 0, "sizes": {}, "note": "fewer than 20 real or 10 synthetic rows: not measured"}
    splits = []
    for _ in range(resamples):
        p = rng.permutation(len(real))
        splits.append((p[:m], p[m:2 * m], rng.choice(len(synth), m, replace=False)))
    br, bs = _blocks(real, real, k), _blocks(synth, real, k)
    out: dict[str, Any] = {"rows": m, "resamples": resamples, "sizes": {}}
    for size in sizes:
        combos = list(itertools.combinations(cols, size))
        if len(combos) > per_size:
            combos = [combos[i] for i in sorted(rng.choice(len(combos), per_size, replace=False))]
        rows = []
        for combo in combos:
            xr, xs = np.hstack([br[c] for c in combo]), np.hstack([bs[c] for c in combo])
            band = [_mmd2(xr[a], xr[b]) for a, b, _ in splits]
            syn = [_mmd2(xr[a], xs[s]) for a, _, s in splits]
            rows.append({"columns": list(combo), "mmd2": float(np.median(syn)), "band_max": float(np.max(band)),
                         "within_band": bool(np.median(syn) <= np.max(band))})
        out["sizes"][str(size)] = {"combinations": len(rows), "within_band": sum(r["within_band"] for r in rows),
                                   "mean_mmd2": float(np.mean([r["mmd2"] for r in rows])),
                                   "worst": sorted(rows, key=lambda r: r["band_max"] - r["mmd2"])[:5]}
    return out
