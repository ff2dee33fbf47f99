"""Primary-prevention statins (data/statins.toml): every 10-year CVD risk score the practice records (engine/services/
risk_scores.py, at NHS Health Checks and hypertension diagnoses) is seen here. A person with no known cardiovascular
disease, not on a statin, whose score reaches the threshold of the day (20% before NICE CG181 in July 2014, then 10%)
starts atorvastatin 20 mg for the published share of such people, with lipids checked three months on. A course
stops for the published share (Vinogradova 2016), and most of those who stop restart. Those on one at entry (a published
prevalence by age and sex, data/statins.toml [history]) keep it. Secondary prevention (80 mg
after CHD, stroke, TIA or PAD) is the registers' (pathways/registers); it raises a primary-prevention dose to 80 mg.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

import numpy as np

from synthgp.core import dates, reference
from synthgp.engine.component import Pathway
from synthgp.engine.services.prescribing import CYCLE
from synthgp.engine.sim import YEAR
from synthgp.pathways.registers import onset

if TYPE_CHECKING:
    from synthgp.engine.sim import Month, Sim

NEVER = np.iinfo(np.int64).max // 4
CVD_REGISTERS = ("chd", "stroke_tia", "pad")


@cache
def _eras() -> tuple[np.ndarray, np.ndarray]:
    eras = reference.toml("statins.toml")["era"]
    return np.array([dates.to_days(e["start"]) for e in eras]), np.array([e["threshold"] for e in eras])


def threshold(day) -> np.ndarray:
    """The primary-prevention threshold (10-year CVD risk, %) on each day."""
    starts, values = _eras()
    return values[np.maximum(np.searchsorted(starts, np.asarray(day), side="right") - 1, 0)]


class Statins(Pathway):
    name = "statins"
    fields = {"statin_primary": "started a statin for primary prevention",
              "statin_restart": "day a stopped primary-prevention statin is restarted, or NEVER",
              "statin_check": "day of the lipid check after a start, or NEVER"}
    reads = ("dob", "male", "ent", "lst", "mi_day", "stroke_day", "reg_known")

    def init(self, sim: "Sim") -> dict[str, np.ndarray]:
        never = np.full(sim.n, NEVER, dtype=np.int64)
        return {"statin_primary": np.zeros(sim.n, dtype=bool), "statin_restart": never, "statin_check": never.copy()}

    def bind(self, sim: "Sim") -> None:
        super().bind(sim)
        self.sim, self.rx = sim, sim.rx
        cfg = reference.toml("statins.toml")
        self.uptake, self.course = cfg["uptake"], cfg["course"]
        names = [c.name for c in onset.load()[1]]
        self.cvd_cols = [names.index(n) for n in CVD_REGISTERS]
        # a constant hazard giving the published share stopped over the follow-up
        self.stop_rate = -np.log(1 - self.course["discontinue_share"]) / self.course["discontinue_over_years"]
        sim.risk.on_score(self.offer)

    def known_cvd(self, pos: np.ndarray, day: np.ndarray) -> np.ndarray:
        s = self.s
        events = ((s.mi_day[pos] >= 0) & (s.mi_day[pos] <= day)) | ((s.stroke_day[pos] >= 0) & (s.stroke_day[pos] <= day))
        return events | (s.reg_known[pos][:, self.cvd_cols] <= day[:, None]).any(axis=1)

    def history(self, sim: "Sim") -> None:
        """Primary-prevention statins held at entry (data/statins.toml [history]): a share of those without known
        cardiovascular disease by age band and sex, on atorvastatin 20 mg from entry with its year of issues before."""
        s, h = self.s, reference.toml("statins.toml")["history"]
        bands = np.asarray(h["bands"], dtype=float)
        share = np.array([h["female"], h["male"]], dtype=float)
        if share.shape != (2, len(bands)) or (share < 0).any() or (share > 1).any():
            raise ValueError(f"statins.toml [history]: male and female need {len(bands)} shares in [0, 1]")
        pos = sim.adult(np.flatnonzero(s.ent <= s.lst))
        day = s.ent[pos]
        band = np.searchsorted(bands, (day - s.dob[pos]) / YEAR, side="right") - 1
        p = np.where(band >= 0, share[s.male[pos].astype(np.int64), np.maximum(band, 0)], 0.0)
        take = (sim.draws("statin.history").uniform(pos) < p) & ~self.known_cvd(pos, day)
        take &= ~self.rx.on_regular(pos, "atorvastatin", day)
        self.rx.start_regular(pos[take], "atorvastatin", None, self.course["level"])
        s.statin_primary[pos[take]] = True

    def offer(self, pos: np.ndarray, day, score: np.ndarray) -> None:
        """A recorded score at or above the day's threshold, in someone without known CVD and not on a statin: a
        share start atorvastatin 20 mg (more at 20% and over)."""
        day = np.broadcast_to(day, len(pos))
        eligible = (score >= threshold(day)) & ~self.known_cvd(pos, day) & ~self.rx.on_regular(pos, "atorvastatin", day)
        share = np.where(score >= 20, self.uptake["high"], self.uptake["intermediate"])
        take = eligible & (self.sim.draws("statin.uptake").uniform(pos, day) < share)
        self.start(pos[take], day[take])

    def start(self, pos: np.ndarray, day: np.ndarray) -> None:
        """A course from `day` until it stops (if it does); a restart drawn for some of those who stop."""
        if not len(pos):
            return
        s, c, draws = self.s, self.course, self.sim.draws
        # the first repeat cycle is always issued (the prescription written at the start); stopping comes after
        stop = day + np.maximum(np.round(draws("statin.stop").exponential(pos, YEAR / self.stop_rate, day)).astype(np.int64),
                                CYCLE)
        self.rx.start_regular(pos, "atorvastatin", day, c["level"], stop)
        s.statin_primary[pos] = True
        s.statin_check[pos] = np.minimum(s.statin_check[pos], day + c["monitor_days"])
        again = draws("statin.restart").uniform(pos, day) < c["restart_share"]
        wait = np.round(draws("statin.restart.wait").exponential(pos, c["restart_mean_years"] * YEAR, day)).astype(np.int64)
        s.statin_restart[pos] = np.where(again, stop + wait, NEVER)

    def follow_up(self, sim: "Sim", month: "Month") -> None:
        """This month's lipid checks after a start, and restarts of stopped courses (unless a statin is already
        prescribed, for secondary prevention)."""
        s, act = self.s, month.act
        due = act[s.statin_check[act] < month.day1]
        if len(due):
            sim.labs.sample(due, np.maximum(s.statin_check[due], month.day0), True)
            s.statin_check[due] = NEVER
        back = act[s.statin_restart[act] < month.day1]
        if len(back):
            day = np.maximum(s.statin_restart[back], month.day0)
            s.statin_restart[back] = NEVER
            ok = ~sim.rx.on_regular(back, "atorvastatin", day)
            self.start(back[ok], day[ok])
