"""Atrial fibrillation's anticoagulation: who is offered it by CHA2DS2-VASc, and the switch from warfarin to a DOAC
for people already on warfarin (data/registers.toml [af_anticoagulation]).

The score is the person's on the day of diagnosis, from what the practice knows then: age (65-74: 1, 75+: 2),
female sex (1), diagnosed hypertension, type 2 diabetes, stroke or TIA (2), vascular disease (CHD, MI or PAD) and
heart failure (1 each). The condition's anticoagulant share is that of a score of 2 or more; a lower score takes a
fraction of it. Someone started on warfarin switches to a DOAC at a rate from NICE CG180 (June 2014), faster while
the COVID-19 guidance of spring 2020 asked practices to move people off warfarin; a switch before the record
starts is history.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from synthgp.core import dates
from synthgp.engine.sim import YEAR
from synthgp.pathways.registers.onset import NEVER, day_of

if TYPE_CHECKING:
    from synthgp.engine.sim import Month, Sim
    from synthgp.pathways.registers import Registers

FROM, TO = "warfarin", "apixaban"


class Anticoagulation:
    """The data file's [af_anticoagulation], read once."""

    def __init__(self, cfg: dict) -> None:
        a = cfg["af_anticoagulation"]
        self.male_one, self.low = float(a["score_one_male"]), float(a["low_score"])
        if not (0 <= self.low <= self.male_one <= 1):
            raise ValueError("registers.toml [af_anticoagulation]: need 0 <= low_score <= score_one_male <= 1")
        sw = a["switch"]
        self.switch_from = day_of(sw["from"])
        # piecewise-constant hazard (per day) of switching: breaks[i] starts rates[i]
        self.breaks = np.array([self.switch_from, day_of(sw["surge_from"]), day_of(sw["surge_to"])], dtype=np.int64)
        base = -np.log1p(-sw["per_quarter"]) * 4 / YEAR
        surge = -np.log1p(-sw["surge_share"]) / (self.breaks[2] - self.breaks[1])
        if surge < base:
            raise ValueError("registers.toml [af_anticoagulation.switch]: the surge is slower than the usual rate")
        self.rates = np.array([base, surge, base])

    def factor(self, r: "Registers", sim: "Sim", pos: np.ndarray, day: np.ndarray) -> np.ndarray:
        """Each of `pos`'s fraction of the anticoagulant share of a score of 2 or more, by their score on `day`."""
        score = chads_vasc(r, sim, pos, day)
        return np.where(score >= 2, 1.0, np.where((score == 1) & r.s.male[pos], self.male_one, self.low))

    def reassess(self, r: "Registers", sim: "Sim", pos: np.ndarray, day: np.ndarray) -> None:
        """At an AF review, someone not anticoagulated whose score has risen since it was last weighed (age 65 or 75,
        a new diagnosis: NICE CG180 1.5.x, NG196 1.6.x) is offered it now, so that the share anticoagulated is the
        share of their score today: (share x f_now - share x f_before) / (1 - share x f_before)."""
        if not len(pos):
            return
        from synthgp.pathways.registers import care

        s, rx, (c, med) = r.s, sim.rx, r.af_medicine
        f_now, f_before = self.factor(r, sim, pos, day), s.reg_af_factor[pos]
        s.reg_af_factor[pos] = np.maximum(f_now, f_before)
        share = np.where(day >= day_of(med["until_day"]), med["then_share"], med["share"])
        p = np.clip((share * f_now - share * f_before) / np.maximum(1 - share * f_before, 1e-9), 0, 1)
        free = ~(rx.on_regular(pos, FROM, day) | rx.on_regular(pos, TO, day))
        take = free & (f_now > f_before) & (sim.draws("reg.af.reassess").uniform(pos, day) < p)
        pos, day = pos[take], day[take]
        later = day >= day_of(med["until_day"])
        care._start(r, sim, c.name, med, med["then"], pos[later], day[later])
        care._start(r, sim, c.name, med, med["drug"], pos[~later], day[~later])

    def switch_day(self, sim: "Sim", pos: np.ndarray, day: np.ndarray) -> np.ndarray:
        """The day each of `pos`, on warfarin from `day`, would switch to a DOAC (NEVER: never), by inverting the
        cumulative hazard at one exponential draw."""
        need = sim.draws("reg.af.switch").exponential(pos, 1.0)
        t = np.maximum(day, self.switch_from).astype(np.float64)
        out = np.full(len(pos), np.inf)
        edges = np.append(self.breaks, np.inf)
        for i, rate in enumerate(self.rates):
            lo, hi = edges[i], edges[i + 1]
            start = np.clip(t, lo, hi)
            span = hi - start
            reach = (out == np.inf) & (need <= span * rate)
            out[reach] = start[reach] + need[reach] / rate
            need = np.where(out == np.inf, need - np.where(np.isfinite(span), span, 0) * rate, need)
        return np.where(np.isfinite(out), np.ceil(out), NEVER).astype(np.int64)

    def plan(self, r: "Registers", sim: "Sim", pos: np.ndarray, day: np.ndarray) -> None:
        """Warfarin started for `pos` on `day`: the day they will switch."""
        r.s.reg_doac_switch[pos] = self.switch_day(sim, pos, day)

    def switch(self, r: "Registers", sim: "Sim", pos: np.ndarray) -> None:
        """Those of `pos` still on warfarin on their switch day move to a DOAC that day."""
        if not len(pos):
            return
        s, rx = r.s, sim.rx
        day = s.reg_doac_switch[pos]
        s.reg_doac_switch[pos] = NEVER
        on = rx.on_regular(pos, FROM, day) & (day <= s.lst[pos])
        pos, day = pos[on], day[on]
        rx.stop_regular(pos, FROM, day)
        rx.start_regular(pos, TO, day, carried=False)

    def month(self, r: "Registers", sim: "Sim", month: "Month") -> None:
        """This month's switches."""
        act = month.act
        due = act[r.s.reg_doac_switch[act] < month.day1]
        self.switch(r, sim, due)


def chads_vasc(r: "Registers", sim: "Sim", pos: np.ndarray, day: np.ndarray) -> np.ndarray:
    """CHA2DS2-VASc of each of `pos` on `day`, from what the practice knows then."""
    s, col = r.s, r.col
    age = (day - s.dob[pos]) / YEAR

    def known(name: str, event: str | None = None) -> np.ndarray:
        k = s.reg_known[pos, col[name]] <= day
        if event is not None:
            ev = getattr(s, event)[pos]
            k |= (ev >= 0) & (ev <= day)
        return k

    hyp = (s.dx_day[pos] != dates.NONE) & (s.dx_day[pos] <= day)
    diab = s.known_type2[pos] <= day
    vasc = known("chd", "mi_day") | known("pad")
    return (np.where(age >= 75, 2, np.where(age >= 65, 1, 0)) + ~s.male[pos] + hyp + diab
            + 2 * known("stroke_tia", "stroke_day") + vasc + known("heart_failure", "heart_failure_day")).astype(np.int64)
