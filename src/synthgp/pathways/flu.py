"""The seasonal influenza vaccination programme for adults (data/flu.toml, scenario [flu]).

Each season starts on 1 September (adults from 3 October in 2024/25) and runs to the end of February.
At its start the practice invites those eligible: aged 65 or over by 31 March, or 18-64 in a clinical
risk group the record shows (diabetes, CKD 3-5, coronary heart disease, stroke, heart failure, long-term
oral corticosteroids, and from 2015/16 a BMI of 40 or more), and in 2020/21-2022/23 the healthy 50-64s
from the date they were added. Whether a person is vaccinated follows the UKHSA uptake of their group
that season, through a propensity that persists from season to season (`flu.persistence`), lower in
Black and in more deprived people; the month follows the published pace of the season. Most are
vaccinated at the practice by a nurse; from 2015/16 a share at a community pharmacy, which the practice
learns of by a notification entered days later (or never, `flu.not_notified`). Some who are not
vaccinated have "declined" coded. The truth (`flu_truth`) keeps every season of every eligible person.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from statistics import NormalDist
from typing import TYPE_CHECKING

import numpy as np

from synthgp.core import dates, reference
from synthgp.engine.component import Pathway
from synthgp.engine.truth import TruthRows

if TYPE_CHECKING:
    from synthgp.engine.sim import Month, Sim

NEVER = np.iinfo(np.int64).max // 4
GROUPS = ("age_65_plus", "clinical_risk", "age_50_64")
PLACES = ("practice", "pharmacy")


@dataclass(frozen=True)
class Season:
    year: int  # the year it starts in
    start: int  # day number
    month_starts: tuple[int, ...]  # first day of each calendar month, September to March (7 values)


def _day(d: dt.date) -> int:
    return int(dates.to_days(d))


class Flu(Pathway):
    name = "flu"
    fields = {"flu_due": "day of this season's planned vaccination, or NEVER",
              "flu_place": "where it is planned: 0 practice, 1 pharmacy", "flu_group": "eligibility group of the plan",
              "flu_season": "season of the plan, or -1"}
    reads = ("dob", "ent", "lst", "black", "imd", "known_type2", "rf_type1", "known_ckd", "stroke_day", "mi_day",
             "heart_failure_day", "rf_corticosteroids")
    truth = ("flu_truth",)

    def init(self, sim: "Sim") -> dict[str, np.ndarray]:
        n = sim.n
        return {"flu_due": np.full(n, NEVER, dtype=np.int64), "flu_place": np.zeros(n, dtype=np.int8),
                "flu_group": np.zeros(n, dtype=np.int8), "flu_season": np.full(n, -1, dtype=np.int64)}

    def bind(self, sim: "Sim") -> None:
        super().bind(sim)
        self.sim, self.cfg, self.par = sim, reference.toml("flu.toml"), sim.scenario.flu
        first, last = dates.year_of(np.array([sim.start, sim.end]))
        self.seasons = [self._season(int(y)) for y in range(int(first) - 1, int(last) + 1)]
        self.seasons = [s for s in self.seasons if sim.start <= s.start <= sim.end]
        self.propensity = sim.stream("flu.propensity").normal(sim.everyone)
        eth = reference.toml("population.toml")["ethnicity"]
        self.black_share = float(sum(s for s, b in zip(eth["share"], eth["broad"]) if b == "Black"))
        self.rows = TruthRows("pat", "season", "eligible_as", "vaccinated", "date", "place", "recorded")

    def _season(self, year: int) -> Season:
        c = self.cfg["season"]
        start = dt.date.fromisoformat(c["late_starts"][str(year)]) if str(year) in c["late_starts"] else dt.date(year, c["start_month"], c["start_day"])
        months = tuple(_day(dt.date(year + (m > 12), (m - 1) % 12 + 1, 1)) for m in range(9, 16))
        return Season(year, _day(start), months)

    # ------------------------------------------------------------ data by season
    def _table(self, key: str, table: str, year: int) -> float:
        t = self.cfg[table]
        years = t["season"]
        return float(t[key][years.index(min(max(year, years[0]), years[-1]))])

    def uptake(self, group: str, year: int) -> float:
        if group == "age_50_64":
            p = float(self.cfg["uptake"]["fifty_to_64"][str(year)])
        else:
            p = self._table("age_65_plus" if group == "age_65_plus" else "under_65_at_risk", "uptake", year)
        return min(p * self.par.uptake_scale, 0.99)

    def pharmacy_share(self, year: int) -> float:
        return 0.0 if year < self.cfg["pharmacy"]["season"][0] else self._table("share", "pharmacy", year)

    # ------------------------------------------------------------ who is eligible
    def eligible(self, pos: np.ndarray, season: Season) -> tuple[np.ndarray, np.ndarray]:
        """(group index or -1, day the group's eligibility starts) of `pos` at `season`'s start."""
        s, e, day, y = self.s, self.cfg["eligibility"], season.start, season.year
        # aged 65 or over on 31 March: born on or before that day 65 years earlier (calendar age)
        born_by = _day(dt.date(y + 1 - e["age_from"], e["age_by_month"], e["age_by_day"]))
        risk = ((s.known_type2[pos] <= day) | s.rf_type1[pos] | (s.known_ckd[pos] <= day) | dates.happened_by(s.stroke_day[pos], day)
                | dates.happened_by(s.mi_day[pos], day) | dates.happened_by(s.heart_failure_day[pos], day) | s.rf_corticosteroids[pos])
        if y >= e["morbid_obesity_from_season"]:
            risk |= self.sim.life.bmi_at(pos, day) >= e["morbid_obesity_bmi"]
        group = np.where(s.dob[pos] <= born_by, 0, np.where(risk, 1, -1))
        starts = np.full(len(pos), day, dtype=np.int64)
        if str(y) in e["fifty_to_64"]:
            from_date = dt.date.fromisoformat(e["fifty_to_64"][str(y)])
            from_day = _day(from_date)
            fifty = (group < 0) & (s.dob[pos] <= _day(from_date.replace(year=from_date.year - 50)))  # 50 by then
            group[fifty], starts[fifty] = 2, max(from_day, day)
        return group, starts

    # ------------------------------------------------------------ steps
    def invite(self, sim: "Sim", month: "Month") -> None:
        """At a season's start: the previous season's unfinished plans end, and everyone eligible is
        invited; who will be vaccinated, on which day and where is decided now."""
        for season in self.seasons:
            if month.day0 <= season.start < month.day1:
                self._close_plans()
                self._plan(sim, month, season)

    def _plan(self, sim: "Sim", month: "Month", season: Season) -> None:
        s, y = self.s, season.year
        here = month.act[(s.ent[month.act] <= season.start) & (s.lst[month.act] >= season.start)]
        group, starts = self.eligible(here, season)
        pos, group, starts = here[group >= 0], group[group >= 0], starts[group >= 0]
        w = self.cfg["who_gets_it"]
        deprived = 3 - s.imd[pos]  # +2 the most deprived quintile
        old = group == 0
        shift = (np.where(old, w["black_probit_65_plus"], w["black_probit_under_65"]) * (s.black[pos] - self.black_share)
                 + w["deprivation_probit_per_quintile"] * deprived)
        by_group = [self.uptake(g, y) if g != "age_50_64" or str(y) in self.cfg["uptake"]["fifty_to_64"] else 0.0 for g in GROUPS]
        threshold = np.array([NormalDist().inv_cdf(min(max(x, 0.001), 0.999)) for x in by_group])[group] + shift
        r = self.par.persistence
        latent = np.sqrt(r) * self.propensity[pos] + np.sqrt(1 - r) * sim.stream("flu.season").normal(pos, y)
        yes = latent < threshold
        self._not_vaccinated(sim, pos[~yes], group[~yes], season)
        pos, group, starts = pos[yes], group[yes], starts[yes]
        s.flu_due[pos] = self._day_in_season(sim, pos, group, starts, season)
        s.flu_place[pos] = sim.stream("flu.pharmacy").uniform(pos, y) < self.pharmacy_share(y)
        s.flu_group[pos], s.flu_season[pos] = group, y

    def _day_in_season(self, sim: "Sim", pos, group, starts, season: Season) -> np.ndarray:
        """A day for each vaccination, by the published pace of the season from the group's start."""
        c = self.cfg["season"]
        ms = np.asarray(season.month_starts)
        first = np.searchsorted(ms, starts, side="right") - 1  # calendar month (0 = September) of the start
        share = np.where((group == 0)[:, None], np.asarray(c["month_share_65_plus"]), np.asarray(c["month_share_under_65"]))
        share = np.where(np.arange(6)[None, :] >= first[:, None], share, 0.0)
        month = sim.stream("flu.month").categorical(pos, share / share.sum(axis=1, keepdims=True), season.year)
        lo = np.maximum(ms[month], starts)
        return lo + sim.stream("flu.day").integers(pos, ms[month + 1] - lo, season.year)

    def _not_vaccinated(self, sim: "Sim", pos, group, season: Season) -> None:
        """Not vaccinated this season; some have declining it coded, a month or two after the invitation."""
        y = season.year
        self._truth(pos, y, group, 0, np.full(len(pos), dates.NONE), None, np.zeros(len(pos)))
        coded = pos[sim.stream("flu.declined").uniform(pos, y) < self.par.declined_coded]
        day = season.start + 30 + sim.stream("flu.declined.day").integers(coded, 60, y)
        rec = sim.record
        rec.observation(coded, day, rec.code("flu_vaccination_declined"), obstype=rec.obstype("Immunisation"))

    def vaccinate(self, sim: "Sim", month: "Month") -> None:
        """Vaccinations planned for this month, if the person is still here: at the practice by a nurse,
        or at a pharmacy and notified days later."""
        s, act, rec = self.s, month.act, sim.record
        due = act[(s.flu_due[act] >= month.day0) & (s.flu_due[act] < month.day1)]
        due = due[s.flu_due[due] <= s.lst[due]]
        day, season = s.flu_due[due], s.flu_season[due]
        pharmacy = s.flu_place[due] == 1
        day = np.where(pharmacy, day, sim.contacts.weekday(day, due))  # the practice's clinics run on working days
        gp = due[~pharmacy]
        cons = sim.contacts.book(gp, day[~pharmacy], "nurse", "flu", month.m, "Clinic")
        rec.observation(gp, day[~pharmacy], rec.code("flu_vaccination"), cons=cons, obstype=rec.obstype("Immunisation"))
        ph, ph_day = due[pharmacy], day[pharmacy]
        told = sim.stream("flu.notified").uniform(ph, season[pharmacy]) >= self.par.not_notified
        lo, hi = self.cfg["pharmacy"]["notification_days"]
        delay = lo + sim.stream("flu.notification").integers(ph[told], hi - lo + 1, season[pharmacy][told])
        rec.observation(ph[told], ph_day[told], rec.code("flu_vaccination_pharmacy"), obstype=rec.obstype("Immunisation"),
                        enter_delay=delay)
        recorded = np.ones(len(due))
        recorded[np.flatnonzero(pharmacy)[~told]] = 0
        for yr in np.unique(season):
            sel = season == yr
            self._truth(due[sel], int(yr), s.flu_group[due[sel]], 1, day[sel], s.flu_place[due[sel]], recorded[sel])
        s.flu_due[due], s.flu_season[due] = NEVER, -1

    def _close_plans(self) -> None:
        """Plans not carried out (the person died or left first): not vaccinated that season."""
        s = self.s
        open_ = np.flatnonzero(s.flu_season >= 0)
        for yr in np.unique(s.flu_season[open_]):
            sel = open_[s.flu_season[open_] == yr]
            self._truth(sel, int(yr), s.flu_group[sel], 0, np.full(len(sel), dates.NONE), None, np.zeros(len(sel)))
        s.flu_due[open_], s.flu_season[open_] = NEVER, -1

    def _truth(self, pos, year: int, group, vaccinated: int, day, place, recorded) -> None:
        where = None if place is None else np.asarray(PLACES, dtype=object)[np.asarray(place, dtype=np.int64)]
        self.rows.add(len(pos), pat=self.sim.P[pos], season=year, eligible_as=np.asarray(GROUPS, dtype=object)[np.asarray(group, dtype=np.int64)],
                      vaccinated=np.int8(vaccinated), date=np.asarray(day, dtype=np.int64), place=where,
                      recorded=np.asarray(recorded, dtype=np.int8))

    def truth_tables(self, sim: "Sim") -> dict[str, dict[str, np.ndarray]]:
        self._close_plans()
        return {"flu_truth": self.rows.columns("season")}
