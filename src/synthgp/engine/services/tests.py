"""Tests: blood samples and their results. One call is one sample: its panel (urea and electrolytes,
and with `full` HbA1c, lipids and urine ACR) gets results drawn from the person's truth (kidney
function, the drugs they take, diabetes, their cholesterol), plausible and mutually consistent, each
with the reference range a lab reports. A pathway that reacts to a result (CKD stages coded when an
eGFR first shows them) registers a hook instead of re-reading the record.

The draws for a sample are keyed by its day, so two orders on one day give the same results.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from synthgp.core import reference, rng
from synthgp.engine.component import Service
from synthgp.engine.services.prescribing import SLOTS

if TYPE_CHECKING:
    from synthgp.engine.sim import Sim

EgfrHook = Callable[[np.ndarray, np.ndarray, np.ndarray], None]  # (pos, day, egfr)


class Tests(Service):
    name = "labs"
    fields = {"potassium_level": "the person's own serum potassium, mmol/L, before drugs and CKD"}
    reads = ("male", "egfr", "onset_ckd", "onset_type2", "rf_total_cholesterol", "rf_hdl")

    def init(self, sim: "Sim") -> dict[str, np.ndarray]:
        cfg = reference.toml("outcomes.toml")["labs"]
        return {"potassium_level": cfg["potassium_mean"] + cfg["potassium_person_sd"] * sim.draws("potassium").normal(sim.everyone)}

    def bind(self, sim: "Sim") -> None:
        super().bind(sim)
        self.sim, self.ids, self.record, self.rx = sim, sim.ids, sim.record, sim.rx
        self.cfg = reference.toml("outcomes.toml")["labs"]
        self.ranges = self.cfg["ranges"]
        self.visit_sd = reference.toml("blood_pressure.toml")["kidney"]["visit_sd"]
        self.spironolactone = self.rx.meds.index["spironolactone"]
        self.egfr_hooks: list[EgfrHook] = []

    def on_egfr(self, hook: EgfrHook) -> None:
        """Call `hook(pos, day, egfr)` with every sample's eGFR, before the results are recorded."""
        self.egfr_hooks.append(hook)

    def _result(self, pos, day, key: str, value, lab: dict) -> None:
        rec, r = self.record, self.ranges[key]
        unit = {"egfr": "mL/min/1.73m2", "creatinine": "umol/L", "hba1c": "mmol/mol", "urine_acr": "mg/mmol"}.get(key, "mmol/L")
        rec.observation(pos, day, rec.code(key), value=value, unit=rec.unit(unit), low=r.get("low"), high=r.get("high"), **lab)

    def sample(self, pos: np.ndarray, day, full: bool) -> dict[str, np.ndarray] | None:
        """Take a sample from each of `pos` on `day` and record the results; returns them (eGFR and
        potassium, and with `full` cholesterol, HDL and ACR)."""
        if not len(pos):
            return None
        s, c, sim = self.s, self.cfg, self.sim
        i = pos
        day = np.broadcast_to(day, len(pos))
        step = day  # the draw counter: one sample a day at most
        ckd = s.onset_ckd[pos] <= day
        z = rng.normals([sim.draws(p) for p in ("egfr.visit", "k.visit", "na")], i, step)
        egfr = np.clip(s.egfr[pos] + self.visit_sd * z[0], 4, 140)
        for hook in self.egfr_hooks:
            hook(pos, day, egfr)
        creat = 80 * (egfr / 90) ** -1.15 * np.where(s.male[pos], 1.15, 0.9)
        drug = self.rx.s.rx_drug[pos]
        on_a, on_d = drug[:, SLOTS.index("A")] >= 0, drug[:, SLOTS.index("D")] >= 0
        spiro = drug[:, SLOTS.index("S")] == self.spironolactone
        k = (s.potassium_level[pos] + c["potassium_on_acei_arb"] * on_a + c["potassium_on_spironolactone"] * spiro
             + c["potassium_on_thiazide"] * on_d + c["potassium_with_ckd"] * ckd
             + c["potassium_visit_sd"] * z[1])
        na = c["sodium_mean"] + c["sodium_on_thiazide"] * on_d + c["sodium_sd"] * z[2]
        day_in = day + sim.draws("lab.delay").integers(i, 3, step)
        lab = dict(cons=None, obstype=self.record.obstype("Investigation"), enter_delay=day_in - day)
        self._result(pos, day, "egfr", np.round(egfr), lab)
        self._result(pos, day, "creatinine", np.round(creat), lab)
        k = np.round(np.clip(k, 2.5, 7.5), 1)  # decisions use the value the record shows
        self._result(pos, day, "potassium", k, lab)
        self._result(pos, day, "sodium", np.round(np.clip(na, 120, 155)), lab)
        if not full:
            return {"egfr": egfr, "k": k}
        t2 = s.onset_type2[pos] <= day
        z = rng.normals([sim.draws(p) for p in ("hba1c.dm", "hba1c", "tc", "hdl")], i, step)
        hba1c = np.where(t2, c["hba1c_diabetes_mean"] + c["hba1c_diabetes_sd"] * z[0], c["hba1c_normal_mean"] + c["hba1c_normal_sd"] * z[1])
        hba1c = np.where(t2, np.maximum(hba1c, 48), np.minimum(hba1c, 47))
        tc = np.clip(s.rf_total_cholesterol[pos] + c["cholesterol_visit_sd"] * z[2], 2.5, 11)
        hdl = np.clip(s.rf_hdl[pos] + c["hdl_visit_sd"] * z[3], 0.5, 3.5)
        acr = np.exp(np.log(c["acr_median"]) + c["acr_log_sd"] * sim.draws("acr").normal(i)
                     + c["acr_log_diabetes"] * t2 + c["acr_log_ckd"] * ckd)
        self._result(pos, day, "hba1c", np.round(hba1c), lab)
        self._result(pos, day, "cholesterol", np.round(tc, 1), lab)
        self._result(pos, day, "hdl_cholesterol", np.round(hdl, 1), lab)
        self._result(pos, day, "urine_acr", np.round(acr, 1), lab)
        return {"egfr": egfr, "k": k, "tc": tc, "hdl": hdl, "acr": acr}
