"""eGFR from creatinine by the equation English labs reported on the day (data/kidney.toml): MDRD until NICE
CG182 (July 2014), CKD-EPI 2009 with its ethnicity factor until NICE NG203 (August 2021), then CKD-EPI 2009 without
it. `creatinine` is the inverse of CKD-EPI 2021: the serum creatinine (umol/L) of a person of that age and sex whose
measured GFR is the given one.
"""

from __future__ import annotations

from functools import cache

import numpy as np

from synthgp.core import dates, reference

UMOL_PER_MG = 88.4


@cache
def _cfg() -> dict:
    return reference.toml("kidney.toml")


@cache
def _eras() -> tuple[np.ndarray, tuple[str, ...], np.ndarray]:
    eras = _cfg()["era"]
    return (np.array([dates.to_days(e["start"]) for e in eras], dtype=np.int64), tuple(e["equation"] for e in eras),
            np.array([e["ethnicity"] for e in eras]))


def era_names() -> tuple[str, ...]:
    return tuple(e["name"] for e in _cfg()["era"])


def era_index(day) -> np.ndarray:
    starts, _, _ = _eras()
    return np.maximum(np.searchsorted(starts, np.asarray(day), side="right") - 1, 0)


def ckd_epi(equation: str, creat, age, female, black=False) -> np.ndarray:
    """CKD-EPI ("ckd_epi_2009" or "ckd_epi_2021") eGFR of a creatinine in umol/L."""
    c = _cfg()["equation"][equation]
    female = np.asarray(female, dtype=bool)
    kappa = np.where(female, c["kappa_female"], c["kappa_male"])
    alpha = np.where(female, c["alpha_female"], c["alpha_male"])
    r = np.asarray(creat, dtype=np.float64) / UMOL_PER_MG / kappa
    return (c["k"] * np.minimum(r, 1) ** alpha * np.maximum(r, 1) ** c["high_power"] * c["age_base"] ** np.asarray(age)
            * np.where(female, c["female"], 1.0) * np.where(black, c["black"], 1.0))


def mdrd(creat, age, female, black=False) -> np.ndarray:
    """IDMS-traceable MDRD eGFR of a creatinine in umol/L."""
    c = _cfg()["equation"]["mdrd"]
    return (c["k"] * (np.asarray(creat, dtype=np.float64) / UMOL_PER_MG) ** c["scr_power"] * np.asarray(age, dtype=np.float64) ** c["age_power"]
            * np.where(female, c["female"], 1.0) * np.where(black, c["black"], 1.0))


def reported(creat, age, female, black, day) -> np.ndarray:
    """The eGFR a lab reported on `day` for a creatinine (umol/L), unrounded."""
    creat, age, female, black = (np.asarray(x) for x in (creat, age, female, black))
    _, eqs, ethnicity = _eras()
    era = np.broadcast_to(era_index(day), creat.shape)
    out = np.empty(creat.shape, dtype=np.float64)
    if not era.size:
        return out
    first = era.flat[0]
    for e in ((first,) if (era == first).all() else np.unique(era)):  # a batch is mostly of one day
        sel = era == e
        b = black[sel] & ethnicity[e] if black.ndim else bool(black) & ethnicity[e]
        a = age[sel] if age.ndim else age
        f = female[sel] if female.ndim else female
        out[sel] = mdrd(creat[sel], a, f, b) if eqs[e] == "mdrd" else ckd_epi(eqs[e], creat[sel], a, f, b)
    return out


def creatinine(gfr, age, female) -> np.ndarray:
    """The creatinine (umol/L) at which CKD-EPI 2021 gives `gfr` for this age and sex (its exact inverse)."""
    c = _cfg()["equation"]["ckd_epi_2021"]
    female = np.asarray(female, dtype=bool)
    kappa = np.where(female, c["kappa_female"], c["kappa_male"])
    alpha = np.where(female, c["alpha_female"], c["alpha_male"])
    base = np.asarray(gfr, dtype=np.float64) / (c["k"] * c["age_base"] ** np.asarray(age) * np.where(female, c["female"], 1.0))
    r = np.where(base >= 1, base ** (1 / alpha), base ** (1 / c["high_power"]))  # r <= 1 exactly when base >= 1
    return r * kappa * UMOL_PER_MG


def lab_result(gfr, age, female, black, day) -> tuple[np.ndarray, np.ndarray]:
    """A sample's (creatinine, eGFR) as the lab reports them for a person whose GFR at the draw is `gfr`: the
    creatinine of that GFR (whole umol/L) and the day's equation of that creatinine (whole mL/min/1.73m2)."""
    creat = np.round(creatinine(gfr, age, female))
    return creat, np.round(reported(creat, age, female, black, day))
