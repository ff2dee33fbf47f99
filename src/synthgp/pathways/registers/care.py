"""The care a register brings: medicines started at diagnosis, the annual review QOF asks for, and the
tests a medicine needs after it starts. Each function acts on a batch of (person, day) of one condition.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from synthgp.engine.sim import YEAR
from synthgp.pathways.registers.onset import NEVER, Condition, day_of

if TYPE_CHECKING:
    from synthgp.engine.sim import Month, Sim
    from synthgp.pathways.registers import Registers


def start_medicines(r: "Registers", sim: "Sim", c: Condition, pos: np.ndarray, day: np.ndarray) -> None:
    """The condition's medicines, each for a share of those diagnosed, from the day of diagnosis."""
    if not len(pos):
        return
    for med in c.medicines:
        drug = med["drug"]
        take = sim.draws(f"reg.med.{c.name}.{drug}").uniform(pos) < med["share"]
        p, d = pos[take], day[take]
        if "until_day" in med:  # the drug of its day: before the date, this one; from it, its successor
            later = d >= day_of(med["until_day"])
            _start(r, sim, c, med, med["then"], p[later], d[later])
            p, d = p[~later], d[~later]
        _start(r, sim, c, med, drug, p, d)


def _start(r: "Registers", sim: "Sim", c: Condition, med: dict, drug: str, pos: np.ndarray, day: np.ndarray) -> None:
    if not len(pos):
        return
    rx = sim.rx
    fresh = ~rx.on_regular(pos, drug, day)  # already prescribed for another condition: nothing new
    pos, day = pos[fresh], day[fresh]
    until = None
    if "course_years" in med:
        until = day + np.round(sim.draws(f"reg.course.{c.name}.{drug}").exponential(pos, med["course_years"] * YEAR)).astype(np.int64)
    rx.start_regular(pos, drug, day, med.get("level", 0), until)
    if med.get("monitor") == "tsh":
        r.s.reg_tsh_due[pos] = np.minimum(r.s.reg_tsh_due[pos], day + med["monitor_days"])
    if drug == "atorvastatin":
        r.s.reg_lipid_due[pos] = np.minimum(r.s.reg_lipid_due[pos], day + r.cfg["statin_monitoring"]["monitor_days"])


def tsh(r: "Registers", sim: "Sim", pos: np.ndarray, day: np.ndarray, median: float) -> None:
    """A serum TSH result (log-normal about `median`), entered from the lab a day or two later."""
    if not len(pos):
        return
    t, rec = r.cfg["tsh"], sim.record
    value = np.round(median * np.exp(t["log_sd"] * sim.draws("reg.tsh").normal(pos, day)), 2)
    rec.observation(pos, day, rec.code("tsh"), value=value, unit=rec.unit("mU/L"), low=t["low"], high=t["high"],
                    obstype=rec.obstype("Investigation"), enter_delay=1 + sim.draws("reg.tsh.delay").integers(pos, 2, day))


def review(r: "Registers", sim: "Sim", c: Condition, pos: np.ndarray, day: np.ndarray, month: "Month") -> None:
    """An annual review: a booked consultation with its codes, and the measurements the condition's QOF
    indicators ask for (BP, blood tests, TSH, BMI and smoking). A BP reading goes to the month's `bp_screens`,
    for the hypertension pathway to follow up if raised."""
    m = month.m
    spec = c.review
    if not len(pos) or spec is None:
        return
    rec = sim.record
    cons = sim.contacts.book(pos, day, spec.get("job", "nurse"), f"reg.review.{c.name}", m, "Clinic")
    for key in spec.get("codes", []):
        rec.observation(pos, day, rec.code(key), cons=cons, obstype=rec.obstype("Observation"))
    if spec.get("bp"):  # those on the hypertension register have theirs at its own review (hypertension/review.py)
        own = ~r.s.dx[pos]
        sbp, dbp, _, _ = sim.vitals.measure(pos[own], day[own], cons[own], day[own])
        month.bp_screens.append((pos[own], day[own], sbp, dbp))
    bloods = spec.get("bloods")
    if bloods:
        sim.labs.sample(pos, day, bloods == "full")
    if spec.get("tsh"):
        tsh(r, sim, pos, day, r.cfg["tsh"]["stable_median"])
    if spec.get("lifestyle"):
        sim.vitals.lifestyle(pos, day, sim.life.bmi_at(pos, day))


def next_review(sim: "Sim", c: Condition, pos: np.ndarray, day: np.ndarray) -> np.ndarray:
    """The day of the review a year after `day` (a few weeks either way), or NEVER for a condition without one."""
    if c.review is None:
        return np.full(len(pos), NEVER, dtype=np.int64)
    return day + 335 + sim.draws(f"reg.review.day.{c.name}").integers(pos, 61, day)
