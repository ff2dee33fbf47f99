"""Care plans agreed at a register's annual review (data/care_plans.toml): the asthma self-management plan QOF's
asthma review asks for, coded at the review's consultation for the year's share of attended reviews. The FHIR
export makes each a CarePlan (formats/fhir_requests.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from synthgp.core import codes, dates, reference

if TYPE_CHECKING:
    from synthgp.engine.sim import Sim
    from synthgp.pathways.registers.onset import Condition


class CarePlans:
    """The plans of each register condition column: (column, name, medcodeid, years, shares)."""

    def __init__(self, conditions: list["Condition"], cfg: dict | None = None) -> None:
        cfg = reference.toml("care_plans.toml") if cfg is None else cfg
        col = {c.name: j for j, c in enumerate(conditions)}
        self.plans = []
        for name, spec in cfg.items():
            if name not in col:
                raise ValueError(f"care_plans.toml: [{name}] is no register condition (known: {sorted(col)})")
            years, share = np.asarray(spec["years"], dtype=float), np.asarray(spec["share"], dtype=float)
            if len(years) != len(share) or not len(years) or (np.diff(years) <= 0).any() or ((share < 0) | (share > 1)).any():
                raise ValueError(f"care_plans.toml [{name}]: `years` rising and `share` in [0, 1], one share a year")
            if codes.get(spec["code"]).cluster != "CAREPLAN":
                raise ValueError(f"care_plans.toml [{name}]: code {spec['code']!r} is not of codes.csv cluster CAREPLAN")
            self.plans.append((col[name], name, codes.medcode(spec["code"]), years, share))

    def share(self, plan: int, day: np.ndarray) -> np.ndarray:
        """The share of reviews agreeing plan number `plan` on each day."""
        _, _, _, years, share = self.plans[plan]
        return np.interp(dates.year_of(day), years, share)

    def code(self, sim: "Sim", pos: np.ndarray, j: np.ndarray, day: np.ndarray, cons: np.ndarray, m: int) -> None:
        """Reviews of condition column `j` held for each of `pos` on `day` at consultation `cons`: a plan agreed at the
        year's share of them, coded at the review."""
        rec = sim.record
        for k, (jj, name, medcode, _, _) in enumerate(self.plans):
            sel = np.flatnonzero(j == jj)
            if not len(sel):
                continue
            take = sel[sim.draws(f"reg.plan.{name}").uniform(pos[sel], m) < self.share(k, day[sel])]
            rec.observation(pos[take], day[take], medcode, cons=cons[take], obstype=rec.obstype("Observation"))
