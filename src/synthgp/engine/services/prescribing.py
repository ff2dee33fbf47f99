"""Prescribing: medicines as repeat courses, issued as the practice issues them.

Two kinds of regimen:
- the antihypertensive regimen, four slots held at once (A: ACEi/ARB, C: CCB, D: diuretic, S: step 4).
  A course starts, titrates (a new course at the next dose) or switches; every slot is issued together
  every 28 or 56 days (per person), later when the person takes less than prescribed (adherence), and
  not at all once they have stopped taking it, until the practice finds out and restarts it;
- regular medicines, one slot each (every class "O" product of data/medicines.toml: the antipsychotic or
  corticosteroid behind a QRISK3 input, the long-term conditions' medicines, the long-term repeats of
  pathways/repeats.py; and the acute items marked `repeat = true`), issued together every 28 days from the day
  each starts (at a strength level) until the day it stops, for as long as the person is here. A start is issued on
  its day (when the person's cycle fell earlier that month, at once); a pack lasting longer than a cycle (`repeat_pack`:
  the pills' 84 days) is issued again on the first cycle day it has a fortnight or less left.
Each course's issues share a drug record id (the id of its first issue). Product, quantity, dose form
and cost come from data/medicines.toml.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from synthgp.core import dates, reference
from synthgp.core.bank_holidays import to_working_day
from synthgp.engine.component import Service

if TYPE_CHECKING:
    from synthgp.engine.sim import Month, Sim

NEVER = np.iinfo(np.int64).max // 4
SLOTS = ("A", "C", "D", "S")
REGULAR = tuple(k for k, v in reference.toml("medicines.toml").items()  # regular medicines, a slot each, in file order:
                if isinstance(v, dict) and (v["class"] == "O" or v.get("repeat")))  # class "O", and acute items also repeated
CYCLE = 28  # days between regular issues; a pack lasting longer is issued on the first cycle day it has RUN_OUT days left
RUN_OUT = 14
DOSE_UNITS = {-2: 0.6, -1: 0.78, 0: 1.0, 1: 1.25, 2: 1.4}  # effect relative to a standard dose (Law 2003)
REGULAR_COURSE_BASE, REGULAR_COURSE_STRIDE = 10_000_000, 20_000_000  # regular courses: one per person and slot
ACUTE_COURSE_BASE = 1 << 40  # acute items: a course each, numbered from here


class Medicines:
    """The product table: per drug, dose levels -> prodcodeid, cost (pence per 28) and standard-dose units."""

    def __init__(self) -> None:
        m = reference.toml("medicines.toml")
        self.names = [k for k, v in m.items() if isinstance(v, dict)]
        self.spec = {k: m[k] for k in self.names}
        self.index = {k: i for i, k in enumerate(self.names)}
        n, L = len(self.names), max(len(v["levels"]) for v in self.spec.values())
        self.prod = np.zeros((n, L), dtype=np.int64)
        self.cost = np.zeros((n, L))
        self.units = np.zeros((n, L))
        self.max_level = np.zeros(n, dtype=np.int64)
        self.capsule = np.zeros(n, dtype=bool)
        self.per_day = np.ones(n, dtype=np.int64)  # tablets or capsules a day of a regular medicine (`per_day`)
        for i, k in enumerate(self.names):
            s = self.spec[k]
            self.max_level[i] = len(s["levels"]) - 1
            self.capsule[i] = s["form"] == "capsule"
            self.per_day[i] = s.get("per_day", 1)
            for j, lv in enumerate(s["levels"]):
                self.prod[i, j] = lv["prodcodeid"]
                self.cost[i, j] = lv["cost"]
                self.units[i, j] = DOSE_UNITS[max(-2, min(2, j - s["standard_level"]))]
        acute = [k for k in self.names if self.spec[k]["class"] == "acute"]
        self.acute = np.array([self.index[k] for k in acute], dtype=np.int64)  # acute items' medicine indices
        missing = [k for k in acute if "pack" not in self.spec[k]]
        if missing:
            raise ValueError(f"medicines.toml: acute items {missing} have no `pack`")
        # quantity, unit, days, dosage id of an acute issue: every acute item's, and a regular medicine's with a `pack`
        self.pack = {self.index[k]: self.spec[k]["pack"] for k in self.names if "pack" in self.spec[k]}
        units = {d: i for i, d in reference.toml("aurum_lookups.toml")["QuantUnit"]["rows"]}
        # each regular medicine's repeat: quantity, unit, days, dosage (default 28 of them, once a day)
        packs = [self.spec[k].get("repeat_pack", [28.0, "tablet", CYCLE, "OD1"]) for k in REGULAR]
        for k, (_, _, days, _) in zip(REGULAR, packs):
            if days % CYCLE:
                raise ValueError(f"medicines.toml [{k}] repeat_pack lasts {days} days, not a multiple of {CYCLE}")
        self.reg_qty = np.array([p[0] for p in packs], dtype=np.float64)
        self.reg_unit = np.array([units[p[1]] for p in packs], dtype=np.int64)
        self.reg_days = np.array([p[2] for p in packs], dtype=np.int64)
        self.reg_every = self.reg_days // CYCLE  # issued every this many cycles
        self.reg_dosage = np.array([p[3] for p in packs], dtype=object)
        self.reg_packed = np.array(["repeat_pack" in self.spec[k] for k in REGULAR], dtype=bool)


class Prescribing(Service):
    name = "rx"
    fields = {
        "rx_drug": "per antihypertensive slot (A, C, D, S): medicine index, or -1",
        "rx_level": "per slot: dose level", "rx_course": "per slot: course number, or -1",
        "rx_units": "standard-dose equivalents the slots hold (Law 2003), summed in slot order",
        "rx_next_issue": "day the regimen is next due to be issued", "rx_stopped": "stopped taking it, unseen",
        "rx_stop_day": "day they stopped", "adherence": "share of the prescribed doses taken",
        "repeat_days": "repeat interval, 28 or 56 days",
        "regular_drug": "per regular-medicine slot: medicine index, or -1", "regular_next": "next regular issue",
        "regular_from": "per regular slot: first day it may be issued", "regular_until": "per regular slot: day it stops",
        "regular_level": "per regular slot: strength level",
        "regular_per_day": "per regular slot: tablets a day, or 0 for the medicine's own (`per_day`)",
        "regular_last": "per regular slot: day of its last issue (a pack lasting several cycles waits for it)",
        "problem_key": "the observation key of the problem the antihypertensives treat, or -1",
    }
    reads = ("ent", "lst", "first_allowed")

    def init(self, sim: "Sim") -> dict[str, np.ndarray]:
        care, n = sim.care, sim.n
        (plo, phi), (flo, fhi) = care.adherence_partial, care.adherence_full
        low = sim.draws("nonadherent").uniform(sim.everyone) < care.nonadherent_share
        adherence = np.where(low, plo + (phi - plo) * sim.draws("adherence.low").uniform(sim.everyone),
                             flo + (fhi - flo) * sim.draws("adherence.high").uniform(sim.everyone))
        return {
            "rx_drug": np.full((n, 4), -1, dtype=np.int64), "rx_level": np.zeros((n, 4), dtype=np.int64),
            "rx_course": np.full((n, 4), -1, dtype=np.int64), "rx_units": np.zeros(n), "rx_next_issue": np.full(n, NEVER, dtype=np.int64),
            "rx_stopped": np.zeros(n, dtype=bool), "rx_stop_day": np.full(n, dates.NONE, dtype=np.int64),
            "adherence": adherence,
            "repeat_days": np.where(sim.draws("repeat56").uniform(sim.everyone) < care.repeat_56_day_share, 56, 28),
            "regular_drug": np.full((n, len(REGULAR)), -1, dtype=np.int64), "regular_next": np.full(n, NEVER, dtype=np.int64),
            "regular_from": np.full((n, len(REGULAR)), -NEVER, dtype=np.int64),
            "regular_until": np.full((n, len(REGULAR)), NEVER, dtype=np.int64),
            "regular_level": np.zeros((n, len(REGULAR)), dtype=np.int64),
            "regular_per_day": np.zeros((n, len(REGULAR)), dtype=np.int64),
            "regular_last": np.full((n, len(REGULAR)), -NEVER, dtype=np.int64),
            "problem_key": np.full(n, -1, dtype=np.int64),
        }

    def bind(self, sim: "Sim") -> None:
        super().bind(sim)
        self.sim, self.ids, self.record, self.contacts = sim, sim.ids, sim.record, sim.contacts
        self.meds = Medicines()
        self._regular_index = np.array([self.meds.index[name] for name in REGULAR], dtype=np.int64)
        self.n_courses = self.n_acute = 0
        self._quant_unit = {d: i for i, d in reference.toml("aurum_lookups.toml")["QuantUnit"]["rows"]}

    # ------------------------------------------------------------ the antihypertensive regimen
    def set_drug(self, pos: np.ndarray, slot: str, med: int | np.ndarray, level, day) -> None:
        """Start `med` at `level` in `slot` (a new course), issued from `day`: the other slots' repeats
        come into step with it."""
        s, k = self.s, SLOTS.index(slot)
        s.rx_drug[pos, k] = med
        s.rx_level[pos, k] = level
        self._new_course(pos, k)
        s.rx_units[pos] = self._sum_units(pos)
        s.rx_next_issue[pos] = day

    def titrate(self, pos: np.ndarray, k: int, day) -> None:
        """One dose level up in slot number `k` (a new course), issued from `day`."""
        s = self.s
        s.rx_level[pos, k] += 1
        self._new_course(pos, k)
        s.rx_units[pos] = self._sum_units(pos)
        s.rx_next_issue[pos] = day

    def _new_course(self, pos: np.ndarray, k: int) -> None:
        self.s.rx_course[pos, k] = np.arange(self.n_courses, self.n_courses + len(pos))
        self.n_courses += len(pos)

    def stop_slot(self, pos: np.ndarray, slot: str) -> None:
        s, k = self.s, SLOTS.index(slot)
        s.rx_drug[pos, k] = -1
        s.rx_level[pos, k] = 0
        s.rx_course[pos, k] = -1
        s.rx_units[pos] = self._sum_units(pos)

    def on_any(self, pos: np.ndarray) -> np.ndarray:
        """Holds any antihypertensive (every dose counts for at least 0.6 of a standard one)."""
        return self.s.rx_units[pos] > 0

    def units(self, pos: np.ndarray) -> np.ndarray:
        """Standard-dose equivalents prescribed (Law 2003), summed over the slots."""
        return self.s.rx_units[pos]

    def _sum_units(self, pos: np.ndarray) -> np.ndarray:
        s, u = self.s, np.zeros(len(pos))
        for k in range(4):
            on = s.rx_drug[pos, k] >= 0
            u[on] += self.meds.units[s.rx_drug[pos[on], k], s.rx_level[pos[on], k]]
        return u

    def stop_taking(self, pos: np.ndarray, day: int) -> None:
        self.s.rx_stopped[pos] = True
        self.s.rx_stop_day[pos] = day

    def restart(self, pos: np.ndarray, day: np.ndarray) -> None:
        """The practice finds they stopped and restarts the regimen, issued again from `day`."""
        s = self.s
        s.rx_stopped[pos] = False
        held = self.on_any(pos)
        s.rx_next_issue[pos[held]] = day[held]  # not the repeats that fell due while they were off it

    def link_problem(self, pos: np.ndarray, keys: np.ndarray) -> None:
        self.s.problem_key[pos] = keys

    def problem_keys(self) -> dict[str, np.ndarray]:
        return {"pat": self.sim.P, "key": self.s.problem_key}

    # ------------------------------------------------------------ issuing
    def _issue_slot(self, pos: np.ndarray, day, k: int, staff) -> None:
        if not len(pos):
            return
        s, meds = self.s, self.meds
        mi, lv = s.rx_drug[pos, k], s.rx_level[pos, k]
        qty = s.repeat_days[pos].astype(np.float64)
        self.record.issue(pos, day, staff, meds.prod[mi, lv], qty, np.where(meds.capsule[mi], 2, 1), s.repeat_days[pos],
                          np.round(meds.cost[mi, lv] * qty / 28 / 100, 2), s.rx_course[pos, k],
                          np.where(meds.capsule[mi], "OD1C", "OD1"))

    def history(self, pos: np.ndarray, repeats: int = 3) -> None:
        """The regimen was being issued before the record starts: the last `repeats` issues were of it."""
        s = self.s
        for k in range(repeats, 0, -1):
            hday = s.ent[pos] - k * s.repeat_days[pos]
            ok = hday >= s.first_allowed[pos]
            for slot in range(4):
                has = pos[ok & (s.rx_drug[pos, slot] >= 0)]
                self._issue_slot(has, to_working_day(s.ent[has] - k * s.repeat_days[has]), slot,
                                 self.contacts.staff("gp", has, "rx.hist", k))

    def issue(self, sim: "Sim", month: "Month") -> None:
        """Repeats falling due this month: the antihypertensive regimen (up to three issues), then the
        regular medicines (up to two)."""
        s, m = self.s, month.m
        act = month.act[s.rx_next_issue[month.act] < month.day1]  # an issue falls due this month
        for _ in range(3):
            nxt = s.rx_next_issue[act]
            # a repeat whose working day falls in the next month (due on a weekend or holiday at the month's end)
            # waits for that month's step, after its reviews: a switch then replaces it instead of meeting it
            held = to_working_day(np.maximum(nxt, s.ent[act]))
            iss = act[(nxt < month.day1) & (held < month.day1) & ~s.rx_stopped[act] & (nxt <= s.lst[act])]
            if not len(iss):
                break
            due = np.maximum(s.rx_next_issue[iss], s.ent[iss])
            iday = to_working_day(due)  # never before the decision that started the course
            for k in range(4):
                has = s.rx_drug[iss, k] >= 0
                self._issue_slot(iss[has], iday[has], k, self.contacts.staff("gp", iss[has], "rx", m))
            # the next request comes late by the doses left untaken, for the share of them that delay it
            # (care.refill_delay_share)
            late = 1.0 - self.sim.care.refill_delay_share * (1.0 - s.adherence[iss])
            gap = np.round(s.repeat_days[iss] / np.maximum(late, 0.35)).astype(np.int64)
            s.rx_next_issue[iss] = np.where(self.on_any(iss), due + gap, NEVER)  # the cycle keeps its own days
        act = month.act[s.regular_next[month.act] < month.day1]
        for _ in range(2):
            nxt = s.regular_next[act]
            due = act[(nxt < month.day1) & (nxt <= s.lst[act])]
            if not len(due):
                break
            iday = s.regular_next[due][:, None]
            r, j = np.nonzero((s.regular_drug[due] >= 0) & (s.regular_from[due] <= iday) & (iday < s.regular_until[due]))
            r, j = self._this_cycle(due, iday[:, 0], r, j)
            self._issue_regular(due[r], to_working_day(iday[r, 0]), j, self.contacts.staff("gp", due[r], "rx.other", m))
            s.regular_next[due] += CYCLE

    # ------------------------------------------------------------ regular medicines
    def start_regular(self, pos: np.ndarray, name: str, day: np.ndarray | None = None, level: int = 0,
                      until: np.ndarray | None = None, carried: bool = False) -> None:
        """`name` (one of REGULAR) at strength `level`, issued every 28 days (with the person's other regular
        medicines) from `day` until `until`; without `day`, from entry (and in the history before it), for as
        long as the person is here."""
        s, j = self.s, REGULAR.index(name)
        if name not in self.meds.index:
            raise KeyError(f"no medicine {name!r} in data/medicines.toml")
        s.regular_drug[pos, j] = self.meds.index[name]
        s.regular_level[pos, j] = level
        s.regular_per_day[pos, j] = 0
        if day is None:  # the repeat cycle runs on its own working days, not from the day the record starts
            s.regular_next[pos] = self._cycle_day(pos)
            return
        s.regular_from[pos, j] = day
        s.regular_until[pos, j] = NEVER if until is None else until
        # started since entry: the cycle from its day; carried in (started before entry): the person's own cycle day
        # (from the day the record starts, every carried-in repeat of the practice's list fell on one weekday)
        new = (day >= s.ent[pos]) & (not carried)  # `carried`: held when the record starts though `day` is entry
        start = np.where(new, to_working_day(np.maximum(day, s.ent[pos])), self._cycle_day(pos))
        # the first issue is on the day it starts: when the person's cycle falls earlier this month, it is issued now
        # (the cycle's next issue follows as usual) rather than at the cycle's next turn, up to 27 days later
        now = (s.regular_next[pos] < start) & new & (start <= s.lst[pos])
        if now.any():
            self._issue_regular(pos[now], start[now], j, self.contacts.staff("gp", pos[now], "rx.start", start[now]))
        s.regular_next[pos] = np.minimum(s.regular_next[pos], start)

    def _cycle_day(self, pos: np.ndarray) -> np.ndarray:
        """Each of `pos`'s first repeat cycle day from entry: one of the 20 weekdays (evenly) of the four weeks from the
        week of entry, on or after entry. A cycle day that is a bank holiday is issued on the next working day (`issue`),
        the cycle keeping its weekday."""
        ent = self.s.ent[pos]
        k = self.sim.draws("rx.regular.cycle").integers(pos, 20)
        day = ent - (ent + 3) % 7 + 7 * (k // 5) + k % 5  # the Monday of entry's week, then k weekdays on
        return np.where(day < ent, day + 28, day)

    def set_regular_per_day(self, pos: np.ndarray, name: str, per_day: int) -> None:
        """Issue `name` at `per_day` tablets a day from its next issue (a dose lowered for kidney function)."""
        self.s.regular_per_day[pos, REGULAR.index(name)] = per_day

    def regular_per_day(self, pos: np.ndarray, name: str) -> np.ndarray:
        """Tablets a day each of `pos` is issued of `name` (its own dose unless lowered)."""
        j = REGULAR.index(name)
        own = self.s.regular_per_day[pos, j]
        return np.where(own > 0, own, self.meds.per_day[self.meds.index[name]])

    def stop_regular(self, pos: np.ndarray, name: str, day) -> None:
        """No more issues of `name` from `day`."""
        j = REGULAR.index(name)
        self.s.regular_until[pos, j] = np.minimum(self.s.regular_until[pos, j], day)

    def on_regular(self, pos: np.ndarray, name: str, day) -> np.ndarray:
        """Prescribed `name` on `day` (started, not stopped)."""
        s, j = self.s, REGULAR.index(name)
        return (s.regular_drug[pos, j] >= 0) & (s.regular_from[pos, j] <= day) & (day < s.regular_until[pos, j])

    def _this_cycle(self, rows: np.ndarray, iday: np.ndarray, r: np.ndarray, j: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The (row, slot) pairs issued on cycle day `iday[r]`: a pack lasting several cycles (an 84-day pill) only once
        the last one has RUN_OUT days or fewer left, whatever moved the person's cycle since."""
        every = self.meds.reg_every[j]
        if (every == 1).all():
            return r, j
        keep = (every == 1) | (iday[r] >= self.s.regular_last[rows[r], j] + self.meds.reg_days[j] - RUN_OUT)
        return r[keep], j[keep]

    def _issue_regular(self, pos: np.ndarray, day, j: int | np.ndarray, staff) -> None:
        """Issues of regular slot `j` (one, or one a row) to each of `pos`."""
        if not len(pos):
            return
        meds, n = self.meds, len(pos)
        mi, lv = self._regular_index[j], self.s.regular_level[pos, j]
        self.s.regular_last[pos, j] = day
        own, lowered = meds.per_day[mi], self.s.regular_per_day[pos, j]
        per_day = np.where(lowered > 0, lowered, own)  # tablets or capsules a day, unless the medicine has its own pack
        days = np.broadcast_to(meds.reg_days[j], n)
        cap = (per_day > 1) & meds.capsule[mi]  # once a day stays "OD1" in tablets (the unit before `per_day`)
        dosage = np.where(per_day == 1, "OD1", np.array(["", "", "BD1", "TDS1"])[np.minimum(per_day, 3)]).astype(str)
        dosage = np.where(cap, np.char.add(dosage, "C"), dosage).astype(object)
        packed = np.broadcast_to(meds.reg_packed[j], n)  # `repeat_pack`: its quantity, unit and dosage as written
        qty = np.where(packed, np.broadcast_to(meds.reg_qty[j], n), (days * per_day).astype(np.float64))
        unit = np.where(packed, np.broadcast_to(meds.reg_unit[j], n), np.where(cap, 2, 1))
        dosage = np.where(packed, np.broadcast_to(meds.reg_dosage[j], n), dosage)
        self.record.issue(pos, day, staff, meds.prod[mi, lv], qty, unit, days,
                          np.round(meds.cost[mi, lv] * days / CYCLE * per_day / own / 100, 2),
                          pos + REGULAR_COURSE_BASE + j * REGULAR_COURSE_STRIDE, dosage)

    def regular_history(self, months: int = 13) -> None:
        """Regular medicines were issued for a year before the record starts (from registration at the earliest)."""
        s = self.s
        some = np.flatnonzero((s.regular_drug >= 0).any(axis=1))
        for k in range(months, 0, -1):
            hday = to_working_day(np.minimum(s.regular_next[some], s.ent[some] + 27) - 28 * k)[:, None]
            r, j = np.nonzero((s.regular_drug[some] >= 0) & (hday >= s.first_allowed[some, None]) & (hday >= s.regular_from[some])
                              & (hday < s.regular_until[some]) & (hday < s.ent[some, None]))
            r, j = self._this_cycle(some, hday[:, 0], r, j)
            self._issue_regular(some[r], hday[r, 0], j, self.contacts.staff("gp", some[r], "rx.other.hist", k))

    # ------------------------------------------------------------ acute items
    def acute(self, pos: np.ndarray, day, med: np.ndarray, staff: np.ndarray) -> None:
        """One issue of acute medicine `med` (a medicines.toml index with a `pack`: an acute item, or a
        regular medicine's short course) to each of `pos`
        on `day`: its pack (quantity, unit, days, dosage) and price, a course of its own."""
        if not len(pos):
            return
        meds, n = self.meds, len(pos)
        qty, unit, days, dosage = (np.empty(n), np.empty(n, np.int64), np.empty(n, np.int64), np.empty(n, object))
        for mi in np.unique(med):
            sel = med == mi
            q, u, d, g = meds.pack[int(mi)]
            qty[sel], unit[sel], days[sel], dosage[sel] = q, self._quant_unit[u], d, g
        course = ACUTE_COURSE_BASE + self.n_acute + np.arange(n)
        self.n_acute += n
        self.record.issue(pos, day, staff, meds.prod[med, 0], qty, unit, days, np.round(meds.cost[med, 0] / 100, 2),
                          course, dosage)
