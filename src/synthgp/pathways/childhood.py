"""Children's routine care at the practice: the 6-8 week baby check and the routine immunisation schedule
(data/immunisation.toml).

Each child is invited to the schedule's visits (8, 12 and 16 weeks, 1 year, 18 months from 2026, 3 years
4 months); which vaccines a visit gives is read from the dated rows of the schedule, on the day the visit
falls due and by date of birth, so no vaccine is given before its programme started. Whether a child attends
a visit follows a propensity (one latent for the three infant visits, so the primary course is nested, and one
for the visits from 1 year, so MMR2 is given to children who had MMR1; the two correlated), shifted by
deprivation, with the attendance solved so that coverage at the
age COVER measures it (12 months, 24 months, 5 years) is the published figure of the child's cohort year.
A visit is given promptly or late (data/immunisation.toml [timing]), never within four weeks of the last.

Vaccinations are given by a practice nurse at an immunisation clinic; the baby check by a GP, with the
baby's weight (WHO growth standards). Women of the list give birth at their age's rate, and a GP sees most mothers
6-8 weeks after (the maternal postnatal check, data/immunisation.toml [mother_check]; not linked to a baby's record). A child who joins the practice after a visit brings the vaccinations
given elsewhere as transferred history (dated as given, entered after registration). Nothing is recorded
after death or leaving.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from statistics import NormalDist
from typing import TYPE_CHECKING

import numpy as np

from synthgp.core import dates, reference
from synthgp.engine.component import Pathway

if TYPE_CHECKING:
    from synthgp.engine.sim import Month, Sim

NEVER = np.iinfo(np.int64).max // 4
FAR = 10 ** 9  # an open end of a dated row, in days
CHILD_YEARS = 6.0  # every visit falls before this age


def _day(d: dt.date | None, default: int) -> int:
    return default if d is None else int(dates.to_days(d))


@dataclass(frozen=True)
class Visit:
    key: str
    age_days: int
    coverage: str  # the coverage series (immunisation.toml [coverage]) its attendance is solved from
    extra: float  # attendance above that series


@dataclass(frozen=True)
class Dose:
    visit: int  # index into the visits
    code: str  # codes.csv key
    dose: int
    due_from: int  # day numbers: the row holds when the visit falls due in [due_from, due_until)
    due_until: int
    born_from: int  # ... and the child was born in [born_from, born_until)
    born_until: int

    def applies(self, dob: np.ndarray, due: np.ndarray) -> np.ndarray:
        return (due >= self.due_from) & (due < self.due_until) & (dob >= self.born_from) & (dob < self.born_until)


def schedule(cfg: dict | None = None) -> tuple[list[Visit], list[Dose]]:
    """The visits and dated dose rows of data/immunisation.toml (a clear error for a row naming no visit)."""
    cfg = cfg or reference.toml("immunisation.toml")
    visits = [Visit(v["key"], int(v["age_days"]), v["coverage"], float(v["extra"])) for v in cfg["visit"]]
    index = {v.key: i for i, v in enumerate(visits)}
    doses = []
    for d in cfg["dose"]:
        if d["visit"] not in index:
            raise ValueError(f"immunisation.toml: dose {d['code']} names visit {d['visit']!r}; visits: {', '.join(index)}")
        doses.append(Dose(index[d["visit"]], d["code"], int(d["dose"]), _day(d.get("due_from"), -FAR),
                          _day(d.get("due_until"), FAR), _day(d.get("born_from"), -FAR), _day(d.get("born_until"), FAR)))
    return visits, doses


def financial_year(day: np.ndarray) -> np.ndarray:
    """The financial year (starting 1 April) a day falls in, by its starting year."""
    day = np.asarray(day)
    return dates.year_of(day) - (dates.month_of(day) < 4)


def delay_cdf(t: np.ndarray, timing: dict) -> np.ndarray:
    """P(a visit is given within `t` days of falling due), the prompt-or-late mixture of [timing]."""
    t = np.maximum(np.asarray(t, dtype=np.float64), 0.0)
    q = timing["prompt_share"]
    return q * -np.expm1(-t / timing["prompt_mean_days"]) + (1 - q) * -np.expm1(-t / timing["late_mean_days"])


class Childhood(Pathway):
    name = "childhood"
    all_ages = True
    fields = {"child_visit_day": "day each immunisation visit is attended (one column per visit), or NEVER",
              "baby_check_day": "day of the 6-8 week baby check, or NEVER",
              "child_flu_day": "day of each season's nasal flu vaccination (one column per season), or NEVER",
              "last_birth": "day a woman last gave birth (in the simulated months), or -NEVER",
              "mother_check_day": "day of her pending 6-8 week postnatal check, or NEVER"}
    reads = ("dob", "male", "imd", "first_allowed", "first", "lst")

    def init(self, sim: "Sim") -> dict[str, np.ndarray]:
        n_visits = len(reference.toml("immunisation.toml")["visit"])
        n_seasons = len(reference.toml("immunisation.toml")["child_flu"]["season"])
        return {"child_visit_day": np.full((sim.n, n_visits), NEVER, dtype=np.int64),
                "baby_check_day": np.full(sim.n, NEVER, dtype=np.int64),
                "child_flu_day": np.full((sim.n, n_seasons), NEVER, dtype=np.int64),
                "last_birth": np.full(sim.n, -NEVER, dtype=np.int64), "mother_check_day": np.full(sim.n, NEVER, dtype=np.int64)}

    def bind(self, sim: "Sim") -> None:
        super().bind(sim)
        self.sim, self.cfg = sim, reference.toml("immunisation.toml")
        covers = _day(self.cfg["covers_until"], 0)
        if sim.end > covers:
            raise ValueError(f"the childhood immunisation schedule (data/immunisation.toml) covers dates to "
                             f"{self.cfg['covers_until']}; this study ends on {dates.EPOCH + dt.timedelta(days=int(sim.end))}. Add the "
                             f"later changes (MMRV from January 2026) to the file first")
        self.visits, self.doses = schedule(self.cfg)
        pop, region = reference.toml("population.toml"), sim.scenario.population.region
        share = reference.toml("regions.toml")[region].get("profile", {}).get("imd_quintile_share", pop["imd"]["quintile_share"])
        self.mean_imd = float(np.dot(share, np.arange(1, 6)))
        self._month_kids: tuple[int, np.ndarray] = (-1, np.empty(0, dtype=np.int64))

    # ------------------------------------------------------------ coverage
    def coverage(self, series: str, year: np.ndarray) -> np.ndarray:
        """The published coverage of `series` in each financial year (the first or last year outside the table)."""
        c = self.cfg["coverage"]
        years = np.asarray(c["season"])
        return np.asarray(c[series])[np.clip(np.asarray(year) - years[0], 0, len(years) - 1)]

    def attendance(self, v: int, dob: np.ndarray) -> np.ndarray:
        """P(attending visit `v`) for children born on `dob`, so that coverage at the measured age is the
        published figure of the year that age is reached. A visit can be late, and is never within
        `min_interval_days` of the last, so it is in time only if each earlier visit j was late by no more than
        at - age_j - (v - j) x interval: the target is divided by the product of those chances."""
        visit, c, timing = self.visits[v], self.cfg["coverage"], self.cfg["timing"]
        at = c["measured_at_days"][visit.coverage]
        target = self.coverage(visit.coverage, financial_year(dob + at)) + visit.extra
        in_time = np.prod([delay_cdf(at - self.visits[j].age_days - (v - j) * timing["min_interval_days"], timing)
                           for j in range(v + 1)])
        return np.minimum(target / in_time, 0.995)

    # ------------------------------------------------------------ planning (once, before the months)
    def plan(self, sim: "Sim") -> None:
        """Every child's visits: attended or not, and the day; the baby check. Visits before the child's
        first simulated day are written now (transferred history, or history from before the burn-in)."""
        s = self.s
        kids = np.flatnonzero((s.dob > sim.start - CHILD_YEARS * 365.25) & (s.dob <= sim.end))
        if not len(kids):
            return
        dob, prop = s.dob[kids], self.cfg["propensity"]
        z = sim.stream("childhood.propensity").normal(kids)
        shift = prop["deprivation_probit_per_quintile"] * (s.imd[kids] - self.mean_imd)
        inv = np.vectorize(NormalDist().inv_cdf)
        timing, last = self.cfg["timing"], np.full(len(kids), -FAR, dtype=np.int64)
        r = prop["persistence"]
        later = np.sqrt(r) * z + np.sqrt(1 - r) * sim.stream("childhood.later").normal(kids)  # from 1 year
        for v, visit in enumerate(self.visits):
            due = dob + visit.age_days
            offered = np.zeros(len(kids), dtype=bool)
            for d in self.doses:
                if d.visit == v:
                    offered |= d.applies(dob, due)
            latent = z if visit.age_days < 365 else later
            attends = offered & (latent < inv(self.attendance(v, dob)) + shift)
            prompt = sim.stream("childhood.prompt").uniform(kids, v) < timing["prompt_share"]
            mean = np.where(prompt, timing["prompt_mean_days"], timing["late_mean_days"])
            day = due + np.round(sim.stream("childhood.delay").exponential(kids, mean, v)).astype(np.int64)
            day = np.maximum(day, last + timing["min_interval_days"])
            s.child_visit_day[kids[attends], v] = day[attends]
            last = np.where(attends, day, last)
        self._baby_check_plan(sim, kids)
        self._flu_plan(sim, kids, later, shift)
        self._history(sim, kids)

    def _baby_check_plan(self, sim: "Sim", kids: np.ndarray) -> None:
        b = self.cfg["baby_check"]
        done = sim.stream("childhood.check").uniform(kids) < b["share"]
        day = self.s.dob[kids] + b["from_days"] + sim.stream("childhood.check.day").integers(kids, b["to_days"] - b["from_days"] + 1)
        self.s.baby_check_day[kids[done]] = day[done]

    def _flu_plan(self, sim: "Sim", kids: np.ndarray, later: np.ndarray, shift: np.ndarray) -> None:
        """Each season from 2013/14, the children of the eligible ages on 31 August: vaccinated or not, and on
        which day (September to January)."""
        f, s = self.cfg["child_flu"], self.s
        r = f["persistence"]
        for k, (year, uptake) in enumerate(zip(f["season"], f["uptake"])):
            start = _day(dt.date(year, 9, 1), 0)
            if year < f["first_season"] or not sim.start <= start <= sim.end:
                continue
            ages = f["ages_by_season"].get(str(year), f["ages"])
            age = (dt.date(year, 8, 31) - dates.EPOCH).days - s.dob[kids]  # days old on 31 August
            years = np.floor(age / 365.25).astype(np.int64)
            sel = np.isin(years, ages) & (age >= 0)
            who = kids[sel]
            latent = np.sqrt(r) * later[sel] + np.sqrt(1 - r) * sim.stream("childhood.flu").normal(who, year)
            yes = latent < NormalDist().inv_cdf(uptake) + shift[sel]
            month = sim.stream("childhood.flu.month").categorical(who[yes], np.asarray(f["month_share"]), year)
            first = np.array([_day(dt.date(year + (m > 12), (m - 1) % 12 + 1, 1), 0) for m in range(9, 9 + len(f["month_share"]) + 1)])
            day = first[month] + sim.stream("childhood.flu.day").integers(who[yes], first[month + 1] - first[month], year)
            s.child_flu_day[who[yes], k] = day

    def _history(self, sim: "Sim", kids: np.ndarray) -> None:
        """Vaccinations given before a child's first simulated day: from a previous practice (transferred,
        entered within weeks of registration) or, registered here, before the burn-in (history)."""
        s = self.s
        first = s.first[kids]
        for v in range(len(self.visits)):
            day = s.child_visit_day[kids, v]
            before = kids[(day < first) & (day <= np.minimum(s.lst[kids], sim.end))]
            if not len(before):
                continue
            given = s.child_visit_day[before, v]
            moved = given < s.first_allowed[before]
            enter = np.where(moved, s.first_allowed[before] - given
                             + np.round(sim.stream("childhood.transfer").exponential(before, 30.0, v)).astype(np.int64), 0)
            for m in (True, False):
                sel = moved == m
                self._give(sim, before[sel], given[sel], v, None, enter_delay=enter[sel] if m else None, transferred=m)

    # ------------------------------------------------------------ monthly
    def _due(self, sim: "Sim", month: "Month", days: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(positions, days) of the month's children whose `days` fall this month, from their first simulated
        day to their last."""
        if self._month_kids[0] != month.m:  # the month's children, found once for all its steps
            self._month_kids = (month.m, month.all[month.all_age < CHILD_YEARS])
        kids = self._month_kids[1]
        day = days[kids]
        sel = (day >= month.day0) & (day < month.day1) & (day >= self.s.first[kids]) & (day <= self.s.lst[kids])
        return kids[sel], day[sel]

    def _weekday(self, sim: "Sim", day: np.ndarray, pos: np.ndarray | None) -> np.ndarray:
        move = getattr(sim.contacts, "weekday", None)  # the consult part's working-day rule for a clinic, where present
        return day if move is None else move(day, pos)

    def vaccinate(self, sim: "Sim", month: "Month") -> None:
        """This month's immunisation clinics: a practice nurse gives each visit's vaccines."""
        for v in range(len(self.visits)):
            pos, day = self._due(sim, month, self.s.child_visit_day[:, v])
            if len(pos):
                day = self._weekday(sim, day, pos)
                cons = sim.contacts.book(pos, day, "nurse", "childhood.imm", month.m, "Clinic")
                self._give(sim, pos, day, v, cons)

    def _give(self, sim: "Sim", pos: np.ndarray, day: np.ndarray, v: int, cons, **kw) -> None:
        """The vaccinations of visit `v` that apply to each child (by the dated rows), one observation each."""
        if not len(pos):
            return
        rec, dob = sim.record, self.s.dob[pos]
        due = dob + self.visits[v].age_days
        for d in self.doses:
            if d.visit != v:
                continue
            sel = d.applies(dob, due)
            if sel.any():
                extra = {k: (x[sel] if isinstance(x, np.ndarray) else x) for k, x in kw.items()}
                rec.observation(pos[sel], day[sel], rec.code(d.code), cons=None if cons is None else cons[sel],
                                obstype=rec.obstype("Immunisation"), **extra)

    def flu(self, sim: "Sim", month: "Month") -> None:
        """This month's nasal flu vaccinations of young children, by a practice nurse."""
        rec, f = sim.record, self.cfg["child_flu"]
        for k, year in enumerate(f["season"]):
            if month.day1 <= _day(dt.date(year, 9, 1), 0) or month.day0 >= _day(dt.date(year + 1, 3, 1), 0):
                continue  # the month is outside the season (September to January, a weekend into February)
            pos, day = self._due(sim, month, self.s.child_flu_day[:, k])
            if len(pos):
                day = self._weekday(sim, day, pos)
                cons = sim.contacts.book(pos, day, "nurse", "childhood.flu", month.m, "Clinic")
                rec.observation(pos, day, rec.code("flu_vaccination"), cons=cons, obstype=rec.obstype("Immunisation"))

    def baby_check(self, sim: "Sim", month: "Month") -> None:
        """This month's 6-8 week checks by a GP, with the baby's weight."""
        pos, day = self._due(sim, month, self.s.baby_check_day)
        if not len(pos):
            return
        rec, b = sim.record, self.cfg["baby_check"]
        held = self._weekday(sim, day, pos)  # spread over the next week; the next working day where that passes 8 weeks
        day = np.where(held - self.s.dob[pos] > b["to_days"], self._weekday(sim, day, None), held)
        cons = sim.contacts.book(pos, day, "gp", "childhood.check", month.m, "Face to face consultation")
        rec.observation(pos, day, rec.code("baby_check"), cons=cons, obstype=rec.obstype("Observation"))
        months = (day - self.s.dob[pos]) / (365.25 / 12)
        boy, ages = self.s.male[pos], b["weight_age_months"]

        def growth(name: str) -> tuple[np.ndarray, np.ndarray]:
            med = np.where(boy, np.interp(months, ages, b[f"{name}_median_boys"]), np.interp(months, ages, b[f"{name}_median_girls"]))
            return med, np.where(boy, np.interp(months, ages, b[f"{name}_sd_boys"]), np.interp(months, ages, b[f"{name}_sd_girls"]))

        z, r = sim.stream("childhood.weight").normal(pos), b["head_weight_correlation"]
        (med, sd), (hmed, hsd) = growth("weight"), growth("head")
        hz = r * z + np.sqrt(1 - r * r) * sim.stream("childhood.head").normal(pos)
        kg = np.round(np.maximum(med + sd * z, 2.0), 2)
        cm = np.round(hmed + hsd * hz, 1)
        rec.observation(pos, day, rec.code("body_weight"), cons=cons, value=kg, unit=rec.unit("kg"), obstype=rec.obstype("Value"))
        rec.observation(pos, day, rec.code("head_circumference"), cons=cons, value=cm, unit=rec.unit("cm"), obstype=rec.obstype("Value"))

    def postnatal(self, sim: "Sim", month: "Month") -> None:
        """This month's births to the list's women (at their age band's rate, not within `gap_days` of the last), each
        with a GP's postnatal check 5-13 weeks after for the share of her age band; and the checks due this month."""
        c, s = self.cfg["mother_check"], self.s
        ages = np.asarray(c["ages"], dtype=float)
        pos, age = month.all, month.all_age
        if len(age) != len(pos):  # a month built by hand, without everyone's ages
            return
        band = np.searchsorted(ages, age, side="right") - 1
        w = np.flatnonzero(~s.male[pos] & (band >= 0) & (age < ages[-1] + 5))
        pos, band = pos[w], band[w]
        frac = (month.day1 - month.day0) / 365.25
        born = sim.draws("mother.birth").uniform(pos, month.m) < np.asarray(c["births_per_year"])[band] * frac
        pos, band = pos[born], band[born]
        day = month.day0 + sim.draws("mother.birth.day").integers(pos, month.day1 - month.day0, month.m)
        ok = (day - s.last_birth[pos] >= c["gap_days"]) & (day >= s.first[pos]) & (day <= s.lst[pos])
        pos, band, day = pos[ok], band[ok], day[ok]
        s.last_birth[pos] = day
        seen = sim.draws("mother.check").uniform(pos, month.m) < np.asarray(c["share"])[band]
        when = sim.draws("mother.check.when").categorical(pos, np.asarray(c["timing_share"]), month.m)
        lo, hi = np.asarray(c["timing_days"]).T
        after = lo[when] + sim.draws("mother.check.day").integers(pos, hi[when] - lo[when] + 1, month.m)
        s.mother_check_day[pos[seen]] = day[seen] + after[seen]
        due = month.all[(s.mother_check_day[month.all] >= month.day0) & (s.mother_check_day[month.all] < month.day1)]
        day = s.mother_check_day[due]
        s.mother_check_day[due] = NEVER
        keep = day <= s.lst[due]
        due, day = due[keep], day[keep]
        if len(due):
            day = self._weekday(sim, day, due)
            cons = sim.contacts.book(due, day, "gp", "childhood.mother", month.m, "Face to face consultation")
            sim.record.observation(due, day, sim.record.code("postnatal_check"), cons=cons,
                                   obstype=sim.record.obstype("Observation"))
