"""Columns to small integer codes and back.

Continuous columns are discretised at their quantiles and sampled back *inside* the bin from the
column's own quantile function, so a sampled column keeps the real one's shape (skew, spikes,
bounds) rather than a fitted Gaussian's. Chosen over conditional-Gaussian nodes because primary-care
values are rarely Gaussian (BMI, creatinine, counts), a discrete network can give any node any parent,
scoring is exact counting (fast), and missingness becomes a state of its own: in health records whether a
value was measured carries information (who gets a cholesterol test), which a missing-at-random EM
would throw away. Categories keep every level, however rare.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from synthgp.learn import compiled

MISSING = "<missing>"
GRID = 1001  # points of the stored quantile function per continuous column


@dataclass
class Column:
    name: str
    kind: str                                     # "numeric" or "categorical"
    levels: list[Any] = field(default_factory=list)   # categorical: the values, in code order
    edges: list[float] = field(default_factory=list)  # numeric: inner bin edges
    cdf_at_edges: list[float] = field(default_factory=list)  # numeric: share of values below each edge
    quantiles: list[float] = field(default_factory=list)     # numeric: quantile function on GRID levels
    integer: bool = False
    has_missing: bool = False
    dtype: str = "object"

    @property
    def cardinality(self) -> int:
        base = len(self.levels) if self.kind == "categorical" else len(self.edges) + 1
        return base + self.has_missing

    def state_names(self) -> list[str]:
        if self.kind == "categorical":
            names = [str(v) for v in self.levels]
        else:
            e = [-np.inf, *self.edges, np.inf]
            names = [f"[{_short(e[i])}, {_short(e[i + 1])})" for i in range(len(e) - 1)]
        return names + ([MISSING] if self.has_missing else [])

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__, levels=[_plain(v) for v in self.levels])


def _short(x: float) -> str:
    return "-inf" if x == -np.inf else "inf" if x == np.inf else f"{x:.4g}"


def _plain(v: Any) -> Any:
    return v.item() if hasattr(v, "item") else v


def infer(df: pd.DataFrame, bins: int, max_levels: int, categorical: set[str], numeric: set[str]) -> list[Column]:
    cols = []
    for name in df.columns:
        s = df[name]
        unknown = (categorical | numeric) - set(df.columns)
        if unknown:
            raise ValueError(f"column types given for columns the table lacks: {sorted(unknown)}")
        is_num = pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s)
        if name in numeric and not is_num:
            raise ValueError(f"column {name!r} was declared numeric but holds {s.dtype} values")
        kind = ("numeric" if name in numeric else "categorical" if name in categorical
                else "numeric" if is_num and s.nunique(dropna=True) > max_levels else "categorical")
        c = Column(name, kind, has_missing=bool(s.isna().any()), dtype=str(s.dtype))
        v = s.dropna()
        if v.empty:
            raise ValueError(f"column {name!r} has no values at all")
        if kind == "categorical":
            c.levels = sorted(v.unique().tolist(), key=lambda x: (str(type(x)), x))
        else:
            x = v.to_numpy(dtype=float)
            c.edges = np.unique(np.quantile(x, np.linspace(0, 1, bins + 1)[1:-1])).tolist()
            c.cdf_at_edges = [float(np.mean(x < e)) for e in c.edges]
            c.quantiles = np.quantile(x, np.linspace(0, 1, GRID)).tolist()
            c.integer = bool(np.all(np.mod(x, 1) == 0))
        cols.append(c)
    return cols


def encode(df: pd.DataFrame, cols: list[Column]) -> np.ndarray:
    """n x p array of codes (int16). Values unseen at fit time are an error, never silently dropped."""
    out = np.empty((len(df), len(cols)), dtype=np.int16)
    for j, c in enumerate(cols):
        s = df[c.name]
        miss = s.isna().to_numpy()
        if c.kind == "categorical":
            idx = pd.Index(c.levels).get_indexer(s)
            bad = (idx < 0) & ~miss
            if bad.any():
                raise ValueError(f"column {c.name!r} holds values not seen when fitting: {s[bad].unique()[:5].tolist()}")
        else:
            idx = np.searchsorted(np.asarray(c.edges), s.to_numpy(dtype=float), side="right")
        out[:, j] = np.where(miss, c.cardinality - 1, idx)
    return out


def _quantile(q: np.ndarray, u: np.ndarray) -> np.ndarray:
    """np.interp(u, linspace(0, 1, len(q)), q) without the search: the grid is even, so the cell is
    floor(u * (len(q) - 1))."""
    x = np.clip(u, 0.0, 1.0) * (len(q) - 1)
    i = np.minimum(x.astype(np.int64), len(q) - 2)
    return q[i] + (x - i) * (q[i + 1] - q[i])


def _values(x, bounds, pos, q, missing, out):  # pragma: no cover - compiled where numba is installed
    """out[i]: the value at relative position pos[i] inside bin x[i] (bin b spans quantile levels
    bounds[b] to bounds[b + 1]), read from the quantile function q as `_quantile` does; NaN where
    x[i] == missing. One pass, no temporaries: the same floats as the numpy expressions in `decode`."""
    last = len(bounds) - 2
    g = len(q) - 1
    for i in range(x.shape[0]):
        b = x[i]
        if b == missing:
            out[i] = np.nan
            continue
        b = min(b, last)
        u = bounds[b] + (bounds[b + 1] - bounds[b]) * pos[i]
        t = min(max(u, 0.0), 1.0) * g
        k = min(int(t), g - 1)
        out[i] = q[k] + (t - k) * (q[k + 1] - q[k])


def _numeric(c: Column, x: np.ndarray, miss: np.ndarray, pos: np.ndarray) -> np.ndarray:
    kernel = compiled.njit(_values)
    if kernel is not None:
        v = np.empty(len(x))
        kernel(np.ascontiguousarray(x, dtype=np.int32), np.asarray([0.0, *c.cdf_at_edges, 1.0]), np.ascontiguousarray(pos, dtype=float),
               np.asarray(c.quantiles, dtype=float), c.cardinality - 1 if c.has_missing else -1, v)
        return np.round(v, out=v) if c.integer else v
    lo = np.concatenate([[0.0], c.cdf_at_edges])[np.minimum(x, len(c.edges))]
    hi = np.concatenate([c.cdf_at_edges, [1.0]])[np.minimum(x, len(c.edges))]
    v = _quantile(np.asarray(c.quantiles), lo + (hi - lo) * pos)
    if c.integer:
        v = np.round(v)
    return np.where(miss, np.nan, v)


def decode(codes: np.ndarray, cols: list[Column], rng: np.random.Generator,
           positions: dict[int, np.ndarray] | None = None) -> pd.DataFrame:
    """Codes back to values; `positions` ({column index: values in [0, 1)}) place continuous values
    inside their bin, uniformly in probability where not given."""
    data = {}
    for j, c in enumerate(cols):
        x = codes[:, j]  # any integer type indexes; no copy of a million rows per column
        miss = c.has_missing & (x == c.cardinality - 1)
        if c.kind == "categorical" and not miss.any() and c.dtype not in ("object", "category", "string"):
            s = pd.Series(np.asarray(c.levels)[x], copy=False)  # typed levels, no object detour
            try:
                s = s.astype(c.dtype)
            except (TypeError, ValueError):
                pass
        elif c.kind == "categorical":
            vals = np.asarray(c.levels, dtype=object)[np.minimum(x, len(c.levels) - 1)]
            s = pd.Series(np.where(miss, None, vals), dtype=object, copy=False)
            try:
                s = s.astype(c.dtype) if not miss.any() or c.dtype in ("object", "category", "string") else s
            except (TypeError, ValueError):
                pass
        else:
            v = _numeric(c, x, miss, positions[j] if positions and j in positions else rng.random(len(x)))
            s = pd.Series(v, copy=False)
            if c.integer and not miss.any() and c.dtype.startswith(("int", "Int", "uint")):
                s = s.astype(c.dtype)
        data[c.name] = s
    return pd.DataFrame(data, copy=False)  # column by column: consolidating 1,000,000 rows into blocks costs a copy
