"""Bank holidays in England and Wales (data/bank_holidays.toml), and working days: Monday to Friday, not a
bank holiday. Computed once for 1974-2100 as a table of day numbers, so moving many days is one lookup."""

from __future__ import annotations

import datetime as dt
from functools import cache

import numpy as np

from synthgp.core import dates, reference

LAST_YEAR = 2100


def easter(year: int) -> dt.date:
    """Easter Sunday (the Gregorian computus: Meeus/Jones/Butcher)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = divmod(b, 4)
    g = (8 * b + 13) // 25
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    m = (32 + 2 * e + 2 * i - h - k) % 7
    n = (a + 11 * h + 22 * m) // 451
    month, day = divmod(h + m - 7 * n + 114, 31)
    return dt.date(year, month, day + 1)


def _monday(year: int, month: int, last: bool) -> dt.date:
    """The first or last Monday of a month."""
    if last:
        end = dt.date(year + month // 12, month % 12 + 1, 1) - dt.timedelta(days=1)
        return end - dt.timedelta(days=end.weekday())
    first = dt.date(year, month, 1)
    return first + dt.timedelta(days=(7 - first.weekday()) % 7)


def _regular(year: int) -> list[dt.date]:
    """The year's regular holidays, before substitution (weekend dates included)."""
    e = easter(year)
    return [dt.date(year, 1, 1), e - dt.timedelta(days=2), e + dt.timedelta(days=1), _monday(year, 5, False),
            _monday(year, 5, True), _monday(year, 8, True), dt.date(year, 12, 25), dt.date(year, 12, 26)]


@cache
def holidays() -> frozenset[dt.date]:
    """Every bank holiday from the data file's first year to 2100, substitutes and one-off days included."""
    cfg = reference.toml("bank_holidays.toml")
    first = cfg["regular"]["first_year"]
    moved = {dt.date.fromisoformat(m["instead_of"]): dt.date.fromisoformat(m["date"]) for m in cfg["moved"]}
    out: set[dt.date] = set()
    for year in range(first, LAST_YEAR + 1):
        for day in _regular(year):
            day = moved.get(day, day)
            while day.weekday() >= 5 or day in out:  # made up on the next weekday not already a holiday
                day += dt.timedelta(days=1)
            out.add(day)
    out |= {dt.date.fromisoformat(x["date"]) for x in cfg["extra"]}
    return frozenset(out)


@cache
def _table() -> tuple[int, np.ndarray, np.ndarray, np.ndarray]:
    """(first day number, whether each day is a holiday, days to the next working day from each day, and days
    back to the last working day)."""
    first = reference.toml("bank_holidays.toml")["regular"]["first_year"]
    d0 = dates.to_days(dt.date(first, 1, 1))
    d1 = dates.to_days(dt.date(LAST_YEAR + 1, 1, 8))
    holiday = np.zeros(d1 - d0, dtype=bool)
    # the days themselves too where they fall on a weekend (no Saturday clinic on Christmas Day)
    fixed = [dt.date(y, m, d) for y in range(first, LAST_YEAR + 1) for m, d in ((1, 1), (12, 25), (12, 26))]
    holiday[[dates.to_days(h) - d0 for h in [*holidays(), *fixed]]] = True
    closed = holiday | ((np.arange(d0, d1) + 3) % 7 >= 5)  # day 0 (1 January 1970) was a Thursday
    shift = np.zeros(d1 - d0, dtype=np.int64)
    back = np.zeros(d1 - d0, dtype=np.int64)
    for i in range(len(closed) - 2, -1, -1):
        shift[i] = shift[i + 1] + 1 if closed[i] else 0
    for i in range(1, len(closed)):
        back[i] = back[i - 1] + 1 if closed[i] else 0
    return d0, holiday, shift, back


def is_holiday(day) -> np.ndarray:
    """Whether each day is a bank holiday, or New Year's, Christmas or Boxing Day on a weekend (False outside
    1974-2100)."""
    d0, holiday, _, _ = _table()
    i = np.asarray(day, dtype=np.int64) - d0
    inside = (i >= 0) & (i < len(holiday))
    return inside & holiday[np.clip(i, 0, len(holiday) - 1)]


def to_working_day(day) -> np.ndarray:
    """`day`, or the next working day after it (never earlier: what a day follows stays before it). Outside
    1974-2100 only weekends are skipped."""
    d0, _, shift, _ = _table()
    day = np.asarray(day, dtype=np.int64)
    i = day - d0
    inside = (i >= 0) & (i < len(shift) - 7)
    wd = (day + 3) % 7
    weekend = np.where(wd == 5, 2, np.where(wd == 6, 1, 0))
    return day + np.where(inside, shift[np.clip(i, 0, len(shift) - 1)], weekend)


def working_days_on(day, k) -> np.ndarray:
    """The working day `k` working days after `to_working_day(day)` (k = 0: that day itself)."""
    out = to_working_day(day)
    k = np.broadcast_to(np.asarray(k, dtype=np.int64), out.shape)
    for i in range(int(k.max()) if k.size else 0):
        out = np.where(k > i, to_working_day(out + 1), out)
    return out


def to_working_day_before(day) -> np.ndarray:
    """`day`, or the last working day before it (for what must not come later). Outside 1974-2100 only
    weekends are skipped."""
    d0, _, _, back = _table()
    day = np.asarray(day, dtype=np.int64)
    i = day - d0
    inside = (i >= 7) & (i < len(back))
    wd = (day + 3) % 7
    weekend = np.where(wd == 5, 1, np.where(wd == 6, 2, 0))
    return day - np.where(inside, back[np.clip(i, 0, len(back) - 1)], weekend)
