"""Kidney function: GFR as a state that declines month by month, CKD as it crosses thresholds, and the care it
brings (data/kidney.toml).

Everyone's GFR falls slowly with age; in those whose kidney disease the risk-factor network gives an onset age, it
crosses 60 at that age and declines faster below `progression_below`, faster still with higher treated BP and with
diabetes (data/blood_pressure.toml [kidney]). CKD stage 3 starts when GFR falls below 60 and is diagnosed after a
delay (conditions.py codes it). Every blood sample's result (engine/services/tests.py: the creatinine of the GFR,
reported by the era's equation) is seen here:
- stages 4 and 5 are coded the first time a result shows them, and the new stage's code ends the earlier stage's
  problem, so that a person has one current CKD stage;
- referral to renal services at NICE NG203's thresholds (eGFR < 30, a fall of 15 or more in a year; ACR >= 70 is
  checked monthly), for a share of those who meet them;
- metformin stopped below eGFR 30, its dose lowered at 30-44; spironolactone swapped for an alpha-blocker below 30 or at K+ > 6; an ACEi/ARB
  stopped at K+ > 6 (and not added back) at the month's turn, unless the hypertension pathway's check did so.
At end stage (GFR below `rrt_egfr`), dialysis starts (coded; GFR then held at its residual level, with dialysis's
yearly mortality) or, under conservative care, death follows within about a year.
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
EARLIER = {4: ("ckd_stage3",), 5: ("ckd_stage3", "ckd_stage4"), 6: ("ckd_stage3", "ckd_stage4", "ckd_stage5")}
DIALYSIS, CONSERVATIVE = 1, 2
LETTER_DAYS = 21  # dialysis is coded when the renal unit's letter is filed


class Kidney(Pathway):
    name = "kidney"
    fields = {"egfr": "true GFR, mL/min/1.73m2", "ckd_rate": "decline a year once kidney disease progresses",
              "ckd_onset": "has an onset of kidney disease from the risk-factor network",
              "ckd_stage_coded": "highest CKD stage coded (0 none, 6 on dialysis)",
              "kidney_failure": "end stage: 0 not reached, 1 dialysis, 2 conservative care",
              "kidney_failure_day": "day end stage was reached (dialysis started), or -1",
              "renal_referred": "referred to renal services", "egfr_base": "reported eGFR a fall is measured from",
              "egfr_base_day": "its day", "acr_seen_day": "day of the last ACR result looked at"}
    reads = ("age_entry", "rf_onset_ckd", "onset_type2", "known_type2", "dob")
    writes = ("onset_ckd", "known_ckd", "no_acei_arb")  # CKD starts when eGFR crosses 60; an ACEi/ARB stopped at K+ > 6

    def init(self, sim: "Sim") -> dict[str, np.ndarray]:
        k = reference.toml("blood_pressure.toml")["kidney"]
        st, n = sim.state, sim.n
        age_entry, onset = st.array("age_entry"), st.array("rf_onset_ckd")
        rate = np.maximum(0.3, k["ckd_decline"] + k["ckd_decline_sd"] * sim.draws("egfr.rate").normal(sim.everyone))
        healthy = k["normal_at_30"] - k["age_decline"] * (age_entry - 30) + k["person_sd"] * sim.draws("egfr.person").normal(sim.everyone)
        has_onset = onset < 900
        # crosses 60 at the onset age; before the record starts, decline is taken at the slow CKD rate
        on_track = 60 + np.where(onset > age_entry, rate, 0.7 * rate) * (onset - age_entry)
        healthy = np.maximum(healthy, k["healthy_floor"])
        egfr = np.where(has_onset, np.minimum(np.maximum(on_track, 6.0), healthy), healthy)
        none = np.full(n, -1, dtype=np.int64)
        return {"egfr": egfr, "ckd_rate": rate, "ckd_onset": has_onset, "ckd_stage_coded": np.zeros(n, dtype=np.int64),
                "kidney_failure": np.zeros(n, dtype=np.int64), "kidney_failure_day": none, "renal_referred": np.zeros(n, dtype=bool),
                "egfr_base": np.full(n, np.nan), "egfr_base_day": none.copy(), "acr_seen_day": none.copy()}

    def bind(self, sim: "Sim") -> None:
        super().bind(sim)
        self.sim, self.k, self.record, self.rx = sim, reference.toml("blood_pressure.toml")["kidney"], sim.record, sim.rx
        cfg = reference.toml("kidney.toml")
        self.end, self.ref, self.drugs = cfg["end_stage"], cfg["referral"], cfg["drugs"]
        self.meds = sim.rx.meds.index
        sim.labs.on_egfr(self.on_result)

    # ------------------------------------------------------------ a sample's results
    def on_result(self, pos: np.ndarray, day: np.ndarray, egfr: np.ndarray, k: np.ndarray) -> None:
        """A blood sample's reported eGFR and potassium: stages coded, referral, drugs stopped."""
        day = np.broadcast_to(day, len(pos))
        self.code_stage(pos, day, egfr)
        self._refer_on_egfr(pos, day, egfr)
        self._drugs(pos, day, egfr, k)

    def code_stage(self, pos: np.ndarray, day: np.ndarray, egfr: np.ndarray) -> None:
        """Stages 4 and 5 are coded when a result first shows them; the earlier stages' problems end then."""
        s = self.s
        for stage, limit, key in STAGES:
            new = _earliest(pos, day, (egfr < limit) & (s.ckd_stage_coded[pos] < stage))  # a batch may hold a person twice
            if len(new):
                self._code(pos[new], day[new], stage, key)

    def _code(self, pos: np.ndarray, day: np.ndarray, stage: int, key: str) -> None:
        s, rec = self.s, self.record
        rec.diagnosis(pos, day, rec.code(key))
        for earlier in EARLIER[stage]:
            rec.end_problem(pos, day, rec.code(earlier))
        s.ckd_stage_coded[pos] = stage
        s.known_ckd[pos] = np.minimum(s.known_ckd[pos], day)  # CKD is known: conditions.py codes no stage 3 after this

    def _refer(self, pos: np.ndarray, day: np.ndarray, purpose: str) -> None:
        """A share of those meeting a threshold (fewer at 80 and over) are referred, once."""
        s, rec = self.s, self.record
        first = _earliest(pos, day, ~s.renal_referred[pos])
        if not len(first):
            return
        pos, day = pos[first], day[first]
        share = np.where((day - s.dob[pos]) / YEAR < 80, self.ref["share_under_80"], self.ref["share_80_plus"])
        go = self.sim.draws(f"renal.refer.{purpose}").uniform(pos, day) < share
        rec.observation(pos[go], day[go] + 2, rec.code("renal_referral"), obstype=rec.obstype("Referral"), referral=1)
        s.renal_referred[pos[go]] = True

    def _refer_on_egfr(self, pos: np.ndarray, day: np.ndarray, egfr: np.ndarray) -> None:
        """eGFR < 30, or a fall of 15 or more within a year (NG203 1.5.5)."""
        s = self.s
        low = egfr < self.ref["egfr_below"]
        if low.any():
            self._refer(pos[low], day[low], "egfr")
        base, since = s.egfr_base[pos], day - s.egfr_base_day[pos]
        with np.errstate(invalid="ignore"):
            fall = (since <= 400) & (since >= 90) & (base - egfr >= self.ref["fall_per_year"])
        if fall.any():
            self._refer(pos[fall], day[fall], "fall")
        reset = np.isnan(base) | (since > 365)
        s.egfr_base[pos[reset]], s.egfr_base_day[pos[reset]] = egfr[reset], day[reset]

    def _drugs(self, pos: np.ndarray, day: np.ndarray, egfr: np.ndarray, k: np.ndarray) -> None:
        """Metformin stopped below 30, lowered to 1 g a day at 30-44; spironolactone swapped for doxazosin below 30 or at K+ > 6 (acted on the day the
        result is back). An ACEi/ARB at K+ > 6 is the hypertension pathway's to stop when the sample is its check
        after a start; any other such result is acted on at the month's turn (`_potassium`)."""
        d, rx = self.drugs, self.rx
        low = egfr < d["metformin_stop_below"]
        if low.any():
            met = low & rx.on_regular(pos, "metformin", day)
            rx.stop_regular(pos[met], "metformin", day[met])
        with np.errstate(invalid="ignore"):
            mid = ~low & (egfr < d["metformin_reduce_below"])
        if mid.any():  # 30-44: the dose lowered to 1 g a day
            met = pos[mid & rx.on_regular(pos, "metformin", day)]
            met = met[rx.regular_per_day(met, "metformin") > d["metformin_reduced_per_day"]]
            rx.set_regular_per_day(met, "metformin", d["metformin_reduced_per_day"])
        spiro = (rx.s.rx_drug[pos, 3] == self.meds["spironolactone"]) & (
            (k > d["potassium_stop_above"]) | (egfr < d["spironolactone_stop_below"]))
        if spiro.any():
            rx.set_drug(pos[spiro], "S", self.meds["doxazosin"], 0, day[spiro])

    def _potassium(self, month: "Month") -> None:
        """An ACEi/ARB still held after a result of K+ > 6 in the last two months is stopped (NG203), not added back."""
        s, act = self.s, month.act
        k_day, k = self.sim.labs.last_value(act, "k")
        with np.errstate(invalid="ignore"):
            high = act[(k > self.drugs["potassium_stop_above"]) & (k_day >= month.day0 - 62)
                       & (self.rx.s.rx_drug[act, 0] >= 0)]
        self.rx.stop_slot(high, "A")
        s.no_acei_arb[high] = True

    # ------------------------------------------------------------ the month
    def decline(self, sim: "Sim", month: "Month") -> None:
        """A month's fall in GFR; CKD starts (and is diagnosed after a delay) when it crosses 60; end stage; ACR
        referrals from last month's results."""
        s, k, act, vday = self.s, self.k, month.act, month.vday
        egfr = s.egfr[act]
        onset = s.ckd_onset[act]
        diseased = onset & (egfr < k["progression_below"])
        decline = np.where(onset | (egfr > k["healthy_floor"]), k["age_decline"], 0.0) + diseased * (
            s.ckd_rate[act] - k["age_decline"] + k["bp_decline_per_10"] * np.maximum(month.treated_sbp - k["bp_threshold"], 0) / 10
            + k["diabetes_decline"] * (s.onset_type2[act] <= vday))
        on_dialysis = s.kidney_failure[act] == DIALYSIS
        s.egfr[act] = np.where(on_dialysis, self.end["dialysis_gfr"], np.maximum(egfr - decline / 12, 4.0))
        crossing = (s.egfr[act] < 60) & (s.onset_ckd[act] > vday)
        crossed, day = act[crossing], vday[crossing]
        s.onset_ckd[crossed] = day
        delay = sim.draws("dxdelay.ckd.new").exponential(crossed, sim.care.condition_diagnosis_delay_years * YEAR, month.m)
        s.known_ckd[crossed] = np.minimum(s.known_ckd[crossed], day + np.round(delay).astype(np.int64))
        self._end_stage(sim, month)
        self._acr(month)
        self._potassium(month)

    def _end_stage(self, sim: "Sim", month: "Month") -> None:
        """Reaching end stage: dialysis (coded, ending the CKD stage problems) or conservative care and death within
        about a year; on dialysis, its yearly mortality."""
        s, e, act, vday, m = self.s, self.end, month.act, month.vday, month.m
        new = (s.egfr[act] < e["rrt_egfr"]) & (s.kidney_failure[act] == 0)
        pos, day = act[new], vday[new]
        if len(pos):
            share = np.where((day - s.dob[pos]) / YEAR < 75, e["dialysis_share_under_75"], e["dialysis_share_75_plus"])
            dial = sim.draws("kidney.dialysis").uniform(pos) < share
            s.kidney_failure[pos] = np.where(dial, DIALYSIS, CONSERVATIVE)
            s.kidney_failure_day[pos] = day
            self._code(pos[dial], day[dial] + LETTER_DAYS, 6, "ckd_stage5_dialysis")
            cons = pos[~dial]
            median = e["conservative_survival_years"] * YEAR
            wait = np.round(sim.draws("kidney.conservative").exponential(cons, median / np.log(2))).astype(np.int64)
            sim.life.die(sim, cons, day[~dial] + wait, "kidney_failure", m)
        dial = act[s.kidney_failure[act] == DIALYSIS]
        dies = sim.draws("kidney.dialysis.death").uniform(dial, m) < 1 - np.exp(-e["dialysis_death_per_year"] / 12)
        sim.life.die(sim, dial[dies], month.vday[s.kidney_failure[act] == DIALYSIS][dies], "kidney_failure", m)

    def _acr(self, month: "Month") -> None:
        """An ACR of 70 mg/mmol or more (NG203 1.5.5; not in people with diabetes, whose albuminuria is treated
        first) in a result not yet looked at."""
        s, act = self.s, month.act
        acr_day, acr = self.sim.labs.last_value(act, "acr")
        new = acr_day > s.acr_seen_day[act]
        seen, acr_day, acr = act[new], acr_day[new], acr[new]
        s.acr_seen_day[seen] = acr_day
        with np.errstate(invalid="ignore"):
            hi = (acr >= self.ref["acr_at_least"]) & (s.known_type2[seen] > acr_day)
        self._refer(seen[hi], np.maximum(acr_day[hi], month.day0), "acr")


def _earliest(pos: np.ndarray, day: np.ndarray, want: np.ndarray) -> np.ndarray:
    """Indices of the rows in `want`, one per person: their earliest day."""
    idx = np.flatnonzero(want)
    if len(idx) < 2:
        return idx
    idx = idx[np.lexsort((day[idx], pos[idx]))]
    return idx[np.r_[True, pos[idx][1:] != pos[idx][:-1]]]
