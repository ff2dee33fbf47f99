"""Registration, ageing, risk-factor change and death: who is simulated, when, and how they change.

A person is simulated from the latest of registration, the start of the burn-in and their birth, to
the earliest of death, leaving and the end of data collection; adult care (`month.act`) from the
latest of registration, the burn-in's start and their 18th birthday (`ent`), and everyday care of
every age (`month.all`) from the first day. Risk factors (QRISK3's
inputs) are drawn at entry from the built-in Bayesian network, or a learned one (population/cohort.py);
after that BMI drifts up to 65 and smokers quit. A death brought forward by a pathway comes back to
the engine through `die`, never through the population's arrays.
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
        return {
            "male": people.male[P], "dob": dob, "imd": people.imd[P], "black": broad == "Black",
            "south_asian": feats["south_asian"] > 0,
            "qrisk_ethnicity": np.where(people.ethnicity_recorded[P], qrisk_eth, 1),
            "townsend": people.townsend[P], "practice": people.practice[P], "first_allowed": first_allowed,
            "first": sim.first, "ent": sim.ent, "lst": sim.lst, "age_entry": age_entry,
            "history_day": np.maximum(first_allowed, sim.ent - np.round(sim.draws("history").uniform(sim.everyone) * 3 * YEAR).astype(np.int64)),
            "smoking": smoking, "quit_day": np.where(smoking >= 2, sim.ent + quit, NEVER).astype(np.int64),
            "death_day": np.full(n, -1, dtype=np.int64), "dereg_day": np.full(n, -1, dtype=np.int64),
            **{f"rf_{k}": v for k, v in rf.items()},
        }

    def bind(self, sim: "Sim") -> None:
        super().bind(sim)
        self.ids = sim.ids
        self.drift = reference.toml("risk_factors.toml")["nodes"]["bmi"]["drift_per_year"]

    # ------------------------------------------------------------ what pathways ask
    def age_at(self, pos: np.ndarray, day) -> np.ndarray:
        return (day - self.s.dob[pos]) / YEAR

    def bmi_at(self, pos: np.ndarray, day) -> np.ndarray:
        """BMI drifts up from its value at entry, until 65."""
        s = self.s
        years_on = np.minimum(np.maximum((day - s.ent[pos]) / YEAR, 0), np.maximum(65 - s.age_entry[pos], 0))
        return s.rf_bmi[pos] + self.drift * years_on

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
        """Risk factors known at entry are on the record as history (of those who enter as adults)."""
        adults = sim.adults
        sim.vitals.lifestyle(adults, self.s.history_day[adults], self.bmi_at(adults, self.s.ent[adults]))

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
        s, act = self.s, month.act
        s.smoking[act[(s.smoking[act] >= 2) & (s.quit_day[act] <= month.vday)]] = 1

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
            **{k: getattr(s, f"rf_{k}").astype(np.int8) for k in FLAGS},
            **{f"{k}_onset_age": np.where(v < 900, v, np.nan) for k, v in onset.items()},
        }}
