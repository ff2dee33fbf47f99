"""QRISK3-2017 ten-year cardiovascular risk, vectorised over patients, and QRISK2-2015, which has the
same form with fewer inputs (`score(inp, "qrisk2")`).

Implemented by synthgp from the published equations; coefficients and ClinRisk's notice are in
data/qrisk3.toml and data/qrisk2.toml (LGPL-3). For synthetic data only: not for clinical decisions.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from synthgp.core import reference

BINARY = ("af", "atypical_antipsychotic", "corticosteroids", "impotence", "migraine", "ra", "renal", "semi", "sle",
          "treated_hypertension", "type1", "type2", "fh_cvd")
NOTICE: str = reference.toml("qrisk3.toml")["notice"]


@dataclass
class Inputs:
    """Arrays, one entry per patient. ethnicity 1-9 and smoking 0-4 are QRISK3's codes."""

    male: np.ndarray
    age: np.ndarray
    ethnicity: np.ndarray
    smoking: np.ndarray
    bmi: np.ndarray
    chol_ratio: np.ndarray
    sbp: np.ndarray
    sbp_sd: np.ndarray
    townsend: np.ndarray
    flags: dict[str, np.ndarray] = field(default_factory=dict)  # names from BINARY; absent = 0

    def take(self, sel: np.ndarray) -> "Inputs":
        """The patients `sel` picks (a mask or indices)."""
        arrays = {k: getattr(self, k)[sel] for k in ("male", "age", "ethnicity", "smoking", "bmi", "chol_ratio", "sbp",
                                                      "sbp_sd", "townsend")}
        return Inputs(**arrays, flags={k: v[sel] for k, v in self.flags.items()})


def _power(x: np.ndarray, p: float) -> np.ndarray:
    return np.log(x) if p == 0 else x**p


def _linear(c: dict, inp: Inputs, sel: np.ndarray) -> np.ndarray:
    age = inp.age[sel] / 10
    bmi = inp.bmi[sel] / 10
    cen = c["centre"]
    terms = {
        "age_1": _power(age, c["age_powers"][0]) - cen["age_1"],
        "age_2": _power(age, c["age_powers"][1]) - cen["age_2"],
        "bmi_1": bmi**-2 - cen["bmi_1"],
        "bmi_2": bmi**-2 * np.log(bmi) - cen["bmi_2"],
        "rati": inp.chol_ratio[sel] - cen["rati"],
        "sbp": inp.sbp[sel] - cen["sbp"],
        "town": inp.townsend[sel] - cen["town"],
    }
    if "sbps5" in cen:  # QRISK3's SBP variability; QRISK2 has none
        terms["sbps5"] = inp.sbp_sd[sel] - cen["sbps5"]
    smoke = inp.smoking[sel].astype(np.int64)
    a = np.asarray(c["ethnicity"])[inp.ethnicity[sel].astype(np.int64) - 1] + np.asarray(c["smoking"])[smoke]
    for k, beta in c["continuous"].items():
        a = a + beta * terms[k]
    n = int(sel.sum())
    flags = {k: (inp.flags[k][sel].astype(np.float64) if k in inp.flags else np.zeros(n)) for k in BINARY}
    # an equation reads only the flags it has coefficients for (QRISK2: af, ra, renal, treated, type1/2, fh)
    for k, beta in c["binary"].items():
        a = a + beta * flags[k]
    inter = dict(flags)
    inter.update({f"smoke_{s}": (smoke == s).astype(np.float64) for s in range(1, 5)})
    inter.update({k: terms[k] for k in ("bmi_1", "bmi_2", "sbp", "town")})
    for age_term in ("age_1", "age_2"):
        for k, beta in c[f"{age_term}_x"].items():
            a = a + beta * terms[age_term] * inter[k]
    return a


def score(inp: Inputs, version: str = "qrisk3") -> np.ndarray:
    """Ten-year risk in percent (unrounded) by QRISK3-2017 or QRISK2-2015 (`version` "qrisk2"). Ages are
    expected in their range, 25-84."""
    if version not in ("qrisk3", "qrisk2"):
        raise ValueError(f"unknown QRISK version {version!r}; known: qrisk3, qrisk2")
    coef = reference.toml(f"{version}.toml")
    out = np.empty(len(inp.age))
    male = inp.male.astype(bool)
    for sex, sel in (("male", male), ("female", ~male)):
        if sel.any():
            c = coef[sex]
            out[sel] = 100.0 * (1.0 - c["survivor"] ** np.exp(_linear(c, inp, sel)))
    return out
