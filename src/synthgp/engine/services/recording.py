"""Recording: how a pathway writes to the record. Positions are the block's simulated patients;
codes are named (core/codes.py); lookups (observation type, unit, consultation source) by their
Aurum description. The rule that nothing is recorded outside registration, before birth or after
death is applied once, when the log is finished (record/log.py), against the days the life service
keeps; a pathway never has to check it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from synthgp.core import codes, reference
from synthgp.engine.component import Service

if TYPE_CHECKING:
    from synthgp.engine.sim import Sim

BP_CODES = {"clinic": ("bp_systolic", "bp_diastolic"), "abpm": ("abpm_systolic", "abpm_diastolic"),
            "hbpm": ("hbpm_systolic", "hbpm_diastolic"), "standing": ("standing_systolic", "standing_diastolic")}


class Recording(Service):
    name = "record"

    def bind(self, sim: "Sim") -> None:
        super().bind(sim)
        self.log, self.P, self.sim = sim.log, sim.P, sim
        lk = reference.toml("aurum_lookups.toml")
        self._unit = {d: i for i, d in lk["NumUnit"]["rows"]}
        self._obstype = {d: i for i, d in lk["ObsType"]["rows"]}
        self._source = {d: i for i, d in lk["ConsSource"]["rows"]}
        self._bp = {k: (codes.medcode(s), codes.medcode(d)) for k, (s, d) in BP_CODES.items()}

    # ------------------------------------------------------------ lookups
    @staticmethod
    def code(key: str) -> int:
        """The medcodeid of a named code."""
        return codes.medcode(key)

    @staticmethod
    def codes(*keys: str) -> np.ndarray:
        return np.array([codes.medcode(k) for k in keys], dtype=np.int64)

    def unit(self, name: str) -> int:
        return self._unit[name]

    def obstype(self, name: str) -> int:
        return self._obstype[name]

    def source(self, name: str) -> int:
        return self._source[name]

    def _day_at(self, cons, day):
        """An entry at a consultation takes the consultation's day where booking moved it to a working day."""
        contacts = self.sim.components.get("contacts")
        return day if contacts is None or cons is None else contacts.day_at(cons, day)

    # ------------------------------------------------------------ writing
    def consultation(self, pos: np.ndarray, day, staff: np.ndarray, source) -> np.ndarray:
        """Consultations; returns their keys (for observations made at them)."""
        if not len(pos):
            return np.empty(0, dtype=np.int64)
        return self.log.consultation(self.P[pos], day, staff, source)

    def observation(self, pos: np.ndarray, day, medcode, **kw) -> np.ndarray:
        """Observations (record/log.py EventLog.observation for the keywords); returns their keys."""
        if not len(pos):
            return np.empty(0, dtype=np.int64)
        return self.log.observation(self.P[pos], self._day_at(kw.get("cons"), day), medcode, **kw)

    def diagnosis(self, pos: np.ndarray, day, medcode, **kw) -> np.ndarray:
        """A coded diagnosis: an observation of type Diagnosis that is also an active problem."""
        if not len(pos):
            return np.empty(0, dtype=np.int64)
        return self.log.observation(self.P[pos], self._day_at(kw.get("cons"), day), medcode,
                                    obstype=self._obstype["Diagnosis"], problem=1, **kw)

    def end_problem(self, pos: np.ndarray, day, medcode) -> None:
        """Each of `pos`'s active problems coded `medcode` (dated on or before `day`) ends on `day`."""
        if len(pos):
            self.log.end_problem(self.P[pos], np.broadcast_to(day, len(pos)), np.broadcast_to(medcode, len(pos)))

    def blood_pressure(self, pos: np.ndarray, day, sbp, dbp, cons, kind: str = "clinic") -> None:
        """A systolic and a diastolic observation (clinic, abpm or hbpm), the diastolic's parent the systolic."""
        self.log.blood_pressure(self.P[pos], self._day_at(cons, day), sbp, dbp, cons, self._bp[kind], self._unit["mmHg"],
                                self._obstype["Value"])

    def issue(self, pos: np.ndarray, day, staff, prod, qty, qunit, duration, cost, course, dosage) -> None:
        if len(pos):
            self.log.issue(self.P[pos], day, staff, prod, qty, qunit, duration, cost, course, dosage)
