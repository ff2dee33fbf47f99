"""COVID-19 from 2020: infection waves, testing, admissions and deaths, and vaccination (data/covid.toml,
scenario [covid]).

Infection: each month an adult's chance of a new infection follows the national wave of the calendar month
(`covid.wave_scale` scales it), their age, ethnicity, deprivation and sex, frontline health or social care work
(REACT-2, REACT-1), and the protection of an earlier infection and of vaccination, both waning. Severity: the infection
fatality ratio by age (Levin 2020) times the OpenSAFELY hazard ratios (Williamson 2020: male sex, deprivation less its
share through infection, obesity, diabetes, CKD, immunosuppression, chronic heart disease, stroke; ethnicity's acts
through infection, REACT-2), the
variant's severity, and protection from vaccination and earlier infection; admissions are a multiple of
deaths by age, and every death is admitted first; care-home residents' severity is raised by the published
hazard ratio. A death ends the life through the life service.
What reaches the record, by date: a positive test (PCR, or lateral flow from April 2021) if the infection
was tested and the result reached the practice (`covid.results_recorded`), a PCR positive with "confirmed
by laboratory test"; negative tests among the uninfected, far more of them; suspected COVID-19 from a
telephone consultation (mostly in spring 2020); the hospital's letter of an admission (the admission,
pneumonia caused by SARS-CoV-2, critical care, the discharge of those who leave alive). Every infection is in `covid_truth`, recorded or not.
Vaccination: from 8 December 2020 the JCVI priority groups are offered in order, by age on 31 March 2021 and
clinical risk as the record shows it; a first dose follows the published uptake of the person's age,
lower in Black and more deprived people, then a second dose 8-12 weeks later; then boosters and seasonal
campaigns by their published eligibility. Doses are given at a nurse's clinic and coded.
"""

from __future__ import annotations

import datetime as dt
from statistics import NormalDist
from typing import TYPE_CHECKING

import numpy as np

from synthgp.core import dates, reference
from synthgp.core.bank_holidays import to_working_day, to_working_day_before
from synthgp.engine.component import Pathway
from synthgp.engine.truth import TruthRows
from synthgp.pathways.covid_care import CovidCare

if TYPE_CHECKING:
    from synthgp.engine.sim import Month, Sim

NEVER = np.iinfo(np.int64).max // 4
YEAR = 365.25
DOSE_CODES = ("covid_vaccination_first", "covid_vaccination_second", "covid_vaccination_booster")


def _day(text: str) -> int:
    return int(dates.to_days(dt.date.fromisoformat(text)))


def _days(texts) -> np.ndarray:
    return np.array([_day(t) for t in texts], dtype=np.int64)


def _period(from_days: np.ndarray, day) -> np.ndarray:
    """Index of the period (from `from_days`) holding each day; -1 before the first."""
    return np.searchsorted(from_days, day, side="right") - 1


def _probit(p) -> np.ndarray:
    inv = NormalDist().inv_cdf
    return np.array([inv(min(max(float(x), 0.001), 0.999)) for x in np.atleast_1d(p)])


class Covid(Pathway):
    name = "covid"
    fields = {"covid_infected": "day the latest infection started, or -1", "covid_infections": "infections so far",
              "covid_doses": "vaccine doses given so far", "covid_dose_day": "day of the latest dose, or -1",
              "covid_due": "day of the next planned dose, or NEVER",
              "covid_campaign": "latest campaign the person was considered for: -1 none, 0 primary course, 1... boosters",
              "covid_home": "lived in a care home when the programme started: -1 not drawn yet, 0 no, 1 yes",
              "covid_worker": "a frontline health or social care worker then: -1 not drawn yet, 0 no, 1 yes"}
    reads = ("dob", "male", "imd", "black", "south_asian", "ent", "lst", "known_type2", "onset_type2", "rf_type1",
             "known_ckd", "onset_ckd", "egfr", "stroke_day", "mi_day", "heart_failure_day", "rf_corticosteroids", "rf_bmi")
    truth = ("covid_truth", "covid_groups")

    def init(self, sim: "Sim") -> dict[str, np.ndarray]:
        n = sim.n
        return {"covid_infected": np.full(n, -1, dtype=np.int64), "covid_infections": np.zeros(n, dtype=np.int16),
                "covid_doses": np.zeros(n, dtype=np.int16), "covid_dose_day": np.full(n, -1, dtype=np.int64),
                "covid_due": np.full(n, NEVER, dtype=np.int64), "covid_campaign": np.full(n, -1, dtype=np.int16),
                "covid_home": np.full(n, -1, dtype=np.int8), "covid_worker": np.full(n, -1, dtype=np.int8)}

    def bind(self, sim: "Sim") -> None:
        super().bind(sim)
        self.sim, self.cfg, self.par = sim, reference.toml("covid.toml"), sim.scenario.covid
        c = self.cfg
        y, mo = map(int, c["waves"]["first_month"].split("-"))
        n = len(c["waves"]["monthly"])
        self.month_starts = np.array([dates.to_days(dt.date(y + (mo - 1 + k) // 12, (mo - 1 + k) % 12 + 1, 1))
                                      for k in range(n + 1)], dtype=np.int64)
        self.incidence = np.minimum(np.asarray(c["waves"]["monthly"], dtype=float) * self.par.wave_scale, 0.95)
        self.omicron = _day(c["susceptibility"]["omicron_from"])
        self.worker_from = _days(c["susceptibility"]["worker_from_dates"])
        self.variant_from = _days(c["variants"]["from_dates"])
        self.test_from = _days(c["testing"]["from_dates"])
        self.symptom_from = _days(c["symptoms"]["from_dates"])
        v = c["vaccination"]
        self.vacc_start, self.age_on = _day(v["start"]), _day(v["age_on"])
        self.group_offered = _days(v["offered"])
        b = c["boosters"]
        self.campaign_start = _days(b["start"])
        # a campaign offers until the next starts (the last for its own length)
        self.campaign_end = np.append(self.campaign_start[1:], self.campaign_start[-1] + b["last_campaign_days"])
        self.propensity = sim.stream("covid.propensity").normal(sim.everyone)
        self.care = CovidCare(c)
        self.rows = TruthRows("pat", "day", "variant", "symptomatic", "tested", "recorded", "admitted", "icu", "died",
                              "oximetry", "long_covid", "doses", "previous")
        self.group_rows = TruthRows("pat", "day", "jcvi_group", "care_home", "health_worker")

    # ------------------------------------------------------------ risk
    def at_risk(self, pos: np.ndarray, day) -> np.ndarray:
        """In a clinical risk group, as the record shows it on `day` (as the flu programme's groups)."""
        s = self.s

        return ((s.known_type2[pos] <= day) | s.rf_type1[pos] | (s.known_ckd[pos] <= day) | dates.happened_by(s.stroke_day[pos], day)
                | dates.happened_by(s.mi_day[pos], day) | dates.happened_by(s.heart_failure_day[pos], day) | s.rf_corticosteroids[pos]
                | (self.sim.life.bmi_at(pos, day) >= 40))

    def extremely_vulnerable(self, pos: np.ndarray, day) -> np.ndarray:
        """Clinically extremely vulnerable (JCVI group 4): immunosuppressed (long-term oral corticosteroids
        here) or CKD stage 4-5 known to the practice."""
        s = self.s
        return s.rf_corticosteroids[pos] | ((s.known_ckd[pos] <= day) & (s.egfr[pos] < 30))

    def multiplier(self, pos: np.ndarray, day) -> np.ndarray:
        """The OpenSAFELY hazard ratios of `pos` on `day` (truth, not the record), over the population's average."""
        s, sv = self.s, self.cfg["severity"]
        bmi = self.sim.life.bmi_at(pos, day)
        obese = np.searchsorted(np.asarray(sv["obesity_bmi"]), bmi, side="right")
        m = np.where(s.male[pos], sv["hr_male"], 1.0)
        # Williamson's HR is of death in the whole population: the part deprivation plays through infection is divided out
        m = m * np.exp(np.log(sv["hr_most_deprived"] / self.cfg["susceptibility"]["rr_most_deprived"]) * (5 - s.imd[pos]) / 4)
        m = m * np.concatenate([[1.0], sv["hr_obesity"]])[obese]
        m = m * np.where((s.onset_type2[pos] <= day) | s.rf_type1[pos], sv["hr_diabetes"], 1.0)
        m = m * np.where(s.onset_ckd[pos] <= day, sv["hr_ckd"], 1.0)
        m = m * np.where(s.rf_corticosteroids[pos], sv["hr_immunosuppressed"], 1.0)
        heart = dates.happened_by(s.mi_day[pos], day) | dates.happened_by(s.heart_failure_day[pos], day)
        m = m * np.where(heart, sv["hr_chronic_heart"], 1.0) * np.where(dates.happened_by(s.stroke_day[pos], day), sv["hr_stroke"], 1.0)
        age = (np.asarray(day) - s.dob[pos]) / YEAR  # care homes: higher odds of death at 60, none by 90 (Paranthaman)
        home = np.exp(np.interp(age, sv["care_home_ages"], np.log(sv["care_home_or"])))
        m = m * np.where(self.care_home(pos), home, 1.0)
        return m / sv["population_average_multiplier"]

    def death_risk(self, pos: np.ndarray, day, age, doses, previous) -> tuple[np.ndarray, np.ndarray]:
        """(probability of death, of admission) of an infection starting on `day`."""
        sv, var = self.cfg["severity"], self.cfg["variants"]
        ifr = np.exp(np.interp(age, sv["ifr_ages"], np.log(sv["ifr_percent"]))) / 100
        k = np.maximum(_period(self.variant_from, day), 0)
        vac = np.asarray(var["vaccine_severe_protection"])[np.minimum(doses, 3)]
        p = (ifr * self.multiplier(pos, day) * np.asarray(var["relative_severity"])[k] * (1 - vac)
             * np.where(previous > 0, 1 - var["infection_severe_protection"], 1.0))
        p = np.minimum(p, 0.9)
        admit = np.minimum(np.maximum(p * np.interp(age, sv["admissions_per_death_ages"], sv["admissions_per_death"]), p), 0.95)
        return p, admit

    # ------------------------------------------------------------ infection
    def exposure(self, pos: np.ndarray, day) -> np.ndarray:
        """Relative rate of infection of `pos` on `day` by deprivation, sex and frontline health or social care work
        (REACT-2, REACT-1), each centred so that the population's (and the working ages') infections stay on the waves."""
        s, sus, v = self.s, self.cfg["susceptibility"], self.cfg["vaccination"]
        r = np.exp(np.log(sus["rr_most_deprived"]) * (3 - s.imd[pos]) / 4)  # quintile 1 most deprived
        r = r * np.where(s.male[pos], sus["rr_male"], 1.0) / ((1 + sus["rr_male"]) / 2)
        rr = np.asarray(sus["rr_worker"], dtype=float)[np.maximum(_period(self.worker_from, day), 0)]
        lo, hi = v["worker_ages"]
        age = (self.vacc_start - s.dob[pos]) / YEAR  # the flag's own ages
        work = np.where(self.health_worker(pos), rr, 1.0) / (1 + v["worker_share"] * (rr - 1))
        return r * np.where((age >= lo) & (age < hi), work, 1.0)

    def infect(self, sim: "Sim", month: "Month") -> None:
        """New infections this month, what becomes of them and what the record learns; negative tests."""
        if month.day1 <= self.month_starts[0]:
            return
        s, act, m = self.s, month.act, month.m
        vday, age = month.vday, month.age
        k = np.searchsorted(self.month_starts, vday, side="right") - 1
        inside = (k >= 0) & (k < len(self.incidence))
        if not inside.any():
            return
        sus = self.cfg["susceptibility"]
        inc = np.where(inside, self.incidence[np.clip(k, 0, len(self.incidence) - 1)], 0.0)
        rate = -np.log1p(-inc) * np.interp(age, sus["ages"], sus["relative"])
        rate = rate * np.where(s.black[act], sus["rr_black"], np.where(s.south_asian[act], sus["rr_south_asian"], 1.0))
        rate = rate / sus["ethnicity_average"] * self.exposure(act, vday)
        wane = np.log(2) / sus["protection_half_life_days"]
        omicron = vday >= self.omicron
        last, dose_day = s.covid_infected[act], s.covid_dose_day[act]
        prior = np.where(omicron, sus["reinfection_protection_omicron"], sus["reinfection_protection"])
        vac = np.where(omicron, sus["vaccine_protection_omicron"], sus["vaccine_protection"])
        rate = rate * np.where(last >= 0, 1 - prior * np.exp(-wane * (vday - last)), 1.0)
        rate = rate * np.where(dose_day >= 0, 1 - vac * np.exp(-wane * np.maximum(vday - dose_day, 0)), 1.0)
        u = sim.stream("covid.infection").uniform(act, m)
        hit = (u < 1 - np.exp(-rate)) & ((last < 0) | (vday - last > 90))
        self._infections(sim, act[hit], vday[hit], age[hit], m)
        self._negative_tests(sim, act[~hit], vday[~hit], m)

    def _infections(self, sim: "Sim", pos: np.ndarray, day: np.ndarray, age: np.ndarray, m: int) -> None:
        if not len(pos):
            return
        s, c, rec = self.s, self.cfg, sim.record
        doses = np.where(s.covid_dose_day[pos] <= day, s.covid_doses[pos], np.maximum(s.covid_doses[pos] - 1, 0))
        previous = s.covid_infections[pos].copy()
        p_death, p_admit = self.death_risk(pos, day, age, doses, previous)
        u = sim.stream("covid.severity").uniform(pos, m)
        admitted = u < p_admit
        h = c["hospital"]
        lo, hi = h["days_to_admission"]
        admit_day = day + lo + sim.stream("covid.admission.day").integers(pos, hi - lo + 1, m)
        lo, hi = h["days_to_death"]
        death_day = np.maximum(day + lo + sim.stream("covid.death.day").integers(pos, hi - lo + 1, m), admit_day + 1)
        died = (u < p_death) & (day >= sim.study_start) & (death_day <= s.lst[pos])
        symptomatic = admitted | (sim.stream("covid.symptoms").uniform(pos, m) < c["symptoms"]["symptomatic"])
        t = _period(self.test_from, day)
        tc = c["testing"]
        tested = admitted | ((t >= 0) & (sim.stream("covid.tested").uniform(pos, m) < np.asarray(tc["tested"])[t]))
        recorded = tested & (sim.stream("covid.recorded").uniform(pos, m) < self.par.results_recorded)
        lfd = (t >= 0) & ~admitted & (sim.stream("covid.lfd").uniform(pos, m) < np.asarray(tc["lfd_share"])[t])
        lo, hi = tc["days_to_result"]
        test_day = day + lo + sim.stream("covid.test.day").integers(pos, hi - lo + 1, m)
        pcr, ag = recorded & ~lfd, recorded & lfd
        never = np.full(len(pos), NEVER, dtype=np.int64)
        rec.observation(pos[pcr], test_day[pcr], rec.code("covid_pcr_positive"), obstype=rec.obstype("Investigation"))
        rec.diagnosis(pos[pcr], test_day[pcr], rec.code("covid_confirmed_lab"))
        rec.observation(pos[ag], test_day[ag], rec.code("covid_antigen_positive"), obstype=rec.obstype("Investigation"))
        self._suspected(sim, pos, day, symptomatic & ~admitted, m)
        self._confirmed_seen(sim, pos, test_day, symptomatic & recorded & ~admitted, m)
        eligible = symptomatic & recorded & ((age >= c["oximetry"]["min_age"]) | self.extremely_vulnerable(pos, day))
        oximetry = self.care.oximetry(sim, pos, test_day, eligible, np.where(admitted, admit_day, never), m)
        icu = np.zeros(len(pos), dtype=bool)
        icu[admitted] = self._admissions(sim, pos[admitted], admit_day[admitted], age[admitted],
                                         np.where(died, death_day - 1, never)[admitted], m)
        sim.life.die(sim, pos[died], death_day[died], "covid", m)
        era = np.maximum(_period(self.variant_from, day), 0)
        long_covid = self.care.long_covid(sim, pos, day, era, age, s.male[pos], doses, symptomatic & ~died, m)
        s.covid_infected[pos] = day
        s.covid_infections[pos] += 1
        variant = np.asarray(c["variants"]["names"], dtype=object)[np.maximum(_period(self.variant_from, day), 0)]
        self.rows.add(len(pos), pat=sim.P[pos], day=day, variant=variant, symptomatic=symptomatic.astype(np.int8),
                      tested=tested.astype(np.int8), recorded=recorded.astype(np.int8), admitted=admitted.astype(np.int8),
                      icu=icu.astype(np.int8), died=died.astype(np.int8), oximetry=oximetry.astype(np.int8),
                      long_covid=long_covid.astype(np.int8), doses=doses.astype(np.int8), previous=previous.astype(np.int8))

    def _suspected(self, sim: "Sim", pos, day, symptomatic, m: int) -> None:
        """Some with symptoms speak to their GP by telephone and have suspected COVID-19 coded."""
        k = _period(self.symptom_from, day)
        share = np.where(k >= 0, np.asarray(self.cfg["symptoms"]["suspected_coded"])[np.maximum(k, 0)], 0.0)
        seen = symptomatic & (sim.stream("covid.suspected").uniform(pos, m) < share)
        who, when = pos[seen], day[seen] + 1 + sim.stream("covid.suspected.day").integers(pos[seen], 4, m)
        cons = sim.contacts.book(who, when, "gp", "covid", m, "Telephone consultation")
        rec = sim.record
        rec.observation(who, when, rec.code("covid_suspected"), cons=cons, obstype=rec.obstype("Observation"))
        self.care.consult(sim, who, when, cons, m)

    def _confirmed_seen(self, sim: "Sim", pos, test_day, symptomatic, m: int) -> None:
        """A few with a recorded positive result and symptoms also speak to their GP: symptoms and advice coded."""
        seen = symptomatic & (sim.stream("covid.confirmed.seen").uniform(pos, m) < self.cfg["symptoms"]["confirmed_consulted"])
        who, when = pos[seen], test_day[seen] + sim.stream("covid.confirmed.day").integers(pos[seen], 3, m)
        self.care.consult(sim, who, when, sim.contacts.book(who, when, "gp", "covid", m, "Telephone consultation"), m)

    def _admissions(self, sim: "Sim", pos, admit, age, last_day, m: int) -> np.ndarray:
        """An admission reaches the record with the hospital's letter: the admission, pneumonia caused by SARS-CoV-2,
        critical care for some and, for those who leave alive, the discharge (`last_day`: the day before a death in
        hospital, else beyond reach); returns who went to critical care."""
        h, rec = self.cfg["hospital"], sim.record
        llo, lhi = h["letter_days"]
        delay = llo + sim.stream("covid.letter").integers(pos, lhi - llo + 1, m)
        obs = rec.obstype("Observation")
        rec.observation(pos, admit, rec.code("hospital_admission"), obstype=obs, enter_delay=delay)
        rec.diagnosis(pos, admit, rec.code("covid_pneumonia"), enter_delay=delay)
        icu = self.care.icu(sim, pos, admit, age, last_day, delay, m)
        slo, shi = h["length_of_stay"]
        stay = slo + sim.stream("covid.stay").integers(pos, shi - slo + 1, m) + np.where(icu, h["icu_extra_stay"], 0)
        out = admit + stay
        home = (last_day >= NEVER) & (out <= self.s.lst[pos])  # survivors; a death in hospital has no discharge
        rec.observation(pos[home], out[home], rec.code("hospital_discharge"), obstype=obs,
                        enter_delay=np.maximum(delay[home] - stay[home], 0))
        return icu

    def _negative_tests(self, sim: "Sim", pos, day, m: int) -> None:
        """Negative results among the uninfected (PCR, or lateral flow from April 2021)."""
        t = _period(self.test_from, day)
        tc = self.cfg["testing"]
        share = np.where(t >= 0, np.asarray(tc["negative_monthly"])[np.maximum(t, 0)], 0.0) * self.par.results_recorded
        u = sim.stream("covid.negative").uniform(pos, m)
        neg = u < share
        lfd = u < share * np.where(t >= 0, np.asarray(tc["lfd_share"])[np.maximum(t, 0)], 0.0)  # a part of those
        rec = sim.record
        inv = rec.obstype("Investigation")
        rec.observation(pos[neg & ~lfd], day[neg & ~lfd], rec.code("covid_pcr_negative"), obstype=inv)
        rec.observation(pos[lfd], day[lfd], rec.code("covid_antigen_negative"), obstype=inv)

    # ------------------------------------------------------------ vaccination
    def group(self, pos: np.ndarray) -> np.ndarray:
        """JCVI priority group (index into covid.toml vaccination.groups) of `pos`, by age on 31 March 2021
        and the clinical risk the record shows at the programme's start; the youngest adults' group for those
        who turned 18 later (the offer stayed open)."""
        v, s = self.cfg["vaccination"], self.s
        age = (self.age_on - s.dob[pos]) / YEAR
        risk = self.at_risk(pos, self.vacc_start)
        cev = self.extremely_vulnerable(pos, self.vacc_start)
        home, worker = self.care_home(pos), self.health_worker(pos)
        g = np.full(len(pos), len(v["min_age"]) - 1, dtype=np.int64)
        for i, lo in reversed(list(enumerate(v["min_age"]))):  # the first group that applies wins
            if lo == -2:
                g[home] = i
            elif lo == -1:
                g[risk & (age < 65) & (age >= 16)] = i
            else:
                g[age >= lo] = i
        g[worker & (g > 1)] = 1  # group 2 (index 1): 80+ and frontline health and social care workers
        g[cev & (g > 3)] = 3  # group 4 (index 3): 70-74 and the clinically extremely vulnerable
        return g

    def care_home(self, pos: np.ndarray) -> np.ndarray:
        """Living in a care home for older adults when the programme started (truth; drawn once, by age)."""
        s, v = self.s, self.cfg["vaccination"]
        new = pos[s.covid_home[pos] < 0]
        if len(new):
            age = (self.vacc_start - s.dob[new]) / YEAR
            share = np.where(age >= v["care_home_ages"][0], np.interp(age, v["care_home_ages"], v["care_home_share"]), 0.0)
            s.covid_home[new] = self.sim.stream("covid.care_home").uniform(new, 0) < share
        return s.covid_home[pos] == 1

    def health_worker(self, pos: np.ndarray) -> np.ndarray:
        """A frontline health or social care worker in 2020-21 (truth; drawn once, by age at the programme's start; it raises
        infection from 2020 and sets the JCVI group)."""
        s, v = self.s, self.cfg["vaccination"]
        new = pos[s.covid_worker[pos] < 0]
        if len(new):
            age = (self.vacc_start - s.dob[new]) / YEAR
            lo, hi = v["worker_ages"]
            working = (age >= lo) & (age < hi) & ~self.care_home(new)
            s.covid_worker[new] = working & (self.sim.stream("covid.worker").uniform(new, 0) < v["worker_share"])
        return s.covid_worker[pos] == 1

    def vaccinate(self, sim: "Sim", month: "Month") -> None:
        """Plan doses for those newly offered (the primary course, each campaign), then give those due."""
        if month.day1 <= self.vacc_start:
            return
        self._offer_primary(sim, month)
        for i, (start, end) in enumerate(zip(self.campaign_start, self.campaign_end)):
            if start < month.day1 and end > month.day0:
                self._offer_campaign(sim, month, i)
        self._give(sim, month)

    def _threshold(self, pos: np.ndarray, p: np.ndarray) -> np.ndarray:
        v, s = self.cfg["vaccination"], self.s
        return _probit(p) + v["black_probit"] * s.black[pos] + v["deprivation_probit_per_quintile"] * (3 - s.imd[pos])

    def _yes(self, sim: "Sim", pos: np.ndarray, p: np.ndarray, key: int) -> np.ndarray:
        r = self.cfg["vaccination"]["persistence"]
        latent = np.sqrt(r) * self.propensity[pos] + np.sqrt(1 - r) * sim.stream("covid.dose").normal(pos, key)
        return latent < self._threshold(pos, p)

    def _offer_primary(self, sim: "Sim", month: "Month") -> None:
        s, v = self.s, self.cfg["vaccination"]
        new = month.act[s.covid_campaign[month.act] < 0]
        if not len(new):
            return
        g = self.group(new)
        offered = self.group_offered[g]
        new, g, offered = new[offered < month.day1], g[offered < month.day1], offered[offered < month.day1]
        if not len(new):
            return
        s.covid_campaign[new] = 0
        age = (self.age_on - s.dob[new]) / YEAR
        home, worker = self.care_home(new), self.health_worker(new)
        p = np.interp(age, v["uptake_ages"], v["uptake_first"])
        p = np.where(home, v["care_home_uptake"], np.where(worker, np.maximum(p, v["worker_uptake"]), p))
        yes = self._yes(sim, new, p, 0)
        self.group_rows.add(len(new), pat=sim.P[new], day=offered, jcvi_group=g.astype(np.int8), care_home=home.astype(np.int8),
                            health_worker=worker.astype(np.int8))
        who, off = new[yes], np.maximum(offered[yes], s.ent[new[yes]])
        wait = np.round(sim.stream("covid.wait").exponential(who, v["days_to_dose_mean"], 0)).astype(np.int64)
        s.covid_due[who] = np.maximum(off, month.day0) + wait

    def _offer_campaign(self, sim: "Sim", month: "Month", i: int) -> None:
        """Booster campaign i: those eligible now, with a dose long enough ago, not yet considered for it."""
        s, b = self.s, self.cfg["boosters"]
        act = month.act
        cand = act[(s.covid_campaign[act] < i + 1) & (s.covid_campaign[act] >= 0) & (s.covid_doses[act] >= 1)
                   & (s.covid_due[act] == NEVER)]
        if not len(cand):
            return
        day = np.maximum(self.campaign_start[i], month.day0)
        age = (day - s.dob[cand]) / YEAR
        risk = self.at_risk(cand, day) if b["at_risk"][i] else np.zeros(len(cand), dtype=bool)
        ok = ((age >= b["min_age"][i]) | risk) & (day - s.covid_dose_day[cand] >= b["min_days"][i])
        cand, age = cand[ok], age[ok]
        if not len(cand):
            return
        s.covid_campaign[cand] = i + 1
        band = np.searchsorted(np.asarray(b["uptake_bands"]), age, side="right") - 1
        p = np.asarray(b["uptake"][i])[np.maximum(band, 0)]
        yes = self._yes(sim, cand, p, i + 1) & (p > 0)
        who = cand[yes]
        wait = np.round(sim.stream("covid.wait").exponential(who, b["days_to_dose_mean"], i + 1)).astype(np.int64)
        s.covid_due[who] = day + wait

    def _give(self, sim: "Sim", month: "Month") -> None:
        s, rec, v = self.s, sim.record, self.cfg["vaccination"]
        act = month.act
        due = act[(s.covid_due[act] >= month.day0) & (s.covid_due[act] < month.day1)]
        due = due[s.covid_due[due] <= s.lst[due]]
        if not len(due):
            return
        day, dose = sim.contacts.weekday(s.covid_due[due]), s.covid_doses[due]  # the clinic's working day: the gap counts from it
        cons = sim.contacts.book(due, day, "nurse", "covid", month.m, "Clinic")
        # a dose of a booster campaign is a booster whatever came before (one dose, or two); the primary course's
        # doses are first and second
        kind = np.where(s.covid_campaign[due] >= 1, 2, np.minimum(dose, 1))
        code = rec.codes(*DOSE_CODES)[kind]
        rec.observation(due, day, code, cons=cons, obstype=rec.obstype("Immunisation"))
        s.covid_doses[due] += 1
        s.covid_dose_day[due] = day
        s.covid_due[due] = NEVER
        first = due[dose == 0]  # a second dose for most, 8-12 weeks on
        age = (day[dose == 0] - s.dob[first]) / YEAR
        yes = sim.stream("covid.second").uniform(first, 0) < np.interp(age, v["second_dose_share_ages"], v["second_dose_share"])
        lo, hi = v["second_dose_days"]
        gap = lo + sim.stream("covid.second.day").integers(first[yes], hi - lo + 1, 0)
        d1 = day[dose == 0][yes]
        due2 = d1 + gap  # held on a working day, and never past the interval's end: a day earlier if need be
        s.covid_due[first[yes]] = np.where(to_working_day(due2) - d1 > hi, to_working_day_before(due2), due2)

    def truth_tables(self, sim: "Sim") -> dict[str, dict[str, np.ndarray]]:
        return {"covid_truth": self.rows.columns("day", {"day": "date"}),
                "covid_groups": self.group_rows.columns("day", {"day": "date"})}
