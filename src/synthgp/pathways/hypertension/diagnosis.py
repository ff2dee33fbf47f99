"""Finding hypertension (NG136 1.2): BP checks, a raised or severe reading followed up, ABPM or HBPM
to confirm, and the diagnosis with its tests, risk score and the decision whom to treat (1.3, 1.4.9-14).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from synthgp.clinical import bp, ng136
from synthgp.engine.sim import YEAR
from synthgp.pathways.hypertension import treatment

if TYPE_CHECKING:
    from synthgp.engine.sim import Month
    from synthgp.pathways.hypertension import Hypertension

NEVER = np.iinfo(np.int64).max // 4


def _young_ramp(h: "Hypertension", age: np.ndarray) -> np.ndarray:
    """Opportunistic checking rises from `bp_check_young_factor` at 18 to full at the overdue age."""
    care = h.care
    f = np.clip((age - 18) / (care.bp_check_overdue_from_age - 18), 0, 1)
    return care.bp_check_young_factor + (1 - care.bp_check_young_factor) * f


def opportunistic(h: "Hypertension", month: "Month") -> None:
    """At this month's face-to-face consultations: whom to check (overdue, recently raised, diabetic,
    or by chance), and a re-check of some who are known hypertensive."""
    s, care, c, m = h.s, h.care, month.consults, month.m
    since = c.day - s.last_bp[c.pos]
    older = c.age >= care.bp_check_overdue_from_age
    p_check = np.where(older & (since >= 5 * YEAR), care.bp_check_if_overdue,
                       np.where(c.day - s.last_raised[c.pos] <= YEAR, care.recheck_after_raised,
                                care.bp_check_opportunistic * _young_ramp(h, c.age)))
    diabetic = s.known_type2[c.pos] <= c.day
    p_check = np.where(diabetic & (since >= 300), care.diabetes_review_bp, p_check)
    check = ~s.dx[c.pos] & ~c.remote & (h.draws("check").uniform(c.pos, m) < p_check)
    h.checks = (c.pos[check], c.day[check], c.key[check])
    known = s.dx[c.pos] & ~c.remote & (h.draws("check.dx").uniform(c.pos, m) < care.bp_check_diagnosed)
    if known.any():
        h.vitals.measure(c.pos[known], c.day[known], c.key[known], 7 * m + 4)


def follow_up_readings(h: "Hypertension", month: "Month") -> None:
    """This month's readings in people not diagnosed (opportunistic, other programmes', after an event):
    a severe one repeated within a week (1.5.3), a raised one confirmed out of clinic (1.2.3)."""
    s, m, act = h.s, month.m, month.act
    pos, day, cons = h.checks
    sbp, dbp, _, _ = h.vitals.measure(pos, day, cons, 7 * m)
    # after a cardiovascular event, someone not known to be hypertensive has their BP checked
    pe = act[(s.post_event_check[act] >= month.day0) & (s.post_event_check[act] < month.day1) & ~s.dx[act]]
    pe_day = np.clip(s.post_event_check[pe], s.ent[pe], s.lst[pe])
    s.post_event_check[pe] = NEVER
    pe_cons = h.contacts.book(pe, pe_day, "gp", "post_event", m, "Face to face consultation")
    pe_s, pe_d, _, _ = h.vitals.measure(pe, pe_day, pe_cons, 7 * m + 5)
    readings = [(pos, day, sbp, dbp), *month.bp_screens, (pe, pe_day, pe_s, pe_d)]
    r_pos, r_day, r_s, r_d = (np.concatenate(x) for x in zip(*readings))
    keep = ~s.dx[r_pos]
    r_pos, r_day, r_s, r_d = r_pos[keep], r_day[keep], r_s[keep], r_d[keep]
    _, first = np.unique(r_pos, return_index=True)  # one reading a person: the first
    r_pos, r_day, r_s, r_d = r_pos[first], r_day[first], r_s[first], r_d[first]

    severe = ng136.clinic_severe(r_s, r_d, r_day)
    sv = r_pos[severe]
    sv_day = r_day[severe] + 1 + h.draws("severe.repeat").integers(sv, 7, m)
    sv_cons = h.contacts.book(sv, sv_day, "nurse", "severe", m, "Clinic")
    s2r, d2r, s2, d2 = h.vitals.measure(sv, sv_day, sv_cons, 7 * m + 2)
    still = ng136.clinic_severe(s2r, d2r, sv_day)
    accelerated(h, sv[still], sv_day[still], sv_cons[still], m, "dx")
    severe_dx = (sv[still], sv_day[still], s2r[still], d2r[still], s2[still] + 0.0, d2[still] + 0.0)

    first_raised = ~severe & ng136.clinic_raised(r_s, r_d, r_day)
    repeat_raised = ~still & ng136.clinic_raised(s2r, d2r, sv_day)
    raised = np.concatenate([r_pos[first_raised], sv[repeat_raised]])
    raised_day = np.concatenate([r_day[first_raised], sv_day[repeat_raised]])
    raised_s = np.concatenate([r_s[first_raised], s2r[repeat_raised]])
    raised_d = np.concatenate([r_d[first_raised], d2r[repeat_raised]])
    s.last_raised[raised] = raised_day
    confirmed = _out_of_clinic(h, raised, raised_day, raised_s, raised_d, m)
    # those diagnosed on a repeated severe reading and those confirmed out of clinic are different people:
    # one diagnosis step for both
    diagnose(h, *(np.concatenate(x) for x in zip(severe_dx, confirmed)), m)


def accelerated(h: "Hypertension", pos: np.ndarray, day, cons: np.ndarray, m: int, where: str) -> np.ndarray:
    """Fundoscopy at a severe clinic reading (180/120 or more; 180/110 before NG136) (1.5.3); retinal haemorrhage,
    with papilloedema in some, found with a fitted probability (data/ng136.toml [accelerated]): the finding and
    accelerated (malignant) hypertension coded at the visit, and a same-day referral (1.5.1). Returns a mask of
    `pos`: those referred."""
    rec, a = h.record, h.accel
    rec.observation(pos, day, rec.code("fundoscopy"), cons=cons, obstype=rec.obstype("Investigation"))
    found = h.draws(f"accelerated.{where}").uniform(pos, m) < a["finding_probability"]
    f, f_day, f_cons = pos[found], np.broadcast_to(day, len(pos))[found], cons[found]
    pap = h.draws(f"papilloedema.{where}").uniform(f, m) < a["papilloedema_share"]
    for key, sel in (("retinal_haemorrhage", slice(None)), ("papilloedema", pap)):
        rec.observation(f[sel], f_day[sel], rec.code(key), cons=f_cons[sel], obstype=rec.obstype("Observation"))
    rec.observation(f, f_day, rec.code("hypertension_malignant"), cons=f_cons, obstype=rec.obstype("Observation"))
    treatment.refer(h, f, f_day, 3, "1.5.1 accelerated hypertension: same-day referral")
    return found


def _out_of_clinic(h: "Hypertension", raised, raised_day, raised_s, raised_d, m: int) -> tuple[np.ndarray, ...]:
    """ABPM, or HBPM, one to three weeks after a raised reading (when the practice arranges it); a
    confirmed diagnosis within a week of it. Before CG127 (August 2011) there was no ABPM: a repeat
    clinic reading at a nurse's clinic confirmed it (CG18, CG34). Returns those confirmed, as
    `diagnose` takes them: (positions, day, clinic SBP and DBP, out-of-clinic SBP and DBP)."""
    done = h.draws("oc.done").uniform(raised, m) < h.care.out_of_clinic_done
    oc = raised[done]
    oc_day = raised_day[done] + 7 + h.draws("oc.day").integers(oc, 15, m)
    home = h.draws("oc.home").uniform(oc, m) < h.care.hbpm_share
    abpm = ng136.abpm_required(raised_day[done])
    os_, od = np.empty(len(oc)), np.empty(len(oc))
    os_[abpm], od[abpm] = h.vitals.out_of_clinic(oc[abpm], oc_day[abpm], m, home[abpm])
    clinic = oc[~abpm]
    cons = h.contacts.book(clinic, oc_day[~abpm], "nurse", "repeat", m, "Clinic")
    os_[~abpm], od[~abpm], _, _ = h.vitals.measure(clinic, oc_day[~abpm], cons, 7 * m + 6)
    conf = ng136.confirmed(os_, od, raised_day[done])
    dx_day = oc_day[conf] + h.draws("dx.delay").integers(oc[conf], 7, m)
    return oc[conf], dx_day, raised_s[done][conf], raised_d[done][conf], os_[conf], od[conf]


def diagnose(h: "Hypertension", pos, day, clinic_s, clinic_d, oc_s, oc_d, step) -> None:
    """NG136 1.2.8 onwards: code the stage, tests (1.3.3), QRISK3 (1.3.2), whom to treat (1.4.9-1.4.13); not for
    someone who died or left before the day of diagnosis (a confirmation due after it)."""
    here = day <= h.s.lst[pos]
    pos, day, clinic_s, clinic_d, oc_s, oc_d = pos[here], day[here], clinic_s[here], clinic_d[here], oc_s[here], oc_d[here]
    if not len(pos):
        return
    s, rec, care = h.s, h.record, h.care
    st = ng136.stage(clinic_s, clinic_d, oc_s, oc_d, day)
    st = np.where(st == ng136.NONE, ng136.STAGE1, st)
    s.dx[pos], s.dx_day[pos], s.stage[pos] = True, day, st
    cons = h.contacts.book(pos, day, "gp", "dx", step, "Face to face consultation")
    lab_day = np.maximum(day - 3 - h.draws("tod.delay").integers(pos, 5, step), s.ent[pos])
    lab = h.labs.sample(pos, lab_day, True)
    s.full_bloods_day[pos] = lab_day
    rec.observation(pos, lab_day, rec.code("ecg"), obstype=rec.obstype("Investigation"))
    fundo = st != ng136.SEVERE  # the severe had theirs at the reading that confirmed it (`accelerated`)
    rec.observation(pos[fundo], day[fundo], rec.code("fundoscopy"), cons=cons[fundo], obstype=rec.obstype("Investigation"))
    tod = (lab["egfr"] < 60) | (lab["acr"] >= 3)
    h.rx.link_problem(pos, rec.diagnosis(pos, day, stage_code(h, st, tod, day), cons=cons))
    _, _, age, bmi = h.vitals.usual_at(pos, day)
    postural(h, pos, day, clinic_s, clinic_d, cons, postural_due(h, pos, day, age))
    h.vitals.lifestyle(pos, day, bmi, cons)
    score = np.zeros(len(pos))
    scored, ok = h.sim.risk.cvd_risk(pos, day, clinic_s, lab, bmi)
    score[ok] = scored
    # established CVD counts heart failure, and diabetes type 1 as well as type 2 (1.4.10)
    cvd = (s.stroke_day[pos] >= 0) | (s.mi_day[pos] >= 0) | ((s.heart_failure_day[pos] >= 0) & (s.heart_failure_day[pos] <= day))
    diabetes = (s.known_type2[pos] <= day) | s.rf_type1[pos]
    offer, consider = ng136.offer_treatment(st, age, tod, cvd, s.known_ckd[pos] <= day, diabetes, score, day)
    consider |= ng136.offer_treatment_over80(st, age, clinic_s, clinic_d, day)
    treat = offer | (consider & (h.draws("treat").uniform(pos, step) < care.consider_uptake))
    declines = treat & (h.draws("decline").uniform(pos, step) < care.decline_treatment)
    start_now = treat & ~declines
    s.declined[pos[declines]] = True
    h.decide(pos[declines], day[declines], "declined", None, "decline_treatment")
    h.decide(pos[~treat], day[~treat], "lifestyle", None, "1.4.12/1.4.13 not offered")
    treatment.start_first_line(h, pos[start_now], day[start_now])
    s.next_review[pos] = np.where(start_now, day + h.fu["step_up_days"], day + h.fu["annual_review_days"])
    young = pos[(age < 40) & (h.draws("young.ref").uniform(pos, step) < care.refer_under40)]
    treatment.refer(h, young, s.dx_day[young], 1, "1.4.14 under 40: secondary causes")


def stage_code(h: "Hypertension", st: np.ndarray, tod: np.ndarray, day) -> np.ndarray:
    """The diagnosis code: the "(NICE 2011)" stage codes from CG127 (August 2011) on, with target-organ
    damage at stage 1; before them, essential hypertension (the stage codes did not exist yet)."""
    rec = h.record
    staged = np.select([st == ng136.SEVERE, st == ng136.STAGE2, tod],
                       rec.codes("hypertension_severe", "hypertension_stage2", "hypertension_stage1_organ_damage"),
                       rec.code("hypertension_stage1"))
    return np.where(ng136.nice2011_codes(day), staged, rec.code("essential_hypertension"))


def postural_due(h: "Hypertension", pos: np.ndarray, day, age: np.ndarray) -> np.ndarray:
    """Whom NG136 1.1.6 asks to have a standing BP: type 2 diabetes, or aged 80 and over."""
    return (h.s.known_type2[pos] <= day) | (age >= h.postural["age_from"])


def postural(h: "Hypertension", pos: np.ndarray, day, sbp: np.ndarray, dbp: np.ndarray, cons: np.ndarray,
             due: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A standing BP after the seated one, for those `due` (1.1.6): the seated reading less their own fall,
    inside the physiological bounds every reading keeps (clinical/bp.py). Returns the standing (SBP, DBP)
    for each of `pos` (NaN where not taken)."""
    sel = pos[due]
    ds, dd = h.postural_drop(sel)
    st_s, st_d = bp.bound(np.round(sbp[due] - ds), np.round(dbp[due] - dd))
    h.record.blood_pressure(sel, np.broadcast_to(day, len(pos))[due], st_s, st_d, cons[due], "standing")
    out_s, out_d = np.full(len(pos), np.nan), np.full(len(pos), np.nan)
    out_s[due], out_d[due] = st_s, st_d
    return out_s, out_d
