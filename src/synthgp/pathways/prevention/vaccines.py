"""When each adult is vaccinated against pneumococcus (PPV23) and shingles, by eligibility and date
(data/prevention.toml [pneumococcal], [shingles]).

Both programmes are modelled as a time to vaccination from the day a person becomes eligible: a share in the
first year (the published first-year coverage of their cohort), then a yearly hazard for the rest while they
stay eligible (derived from the published coverage of older cohorts). Plans that depend only on the date of
birth are made once, at the start; a clinical risk group for PPV23 is planned the month it is first known.
"""

from __future__ import annotations

import datetime as dt

import numpy as np

from synthgp.core import dates
from synthgp.engine.sim import YEAR

NEVER = np.iinfo(np.int64).max // 4


def day_of(text: str) -> int:
    return int(dates.to_days(dt.date.fromisoformat(text)))


def birthday(dob: np.ndarray, age: float) -> np.ndarray:
    """The day each person reaches `age` (years of 365.25 days, as the engine's ages are)."""
    return dob + np.ceil(age * YEAR).astype(np.int64)


def age_on(dob: np.ndarray, day) -> np.ndarray:
    """Completed years on `day`."""
    return np.floor((day - dob) / YEAR).astype(np.int64)


def time_to_vaccination(start: np.ndarray, first_year, hazard: float, u: np.ndarray, later: np.ndarray,
                        later_from: np.ndarray | None = None) -> np.ndarray:
    """Day of vaccination from eligibility `start`: within the first year for a share `first_year` (u below
    it), else from `later_from` (default: a year on) after an exponential wait at `hazard` a year (`later`:
    standard exponential draws)."""
    first_year = np.asarray(first_year, dtype=np.float64)
    soon = u < first_year
    frac = np.where(soon, u / np.maximum(first_year, 1e-9), 0.0)
    lo = start + 365 if later_from is None else np.maximum(start + 365, later_from)
    wait = np.round(later * YEAR / max(hazard, 1e-9)).astype(np.int64)
    return np.where(soon, start + np.floor(frac * 365).astype(np.int64), lo + wait)


def ppv_by_age(cfg: dict, dob: np.ndarray, u: np.ndarray, later: np.ndarray) -> np.ndarray:
    """Planned PPV23 day of each person for the programme at 65 (from its start date)."""
    start = np.maximum(birthday(dob, cfg["age_from"]), day_of(cfg["programme_start"]))
    return time_to_vaccination(start, cfg["first_year_65"], cfg["later_hazard_65"], u, later)


def shingles_plan(cfg: dict, dob: np.ndarray, immunosuppressed: np.ndarray, u: np.ndarray, later: np.ndarray,
                  end: int) -> tuple[np.ndarray, np.ndarray]:
    """(first eligible day, planned day of the first dose) of each person, NEVER where neither.

    Zostavax (from 1 September 2013): the cohort aged 70 on 1 September of a programme year, or a catch-up
    age that year; not for the immunosuppressed (a live vaccine). Shingrix (from 1 September 2023): from the
    65th or 70th birthday falling on or after that day; the immunosuppressed from 50 (from 1 September 2023)
    or at 70-79 (from September 2021). Eligibility ends at 80; before April 2017 it lasted the programme year."""
    n = len(dob)
    start = np.full(n, NEVER, dtype=np.int64)
    first = np.zeros(n)
    year_end = np.full(n, NEVER, dtype=np.int64)  # last day of a Zostavax cohort's programme year
    y0 = dt.date.fromisoformat(cfg["start"]).year
    shingrix = day_of(cfg["shingrix_from"])
    years, shares = cfg["first_year"]["season"], cfg["first_year"]["share"]
    for y in range(y0, dates.year_of(np.array([min(end, shingrix - 1)]))[0] + 1):
        sept = int(dates.to_days(dt.date(y, 9, 1)))
        if sept >= shingrix:
            break
        age = age_on(dob, sept)
        share = shares[years.index(min(max(y, years[0]), years[-1]))]
        for ages, p in (([cfg["routine_age"]], share), (cfg["catch_up"].get(str(y), []), share * cfg["catch_up_factor"])):
            new = np.isin(age, ages) & (start == NEVER) & ~immunosuppressed
            start[new], first[new] = sept, p
            year_end[new] = int(dates.to_days(dt.date(y + 1, 8, 31)))
    for a in cfg["shingrix_ages"]:
        b = birthday(dob, a)
        new = (b >= shingrix) & (start == NEVER) & ~immunosuppressed
        start[new], first[new] = b[new], cfg["shingrix_first_year"][str(a)]
    imm = np.minimum(np.maximum(birthday(dob, cfg["immunosuppressed_age"]), day_of(cfg["immunosuppressed_from"])),
                     np.maximum(birthday(dob, 70), day_of(cfg["immunosuppressed_70_79_from"])))
    imm = np.where(immunosuppressed, imm, NEVER)
    new = imm < start
    start[new], first[new] = imm[new], cfg["shingrix_first_year"][str(cfg["shingrix_ages"][0])]
    start = np.where(start < birthday(dob, cfg["eligible_until_age"]), start, NEVER)
    # a Zostavax cohort missed in its year waits for the rule that kept everyone eligible to 80
    later_from = np.where(year_end < NEVER, np.maximum(start + 365, day_of(cfg["remain_eligible_from"])), start + 365)
    planned = time_to_vaccination(start, first, cfg["later_hazard"], u, later, later_from)
    planned = np.where((start < NEVER) & (planned < birthday(dob, cfg["eligible_until_age"])), planned, NEVER)
    return start, planned
