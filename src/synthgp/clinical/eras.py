"""Guidance by date: which era of hypertension guidance (CG18, CG34, CG127, NG136) held on a day, and
its numbers. data/eras.toml lists the eras with their start dates and sources; each overrides
data/ng136.toml where its guidance differed. Rule functions (ng136.py) take the day and ask here.

Days are day numbers (core/dates.py), one per patient or one for all.
"""

from __future__ import annotations

from functools import cache

import numpy as np

from synthgp.core import dates, reference


@cache
def _eras() -> tuple[np.ndarray, tuple[dict, ...]]:
    cfg = reference.toml("eras.toml")["era"]
    return np.array([dates.to_days(e["start"]) for e in cfg], dtype=np.int64), tuple(cfg)


def names() -> tuple[str, ...]:
    return tuple(e["name"] for e in _eras()[1])


def start(name: str) -> int:
    """The day era `name` began."""
    starts, eras = _eras()
    return int(starts[[e["name"] for e in eras].index(name)])


def index(day) -> np.ndarray:
    """The era of each day (0 = the first; a day before the first era counts as the first)."""
    starts, _ = _eras()
    return np.maximum(np.searchsorted(starts, np.asarray(day), side="right") - 1, 0)


@cache
def _table(section: str, key: str) -> np.ndarray:
    base = reference.toml("ng136.toml")[section][key]
    return np.array([e.get(section, {}).get(key, base) for e in _eras()[1]])


def param(section: str, key: str, day) -> np.ndarray:
    """The number (or flag) data/ng136.toml's [section] key had on each day, era by era."""
    return _table(section, key)[index(day)]


@cache
def _flags(key: str) -> np.ndarray:
    return np.array([e[key] for e in _eras()[1]])


def flag(key: str, day) -> np.ndarray:
    """An era's own setting (abpm_required, nice2011_stage_codes, first_line_older) on each day."""
    return _flags(key)[index(day)]


@cache
def _scores() -> tuple[np.ndarray, tuple[str, ...]]:
    cfg = reference.toml("eras.toml")["risk_score"]
    return np.array([dates.to_days(r["start"]) for r in cfg], dtype=np.int64), tuple(r["code"] for r in cfg)


def risk_score_code(day) -> np.ndarray:
    """The key (data/codes.csv) of the cardiovascular risk score a practice recorded on each day."""
    starts, codes = _scores()
    return np.array(codes)[np.maximum(np.searchsorted(starts, np.asarray(day), side="right") - 1, 0)]


def programme_start(name: str) -> int:
    """The day a programme (e.g. "health_check") began."""
    return dates.to_days(reference.toml("eras.toml")["programmes"][f"{name}_start"])
