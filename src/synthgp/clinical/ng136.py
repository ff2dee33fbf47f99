"""NICE NG136 decisions as small vectorised functions, each citing its recommendation, and the
guidance before it: every rule takes the day, and its numbers are those of the era that held then
(clinical/eras.py: CG18, CG34, CG127, NG136).

Thresholds come from data/ng136.toml, overridden era by era in data/eras.toml. Inputs are numpy
arrays, one entry per patient; `day` is one day number for all or one per patient.
"""

from __future__ import annotations

import numpy as np

from synthgp.clinical import eras

# Stages (1.2.8 and section 2 table)
NONE, STAGE1, STAGE2, SEVERE = 0, 1, 2, 3
# Drug classes
A, C, D = "A", "C", "D"


def _th(key: str, day):
    return eras.param("thresholds", key, day)


def abpm_required(day):
    """Whether ABPM (or HBPM) confirms the diagnosis (CG127 1.2.3 on, NG136 1.2.3); before August 2011
    raised clinic readings at a repeat visit did (CG18, CG34)."""
    return eras.flag("abpm_required", day)


def nice2011_codes(day):
    """Whether the "(NICE 2011)" stage codes existed (from CG127, August 2011)."""
    return eras.flag("nice2011_stage_codes", day)


def both_arms(day):
    """Whether a first measurement takes both arms (from CG34, 2006; NG136 1.2.3)."""
    return eras.flag("both_arms", day)


def arm_difference(day):
    """The inter-arm systolic difference above which both arms are measured again, and if it remains, the
    higher arm used thereafter: 20 mmHg under CG127, 15 under NG136 (1.2.3-1.2.4)."""
    return eras.flag("arm_difference", day)


def clinic_raised(sbp, dbp, day):
    """Clinic BP at or above 140/90: repeat, then offer ABPM/HBPM (1.2.3)."""
    return (sbp >= _th("clinic_sbp", day)) | (dbp >= _th("clinic_dbp", day))


def clinic_severe(sbp, dbp, day):
    """Severe hypertension: systolic >= 180 or diastolic >= 120 (NG136 1.5); >= 180/110 before (CG127)."""
    return (sbp >= _th("severe_sbp", day)) | (dbp >= _th("severe_dbp", day))


def confirmed(oc_sbp, oc_dbp, day):
    """Diagnosis: ABPM daytime or HBPM mean >= 135/85 with a raised clinic BP (1.2.8); before ABPM,
    the repeat clinic reading at 140/90."""
    return (oc_sbp >= _th("out_of_clinic_sbp", day)) | (oc_dbp >= _th("out_of_clinic_dbp", day))


def stage(clinic_sbp, clinic_dbp, oc_sbp, oc_dbp, day):
    """Stage (section 2 table): stage 2 needs clinic >= 160/100 and ABPM/HBPM >= 150/95; severe from
    clinic BP alone."""
    s2 = (((clinic_sbp >= _th("stage2_clinic_sbp", day)) | (clinic_dbp >= _th("stage2_clinic_dbp", day)))
          & ((oc_sbp >= _th("stage2_out_of_clinic_sbp", day)) | (oc_dbp >= _th("stage2_out_of_clinic_dbp", day))))
    out = np.where(confirmed(oc_sbp, oc_dbp, day), np.where(s2, STAGE2, STAGE1), NONE)
    return np.where(clinic_severe(clinic_sbp, clinic_dbp, day), SEVERE, out)


def offer_treatment(stage_, age, target_organ_damage, cvd, renal, diabetes, qrisk, day):
    """Whom to treat (1.4.9-1.4.13). Returns (offer, consider): `offer` is a firm recommendation,
    `consider` a weaker one whose uptake the practice decides (a scenario parameter). Before NG136 the
    risk threshold was a 10-year CVD risk of 20%, CG18/CG34 set no upper age, and there was no
    "consider" under 60."""
    stage2 = stage_ >= STAGE2
    s1 = stage_ == STAGE1
    risk = target_organ_damage | cvd | renal | diabetes | (qrisk >= eras.param("treat", "qrisk_threshold", day))
    offer = stage2 | (s1 & (age < eras.param("treat", "stage1_age_limit", day)) & risk)
    consider = s1 & ~offer & (age < eras.param("treat", "young_age", day))
    return offer, consider


def offer_treatment_over80(stage_, age, clinic_sbp, clinic_dbp, day):
    """Stage 1 at 80 or over: consider drugs if clinic BP > 150/90 (NG136 1.4.13; not before NG136)."""
    p = lambda k: eras.param("treat", k, day)  # noqa: E731
    return ((stage_ == STAGE1) & (age >= p("stage1_age_limit")) & p("over80_consider").astype(bool)
            & ((clinic_sbp > p("stage1_over80_clinic_sbp")) | (clinic_dbp > p("stage1_over80_clinic_dbp"))))


def first_line(age, black, type2, heart_failure, day, type1=None):
    """Step 1 class (1.4.32-1.4.37): A with type 2 diabetes, or under 55 and not Black; otherwise C;
    D instead of C with heart failure. With type 1 diabetes a renin-angiotensin blocker (A) first (NG17
    1.9.x; CG15 before it). Before CG127 the older (or Black) person's first line was the thiazide
    (CG34: C or D; CG18: a thiazide for all). Returns an array of "A" / "C" / "D"."""
    lim = eras.param("first_line", "a_age_limit", day)
    use_a = type2 | ((age < lim) & ~black)
    if type1 is not None:
        use_a = use_a | type1
    older = np.broadcast_to(eras.flag("first_line_older", day), np.shape(use_a))
    return np.where(use_a, A, np.where(heart_failure, D, older))


def thiazide(day) -> np.ndarray:
    """The diuretic a D start was on each day: bendroflumethiazide under CG18 and CG34, a thiazide-like
    diuretic (indapamide) from CG127 on. Someone already taking bendroflumethiazide stays on it."""
    return eras.flag("thiazide", day)


def prefer_arb(black, day):
    """For people of Black African or African-Caribbean family origin, an ARB over an ACEi (NG136
    1.4.35; an ACE inhibitor before NG136)."""
    return np.asarray(black, dtype=bool) & eras.flag("arb_for_black", day)


def next_class(on_a, on_c, on_d, black, type2, day, no_c=None, no_a=None):
    """The class to add at steps 2 and 3 (1.4.41-1.4.45). On A: add C (or D); on C: add A (or D);
    on A + C: add D; on A + C + D: step 4. A class the person did not tolerate (`no_c`: a CCB stopped
    for oedema, 1.4.36; `no_a`: an ACEi/ARB stopped for hyperkalaemia or a fall in eGFR) is not added
    back: the next class instead, or step 4. The steps are the same in every era from CG34 (the A/C/D
    algorithm). Returns "A" / "C" / "D" / "4"."""
    n = len(on_a)
    has_c = on_c | (np.zeros(n, bool) if no_c is None else no_c)  # a class not tolerated counts as tried
    has_a = on_a | (np.zeros(n, bool) if no_a is None else no_a)
    out = np.full(n, "4", dtype=object)
    out[has_a & ~has_c & ~on_d] = C
    out[has_c & ~has_a & ~on_d] = A
    out[on_d & ~has_a & ~has_c] = A
    out[(has_a & has_c) & ~on_d] = D
    out[(has_a & on_d) & ~has_c] = C
    out[(has_c & on_d) & ~has_a] = A
    out[~has_a & ~has_c & ~on_d] = A
    return out.astype(str)


def step4_drug(potassium, day):
    """Step 4 (1.4.47-1.4.49): spironolactone if K+ <= 4.5 mmol/L, else an alpha- or beta-blocker."""
    lim = eras.param("step4", "potassium_limit", day)
    return np.where(potassium <= lim, "spironolactone", "alpha_or_beta")


def acei_arb_unsafe(potassium, egfr, egfr_before, day):
    """Stop or reduce an ACEi/ARB if serum potassium rises above 6.0 mmol/L or eGFR falls by 25% or
    more from before it (NICE CKD guidance and the BNF; ng136.md section 5). A missing earlier eGFR
    counts as no fall."""
    m = eras.param("monitoring", "potassium_stop", day)
    fall = eras.param("monitoring", "egfr_fall_stop", day)
    with np.errstate(invalid="ignore"):
        return (potassium > m) | (np.nan_to_num(egfr_before, nan=0.0) > 0) & (egfr <= (1 - fall) * egfr_before)


def target(age, type1, ckd_acr, day):
    """Clinic target (1.4.20-1.4.24): below 140/90 under 80, below 150/90 at 80 or over (140/90 at any
    age before CG127); below 130/80 with CKD and ACR >= 70. Type 1 diabetes follows NG17: below 135/85,
    or 130/80 with albuminuria. The ACR is a measured one: NaN, never measured, is not raised.
    Returns (sbp, dbp)."""
    p = lambda k: eras.param("targets", k, day)  # noqa: E731
    acr = np.nan_to_num(np.asarray(ckd_acr, dtype=float), nan=0.0)
    tight = (acr >= p("tight_acr")) | (type1 & (acr >= p("type1_albuminuria_acr")))
    t1 = type1 & ~tight
    old = age >= 80
    sbp = np.where(tight, p("tight_sbp"), np.where(t1, p("type1_sbp"), np.where(old, p("over80_sbp"), p("under80_sbp"))))
    dbp = np.where(tight, p("tight_dbp"), np.where(t1, p("type1_dbp"), np.where(old, p("over80_dbp"), p("under80_dbp"))))
    return sbp, dbp


def target_out_of_clinic(age, type1, ckd_acr, day):
    """ABPM/HBPM target (section 5 table): the clinic target less the out-of-clinic offset (5 mmHg
    systolic and diastolic; 135/85 under 80, 145/85 at 80 and over). Returns (sbp, dbp)."""
    sbp, dbp = target(age, type1, ckd_acr, day)
    off_s = eras.param("thresholds", "clinic_sbp", day) - eras.param("thresholds", "out_of_clinic_sbp", day)
    off_d = eras.param("thresholds", "clinic_dbp", day) - eras.param("thresholds", "out_of_clinic_dbp", day)
    return sbp - off_s, dbp - off_d


def controlled(sbp, dbp, target_sbp, target_dbp):
    """At target: below the clinic target (NICE says "below")."""
    return (sbp < target_sbp) & (dbp < target_dbp)


def qof_controlled(sbp, dbp, age, day):
    """QOF HYP008/HYP009: latest BP <= 140/90 at 79 or under, <= 150/90 at 80 or over ("or less")."""
    p = lambda k: eras.param("targets", k, day)  # noqa: E731
    old = age >= 80
    return (sbp <= np.where(old, p("over80_sbp"), p("under80_sbp"))) & (dbp <= np.where(old, p("over80_dbp"), p("under80_dbp")))
