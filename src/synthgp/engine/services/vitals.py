"""Vitals: the latent blood pressure each person lives with, and what measuring it records.

Each month the usual (untreated) BP of everyone simulated follows from their age, BMI, ethnicity,
deprivation, diabetes and CKD (clinical/bp.py); the treated BP is that, lowered by the
antihypertensives they actually take (prescribing's regimen, under their adherence). A clinic
reading adds the person's white-coat effect and the visit's variability; ABPM and HBPM read the
treated BP with their own noise. Any pathway measures through here, so a reading means the same
thing wherever it is taken. The truth table `bp_truth_year` is the mean of the months of each year.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import numpy as np

from synthgp.clinical import bp, bp_kernel, ng136
from synthgp.core import dates, reference
from synthgp.engine.component import Service
from synthgp.engine.sim import YEAR

if TYPE_CHECKING:
    from synthgp.engine.sim import Month, Sim

_NO_SUMS = np.zeros((5, 0))
_ANTHRO = reference.toml("anthropometry.toml")["height_cm"]  # outside the study period: nothing accumulates
_PREVENTION = reference.toml("prevention.toml")
_AUDIT_FROM = int(dates.to_days(dt.date.fromisoformat(_PREVENTION["alcohol"]["recorded_from"])))
SMOKING_CODES = ("never_smoked", "ex_smoker", "light_smoker", "moderate_smoker", "heavy_smoker")
TRAITS = ("level_sbp", "level_dbp", "slope_sbp", "white_coat_sbp", "white_coat_dbp", "response")
UNCHECKED, RIGHT, LEFT = 0, 1, 2  # bp_arm: the arm a clinic reading is taken in
_ARMS = reference.toml("blood_pressure.toml")["both_arms"]


def _heights(z: np.ndarray, male: np.ndarray) -> np.ndarray:
    """Adult heights in metres from standard normal draws `z`, by sex (data/anthropometry.toml)."""
    a = _ANTHRO
    mean = np.where(male, a["male_mean"], a["female_mean"])
    sd = np.where(male, a["male_sd"], a["female_sd"])
    return (mean + sd * np.clip(z, -a["sd_cap"], a["sd_cap"])) / 100.0


class Vitals(Service):
    name = "vitals"
    fields = {
        **{f"bp_{t}": f"blood-pressure trait {t}, fixed for life (clinical/bp.py Person)" for t in TRAITS},
        "recent_sbp": "the last three clinic systolic readings, newest first (QRISK3's SBP variability)",
        "last_bp": "day of the last BP reading on the record",
        "bp_arm_diff": "left-arm minus right-arm systolic BP, mmHg, fixed for life (data/blood_pressure.toml [both_arms])",
        "bp_arm": "the arm clinic readings are taken in: 0 both not yet measured (the right), 1 right, 2 left (NG136 1.2.3-1.2.4)",
        "height": "adult standing height in metres, fixed for life (data/anthropometry.toml)",
    }
    reads = ("male", "dob", "imd", "black", "south_asian", "ent", "smoking", "onset_type2", "onset_ckd",
             "rx_units", "rx_stopped", "adherence")
    truth = ("bp_truth_year",)

    def init(self, sim: "Sim") -> dict[str, np.ndarray]:
        traits = bp.Person.draw(sim.seed, sim.ids)
        self.years = np.arange(dates.year_of(np.array([sim.study_start]))[0], dates.year_of(np.array([sim.end]))[0] + 1)
        return {**{f"bp_{t}": getattr(traits, t) for t in TRAITS},
                "recent_sbp": np.full((sim.n, 3), np.nan),
                "height": _heights(sim.draws("height").normal(sim.everyone), sim.people.male[sim.P]),
                "bp_arm_diff": _ARMS["sd_sbp"] * sim.draws("bp_arm_diff").normal(sim.everyone),
                "bp_arm": np.zeros(sim.n, dtype=np.int8),
                "last_bp": sim.ent - np.round(sim.draws("last_bp").uniform(sim.everyone) * 6 * YEAR).astype(np.int64)}

    def bind(self, sim: "Sim") -> None:
        super().bind(sim)
        self.sim, self.seed, self.ids = sim, sim.seed, sim.ids
        self.life, self.rx, self.record = sim.life, sim.rx, sim.record
        s = self.s
        self._traits = [getattr(s, f"bp_{t}") for t in TRAITS]
        # the truth's yearly means, kept here (no other component reads them): sums of usual and treated
        # SBP and DBP and the months counted, the current year's contiguous per quantity
        self._year_sums = np.zeros((sim.n, len(self.years), 5))
        self._this_year, self._year_index = np.zeros((5, sim.n)), -1
        self._curves, self._params = bp_kernel.curves(), bp_kernel.params()

    # ------------------------------------------------------------ the latent BP
    def usual(self, pos: np.ndarray, day, age: np.ndarray, bmi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Untreated usual (sbp, dbp) of `pos` on `day`, at the given age and BMI."""
        s = self.s
        person = bp.Person(*(t[pos] for t in self._traits))
        return bp.usual(person, age, s.male[pos], bmi, s.black[pos], s.south_asian[pos], s.imd[pos],
                        s.onset_type2[pos] <= day, s.onset_ckd[pos] <= day)

    def usual_at(self, pos: np.ndarray, day) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(sbp, dbp, age, bmi) of `pos` on `day`, untreated."""
        us, ud, _, _, age, bmi = self._bp_at(pos, day)
        return us, ud, age, bmi

    def _bp_at(self, pos: np.ndarray, day) -> tuple[np.ndarray, ...]:
        """(usual sbp, dbp, treated sbp, dbp, age, bmi) of `pos` on `day`: the month's compiled pass
        where numba is installed (the same floats), else the numpy functions."""
        age, bmi = self.life.age_at(pos, day), self.life.bmi_at(pos, day)
        if bp_kernel.month_bp is not None:
            day = np.ascontiguousarray(np.broadcast_to(day, len(pos)), dtype=np.int64)
            return (*self._compiled(pos, day, age, bmi, _NO_SUMS), age, bmi)
        us, ud = self.usual(pos, day, age, bmi)
        ts, td = self.treated(pos, us, ud)
        return us, ud, ts, td, age, bmi

    def treated(self, pos: np.ndarray, sbp: np.ndarray, dbp: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The BP lived with: usual BP lowered by the antihypertensives taken (not those stopped)."""
        s = self.s
        ls, ld = bp.drug_lowering(sbp, s.rx_units[pos] * ~s.rx_stopped[pos], s.bp_response[pos], s.adherence[pos])
        return bp.bound(sbp - ls, dbp - ld)

    def advance(self, sim: "Sim", month: "Month") -> None:
        """This month's usual and treated BP of everyone simulated; the truth accumulates over study years."""
        act = month.act
        sums = _NO_SUMS
        if month.day0 >= sim.study_start:  # the truth tables cover the study period
            yi = int(np.searchsorted(self.years, dates.year_of(np.array([month.day0]))[0]))
            if yi != self._year_index:
                self._close_year()
                self._year_index = yi
            sums = self._this_year
        if bp_kernel.month_bp is not None:
            month.usual_sbp, month.usual_dbp, month.treated_sbp, month.treated_dbp = self._compiled(
                act, month.vday, month.age, month.bmi, sums)
            return
        month.usual_sbp, month.usual_dbp = self.usual(act, month.vday, month.age, month.bmi)
        month.treated_sbp, month.treated_dbp = self.treated(act, month.usual_sbp, month.usual_dbp)
        if sums is not _NO_SUMS:
            for q, x in enumerate((month.usual_sbp, month.usual_dbp, month.treated_sbp, month.treated_dbp)):
                sums[q, act] += x
            sums[4, act] += 1.0

    def _compiled(self, pos, day, age, bmi, sums) -> tuple[np.ndarray, ...]:
        """Usual and treated (sbp, dbp) of `pos` on `day` in one compiled pass, adding to `sums`."""
        s = self.s
        return bp_kernel.month_bp(
            pos, day, age, bmi, s.male, s.black, s.south_asian, s.imd, s.onset_type2, s.onset_ckd,
            s.bp_level_sbp, s.bp_level_dbp, s.bp_slope_sbp, s.rx_units, s.rx_stopped, s.bp_response, s.adherence,
            *self._curves, self._params, sums)

    def _close_year(self) -> None:
        if self._year_index >= 0:
            self._year_sums[:, self._year_index, :] = self._this_year.T
            self._this_year[:] = 0.0

    # ------------------------------------------------------------ measuring
    def record_clinic(self, pos: np.ndarray, day, sbp, dbp, cons) -> None:
        s = self.s
        self.record.blood_pressure(pos, day, sbp, dbp, cons, "clinic")
        s.last_bp[pos] = day
        recent = np.empty((len(pos), 3))  # newest first: the new reading, then the two before it
        recent[:, 0] = sbp
        recent[:, 1:] = s.recent_sbp[pos, :2]
        s.recent_sbp[pos] = recent

    def measure(self, pos: np.ndarray, day, cons, step) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """A clinic BP at a visit (NG136 1.2.2: the lower of two if the first is raised), recorded.
        Returns the recorded (sbp, dbp) and the usual untreated (sbp, dbp) behind them."""
        if not len(pos):
            e = np.empty(0)
            return e, e, e, e
        us, ud, ts, td, _, _ = self._bp_at(pos, day)
        rs, rd, _ = bp.clinic_reading(self.sim.stream, pos, step, ts, td, self.s.bp_white_coat_sbp[pos],
                                      self.s.bp_white_coat_dbp[pos])
        rs, rd = self._arms(pos, np.broadcast_to(day, len(pos)), np.broadcast_to(cons, len(pos)), step, rs, rd)
        self.record_clinic(pos, day, rs, rd, cons)
        return rs, rd, us, ud

    def _arms(self, pos: np.ndarray, day: np.ndarray, cons: np.ndarray, step, rs, rd) -> tuple[np.ndarray, np.ndarray]:
        """The arm a visit reads (from CG34; NG136 1.2.3-1.2.4). `rs`, `rd` are the right arm's reading. At a
        person's first measurement in an era that asks for it, both arms; if they differ by more than the
        era's figure, both again, and if the difference remains, the higher arm thereafter (else the right).
        Every reading is recorded; the one returned (recorded last by `measure`) is the final pair's higher,
        which decisions use. Later visits read the arm chosen."""
        s = self.s
        diff = s.bp_arm_diff[pos]
        left = s.bp_arm[pos] == LEFT
        rs, rd = rs.copy(), rd.copy()
        rs[left], rd[left] = bp.arm_reading(rs[left], rd[left], diff[left], np.zeros(int(left.sum())))
        new = np.flatnonzero((s.bp_arm[pos] == UNCHECKED) & ng136.both_arms(day))
        if not len(new):
            return rs, rd
        p, d, c, r_s, r_d = pos[new], day[new], cons[new], rs[new], rd[new]
        z = [self.sim.stream(f"vitals.arm{k}").normal(p, step) for k in range(3)]
        l_s, l_d = bp.arm_reading(r_s, r_d, diff[new], z[0])
        limit = ng136.arm_difference(d)
        again = np.abs(l_s - r_s) > limit
        r2_s, r2_d = bp.arm_reading(r_s, r_d, np.zeros(len(p)), z[1])
        l2_s, l2_d = bp.arm_reading(r2_s, r2_d, diff[new], z[2])
        rec = self.record.blood_pressure
        up1 = l_s > r_s
        rec(p, d, np.where(up1, r_s, l_s), np.where(up1, r_d, l_d), c, "clinic")  # the first pair's lower arm
        a = again
        rec(p[a], d[a], np.where(up1, l_s, r_s)[a], np.where(up1, l_d, r_d)[a], c[a], "clinic")
        up2 = l2_s > r2_s
        rec(p[a], d[a], np.where(up2, r2_s, l2_s)[a], np.where(up2, r2_d, l2_d)[a], c[a], "clinic")
        hi_s = np.where(a, np.where(up2, l2_s, r2_s), np.where(up1, l_s, r_s))
        hi_d = np.where(a, np.where(up2, l2_d, r2_d), np.where(up1, l_d, r_d))
        still = a & (np.abs(l2_s - r2_s) > limit)
        s.bp_arm[p] = np.where(still & up2, LEFT, RIGHT)
        rs[new], rd[new] = hi_s, hi_d
        return rs, rd

    def out_of_clinic(self, pos: np.ndarray, day, step, home: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """ABPM (or HBPM where `home`) daytime means, recorded. Returns (sbp, dbp)."""
        if not len(pos):
            return np.empty(0), np.empty(0)
        _, _, ts, td, _, _ = self._bp_at(pos, day)
        os_, od = bp.out_of_clinic(self.sim.stream, pos, step, ts, td, home)
        for is_home, kind in ((False, "abpm"), (True, "hbpm")):
            sel = home == is_home
            self.record.blood_pressure(pos[sel], day[sel], os_[sel], od[sel], np.full(int(sel.sum()), -1), kind)
        return os_, od

    def lifestyle(self, pos: np.ndarray, day, bmi: np.ndarray, cons=None) -> None:
        """Height, weight and the BMI computed from them, smoking status and (from its date) the AUDIT-C score,
        as recorded at registration, Health Checks and reviews. A weighing varies about the true weight
        (data/prevention.toml [bmi] weighing_sd); the BMI is the recorded weight over the recorded height
        squared, within rounding. Under 18 only the BMI (children's measures are centile-based)."""
        if not len(pos):
            return
        rec, life = self.record, self.life
        value = rec.obstype("Value")
        day = np.broadcast_to(np.asarray(day, dtype=np.int64), len(pos))
        kw = {} if cons is None else {"cons": np.broadcast_to(np.asarray(cons, dtype=np.int64), len(pos))}
        h = np.round(self.s.height[pos], 2)
        weighing = 1 + _PREVENTION["bmi"]["weighing_sd"] * np.clip(self.sim.stream("vitals.weighing").normal(pos, day), -3, 3)
        weight = np.round(bmi * weighing * h * h, 1)
        adult = life.age_at(pos, day) >= _ANTHRO["adult_age"]
        shown = np.round(np.where(adult, weight / (h * h), bmi * weighing), 1)
        rec.observation(pos, day, rec.code("bmi"), value=shown, unit=rec.unit("kg/m2"), obstype=value, **kw)
        rec.observation(pos, day, rec.codes(*SMOKING_CODES)[self.s.smoking[pos]], obstype=rec.obstype("Observation"), **kw)
        if adult.any():  # the height and weight behind the BMI: weight / height^2 = BMI within rounding
            a, d = pos[adult], day[adult]
            akw = {k: v[adult] for k, v in kw.items()}
            rec.observation(a, d, rec.code("body_height"), value=h[adult], unit=rec.unit("m"), obstype=value, **akw)
            rec.observation(a, d, rec.code("body_weight"), value=weight[adult], unit=rec.unit("kg"), obstype=value, **akw)
        self._alcohol(pos, day, kw)

    def _alcohol(self, pos: np.ndarray, day: np.ndarray, kw: dict) -> None:
        """Alcohol, asked at a share of these recordings: an AUDIT-C score (a share growing from 2013) or the
        units drunk a week (data/prevention.toml [alcohol])."""
        a, rec, life = _PREVENTION["alcohol"], self.record, self.life
        asked = self.sim.stream("vitals.alcohol").uniform(pos, day) < a["asked"]
        year = day / YEAR + 1970
        audit = asked & (day >= _AUDIT_FROM) & (
            self.sim.stream("vitals.alcohol.audit").uniform(pos, day) < np.interp(year, a["audit_share_year"], a["audit_share"]))
        units = asked & ~audit
        for sel, code, values in ((audit, "audit_c_score", life.audit_c_at), (units, "alcohol_intake", life.units_at)):
            if sel.any():
                rec.observation(pos[sel], day[sel], rec.code(code), value=values(pos[sel], day[sel]), obstype=rec.obstype("Value"),
                                **{k: v[sel] for k, v in kw.items()})

    def sbp_variability(self, pos: np.ndarray) -> np.ndarray:
        """SD of the last three clinic systolic readings (0 where fewer than two): numpy's nanstd,
        without its warning for people with no reading yet."""
        r = self.s.recent_sbp[pos]
        n = (~np.isnan(r)).sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.nansum(r, axis=1) / n
            var = np.nansum((r - mean[:, None]) ** 2, axis=1) / n
        return np.where(n > 0, np.sqrt(var), 0.0)

    # ------------------------------------------------------------ truth
    def truth_tables(self, sim: "Sim") -> dict[str, dict[str, np.ndarray]]:
        self._close_year()
        acc = self._year_sums
        cnt = acc[:, :, 4]
        pi, yi = np.nonzero(cnt > 0)
        yearly = acc[pi, yi, :4] / cnt[pi, yi, None]
        return {"bp_truth_year": {
            "pat": sim.P[pi], "year": self.years[yi], "usual_sbp": np.round(yearly[:, 0], 1),
            "usual_dbp": np.round(yearly[:, 1], 1), "treated_sbp": np.round(yearly[:, 2], 1),
            "treated_dbp": np.round(yearly[:, 3], 1), "months": cnt[pi, yi].astype(np.int8)}}
