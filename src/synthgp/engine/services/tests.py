"""Tests: blood samples and their results. One call is one sample: its panel (urea and electrolytes,
and with `full` HbA1c, lipids and urine ACR) gets results drawn from the person's truth (kidney
function, the drugs they take, diabetes, their cholesterol), plausible and mutually consistent, each
with the reference range a lab reports. A pathway that reacts to a result (CKD stages coded when an
eGFR first shows them) registers a hook instead of re-reading the record.

One sample a day: a second order on a day a sample was taken gets that sample's results (and adds
only the tests it lacked), so a blood draw is one panel in the record, whoever ordered it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from synthgp.clinical import egfr as egfr_eq
from synthgp.core import dates, reference, rng
from synthgp.engine.component import Service
from synthgp.engine.services.prescribing import SLOTS
from synthgp.engine.sim import YEAR

if TYPE_CHECKING:
    from synthgp.engine.sim import Sim

EgfrHook = Callable[[np.ndarray, np.ndarray, np.ndarray, np.ndarray], None]  # (pos, day, reported egfr, potassium)


class Tests(Service):
    name = "labs"
    fields = {"potassium_level": "the person's own serum potassium, mmol/L, before drugs and CKD",
              "sample_day": "day of the person's last blood sample", "sample_full": "it had the full panel",
              **{f"sample_{k}": f"its {k}" for k in ("egfr", "k", "tc", "hdl", "acr")}}
    reads = ("male", "dob", "black", "egfr", "onset_ckd", "onset_type2", "rf_total_cholesterol", "rf_hdl")

    def init(self, sim: "Sim") -> dict[str, np.ndarray]:
        cfg = reference.toml("outcomes.toml")["labs"]
        n = sim.n
        return {"potassium_level": cfg["potassium_mean"] + cfg["potassium_person_sd"] * sim.draws("potassium").normal(sim.everyone),
                "sample_day": np.full(n, dates.NONE, dtype=np.int64), "sample_full": np.zeros(n, dtype=bool),
                **{f"sample_{k}": np.full(n, np.nan) for k in ("egfr", "k", "tc", "hdl", "acr")}}

    def bind(self, sim: "Sim") -> None:
        super().bind(sim)
        self.sim, self.ids, self.record, self.rx = sim, sim.ids, sim.record, sim.rx
        self.cfg = reference.toml("outcomes.toml")["labs"]
        self.ranges = self.cfg["ranges"]
        self.visit_sd = reference.toml("blood_pressure.toml")["kidney"]["visit_sd"]
        self.k_per_egfr = reference.toml("kidney.toml")["drugs"]["potassium_per_egfr_below_30"]
        self.spironolactone = self.rx.meds.index["spironolactone"]
        self.egfr_hooks: list[EgfrHook] = []
        self._panels: dict[tuple[str, ...], tuple[np.ndarray, ...]] = {}  # per panel: its codes, units and ranges

    def on_egfr(self, hook: EgfrHook) -> None:
        """Call `hook(pos, day, egfr, k)` with every sample's reported eGFR and potassium, before the results are recorded."""
        self.egfr_hooks.append(hook)

    def _results(self, pos, day, results: dict[str, np.ndarray], lab: dict) -> None:
        """The sample's results, test by test in the order given, as one batch of rows."""
        got = self._panels.get(tuple(results))
        if got is None:
            rec = self.record
            units = {"egfr": "mL/min/1.73m2", "creatinine": "umol/L", "hba1c": "mmol/mol", "urine_acr": "mg/mmol"}
            got = self._panels[tuple(results)] = tuple(np.array(x) for x in zip(*(
                (rec.code(k), rec.unit(units.get(k, "mmol/L")), self.ranges[k].get("low", np.nan), self.ranges[k].get("high", np.nan))
                for k in results)))
        code, unit, low, high = (np.repeat(x, len(pos)) for x in got)
        k = len(results)
        self.record.observation(np.tile(pos, k), np.tile(day, k), code, value=np.concatenate(list(results.values())), unit=unit,
                                low=low, high=high, cons=lab["cons"], obstype=lab["obstype"],
                                enter_delay=np.tile(lab["enter_delay"], k))

    def sample(self, pos: np.ndarray, day, full: bool | np.ndarray) -> dict[str, np.ndarray] | None:
        """A blood sample from each of `pos` on `day`, its results recorded; returns them (eGFR and
        potassium, and with `full` cholesterol, HDL and ACR). `full` is for all, or one flag each (one
        call for a group of whom some need the full panel costs less than two). One sample a day: a
        second order on a day a sample was taken gets that sample's results, and adds to it only the
        tests of the full panel it lacked."""
        if not len(pos):
            return None
        s = self.s
        day = np.broadcast_to(day, len(pos))
        key = pos * (1 << 32) + (day - dates.NONE)
        if len(key) > 1 and (np.diff(np.sort(key)) == 0).any():  # one patient twice on one day: one sample
            _, first, back = np.unique(key, return_index=True, return_inverse=True)
            got = self.sample(pos[first], day[first], full if np.ndim(full) == 0 else np.asarray(full)[first])
            return {k: v[back] for k, v in got.items()}
        full = np.broadcast_to(full, len(pos))
        taken = s.sample_day[pos] == day
        new = ~taken
        if new.any():
            self._draw(pos[new], day[new], full[new])
        extra = taken & full & ~s.sample_full[pos]
        if extra.any():
            self._draw_full_panel(pos[extra], day[extra], self._lab(pos[extra], day[extra]))
        out = {"egfr": s.sample_egfr[pos], "k": s.sample_k[pos]}
        if full.any():
            out.update(tc=s.sample_tc[pos], hdl=s.sample_hdl[pos], acr=s.sample_acr[pos])
        return out

    def _lab(self, pos: np.ndarray, day: np.ndarray) -> dict:
        """How a sample's results are recorded: no consultation, entered a day or two later."""
        day_in = day + self.sim.draws("lab.delay").integers(pos, 3, day)
        return dict(cons=None, obstype=self.record.obstype("Investigation"), enter_delay=day_in - day)

    def _draw(self, pos: np.ndarray, day: np.ndarray, full: np.ndarray) -> None:
        """Urea and electrolytes (and where `full` the rest of the panel) for a new sample."""
        s, c, sim = self.s, self.cfg, self.sim
        step = day  # the draw counter: one sample a day
        ckd = s.onset_ckd[pos] <= day
        z = rng.normals([sim.draws(p) for p in ("egfr.visit", "k.visit", "na")], pos, step)
        # the creatinine of the person's GFR this visit; the lab reports the era's equation of it (clinical/egfr.py)
        female, age = ~s.male[pos], (day - s.dob[pos]) / YEAR
        creat, egfr = egfr_eq.lab_result(np.clip(s.egfr[pos] + self.visit_sd * z[0], 4, 140), age, female, s.black[pos], day)
        drug = self.rx.s.rx_drug[pos]
        on_a, on_d = drug[:, SLOTS.index("A")] >= 0, drug[:, SLOTS.index("D")] >= 0
        spiro = drug[:, SLOTS.index("S")] == self.spironolactone
        k = (s.potassium_level[pos] + c["potassium_on_acei_arb"] * on_a + c["potassium_on_spironolactone"] * spiro
             + c["potassium_on_thiazide"] * on_d + c["potassium_with_ckd"] * ckd + c["potassium_visit_sd"] * z[1]
             + self.k_per_egfr * np.maximum(30 - s.egfr[pos], 0))
        na = c["sodium_mean"] + c["sodium_on_thiazide"] * on_d + c["sodium_sd"] * z[2]
        lab = self._lab(pos, day)
        k = np.round(np.clip(k, 2.5, 7.5), 1)  # decisions use the value the record shows
        for hook in self.egfr_hooks:
            hook(pos, day, egfr, k)
        self._results(pos, day, {"egfr": egfr, "creatinine": creat, "potassium": k,
                                 "sodium": np.round(np.clip(na, 120, 155))}, lab)
        s.sample_day[pos], s.sample_full[pos], s.sample_egfr[pos], s.sample_k[pos] = day, False, egfr, k
        if full.all():
            self._draw_full_panel(pos, day, lab)
        elif full.any():
            self._draw_full_panel(pos[full], day[full], {**lab, "enter_delay": lab["enter_delay"][full]})

    def _draw_full_panel(self, pos: np.ndarray, day: np.ndarray, lab: dict) -> None:
        """HbA1c, lipids and urine ACR."""
        s, c, sim = self.s, self.cfg, self.sim
        t2 = s.onset_type2[pos] <= day
        ckd = s.onset_ckd[pos] <= day
        z = rng.normals([sim.draws(p) for p in ("hba1c.dm", "hba1c", "tc", "hdl")], pos, day)
        hba1c = np.where(t2, c["hba1c_diabetes_mean"] + c["hba1c_diabetes_sd"] * z[0], c["hba1c_normal_mean"] + c["hba1c_normal_sd"] * z[1])
        hba1c = np.where(t2, np.maximum(hba1c, 48), np.minimum(hba1c, 47))
        tc = np.clip(s.rf_total_cholesterol[pos] + c["cholesterol_visit_sd"] * z[2], 2.5, 11)
        hdl = np.clip(s.rf_hdl[pos] + c["hdl_visit_sd"] * z[3], 0.5, 3.5)
        # ACR's variation is the person's own (one draw a person), shifted by diabetes and CKD
        acr = np.exp(np.log(c["acr_median"]) + c["acr_log_sd"] * sim.draws("acr").normal(pos)
                     + c["acr_log_diabetes"] * t2 + c["acr_log_ckd"] * ckd)
        self._results(pos, day, {"hba1c": np.round(hba1c), "cholesterol": np.round(tc, 1), "hdl_cholesterol": np.round(hdl, 1),
                                 "urine_acr": np.round(acr, 1)}, lab)
        s.sample_full[pos], s.sample_tc[pos], s.sample_hdl[pos], s.sample_acr[pos] = True, tc, hdl, acr
