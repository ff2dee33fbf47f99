"""Contacts: the consultation timeline. Who is seen each month (every age), how often, on which
working day, by whom (GP, nurse, HCA, pharmacist) and how (face to face, telephone, video, a home
visit); pathways attach their work to a consultation that happens (a reason, an opportunistic BP
check) or book one of their own (a review, a Health Check), always on a working day.

The figures (rates by age and sex, their trend, the pandemic, weekdays, roles, modes) are in
data/consultations.toml with their sources.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from synthgp.core import dates, reference
from synthgp.core.bank_holidays import is_holiday, to_working_day, working_days_on
from synthgp.core.ids import PATID_MULT
from synthgp.engine.component import Service
from synthgp.engine.services.disruption import Disruption
from synthgp.engine.sim import YEAR, Consults

if TYPE_CHECKING:
    from synthgp.engine.sim import Month, Sim

MAX_PER_MONTH = 12  # everyday consultations a person can have in a month (the Poisson tail beyond is cut)
SPREAD_DAYS = 5  # a booking due on a closed day goes to one of the next this many working days, evenly


def weekday(day):
    """Day of the week, 0 = Monday (day 0, 1 January 1970, was a Thursday)."""
    return (np.asarray(day) + 3) % 7


def decimal_year(day) -> np.ndarray:
    return 1970.0 + np.asarray(day, dtype=np.float64) / YEAR


def _date_days(values) -> np.ndarray:
    return np.array([dates.to_days(v) for v in values], dtype=np.int64)


def poisson(u: np.ndarray, lam: np.ndarray, cap: int = MAX_PER_MONTH) -> np.ndarray:
    """Poisson counts with means `lam` by inversion of uniforms `u` (at most `cap`)."""
    p = np.exp(-lam)
    cdf = p.copy()
    k = np.zeros(len(u), dtype=np.int64)
    for i in range(1, cap + 1):
        more = u > cdf
        if not more.any():
            break
        k += more
        p = p * lam / i
        cdf = cdf + p
    return k


class Plan:
    """The everyday-consultation figures of data/consultations.toml, as functions of age, sex and day."""

    def __init__(self, data: dict | None = None) -> None:
        d = reference.toml("consultations.toml") if data is None else data
        r = d["rates"]
        self.ages = np.asarray(r["ages"], dtype=np.float64)
        self.rates = np.array([r["female"], r["male"]], dtype=np.float64)  # [sex (1 = male), band]
        if self.rates.shape[1] != len(self.ages):
            raise ValueError("consultations.toml [rates]: male and female need one rate per age band")
        self.everyday_share = np.asarray(r["everyday_share"], dtype=np.float64)
        self.sigma = float(r["frailty_sigma"])
        if self.rates.shape[1] != len(self.everyday_share):
            raise ValueError("consultations.toml [rates]: one everyday_share per age band")
        self.trend_year, self.trend = np.asarray(d["trend"]["year"]), np.asarray(d["trend"]["factor"])
        self.pandemic_day, self.pandemic = _date_days(d["pandemic"]["month"]), np.asarray(d["pandemic"]["factor"])
        w = d["weekday"]
        self.weekday_share = np.asarray(w["share"], dtype=np.float64)
        if len(self.weekday_share) != 7 or self.weekday_share[6] != 0:
            raise ValueError("consultations.toml [weekday]: seven shares, Monday first, none on Sunday")
        self.saturday_from, self.saturday_after = dates.to_days(w["saturday_from"]), float(w["saturday_share_after"])
        ro = d["roles"]
        self.jobs = list(ro["jobs"])
        self.role_year, self.role_share = np.asarray(ro["year"]), np.asarray(ro["share"], dtype=np.float64)
        self.child_age, self.child_share = float(ro["child_age"]), np.asarray(ro["child_share"], dtype=np.float64)
        mo = d["modes"]
        self.modes = list(mo["names"])
        self.mode_day, self.mode_share = _date_days(mo["date"]), np.asarray(mo["share"], dtype=np.float64)
        self.home_age = float(mo["home_visit_age"])
        self.home_year, self.home_share = np.asarray(mo["home_visit_year"]), np.asarray(mo["home_visit_share"])

    def rate(self, age: np.ndarray, male: np.ndarray) -> np.ndarray:
        """Consultations a year at 2013-14's level, by age band and sex (all of them: everyday and booked)."""
        return self.rates[np.asarray(male, dtype=np.int64), self.band(age)]

    def band(self, age: np.ndarray) -> np.ndarray:
        return np.clip(np.searchsorted(self.ages, age, side="right") - 1, 0, len(self.ages) - 1)

    def everyday(self, age: np.ndarray, male: np.ndarray) -> np.ndarray:
        """Everyday consultations a year at 2013-14's level: the rate less what other pathways book."""
        return self.rate(age, male) * self.everyday_share[self.band(age)]

    def level(self, day: int) -> float:
        """The trend and the pandemic at `day`, relative to 2013-14."""
        f = float(np.interp(decimal_year(day), self.trend_year, self.trend))
        i = int(np.searchsorted(self.pandemic_day, day, side="right")) - 1
        if 0 <= i < len(self.pandemic_day) - 1:
            f *= float(self.pandemic[i])
        return f

    def weekdays(self, day: int) -> np.ndarray:
        """Shares of consultations by weekday (Monday first) in the week of `day`."""
        w = self.weekday_share.copy()
        if day >= self.saturday_from:
            w[5] = self.saturday_after
        return w / w.sum()

    def roles(self, day: int) -> np.ndarray:
        y = decimal_year(day)
        return np.array([np.interp(y, self.role_year, self.role_share[:, k]) for k in range(len(self.jobs))])

    def mode_shares(self, day: int) -> np.ndarray:
        return np.array([np.interp(day, self.mode_day, self.mode_share[:, k]) for k in range(len(self.modes))])

    def home_visits(self, day: int) -> float:
        return float(np.interp(decimal_year(day), self.home_year, self.home_share))


@dataclass
class Seen:
    """A month's everyday consultations, every age: one row a consultation."""

    pos: np.ndarray
    day: np.ndarray
    key: np.ndarray
    job: np.ndarray  # index into Plan.jobs
    staff: np.ndarray  # staffid
    source: np.ndarray  # conssourceid
    age: np.ndarray
    step: np.ndarray  # the draw step of each (unique for a person and month, the same whatever the block)


class Contacts(Service):
    name = "contacts"
    fields = {"consult_frailty": "each person's own propensity to consult (mean 1)"}
    reads = ("male", "practice", "ent", "lst", "first_allowed")

    def init(self, sim: "Sim") -> dict[str, np.ndarray]:
        sigma = Plan().sigma
        z = sim.draws("consult.frailty").normal(sim.everyone)
        return {"consult_frailty": np.exp(sigma * z - sigma * sigma / 2)}

    def bind(self, sim: "Sim") -> None:
        super().bind(sim)
        self.sim, self.ids, self.record = sim, sim.ids, sim.record
        self.jobs = reference.toml("aurum_lookups.toml")["JobCat"]["job_keys"]
        self.staff_first, self.staff_count = sim.plan.staff_first, sim.plan.staff_count
        self.pracid = sim.people.pracid[sim.P]
        self.plan = Plan()
        missing = set(self.plan.jobs) - set(self.jobs)
        if missing:
            raise ValueError(f"consultations.toml [roles] names jobs aurum_lookups.toml JobCat lacks: {sorted(missing)}")
        self.home_source = self.record.source("Home visit")
        self.seen: Seen | None = None
        self._moved_keys: list[np.ndarray] = []  # bookings moved off a weekend: their keys and days
        self._moved_days: list[np.ndarray] = []
        self.disruption = Disruption(scale=sim.scenario.covid.disruption_scale)

    def staff(self, job: str, pos: np.ndarray, purpose: str, step) -> np.ndarray:
        """A member of staff of the patient's practice, of `job`, drawn for `purpose` (staffid)."""
        if not len(pos):
            return np.empty(0, dtype=np.int64)
        j = self.jobs.index(job)
        prac = self.s.practice[pos]
        k = self.staff_first[prac, j] + self.sim.draws(f"staff.{purpose}").integers(pos, self.staff_count[prac, j], step)
        return k * PATID_MULT + self.pracid[pos]

    def weekday(self, day, pos: np.ndarray | None = None):
        """`day` moved to a working day. Without `pos` the next one (urgent care: what must not wait); with `pos`
        (one each) a booked clinic: a day due on a weekend or bank holiday goes to one of the next SPREAD_DAYS working
        days, evenly (a clinic list fills over the week, not all on the Monday), or to the next one where that would
        fall after the person leaves or dies."""
        if pos is None:
            return to_working_day(day)
        day = np.broadcast_to(np.asarray(day, dtype=np.int64), len(pos))
        closed = to_working_day(day) != day
        if not closed.any():
            return day
        out = day.copy()
        p, d = pos[closed], day[closed]
        k = self.sim.draws("contacts.spread").integers(p, SPREAD_DAYS, d)
        moved = working_days_on(d, k)
        out[closed] = np.where(moved <= self.s.lst[p], moved, to_working_day(d))
        return out

    def book(self, pos: np.ndarray, day, job: str, purpose: str, step, source: str) -> np.ndarray:
        """Book and hold a consultation with `job` for each of `pos` on `day`, moved to a working day (`weekday`
        with `pos`: a closed day's bookings spread over the next week; what is recorded at it takes its day:
        `day_at`); returns their keys."""
        if not len(pos):
            return np.empty(0, dtype=np.int64)
        day = np.broadcast_to(np.asarray(day, dtype=np.int64), len(pos))
        held = self.weekday(day, pos)
        keys = self.record.consultation(pos, held, self.staff(job, pos, purpose, step), self.record.source(source))
        moved = held != day
        if moved.any():
            self._moved_keys.append(keys[moved])
            self._moved_days.append(held[moved])
        return keys

    def routine(self, pos: np.ndarray, day, purpose: str, step) -> tuple[np.ndarray, np.ndarray]:
        """(whether each routine contact due on `day` goes ahead, the day a deferred one is asked again): the
        pandemic's disruption of routine care (engine/services/disruption.py)."""
        return self.disruption.routine(self.sim.draws, pos, day, purpose, step)

    def day_at(self, cons, day):
        """The day of an entry made at consultation `cons` on `day`: the consultation's own day where a
        booking moved it to a working day (so an entry and its consultation share a day)."""
        if not self._moved_keys or cons is None:
            return day
        cons = np.asarray(cons)
        valid = cons[cons >= 0] if cons.ndim else cons[None][cons[None] >= 0]
        if not valid.size or valid.max() < self._moved_keys[0][0]:
            return day
        if len(self._moved_keys) > 16:  # few chunks to look through: one sorted array for the older ones
            self._moved_keys = [np.concatenate(self._moved_keys)]
            self._moved_days = [np.concatenate(self._moved_days)]
        lo = valid.min()
        out = None
        # keys ascend from one booking to the next: only the recent bookings can hold these consultations
        for keys, days in zip(reversed(self._moved_keys), reversed(self._moved_days)):
            if keys[-1] < lo:
                break
            i = np.clip(np.searchsorted(keys, cons), 0, len(keys) - 1)
            hit = keys[i] == cons
            if hit.any():
                out = np.where(hit, days[i], day if out is None else out)
        return day if out is None else out

    # ------------------------------------------------------------ everyday consultations
    def _everyone(self, sim: "Sim", month: "Month") -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(positions, first day in the record, their day of the month, age at it) of everyone registered and
        alive this month, every age (`month.all`; the adults alone in a month built by hand without ages for
        the others)."""
        s = self.s
        if len(month.all_age) == len(month.all):
            vday = month.all_vday if len(month.all_vday) == len(month.all) else np.full(len(month.all), month.day0)
            return month.all, s.first_allowed[month.all], vday, month.all_age
        vday = month.vday if len(month.vday) == len(month.act) else np.full(len(month.act), month.day0)
        return month.act, s.first_allowed[month.act], vday, month.age

    def consult(self, sim: "Sim", month: "Month") -> None:
        """Who consults this month (a rate by age and sex, the trend and the pandemic, each person's own
        propensity), how many times, on which working days, with whom and how. `self.seen` holds them
        all; `month.consults` one a month for each adult seen (a face-to-face one with a nurse or HCA
        where there is one), for the pathways that work at a consultation."""
        plan, m, s = self.plan, month.m, self.s
        who, first, vday, age = self._everyone(sim, month)
        lam = (plan.everyday(age, s.male[who]) * plan.level(month.day0)
               * s.consult_frailty[who] / 12 * (month.day1 - month.day0) / (YEAR / 12))
        n = poisson(sim.draws("consult").uniform(who, m), lam)
        pos = np.repeat(who, n)
        j = np.arange(len(pos)) - np.repeat(np.cumsum(n) - n, n)  # each one's consultation number this month
        step = m * MAX_PER_MONTH + j
        day = self._days(sim, month, pos, step)
        age = np.repeat(age, n) + (day - np.repeat(vday, n)) / YEAR  # at the consultation
        keep = (day >= np.repeat(first, n)) & (day <= s.lst[pos])
        pos, step, age, day = pos[keep], step[keep], age[keep], day[keep]
        job, source = self._who_and_how(sim, month, pos, step, age)
        staff = np.empty(len(pos), dtype=np.int64)
        for k, key in enumerate(plan.jobs):
            sel = job == k
            staff[sel] = self.staff(key, pos[sel], "consult", step[sel])
        keys = self.record.consultation(pos, day, staff, source)
        self.seen = Seen(pos, day, keys, job, staff, source, age, step)
        month.consults = self._adults(month, self.seen)

    def _days(self, sim: "Sim", month: "Month", pos: np.ndarray, step: np.ndarray) -> np.ndarray:
        """A working day in the month for each consultation: a week of the month, then a weekday by the
        shares of data/consultations.toml [weekday]."""
        d0, d1 = month.day0, month.day1
        d = d0 + sim.draws("consult.day").integers(pos, d1 - d0, step)
        wd = sim.draws("consult.weekday").categorical(pos, self.plan.weekdays(d0), step)
        day = d - weekday(d) + wd
        day = np.where(day >= d1, day - 7, day)
        day = np.where(day < d0, day + 7, day)
        # a bank holiday: the same weekday a week on or back, then two or three (Christmas and New Year, Easter
        # and a royal wedding), whichever first is in the month and not a holiday itself
        for shift in (7, -7, 14, -14, 21, -21):
            moved = day + shift
            day = np.where(is_holiday(day) & (moved >= d0) & (moved < d1) & ~is_holiday(moved), moved, day)
        return day

    def _who_and_how(self, sim: "Sim", month: "Month", pos: np.ndarray, step: np.ndarray,
                     age: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Each consultation's job (index into the plan's jobs) and conssourceid."""
        plan, rec, d0 = self.plan, self.record, month.day0
        child = age < plan.child_age
        u = sim.draws("consult.role").uniform(pos, step)
        job = np.where(child, np.minimum(np.searchsorted(np.cumsum(plan.child_share) / plan.child_share.sum(), u,
                                                          side="right"), len(plan.jobs) - 1),
                       np.minimum(np.searchsorted(np.cumsum(plan.roles(d0)) / plan.roles(d0).sum(), u, side="right"),
                                  len(plan.jobs) - 1))
        mode = sim.draws("consult.mode").categorical(pos, plan.mode_shares(d0), step)
        ids = np.array([rec.source(name) for name in plan.modes], dtype=np.int64)
        source = ids[mode]
        home = (age >= plan.home_age) & (sim.draws("consult.home").uniform(pos, step) < plan.home_visits(d0))
        source[home] = self.home_source
        gp = plan.jobs.index("gp")
        job[home] = gp
        # a small practice may have no HCA or pharmacist: a nurse sees the HCA's patients, a GP the others
        prac = self.s.practice[pos]
        for k, instead in (("hca", "nurse"), ("pharmacist", "gp"), ("nurse", "gp")):
            none = (job == plan.jobs.index(k)) & (self.staff_count[prac, self.jobs.index(k)] == 0)
            job[none] = plan.jobs.index(instead)
        return job, source

    def _adults(self, month: "Month", seen: Seen) -> Consults:
        """One consultation a month for each adult seen: face to face before remote, a nurse's or HCA's
        before a GP's or pharmacist's, the first of the month otherwise."""
        plan = self.plan
        adult = np.zeros(self.sim.n, dtype=bool)
        adult[month.act] = True
        idx = np.flatnonzero(adult[seen.pos])
        if not len(idx):
            empty = np.empty(0, dtype=np.int64)
            return Consults(empty, empty, empty, np.empty(0, dtype=bool), np.empty(0))
        pos, day = seen.pos[idx], seen.day[idx]
        remote = seen.source[idx] != self.record.source("Face to face consultation")
        remote &= seen.source[idx] != self.home_source
        nurse_hca = np.isin(seen.job[idx], [plan.jobs.index("nurse"), plan.jobs.index("hca")])
        order = np.lexsort((day, ~nurse_hca, remote, pos))
        first = np.r_[True, pos[order][1:] != pos[order][:-1]]
        pick = np.sort(idx[order[first]])
        src = seen.source[pick]
        remote = (src != self.record.source("Face to face consultation")) & (src != self.home_source)
        return Consults(seen.pos[pick], seen.day[pick], seen.key[pick], remote, seen.age[pick])
