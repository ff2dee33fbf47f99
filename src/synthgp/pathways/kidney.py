"""Kidney function: eGFR as a state that declines month by month, and CKD as it crosses thresholds.

Everyone's eGFR falls slowly with age; in those whose kidney disease the risk-factor network gives
an onset age, it crosses 60 at that age and declines faster below `progression_below`, faster still
with higher treated BP and with diabetes (data/blood_pressure.toml [kidney]). CKD stage 3 starts when
eGFR falls below 60 and is diagnosed after a delay (conditions.py codes it); stages 4 and 5 are coded
the first time a blood test shows them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from synthgp.core import reference
from synthgp.engine.component import Pathway
from synthgp.engine.sim import YEAR

if TYPE_CHECKING:
    from synthgp.engine.sim import Month, Sim

STAGES = ((4, 30, "ckd_stage4"), (5, 15, "ckd_stage5"))  # stage, eGFR below which it is coded, code


class Kidney(Pathway):
    name = "kidney"
    fields = {"egfr": "true eGFR, mL/min/1.73m2", "ckd_rate": "decline a year once kidney disease progresses",
              "ckd_onset": "has an onset of kidney disease from the risk-factor network",
              "ckd_stage_coded": "highest CKD stage coded (0 none)"}
    reads = ("age_entry", "rf_onset_ckd", "onset_type2")
    writes = ("onset_ckd", "known_ckd")  # CKD starts when eGFR crosses 60

    def init(self, sim: "Sim") -> dict[str, np.ndarray]:
        k = reference.toml("blood_pressure.toml")["kidney"]
        st = sim.state
        age_entry, onset = st.array("age_entry"), st.array("rf_onset_ckd")
        rate = np.maximum(0.3, k["ckd_decline"] + k["ckd_decline_sd"] * sim.draws("egfr.rate").normal(sim.everyone))
        healthy = k["normal_at_30"] - k["age_decline"] * (age_entry - 30) + k["person_sd"] * sim.draws("egfr.person").normal(sim.everyone)
        has_onset = onset < 900
        # crosses 60 at the onset age; before the record starts, decline is taken at the slow CKD rate
        on_track = 60 + np.where(onset > age_entry, rate, 0.7 * rate) * (onset - age_entry)
        healthy = np.maximum(healthy, k["healthy_floor"])
        egfr = np.where(has_onset, np.minimum(np.maximum(on_track, 6.0), healthy), healthy)
        return {"egfr": egfr, "ckd_rate": rate, "ckd_onset": has_onset, "ckd_stage_coded": np.zeros(sim.n, dtype=np.int64)}

    def bind(self, sim: "Sim") -> None:
        super().bind(sim)
        self.k, self.record, self.ids = reference.toml("blood_pressure.toml")["kidney"], sim.record, sim.ids
        sim.labs.on_egfr(self.code_stage)

    def code_stage(self, pos: np.ndarray, day: np.ndarray, egfr: np.ndarray) -> None:
        """Stages 4 and 5 are coded when a result first shows them."""
        s, rec = self.s, self.record
        for stage, limit, key in STAGES:
            new = (egfr < limit) & (s.ckd_stage_coded[pos] < stage)
            if new.any():
                rec.diagnosis(pos[new], day[new], rec.code(key))
                s.ckd_stage_coded[pos[new]] = stage

    def decline(self, sim: "Sim", month: "Month") -> None:
        """A month's fall in eGFR; CKD starts (and is diagnosed after a delay) when it crosses 60."""
        s, k, act, vday = self.s, self.k, month.act, month.vday
        egfr = s.egfr[act]
        onset = s.ckd_onset[act]
        diseased = onset & (egfr < k["progression_below"])
        decline = np.where(onset | (egfr > k["healthy_floor"]), k["age_decline"], 0.0) + diseased * (
            s.ckd_rate[act] - k["age_decline"] + k["bp_decline_per_10"] * np.maximum(month.treated_sbp - k["bp_threshold"], 0) / 10
            + k["diabetes_decline"] * (s.onset_type2[act] <= vday))
        s.egfr[act] = np.maximum(egfr - decline / 12, 4.0)
        crossing = (s.egfr[act] < 60) & (s.onset_ckd[act] > vday)
        crossed, day = act[crossing], vday[crossing]
        s.onset_ckd[crossed] = day
        delay = sim.draws("dxdelay.ckd.new").exponential(crossed, sim.care.condition_diagnosis_delay_years * YEAR, month.m)
        s.known_ckd[crossed] = np.minimum(s.known_ckd[crossed], day + np.round(delay).astype(np.int64))
