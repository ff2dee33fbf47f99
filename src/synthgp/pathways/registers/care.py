"""The care a register brings: medicines started at diagnosis, the annual review QOF asks for, and the
tests a medicine needs after it starts. Each function acts on a batch of (person, day) of one condition.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from synthgp.engine.services.prescribing import REGULAR, SLOTS
from synthgp.engine.sim import YEAR
from synthgp.pathways.registers.onset import Condition, day_of
from synthgp.pathways.registers.plans import CarePlans

if TYPE_CHECKING:
    from synthgp.engine.sim import Month, Sim
    from synthgp.pathways.registers import Registers


def start_medicines(r: "Registers", sim: "Sim", c: Condition, pos: np.ndarray, day: np.ndarray,
                    medicines: list[dict] | None = None, name: str | None = None) -> None:
    """The condition's medicines (or `medicines`, drawn on streams named after `name`), each for a share of those
    diagnosed, from the day of diagnosis. Entries with the same `draw` share one draw (the same people)."""
    if not len(pos):
        return
    name = name or c.name
    if medicines is None:  # the condition's own antihypertensive-slot drugs (a beta-blocker in heart failure or AF)
        start_slot_drugs(r, sim, name, c.spec.get("antihypertensives", []), pos, day)
    for med in c.medicines if medicines is None else medicines:
        drug = med["drug"]
        share = med["share"]
        if "then_share" in med:  # the successor's share, from `until_day`
            share = np.where(day >= day_of(med["until_day"]), med["then_share"], share)
        if med.get("chads_vasc"):  # the share of a CHA2DS2-VASc of 2 or more; less below it (af.py)
            f = r.anticoagulation.factor(r, sim, pos, day)
            r.s.reg_af_factor[pos] = f  # weighed now; reassessed at reviews as the score rises
            share = share * f
        take = sim.draws(f"reg.med.{name}.{med.get('draw', drug)}").uniform(pos) < share
        p, d = pos[take], day[take]
        if "until_day" in med:  # the drug of its day: before the date, this one; from it, its successor (if any)
            later = d >= day_of(med["until_day"])
            if med["then"]:
                _start(r, sim, name, med, med["then"], p[later], d[later])
            p, d = p[~later], d[~later]
        _start(r, sim, name, med, drug, p, d)


def after_event(r: "Registers", sim: "Sim", c: Condition, event: str, spec: dict, pos: np.ndarray, day: np.ndarray) -> None:
    """The care an MI or a stroke brings when its letter comes (data/registers.toml [event_care]): its medicines,
    and the antihypertensive-slot drugs (ACE inhibitor, beta-blocker) where the slot is free; nothing for someone who
    died or left before the letter came."""
    here = day <= r.s.lst[pos]
    pos, day = pos[here], day[here]
    if not len(pos):
        return
    start_medicines(r, sim, c, pos, day, spec["medicines"], event)
    start_slot_drugs(r, sim, event, spec.get("antihypertensives", []), pos, day)


def start_slot_drugs(r: "Registers", sim: "Sim", name: str, meds: list[dict], pos: np.ndarray, day: np.ndarray) -> None:
    """Drugs of the prescribing service's antihypertensive slots (`slot` A: ACE inhibitor, S: beta-blocker), each for
    its `share` of `pos` (streams named after `name`), started on `day` where the slot is empty."""
    rx = sim.rx
    for med in meds:
        k = SLOTS.index(med["slot"])
        take = sim.draws(f"reg.med.{name}.{med['drug']}").uniform(pos) < med["share"]
        take &= rx.s.rx_drug[pos, k] < 0
        if med["slot"] == "A":  # not after an ACE inhibitor or ARB was stopped for potassium or kidney function
            take &= ~r.s.no_acei_arb[pos]
        p, d = pos[take], day[take]
        if not len(p):
            continue
        if med.get("renal_check"):
            sim.labs.sample(p, d, False)
        rx.set_drug(p, med["slot"], rx.meds.index[med["drug"]], np.full(len(p), med.get("level", 0), dtype=np.int64), d)


def _start(r: "Registers", sim: "Sim", name: str, med: dict, drug: str, pos: np.ndarray, day: np.ndarray) -> None:
    if not len(pos):
        return
    rx = sim.rx
    held = rx.on_regular(pos, drug, day)
    fresh = ~held  # already prescribed for another condition: nothing new
    if drug == "atorvastatin":  # a primary-prevention 20 mg (pathways/statins.py) goes up to this condition's dose
        up = held & (rx.s.regular_level[pos, REGULAR.index(drug)] < med.get("level", 0))
        rx.start_regular(pos[up], drug, day[up], med.get("level", 0))
    if drug == "metformin":  # not below eGFR 30 (data/kidney.toml [drugs])
        with np.errstate(invalid="ignore"):
            fresh &= ~(sim.labs.s.sample_egfr[pos] < r.metformin_below)
    pos, day = pos[fresh], day[fresh]
    until = None
    if "course_years" in med:
        until = day + np.round(sim.draws(f"reg.course.{name}.{drug}").exponential(pos, med["course_years"] * YEAR)).astype(np.int64)
    if "course_days" in med:  # a fixed course (dual antiplatelet therapy for 12 months)
        until = day + int(med["course_days"])
    rx.start_regular(pos, drug, day, med.get("level", 0), until)
    if drug == "metformin":  # started at the lower dose at eGFR 30-44 (data/kidney.toml [drugs])
        with np.errstate(invalid="ignore"):
            mid = sim.labs.s.sample_egfr[pos] < r.metformin_reduce_below
        rx.set_regular_per_day(pos[mid], drug, r.metformin_reduced_per_day)
    if med.get("monitor") == "tsh":
        r.s.reg_tsh_due[pos] = np.minimum(r.s.reg_tsh_due[pos], day + med["monitor_days"])
    if drug == "warfarin":  # the day they will move to a DOAC (af.py)
        r.anticoagulation.plan(r, sim, pos, day)
    if drug == "atorvastatin":
        r.s.reg_lipid_due[pos] = np.minimum(r.s.reg_lipid_due[pos], day + r.cfg["statin_monitoring"]["monitor_days"])


def tsh(r: "Registers", sim: "Sim", pos: np.ndarray, day: np.ndarray, median: float) -> None:
    """Thyroid function tests (TSH and free T4, the labs service's TFT panel) on each of `pos`'s `day`: their values
    follow the person's thyroid truth and levothyroxine (data/labs.toml [thyroid]; `median` is no longer read)."""
    if len(pos):
        sim.labs.order(pos, day, "tft")


class Reviews:
    """The annual reviews of every condition, as arrays by condition column, so that a month's reviews of all
    conditions are one batch: a booked consultation each, with its codes, and the measurements the condition's
    QOF indicators ask for (BP, blood tests, TSH, BMI and smoking). A BP reading goes to the month's
    `bp_screens`, for the hypertension pathway to follow up if raised; those on the hypertension register have
    theirs at its own review (hypertension/review.py)."""

    def __init__(self, conditions: list[Condition]) -> None:
        from synthgp.core import codes

        specs = [c.review or {} for c in conditions]
        self.attend = np.array([sp.get("attend", 0.0) for sp in specs])
        self.once = np.array([bool(sp.get("once")) for sp in specs])  # one review after diagnosis (cancer care review)
        self.jobs = [sp.get("job", "nurse") for sp in specs]
        width = max([1, *(len(sp.get("codes", [])) for sp in specs)])
        self.codes = np.full((len(specs), width), -1, dtype=np.int64)
        for j, sp in enumerate(specs):
            for k, key in enumerate(sp.get("codes", [])):
                self.codes[j, k] = codes.medcode(key)
        flag = lambda name, value=True: np.array([sp.get(name) == value for sp in specs])  # noqa: E731
        self.bp, self.full, self.ue, self.tsh, self.lifestyle = (flag("bp"), flag("bloods", "full"), flag("bloods", "ue"),
                                                                  flag("tsh"), flag("lifestyle"))
        self.plans = CarePlans(conditions)  # care plans agreed at a review (the asthma self-management plan)

    def run(self, r: "Registers", sim: "Sim", pos: np.ndarray, j: np.ndarray, day: np.ndarray, month: "Month") -> None:
        """Reviews of condition column `j` for each of `pos` on `day`."""
        if not len(pos):
            return
        rec, m = sim.record, month.m
        cons = np.empty(len(pos), dtype=np.int64)
        jobs = np.asarray(self.jobs)[j]
        for job in np.unique(jobs):
            sel = jobs == job
            cons[sel] = sim.contacts.book(pos[sel], day[sel], str(job), "reg.review", m, "Clinic")
        for k in range(self.codes.shape[1]):
            code = self.codes[j, k]
            sel = code >= 0
            rec.observation(pos[sel], day[sel], code[sel], cons=cons[sel], obstype=rec.obstype("Observation"))
        self.plans.code(sim, pos, j, day, cons, m)
        bp = _first(pos, self.bp[j] & ~r.s.dx[pos])
        sbp, dbp, _, _ = sim.vitals.measure(pos[bp], day[bp], cons[bp], m)  # one a person this month (_first)
        month.bp_screens.append((pos[bp], day[bp], sbp, dbp))
        full = self.full[j]
        sim.labs.sample(pos[full], day[full], True)
        sim.labs.sample(pos[self.ue[j]], day[self.ue[j]], False)  # the same day's sample if it was taken
        t = _first(pos, self.tsh[j])
        tsh(r, sim, pos[t], day[t], r.cfg["tsh"]["stable_median"])
        life = _first(pos, self.lifestyle[j])
        sim.vitals.lifestyle(pos[life], day[life], sim.life.bmi_at(pos[life], day[life]), cons[life])


def _first(pos: np.ndarray, want: np.ndarray) -> np.ndarray:
    """Indices of the rows in `want`, one per person (their first)."""
    idx = np.flatnonzero(want)
    _, first = np.unique(pos[idx], return_index=True)
    return idx[np.sort(first)]
