"""The QOF registers beyond hypertension: asthma, COPD, CHD, stroke and TIA, heart failure, PAD, hypothyroidism,
depression, dementia, cancer, epilepsy, learning disability and osteoporosis (their onset here), and the care of
type 2 diabetes and atrial fibrillation (their onset in conditions.py).

Onsets are drawn once (onset.py, data/registers.toml). A diagnosis is coded in the month the practice makes it
(one made before entry is history, dated as made); myocardial infarctions, strokes and heart failure from
cardiovascular.py's events join the CHD, stroke and heart-failure registers from their discharge letter. A
diagnosis starts the condition's medicines (statin and aspirin after CHD, stroke or TIA; metformin; inhalers;
levothyroxine; an antidepressant course; a DOAC or, before NICE CG180, warfarin, by CHA2DS2-VASc, and the move from
warfarin to a DOAC later: af.py) and an annual review with the
measurements QOF asks for; a medicine that needs a test after it starts gets one (TSH after levothyroxine, lipids
after a statin). One pass a month touches only the people with something due (`reg_next`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from synthgp.core import reference
from synthgp.engine.component import Pathway
from synthgp.pathways.conditions import _transferred
from synthgp.pathways.registers import af, care, onset
from synthgp.pathways.registers.onset import NEVER

if TYPE_CHECKING:
    from synthgp.engine.sim import Month, Sim

EVENTS = {"mi_day": "chd", "stroke_day": "stroke_tia", "heart_failure_day": "heart_failure"}  # event -> register
LETTER_DAYS = 21  # an event joins the register when its discharge letter is filed


class Registers(Pathway):
    name = "registers"
    fields = {"reg_onset": "per register condition: day it starts, or NEVER",
              "reg_known": "per register condition: day the practice diagnoses it, or NEVER",
              "reg_code": "per register condition: the medcodeid its diagnosis is coded with (-1: coded elsewhere)",
              "reg_review": "per register condition: day of the next annual review, or NEVER",
              "reg_next": "first day anything of the registers is due for the person",
              "reg_tsh_due": "day of the TSH check after starting levothyroxine, or NEVER",
              "reg_lipid_due": "day of the lipid check after starting a statin, or NEVER",
              "reg_doac_switch": "day someone on warfarin would move to a DOAC, or NEVER (af.py)",
              "reg_af_factor": "AF: the fraction of the anticoagulant share their CHA2DS2-VASc last gave (af.py)"}
    reads = ("dob", "ent", "lst", "first_allowed", "male", "imd", "rf_smoking", "rf_bmi", "rf_onset_type2", "rf_onset_af",
             "onset_type2", "known_type2", "onset_af", "known_af", "dx", "dx_day", "no_acei_arb", "rf_semi", *EVENTS)

    def __init__(self) -> None:
        self.cfg, self.conditions = onset.load()
        self.col = {c.name: j for j, c in enumerate(self.conditions)}
        self.reviews = care.Reviews(self.conditions)
        self.anticoagulation = af.Anticoagulation(self.cfg)
        c_af = next(c for c in self.conditions if c.name == "af")
        self.af_medicine = (c_af, next(m for m in c_af.medicines if m.get("chads_vasc")))  # reassessed at reviews
        drugs = reference.toml("kidney.toml")["drugs"]
        self.metformin_below = drugs["metformin_stop_below"]
        self.metformin_reduce_below, self.metformin_reduced_per_day = drugs["metformin_reduce_below"], drugs["metformin_reduced_per_day"]
        # register -> (event, its care): an MI or a stroke brings NICE's care after it (data/registers.toml [event_care])
        self._prev_day0 = -NEVER  # the first day of the month before (events are seen the month after)
        self.event_care = {spec["register"]: (ev, spec) for ev, spec in self.cfg.get("event_care", {}).items()}
        unknown = set(self.event_care) - set(self.col)
        if unknown:
            raise ValueError(f"registers.toml [event_care]: unknown registers {sorted(unknown)}")

    def init(self, sim: "Sim") -> dict[str, np.ndarray]:
        out = onset.draw(sim, self.cfg, self.conditions)
        n, C = sim.n, len(self.conditions)
        for c in self.conditions:  # external conditions are coded by conditions.py
            if c.external:
                out["reg_code"][:, self.col[c.name]] = -1
        never = np.full(n, NEVER, dtype=np.int64)
        out.update(reg_review=np.full((n, C), NEVER, dtype=np.int64), reg_tsh_due=never.copy(), reg_lipid_due=never.copy(),
                   reg_doac_switch=never.copy(), reg_af_factor=np.zeros(n),
                   reg_next=np.where(out["reg_known"] >= sim.ent[:, None], out["reg_known"], NEVER).min(axis=1))
        return out

    def history(self, sim: "Sim") -> None:
        """Diagnoses made before entry: coded as history (dated as made), their medicines started then (so the year
        of issues before the record starts holds them), their next review within the first year here."""
        s, rec = self.s, sim.record
        for j, c in enumerate(self.conditions):
            known = s.reg_known[:, j]
            sel = sim.adult(np.flatnonzero(known < s.ent))
            if not len(sel):
                continue
            code = s.reg_code[sel, j]
            for mc in np.unique(code[code >= 0]):
                at = sel[code == mc]
                _transferred(rec, at, known[at], s.first_allowed[at], _key_of(mc))
            care.start_medicines(self, sim, c, sel, known[sel])
            if c.review is not None and not c.review.get("once"):  # a review once after diagnosis was done before
                s.reg_review[sel, j] = s.ent[sel] + sim.draws(f"reg.review.first.{c.name}").integers(sel, 365)
        switched = np.flatnonzero(s.reg_doac_switch < s.ent)  # moved from warfarin to a DOAC before the record starts
        self.anticoagulation.switch(self, sim, switched)
        s.reg_tsh_due[:] = NEVER  # a check after a start before entry is not ours to make
        s.reg_lipid_due[:] = NEVER
        self._update_next(sim.everyone, s.ent)

    def care(self, sim: "Sim", month: "Month") -> None:
        """This month's diagnoses, reviews and checks after a start, for those with something due."""
        s, act, m, day0, day1 = self.s, month.act, month.m, month.day0, month.day1
        self.anticoagulation.month(self, sim, month)  # people on warfarin moving to a DOAC
        for jj, pos, letter in self._events(act, day0, day1):  # already on the register: the event's care all the same
            c = self.conditions[jj]
            care.after_event(self, sim, c, *self.event_care[c.name], pos, letter)
        due = act[s.reg_next[act] < day1]
        if not len(due):
            return
        ent = s.ent[due]
        K = s.reg_known[due]
        r, j = np.nonzero((K < day1) & (K >= np.maximum(day0, ent)[:, None]))
        if len(r):
            self._diagnose(sim, due[r], j, K[r, j])
        r, j = np.nonzero(s.reg_review[due] < day1)
        if len(r):  # every review of the month in one batch; a person who attends one tends to attend all
            pos = due[r]
            day = np.maximum(s.reg_review[pos, j], day0)
            held, retry = sim.contacts.routine(pos, day, "reg.review", m)  # the pandemic postponed routine reviews
            went = held & (sim.draws("reg.attend").uniform(pos, m) < self.reviews.attend[j])
            self.reviews.run(self, sim, pos[went], j[went], day[went], month)
            at = went & (j == self.col["af"])  # an AF review weighs the stroke risk again
            self.anticoagulation.reassess(self, sim, pos[at], day[at])
            again = day + 335 + sim.draws("reg.review.day").integers(pos, 61, day)
            again = np.where(self.reviews.once[j] & went, NEVER, again)  # a review once: until done
            s.reg_review[pos, j] = np.where(held, again, retry)
        for field, median, full in (("reg_tsh_due", self.cfg["tsh"]["start_median"], None), ("reg_lipid_due", None, True)):
            arr = getattr(s, field)
            pos = due[arr[due] < day1]
            day = np.maximum(arr[pos], day0)
            if full is None:
                care.tsh(self, sim, pos, day, median)
            else:
                sim.labs.sample(pos, day, True)
            arr[pos] = NEVER
        self._update_next(due, day1)

    def _diagnose(self, sim: "Sim", pos: np.ndarray, j: np.ndarray, day: np.ndarray) -> None:
        """Diagnoses made: coded (unless coded elsewhere), medicines started, the first review set a year on."""
        s, rec = self.s, sim.record
        code = s.reg_code[pos, j]
        mine = code >= 0
        rec.diagnosis(pos[mine], day[mine], code[mine])
        for jj in np.unique(j):
            c, sel = self.conditions[jj], j == jj
            p, d = pos[sel], day[sel]
            if c.name == "hypothyroidism":  # the TSH that made the diagnosis
                care.tsh(self, sim, p, d, self.cfg["tsh"]["diagnosis_median"])
            if c.name in self.event_care:  # joined from an event's letter (coded by cardiovascular.py): its own care
                event = s.reg_code[p, jj] < 0
                care.after_event(self, sim, c, *self.event_care[c.name], p[event], d[event])
                care.start_medicines(self, sim, c, p[~event], d[~event])
            else:
                care.start_medicines(self, sim, c, p, d)
            if c.review is not None:  # the register's annual review (or `first_days` on), however it was joined
                lo, hi = c.review.get("first_days", (335, 395))
                s.reg_review[p, jj] = d + lo + sim.draws("reg.review.day").integers(p, hi - lo + 1, d)

    def _events(self, act: np.ndarray, day0: int, day1: int) -> list[tuple[int, np.ndarray, np.ndarray]]:
        """MI, stroke and heart failure join their register when the letter comes (coded by cardiovascular.py,
        whose step runs after this one: last month's events are seen now, a letter due before this month taken
        at its start); nothing changes on the register for someone already on it or diagnosed before the letter.
        Returns, for the registers with care after an event, those already on it: (column, positions, letter day)."""
        s = self.s
        already = []
        for field, cond in EVENTS.items():
            jj = self.col[cond]
            ev = getattr(s, field)[act]
            hit = (ev >= day0 - 62) & (ev < day1) & (ev >= 0)
            if not hit.any():
                continue
            pos, letter = act[hit], np.maximum(ev[hit] + LETTER_DAYS, day0)
            new = s.reg_known[pos, jj] > letter  # not yet on it (a diagnosis still to come is overtaken)
            last_month = (ev[hit] >= self._prev_day0) & (ev[hit] < day0)  # each event once: in the month after it
            if cond in self.event_care and (~new & last_month).any():
                already.append((jj, pos[~new & last_month], letter[~new & last_month]))
            pos = pos[new]
            s.reg_known[pos, jj] = letter[new]
            s.reg_code[pos, jj] = -1
            s.reg_next[pos] = np.minimum(s.reg_next[pos], s.reg_known[pos, jj])
        self._prev_day0 = day0
        return already

    def _update_next(self, pos: np.ndarray, after: int | np.ndarray) -> None:
        """The first day anything is due for each of `pos`: a diagnosis not made before `after`, a review or a check."""
        s = self.s
        K = s.reg_known[pos]
        after = np.asarray(after)
        pending = np.where(K >= (after[:, None] if after.ndim else after), K, NEVER).min(axis=1)
        s.reg_next[pos] = np.minimum.reduce([pending, s.reg_review[pos].min(axis=1), s.reg_tsh_due[pos], s.reg_lipid_due[pos]])


def _key_of(medcode: int) -> str:
    """The codes.csv key of a medcodeid (for the history helper, which takes keys)."""
    from synthgp.core import codes

    for k, c in codes.table().items():
        if c.medcodeid == medcode:
            return k
    raise KeyError(medcode)
