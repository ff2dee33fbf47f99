"""NICE NG136 decisions as small vectorised functions, each citing its recommendation.

Thresholds come from data/ng136.toml. Inputs are numpy arrays, one entry per patient.
"""

from __future__ import annotations

import numpy as np

from synthgp.core import reference

# Stages (1.2.8 and section 2 table)
NONE, STAGE1, STAGE2, SEVERE = 0, 1, 2, 3
# Drug classes
A, C, D = "A", "C", "D"


def _t() -> dict:
    return reference.toml("ng136.toml")


def clinic_raised(sbp, dbp):
    """Clinic BP at or above 140/90: repeat, then offer ABPM/HBPM (1.2.3)."""
    th = _t()["thresholds"]
    return (sbp >= th["clinic_sbp"]) | (dbp >= th["clinic_dbp"])


def clinic_severe(sbp, dbp):
    """Severe hypertension: systolic >= 180 or diastolic >= 120 (1.5)."""
    th = _t()["thresholds"]
    return (sbp >= th["severe_sbp"]) | (dbp >= th["severe_dbp"])


def confirmed(oc_sbp, oc_dbp):
    """Diagnosis: ABPM daytime or HBPM mean >= 135/85 with a raised clinic BP (1.2.8)."""
    th = _t()["thresholds"]
    return (oc_sbp >= th["out_of_clinic_sbp"]) | (oc_dbp >= th["out_of_clinic_dbp"])


def stage(clinic_sbp, clinic_dbp, oc_sbp, oc_dbp):
    """Stage from clinic and out-of-clinic BP (section 2 table); severe from clinic BP alone."""
    th = _t()["thresholds"]
    s2 = ((oc_sbp >= th["stage2_out_of_clinic_sbp"]) | (oc_dbp >= th["stage2_out_of_clinic_dbp"])
          | (clinic_sbp >= th["stage2_clinic_sbp"]) & (oc_sbp >= th["out_of_clinic_sbp"]))
    out = np.where(confirmed(oc_sbp, oc_dbp), np.where(s2, STAGE2, STAGE1), NONE)
    return np.where(clinic_severe(clinic_sbp, clinic_dbp), SEVERE, out)


def offer_treatment(stage_, age, target_organ_damage, cvd, renal, diabetes, qrisk):
    """Whom to treat (1.4.9-1.4.13). Returns (offer, consider): `offer` is a firm recommendation,
    `consider` a weaker one whose uptake the practice decides (a scenario parameter)."""
    t = _t()["treat"]
    stage2 = stage_ >= STAGE2
    s1 = stage_ == STAGE1
    risk = target_organ_damage | cvd | renal | diabetes | (qrisk >= t["qrisk_threshold"])
    offer = stage2 | (s1 & (age < t["stage1_age_limit"]) & risk)
    consider = s1 & ~offer & (age < t["young_age"])
    return offer, consider


def offer_treatment_over80(stage_, age, clinic_sbp, clinic_dbp):
    """Stage 1 at 80 or over: consider drugs if clinic BP > 150/90 (1.4.13)."""
    t = _t()["treat"]
    return ((stage_ == STAGE1) & (age >= t["stage1_age_limit"])
            & ((clinic_sbp > t["stage1_over80_clinic_sbp"]) | (clinic_dbp > t["stage1_over80_clinic_dbp"])))


def first_line(age, black, type2, heart_failure):
    """Step 1 class (1.4.32-1.4.37): A with type 2 diabetes, or under 55 and not Black; otherwise C;
    D instead of C with heart failure. Returns an array of "A" / "C" / "D"."""
    lim = _t()["first_line"]["a_age_limit"]
    use_a = type2 | ((age < lim) & ~black)
    return np.where(use_a, A, np.where(heart_failure, D, C))


def prefer_arb(black):
    """For people of Black African or African-Caribbean family origin, an ARB over an ACEi (1.4.35)."""
    return np.asarray(black, dtype=bool)


def next_class(on_a, on_c, on_d, black, type2):
    """The class to add at steps 2 and 3 (1.4.41-1.4.45). On A: add C (or D); on C: add A (or D);
    on A + C: add D; on A + C + D: step 4. Returns "A" / "C" / "D" / "4"."""
    out = np.full(len(on_a), "4", dtype=object)
    out[on_a & ~on_c & ~on_d] = C
    out[on_c & ~on_a & ~on_d] = A
    out[on_d & ~on_a & ~on_c] = A
    out[(on_a & on_c) & ~on_d] = D
    out[(on_a & on_d) & ~on_c] = C
    out[(on_c & on_d) & ~on_a] = A
    return out.astype(str)


def step4_drug(potassium):
    """Step 4 (1.4.47-1.4.49): spironolactone if K+ <= 4.5 mmol/L, else an alpha- or beta-blocker."""
    lim = _t()["step4"]["potassium_limit"]
    return np.where(potassium <= lim, "spironolactone", "alpha_or_beta")


def target(age, type1, ckd_acr):
    """Clinic target (1.4.20-1.4.24): below 140/90 under 80, below 150/90 at 80 or over;
    below 130/80 with type 1 diabetes or CKD with ACR >= 70. Returns (sbp, dbp)."""
    tg = _t()["targets"]
    tight = type1 | (ckd_acr >= tg["tight_acr"])
    old = age >= 80
    sbp = np.where(tight, tg["tight_sbp"], np.where(old, tg["over80_sbp"], tg["under80_sbp"]))
    dbp = np.where(tight, tg["tight_dbp"], np.where(old, tg["over80_dbp"], tg["under80_dbp"]))
    return sbp, dbp


def controlled(sbp, dbp, target_sbp, target_dbp):
    """At target: below the clinic target (NICE says "below")."""
    return (sbp < target_sbp) & (dbp < target_dbp)


def qof_controlled(sbp, dbp, age):
    """QOF HYP008/HYP009: latest BP <= 140/90 at 79 or under, <= 150/90 at 80 or over ("or less")."""
    tg = _t()["targets"]
    old = age >= 80
    return (sbp <= np.where(old, tg["over80_sbp"], tg["under80_sbp"])) & (dbp <= np.where(old, tg["over80_dbp"], tg["under80_dbp"]))
