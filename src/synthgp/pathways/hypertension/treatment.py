"""Starting and stepping up antihypertensives (NG136 1.4.32-1.4.52), and referral.

Drugs are held in the prescribing service's slots: A (ACE inhibitor or ARB), C (CCB), D
(thiazide-like diuretic), S (step 4). Every start is a decision in the truth, with its rule.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from synthgp.clinical import ng136
from synthgp.core import dates, reference
from synthgp.engine.services.prescribing import SLOTS
from synthgp.engine.sim import YEAR

if TYPE_CHECKING:
    from synthgp.pathways.hypertension import Hypertension

SPIRONOLACTONE_EGFR = reference.toml("kidney.toml")["drugs"]["spironolactone_stop_below"]  # eGFR it is stopped below

FIRST_LINE = "1.4.32-1.4.37 first line"
STEP_UP = "1.4.41-1.4.45 step up"
Monitoring = tuple  # (positions, day or days, purpose, draw step or None): a group due urea and electrolytes


def _each(day, mask):
    """The days of the rows `mask` selects (`day` may be one day for all)."""
    return day[mask] if np.ndim(day) else day


def start_first_line(h: "Hypertension", pos: np.ndarray, day) -> None:
    """Step 1: the class NG136 gives for age, family origin, diabetes and heart failure."""
    s = h.s
    age = (day - s.dob[pos]) / YEAR
    cls = ng136.first_line(age, s.black[pos], s.known_type2[pos] <= day, s.heart_failure_day[pos] >= 0, day,
                           type1=s.rf_type1[pos])
    bloods: list[Monitoring] = []
    for c in ("A", "C", "D"):
        add_class(h, pos[cls == c], c, _each(day, cls == c), FIRST_LINE, bloods)
    monitor_all(h, bloods)


def add_class(h: "Hypertension", pos: np.ndarray, cls: str, day, rule: str, bloods: list[Monitoring] | None = None) -> None:
    """Start a drug of class `cls` (A, C or D), at its starting dose, with the monitoring it needs
    (added to `bloods` when given, for the caller to take in one batch)."""
    if not len(pos):
        return
    what = "start" if rule == FIRST_LINE else "add"
    if cls == "A":
        _add_acei_or_arb(h, pos, day, rule, what, bloods)
    elif cls == "C":
        meds = h.rx.meds
        h.rx.set_drug(pos, "C", meds.index["amlodipine"], np.zeros(len(pos), dtype=np.int64), day)
        oedema = h.draws("oedema").uniform(pos, np.broadcast_to(day, len(pos))) < meds.spec["amlodipine"]["oedema_by_level"][0]
        h.s.oedema_pending[pos] |= oedema
        h.decide(pos, day, what, "amlodipine", rule)
    elif cls == "D":
        name = np.broadcast_to(ng136.thiazide(day), len(pos)).astype(object)  # the era's thiazide
        h.rx.set_drug(pos, "D", np.array([h.rx.meds.index[x] for x in name]), np.zeros(len(pos), dtype=np.int64), day)
        h.decide(pos, day, what, name, rule)
        _monitor_or_defer(h, (pos, day, "monitor.d", None), bloods)


def _add_acei_or_arb(h: "Hypertension", pos: np.ndarray, day, rule: str, what: str, bloods: list[Monitoring] | None) -> None:
    s, meds = h.s, h.rx.meds
    # an ARB for Black people under NG136; otherwise the prescriber's choice of an ACEi or an ARB (1.4.33)
    chosen = h.draws("arb.choice").uniform(pos, np.broadcast_to(day, len(pos))) < h.arb_choice
    arb = ng136.prefer_arb(s.black[pos], day) | chosen
    for use_arb, name in ((False, "ramipril"), (True, "losartan")):
        sel = pos[arb == use_arb]
        if not len(sel):
            continue
        sd = _each(day, arb == use_arb)
        spec = meds.spec[name]
        level = np.full(len(sel), spec["start_level"])
        if name == "losartan":
            level = np.where((sd - s.dob[sel]) / YEAR > 75, spec["start_level_over75"], level)
        else:
            level = np.where(s.rx_drug[sel, 2] >= 0, spec["start_level_with_diuretic"], level)
            cough = h.draws("cough").uniform(sel, np.broadcast_to(sd, len(sel))) < h.care.acei_cough
            s.cough_pending[sel] |= cough
        h.rx.set_drug(sel, "A", meds.index[name], level, sd)
        h.decide(sel, sd, what, name, rule)
        _monitor_or_defer(h, (sel, sd, "monitor", None), bloods)


def monitor(h: "Hypertension", pos: np.ndarray, day, purpose: str, step=None) -> None:
    """Urea and electrolytes one to two weeks after starting or raising a drug that needs them; after an
    ACEi/ARB (purposes "monitor", "monitor.t"), stop it if K+ > 6.0 or eGFR fell by 25% or more."""
    monitor_all(h, [(pos, day, purpose, step)])


def _monitor_or_defer(h: "Hypertension", group: Monitoring, bloods: list[Monitoring] | None) -> None:
    if bloods is None:
        monitor_all(h, [group])
    elif len(group[0]):
        bloods.append(group)


def monitor_all(h: "Hypertension", groups: list[Monitoring]) -> None:
    """`monitor` for several groups of (positions, day, purpose, draw step), taken as one batch of
    samples. The groups must not share a patient (each is monitored as if alone)."""
    pos, when, check = [], [], []
    for g_pos, g_day, purpose, step in groups:
        step = np.broadcast_to(g_day, len(g_pos)) if step is None else step
        pos.append(g_pos)
        when.append(g_day + 7 + h.draws(purpose).integers(g_pos, 8, step))
        check.append(np.full(len(g_pos), purpose in ("monitor", "monitor.t")))
    if not pos:
        return
    pos, when, check = np.concatenate(pos), np.concatenate(when), np.concatenate(check)
    before = h.s.sample_egfr[pos].copy()  # the last eGFR before the drug (or the dose) changed
    got = h.labs.sample(pos, when, False)
    if got is not None and check.any():
        stop_if_unsafe(h, pos[check], when[check], got["k"][check], got["egfr"][check], before[check])


def stop_if_unsafe(h: "Hypertension", pos: np.ndarray, day, k: np.ndarray, egfr: np.ndarray, before: np.ndarray) -> None:
    """K+ above 6.0 mmol/L or an eGFR fall of 25% or more after an ACEi/ARB: stop it (NICE's CKD guidance
    and the BNF, data/ng136.toml [monitoring]); the class is not added back."""
    s = h.s
    with np.errstate(invalid="ignore"):
        unsafe = ng136.acei_arb_unsafe(k, egfr, before, day) & (s.rx_drug[pos, 0] >= 0)
    stop, sd = pos[unsafe], np.broadcast_to(day, len(pos))[unsafe] + 2  # acted on when the result is back
    if len(stop):
        names = np.asarray(h.rx.meds.names, dtype=object)[s.rx_drug[stop, 0]]
        h.rx.stop_slot(stop, "A")
        s.no_acei_arb[stop] = True
        h.decide(stop, sd, "stop", names, "K+ > 6.0 or eGFR fall >= 25%: ACEi/ARB stopped")


def step4(h: "Hypertension", pos: np.ndarray, day, potassium: np.ndarray, egfr: np.ndarray, step) -> None:
    """Step 4 (1.4.47-1.4.49): spironolactone if K+ <= 4.5, else an alpha- or beta-blocker; not spironolactone below
    the eGFR at which the kidney pathway stops it (BNF: avoid in severe renal impairment; data/kidney.toml [drugs])."""
    if not len(pos):
        return
    meds = h.rx.meds
    spiro = _spironolactone_allowed(potassium, egfr, day)
    sp = pos[spiro]
    h.rx.set_drug(sp, "S", meds.index["spironolactone"], np.zeros(len(sp), dtype=np.int64), _each(day, spiro))
    h.decide(sp, _each(day, spiro), "add", "spironolactone", "1.4.48 K+ <= 4.5")
    ab = pos[~spiro]
    pick = np.where(h.draws("alpha_beta").uniform(ab, step) < h.care.step4_alpha_share, "doxazosin", "bisoprolol")
    for name in ("doxazosin", "bisoprolol"):
        sel = ab[pick == name]
        sd = _each(_each(day, ~spiro), pick == name)
        h.rx.set_drug(sel, "S", meds.index[name], np.zeros(len(sel), dtype=np.int64), sd)
        h.decide(sel, sd, "add", name, "1.4.49 K+ > 4.5 (or eGFR < 30)")


def potassium_on_restart(h: "Hypertension", pos: np.ndarray, day, step) -> None:
    """A regimen holding spironolactone restarted after the person stopped it: U&E on the day (its K+ is what 1.4.48
    weighs, and the last one may be months old and higher since); above 4.5, or an eGFR below the kidney pathway's
    limit, step 4 chooses again (an alpha- or beta-blocker in its place)."""
    s, day = h.s, np.broadcast_to(np.asarray(day, dtype=np.int64), len(pos))
    on = s.rx_drug[pos, SLOTS.index("S")] == h.rx.meds.index["spironolactone"]
    p, d = pos[on], day[on]
    if not len(p):
        return
    got = h.labs.sample(p, d, False)
    bad = ~_spironolactone_allowed(got["k"], got["egfr"], d)
    step4(h, p[bad], d[bad], got["k"][bad], got["egfr"][bad], step)


def _spironolactone_allowed(potassium: np.ndarray, egfr: np.ndarray, day) -> np.ndarray:
    """Step 4's choice of spironolactone: K+ at or below 1.4.48's limit and an eGFR not below the kidney pathway's."""
    with np.errstate(invalid="ignore"):
        return (ng136.step4_drug(potassium, day) == "spironolactone") & ~(egfr < SPIRONOLACTONE_EGFR)


def beta_blocker_indication(h: "Hypertension", pos: np.ndarray, day) -> np.ndarray:
    """Which of `pos` have, by `day`, a condition calling for a beta-blocker of its own: an MI or heart failure (events),
    angina or ischaemic heart disease or heart failure (registers), or AF."""
    s, day = h.s, np.broadcast_to(day, len(pos))
    return (dates.happened_by(s.mi_day[pos], day) | dates.happened_by(s.heart_failure_day[pos], day) | (s.known_af[pos] <= day)
            | (s.reg_known[pos][:, h.own_bb_cols] <= day[:, None]).any(axis=1))


def step_up(h: "Hypertension", pos: np.ndarray, day, diabetic_on: np.ndarray | None = None,
            bloods: list[Monitoring] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The next class for each of `pos` (1.4.41-1.4.45): adds A, C or D; returns (positions due step 4,
    and which of `pos` already hold a step-4 drug as one, their four steps taken). The monitoring is added to
    `bloods` if given."""
    s = h.s
    drug = s.rx_drug[pos]
    diabetic = s.known_type2[pos] <= day if diabetic_on is None else diabetic_on
    nxt = ng136.next_class(drug[:, 0] >= 0, drug[:, 1] >= 0, drug[:, 2] >= 0, s.black[pos], diabetic, day,
                           no_c=s.no_ccb[pos], no_a=s.no_acei_arb[pos])
    on_s4 = drug[:, 3] >= 0
    # a beta-blocker for its own indication (after an MI; angina, heart failure or AF: the registers' care), or one
    # carried from before CG34 (atenolol: history.py), is not a step of hypertension care: A, C and D are still added
    # before step 4 (NG136 1.4.45); it stands in for step 4's beta-blocker when that comes
    own_bb = (((drug[:, 3] == h.rx.meds.index["bisoprolol"]) & beta_blocker_indication(h, pos, day))
              | (drug[:, 3] == h.rx.meds.index["atenolol"]))
    mine = bloods is None
    bloods = [] if mine else bloods
    for c in ("A", "C", "D"):
        sel = (nxt == c) & ~(on_s4 & ~own_bb)
        add_class(h, pos[sel], c, _each(day, sel), STEP_UP, bloods)
    if mine:
        monitor_all(h, bloods)
    return (nxt == "4") & ~on_s4, on_s4 & (~own_bb | (nxt == "4"))


def refer(h: "Hypertension", pos: np.ndarray, day, urgency: int, rule: str) -> None:
    """A referral (urgency: 1 routine, 3 same day), coded, and its decision."""
    if len(pos):
        rec = h.record
        rec.observation(pos, day, rec.code("hypertension_referral"), obstype=rec.obstype("Referral"), referral=urgency)
        h.decide(pos, day, "refer", None, rule)
