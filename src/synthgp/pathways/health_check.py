"""The NHS Health Check (from April 2009, data/eras.toml): every five years for adults aged 40-74 with no known hypertension, diabetes,
CKD or AF, taken up by `care.health_check_uptake` of those invited. A nurse records the check, BMI and
smoking, takes bloods (U&E, HbA1c, lipids, ACR) and a BP, and computes the risk score of the day. A raised reading goes
to the hypertension pathway through the month's `bp_screens`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from synthgp.clinical import eras
from synthgp.engine.component import Pathway

if TYPE_CHECKING:
    from synthgp.engine.sim import Month, Sim

EVERY_MONTHS = 60


class HealthCheck(Pathway):
    name = "health_check"
    fields = {"hc_phase": "month (mod 60) of the person's five-yearly invitation"}
    reads = ("ent", "lst", "dx", "known_type2", "known_ckd", "known_af")

    def init(self, sim: "Sim") -> dict[str, np.ndarray]:
        return {"hc_phase": sim.draws("hc_phase").integers(sim.everyone, EVERY_MONTHS)}

    def bind(self, sim: "Sim") -> None:
        super().bind(sim)
        self.start = eras.programme_start("health_check")

    def invite(self, sim: "Sim", month: "Month") -> None:
        s, m = self.s, month.m
        if month.day1 <= self.start:
            return
        due = np.flatnonzero((m - s.hc_phase[month.act]) % EVERY_MONTHS == 0)  # this month's invitations
        act, vday, age = month.act[due], month.vday[due], month.age[due]
        elig = act[(age >= 40) & (age < 75) & ~s.dx[act] & (s.known_type2[act] > vday) & (s.known_ckd[act] > vday)
                   & (s.known_af[act] > vday)]
        day = np.clip(month.day0 + sim.draws("hc.day").integers(elig, month.day1 - month.day0, m), s.ent[elig], s.lst[elig])
        go = sim.draws("hc.uptake").uniform(elig, m) < sim.care.health_check_uptake
        pos, day = elig[go], day[go]
        pos, day = pos[day >= self.start], day[day >= self.start]
        held, _ = sim.contacts.routine(pos, day, "hc", m)  # the pandemic paused the programme: that invitation lapses
        pos, day = pos[held], day[held]
        rec = sim.record
        cons = sim.contacts.book(pos, day, "nurse", "hc", m, "Clinic")
        rec.observation(pos, day, rec.code("health_check"), cons=cons, obstype=rec.obstype("Observation"))
        bmi = sim.life.bmi_at(pos, day)
        sim.vitals.lifestyle(pos, day, bmi, cons)
        lab = sim.labs.sample(pos, day, True)
        sbp, dbp, _, _ = sim.vitals.measure(pos, day, cons, 7 * m + 1)
        if len(pos):
            sim.risk.cvd_risk(pos, day, sbp, lab, bmi)
        month.bp_screens.append((pos, day, sbp, dbp))
