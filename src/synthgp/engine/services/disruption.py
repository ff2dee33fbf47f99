"""The COVID-19 pandemic's disruption of routine booked care (data/covid.toml [disruption]), for the contacts
service: a routine contact (an annual review, a Health Check) due on a day of the pandemic goes ahead with the
share of that period; one that does not is deferred and asked again later. Everyday consultations have their
own pandemic dip (data/consultations.toml [pandemic]).
"""

from __future__ import annotations

import datetime as dt

import numpy as np

from synthgp.core import dates, reference


class Disruption:
    """Which routine contacts go ahead on a day, and when the others are asked again."""

    def __init__(self, cfg: dict | None = None, scale: float = 1.0) -> None:
        d = reference.toml("covid.toml")["disruption"] if cfg is None else cfg
        self.from_days = np.array([dates.to_days(dt.date.fromisoformat(str(x))) for x in d["from_dates"]], dtype=np.int64)
        self.held_share = np.asarray(d["routine_held"], dtype=np.float64)
        if len(self.held_share) != len(self.from_days) or np.any(np.diff(self.from_days) <= 0):
            raise ValueError("covid.toml [disruption]: one routine_held share per date, dates ascending")
        if np.any((self.held_share < 0) | (self.held_share > 1)) or self.held_share[-1] != 1:
            raise ValueError("covid.toml [disruption]: routine_held shares in [0, 1], the last 1 (care as usual)")
        if not 0 <= scale <= 1:
            raise ValueError(f"covid.disruption_scale must be in [0, 1], got {scale}")
        self.deferral = tuple(int(x) for x in d["deferral_days"])
        self.scale = float(scale)

    def share(self, day) -> np.ndarray:
        """Share of routine contacts due on each day that go ahead (1 outside the pandemic's dates)."""
        k = np.searchsorted(self.from_days, np.asarray(day), side="right") - 1
        held = np.where(k >= 0, self.held_share[np.maximum(k, 0)], 1.0)
        return 1 - self.scale * (1 - held)

    def routine(self, draws, pos: np.ndarray, day: np.ndarray, purpose: str, step) -> tuple[np.ndarray, np.ndarray]:
        """(whether each of `pos`'s routine contacts due on `day` goes ahead, the day a deferred one is asked
        again). `draws` is the sim's keyed draws, so a person's fate does not depend on the block."""
        day = np.broadcast_to(np.asarray(day, dtype=np.int64), len(pos))
        if not len(pos) or self.scale == 0 or day.max() < self.from_days[0] or day.min() >= self.from_days[-1]:
            return np.ones(len(pos), dtype=bool), day.copy()
        held = draws(f"disruption.{purpose}").uniform(pos, step) < self.share(day)
        lo, hi = self.deferral
        retry = day + lo + draws(f"disruption.{purpose}.retry").integers(pos, hi - lo + 1, step)
        return held, np.where(held, day, retry)
