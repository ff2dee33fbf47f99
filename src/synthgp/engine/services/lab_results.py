"""The results of each blood panel, drawn from the person's truth (data/labs.toml): anaemia by sex, age and
year; hypothyroidism (the registers pathway's onset, treated with levothyroxine) and hyperthyroidism (its own
onset here); type 2 diabetes and the years before it; the liver (obesity); lipids (the risk-factor truth, a
statin); kidney function and the drugs that move potassium and sodium. A result varies from draw to draw with
draws keyed by the day, so the same (person, day) always gives the same numbers. `truth_rows` writes the
conditions behind them (lab_truth)."""

from __future__ import annotations

import datetime as dt
from statistics import NormalDist
from typing import TYPE_CHECKING

import numpy as np

from synthgp.clinical import egfr as egfr_eq
from synthgp.core import dates, rng
from synthgp.engine.services.prescribing import REGULAR, SLOTS
from synthgp.engine.sim import YEAR

if TYPE_CHECKING:
    from synthgp.engine.services.labs import Labs
    from synthgp.engine.sim import Sim

NEVER = np.iinfo(np.int64).max // 4
Z95 = 3.92  # a reference range's width in standard deviations (its central 95%)


class ChildRanges:
    """Children's reference ranges by age (data/labs.toml [labs.child_ranges]): `at(key, age)` gives (child, low,
    high) for results of `key` at each age, child False from the last `until` on (the adult range applies)."""

    def __init__(self, cfg: dict) -> None:
        self.table = {}
        for key, r in cfg["labs"].get("child_ranges", {}).items():
            until, low, high = (np.asarray(r[k], dtype=float) for k in ("until", "low", "high"))
            if key not in cfg["labs"]["ranges"] or not (len(until) == len(low) == len(high)) or (np.diff(until) <= 0).any() \
                    or (low >= high).any():
                raise ValueError(f"labs.toml [labs.child_ranges] {key}: a result of [labs.ranges], with rising `until` ages "
                                 "and one low below one high for each")
            self.table[key] = (until, low, high)

    def at(self, key: str, age: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        age = np.asarray(age, dtype=float)
        if key not in self.table:
            return np.zeros(len(age), dtype=bool), np.full(len(age), np.nan), np.full(len(age), np.nan)
        until, low, high = self.table[key]
        i = np.minimum(np.searchsorted(until, age, side="right"), len(until) - 1)
        return age < until[-1], low[i], high[i]

    def healthy(self, key: str, value: np.ndarray, age: np.ndarray, z: np.ndarray) -> np.ndarray:
        """`value` with each child's replaced by a healthy child's: about the middle of the range, its width Z95 SDs."""
        child, low, high = self.at(key, age)
        return np.where(child, (low + high) / 2 + (high - low) / Z95 * z, value)


def person_truth(sim: "Sim", cfg: dict) -> dict[str, np.ndarray]:
    """Each person's own levels (haemoglobin, HbA1c, ALT), anaemia propensity and hyperthyroidism onset."""
    ev, a, th, h = sim.everyone, cfg["anaemia"], cfg["thyroid"], cfg["hba1c"]
    male = sim.state.array("male")
    dob = sim.state.array("dob")
    hb = np.where(male, a["hb_mean_male"], a["hb_mean_female"]) + a["hb_person_sd"] * sim.draws("lab.hb").normal(ev)
    rate = np.where(male, th["hyper_incidence_male"], th["hyper_incidence_female"])
    age = 18 + sim.draws("lab.hyper").exponential(ev, 1 / rate)  # adult onset at a constant incidence
    return {"hb_level": hb, "anaemia_z": sim.draws("lab.anaemia").normal(ev),
            "hba1c_level": h["normal_mean"] + h["normal_person_sd"] * sim.draws("lab.hba1c").normal(ev),
            "alt_z": sim.draws("lab.alt").normal(ev),
            "hyper_onset": np.where(age < 100, dob + np.round(age * YEAR).astype(np.int64), NEVER)}


class Results:
    """The panels' results for a batch of draws (the labs service records them)."""

    def __init__(self, labs: "Labs", sim: "Sim", cfg: dict) -> None:
        self.labs, self.sim, self.cfg = labs, sim, cfg
        self.c = cfg["labs"]
        self.spironolactone = sim.rx.meds.index["spironolactone"]
        self.statin_slot = REGULAR.index(cfg["lipids"]["statin"])
        self.levo_slot = REGULAR.index("levothyroxine")
        a = cfg["anaemia"]
        self.ages = np.asarray(a["ages"], dtype=float)
        inv = NormalDist().inv_cdf  # the anaemia threshold of each sex and age band, on the propensity's scale
        self.cut = {sex: np.array([inv(p) for p in a[sex]]) for sex in ("male", "female")}
        self.mid_year = np.array([dates.to_days(dt.date(y, 7, 1)) for y in range(1900, 2100)])  # by year - 1900
        self.child = ChildRanges(cfg)
        self.hypo_onset = None
        reg = sim.components.get("registers")
        if reg is not None and "reg_onset" in sim.state and "hypothyroidism" in getattr(reg, "col", {}):
            self.hypo_onset = sim.state.array("reg_onset")[:, reg.col["hypothyroidism"]]

    def draw(self, panel: str, pos, day, slot) -> dict[str, np.ndarray]:
        """The results of `panel` for each (pos, day), in the order a lab reports them."""
        return getattr(self, panel)(pos, day, slot)

    # ------------------------------------------------------------ truth
    def anaemic(self, pos: np.ndarray, year: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(anaemic, of iron deficiency) for each person in calendar `year`, by their age at its middle."""
        s, a, sim = self.labs.s, self.cfg["anaemia"], self.sim
        age = (self.mid_year[year - 1900] - s.dob[pos]) / YEAR
        band = np.clip(np.searchsorted(self.ages, age, side="right") - 1, 0, len(self.ages) - 1)
        cut = np.where(s.male[pos], self.cut["male"][band], self.cut["female"][band])
        r = a["persistence"]
        z = np.sqrt(r) * s.anaemia_z[pos] + np.sqrt(1 - r) * sim.draws("lab.anaemia.year").normal(pos, year)
        young_woman = ~s.male[pos] & (age < a["young_women_below"])
        iron_share = np.where(young_woman, a["iron_share_young_women"], a["iron_share_other"])
        return z < cut, sim.draws("lab.anaemia.cause").uniform(pos, year) < iron_share

    def thyroid_state(self, pos: np.ndarray, day: np.ndarray) -> tuple[np.ndarray, ...]:
        """(hypothyroid untreated, on levothyroxine under `starting_days`, on it and stable, hyperthyroid)."""
        s, th = self.labs.s, self.cfg["thyroid"]
        hyper = (s.hyper_onset[pos] <= day) & (day < s.hyper_onset[pos] + th["hyper_years"] * YEAR)
        j = self.levo_slot
        levo = (s.regular_drug[pos, j] >= 0) & (s.regular_from[pos, j] <= day) & (day < s.regular_until[pos, j])
        hypo = np.zeros(len(pos), dtype=bool) if self.hypo_onset is None else self.hypo_onset[pos] <= day
        starting = levo & (day - s.regular_from[pos, j] < th["starting_days"])
        return hypo & ~levo, starting, levo & ~starting, hyper & ~levo

    # ------------------------------------------------------------ panels
    def ue(self, pos, day, slot) -> dict[str, np.ndarray]:
        """Sodium, potassium, creatinine and eGFR: kidney function, CKD and the drugs that move them."""
        s, c, sim, labs = self.labs.s, self.c, self.sim, self.labs
        ckd = s.onset_ckd[pos] <= day
        z = rng.normals([sim.draws(p) for p in ("egfr.visit", "k.visit", "na")], pos, day)
        # the creatinine of the person's GFR this visit; the lab reports the era's equation of it (clinical/egfr.py)
        female, age = ~s.male[pos], (day - s.dob[pos]) / YEAR
        creat, egfr = egfr_eq.lab_result(np.clip(s.egfr[pos] + labs.visit_sd * z[0], 4, 140), age, female, s.black[pos], day)
        drug = sim.rx.s.rx_drug[pos]
        on_a, on_d = drug[:, SLOTS.index("A")] >= 0, drug[:, SLOTS.index("D")] >= 0
        spiro = drug[:, SLOTS.index("S")] == self.spironolactone
        k = (s.potassium_level[pos] + c["potassium_on_acei_arb"] * on_a + c["potassium_on_spironolactone"] * spiro
             + c["potassium_on_thiazide"] * on_d + c["potassium_with_ckd"] * ckd + c["potassium_visit_sd"] * z[1]
             + labs.k_per_egfr * np.maximum(30 - s.egfr[pos], 0))
        na = c["sodium_mean"] + c["sodium_on_thiazide"] * on_d + c["sodium_sd"] * z[2]
        k = np.round(np.clip(k, 2.5, 7.5), 1)  # decisions use the value the record shows
        for hook in labs.egfr_hooks:
            hook(pos, day, egfr, k)
        s.draw_values[pos, slot, 0], s.draw_values[pos, slot, 1], s.sample_egfr[pos] = egfr, k, egfr
        return {"sodium": np.round(np.clip(na, 120, 155)), "potassium": k, "creatinine": creat, "egfr": egfr}

    def hba1c(self, pos, day, slot) -> dict[str, np.ndarray]:
        """HbA1c: with type 2 diabetes at least 48; without, the person's level, rising with age and in the years
        before an onset, below 48."""
        s, c, h, sim = self.labs.s, self.c, self.cfg["hba1c"], self.sim
        onset = s.onset_type2[pos]
        t2 = onset <= day
        z = rng.normals([sim.draws(p) for p in ("hba1c.dm", "hba1c")], pos, day)
        age = (day - s.dob[pos]) / YEAR
        ahead = np.clip(1 - (onset - day) / (h["pre_years"] * YEAR), 0, 1)  # 0 far from an onset, 1 at it
        normal = (s.hba1c_level[pos] + h["per_year_over_40"] * np.maximum(age - 40, 0) + h["pre_rise"] * ahead
                  + h["visit_sd"] * z[1])
        dm = c["hba1c_diabetes_mean"] + c["hba1c_diabetes_sd"] * z[0]
        return {"hba1c": np.round(np.where(t2, np.maximum(dm, 48), np.clip(normal, 25, 47)))}

    def lipids(self, pos, day, slot) -> dict[str, np.ndarray]:
        """Total and HDL cholesterol about the risk-factor truth, triglycerides, LDL by Friedewald; a statin
        lowers the LDL."""
        s, c, lp, sim = self.labs.s, self.c, self.cfg["lipids"], self.sim
        z = rng.normals([sim.draws(p) for p in ("tc", "hdl", "tg")], pos, day)
        j = self.statin_slot
        statin = (s.regular_drug[pos, j] >= 0) & (s.regular_from[pos, j] <= day) & (day < s.regular_until[pos, j])
        obese = sim.life.bmi_at(pos, day) >= 30
        tg = np.exp(np.log(lp["tg_median"]) + lp["tg_log_sd"] * z[2] + lp["tg_log_diabetes"] * (s.onset_type2[pos] <= day)
                    + lp["tg_log_obese"] * obese)
        tc = np.clip(s.rf_total_cholesterol[pos] + c["cholesterol_visit_sd"] * z[0], 2.5, 11)
        hdl = np.clip(s.rf_hdl[pos] + c["hdl_visit_sd"] * z[1], 0.5, 3.5)
        ldl = np.maximum(tc - hdl - tg / 2.2, 0.3)
        tc = np.where(statin, tc - lp["statin_ldl_fall"] * ldl, tc)
        ldl = np.where(statin, ldl * (1 - lp["statin_ldl_fall"]), ldl)
        s.draw_values[pos, slot, 2], s.draw_values[pos, slot, 3] = tc, hdl
        return {"cholesterol": np.round(tc, 1), "hdl_cholesterol": np.round(hdl, 1), "ldl_cholesterol": np.round(ldl, 1),
                "triglycerides": np.round(tg, 1)}

    def acr(self, pos, day, slot) -> dict[str, np.ndarray]:
        """Urine albumin:creatinine ratio: the person's own, raised by diabetes and CKD."""
        s, c, sim = self.labs.s, self.c, self.sim
        acr = np.exp(np.log(c["acr_median"]) + c["acr_log_sd"] * sim.draws("acr").normal(pos)
                     + c["acr_log_diabetes"] * (s.onset_type2[pos] <= day) + c["acr_log_ckd"] * (s.onset_ckd[pos] <= day))
        s.draw_values[pos, slot, 4], s.sample_acr[pos] = acr, acr
        return {"urine_acr": np.round(acr, 1)}

    def fbc(self, pos, day, slot) -> dict[str, np.ndarray]:
        """Haemoglobin below the WHO threshold in an anaemic year (iron deficiency microcytic), white cells,
        platelets and MCV."""
        s, a, f, sim = self.labs.s, self.cfg["anaemia"], self.cfg["fbc"], self.sim
        year = dates.year_of(day).astype(np.int64)
        anaemic, iron = self.anaemic(pos, year)
        iron &= anaemic
        threshold = np.where(s.male[pos], a["threshold_male"], a["threshold_female"])
        z = rng.normals([sim.draws(p) for p in ("fbc.hb", "fbc.mcv", "fbc.wbc", "fbc.plt")], pos, day)
        depth = sim.draws("fbc.depth").exponential(pos, a["depth_mean"], year)  # the year's depth, steady within it
        low = threshold - 1 - depth + a["hb_visit_sd"] * 0.5 * z[0]
        hb = np.where(anaemic, np.minimum(low, threshold - 1), np.maximum(s.hb_level[pos] + a["hb_visit_sd"] * z[0], threshold))
        mcv = np.where(iron, f["mcv_iron_mean"] + f["mcv_iron_sd"] * z[1], f["mcv_mean"] + f["mcv_sd"] * z[1])
        wbc = np.exp(np.log(f["wbc_median"]) + f["wbc_log_sd"] * z[2])
        plt = f["platelet_mean"] + f["platelet_iron_extra"] * iron + f["platelet_sd"] * z[3]
        age, kid = (day - s.dob[pos]) / YEAR, self.child.healthy  # children: healthy children's counts (no anaemia truth)
        adult = age >= 18
        for hook in self.labs.fbc_hooks:  # adults' results (children have no anaemia truth)
            hook(pos[adult], day[adult], np.round(hb[adult]), iron[adult])
        hb, mcv = kid("haemoglobin", hb, age, z[0]), kid("mcv", mcv, age, z[1])
        wbc, plt = kid("white_cell_count", wbc, age, z[2]), kid("platelet_count", plt, age, z[3])
        return {"haemoglobin": np.round(np.clip(hb, 50, 200)), "white_cell_count": np.round(wbc, 1),
                "platelet_count": np.round(np.clip(plt, 20, 900)), "mcv": np.round(np.clip(mcv, 55, 120))}

    def tft(self, pos, day, slot) -> dict[str, np.ndarray]:
        """TSH and free T4: high and low in untreated hypothyroidism, falling on levothyroxine; suppressed and high
        in hyperthyroidism."""
        th, sim = self.cfg["thyroid"], self.sim
        untreated, starting, stable, hyper = self.thyroid_state(pos, day)
        z = rng.normals([sim.draws(p) for p in ("tft.tsh", "tft.ft4")], pos, day)
        med = np.select([untreated, starting, hyper], [th["untreated_tsh_median"], th["starting_tsh_median"], th["hyper_tsh_median"]],
                        th["tsh_median"])
        sd = np.where(stable, th["treated_tsh_log_sd"], th["tsh_log_sd"])
        tsh = np.exp(np.log(med) + sd * z[0])
        ft4 = np.select([untreated, hyper], [th["untreated_ft4_mean"] + th["ft4_sd"] * z[1], th["hyper_ft4_mean"] + th["hyper_ft4_sd"] * z[1]],
                        th["ft4_mean"] + th["ft4_sd"] * z[1])
        return {"tsh": np.round(np.clip(tsh, 0.01, 100), 2), "free_t4": np.round(np.clip(ft4, 3, 80), 1)}

    def lft(self, pos, day, slot) -> dict[str, np.ndarray]:
        """Bilirubin, ALT (the person's own, raised with obesity), ALP and albumin."""
        s, lv, sim = self.labs.s, self.cfg["liver"], self.sim
        z = rng.normals([sim.draws(p) for p in ("lft.alt", "lft.alp", "lft.bili", "lft.alb")], pos, day)
        r = lv["alt_person_share"]
        obese = sim.life.bmi_at(pos, day) >= 30
        med = np.where(s.male[pos], lv["alt_median_male"], lv["alt_median_female"])
        alt = np.exp(np.log(med) + lv["alt_log_sd"] * (np.sqrt(r) * s.alt_z[pos] + np.sqrt(1 - r) * z[0]) + lv["alt_log_obese"] * obese)
        bili = np.exp(np.log(lv["bilirubin_median"]) + lv["bilirubin_log_sd"] * z[2])
        age = (day - s.dob[pos]) / YEAR  # children: a growing child's ALP (bone) and albumin
        alp = self.child.healthy("alp", lv["alp_mean"] + lv["alp_sd"] * z[1], age, z[1])
        albumin = self.child.healthy("albumin", lv["albumin_mean"] + lv["albumin_sd"] * z[3], age, z[3])
        return {"bilirubin": np.round(np.clip(bili, 2, 80)), "alt": np.round(np.clip(alt, 4, 500)),
                "alp": np.round(np.clip(alp, 20, 900)), "albumin": np.round(np.clip(albumin, 20, 60))}


def truth_rows(labs: "Labs", sim: "Sim") -> dict[str, np.ndarray]:
    """lab_truth: anaemia by calendar year (from the year before the burn-in starts: a history's bloods may be dated
    before entry), iron deficiency or other, for adults in the record that year; hyperthyroidism and
    hypothyroidism spans of the adults simulated."""
    s, res = labs.s, labs.results
    y0, y1 = int(dates.year_of(np.array([sim.start]))[0]) - 1, int(dates.year_of(np.array([sim.end]))[0])
    parts: list[tuple[np.ndarray, ...]] = []
    for y in range(y0, y1 + 1):
        a, b = dates.to_days(dt.date(y, 1, 1)), dates.to_days(dt.date(y, 12, 31))
        pos = np.flatnonzero((s.first_allowed <= b) & (s.lst >= a) & (b - s.dob >= 18 * YEAR))
        anaemic, iron = res.anaemic(pos, np.full(len(pos), y))
        p = pos[anaemic]
        parts.append((p, np.where(iron[anaemic], "anaemia_iron_deficiency", "anaemia_other"),
                      np.maximum(s.first_allowed[p], a), np.minimum(s.lst[p], b)))
    th = labs.cfg["thyroid"]
    ends = s.hyper_onset + int(round(th["hyper_years"] * YEAR))
    p = np.flatnonzero((s.hyper_onset <= s.lst) & (ends > s.ent))
    parts.append((p, np.full(len(p), "hyperthyroidism"), s.hyper_onset[p], ends[p]))
    if res.hypo_onset is not None:
        p = np.flatnonzero(res.hypo_onset <= s.lst)
        parts.append((p, np.full(len(p), "hypothyroidism"), res.hypo_onset[p], np.full(len(p), dates.NONE)))
    cols = [np.concatenate([q[i] for q in parts]) for i in range(4)]
    return {"pat": sim.P[cols[0]], "condition": cols[1].astype(object), "start": cols[2].astype(np.int64),
            "end": cols[3].astype(np.int64)}
