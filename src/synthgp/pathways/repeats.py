"""Long-term repeats of common medicines (data/repeats.toml): the PPI, analgesics (co-codamol, paracetamol, gabapentin,
low-dose amitriptyline), maintenance antidepressants, contraceptive pills, HRT, allopurinol, tamsulosin, vitamin D,
laxatives, hypnotics, glaucoma drops, propranolol, bladder antimuscarinics, an emollient and a topical steroid for
eczema, a nasal steroid and an antihistamine for allergic rhinitis a real list carries beyond what the
long-term-condition registers issue, and the type 2 diabetes medicines beyond metformin (for the register's members).

Each person draws a propensity for each medicine once. They are on its repeat while the propensity is below the
published share of their age band and sex in that year (the medicine's trend), so a share rising with age starts
people and a falling one stops them (no pill after 55). A start is a GP consultation that codes the indication
(dyspepsia, chronic or neuropathic pain, contraception, menopausal flushing, gout, prostatic hyperplasia, ...), or, for a
register's medicine, follows that register's diagnosis; the prescribing service issues the repeats with the person's
other regular medicines (every 28 days; the pills 84 days at a time). Those on a repeat when their record starts
bring it, and its indication, with them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from synthgp.core import reference
from synthgp.engine.component import Pathway
from synthgp.engine.services.contacts import decimal_year
from synthgp.engine.services.life import ALCOHOL_LEVELS
from synthgp.engine.services.prescribing import REGULAR, SLOTS
from synthgp.engine.sim import YEAR
from synthgp.pathways.conditions import _transferred
from synthgp.pathways.registers import onset

if TYPE_CHECKING:
    from synthgp.engine.sim import Month, Sim

TRUTH_FLAGS = ("impotence", "semi", "ra", "migraine")  # risk factors of the truth a medicine may follow (`truth`), coded at entry
CURRENT_SMOKER = 2  # life service's smoking levels from this one up are current smokers
INDICATION_YEARS_BEFORE = 2.0  # mean years a repeat held at entry had been started before it (synthgp's)


class Medicine:
    """One [medicine.<name>] of data/repeats.toml, checked."""

    def __init__(self, name: str, spec: dict, bands: np.ndarray, registers: list[str]) -> None:
        self.name, self.bands = name, bands
        n_bands = len(bands)
        if name not in REGULAR:
            raise ValueError(f"repeats.toml [medicine.{name}]: not a regular medicine of data/medicines.toml "
                             "(class \"O\", or an acute item with repeat = true)")
        if any(len(spec.get(sex, [])) != n_bands for sex in ("male", "female")):
            raise ValueError(f"repeats.toml [medicine.{name}]: female and male need {n_bands} shares in [0, 1]")
        self.share = np.array([spec["male"], spec["female"]], dtype=float)  # [female?] x band
        if (self.share < 0).any() or (self.share > 1).any():
            raise ValueError(f"repeats.toml [medicine.{name}]: female and male need {n_bands} shares in [0, 1]")
        trend = np.asarray(spec.get("trend", [[2000.0, 1.0]]), dtype=float)
        if trend.ndim != 2 or trend.shape[1] != 2 or (np.diff(trend[:, 0]) <= 0).any():
            raise ValueError(f"repeats.toml [medicine.{name}] trend: [[year, scale], ...] with years rising")
        self.trend_years, self.trend_scale = trend[:, 0], trend[:, 1]
        self.indication = spec.get("indication")
        self.register = spec.get("register")
        self.truth = spec.get("truth")
        if sum(x is not None for x in (self.indication, self.register, self.truth)) != 1:
            raise ValueError(f"repeats.toml [medicine.{name}]: give an indication, a register or a truth, one of them")
        if self.truth is not None and self.truth not in TRUTH_FLAGS:
            raise ValueError(f"repeats.toml [medicine.{name}] truth: {self.truth!r} is none of {TRUTH_FLAGS}")
        self.exclude = spec.get("exclude_registers", [])
        for reg in [*self.exclude, *([self.register] if self.register else [])]:
            if reg not in registers:
                raise ValueError(f"repeats.toml [medicine.{name}]: no register {reg!r} (registers.toml has {registers})")
        self.not_with = spec.get("not_with", [])
        for other in self.not_with:
            if other not in REGULAR:
                raise ValueError(f"repeats.toml [medicine.{name}] not_with: {other!r} is no regular medicine")
        slots = spec.get("not_with_slots", [])
        if any(k not in SLOTS for k in slots):
            raise ValueError(f"repeats.toml [medicine.{name}] not_with_slots: {slots} are not all of {SLOTS}")
        self.not_with_slots = [SLOTS.index(k) for k in slots]
        self.with_any = spec.get("with", [])  # on only while on one of these [medicine]s of this file
        self.smokers_from_age = spec.get("smokers_from_age")
        self.drinkers = spec.get("drinkers")  # only for people whose usual drinking is at this level of life.py or above
        if self.drinkers is not None and self.drinkers not in ALCOHOL_LEVELS:
            raise ValueError(f"repeats.toml [medicine.{name}] drinkers: {self.drinkers!r} is none of {ALCOHOL_LEVELS}")
        self.not_with_hypertension = bool(spec.get("not_with_hypertension", False))

    @property
    def first_age(self) -> np.ndarray:
        """Per sex (male, female): the lower age of the first band with a share (120 if none)."""
        return np.array([self.bands[np.argmax(row > 0)] if (row > 0).any() else 120.0 for row in self.share])

    def scale(self, day: np.ndarray) -> np.ndarray:
        return np.interp(decimal_year(day), self.trend_years, self.trend_scale)


class Repeats(Pathway):
    name = "repeats"
    fields = {"rep_u": "per repeat medicine (data/repeats.toml): the person's propensity, uniform",
              "rep_on": "per repeat medicine: prescribed by this pathway now"}
    reads = ("dob", "male", "ent", "lst", "first_allowed", "smoking", "alcohol", "dx", "reg_known", "rx_drug",
             *(f"rf_{f}" for f in TRUTH_FLAGS))

    def __init__(self) -> None:
        cfg = reference.toml("repeats.toml")
        self.bands = np.asarray(cfg["bands"], dtype=float)
        self.registers = [c.name for c in onset.load()[1]]
        self.meds = [Medicine(k, v, self.bands, self.registers) for k, v in cfg["medicine"].items()]
        names = [m.name for m in self.meds]
        for m in self.meds:
            if not set(m.with_any) <= set(names):
                raise ValueError(f"repeats.toml [medicine.{m.name}] with: {m.with_any} are not all [medicine]s here")
        self.partners = [(k, [names.index(o) for o in m.with_any]) for k, m in enumerate(self.meds) if m.with_any]
        self.shares = np.stack([m.share for m in self.meds], axis=2)  # (male, female) x band x medicine
        self.conditional = [k for k, m in enumerate(self.meds) if m.register or m.truth or m.exclude or m.not_with
                            or m.not_with_slots or m.smokers_from_age is not None or m.not_with_hypertension or m.drinkers]

    def init(self, sim: "Sim") -> dict[str, np.ndarray]:
        u = np.stack([sim.draws(f"repeats.{m.name}").uniform(sim.everyone) for m in self.meds], axis=1)
        return {"rep_u": u, "rep_on": np.zeros((sim.n, len(self.meds)), dtype=bool)}

    def bind(self, sim: "Sim") -> None:
        super().bind(sim)
        self.sim, self.rx, self.rec = sim, sim.rx, sim.record
        iron = reference.toml("repeats.toml")["iron"]
        if iron["medicine"] not in REGULAR:
            raise ValueError(f"repeats.toml [iron] medicine: {iron['medicine']!r} is no regular medicine")
        self.iron, self.iron_code = iron, self.rec.code(iron["indication"])
        sim.labs.on_fbc(self.on_fbc)

    def on_fbc(self, pos: np.ndarray, day: np.ndarray, hb: np.ndarray, iron: np.ndarray) -> None:
        """Iron-deficiency anaemia on a full blood count (a low haemoglobin in a year the truth's anaemia is of iron
        deficiency): the anaemia coded and a course of oral iron started when the GP reviews the result, unless one
        runs already (data/repeats.toml [iron])."""
        s, cfg = self.s, self.iron
        start = day + cfg["after_days"]
        sel = np.flatnonzero(iron & (day >= s.ent[pos]) & (start <= s.lst[pos]))
        pos, start = pos[sel], start[sel]
        pos, first = np.unique(pos, return_index=True)  # one course a person, from their first such result
        start = start[first]
        fresh = ~self.rx.on_regular(pos, cfg["medicine"], start)
        pos, start = pos[fresh], start[fresh]
        if len(pos):
            self.rec.diagnosis(pos, start, self.iron_code)
            self.rx.start_regular(pos, cfg["medicine"], start, until=start + cfg["course_days"])

    def wanted(self, pos: np.ndarray, days: list, scale_day=None) -> np.ndarray:
        """(person, medicine): whether each of `pos` is to be on each medicine on every one of `days` (their
        propensity, age band, sex, the year's scale (at `scale_day` if given, else each one's first day), and the
        conditions of data/repeats.toml)."""
        s = self.s
        days = [np.broadcast_to(np.asarray(d, dtype=np.int64), len(pos)) for d in days]
        fem = (~s.male[pos]).astype(np.int64)
        ages = [(d - s.dob[pos]) / YEAR for d in days]
        bands = [np.searchsorted(self.bands, a, side="right") - 1 for a in ages]
        share = self.shares[fem, np.maximum(bands[0], 0)]  # person x medicine
        share[bands[0] < 0] = 0.0
        for b in bands[1:]:  # another day in another band (a birthday): the lower share
            r = np.flatnonzero(b != bands[0])
            share[r] = np.minimum(share[r], np.where((b[r] >= 0)[:, None], self.shares[fem[r], np.maximum(b[r], 0)], 0.0))
        if scale_day is None:
            scale = np.stack([m.scale(days[0]) for m in self.meds], axis=1)
        else:
            scale = np.array([m.scale(np.asarray(scale_day)) for m in self.meds])
        want = s.rep_u[pos] < share * scale
        for k in self.conditional:  # the conditions, for those the shares would put on it
            r = np.flatnonzero(want[:, k])
            ok = np.ones(len(r), dtype=bool)
            for d, a in zip(days, ages):
                ok &= self._allowed(k, pos[r], d[r], a[r])
            want[r[~ok], k] = False
        for k, j in self.partners:  # `with`: only while on one of its partners
            want[:, k] &= want[:, j].any(axis=1)
        return want

    def _allowed(self, k: int, pos: np.ndarray, day: np.ndarray, age: np.ndarray) -> np.ndarray:
        m, s = self.meds[k], self.s
        ok = np.ones(len(pos), dtype=bool)
        if m.register:
            ok &= s.reg_known[pos, self.registers.index(m.register)] <= day
        if m.truth:
            ok &= getattr(s, f"rf_{m.truth}")[pos].astype(bool)
        for reg in m.exclude:
            ok &= s.reg_known[pos, self.registers.index(reg)] > day
        for other in m.not_with:
            ok &= ~self.rx.on_regular(pos, other, day)
        for k in m.not_with_slots:  # the antihypertensive slot holds no drug now (its state is today's, whatever `day`)
            ok &= s.rx_drug[pos, k] < 0
        if m.smokers_from_age is not None:
            ok &= ~((s.smoking[pos] >= CURRENT_SMOKER) & (age >= m.smokers_from_age))
        if m.not_with_hypertension:
            ok &= ~s.dx[pos]
        if m.drinkers:
            ok &= s.alcohol[pos] >= ALCOHOL_LEVELS.index(m.drinkers)
        return ok

    def history(self, sim: "Sim") -> None:
        """Repeats held when the record starts: issued for the year before (the prescribing service's history), their
        indication on the record from when they started (a diagnosis from before registration came with the notes)."""
        s = self.s
        pos = sim.adult(np.flatnonzero(s.ent <= s.lst))
        want = self.wanted(pos, [s.ent[pos]])
        for k, m in enumerate(self.meds):
            p = pos[want[:, k]]
            if not len(p):
                continue
            s.rep_on[p, k] = True
            if not m.indication:  # a register's or the truth's medicine: from entry (its first course may have run to it)
                self.rx.start_regular(p, m.name, s.ent[p], carried=True)
                continue
            # started some time before entry, not before the first age with a share (no pill before 18, HRT before 45)
            back = np.round(sim.draws(f"repeats.{m.name}.since").exponential(p, INDICATION_YEARS_BEFORE * YEAR))
            first_age = np.where(s.male[p], m.first_age[0], m.first_age[1])
            started = np.maximum(s.ent[p] - back.astype(np.int64), s.dob[p] + np.round(first_age * YEAR).astype(np.int64))
            started = np.minimum(np.maximum(started, s.ent[p] - 30 * YEAR), s.ent[p])
            _transferred(self.rec, p, started, s.first_allowed[p], m.indication)
            self.rx.start_regular(p, m.name, started)  # its year of issues before entry from `started` on

    def review(self, sim: "Sim", month: "Month") -> None:
        """This month's starts (a GP consultation coding the indication, on each person's day) and stops (from the
        month's start)."""
        s, act, vday = self.s, month.act, month.vday
        # wanted on their day and still at the month's end (a 50th birthday in the month stops the pill); the year's
        # scale at the month's middle
        mid = (month.day0 + month.day1) // 2
        want = self.wanted(act, [vday, month.day1 - 1], mid)
        change = want != s.rep_on[act]
        for k in np.flatnonzero(change.any(axis=0)):
            m, on = self.meds[k], s.rep_on[act, k]
            start, stop = np.flatnonzero(want[:, k] & ~on), np.flatnonzero(on & ~want[:, k])
            if len(stop):  # from the month's start: last month's end still wanted it, so nothing issued was not
                self.rx.stop_regular(act[stop], m.name, month.day0)
                s.rep_on[act[stop], k] = False
            if not len(start):
                continue
            pos, day = act[start], vday[start]
            fresh = ~self.rx.on_regular(pos, m.name, day)  # already prescribed it for something else: nothing new
            pos, day = pos[fresh], day[fresh]
            if m.indication:
                cons = sim.contacts.book(pos, day, "gp", "repeats.start", month.m, "Face to face consultation")
                self.rec.diagnosis(pos, day, self.rec.code(m.indication), cons=cons)
                day = sim.contacts.day_at(cons, day)
            self.rx.start_regular(pos, m.name, day)
            s.rep_on[pos, k] = True
