"""Reviews of people diagnosed (NG136 1.4.40-1.4.52, section 5): a BP, side effects first, then
restart, titrate, add or refer when BP is above target; an annual review codes itself and brings
lifestyle and bloods. Clinical inertia, missed appointments and slipping recalls are scenario
parameters.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from synthgp.clinical import ng136
from synthgp.core import dates
from synthgp.core.bank_holidays import to_working_day
from synthgp.engine.sim import YEAR
from synthgp.pathways.hypertension import diagnosis, treatment

if TYPE_CHECKING:
    from synthgp.engine.sim import Month
    from synthgp.pathways.hypertension import Hypertension


def reviews(h: "Hypertension", month: "Month") -> None:
    s, rec, care, act, m = h.s, h.record, h.care, month.act, month.m
    due = act[s.dx[act] & (s.next_review[act] < month.day1)]
    if not len(due):
        return
    # the review's working day (what the record shows it on, and what the decisions are dated)
    rday = h.contacts.weekday(np.clip(np.maximum(s.next_review[due], month.day0), s.ent[due], s.lst[due]), due)
    held, retry = h.contacts.routine(due, rday, "htn.review", m)  # the pandemic postponed routine reviews
    s.next_review[due[~held]] = retry[~held]
    due, rday = due[held], rday[held]
    dna = h.draws("dna").uniform(due, m) < care.did_not_attend * dna_ratio(h, (rday - s.dob[due]) / YEAR)
    rec.observation(due[dna], rday[dna], rec.code("did_not_attend"), obstype=rec.obstype("Observation"))
    s.next_review[due[dna]] = rday[dna] + h.fu["missed_review_rebook_days"]
    rv, rv_day = due[~dna], rday[~dna]
    # the annual review: a year (300 days or more) since the last one, or since diagnosis or joining;
    # the follow-ups of a step-up between them are reviews, not annual reviews
    annual = rv_day - np.maximum(np.maximum(s.dx_day[rv], s.ent[rv]), s.annual_day[rv]) >= 300
    s.annual_day[rv[annual]] = rv_day[annual]
    home = (rv_day >= h.hbpm_start) & (h.draws("review.home").uniform(rv, m) < h.fu["hbpm_review_share"])
    cons = _book(h, rv, rv_day, annual, home, m)
    _, _, age, bmi = h.vitals.usual_at(rv, rv_day)
    sbp, dbp = _reading(h, rv, rv_day, cons, home, m)
    severe = ~home & ng136.clinic_severe(sbp, dbp, rv_day)  # fundoscopy, and the signs of accelerated hypertension
    diagnosis.accelerated(h, rv[severe], rv_day[severe], cons[severe], m, "review")
    rec.observation(rv[annual], rv_day[annual], rec.code("hypertension_annual_review"), cons=cons[annual],
                    obstype=rec.obstype("Observation"))
    h.vitals.lifestyle(rv[annual], rv_day[annual], bmi[annual], cons[annual])
    _bloods(h, rv[annual], rv_day[annual])
    # a standing reading at the annual review in diabetes and at 80+ (1.4.16), and at every clinic review once
    # postural hypotension is found: then the target is judged on the standing BP
    post = ~home & diagnosis.postural_due(h, rv, rv_day, age) & (annual | s.postural_hypo[rv])
    st_s, st_d = diagnosis.postural(h, rv, rv_day, sbp, dbp, cons, post)
    with np.errstate(invalid="ignore"):
        drop = post & ((sbp - st_s >= h.postural["hypotension_sbp"]) | (dbp - st_d >= h.postural["hypotension_dbp"]))
    s.postural_hypo[rv[drop]] = True
    # the ACR that tightens the target is the latest one measured (NaN if never)
    tgt_s, tgt_d = ng136.target(age, s.rf_type1[rv], s.sample_acr[rv], rv_day)
    oc_s, oc_d = ng136.target_out_of_clinic(age, s.rf_type1[rv], s.sample_acr[rv], rv_day)
    tgt_s, tgt_d = np.where(home, oc_s, tgt_s), np.where(home, oc_d, tgt_d)  # home readings, home targets
    ok = ng136.controlled(np.where(drop, st_s, sbp), np.where(drop, st_d, dbp), tgt_s, tgt_d)
    on_any = h.rx.on_any(rv)  # before today's changes
    switched = _side_effects(h, rv, rv_day, cons)  # a drug changed for a side effect is the day's change
    # a patient who stopped is found out (their BP is back up): restarted, not stepped up on a reading
    # taken off treatment (1.4.40: adherence before escalation)
    off_treatment = s.rx_stopped[rv].copy()
    back = np.flatnonzero(off_treatment & ~ok)  # indices into rv
    back = back[h.draws("restart").uniform(rv[back], m) < care.restart_after_stopping]
    restart, restart_day = rv[back], rv_day[back]
    h.decide(restart, restart_day, "restart", None, "1.4.40 adherence discussed")
    h.rx.restart(restart, restart_day)
    treatment.potassium_on_restart(h, restart, restart_day, m)
    uncontrolled = ~ok & ~off_treatment
    inert = uncontrolled & (h.draws("inertia").uniform(rv, m) < care.inertia)
    h.decide(rv[inert], rv_day[inert], "no_change", None, "inertia")
    act_on = uncontrolled & ~inert
    # untreated: (re)offer
    start = np.flatnonzero(act_on & ~on_any)  # indices into rv
    start = start[h.draws("reoffer").uniform(rv[start], m) >= care.decline_treatment]
    treatment.start_first_line(h, rv[start], rv_day[start])
    up = act_on & on_any & ~switched  # the switch is judged at the follow-up before anything is added
    not_resistant = _step_up(h, rv[up], rv_day[up], m, (sbp[up], dbp[up], cons[up]))
    slip = np.round(h.draws("review.slip").exponential(rv, care.review_delay_mean_days, m)).astype(np.int64)
    yearly = ok | inert | np.isin(rv, not_resistant)  # at target out of clinic: reviewed as controlled
    s.next_review[rv] = np.where(yearly, rv_day + h.fu["annual_review_days"] + slip, rv_day + h.fu["step_up_days"])


def dna_ratio(h: "Hypertension", age: np.ndarray) -> np.ndarray:
    """How much more often than the scenario's care.did_not_attend a review is missed at `age` (data/ng136.toml
    [did_not_attend_by_age]: the rate ratio of the age band)."""
    d = h.dna_by_age
    return np.asarray(d["rate_ratio"])[np.searchsorted(d["age_from"], age, side="right") - 1]


def _reading(h: "Hypertension", rv, rv_day, cons, home, m: int) -> tuple[np.ndarray, np.ndarray]:
    """The review's BP: a clinic reading, or the mean of the home readings the patient sent in."""
    sbp, dbp = np.empty(len(rv)), np.empty(len(rv))
    sbp[~home], dbp[~home], _, _ = h.vitals.measure(rv[~home], rv_day[~home], cons[~home], 7 * m + 3)
    sbp[home], dbp[home] = h.vitals.out_of_clinic(rv[home], rv_day[home], 7 * m + 3, np.ones(int(home.sum()), dtype=bool))
    return sbp, dbp


def _book(h: "Hypertension", rv: np.ndarray, rv_day: np.ndarray, annual: np.ndarray, home: np.ndarray, m: int) -> np.ndarray:
    """The review's consultation: an annual review with a healthcare assistant (their share rising over
    the years, data/ng136.toml [review_staff]) or a practice nurse; a follow-up after a change with a GP.
    A review on home readings is by telephone."""
    st = h.staffing
    year = dates.year_of(rv_day) + (dates.month_of(rv_day) - 1) / 12
    p_hca = np.interp(year, st["hca_years"], st["hca_share"])
    c = h.contacts
    has_hca = c.staff_count[c.s.practice[rv], c.jobs.index("hca")] > 0  # a small practice may have none
    hca = annual & has_hca & (h.draws("review.hca").uniform(rv, m) < p_hca)
    cons = np.empty(len(rv), dtype=np.int64)
    for sel, job, purpose, source in ((~annual, "gp", "review", "Face to face consultation"),
                                      (annual & ~hca, "nurse", "review.nurse", "Clinic"),
                                      (hca, "hca", "review.hca", "Clinic")):
        cons[sel & ~home] = h.contacts.book(rv[sel & ~home], rv_day[sel & ~home], job, purpose, m, source)
        cons[sel & home] = h.contacts.book(rv[sel & home], rv_day[sel & home], job, purpose, m, "Telephone consultation")
    return cons


def _bloods(h: "Hypertension", pos: np.ndarray, day: np.ndarray) -> None:
    """Urea and electrolytes at every annual review; lipids, HbA1c and ACR too when a year has passed."""
    s = h.s
    due = day - s.full_bloods_day[pos] >= h.staffing["full_bloods_days"]
    h.labs.sample(pos, day, due)
    s.full_bloods_day[pos[due]] = day[due]


def _side_effects(h: "Hypertension", rv: np.ndarray, rv_day: np.ndarray, cons: np.ndarray) -> np.ndarray:
    """ACE-inhibitor cough: switch to an ARB (1.4.34); CCB oedema: stop it and add a diuretic (1.4.36).
    Returns which of `rv` had their treatment changed."""
    s, rec, meds = h.s, h.record, h.rx.meds
    cough = s.cough_pending[rv] & (s.rx_drug[rv, 0] == meds.index["ramipril"])
    cg, cg_day = rv[cough], rv_day[cough]
    if len(cg):
        rec.observation(cg, cg_day, rec.code("cough"), cons=cons[cough], obstype=rec.obstype("Symptom"))
        level = np.minimum(s.rx_level[cg, 0], meds.max_level[meds.index["losartan"]])
        h.rx.set_drug(cg, "A", meds.index["losartan"], np.minimum(level, 1), cg_day)
        h.decide(cg, cg_day, "switch", "losartan", "1.4.34 ACEi cough: ARB")
    s.cough_pending[rv] = False
    oedema = s.oedema_pending[rv] & (s.rx_drug[rv, 1] >= 0)
    oe, oe_day = rv[oedema], rv_day[oedema]
    if len(oe):
        rec.observation(oe, oe_day, rec.code("oedema"), cons=cons[oedema], obstype=rec.obstype("Symptom"))
        h.rx.stop_slot(oe, "C")
        s.no_ccb[oe] = True  # not added back at the next step
        no_d = s.rx_drug[oe, 2] < 0
        treatment.add_class(h, oe[no_d], "D", oe_day[no_d], "1.4.36 CCB not tolerated: diuretic")
    s.oedema_pending[rv] = False
    return cough | oedema


def _step_up(h: "Hypertension", tr: np.ndarray, tr_day: np.ndarray, m: int, seated: tuple) -> np.ndarray:
    """Treated but above target: titrate the newest drug first (1.4.44), then add a class (1.4.41-1.4.45),
    then step 4 once resistant hypertension is confirmed, then refer (1.4.52). Returns those found at
    target out of clinic (not resistant)."""
    s, meds = h.s, h.rx.meds
    newest = np.argmax(np.where(s.rx_drug[tr] >= 0, s.rx_course[tr], -1), axis=1)
    cur = s.rx_drug[tr, newest]
    can_titrate = s.rx_level[tr, newest] < meds.max_level[np.maximum(cur, 0)]
    t_pos, t_slot, t_day = tr[can_titrate], newest[can_titrate], tr_day[can_titrate]
    bloods: list[treatment.Monitoring] = []  # those titrated and those given a drug: one batch of samples
    for k in range(4):
        sel, sd = t_pos[t_slot == k], t_day[t_slot == k]
        if len(sel):
            h.rx.titrate(sel, k, sd)
            h.decide(sel, sd, "titrate", np.asarray(meds.names, dtype=object)[s.rx_drug[sel, k]], "1.4.44 optimal dose before adding")
            if k == 0:
                bloods.append((sel, sd, "monitor.t", m))
    add_pos, add_day = tr[~can_titrate], tr_day[~can_titrate]
    due4, on_s4 = treatment.step_up(h, add_pos, add_day, bloods=bloods)
    treatment.monitor_all(h, bloods)
    if due4.any():
        sbp, dbp, cons = (x[~can_titrate][due4] for x in seated)
        s4, s4_day, not_resistant = _confirm_resistant(h, add_pos[due4], add_day[due4], m, sbp, dbp, cons)
        got = h.labs.sample(s4, s4_day, False) if len(s4) else {"k": np.empty(0), "egfr": np.empty(0)}
        treatment.step4(h, s4, s4_day, got["k"], got["egfr"], m)
    else:
        not_resistant = np.empty(0, dtype=np.int64)
    ref = on_s4 & ~s.referred[add_pos]
    s.referred[add_pos[ref]] = True
    treatment.refer(h, add_pos[ref], add_day[ref], 1, "1.4.52 uncontrolled on four drugs")
    return not_resistant


def _confirm_resistant(h: "Hypertension", pos: np.ndarray, day: np.ndarray, m: int, sbp, dbp, cons) -> tuple[np.ndarray, ...]:
    """Before step 4 (NG136 1.4.46-1.4.47; CG127 1.7.1): confirm resistant hypertension out of clinic
    (ABPM, or HBPM), once, with a standing reading and a medication review (adherence) at the review. A mean below the out-of-clinic target (5 mmHg under the clinic one) is not
    resistant hypertension: no fourth drug. Confirmed, it is coded and step 4 follows when the reading
    is back. Before CG127 (no ABPM) step 4 followed the clinic readings. Returns (positions, days) for
    step 4, and the positions found not resistant."""
    s, rec = h.s, h.record
    need = ng136.abpm_required(day) & ~s.resistant[pos]
    diagnosis.postural(h, pos, day, sbp, dbp, cons, need)
    # adherence discussed at the same review (1.4.47), coded as the medication review it is held in
    rec.observation(pos[need], day[need], rec.code("medication_review"), cons=cons[need], obstype=rec.obstype("Observation"))
    # the ABPM/HBPM result is read, and step 4's bloods drawn, on a working day
    oc, oc_day = pos[need], to_working_day(day[need] + 7 + h.draws("resistant.day").integers(pos[need], 15, m))
    home = h.draws("resistant.home").uniform(oc, m) < h.care.hbpm_share
    os_, od = h.vitals.out_of_clinic(oc, oc_day, 7 * m + 6, home)
    age = (oc_day - s.dob[oc]) / YEAR
    tgt_s, tgt_d = ng136.target(age, s.rf_type1[oc], s.sample_acr[oc], oc_day)
    off = h.th["clinic_sbp"] - h.th["out_of_clinic_sbp"]
    resistant = ~ng136.controlled(os_, od, tgt_s - off, tgt_d - off)
    h.decide(oc[~resistant], oc_day[~resistant], "no_change", None, "1.4.46 ABPM/HBPM at target: not resistant")
    rs, rs_day = oc[resistant], oc_day[resistant]
    s.resistant[rs] = True
    rec.observation(rs, rs_day, rec.code("hypertension_resistant"), obstype=rec.obstype("Observation"))
    return np.concatenate([pos[~need], rs]), np.concatenate([day[~need], rs_day]), oc[~resistant]
