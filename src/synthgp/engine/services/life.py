"""Registration, ageing, risk-factor change and death: who is simulated, when, and how they change.

A person is simulated from the latest of registration, the start of the burn-in and their birth, to
the earliest of death, leaving and the end of data collection; adult care (`month.act`) from the
latest of registration, the burn-in's start and their 18th birthday (`ent`), and everyday care of
every age (`month.all`) from the first day. Risk factors (QRISK3's
inputs) are drawn at entry from the built-in Bayesian network, or a learned one (population/cohort.py);
after that BMI follows a trajectory (the population's drift to 65, a slope of the person's own, a fall in old
age), smokers quit and some relapse, and drinkers change level from time to time (data/prevention.toml). A death
brought forward by a pathway comes back to the engine through `die`, never through the population's arrays.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from synthgp.core import reference
from synthgp.engine.component import Service
from synthgp.engine.sim import YEAR
from synthgp.population import cohort, risk_factors

if TYPE_CHECKING:
    from synthgp.engine.sim import Month, Sim

NEVER = np.iinfo(np.int64).max // 4
SMOKING_LEVELS = ("never", "ex", "light", "moderate", "heavy")
# risk-factor flags the truth table reports, in its column order
ALCOHOL_LEVELS = ("non_drinker", "lower_risk", "increasing_risk", "higher_risk")
PREVENTION = reference.toml("prevention.toml")
FLAGS = ("type1", "type2", "af", "ckd", "ra", "sle", "migraine", "semi", "atypical_antipsychotic", "corticosteroids",
         "impotence", "fh_cvd")


class Life(Service):
    name = "life"
    truth = ("risk_factor_truth",)

    def __init__(self) -> None:
        net = reference.toml("risk_factors.toml")["nodes"]
        self.fields = {
            "male": "sex", "dob": "date of birth (day number)", "imd": "IMD quintile, 1 most deprived",
            "black": "Black ethnicity", "south_asian": "South Asian ethnicity",
            "qrisk_ethnicity": "QRISK3 ethnicity group as the practice recorded it (1 = not recorded)",
            "townsend": "Townsend deprivation score", "practice": "practice row in the plan",
            "first_allowed": "first day the record may carry: birth or registration",
            "first": "first simulated day, of any age", "ent": "first day simulated as an adult (after lst: a child throughout)",
            "lst": "last simulated day (death brings it forward)",
            "age_entry": "age at entry, years", "history_day": "day the history brought at entry is dated",
            "smoking": "current smoking level (index of SMOKING_LEVELS)", "quit_day": "day a smoker quits",
            "death_day": "death brought forward by a pathway, or -1", "dereg_day": "deregistration after it, or -1",
            "bmi_slope": "the person's own BMI change, kg/m2 a year", "smoked_level": "smoking level before the last quit",
            "relapse_day": "day a quitter starts smoking again, or NEVER",
            "alcohol": "usual drinking level (index of ALCOHOL_LEVELS)", "audit_c": "the person's usual AUDIT-C score (0-12)",
            "alcohol_units": "the person's usual units of alcohol a week",
            **{f"rf_{k}": f"risk factor {k} at entry" for k in net},
            **{f"rf_onset_{k}": f"onset age of {k} (1000 = never)" for k, v in net.items() if v.get("liability")},
        }

    @staticmethod
    def select(sim: "Sim") -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(block index, first day, adult entry day, last day) of each simulated patient."""
        people = sim.people
        adult_day = people.dob + np.round(18 * YEAR).astype(np.int64)
        last = np.where(people.death >= 0, people.death, np.where(people.regend >= 0, people.regend, sim.end))
        first = np.maximum.reduce([people.regstart, np.full(len(last), sim.start), people.dob])
        entry = np.maximum(first, adult_day)
        P = np.flatnonzero(first <= last)
        return P, first[P], entry[P], last[P]

    def init(self, sim: "Sim") -> dict[str, np.ndarray]:
        people, P, ids, n = sim.people, sim.P, sim.ids, sim.n
        eth = reference.toml("population.toml")["ethnicity"]
        groups = np.asarray(eth["groups"])[people.ethnicity[P]]
        broad = np.asarray(eth["broad"])[people.ethnicity[P]]
        person = risk_factors.Person(ids, people.male[P], broad, groups, people.imd[P])
        feats = person.features(np.full(n, 50.0))
        qrisk_eth = np.asarray(eth["qrisk3"])[people.ethnicity[P]]
        dob = people.dob[P]
        age_entry = (sim.ent - dob) / YEAR
        rf_model = sim.scenario.risk_factors
        learned = cohort.draw(sim.seed, rf_model, person, age_entry) if rf_model.model else None
        rf = risk_factors.sample(sim.seed, person, age_entry, given=learned)
        first_allowed = np.maximum(people.dob, people.regstart)[P]
        quit_rate = reference.toml("risk_factors.toml")["nodes"]["smoking"]["quit_per_year"]
        smoking = rf["smoking"].copy()
        quit = np.round(sim.draws("quit").exponential(sim.everyone, YEAR / quit_rate))
        alcohol = self.drink_level(sim.stream("life.alcohol").uniform(sim.everyone), people.male[P])
        return {
            "male": people.male[P], "dob": dob, "imd": people.imd[P], "black": broad == "Black",
            "south_asian": feats["south_asian"] > 0,
            "qrisk_ethnicity": np.where(people.ethnicity_recorded[P], qrisk_eth, 1),
            "townsend": people.townsend[P], "practice": people.practice[P], "first_allowed": first_allowed,
            "first": sim.first, "ent": sim.ent, "lst": sim.lst, "age_entry": age_entry,
            "history_day": np.maximum(first_allowed, sim.ent - np.round(sim.draws("history").uniform(sim.everyone) * 3 * YEAR).astype(np.int64)),
            "smoking": smoking, "quit_day": np.where(smoking >= 2, sim.ent + quit, NEVER).astype(np.int64),
            "death_day": np.full(n, -1, dtype=np.int64), "dereg_day": np.full(n, -1, dtype=np.int64),
            "bmi_slope": PREVENTION["bmi"]["slope_sd"] * np.clip(sim.stream("life.bmi_slope").normal(sim.everyone), -3, 3),
            "smoked_level": smoking.copy(), "relapse_day": np.full(n, NEVER, dtype=np.int64),
            "alcohol": alcohol, "audit_c": self.audit_score(alcohol, sim.stream("life.audit_c").uniform(sim.everyone)),
            "alcohol_units": self.units(alcohol, people.male[P], sim.stream("life.alcohol.units").uniform(sim.everyone)),
            **{f"rf_{k}": v for k, v in rf.items()},
        }

    def bind(self, sim: "Sim") -> None:
        super().bind(sim)
        self.ids = sim.ids
        bmi = reference.toml("risk_factors.toml")["nodes"]["bmi"]
        self.drift, self.bmi_range = bmi["drift_per_year"], (bmi["min"], bmi["max"])
        self.sim = sim

    # ------------------------------------------------------------ what pathways ask
    def age_at(self, pos: np.ndarray, day) -> np.ndarray:
        return (day - self.s.dob[pos]) / YEAR

    def bmi_at(self, pos: np.ndarray, day) -> np.ndarray:
        """BMI on `day`: its value at entry, the population's drift up to 65, the person's own slope, and a
        fall from 75 (data/prevention.toml [bmi])."""
        s, b = self.s, PREVENTION["bmi"]
        years = np.maximum((day - s.ent[pos]) / YEAR, 0)
        to65 = np.minimum(years, np.maximum(65 - s.age_entry[pos], 0))
        old = np.maximum(s.age_entry[pos] + years - np.maximum(b["old_age_from"], s.age_entry[pos]), 0)
        bmi = s.rf_bmi[pos] + self.drift * to65 + s.bmi_slope[pos] * years + b["old_age_per_year"] * old
        return np.clip(bmi, *self.bmi_range)

    @staticmethod
    def drink_level(u: np.ndarray, male: np.ndarray) -> np.ndarray:
        """Usual drinking level from uniform draws `u`, by sex (HSE 2016, data/prevention.toml [alcohol])."""
        a = PREVENTION["alcohol"]
        cum = np.where(male[:, None], np.cumsum(a["share_men"]), np.cumsum(a["share_women"]))
        return np.minimum((u[:, None] >= cum[:, :] / cum[:, -1:]).sum(axis=1), len(ALCOHOL_LEVELS) - 1).astype(np.int8)

    @staticmethod
    def audit_score(level: np.ndarray, u: np.ndarray) -> np.ndarray:
        """A usual AUDIT-C score within the level's band, from uniform draws `u`."""
        a = PREVENTION["alcohol"]
        lo, hi = np.asarray(a["score_low"])[level], np.asarray(a["score_high"])[level]
        return (lo + np.floor(u * (hi - lo + 1))).astype(np.int8)

    @staticmethod
    def units(level: np.ndarray, male: np.ndarray, u: np.ndarray) -> np.ndarray:
        """Usual units a week within the level's band, by sex, from uniform draws `u`."""
        a = PREVENTION["alcohol"]
        lo = np.asarray(a["units_low"])[level]
        hi = np.where(male, np.asarray(a["units_high_men"])[level], np.asarray(a["units_high_women"])[level])
        return np.round(lo + u * (hi - lo))

    def units_at(self, pos: np.ndarray, day) -> np.ndarray:
        """Units a week as recorded on `day`: the usual intake, give or take (0 for non-drinkers)."""
        a = PREVENTION["alcohol"]
        noise = 1 + a["units_record_sd"] * np.clip(self.sim.stream("life.alcohol.units.record").normal(pos, day), -2, 2)
        return np.maximum(np.round(self.s.alcohol_units[pos] * noise), 0.0)

    def audit_c_at(self, pos: np.ndarray, day) -> np.ndarray:
        """An AUDIT-C score as recorded on `day`: the person's own, give or take (0 for non-drinkers)."""
        a, s = PREVENTION["alcohol"], self.s
        noise = np.round(a["record_sd"] * self.sim.stream("life.audit_c.record").normal(pos, day))
        score = np.clip(s.audit_c[pos] + noise, 1, 12)
        return np.where(s.alcohol[pos] == 0, 0, score).astype(np.float64)

    def die(self, sim: "Sim", pos: np.ndarray, day: np.ndarray, cause: str, step: int) -> None:
        """Death on `day` (no later than the person's last day); deregistration follows it, unseen if it
        falls after the end of data collection."""
        s = self.s
        day = np.minimum(day, s.lst[pos])
        s.lst[pos] = day
        prev = s.death_day[pos]
        s.death_day[pos] = np.where(prev >= 0, np.minimum(prev, day), day)
        mean = sim.scenario.registration.deregistration_after_death_mean_days
        dereg = day + np.round(sim.draws(f"dereg.{cause}").exponential(pos, mean)).astype(np.int64)
        s.dereg_day[pos] = np.where(dereg > sim.end, -1, dereg)

    # ------------------------------------------------------------ steps
    def history(self, sim: "Sim") -> None:
        """Risk factors known at entry are on the record as history (of those who enter as adults). An adult who
        registers during the simulation has them measured at a new-patient check with a health care assistant
        on the day they join, if they go to it (data/prevention.toml [registration])."""
        s, adults = self.s, sim.adults
        joined = (s.ent[adults] == s.first_allowed[adults]) & (s.first_allowed[adults] > sim.start)
        went = sim.stream("life.new_patient").uniform(adults) < PREVENTION["registration"]["new_patient_check"]
        adults, joined = adults[~joined | went], joined[~joined | went]
        cons = np.full(len(adults), -1, dtype=np.int64)
        cons[joined] = sim.contacts.book(adults[joined], s.ent[adults[joined]], "hca", "new_patient", 0, "Clinic")
        sim.vitals.lifestyle(adults, s.history_day[adults], self.bmi_at(adults, s.ent[adults]), cons)

    def advance(self, sim: "Sim", month: "Month") -> None:
        """The month's day for each person of any age, their age on it; the adults' BMI."""
        s, act, every = self.s, month.act, month.all
        vday = month.day0 + sim.draws("vday").integers(every, month.day1 - month.day0, month.m)
        month.all_vday = np.clip(vday, s.first[every], s.lst[every])
        month.all_age = (month.all_vday - s.dob[every]) / YEAR
        month.vday = np.clip(vday[np.searchsorted(every, act)], s.ent[act], s.lst[act])
        month.age = (month.vday - s.dob[act]) / YEAR
        month.bmi = self.bmi_at(act, month.vday)

    def quit_smoking(self, sim: "Sim", month: "Month") -> None:
        """Smokers who quit by their day this month; some of them relapse later (to the level they smoked at,
        with a new quit day ahead); once a year a few drinkers change level."""
        s, act, m = self.s, month.act, month.m
        quitting = (s.smoking[act] >= 2) & (s.quit_day[act] <= month.vday)
        quit, qday = act[quitting], month.vday[quitting]
        s.smoked_level[quit], s.smoking[quit] = s.smoking[quit], 1
        sm = PREVENTION["smoking"]
        relapse = sim.stream("life.relapse").uniform(quit, m) < sm["relapse"]
        back = quit[relapse]
        s.relapse_day[back] = qday[relapse] + 1 + np.round(
            sim.stream("life.relapse.day").exponential(back, sm["relapse_mean_days"], m)).astype(np.int64)
        relapsed = s.relapse_day[act] <= month.vday
        again = act[relapsed]
        s.smoking[again], s.relapse_day[again] = s.smoked_level[again], NEVER
        quit_rate = reference.toml("risk_factors.toml")["nodes"]["smoking"]["quit_per_year"]
        s.quit_day[again] = month.vday[relapsed] + 1 + np.round(
            sim.stream("life.requit").exponential(again, YEAR / quit_rate, m)).astype(np.int64)
        if m % 12:  # drinkers' levels change once a year
            return
        change = act[sim.stream("life.alcohol.change").uniform(act, m) < PREVENTION["alcohol"]["change_per_year"]]
        s.alcohol[change] = self.drink_level(sim.stream("life.alcohol.level").uniform(change, m), s.male[change])
        s.audit_c[change] = self.audit_score(s.alcohol[change], sim.stream("life.audit_c.level").uniform(change, m))
        s.alcohol_units[change] = self.units(s.alcohol[change], s.male[change], sim.stream("life.alcohol.units.level").uniform(change, m))

    # ------------------------------------------------------------ results
    def outcome(self, sim: "Sim") -> tuple[np.ndarray, np.ndarray]:
        """The block's death and deregistration days with the deaths pathways brought forward; the log
        drops what was dated after them."""
        s, P = self.s, sim.P
        death, regend = sim.people.death.copy(), sim.people.regend.copy()
        died = np.flatnonzero(s.death_day >= 0)
        old = death[P[died]]
        death[P[died]] = np.where(old >= 0, np.minimum(old, s.death_day[died]), s.death_day[died])
        regend[P[died]] = s.dereg_day[died]
        sim.log.last_day[P] = s.lst
        return death, regend

    def truth_tables(self, sim: "Sim") -> dict[str, dict[str, np.ndarray]]:
        s = self.s
        everyone = np.arange(sim.n)
        onset = {k: getattr(s, f"rf_onset_{k}") for k in ("type2", "ckd", "af")}
        return {"risk_factor_truth": {
            "pat": sim.P, "bmi": s.rf_bmi, "total_cholesterol": s.rf_total_cholesterol, "hdl": s.rf_hdl,
            "bmi_at_end": np.round(self.bmi_at(everyone, s.lst), 2),
            "smoking": np.asarray(SMOKING_LEVELS, dtype=object)[s.rf_smoking],
            "alcohol_at_end": np.asarray(ALCOHOL_LEVELS, dtype=object)[s.alcohol],
            **{k: getattr(s, f"rf_{k}").astype(np.int8) for k in FLAGS},
            **{f"{k}_onset_age": np.where(v < 900, v, np.nan) for k, v in onset.items()},
        }}
