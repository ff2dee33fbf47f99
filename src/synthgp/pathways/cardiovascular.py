"""Cardiovascular events: stroke, myocardial infarction and heart failure, from the BP lived with.

Each month an adult's hazard of each first event is log-linear in their treated systolic BP
(Lewington 2002: flatter in the very old) and in age, multiplied up by diabetes, smoking, AF and sex
(data/outcomes.toml [events]). An event reaches the record with the discharge letter, two to five
weeks later; the practice follows it up with a BP check or an earlier review (a month on). A fatal
event ends the person's life within 30 days, through the life service; a survivor dies earlier than
they would have, at the event's excess death rate after the first 30 days (data/outcomes.toml:
OCSP, Smolina 2012, Taylor 2017).

Who dies, and who is alive at the end, is given by the population (people.py draws the list as it stands
at the end, and the deaths of those who left it): events are drawn consistently with it. An event whose
death (at 30 days or from the excess) would come before the person is known to be alive (before their
last day, for someone on the list at the end or who moved away; before the study start, for anyone
simulated in the burn-in) is a history the list cannot hold, and is not drawn; someone who dies in the
period may die of their event, earlier than their death would otherwise come. So the survivors' incidence
is the event's incidence times their chance of surviving it, and the death rate stays the population's.
Before, every event in the burn-in was survived and nobody died of an event later, which put ten years
of strokes and heart failure on the registers with no one dying of them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from synthgp.clinical import event_kernel
from synthgp.core import reference
from synthgp.core.rng import step_key
from synthgp.engine.component import Pathway
from synthgp.engine.sim import YEAR
from synthgp.engine.truth import TruthRows

if TYPE_CHECKING:
    from synthgp.engine.sim import Month, Sim

EVENTS = ("stroke", "mi", "heart_failure")
NEVER = np.iinfo(np.int64).max // 4
FACTORS = ("type2", "smoker", "af", "male")  # what raises a first event's hazard (data/outcomes.toml extra)


class Cardiovascular(Pathway):
    name = "cardiovascular"
    fields = {f"{e}_day": f"day of the first {e}, or -1" for e in EVENTS}
    reads = ("male", "smoking", "onset_type2", "onset_af", "dx", "lst", "death_day")
    writes = ("next_review", "post_event_check")  # the practice follows up the discharge letter (hypertension.py)
    truth = ("outcome_truth",)

    def init(self, sim: "Sim") -> dict[str, np.ndarray]:
        return {f"{e}_day": np.full(sim.n, -1, dtype=np.int64) for e in EVENTS}

    def bind(self, sim: "Sim") -> None:
        super().bind(sim)
        self.cfg = reference.toml("outcomes.toml")["events"]
        self.follow_up = reference.toml("ng136.toml")["follow_up"]["event_follow_up_days"]
        self.ids = sim.ids
        self.rows = TruthRows("pat", "day", "event", "fatal", "sbp")
        # for the compiled pass: each event's stream, risk and factors in the data file's order
        self._streams = np.stack([sim.draws(f"event.{e}").inner for e in EVENTS])
        self._annual = np.array([self.cfg[e]["annual_risk"] for e in EVENTS], dtype=np.float64)
        self._order = np.full((len(EVENTS), len(FACTORS)), -1, dtype=np.int64)
        self._weight = np.zeros((len(EVENTS), len(FACTORS)))
        for j, e in enumerate(EVENTS):
            for i, (f, w) in enumerate(self.cfg[e]["extra"].items()):
                self._order[j, i], self._weight[j, i] = FACTORS.index(f), w

    def events(self, sim: "Sim", month: "Month") -> None:
        s, cfg, act, m = self.s, self.cfg, month.act, month.m
        age, vday, sbp = month.age, month.vday, month.treated_sbp
        slope = np.interp(age, cfg["slope_ages"], np.log(2) / np.asarray(cfg["doubling_mmhg"], dtype=float))
        base = np.exp(cfg["age_per_year"] * (age - cfg["reference_age"])) * np.exp(slope * (sbp - cfg["reference_sbp"]))
        factors = {"type2": s.onset_type2[act] <= vday, "smoker": s.smoking[act] >= 2, "af": s.onset_af[act] <= vday,
                   "male": s.male[act]}
        if event_kernel.hits is not None:  # one compiled pass: the same hazards and draws
            hits = event_kernel.hits(act, base, age, np.array([factors[f] for f in FACTORS], dtype=np.float64),
                                     tuple(getattr(s, f"{e}_day") for e in EVENTS), self._streams, step_key(m), self._annual, self._order, self._weight,
                                     float(cfg["min_age"]))
        for j, ev in enumerate(EVENTS):
            if event_kernel.hits is not None:
                hit = hits[j]
            else:
                spec = cfg[ev]
                extra = sum(w * factors[f] for f, w in spec["extra"].items())
                haz = spec["annual_risk"] * base * (1 + extra) / 12
                first = getattr(s, f"{ev}_day")
                hit = (first[act] < 0) & (age >= cfg["min_age"]) & (sim.draws(f"event.{ev}").uniform(act, m) < haz)
            self._event(sim, ev, act[hit], vday[hit], sbp[hit], m)

    def _event(self, sim: "Sim", ev: str, pos: np.ndarray, day: np.ndarray, sbp: np.ndarray, m: int) -> None:
        if not len(pos):
            return
        s, spec = self.s, self.cfg[ev]
        fatal = sim.draws(f"fatal.{ev}").uniform(pos, m) < spec["case_fatality"]
        death = np.where(fatal, day + sim.draws(f"death.{ev}").integers(pos, 30, m), NEVER)
        rate = spec.get("excess_death_rate", 0.0)
        if rate > 0:  # the survivors' excess mortality after the first 30 days
            later = day + 30 + np.round(sim.draws(f"excess.{ev}").exponential(pos, YEAR / rate, m)).astype(np.int64)
            death = np.where(fatal, death, later)
        ok = (death >= s.lst[pos]) | (self._dies(sim, pos) & (death >= sim.study_start))  # see the module's docstring
        pos, day, sbp, fatal, death = pos[ok], day[ok], sbp[ok], fatal[ok], death[ok]
        if not len(pos):
            return
        getattr(s, f"{ev}_day")[pos] = day
        # the practice follows up the discharge letter: a review within about a month, or a BP check
        follow = day + self.follow_up
        known = s.dx[pos]
        s.next_review[pos[known]] = np.minimum(s.next_review[pos[known]], follow[known])
        s.post_event_check[pos[~known]] = follow[~known]
        rec = sim.record
        rec.diagnosis(pos, day, rec.code(spec["code"]), enter_delay=14 + sim.draws(f"letter.{ev}").integers(pos, 21, m))
        self.rows.add(len(pos), pat=sim.P[pos], day=day, event=ev, fatal=fatal.astype(np.int8), sbp=sbp)
        dies = death < s.lst[pos]  # not after they leave or the data end
        sim.life.die(sim, pos[dies], death[dies], ev, m)

    def _dies(self, sim: "Sim", pos: np.ndarray) -> np.ndarray:
        """Whether each of `pos` dies in the record: a death of the population's, or one a pathway brought."""
        return (sim.people.death[sim.P[pos]] >= 0) | (self.s.death_day[pos] >= 0)

    def truth_tables(self, sim: "Sim") -> dict[str, dict[str, np.ndarray]]:
        return {"outcome_truth": self.rows.columns("day", {"day": "date", "sbp": "treated_sbp"})}
