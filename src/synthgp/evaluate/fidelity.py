"""Fidelity and privacy of a synthetic table against a reference table (any two pandas DataFrames).

Used by `synthgp compare` (patient-level features of two Aurum extracts) and `synthgp learn evaluate`.

Columns are numeric or categorical (anything not numeric, or numeric with at most MAX_LEVELS levels
and `categorical=` naming it). Numerics are binned at the reference's quantiles wherever a
distribution is needed, so every measure treats the two tables alike.
  per column:   KS statistic (numeric) or chi-squared test (categorical); total variation (TV) on bins;
                KL divergence of the synthetic from one half of the reference, beside the KL of the
                reference's other half from it (the regulator's yardstick: no further away than fresh
                real data is), over random splits, with the real band's 95th centile.
  pairs:        Cramer's V of every pair (binned), synthetic minus reference; optionally all triples as
                the TV of their joint distribution.
  privacy:      distance to closest record (DCR) of synthetic rows to a reference "training" half, beside
                the DCR of the other reference half (the holdout) to it; ties reported; exact copies
                against the holdout's own rate. Only meaningful when the reference is real.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any, Iterable

import numpy as np
import pandas as pd
from scipy import stats

BINS = 10
MAX_LEVELS = 12
EPS = 1e-6  # added to empty cells so KL stays finite; the same for synthetic and resample


@dataclass(frozen=True)
class Kinds:
    numeric: tuple[str, ...]
    categorical: tuple[str, ...]


def kinds(df: pd.DataFrame, categorical: Iterable[str] = ()) -> Kinds:
    cat = set(categorical)
    num = tuple(c for c in df.columns if c not in cat and pd.api.types.is_numeric_dtype(df[c])
                and not pd.api.types.is_bool_dtype(df[c]) and df[c].nunique(dropna=True) > MAX_LEVELS)
    return Kinds(num, tuple(c for c in df.columns if c not in num))


def _edges(ref: pd.Series) -> np.ndarray:
    v = ref.dropna().to_numpy(dtype=float)
    if len(v) == 0:
        return np.array([-np.inf, np.inf])
    e = np.unique(np.quantile(v, np.linspace(0, 1, BINS + 1)[1:-1]))
    return np.concatenate([[-np.inf], e, [np.inf]])


def codes(ref: pd.DataFrame, other: pd.DataFrame, k: Kinds) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Both tables as small integer codes: numerics binned at the reference's quantiles, categories
    by the union of levels; missing is a level of its own (-1 before shifting)."""
    a, b = {}, {}
    for c in ref.columns:
        if c in k.numeric:
            e = _edges(ref[c])
            to = lambda s: np.where(s.isna(), -1, np.searchsorted(e, s.to_numpy(dtype=float), side="right") - 1)  # noqa: E731
            a[c], b[c] = to(ref[c]), to(other[c])
        else:
            levels = pd.Index(pd.concat([ref[c], other[c]]).dropna().astype(str).unique()).sort_values()
            to = lambda s: np.where(s.isna(), -1, levels.get_indexer(s.astype(str)))  # noqa: E731
            a[c], b[c] = to(ref[c]), to(other[c])
    return pd.DataFrame(a).add(1), pd.DataFrame(b).add(1)


def _dist(x: np.ndarray, size: int) -> np.ndarray:
    return np.bincount(x, minlength=size).astype(float) / max(len(x), 1)


def _kl(p: np.ndarray, q: np.ndarray) -> float:
    p, q = p + EPS, q + EPS
    p, q = p / p.sum(), q / q.sum()
    return float(np.sum(p * np.log(p / q)))


def columns(real: pd.DataFrame, synth: pd.DataFrame, categorical: Iterable[str] = (), resamples: int = 100,
            seed: int = 0) -> list[dict[str, Any]]:
    """Per-column distances. The KL yardstick: split the real table at random into halves A and B,
    `resamples` times; the band is KL(A || B), real data against fresh real data; the synthetic
    figure is the median of KL(A || S) with S as many synthetic rows as B has. Equal sizes keep the
    small-sample bias of KL the same on both sides. A column is within the band when its figure is
    at most the band's 1 - 0.05/k quantile, k the table's columns: a table of 22 columns as good as
    real data would otherwise have a column outside a 95% band more often than not (Bonferroni;
    with 100 resamples that limit is about the largest resample)."""
    k = kinds(real, categorical)
    ra, sa = codes(real, synth, k)
    rng = np.random.default_rng(seed)
    half = len(real) // 2
    m = min(len(real) - half, len(synth))
    splits = []
    for _ in range(resamples):
        perm = rng.permutation(len(real))
        splits.append((perm[:half], perm[half:half + m], rng.choice(len(synth), m, replace=False)))
    out = []
    level = 1 - 0.05 / max(len(real.columns), 1)
    for c in real.columns:
        size = int(max(ra[c].max(), sa[c].max())) + 1
        rc, sc = ra[c].to_numpy(), sa[c].to_numpy()
        p, q = _dist(rc, size), _dist(sc, size)
        kl_band = [_kl(_dist(rc[a], size), _dist(rc[b], size)) for a, b, _ in splits]
        kl_syn = [_kl(_dist(rc[a], size), _dist(sc[x], size)) for a, _, x in splits]
        row: dict[str, Any] = {"column": c, "kind": "numeric" if c in k.numeric else "categorical",
                               "tv": 0.5 * float(np.abs(p - q).sum()), "kl": float(np.median(kl_syn)),
                               "kl_resample_median": float(np.median(kl_band)),
                               "kl_resample_p95": float(np.quantile(kl_band, 0.95)),
                               "kl_resample_limit": float(np.quantile(kl_band, level)),
                               "missing_real": float(real[c].isna().mean()), "missing_synth": float(synth[c].isna().mean())}
        row["kl_within_band"] = row["kl"] <= row["kl_resample_limit"]
        if c in k.numeric:
            x, y = real[c].dropna().to_numpy(float), synth[c].dropna().to_numpy(float)
            ks = stats.ks_2samp(x, y) if len(x) and len(y) else None
            row.update(test="KS", statistic=float(ks.statistic) if ks else None, p_value=float(ks.pvalue) if ks else None,
                       mean_real=float(x.mean()) if len(x) else None, mean_synth=float(y.mean()) if len(y) else None)
        else:
            table = np.array([np.bincount(ra[c], minlength=size), np.bincount(sa[c], minlength=size)])
            table = table[:, table.sum(axis=0) > 0]
            if table.shape[1] > 1:
                chi = stats.chi2_contingency(table)
                row.update(test="chi-squared", statistic=float(chi.statistic), p_value=float(chi.pvalue))
            else:
                row.update(test="chi-squared", statistic=0.0, p_value=1.0)
        out.append(row)
    return out


def _cramers_v(x: np.ndarray, y: np.ndarray) -> float:
    nx, ny = x.max() + 1, y.max() + 1
    t = np.zeros((nx, ny))
    np.add.at(t, (x, y), 1)
    t = t[t.sum(axis=1) > 0][:, t.sum(axis=0) > 0]
    if min(t.shape) < 2:
        return 0.0
    chi2 = stats.chi2_contingency(t, correction=False).statistic
    return float(np.sqrt(chi2 / t.sum() / (min(t.shape) - 1)))


def pairs(real: pd.DataFrame, synth: pd.DataFrame, categorical: Iterable[str] = (),
          max_rows: int = 50_000, seed: int = 0) -> dict[str, Any]:
    """Cramer's V of every pair of columns (binned) in each table, and their differences."""
    k = kinds(real, categorical)
    ra, sa = codes(_cap(real, max_rows, seed), _cap(synth, max_rows, seed), k)
    cols = list(real.columns)
    rows = []
    for a, b in itertools.combinations(cols, 2):
        vr, vs = _cramers_v(ra[a].to_numpy(), ra[b].to_numpy()), _cramers_v(sa[a].to_numpy(), sa[b].to_numpy())
        rows.append({"a": a, "b": b, "real": vr, "synth": vs, "diff": vs - vr})
    d = np.array([abs(r["diff"]) for r in rows]) if rows else np.zeros(1)
    return {"columns": cols, "pairs": rows, "mean_abs_diff": float(d.mean()), "max_abs_diff": float(d.max())}


def triples(real: pd.DataFrame, synth: pd.DataFrame, categorical: Iterable[str] = (), max_triples: int = 500,
            max_rows: int = 50_000, seed: int = 0) -> dict[str, Any]:
    """TV distance of the joint distribution of column triples (binned to quintiles' worth of cells)."""
    k = kinds(real, categorical)
    ra, sa = codes(_cap(real, max_rows, seed), _cap(synth, max_rows, seed), k)
    combos = list(itertools.combinations(real.columns, 3))
    rng = np.random.default_rng(seed)
    if len(combos) > max_triples:
        combos = [combos[i] for i in sorted(rng.choice(len(combos), max_triples, replace=False))]
    tvs = []
    for t in combos:
        key_r = pd.Series(list(zip(*(ra[c] for c in t))))
        key_s = pd.Series(list(zip(*(sa[c] for c in t))))
        pr, ps = key_r.value_counts(normalize=True), key_s.value_counts(normalize=True)
        tvs.append(0.5 * float(pr.sub(ps, fill_value=0).abs().sum()))
    return {"triples": len(combos), "mean_tv": float(np.mean(tvs)) if tvs else 0.0,
            "max_tv": float(np.max(tvs)) if tvs else 0.0}


def _cap(df: pd.DataFrame, n: int, seed: int) -> pd.DataFrame:
    return df if len(df) <= n else df.sample(n, random_state=seed)


def _matrix(df: pd.DataFrame, k: Kinds, ref: pd.DataFrame) -> np.ndarray:
    """Numerics scaled by the reference's IQR-based spread (missing: a far value); categories one-hot."""
    parts = []
    for c in k.numeric:
        r = ref[c].dropna().to_numpy(float)
        q1, q3 = (np.quantile(r, [0.25, 0.75]) if len(r) else (0.0, 1.0))
        scale = (q3 - q1) / 1.349 if q3 > q1 else (r.std() if len(r) and r.std() > 0 else 1.0)
        centre = np.median(r) if len(r) else 0.0
        v = (df[c].to_numpy(float) - centre) / scale
        parts.append(np.where(np.isnan(v), 100.0, v)[:, None])
    for c in k.categorical:
        levels = pd.Index(ref[c].astype(str).unique())
        idx = levels.get_indexer(df[c].astype(str))
        oh = np.zeros((len(df), len(levels) + 1))
        oh[np.arange(len(df)), np.where(idx < 0, len(levels), idx)] = 1.0
        parts.append(oh)
    return np.hstack(parts) if parts else np.zeros((len(df), 0))


def privacy(real: pd.DataFrame, synth: pd.DataFrame, categorical: Iterable[str] = (), max_rows: int = 20_000,
            seed: int = 0, holdout: pd.DataFrame | None = None) -> dict[str, Any]:
    """Distance to closest record and exact copies, each beside a real holdout's own figure.
    Without `holdout`, the reference is split in half: one half plays the training data."""
    from scipy.spatial import cKDTree

    rng = np.random.default_rng(seed)
    if holdout is None:
        idx = rng.permutation(len(real))
        train, holdout = real.iloc[idx[: len(idx) // 2]], real.iloc[idx[len(idx) // 2:]]
    else:
        train = real
    k = kinds(train, categorical)
    syn = _cap(synth, max_rows, seed)
    hol = _cap(holdout, min(max_rows, len(syn)), seed)
    tr = _cap(train, 4 * max_rows, seed)
    tree = cKDTree(_matrix(tr, k, tr))
    d_syn = tree.query(_matrix(syn, k, tr), k=1)[0]
    d_hol = tree.query(_matrix(hol, k, tr), k=1)[0]
    keys = set(map(tuple, train.astype(str).to_numpy()))
    in_train = lambda df: np.array([tuple(r) in keys for r in df.astype(str).to_numpy()], dtype=bool)  # noqa: E731
    copies = lambda df: float(in_train(df).mean()) if len(df) else 0.0  # noqa: E731
    p5 = float(np.quantile(d_hol, 0.05))
    return {
        "rows_compared": {"synthetic": len(syn), "holdout": len(hol), "training": len(tr)},
        "dcr_median_synthetic": float(np.median(d_syn)), "dcr_median_holdout": float(np.median(d_hol)),
        "dcr_zero_share_synthetic": float(np.mean(d_syn == 0)), "dcr_zero_share_holdout": float(np.mean(d_hol == 0)),
        "share_closer_than_holdout_p5": float(np.mean(d_syn < p5)),
        "exact_copy_share_synthetic": copies(syn), "exact_copy_share_holdout": copies(hol),
        "exact_copies": int(in_train(synth).sum()),  # every synthetic row, not only those compared by distance
        "dcr_synthetic": d_syn.tolist(), "dcr_holdout": d_hol.tolist(),
    }
