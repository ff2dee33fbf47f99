"""Risk scores as a practice computes them: from what its record holds, not from the truth.

The score recorded is the one practices used on the day (data/eras.toml: Framingham charts, then QRISK2
from 2009, QRISK3 from 2018; never a QRISK3 code before 2017), and its value is that score's own
equation: Framingham 1991 (clinical/framingham.py), QRISK2-2015 or QRISK3-2017 (clinical/qrisk3.py).
QRISK3 takes the conditions the practice knows of on the day, the recorded ethnicity, the smoking status,
BMI, the cholesterol ratio of the sample just taken, the systolic BP and its variability over the last
readings, and whether antihypertensives are prescribed; QRISK2 a subset of them; Framingham age, sex,
systolic BP, current smoking, the cholesterol ratio and diabetes, times 1.5 with a family history of
premature CHD from NICE CG67 (May 2008).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from synthgp.clinical import eras, framingham, qrisk3
from synthgp.engine.component import Service
from synthgp.engine.sim import YEAR

if TYPE_CHECKING:
    from synthgp.engine.sim import Sim

# QRISK3 inputs the record holds as a coded condition or medicine, from the risk factors at entry
ENTRY_FLAGS = ("type1", "ra", "sle", "migraine", "semi", "atypical_antipsychotic", "corticosteroids", "impotence", "fh_cvd")


class RiskScores(Service):
    name = "risk"
    reads = ("male", "dob", "qrisk_ethnicity", "smoking", "townsend", "known_type2", "known_ckd", "known_af",
             *(f"rf_{f}" for f in ENTRY_FLAGS))

    def bind(self, sim: "Sim") -> None:
        super().bind(sim)
        self.record, self.rx, self.vitals = sim.record, sim.rx, sim.vitals
        self.score_hooks: list = []  # hook(pos, day, score) for every score recorded (pathways/statins.py)

    def on_score(self, hook) -> None:
        """Call `hook(pos, day, score)` with every score recorded, after it is recorded."""
        self.score_hooks.append(hook)

    def cvd_risk(self, pos: np.ndarray, day, sbp: np.ndarray, lab: dict, bmi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The 10-year cardiovascular risk of `pos` on `day` (NG136 1.3.2), recorded for those aged 25-84
        under the code of the score in use that day. Returns (scores of those scored, which of `pos`
        were scored)."""
        s = self.s
        day = np.broadcast_to(day, len(pos))
        age = (day - s.dob[pos]) / YEAR
        ok = (age >= 25) & (age <= 84)
        pos, day, sbp, bmi = pos[ok], day[ok], sbp[ok], bmi[ok]
        if not len(pos):
            return np.zeros(0), ok
        flags = {"af": s.known_af[pos] <= day, "renal": s.known_ckd[pos] <= day, "type2": s.known_type2[pos] <= day,
                 "treated_hypertension": self.rx.on_any(pos)}
        for f in ENTRY_FLAGS:
            flags[f] = getattr(s, f"rf_{f}")[pos]
        ratio = (lab["tc"] / lab["hdl"])[ok]
        inp = qrisk3.Inputs(male=s.male[pos], age=age[ok], ethnicity=s.qrisk_ethnicity[pos], smoking=s.smoking[pos],
                            bmi=np.clip(bmi, 20, 40), chol_ratio=np.clip(ratio, 1, 11), sbp=sbp,
                            sbp_sd=self.vitals.sbp_variability(pos), townsend=s.townsend[pos], flags=flags)
        key = eras.risk_score_code(day)
        score = np.empty(len(pos))
        for version in ("qrisk3", "qrisk2"):
            sel = key == version
            if sel.any():
                score[sel] = qrisk3.score(inp.take(sel), version)
        fr = key == "framingham_risk"
        if fr.any():
            diabetic = flags["type1"][fr] | flags["type2"][fr]
            raw = framingham.score(s.male[pos[fr]], age[ok][fr], sbp[fr], s.smoking[pos[fr]] >= 2,
                                   np.clip(ratio[fr], 1, 11), diabetic)
            score[fr] = framingham.nice_adjusted(raw, flags["fh_cvd"][fr], day[fr])
        rec = self.record
        code = np.select([key == k for k in ("qrisk3", "qrisk2")], rec.codes("qrisk3", "qrisk2"), rec.code("framingham_risk"))
        rec.observation(pos, day, code, value=np.round(score, 1), unit=rec.unit("%"), obstype=rec.obstype("Value"))
        for hook in self.score_hooks:
            hook(pos, day, np.round(score, 1))
        return score, ok

    qrisk3 = cvd_risk  # the name callers used before the score went by date
