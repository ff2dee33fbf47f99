"""Hypertension in the practice, by NICE NG136.

Undiagnosed adults have their BP checked opportunistically at consultations, at NHS Health Checks
and after a cardiovascular event (diagnosis.py); a raised reading is repeated, then confirmed (or
not) by ABPM or HBPM; a diagnosis brings target-organ-damage tests, QRISK3 and the decision whom to
treat. Treatment follows steps 1-4 with titration before adding a drug, monitoring bloods, side
effects and switches, and referral (treatment.py), decided at reviews (review.py). Those already
diagnosed, and treated, when they join the record bring that history (history.py).

Rules come from clinical/ng136.py, numbers from data files and the scenario's `care` parameters.
The record gets what the practice saw; the truth tables what was so.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from synthgp.core import dates, reference
from synthgp.engine.component import Pathway
from synthgp.engine.truth import TruthRows
from synthgp.pathways.hypertension import diagnosis, history, review
from synthgp.pathways.registers import onset

if TYPE_CHECKING:
    from synthgp.engine.sim import Month, Sim

NEVER = np.iinfo(np.int64).max // 4


class Hypertension(Pathway):
    name = "hypertension"
    fields = {
        "dx": "diagnosed", "dx_day": "day of diagnosis", "prior": "diagnosed before entry", "stage": "NG136 stage",
        "declined": "declined treatment", "referred": "referred for uncontrolled BP on four drugs",
        "cough_pending": "will report an ACE-inhibitor cough at the next review",
        "oedema_pending": "will report CCB ankle oedema at the next review",
        "next_review": "day of the next review", "last_raised": "day of the last raised reading",
        "onset_htn": "day usual BP first reached 140/90 (truth)",
        "post_event_check": "day of the BP check after a cardiovascular event",
        "usual_sbp_entry": "usual systolic BP at entry (truth)",
        "no_ccb": "a CCB was not tolerated (oedema): not added back",
        "no_acei_arb": "an ACEi/ARB was stopped (K+ > 6 or eGFR fall >= 25%): not added back",
        "resistant": "resistant hypertension confirmed out of clinic before step 4",
        "full_bloods_day": "day of the last lipids, HbA1c and urine ACR (the full panel)",
        "annual_day": "day of the last annual review (coded, with lifestyle and bloods)",
        "postural_hypo": "postural hypotension found at a review (standing fall >= 20/10): treated to the standing BP",
        "adherence_u": "propensity to take treatment only partly (uniform; partly adherent while below the age's share)",
        "adherence_f": "where the person's share of doses taken lies within the partial or the full range",
    }
    writes = ("adherence",)  # partial adherence by age (data/ng136.toml [adherence_by_age])
    reads = ("dob", "male", "black", "ent", "lst", "first_allowed", "age_entry", "rf_type1", "last_bp",
             "known_type2", "known_ckd", "stroke_day", "mi_day", "heart_failure_day", "bp_response", "bp_white_coat_sbp",
             "bp_arm_diff", "bp_arm",
             "adherence", "repeat_days", "rx_drug", "rx_level", "rx_course", "rx_stopped", "rx_stop_day",
             "sample_acr", "sample_egfr", "known_af", "reg_known")
    truth = ("hypertension_truth", "decision_truth")

    def init(self, sim: "Sim") -> dict[str, np.ndarray]:
        n = sim.n
        return {
            "dx": np.zeros(n, dtype=bool), "dx_day": np.full(n, dates.NONE, dtype=np.int64), "prior": np.zeros(n, dtype=bool),
            "stage": np.zeros(n, dtype=np.int64), "declined": np.zeros(n, dtype=bool), "referred": np.zeros(n, dtype=bool),
            "cough_pending": np.zeros(n, dtype=bool), "oedema_pending": np.zeros(n, dtype=bool),
            "next_review": np.full(n, NEVER, dtype=np.int64), "last_raised": np.full(n, -NEVER, dtype=np.int64),
            "onset_htn": np.full(n, dates.NONE, dtype=np.int64), "post_event_check": np.full(n, NEVER, dtype=np.int64),
            "usual_sbp_entry": np.full(n, np.nan), "no_ccb": np.zeros(n, dtype=bool),
            "no_acei_arb": np.zeros(n, dtype=bool), "resistant": np.zeros(n, dtype=bool),
            "full_bloods_day": np.full(n, -NEVER, dtype=np.int64), "annual_day": np.full(n, -NEVER, dtype=np.int64),
            "postural_hypo": np.zeros(n, dtype=bool),
            "adherence_u": sim.draws("adherence.by_age").uniform(sim.everyone),
            "adherence_f": sim.draws("adherence.position").uniform(sim.everyone),
        }

    def bind(self, sim: "Sim") -> None:
        super().bind(sim)
        self.sim, self.ids, self.care = sim, sim.ids, sim.care
        cfg = reference.toml("ng136.toml")
        self.th, self.fu, self.staffing = cfg["thresholds"], cfg["follow_up"], cfg["review_staff"]
        self.hbpm_start = dates.to_days(self.fu["hbpm_review_start"])
        self.postural = cfg["postural"]
        self.accel = cfg["accelerated"]
        self.dna_by_age = cfg["did_not_attend_by_age"]
        self.prior_ramp = dict(cfg["prior_diagnosis"])  # a copy: reference.toml's dict is shared by every sim
        names = [c.name for c in onset.load()[1]]  # registers whose own care may bring a beta-blocker
        self.own_bb_cols = [names.index(n) for n in ("chd", "heart_failure")]
        self.stopping = cfg["stopping_by_age"]
        self.adherence_by_age = cfg["adherence_by_age"]
        self.arb_choice = cfg["first_line"]["arb_choice_share"]
        self.record, self.rx, self.vitals, self.labs, self.contacts = sim.record, sim.rx, sim.vitals, sim.labs, sim.contacts
        self.decisions = TruthRows("pat", "day", "decision", "drug", "rule")
        self.checks: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None  # this month's opportunistic checks

    def postural_drop(self, pos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Each person's own fall in (systolic, diastolic) BP on standing (data/ng136.toml [postural])."""
        p = self.postural
        return (p["sbp_drop_mean"] + p["sbp_drop_sd"] * self.draws("postural.sbp").normal(pos),
                p["dbp_drop_mean"] + p["dbp_drop_sd"] * self.draws("postural.dbp").normal(pos))

    def keep_own_adherence(self) -> None:
        """Take each person's propensity and place from the adherence the prescribing service drew (its class and its
        place in the range), so that at the reference age everyone takes what they took before age mattered."""
        s, care = self.s, self.care
        (plo, phi), (flo, fhi), share = care.adherence_partial, care.adherence_full, care.nonadherent_share
        partial = s.adherence < flo
        s.adherence_f[:] = np.clip(np.where(partial, (s.adherence - plo) / max(phi - plo, 1e-9),
                                            (s.adherence - flo) / max(fhi - flo, 1e-9)), 0.0, 1.0)
        s.adherence_u[:] = np.where(partial, share * s.adherence_u, share + (1.0 - share) * s.adherence_u)

    def set_adherence(self, pos: np.ndarray, age: np.ndarray) -> None:
        """Each person's share of doses taken at this age: partly adherent while their own propensity lies
        below the share partly adherent at their age (the odds falling with each year of age, data/ng136.toml
        [adherence_by_age]), at their own place within the partial or the full range."""
        a, care, s = self.adherence_by_age, self.care, self.s
        share = care.nonadherent_share
        odds = share / max(1.0 - share, 1e-9) * a["odds_ratio_per_year"] ** (np.asarray(age, dtype=float) - a["reference_age"])
        partial = s.adherence_u[pos] < odds / (1.0 + odds)
        (plo, phi), (flo, fhi), f = care.adherence_partial, care.adherence_full, s.adherence_f[pos]
        s.adherence[pos] = np.where(partial, plo + (phi - plo) * f, flo + (fhi - flo) * f)

    def draws(self, purpose: str):
        return self.sim.draws(purpose)

    def decide(self, pos: np.ndarray, day, what: str, drug, rule: str) -> None:
        """A treatment decision, with the NG136 rule (or the behaviour) behind it, for the truth."""
        self.decisions.add(len(pos), pat=self.sim.P[pos], day=day, decision=what, drug=np.asarray(drug, dtype=object), rule=rule)

    # ------------------------------------------------------------ steps (the schedule names them)
    def history(self, sim: "Sim") -> None:
        history.at_entry(self)

    def last_check(self, sim: "Sim") -> None:
        history.last_check(self)

    def track(self, sim: "Sim", month: "Month") -> None:
        """The truth of onset; adherence at this age; and people who stop taking their treatment (unseen until
        a review), the younger more often (data/ng136.toml [stopping_by_age])."""
        s, act = self.s, month.act
        self.set_adherence(act, month.age)
        now = (month.usual_sbp >= self.th["clinic_sbp"]) | (month.usual_dbp >= self.th["clinic_dbp"])
        new = now & (s.onset_htn[act] == dates.NONE)
        s.onset_htn[act[new]] = month.vday[new]
        held = self.rx.on_any(act) & ~s.rx_stopped[act]
        on_rx = act[held]
        by_age = self.stopping
        rate = self.care.stop_per_year * np.asarray(by_age["rate_ratio"])[np.searchsorted(by_age["age_from"], month.age[held], side="right") - 1]
        stop = on_rx[self.draws("stop").uniform(on_rx, month.m) < rate / 12]
        self.rx.stop_taking(stop, month.day0)

    def opportunistic(self, sim: "Sim", month: "Month") -> None:
        diagnosis.opportunistic(self, month)

    def diagnose(self, sim: "Sim", month: "Month") -> None:
        diagnosis.follow_up_readings(self, month)

    def review(self, sim: "Sim", month: "Month") -> None:
        review.reviews(self, month)

    # ------------------------------------------------------------ truth
    def truth_tables(self, sim: "Sim") -> dict[str, dict[str, np.ndarray]]:
        s, n = self.s, sim.n
        everyone = np.arange(n)
        s_end, d_end, _, _ = self.vitals.usual_at(everyone, s.lst)
        return {
            "hypertension_truth": {
                "pat": sim.P, "true_hypertension_onset": s.onset_htn,
                "hypertensive_at_end": ((s_end >= 140) | (d_end >= 90)).astype(np.int8),
                "diagnosed_date": s.dx_day, "prior_diagnosis": s.prior.astype(np.int8), "usual_sbp_entry": np.round(s.usual_sbp_entry, 1),
                "white_coat_sbp": np.round(s.bp_white_coat_sbp, 1), "drug_response": np.round(s.bp_response, 3),
                "adherence": np.round(s.adherence, 3), "stopped_treatment_date": s.rx_stop_day,
                "arm_difference_sbp": np.round(s.bp_arm_diff, 1), "reading_arm": s.bp_arm.astype(np.int8)},
            "decision_truth": self.decisions.columns("day", {"day": "date"}),
        }
