"""Contacts: the consultation timeline. Who is seen each month, on which day, by whom, face to face
or by telephone; pathways attach their work to a consultation that happens (an opportunistic BP
check) or book one of their own (a review, a Health Check).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from synthgp.core import reference
from synthgp.core.ids import PATID_MULT
from synthgp.engine.component import Service
from synthgp.engine.sim import Consults

if TYPE_CHECKING:
    from synthgp.engine.sim import Month, Sim


def rate_by_age(age: np.ndarray, young: float, old: float) -> np.ndarray:
    """Consultations a year, rising from `young` at 18 to `old` at 75."""
    return np.interp(age, [18, 45, 75], [young, (young + old) / 2, old])


class Contacts(Service):
    name = "contacts"
    reads = ("male", "practice")

    def bind(self, sim: "Sim") -> None:
        super().bind(sim)
        self.sim, self.ids, self.record = sim, sim.ids, sim.record
        self.jobs = reference.toml("aurum_lookups.toml")["JobCat"]["job_keys"]
        self.staff_first, self.staff_count = sim.plan.staff_first, sim.plan.staff_count
        self.pracid = sim.people.pracid[sim.P]

    def staff(self, job: str, pos: np.ndarray, purpose: str, step) -> np.ndarray:
        """A member of staff of the patient's practice, of `job`, drawn for `purpose` (staffid)."""
        if not len(pos):
            return np.empty(0, dtype=np.int64)
        j = self.jobs.index(job)
        prac = self.s.practice[pos]
        k = self.staff_first[prac, j] + self.sim.draws(f"staff.{purpose}").integers(pos, self.staff_count[prac, j], step)
        return k * PATID_MULT + self.pracid[pos]

    def book(self, pos: np.ndarray, day, job: str, purpose: str, step, source: str) -> np.ndarray:
        """Book and hold a consultation with `job` for each of `pos` on `day`; returns their keys."""
        if not len(pos):
            return np.empty(0, dtype=np.int64)
        return self.record.consultation(pos, day, self.staff(job, pos, purpose, step), self.record.source(source))

    def consult(self, sim: "Sim", month: "Month") -> None:
        """Who consults this month (a rate by age and sex), on their day of the month."""
        care, act, m = sim.care, month.act, month.m
        ratio = care.female_consultation_ratio
        rate = rate_by_age(month.age, care.consultation_rate_young, care.consultation_rate_old)
        rate = np.where(self.s.male[act], rate * 2 / (1 + ratio), rate * 2 * ratio / (1 + ratio))
        seen = sim.draws("consult").uniform(act, m) < 1 - np.exp(-rate / 12)
        pos, day = act[seen], month.vday[seen]
        remote = sim.draws("phone").uniform(pos, m) < care.telephone_share
        rec = self.record
        source = np.where(remote, rec.source("Telephone consultation"), rec.source("Face to face consultation"))
        keys = rec.consultation(pos, day, self.staff("gp", pos, "consult", m), source)
        month.consults = Consults(pos, day, keys, remote, month.age[seen])
