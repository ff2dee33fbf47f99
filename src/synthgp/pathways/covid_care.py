"""What the GP record learns of a COVID-19 infection beyond its test (data/covid.toml [symptoms], [oximetry],
[icu], [long_covid]); used by pathways/covid.py, which owns the state.

- A consultation for COVID-19 (a suspected episode, or a confirmed one the GP is told of) codes its symptoms,
  each by its own chance and at least one, advice and, from 12 March 2020, self-isolation.
- COVID Oximetry @home (November 2020 to July 2022): a share of the diagnosed, symptomatic, 65+ or clinically
  extremely vulnerable have home oxygen saturation readings coded, lower just before an admission.
- Critical care: a share of admissions by age, coded in the discharge letter, on or after the admission day.
- Long COVID: among symptomatic survivors, by infection era, age, sex and vaccination (truth); a share coded
  12-26 weeks on from the codes' release, some referred to a post-COVID assessment clinic.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import numpy as np

from synthgp.core import dates

if TYPE_CHECKING:
    from synthgp.engine.sim import Sim


def _day(text: str) -> int:
    return int(dates.to_days(dt.date.fromisoformat(text)))


class CovidCare:
    """The GP-side record of infections: built once per run from covid.toml."""

    def __init__(self, cfg: dict):
        self.sym, self.ox, self.icu_cfg, self.lc = cfg["symptoms"], cfg["oximetry"], cfg["icu"], cfg["long_covid"]
        self.symptom_keys = tuple(self.sym["symptom_keys"])
        self.symptom_p = np.asarray(self.sym["symptom_coded"], dtype=float)
        if len(self.symptom_keys) != len(self.symptom_p):
            raise ValueError("covid.toml symptoms: symptom_keys and symptom_coded differ in length")
        self.isolation_from = _day(self.sym["isolation_from"])
        self.ox_start, self.ox_end = _day(self.ox["start"]), _day(self.ox["end"])
        self.lc_codes_from, self.lc_referral_from = _day(self.lc["codes_from"]), _day(self.lc["referral_from"])

    # ------------------------------------------------------------ a consultation for COVID-19
    def consult(self, sim: "Sim", who: np.ndarray, when: np.ndarray, cons: np.ndarray, m: int) -> None:
        """Symptoms (at least one), advice and self-isolation coded at consultations `cons` of `who` on `when`."""
        if not len(who):
            return
        rec = sim.record
        obs, symptom = rec.obstype("Observation"), rec.obstype("Symptom")
        drawn = np.column_stack([sim.stream(f"covid.symptom.{k}").uniform(who, m) < p
                                 for k, p in zip(self.symptom_keys, self.symptom_p)])
        drawn[~drawn.any(axis=1), self.symptom_keys.index("covid_symptom_cough")] = True
        for j, key in enumerate(self.symptom_keys):
            rec.observation(who[drawn[:, j]], when[drawn[:, j]], rec.code(key), cons=cons[drawn[:, j]], obstype=symptom)
        adv = sim.stream("covid.advice").uniform(who, m) < self.sym["advice_coded"]
        rec.observation(who[adv], when[adv], rec.code("covid_advice"), cons=cons[adv], obstype=obs)
        iso = (when >= self.isolation_from) & (sim.stream("covid.isolation").uniform(who, m) < self.sym["isolation_coded"])
        rec.observation(who[iso], when[iso], rec.code("covid_self_isolation"), cons=cons[iso], obstype=obs)

    # ------------------------------------------------------------ COVID Oximetry @home
    def oximetry(self, sim: "Sim", pos: np.ndarray, start: np.ndarray, eligible: np.ndarray, admit: np.ndarray,
                 m: int) -> np.ndarray:
        """Home monitoring from `start` (the diagnosis) of those `eligible` in the programme's months; readings on
        the configured days, none on or after an admission (`admit`: its day, or a day beyond reach); whether
        monitored."""
        ox = self.ox
        on = eligible & (start >= self.ox_start) & (start < self.ox_end)
        on &= sim.stream("covid.oximetry").uniform(pos, m) < ox["enrolled"]
        rec = sim.record
        unit, kind, code = rec.unit("%"), rec.obstype("Value"), rec.code("spo2")
        days = np.asarray(ox["reading_days"], dtype=np.int64)
        last = days.max()
        for j, k in enumerate(days):
            d = start + k
            take = on & (d < admit)
            z = sim.stream("covid.spo2").normal(pos, m * 8 + j)
            # before an admission, the reading nearest it is low
            low = take & (admit - d <= 2 + (last - k))
            value = np.where(low, ox["spo2_before_admission"] + 1.0 * z, ox["spo2_mean"] + ox["spo2_sd"] * z)
            value = np.clip(np.round(value), 85, 100)
            rec.observation(pos[take], d[take], code, value=value[take], unit=unit, obstype=kind)
        return on

    # ------------------------------------------------------------ critical care
    def icu(self, sim: "Sim", pos: np.ndarray, admit: np.ndarray, age: np.ndarray, last_day: np.ndarray,
            letter_delay: np.ndarray, m: int) -> np.ndarray:
        """Critical care for a share of the admitted (by age), coded in the discharge letter on a day from the
        admission to `last_day` (the day before a death in hospital, else beyond reach); whether admitted to it."""
        c = self.icu_cfg
        share = np.interp(age, c["ages"], c["share"])
        went = sim.stream("covid.icu").uniform(pos, m) < share
        lo, hi = c["days_after_admission"]
        day = np.minimum(admit + lo + sim.stream("covid.icu.day").integers(pos, hi - lo + 1, m), np.maximum(last_day, admit))
        rec = sim.record
        rec.observation(pos[went], day[went], rec.code("covid_icu_admission"), obstype=rec.obstype("Observation"),
                        enter_delay=letter_delay[went] + (admit[went] - day[went]))
        return went

    # ------------------------------------------------------------ long COVID
    def long_covid(self, sim: "Sim", pos: np.ndarray, day: np.ndarray, era: np.ndarray, age: np.ndarray,
                   male: np.ndarray, doses: np.ndarray, at_risk: np.ndarray, m: int) -> np.ndarray:
        """Long COVID (truth) among `at_risk` (symptomatic survivors); a share coded and referred. Returns the truth."""
        c = self.lc
        p = np.asarray(c["by_variant"], dtype=float)[era] * np.interp(age, c["ages"], c["relative_age"])
        p = p * np.where(male, c["relative_male"], c["relative_female"])
        p = p * np.where(doses >= 2, c["vaccinated_relative"], 1.0)
        has = at_risk & (sim.stream("covid.long").uniform(pos, m) < p)
        lo, hi = c["days_to_code"]
        when = np.maximum(day + lo + sim.stream("covid.long.day").integers(pos, hi - lo + 1, m), self.lc_codes_from)
        coded = has & (sim.stream("covid.long.coded").uniform(pos, m) < c["coded"])
        who, when = pos[coded], when[coded]
        cons = sim.contacts.book(who, when, "gp", "covid", m, "Face to face consultation")
        rec = sim.record
        rec.diagnosis(who, when, rec.code("post_covid_syndrome"), cons=cons)
        ref = (when >= self.lc_referral_from) & (sim.stream("covid.long.referral").uniform(who, m) < c["referred"])
        rec.observation(who[ref], when[ref], rec.code("post_covid_referral"), cons=cons[ref],
                        obstype=rec.obstype("Referral"))
        return has
