"""Dates as int32 days since 1970-01-01, the layout of Arrow's date32, so blocks stay numeric."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa

EPOCH = dt.date(1970, 1, 1)
NONE = int(np.iinfo(np.int32).min)  # "no date": day numbers before 1970 are negative, so -1 will not do
DAYS_PER_YEAR = 365.25


def to_days(d: dt.date) -> int:
    return (d - EPOCH).days


def year_of(days: np.ndarray) -> np.ndarray:
    return np.asarray(days).astype("datetime64[D]").astype("datetime64[Y]").astype(np.int64) + 1970


def month_of(days: np.ndarray) -> np.ndarray:
    return np.asarray(days).astype("datetime64[D]").astype("datetime64[M]").astype(np.int64) % 12 + 1


def arrow(days: np.ndarray, missing: np.ndarray | None = None) -> pa.Array:
    """date32 array from day numbers; `missing` marks nulls."""
    return pa.array(np.asarray(days, dtype=np.int32), type=pa.date32(), mask=missing)


def happened_by(event_day, day):
    """Whether an event's day (a day number, negative where there is none) falls on or before `day`."""
    event_day = np.asarray(event_day)
    return (event_day >= 0) & (event_day <= day)
