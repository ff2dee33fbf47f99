"""Blood pressure physiology: the latent usual BP, clinic and out-of-clinic readings, treatment.

Numbers are in data/blood_pressure.toml. Every value returned is inside the physiological bounds
there (and systolic exceeds diastolic by the minimum pulse pressure), whatever the inputs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from synthgp.core import reference, rng
from synthgp.core.rng import Draws

Streams = Callable[[str], Any]  # purpose -> random draws (core.rng Draws or KeyedDraws)


def _cfg() -> dict:
    return reference.toml("blood_pressure.toml")


def bound(sbp: np.ndarray, dbp: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    b = _cfg()["bounds"]
    sbp = np.clip(sbp, b["sbp_min"], b["sbp_max"])
    dbp = np.clip(dbp, b["dbp_min"], b["dbp_max"])
    dbp = np.minimum(dbp, sbp - b["min_pulse_pressure"])
    return sbp, np.maximum(dbp, b["dbp_min"])


@dataclass
class Person:
    """Per-person BP traits, fixed for life."""

    level_sbp: np.ndarray  # deviation of the usual level from the population curve
    level_dbp: np.ndarray
    slope_sbp: np.ndarray  # mmHg per decade from age 50
    white_coat_sbp: np.ndarray
    white_coat_dbp: np.ndarray
    response: np.ndarray  # multiplier on drug effects

    @classmethod
    def draw(cls, seed: int, ids: np.ndarray) -> "Person":
        c = _cfg()
        u, cl = c["usual"], c["clinic"]
        z1 = Draws(seed, "bp.level_sbp").normal(ids)
        z2 = Draws(seed, "bp.level_dbp").normal(ids)
        r = u["corr"]
        return cls(
            level_sbp=u["sd_sbp"] * z1,
            level_dbp=u["sd_dbp"] * (r * z1 + np.sqrt(1 - r * r) * z2),
            slope_sbp=u["slope_sd"] * Draws(seed, "bp.slope").normal(ids),
            white_coat_sbp=cl["white_coat_sbp_mean"] + cl["white_coat_sbp_sd"] * Draws(seed, "bp.wc_sbp").normal(ids),
            white_coat_dbp=cl["white_coat_dbp_mean"] + cl["white_coat_dbp_sd"] * Draws(seed, "bp.wc_dbp").normal(ids),
            response=np.exp(c["treatment"]["response_sd"] * Draws(seed, "bp.response").normal(ids)),
        )


def usual(person: Person, age: np.ndarray, male: np.ndarray, bmi: np.ndarray, black: np.ndarray,
          south_asian: np.ndarray, imd: np.ndarray, type2: np.ndarray, ckd: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Untreated usual BP (no white coat) at `age`."""
    c = _cfg()
    u, e = c["usual"], c["effects"]
    s, d = np.empty(len(age)), np.empty(len(age))
    for sex, is_sex in (("male", male), ("female", ~male)):  # each person's curve, not both
        a = age[is_sex]
        s[is_sex] = np.interp(a, u["ages"], u[f"sbp_{sex}"])
        d[is_sex] = np.interp(a, u["ages"], u[f"dbp_{sex}"])
    dev_bmi = bmi - e["bmi_centre"]
    s = (s + person.level_sbp + person.slope_sbp * (age - 50) / 10 + e["sbp_per_bmi"] * dev_bmi
         + e["black_sbp"] * black + e["south_asian_sbp"] * south_asian + e["deprivation_sbp"] * (3 - imd)
         + e["type2_sbp"] * type2 + e["ckd_sbp"] * ckd)
    d = d + person.level_dbp + e["dbp_per_bmi"] * dev_bmi + e["black_dbp"] * black + e["ckd_dbp"] * ckd
    return bound(s, d)


def drug_lowering(usual_sbp: np.ndarray, n_standard: np.ndarray, response: np.ndarray,
                  adherence: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Lowering (mmHg, >= 0) from drugs worth `n_standard` standard doses (Law 2003: a lower dose counts
    for less, see prescribing's dose units), under the person's response and adherence, bounded."""
    t = _cfg()["treatment"]
    extra = np.maximum(usual_sbp - t["law_reference_sbp"], 0) / 10 * t["per_10_above_154_sbp"]
    s = n_standard * (t["standard_sbp"] + extra) * response * adherence
    d = n_standard * t["standard_dbp"] * response * adherence
    cap = t["max_fraction_of_excess"] * np.maximum(usual_sbp - t["floor_sbp"], 0)
    scale = np.where(s > cap, cap / np.maximum(s, 1e-9), 1.0)
    return s * scale, d * scale


def _digits(x: np.ndarray, preferred: np.ndarray) -> np.ndarray:
    return np.where(preferred, np.round(x / 10) * 10, np.round(x))


def clinic_reading(draws: Streams, ids: np.ndarray, step, true_sbp: np.ndarray, true_dbp: np.ndarray,
                   person_wc_sbp: np.ndarray, person_wc_dbp: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One visit's recorded clinic BP (NG136 1.2.2: if the first is >= 140/90 a second is taken and the
    lower recorded). Returns (sbp, dbp, repeated) as whole mmHg. `draws(purpose)` gives the random
    stream for a purpose, asked for by `ids` (a seed's Draws by patient index, or a block's keyed ones)."""
    cl = _cfg()["clinic"]
    th = reference.toml("ng136.toml")["thresholds"]
    z = rng.normals([draws(p) for p in ("bp.visit_sbp", "bp.visit_dbp", "bp.r1s", "bp.r1d", "bp.r2s", "bp.r2d")], ids, step)
    vs = cl["visit_sd_sbp"] * z[0]
    vd = cl["visit_sd_dbp"] * z[1]
    s1 = true_sbp + person_wc_sbp + vs + cl["within_visit_sd_sbp"] * z[2]
    d1 = true_dbp + person_wc_dbp + vd + cl["within_visit_sd_dbp"] * z[3]
    s2 = true_sbp + person_wc_sbp + vs - cl["second_reading_drop_sbp"] + cl["within_visit_sd_sbp"] * z[4]
    d2 = true_dbp + person_wc_dbp + vd + cl["within_visit_sd_dbp"] * z[5]
    manual = draws("bp.manual").uniform(ids, step) < cl["digit_preference"]
    s1, d1 = bound(_digits(s1, manual), _digits(d1, manual))
    s2, d2 = bound(_digits(s2, manual), _digits(d2, manual))
    repeat = (s1 >= th["clinic_sbp"]) | (d1 >= th["clinic_dbp"])
    take_second = repeat & (s2 < s1)
    return np.where(take_second, s2, s1), np.where(take_second, d2, d1), repeat


def arm_reading(sbp: np.ndarray, dbp: np.ndarray, diff: np.ndarray, noise: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The left arm's reading at a visit, from the right arm's (`sbp`, `dbp`): the person's left-minus-right
    systolic `diff` plus the arm's own noise (`noise`, standard normal), the diastolic moving by a share of
    it (data/blood_pressure.toml [both_arms]); whole mmHg, within the bounds."""
    a = _cfg()["both_arms"]
    ds = diff + a["arm_noise_sd"] * noise
    return bound(np.round(sbp + ds), np.round(dbp + a["dbp_ratio"] * ds))


def out_of_clinic(draws: Streams, ids: np.ndarray, step, true_sbp: np.ndarray, true_dbp: np.ndarray,
                  home: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """ABPM daytime mean (or HBPM mean where `home`): the true level, less the usual clinic excess,
    with the averaging noise."""
    cl = _cfg()["clinic"]
    true_sbp = true_sbp - cl["out_of_clinic_offset_sbp"]
    true_dbp = true_dbp - cl["out_of_clinic_offset_dbp"]
    sd_s = np.where(home, cl["hbpm_sd_sbp"], cl["abpm_sd_sbp"])
    sd_d = np.where(home, cl["hbpm_sd_dbp"], cl["abpm_sd_dbp"])
    z = rng.normals([draws("bp.oc_sbp"), draws("bp.oc_dbp")], ids, step)
    s = true_sbp + sd_s * z[0]
    d = true_dbp + sd_d * z[1]
    s, d = bound(np.round(s), np.round(d))
    return s, d
