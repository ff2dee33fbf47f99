"""What the record holds about hypertension when a person joins it: a diagnosis made before (with
its original date, before registration if it came with the records), the regimen they were on (its last repeats issued before entry), and their last
BP check.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from synthgp.clinical import ng136
from synthgp.core import dates, reference
from synthgp.engine.services.prescribing import SLOTS
from synthgp.engine.sim import YEAR
from synthgp.pathways.hypertension import diagnosis, treatment

if TYPE_CHECKING:
    from synthgp.pathways.hypertension import Hypertension


def at_entry(h: "Hypertension") -> None:
    """Those hypertensive at entry were diagnosed before with a probability rising with age, and a
    share of them treated with as many classes as their BP needed (less inertia)."""
    s, th, care, n = h.s, h.th, h.care, h.sim.n
    s0, d0, _, _ = h.vitals.usual_at(np.arange(n), s.ent)
    h.keep_own_adherence()
    h.set_adherence(np.arange(n), s.age_entry)  # the regimen carried in is sized by what they take
    s.usual_sbp_entry[:] = s0
    htn0 = ((s0 >= th["clinic_sbp"]) | (d0 >= th["clinic_dbp"])) & (s.ent <= s.lst)  # of those who enter as adults
    s.onset_htn[htn0] = s.ent[htn0]
    ramp = h.prior_ramp  # data/ng136.toml [prior_diagnosis]: the share of care.prior_diagnosis by age at entry
    p_prior = care.prior_diagnosis * np.interp(s.age_entry, ramp["ages"], ramp["factor"])
    pri = np.flatnonzero(htn0 & (h.draws("prior").uniform(h.sim.everyone) < p_prior))
    if not len(pri):
        return
    # the original date, as an adult; one before registration here came with the records (GP2GP), filed on the
    # registration day
    adult = s.dob[pri] + np.round(18 * YEAR).astype(np.int64)
    pday = np.maximum(adult, s.ent[pri] - np.round(h.draws("prior.day").exponential(pri, 5 * YEAR)).astype(np.int64))
    st = np.where((s0[pri] >= th["stage2_clinic_sbp"]) | (d0[pri] >= th["stage2_clinic_dbp"]), ng136.STAGE2, ng136.STAGE1)
    s.dx[pri], s.dx_day[pri], s.stage[pri], s.prior[pri] = True, pday, st, True
    rec = h.record
    code = diagnosis.stage_code(h, st, np.zeros(len(pri), dtype=bool), pday)  # no "(NICE 2011)" code before 2011
    first = s.first_allowed[pri]
    here, early = pday >= first, pday < first
    h.rx.link_problem(pri[here], rec.diagnosis(pri[here], pday[here], code[here]))
    h.rx.link_problem(pri[early], rec.diagnosis(pri[early], pday[early], code[early], enter_delay=(first - pday)[early],
                                                transferred=True))
    treated = pri[h.draws("prior.treated").uniform(pri) < care.prior_treated]
    if len(treated):
        _regimen(h, treated, s0[treated])
    s.next_review[pri] = s.ent[pri] + h.draws("prior.review").integers(pri, 365)


def _regimen(h: "Hypertension", treated: np.ndarray, s0: np.ndarray) -> None:
    """The regimen carried over: one class per standard-dose lowering needed to reach target."""
    s, ent = h.s, h.s.ent
    age = (ent[treated] - s.dob[treated]) / YEAR
    tgt_s, _ = ng136.target(age, s.rf_type1[treated], np.zeros(len(treated)), ent[treated])
    per_drug = reference.toml("blood_pressure.toml")["treatment"]["standard_sbp"] * s.bp_response[treated] * s.adherence[treated]
    k_need = np.clip(np.ceil((s0 - tgt_s + 5) / per_drug), 1, 4).astype(np.int64)
    k_need -= (h.draws("prior.inertia").uniform(treated) < h.care.inertia) & (k_need > 1)
    treatment.start_first_line(h, treated, ent[treated])
    for step_no in (2, 3, 4):
        more = treated[k_need >= step_no]
        if not len(more):
            continue
        due4, _ = treatment.step_up(h, more, ent[more], diabetic_on=s.known_type2[more] <= ent[more])
        s4 = more[due4]
        if len(s4):
            # the potassium that chose step 4 predates the issues carried over from before the record
            k_day = np.maximum(ent[s4] - 3 * s.repeat_days[s4] - 7, s.first_allowed[s4])
            got = h.labs.sample(s4, k_day, False)
            treatment.step4(h, s4, ent[s4], got["k"], got["egfr"], 0)
    _legacy_beta_blocker(h, treated)
    s.cough_pending[treated] = False  # a tolerated regimen is what carries over
    s.oedema_pending[treated] = False
    h.rx.history(treated, repeats=3)


def _legacy_beta_blocker(h: "Hypertension", treated: np.ndarray) -> None:
    """Diagnosed before NICE CG34 took beta-blockers out of routine care: a share keep the atenolol of their day in the
    S slot, where it is empty (data/ng136.toml [prior_diagnosis])."""
    s, cfg = h.s, h.prior_ramp
    k = SLOTS.index("S")
    old = treated[(s.dx_day[treated] < dates.to_days(cfg["beta_blocker_before"])) & (s.rx_drug[treated, k] < 0)]
    keep = old[h.draws("prior.beta_blocker").uniform(old) < cfg["beta_blocker_share"]]
    if len(keep):
        h.rx.set_drug(keep, "S", h.rx.meds.index["atenolol"], np.zeros(len(keep), dtype=np.int64), s.ent[keep])
        h.decide(keep, s.ent[keep], "carried", "atenolol", "CG18 era: a beta-blocker started before CG34 (2006), kept")


def last_check(h: "Hypertension") -> None:
    """The last BP check before entry, if the person was an adult and registered by then."""
    s = h.s
    adult = s.dob + np.round(18 * YEAR).astype(np.int64)
    hist = np.flatnonzero((s.last_bp >= s.first_allowed) & (s.last_bp >= adult) & (s.last_bp < s.ent))
    if len(hist):
        h.vitals.measure(hist, s.last_bp[hist], np.full(len(hist), -1), -1)
