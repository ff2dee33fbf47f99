"""Adults' prevention (data/prevention.toml): pneumococcal (PPV23) and shingles vaccination by eligibility and
date, cervical screening, and an annual medication review for people on repeat medicines. Vaccinations and
screening are a nurse's clinic; a medication review is a GP's or (more and more from 2019) a pharmacist's.
Vaccinations and screening from before the record's start are on it as history: from this practice if given
after registration, else transferred from the previous practice (GP2GP: dated when given, filed on joining).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from synthgp.core import dates, reference
from synthgp.engine.component import Pathway
from synthgp.engine.sim import YEAR
from synthgp.pathways.prevention import screening, vaccines
from synthgp.pathways.prevention.vaccines import NEVER, day_of

if TYPE_CHECKING:
    from synthgp.engine.sim import Month, Sim


class Prevention(Pathway):
    name = "prevention"
    fields = {
        "ppv_day": "planned day of the PPV23 vaccination, or NEVER", "ppv_risk": "a risk-group plan has been made (or given)",
        "shx_start": "first day eligible for shingles vaccination, or NEVER",
        "shx_day": "planned day of the first shingles dose, or NEVER", "shx_day2": "planned day of a second (Shingrix) dose, or NEVER",
        "cx_due": "day of the next cervical screening invitation, or NEVER",
        "mr_next": "day the next medication review is due, or NEVER (not on repeats)",
    }
    reads = ("dob", "male", "ent", "lst", "first_allowed", "known_type2", "rf_type1", "known_ckd", "heart_failure_day",
             "mi_day", "rf_corticosteroids", "rx_units", "rx_stopped", "regular_next", "regular_drug", "regular_from", "regular_until")

    def init(self, sim: "Sim") -> dict[str, np.ndarray]:
        cfg, people, P = reference.toml("prevention.toml"), sim.people, sim.P
        dob, male = people.dob[P], people.male[P]
        ppv = vaccines.ppv_by_age(cfg["pneumococcal"], dob, sim.stream("prev.ppv").uniform(sim.everyone),
                                  sim.stream("prev.ppv.later").exponential(sim.everyone, 1.0))
        return {"ppv_day": ppv, "ppv_risk": np.zeros(sim.n, dtype=bool),
                "shx_start": np.full(sim.n, NEVER, dtype=np.int64), "shx_day": np.full(sim.n, NEVER, dtype=np.int64),
                "shx_day2": np.full(sim.n, NEVER, dtype=np.int64),
                "cx_due": screening.first_due(cfg["cervical"], sim, male, dob, sim.ent),
                "mr_next": np.full(sim.n, NEVER, dtype=np.int64)}

    def bind(self, sim: "Sim") -> None:
        super().bind(sim)
        s, self.sim, self.cfg = self.s, sim, reference.toml("prevention.toml")
        sh = self.cfg["shingles"]
        # the immunosuppressed (here: long-term oral corticosteroids) may not have the live vaccine
        imm = s.rf_corticosteroids.astype(bool)
        s.shx_start[:], s.shx_day[:] = vaccines.shingles_plan(
            sh, s.dob, imm, sim.stream("prev.shx").uniform(sim.everyone), sim.stream("prev.shx.later").exponential(sim.everyone, 1.0), sim.end)
        self.shingrix_from = day_of(sh["shingrix_from"])
        self.shingrix = (s.shx_day >= self.shingrix_from) | (imm & (s.shx_day < NEVER))
        two = self.shingrix & (sim.stream("prev.shx.second").uniform(sim.everyone) < sh["second_dose"])
        lo, hi = np.where(imm, sh["second_dose_days_immunosuppressed"][0], sh["second_dose_days"][0]), \
            np.where(imm, sh["second_dose_days_immunosuppressed"][1], sh["second_dose_days"][1])
        gap = lo + np.floor(sim.stream("prev.shx.gap").uniform(sim.everyone) * (hi - lo + 1)).astype(np.int64)
        s.shx_day2[:] = np.where(two, s.shx_day + gap, NEVER)
        self.cx_propensity = sim.stream("prev.cx.propensity").normal(sim.everyone)
        self.hpv_from, self.five_yearly_from = screening.hpv_dates(self.cfg["cervical"])
        mr = self.cfg["medication_review"]
        self.pharmacist_years, self.pharmacist_share = mr["pharmacist_share_year"], mr["pharmacist_share"]

    # ------------------------------------------------------------ steps
    def history(self, sim: "Sim") -> None:
        """Vaccinations planned before the record's start: given here (after registration, at a nurse's clinic)
        or at a previous practice (transferred); then the last cervical screening before it."""
        s, adults = self.s, sim.adults
        for field, kind in (("ppv_day", "ppv"), ("shx_day", "shx1"), ("shx_day2", "shx2")):
            day = getattr(s, field)
            early = adults[day[adults] < s.ent[adults]]
            here = early[day[early] >= s.first_allowed[early]]
            self._give(sim, kind, here, day[here], 0)
            before = early[day[early] < s.first_allowed[early]]
            self._give(sim, kind, before, day[before], 0, transferred=True)
        screening.history(self, sim)

    def vaccinate(self, sim: "Sim", month: "Month") -> None:
        """PPV23 plans for a risk group first known this month; then every vaccination planned for this month."""
        s, act, m = self.s, month.act, month.m
        cfg = self.cfg["pneumococcal"]
        sel = (month.age < cfg["age_from"]) & ~s.ppv_risk[act]
        young, vday = act[sel], month.vday[sel]
        at_risk = self._at_risk(young, vday)
        risk, rday = young[at_risk], vday[at_risk]
        if len(risk):
            plan = vaccines.time_to_vaccination(rday, cfg["first_year_risk"], cfg["later_hazard_risk"],
                                                sim.stream("prev.ppv.risk").uniform(risk, m),
                                                sim.stream("prev.ppv.risk.later").exponential(risk, 1.0, m))
            s.ppv_day[risk] = np.minimum(s.ppv_day[risk], plan)
            s.ppv_risk[risk] = True
        for field, kind in (("ppv_day", "ppv"), ("shx_day", "shx1"), ("shx_day2", "shx2")):
            day = getattr(s, field)
            pos = act[(day[act] >= month.day0) & (day[act] < month.day1)]
            pos = pos[day[pos] >= s.ent[pos]]
            self._give(sim, kind, pos, day[pos], m)

    def _at_risk(self, pos: np.ndarray, day: np.ndarray) -> np.ndarray:
        """A clinical risk group for PPV23 the record shows: diabetes, CKD 3-5, heart failure, coronary heart
        disease (an MI), long-term oral corticosteroids."""
        s = self.s
        return ((s.known_type2[pos] <= day) | s.rf_type1[pos] | (s.known_ckd[pos] <= day) | dates.happened_by(s.heart_failure_day[pos], day)
                | dates.happened_by(s.mi_day[pos], day) | s.rf_corticosteroids[pos])

    def _give(self, sim: "Sim", kind: str, pos: np.ndarray, day: np.ndarray, step: int, transferred: bool = False) -> None:
        """A nurse's vaccination of `kind` (ppv, shx1: Zostavax or first Shingrix dose, shx2) on `day`; or one
        given at a previous practice, `transferred` with the record (filed on the day they joined)."""
        if not len(pos):
            return
        rec = sim.record
        if transferred:
            cons, kw = None, {"enter_delay": self.s.first_allowed[pos] - day, "transferred": True}
        else:
            held = sim.contacts.weekday(day, pos)  # the clinic's working day, spread over the week after a closed day
            if kind == "shx1":  # ... but a live-vaccine (Zostavax) clinic not moved past the switch to Shingrix
                held = np.where(~self.shingrix[pos] & (held >= self.shingrix_from), sim.contacts.weekday(day), held)
            cons, kw, day = sim.contacts.book(pos, held, "nurse", f"prev.{kind}", step, "Clinic"), {}, held
        if kind == "ppv":
            code = np.full(len(pos), rec.code("pneumococcal_vaccination"))
            self.s.ppv_day[pos], self.s.ppv_risk[pos] = NEVER, True
        elif kind == "shx1":
            code = np.where(self.shingrix[pos], rec.code("shingles_vaccination_first"), rec.code("shingles_vaccination"))
        else:
            code = np.full(len(pos), rec.code("shingles_vaccination_second"))
        rec.observation(pos, day, code, cons=cons, obstype=rec.obstype("Immunisation"), **kw)

    def screen(self, sim: "Sim", month: "Month") -> None:
        screening.screen(self, sim, month)

    def review_medicines(self, sim: "Sim", month: "Month") -> None:
        """An annual medication review for everyone on repeat medicines (being issued: not an antihypertensive
        regimen they stopped taking, whose repeats stopped): the first within a year of being found on them,
        then yearly (a share missed), by a GP or a pharmacist."""
        s, m, cfg = self.s, month.m, self.cfg["medication_review"]
        # only those who may be on repeats and are new to them or due: an antihypertensive regimen, or a
        # regular medicine ever started (its next issue day is set)
        look = ((s.rx_units[month.act] > 0) | (s.regular_next[month.act] < NEVER)) & (
            (s.mr_next[month.act] == NEVER) | (s.mr_next[month.act] < month.day1))
        act = month.act[look]
        vday = np.minimum(month.vday[look], s.lst[act])  # a review is never after death or leaving: nor is being on one
        on = ((s.rx_units[act] > 0) & ~s.rx_stopped[act]) | ((s.regular_drug[act] >= 0) & (s.regular_from[act] <= vday[:, None])
                                                             & (vday[:, None] < s.regular_until[act])).any(axis=1)
        new = on & (s.mr_next[act] == NEVER)
        s.mr_next[act[new]] = vday[new] + sim.stream("prev.mr.first").integers(act[new], cfg["interval_days"], m)
        s.mr_next[act[~on]] = NEVER
        due = on & (s.mr_next[act] < month.day1)
        pos = act[due]
        day = np.clip(np.maximum(s.mr_next[pos], month.day0), s.ent[pos], s.lst[pos])
        done = sim.stream("prev.mr.done").uniform(pos, m) < cfg["done_share"]
        slip = np.round(sim.stream("prev.mr.slip").exponential(pos, cfg["slip_days"], m)).astype(np.int64)
        s.mr_next[pos] = day + cfg["interval_days"] + slip
        pos, day = pos[done], day[done]
        year = day / YEAR + 1970
        pharm = sim.stream("prev.mr.pharmacist").uniform(pos, m) < np.interp(year, self.pharmacist_years, self.pharmacist_share)
        rec = sim.record
        for job, code, sel in (("pharmacist", "medication_review_pharmacist", pharm), ("gp", "medication_review", ~pharm)):
            cons = sim.contacts.book(pos[sel], day[sel], job, "prev.mr", m, "Clinic")
            rec.observation(pos[sel], day[sel], rec.code(code), cons=cons, obstype=rec.obstype("Observation"))
