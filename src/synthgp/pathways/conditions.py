"""Long-term conditions behind QRISK3's inputs: when they start, when the practice knows, and the
regular medicines some of them bring.

Type 2 diabetes, CKD and atrial fibrillation start at the onset ages the risk-factor network gives
(kidney.py can bring CKD forward when eGFR falls below 60). One the person has at registration is
known to the practice with probability `care.condition_known_at_entry`; otherwise it is diagnosed after an
exponential delay. A diagnosis made before registration here comes with the records (GP2GP) and keeps its
original date, filed on the registration day; nothing is dated before birth. The other QRISK3 conditions
(type 1 diabetes, rheumatoid arthritis, SLE, migraine, severe mental illness, erectile dysfunction,
family history) are on the record as history from entry: dated within three years before entry, or, where
that is before registration, at a date the previous practice recorded them. An atypical antipsychotic or oral
corticosteroid is a regular repeat.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from synthgp.core import reference
from synthgp.engine.component import Pathway
from synthgp.engine.sim import YEAR

if TYPE_CHECKING:
    from synthgp.engine.sim import Month, Sim

NEVER = np.iinfo(np.int64).max // 4
DIAGNOSED = {"type2": "type2_diabetes", "ckd": "ckd_stage3", "af": "atrial_fibrillation"}  # condition -> code
HISTORY = {"type1": "type1_diabetes", "ra": "rheumatoid_arthritis", "sle": "sle", "migraine": "migraine",
           "semi": "schizophrenia", "impotence": "erectile_dysfunction", "fh_cvd": "family_history_chd"}
REGULAR = {"atypical_antipsychotic": "olanzapine", "corticosteroids": "prednisolone"}  # risk factor -> medicine


def _transferred(rec, pos: np.ndarray, day: np.ndarray, first: np.ndarray, key: str) -> None:
    """Diagnoses on the record at entry: those dated before registration came from the previous practice and
    were filed (entered) on the registration day."""
    here, early = np.flatnonzero(day >= first), np.flatnonzero(day < first)
    rec.diagnosis(pos[here], day[here], rec.code(key))
    rec.diagnosis(pos[early], day[early], rec.code(key), enter_delay=first[early] - day[early], transferred=True)


class Conditions(Pathway):
    name = "conditions"
    fields = {**{f"onset_{c}": f"day {c} truly starts (NEVER if it does not)" for c in DIAGNOSED},
              **{f"known_{c}": f"day the practice knows of {c}" for c in DIAGNOSED}}
    reads = ("dob", "ent", "first_allowed", "history_day", *(f"rf_onset_{c}" for c in DIAGNOSED),
             *(f"rf_{c}" for c in (*HISTORY, *REGULAR)))

    def init(self, sim: "Sim") -> dict[str, np.ndarray]:
        life, care = sim.state, sim.care
        dob, ent, first = life.array("dob"), life.array("ent"), life.array("first_allowed")
        out = {}
        for c in DIAGNOSED:
            age = life.array(f"rf_onset_{c}")
            starts = age < 900
            on = np.full(len(age), NEVER, dtype=np.int64)
            on[starts] = (dob[starts] + np.round(age[starts] * YEAR)).astype(np.int64)
            delay = np.round(sim.draws(f"dxdelay.{c}").exponential(sim.everyone, care.condition_diagnosis_delay_years * YEAR)).astype(np.int64)
            known_at_entry = (on <= ent) & (sim.draws(f"known.{c}").uniform(sim.everyone) < care.condition_known_at_entry)
            # a diagnosis made before registration here arrives with the records and keeps its date; one not yet
            # made is made no earlier than registration
            known = np.where(known_at_entry, on, on + delay)
            out[f"onset_{c}"] = on
            out[f"known_{c}"] = np.where(known < ent, np.maximum(known, dob), np.maximum(known, first))
        return out

    def history(self, sim: "Sim") -> None:
        """What the record holds at entry: diagnoses made before, and the other QRISK3 conditions."""
        s, rec = self.s, sim.record
        for c, key in DIAGNOSED.items():
            known = getattr(s, f"known_{c}")
            sel = sim.adult(np.flatnonzero(known < s.ent))  # later diagnoses are coded as the months reach them
            _transferred(rec, sel, known[sel], s.first_allowed[sel], key)
        # history dated at registration (three years before entry reached back past it) was recorded before
        day = s.history_day.copy()
        before = np.flatnonzero(day <= s.first_allowed)
        mean = reference.toml("population.toml")["history"]["years_before_registration_mean"] * YEAR
        back = np.round(sim.draws("history.original").exponential(before, mean)).astype(np.int64)
        span = np.maximum(s.first_allowed[before] - s.dob[before], 1)  # never before birth
        day[before] = s.first_allowed[before] - 1 - back % span
        for c, key in HISTORY.items():
            sel = sim.adult(np.flatnonzero(getattr(s, f"rf_{c}")))
            _transferred(rec, sel, day[sel], s.first_allowed[sel], key)

    def medicines(self, sim: "Sim") -> None:
        """Regular medicines behind QRISK3 inputs: repeats for as long as the person is here, and for a
        year before the record starts."""
        for flag, medicine in REGULAR.items():
            sim.rx.start_regular(sim.adult(np.flatnonzero(getattr(self.s, f"rf_{flag}"))), medicine)
        sim.rx.regular_history()

    def diagnose(self, sim: "Sim", month: "Month") -> None:
        """Diagnoses the practice makes this month are coded."""
        s, act, rec = self.s, month.act, sim.record
        for c, key in DIAGNOSED.items():
            kd = getattr(s, f"known_{c}")[act]
            now = (kd >= np.maximum(month.day0, s.ent[act])) & (kd < month.day1)
            rec.diagnosis(act[now], kd[now], rec.code(key))
