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
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pandas is imported where a table is read or built: `learn sample` to Parquet needs none
    import pandas as pd

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
    import pandas as pd

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
    import pandas as pd

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


def _numeric(c: Column, x: np.ndarray, pos: np.ndarray) -> np.ndarray:
    """Values of continuous column c for bin codes x at relative positions pos in [0, 1) inside their bins
    (pos is overwritten): the column's quantile function, linear between its GRID points, at the bin's
    share of probability; NaN in the missing state."""
    b = np.asarray([0.0, *c.cdf_at_edges, 1.0])
    lo, width = np.append(b[:-1], 0.0), np.append(np.diff(b), 0.0)  # the missing state's code reads the 0 after them
    q = np.asarray(c.quantiles, dtype=float)
    g = len(q) - 1
    t = pos
    t *= np.take(width, x)
    t += np.take(lo, x)
    t *= g
    np.clip(t, 0, g, out=t)
    k = t.astype(np.int32)
    np.minimum(k, g - 1, out=k)
    t -= k
    t *= np.take(np.diff(q), k)
    t += np.take(q, k)
    if c.integer:
        np.round(t, out=t)
    if c.has_missing:
        t[x == c.cardinality - 1] = np.nan
    return t


def plain(c: Column) -> bool:
    """Is the column's type one numpy holds (not a pandas extension type such as Int64 or category)?"""
    return c.dtype in ("object", "str", "bool") or c.dtype.startswith(("int", "uint", "float"))


def columnar(c: Column) -> bool:
    """Can `arrays(..., text_codes=True)` give column c as plain numbers, or as codes into text levels
    (what a Parquet writer takes without pandas)?"""
    if c.kind == "numeric":
        return plain(c) and c.dtype != "bool"
    if c.dtype in ("object", "str"):
        return all(isinstance(v, str) for v in c.levels)
    return plain(c) and not c.has_missing


def arrays(codes: np.ndarray, cols: list[Column], rng: np.random.Generator,
           positions: dict[int, np.ndarray] | None = None, text_codes: bool = False) -> dict[str, tuple[np.ndarray, bool]]:
    """Codes back to values, per column a numpy array and whether any value is missing; `positions`
    ({column index: values in [0, 1)}) place continuous values inside their bin, uniformly in
    probability where not given. Text, and categories with gaps, are object arrays with None; with
    `text_codes`, a `columnar` text column stays its codes (missing: len(levels))."""
    out = {}
    for j, c in enumerate(cols):
        x = codes[:, j]  # any integer type indexes; no copy of a million rows per column
        miss = (x == c.cardinality - 1) if c.has_missing else None
        gaps = miss is not None and bool(miss.any())
        if text_codes and c.kind == "categorical" and c.dtype in ("object", "str") and columnar(c):
            out[c.name] = (x, gaps)
            continue
        if c.kind == "categorical" and not gaps and c.dtype not in ("object", "category", "string", "str"):
            levels = np.asarray(c.levels)
            try:
                levels = levels.astype(c.dtype)  # typed levels, no object detour: a small array converted, not n rows
            except (TypeError, ValueError):
                pass
            v = np.take(levels, x)
        elif c.kind == "categorical":
            v = np.asarray(c.levels, dtype=object)[np.minimum(x, len(c.levels) - 1)]
            v = np.where(miss, None, v) if gaps else v
        else:
            v = _numeric(c, x, positions[j] if positions and j in positions else rng.random(len(x)))
            if c.integer and not gaps and plain(c) and c.dtype.startswith(("int", "uint")):
                v = v.astype(c.dtype)
        out[c.name] = (v, gaps)
    return out


def decode(codes: np.ndarray, cols: list[Column], rng: np.random.Generator,
           positions: dict[int, np.ndarray] | None = None) -> pd.DataFrame:
    """`arrays` as a DataFrame, each column in the type it had when fitting where its values allow."""
    import pandas as pd

    data = {}
    for c, (v, gaps) in zip(cols, arrays(codes, cols, rng, positions).values()):
        s = pd.Series(v, dtype=object if v.dtype == object else None, copy=False)
        convert = (not gaps or c.dtype in ("object", "category", "string", "str")) if c.kind == "categorical" else \
            (c.integer and not gaps and c.dtype.startswith(("int", "Int", "uint")))
        if convert and str(s.dtype) != c.dtype:
            try:
                s = s.astype(c.dtype)
            except (TypeError, ValueError):
                pass
        data[c.name] = s
    return pd.DataFrame(data, copy=False)  # column by column: consolidating 1,000,000 rows into blocks costs a copy
