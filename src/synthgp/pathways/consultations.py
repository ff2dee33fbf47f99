"""Everyday consultations: why people of every age come, and what comes of it.

Each everyday consultation (engine/services/contacts.py: who, when, with whom, how) gets a reason,
a presenting problem coded in SNOMED CT (codes.csv cluster REASON), drawn by age and sex from the
relative frequencies of data/consultations.toml [reason.*], within each reason's rules (its ages, its
sex); some consultations are left uncoded (free text only). Then the outcome, each part drawn on its
own: an antibiotic (at the reason's published rate, falling over the decade), other acute items
(through the prescribing service), blood tests (the labs service's `order`, where there is one), a
fit note (working age) and a referral. Advice only is what is left when none of these happens.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from synthgp.core import codes, dates, reference
from synthgp.engine.component import Pathway
from synthgp.engine.services.contacts import decimal_year

if TYPE_CHECKING:
    from synthgp.engine.sim import Month, Sim

MAX_AGE = 120
PANELS = ("fbc", "lft", "tft", "lipids", "hba1c", "ue")  # the labs service's panels


@dataclass
class Reasons:
    """The reasons of data/consultations.toml as arrays: one row per reason."""

    keys: list[str]
    cdf: np.ndarray  # [sex (0 female, 1 male), age in whole years 0..MAX_AGE, reason]: cumulative weights
    allowed: np.ndarray  # [sex, age, reason]: the reason's rules allow it
    symptom: np.ndarray  # coded as a symptom (else a diagnosis)
    antibiotic: np.ndarray  # probability in 2013-15
    abx_adult: np.ndarray  # medicine index for adults (and children 12 and over), or -1
    abx_child: np.ndarray  # medicine index for children under 12, or -1
    items: list[list[tuple[int, float, int]]]  # per reason: (medicine index, probability, minimum age)
    panels: list[list[tuple[str, float]]]
    fit_note: np.ndarray
    referral: list[tuple[str, float] | None]


def load_reasons(data: dict, medicine_index: dict[str, int]) -> Reasons:
    """Read and check [reason.*]: every key a codes.csv REASON code, every medicine in medicines.toml."""
    bands = np.asarray(data["coding"]["reason_bands"], dtype=np.float64)
    table = data["reason"]
    keys = list(table)
    ages = np.arange(MAX_AGE + 1)
    band = np.clip(np.searchsorted(bands, ages, side="right") - 1, 0, len(bands) - 1)
    weight = np.zeros((2, MAX_AGE + 1, len(keys)))
    allowed = np.zeros((2, MAX_AGE + 1, len(keys)), dtype=bool)
    symptom = set(data["coding"]["symptoms"])

    def med(name: str) -> int:
        if name not in medicine_index:
            raise ValueError(f"consultations.toml names medicine {name!r}, which data/medicines.toml lacks")
        return medicine_index[name]

    abx = np.zeros(len(keys))
    abx_adult, abx_child = np.full(len(keys), -1), np.full(len(keys), -1)
    items, panels, fit, referral = [], [], np.zeros(len(keys)), []
    for r, key in enumerate(keys):
        spec = table[key]
        code = codes.get(key)
        if code.cluster != "REASON":
            raise ValueError(f"reason {key!r}: codes.csv cluster is {code.cluster!r}, not REASON")
        w = np.asarray(spec["weight"], dtype=np.float64)
        if len(w) != len(bands):
            raise ValueError(f"reason {key!r}: {len(w)} weights for {len(bands)} age bands")
        lo, hi = spec.get("ages", [0, MAX_AGE])
        ok = (ages >= lo) & (ages <= hi)
        sex = spec.get("sex", "")
        for s in (0, 1):  # 0 female, 1 male
            allow = ok & (sex != ("male" if s == 0 else "female"))
            allowed[s, :, r] = allow
            weight[s, :, r] = np.where(allow, w[band] * (spec.get("female", 1.0) if s == 0 else 1.0), 0.0)
        if "antibiotic" in spec:
            p, adult, child = spec["antibiotic"]
            abx[r], abx_adult[r], abx_child[r] = p, med(adult), med(child)
        items.append([_item(key, med, *x) for x in spec.get("items", [])])
        bad = [p for p, _ in spec.get("panels", []) if p not in PANELS]
        if bad:
            raise ValueError(f"reason {key!r}: unknown panels {bad}; panels are {PANELS}")
        panels.append([(p, float(q)) for p, q in spec.get("panels", [])])
        fit[r] = spec.get("fit_note", 0.0)
        if "referral" in spec:
            codes.get(spec["referral"][0])
        referral.append(tuple(spec["referral"]) if "referral" in spec else None)
    cdf = np.cumsum(weight, axis=2)
    if (cdf[:, :, -1] <= 0).any():
        raise ValueError("consultations.toml: some age and sex has no reason with a weight")
    cdf /= cdf[:, :, -1:]
    return Reasons(keys, cdf, allowed, np.array([k in symptom for k in keys]), abx, abx_adult, abx_child, items,
                   panels, fit, referral)


def _item(reason: str, med, name: str, p: float, min_age: int = 0, *extra) -> tuple[int, float, int]:
    """One acute item of a reason, [medicine, probability] or [medicine, probability, minimum age], checked."""
    if extra or not 0.0 <= float(p) <= 1.0 or not 0 <= int(min_age) <= MAX_AGE:
        raise ValueError(f"reason {reason!r}: item {[name, p, min_age, *extra]} is not [medicine, probability in 0-1, "
                         f"minimum age in 0-{MAX_AGE}]")
    return med(name), float(p), int(min_age)


class Consultations(Pathway):
    name = "consultations"
    reads = ("male",)

    def bind(self, sim: "Sim") -> None:
        super().bind(sim)
        self.sim, self.record, self.rx, self.contacts = sim, sim.record, sim.rx, sim.contacts
        d = reference.toml("consultations.toml")
        self.table = load_reasons(d, self.rx.meds.index)
        self.medcode = self.record.codes(*self.table.keys)
        self.coded_share = float(d["coding"]["coded_share"])
        a = d["antibiotics"]
        self.abx_year, self.abx_factor, self.abx_scale = np.asarray(a["year"]), np.asarray(a["factor"]), float(a["scale"])
        self.fit_ages = (d["fit_note"]["min_age"], d["fit_note"]["max_age"])
        self.fit_from = dates.to_days(d["fit_note"]["from"])
        self.obstype = (self.record.obstype("Symptom"), self.record.obstype("Diagnosis"))
        self.hca = self.contacts.plan.jobs.index("hca")
        R = self.table
        k = max([len(x) for x in R.items] + [0])  # items a reason may give, each drawn on its own
        self.item_p, self.item_med = np.zeros((len(R.keys), k)), np.full((len(R.keys), k), -1, dtype=np.int64)
        self.item_age = np.zeros((len(R.keys), k))
        for x, items in enumerate(R.items):
            for j, (mi, p, lo) in enumerate(items):
                if mi not in self.rx.meds.pack:
                    raise ValueError(f"reason {R.keys[x]!r}: medicine {self.rx.meds.names[mi]!r} has no `pack` in "
                                     "data/medicines.toml, so cannot be an acute item")
                self.item_med[x, j], self.item_p[x, j], self.item_age[x, j] = mi, p, lo
        self.referral_p = np.array([0.0 if ref is None else float(ref[1]) for ref in R.referral])
        self.referral_code = np.array([-1 if ref is None else self.record.code(ref[0]) for ref in R.referral],
                                      dtype=np.int64)
        self.panel_p = {p: np.array([dict(x).get(p, 0.0) for x in R.panels]) for p in PANELS}

    def antibiotic_factor(self, day: int) -> float:
        """Antibiotic prescribing at `day` relative to 2013-15 (the calibrated scale included)."""
        return float(np.interp(decimal_year(day), self.abx_year, self.abx_factor)) * self.abx_scale

    def reasons(self, sim: "Sim", month: "Month") -> None:
        """A reason for each coded everyday consultation of the month, and its outcome."""
        seen = self.contacts.seen
        if seen is None or not len(seen.pos):
            return
        R = self.table
        coded = sim.draws("reason.coded").uniform(seen.pos, seen.step) < self.coded_share
        idx = np.flatnonzero(coded)
        pos, day, key, st = seen.pos[idx], seen.day[idx], seen.key[idx], seen.step[idx]
        sex = self.s.male[pos].astype(np.int64)
        age = np.clip(seen.age[idx].astype(np.int64), 0, MAX_AGE)
        u = sim.draws("reason").uniform(pos, st)
        cdf = R.cdf[sex, age]
        r = np.minimum((u[:, None] >= cdf).sum(axis=1), len(R.keys) - 1)
        rec = self.record
        rec.observation(pos, day, self.medcode[r], cons=key, obstype=np.where(R.symptom[r], *self.obstype))
        self._outcome(sim, pos, day, key, st, r, seen.age[idx], seen.staff[idx], seen.job[idx], month.day0)

    def _outcome(self, sim: "Sim", pos, day, key, st, r, age, staff, job, day0: int) -> None:
        R, rec = self.table, self.record
        meds, who = [], []
        # antibiotics
        p = R.antibiotic[r] * self.antibiotic_factor(day0)
        abx = sim.draws("reason.antibiotic").uniform(pos, st) < p
        drug = np.where(age < 12, R.abx_child[r], R.abx_adult[r])
        abx &= drug >= 0
        meds.append(drug[abx]), who.append(np.flatnonzero(abx))
        # other acute items, each drawn on its own, at or above its minimum age
        for k in range(self.item_p.shape[1]):
            give = (sim.draws(f"reason.item{k}").uniform(pos, st) < self.item_p[r, k]) & (age >= self.item_age[r, k])
            meds.append(self.item_med[r[give], k]), who.append(np.flatnonzero(give))
        sel = np.concatenate(who)
        if len(sel):
            order = np.argsort(sel, kind="stable")
            sel, med = sel[order], np.concatenate(meds)[order]
            self.rx.acute(pos[sel], day[sel], med, self._prescriber(pos[sel], staff[sel], job[sel], st[sel]))
        self._tests(sim, pos, day, key, st, r)
        lo, hi = self.fit_ages
        fit = (age >= lo) & (age < hi) & (sim.draws("reason.fit_note").uniform(pos, st) < R.fit_note[r])
        code = np.where(day[fit] >= self.fit_from, rec.code("fit_note"), rec.code("sick_note_med3"))  # by date
        rec.observation(pos[fit], day[fit], code, cons=key[fit], obstype=rec.obstype("Observation"))
        go = sim.draws("reason.referral").uniform(pos, st) < self.referral_p[r]
        rec.observation(pos[go], day[go], self.referral_code[r[go]], cons=key[go], obstype=rec.obstype("Referral"),
                        referral=1)

    def _prescriber(self, pos: np.ndarray, staff: np.ndarray, job: np.ndarray, st: np.ndarray) -> np.ndarray:
        """Who signs the prescription: the clinician seen, or a GP when that was an HCA."""
        hca = job == self.hca
        out = staff.copy()
        out[hca] = self.contacts.staff("gp", pos[hca], "acute", st[hca])
        return out

    def _tests(self, sim: "Sim", pos, day, key, st, r) -> None:
        """Blood tests the reasons ask for, through the labs service's `order` where there is one."""
        labs = sim.components.get("labs")
        order = getattr(labs, "order", None)
        if order is None:
            return
        for p in PANELS:
            prob = self.panel_p[p][r]
            if not prob.any():
                continue
            go = sim.draws(f"reason.panel.{p}").uniform(pos, st) < prob
            if go.any():
                order(pos[go], day[go], p, key[go])
