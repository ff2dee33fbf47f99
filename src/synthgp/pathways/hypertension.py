"""Hypertension in the practice, by NICE NG136: monthly, vectorised over a block of adults.

Each month, for every adult in the record: the latent usual BP (bp.py) at their age, the drugs
they take and how well; consultations; BP checks (opportunistic, NHS Health Checks, diabetes and
hypertension reviews); the diagnosis pathway (repeat reading, ABPM/HBPM, staging, target-organ
damage tests, QRISK3); treatment (steps 1-4, titration before adding, monitoring bloods, side
effects and switches, referral); repeat prescriptions; cardiovascular events. Rules come from
ng136.py, numbers from data files and the scenario's `care` parameters. The record gets what the
practice saw; the truth tables get what was so.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from synthgp.clinical import bp, ng136, qrisk3
from synthgp.core import dates, reference
from synthgp.core.rng import Draws
from synthgp.population import cohort, risk_factors
from synthgp.population.people import People
from synthgp.population.plan import Plan
from synthgp.record.log import EventLog

MONTH = 30.4375
YEAR = 365.25
SMOKING_LEVELS = ("never", "ex", "light", "moderate", "heavy")
DOSE_UNITS = {-2: 0.6, -1: 0.78, 0: 1.0, 1: 1.25, 2: 1.4}  # effect relative to a standard dose (Law 2003)
SLOTS = ("A", "C", "D", "S")  # drug classes held at once: ACEi/ARB, CCB, diuretic, step 4


def _codes() -> dict[int | str, int]:
    """medcodeid by SNOMED CT concept id (or by key, for rows without one), from codes.csv."""
    rows = reference.csv_rows("codes.csv")
    out: dict[int | str, int] = {int(r["snomedctconceptid"]): int(r["medcodeid"]) for r in rows if r["snomedctconceptid"]}
    out.update({r["key"]: int(r["medcodeid"]) for r in rows if r["key"]})
    return out


class Meds:
    """The product table: per drug, levels -> prodcodeid, cost, dose units."""

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
        for i, k in enumerate(self.names):
            s = self.spec[k]
            self.max_level[i] = len(s["levels"]) - 1
            self.capsule[i] = s["form"] == "capsule"
            for j, lv in enumerate(s["levels"]):
                self.prod[i, j] = lv["prodcodeid"]
                self.cost[i, j] = lv["cost"]
                self.units[i, j] = DOSE_UNITS[max(-2, min(2, j - s["standard_level"]))]


@dataclass
class Result:
    truth: dict[str, dict[str, np.ndarray]]  # table name -> columns (local patient index in "pat")


def _rate_by_age(age: np.ndarray, young: float, old: float) -> np.ndarray:
    return np.interp(age, [18, 45, 75], [young, (young + old) / 2, old])


def simulate(plan: Plan, people: People, log: EventLog) -> Result:
    sc, seed = plan.scenario, plan.seed
    care = sc.care
    th = reference.toml("ng136.toml")["thresholds"]
    fu = reference.toml("ng136.toml")["follow_up"]
    code = _codes()
    lk = reference.toml("aurum_lookups.toml")
    unit_id = {d: i for i, d in lk["NumUnit"]["rows"]}
    obstype = {d: i for i, d in lk["ObsType"]["rows"]}
    source = {d: i for i, d in lk["ConsSource"]["rows"]}
    jobs = lk["JobCat"]["job_keys"]
    meds = Meds()
    eth = reference.toml("population.toml")["ethnicity"]

    study_start, end = plan.start_day, plan.end_day
    # care is simulated from a burn-in before the study, so the study opens on a steady state;
    # what the burn-in records is history, as in a real extract
    start = study_start - int(round(care.burn_in_years * YEAR))
    adult_day = people.dob + np.round(18 * YEAR).astype(np.int64)
    last = np.where(people.death >= 0, people.death, np.where(people.regend >= 0, people.regend, end))
    entry = np.maximum.reduce([people.regstart, np.full(len(last), start), adult_day])
    sim = np.flatnonzero(entry <= last)
    n = len(sim)
    ids = people.index[sim]
    first_allowed = np.maximum(people.dob, people.regstart)
    # the log is indexed by block-local patient; pathway arrays by position in `sim`
    P = sim

    male = people.male[sim]
    dob = people.dob[sim]
    imd = people.imd[sim]
    groups = np.asarray(eth["groups"])[people.ethnicity[sim]]
    broad = np.asarray(eth["broad"])[people.ethnicity[sim]]
    black = broad == "Black"
    person = risk_factors.Person(ids, male, broad, groups, imd)
    feats = person.features(np.full(n, 50.0))
    south_asian = feats["south_asian"] > 0
    qrisk_eth = np.asarray(eth["qrisk3"])[people.ethnicity[sim]]
    qrisk_eth_recorded = np.where(people.ethnicity_recorded[sim], qrisk_eth, 1)
    ent, lst = entry[sim], last[sim]
    age_entry = (ent - dob) / YEAR
    learned = cohort.draw(seed, sc.risk_factors, person, age_entry) if sc.risk_factors.model else None
    rf = risk_factors.sample(seed, person, age_entry, given=learned)
    bpp = bp.Person.draw(seed, ids)

    def d(purpose: str) -> Draws:
        return Draws(seed, f"htn.{purpose}")

    def staff(job: str, pos: np.ndarray, purpose: str, step: int) -> np.ndarray:
        j = jobs.index(job)
        prac = people.practice[P[pos]]
        k = plan.staff_first[prac, j] + d(f"staff.{purpose}").integers(ids[pos], plan.staff_count[prac, j], step)
        return k * 100_000 + people.pracid[P[pos]]

    # ---------------------------------------------------------------- conditions and their diagnosis
    onset_day = {c: np.where(rf[f"onset_{c}"] < 900, dob + np.round(rf[f"onset_{c}"] * YEAR), np.iinfo(np.int64).max // 4).astype(np.int64)
                 for c in ("type2", "ckd", "af")}
    known_day = {}
    for c, snomed in (("type2", 44054006), ("ckd", 433144002), ("af", 49436004)):
        on = onset_day[c]
        prevalent = on <= ent
        delay = np.round(d(f"dxdelay.{c}").exponential(ids, care.condition_diagnosis_delay_years * YEAR)).astype(np.int64)
        known_at_entry = prevalent & (d(f"known.{c}").uniform(ids) < care.condition_known_at_entry)
        # a diagnosis made before registration here arrives with the records, dated at registration
        kd = np.maximum(np.where(known_at_entry, on, on + delay), first_allowed[P])
        known_day[c] = kd
        sel = np.flatnonzero(kd < ent)  # history; later diagnoses are coded as the months reach them
        log.observation(P[sel], kd[sel], code[snomed], obstype=obstype["Diagnosis"], problem=1)
    static_conditions = (("type1", 46635009), ("ra", 69896004), ("sle", 55464009), ("migraine", 37796009),
                         ("semi", 58214004), ("impotence", 860914002), ("fh_cvd", 266894000))
    hist_day = np.maximum(first_allowed[P], ent - np.round(d("history").uniform(ids) * 3 * YEAR).astype(np.int64))
    for c, snomed in static_conditions:
        sel = np.flatnonzero(rf[c])
        log.observation(P[sel], hist_day[sel], code[snomed], obstype=obstype["Diagnosis"], problem=1)

    # ---------------------------------------------------------------- kidney function (a declining state)
    kid = reference.toml("blood_pressure.toml")["kidney"]
    outcomes_cfg = reference.toml("outcomes.toml")
    lab_cfg = outcomes_cfg["labs"]
    ckd_rate = np.maximum(0.3, kid["ckd_decline"] + kid["ckd_decline_sd"] * d("egfr.rate").normal(ids))
    healthy = kid["normal_at_30"] - kid["age_decline"] * (age_entry - 30) + kid["person_sd"] * d("egfr.person").normal(ids)
    has_onset = rf["onset_ckd"] < 900
    # crosses 60 at the onset age; before the record starts, decline is taken at the slow CKD rate
    on_track = 60 + np.where(rf["onset_ckd"] > age_entry, ckd_rate, 0.7 * ckd_rate) * (rf["onset_ckd"] - age_entry)
    healthy = np.maximum(healthy, kid["healthy_floor"])
    egfr = np.where(has_onset, np.minimum(np.maximum(on_track, 6.0), healthy), healthy)
    ckd_stage_coded = np.zeros(n, dtype=np.int64)

    # ---------------------------------------------------------------- state
    smoking = rf["smoking"].copy()
    quit_day = np.where(smoking >= 2, ent + np.round(d("quit").exponential(ids, YEAR / reference.toml("risk_factors.toml")["nodes"]["smoking"]["quit_per_year"])), np.iinfo(np.int64).max // 4).astype(np.int64)
    bmi_drift = reference.toml("risk_factors.toml")["nodes"]["bmi"]["drift_per_year"]
    (plo, phi), (flo, fhi) = care.adherence_partial, care.adherence_full
    adherence = np.where(d("nonadherent").uniform(ids) < care.nonadherent_share,
                         plo + (phi - plo) * d("adherence.low").uniform(ids), flo + (fhi - flo) * d("adherence.high").uniform(ids))
    interval = np.where(d("repeat56").uniform(ids) < care.repeat_56_day_share, 56, 28)
    k_person = lab_cfg["potassium_mean"] + lab_cfg["potassium_person_sd"] * d("potassium").normal(ids)
    hc_phase = d("hc_phase").integers(ids, 60)

    NEVER = np.iinfo(np.int64).max // 4
    dx = np.zeros(n, dtype=bool)
    dx_day = np.full(n, dates.NONE, dtype=np.int64)
    prior = np.zeros(n, dtype=bool)
    stage_ = np.zeros(n, dtype=np.int64)
    drug = np.full((n, 4), -1, dtype=np.int64)  # per slot: medicine index or -1
    level = np.zeros((n, 4), dtype=np.int64)
    course = np.full((n, 4), -1, dtype=np.int64)
    n_courses = 0
    stopped = np.zeros(n, dtype=bool)
    stop_day = np.full(n, dates.NONE, dtype=np.int64)
    declined = np.zeros(n, dtype=bool)
    referred = np.zeros(n, dtype=bool)
    cough_pending = np.zeros(n, dtype=bool)
    oedema_pending = np.zeros(n, dtype=bool)
    next_review = np.full(n, NEVER, dtype=np.int64)
    next_issue = np.full(n, NEVER, dtype=np.int64)
    last_bp = ent - np.round(d("last_bp").uniform(ids) * 6 * YEAR).astype(np.int64)
    last_raised = np.full(n, -NEVER, dtype=np.int64)
    problem_key = np.full(n, -1, dtype=np.int64)
    recent_sbp = np.full((n, 3), np.nan)
    event_day = {e: np.full(n, -1, dtype=np.int64) for e in ("stroke", "mi", "heart_failure")}
    onset_htn = np.full(n, dates.NONE, dtype=np.int64)
    post_event_check = np.full(n, NEVER, dtype=np.int64)
    decisions: dict[str, list] = {k: [] for k in ("pat", "day", "decision", "drug", "rule")}
    outcomes: dict[str, list] = {k: [] for k in ("pat", "day", "event", "fatal", "sbp")}
    years = np.arange(dates.year_of(np.array([study_start]))[0], dates.year_of(np.array([end]))[0] + 1)
    acc = np.zeros((n, len(years), 5))

    def decide(pos, day, what, drug_name, rule):
        if len(pos):
            decisions["pat"].append(P[pos]); decisions["day"].append(np.broadcast_to(day, len(pos)).copy())
            decisions["decision"].append(np.full(len(pos), what, dtype=object))
            decisions["drug"].append(np.broadcast_to(np.asarray(drug_name, dtype=object), len(pos)).copy())
            decisions["rule"].append(np.full(len(pos), rule, dtype=object))

    def set_drug(pos, slot, med_idx, lvl, day):
        nonlocal n_courses
        s = SLOTS.index(slot)
        drug[pos, s] = med_idx
        level[pos, s] = lvl
        course[pos, s] = np.arange(n_courses, n_courses + len(pos))
        n_courses += len(pos)
        next_issue[pos] = day  # issue the new drug now, and bring the repeats into step with it

    def stop_slot(pos, slot):
        s = SLOTS.index(slot)
        drug[pos, s] = -1
        level[pos, s] = 0
        course[pos, s] = -1

    def units(pos):
        u = np.zeros(len(pos))
        for s in range(4):
            on = drug[pos, s] >= 0
            u[on] += meds.units[drug[pos[on], s], level[pos[on], s]]
        return u

    def young_ramp(age):
        """Opportunistic checking rises from `bp_check_young_factor` at 18 to full at the overdue age."""
        f = np.clip((age - 18) / (care.bp_check_overdue_from_age - 18), 0, 1)
        return care.bp_check_young_factor + (1 - care.bp_check_young_factor) * f

    def usual_at(pos, day):
        age = (day - dob[pos]) / YEAR
        years_on = np.minimum(np.maximum((day - ent[pos]) / YEAR, 0), np.maximum(65 - age_entry[pos], 0))
        bmi_now = rf["bmi"][pos] + bmi_drift * years_on
        t2 = onset_day["type2"][pos] <= day
        ck = onset_day["ckd"][pos] <= day
        s, dd = bp.usual(_sub(bpp, pos), age, male[pos], bmi_now, black[pos], south_asian[pos], imd[pos], t2, ck)
        return s, dd, age, bmi_now

    def treated_bp(pos, s, dd):
        on = ~stopped[pos]
        ls, ld = bp.drug_lowering(s, units(pos) * on, np.zeros(len(pos)), bpp.response[pos], adherence[pos])
        return bp.bound(s - ls, dd - ld)

    def record_bp(pos, day, sbp, dbp, cons):
        log.blood_pressure(P[pos], day, sbp, dbp, cons, (code[163030003], code[163031004]), unit_id["mmHg"], obstype["Value"])
        last_bp[pos] = day
        recent_sbp[pos] = np.roll(recent_sbp[pos], 1, axis=1)
        recent_sbp[pos, 0] = sbp

    def measure(pos, day, cons, step):
        """A clinic BP at a visit (NG136 1.2.2, lower of two if raised), recorded. Returns the
        recorded (sbp, dbp) and the usual untreated (sbp, dbp) behind them."""
        us, ud, _, _ = usual_at(pos, day)
        ts, td = treated_bp(pos, us, ud)
        rs, rd, _ = bp.clinic_reading(seed, ids[pos], step, ts, td, bpp.white_coat_sbp[pos], bpp.white_coat_dbp[pos])
        record_bp(pos, day, rs, rd, cons)
        return rs, rd, us, ud

    def labs(pos, day, full):
        """U&E (and, if `full`, HbA1c, lipids and urine ACR): plausible, mutually consistent values."""
        if not len(pos):
            return
        i = ids[pos]
        day = np.broadcast_to(day, len(pos))
        step = day  # the draw counter: one visit a day at most
        ck = onset_day["ckd"][pos] <= day
        egfr_v = np.clip(egfr[pos] + kid["visit_sd"] * d("egfr.visit").normal(i, step), 4, 140)
        # stage 4 and 5 are coded when a result first shows them
        for stage_no, limit, snomed in ((4, 30, 431857002), (5, 15, 433146000)):
            new = (egfr_v < limit) & (ckd_stage_coded[pos] < stage_no)
            if new.any():
                log.observation(P[pos[new]], day[new], code[snomed], obstype=obstype["Diagnosis"], problem=1)
                ckd_stage_coded[pos[new]] = stage_no
        egfr_ = egfr_v
        creat = 80 * (egfr_ / 90) ** -1.15 * np.where(male[pos], 1.15, 0.9)
        on_a = drug[pos, 0] >= 0
        spiro = drug[pos, 3] == meds.index["spironolactone"]
        on_d = drug[pos, 2] >= 0
        k = (k_person[pos] + lab_cfg["potassium_on_acei_arb"] * on_a + lab_cfg["potassium_on_spironolactone"] * spiro
             + lab_cfg["potassium_on_thiazide"] * on_d + lab_cfg["potassium_with_ckd"] * ck
             + lab_cfg["potassium_visit_sd"] * d("k.visit").normal(i, step))
        na = lab_cfg["sodium_mean"] + lab_cfg["sodium_on_thiazide"] * on_d + lab_cfg["sodium_sd"] * d("na").normal(i, step)
        day_in = day + d("lab.delay").integers(i, 3, step)
        lab = dict(cons=None, obstype=obstype["Investigation"], enter_delay=day_in - day)
        log.observation(P[pos], day, code[1011481000000105], value=np.round(egfr_), unit=unit_id["mL/min/1.73m2"], low=90.0, **lab)
        log.observation(P[pos], day, code[1000731000000107], value=np.round(creat), unit=unit_id["umol/L"], low=45.0, high=104.0, **lab)
        k = np.round(np.clip(k, 2.5, 7.5), 1)  # decisions use the value the record shows
        log.observation(P[pos], day, code[1000651000000109], value=k, unit=unit_id["mmol/L"], low=3.5, high=5.3, **lab)
        log.observation(P[pos], day, code[1000661000000107], value=np.round(np.clip(na, 120, 155)), unit=unit_id["mmol/L"], low=133.0, high=146.0, **lab)
        if full:
            t2 = onset_day["type2"][pos] <= day
            hba1c = np.where(t2, lab_cfg["hba1c_diabetes_mean"] + lab_cfg["hba1c_diabetes_sd"] * d("hba1c.dm").normal(i, step),
                             lab_cfg["hba1c_normal_mean"] + lab_cfg["hba1c_normal_sd"] * d("hba1c").normal(i, step))
            hba1c = np.where(t2, np.maximum(hba1c, 48), np.minimum(hba1c, 47))
            tc = np.clip(rf["total_cholesterol"][pos] + lab_cfg["cholesterol_visit_sd"] * d("tc").normal(i, step), 2.5, 11)
            hdl = np.clip(rf["hdl"][pos] + lab_cfg["hdl_visit_sd"] * d("hdl").normal(i, step), 0.5, 3.5)
            acr = np.exp(np.log(lab_cfg["acr_median"]) + lab_cfg["acr_log_sd"] * d("acr").normal(i)
                         + lab_cfg["acr_log_diabetes"] * t2 + lab_cfg["acr_log_ckd"] * ck)
            log.observation(P[pos], day, code[999791000000106], value=np.round(hba1c), unit=unit_id["mmol/mol"], low=20.0, high=41.0, **lab)
            log.observation(P[pos], day, code[1005671000000105], value=np.round(tc, 1), unit=unit_id["mmol/L"], high=5.0, **lab)
            log.observation(P[pos], day, code[1005681000000107], value=np.round(hdl, 1), unit=unit_id["mmol/L"], low=1.0, **lab)
            log.observation(P[pos], day, code[1023491000000104], value=np.round(acr, 1), unit=unit_id["mg/mmol"], high=3.0, **lab)
            return {"egfr": egfr_, "k": k, "tc": tc, "hdl": hdl, "acr": acr}
        return {"egfr": egfr_, "k": k}

    def record_lifestyle(pos, day, bmi_now):
        log.observation(P[pos], day, code[60621009], value=np.round(bmi_now, 1), unit=unit_id["kg/m2"], obstype=obstype["Value"])
        smoke_codes = np.array([code[c] for c in (266919005, 8517006, 160603005, 160604004, 56771006)])
        log.observation(P[pos], day, smoke_codes[smoking[pos]], obstype=obstype["Observation"])

    def qrisk(pos, day, sbp, lab, bmi_now):
        """QRISK3 as the practice computes it, from what the record holds (NG136 1.3.2)."""
        day = np.broadcast_to(day, len(pos))
        age = (day - dob[pos]) / YEAR
        ok = (age >= 25) & (age <= 84)
        pos, day, sbp, bmi_now = pos[ok], day[ok], sbp[ok], bmi_now[ok]
        if not len(pos):
            return np.zeros(0), ok
        sd_sbp = np.nan_to_num(np.nanstd(recent_sbp[pos], axis=1), nan=0.0)
        known = {c: known_day[c][pos] <= day for c in ("type2", "ckd", "af")}
        flags = {"af": known["af"], "renal": known["ckd"], "type2": known["type2"],
                 "treated_hypertension": (drug[pos] >= 0).any(axis=1)}
        for c in ("type1", "ra", "sle", "migraine", "semi", "atypical_antipsychotic", "corticosteroids", "impotence", "fh_cvd"):
            flags[c] = rf[c][pos]
        ratio = (lab["tc"] / lab["hdl"])[ok]
        inp = qrisk3.Inputs(male=male[pos], age=age[ok], ethnicity=qrisk_eth_recorded[pos], smoking=smoking[pos],
                            bmi=np.clip(bmi_now, 20, 40), chol_ratio=np.clip(ratio, 1, 11), sbp=sbp, sbp_sd=sd_sbp,
                            townsend=people.townsend[P[pos]], flags=flags)
        score = qrisk3.score(inp)
        log.observation(P[pos], day, code[1085871000000105], value=np.round(score, 1), unit=unit_id["%"],
                        obstype=obstype["Value"])
        return score, ok

    def start_first_line(pos, day):
        age = (day - dob[pos]) / YEAR
        hf = event_day["heart_failure"][pos] >= 0
        cls = ng136.first_line(age, black[pos], known_day["type2"][pos] <= day, hf)
        for c in ("A", "C", "D"):
            sel = pos[cls == c]
            dsel = day[cls == c] if np.ndim(day) else day
            _add_class(sel, c, dsel, "1.4.32-1.4.37 first line")

    def _add_class(pos, cls, day, rule):
        if not len(pos):
            return
        if cls == "A":
            arb = ng136.prefer_arb(black[pos])
            for use_arb, name in ((False, "ramipril"), (True, "losartan")):
                s = pos[arb == use_arb]
                if not len(s):
                    continue
                sd = day[arb == use_arb] if np.ndim(day) else day
                spec = meds.spec[name]
                lvl = np.full(len(s), spec["start_level"])
                if name == "losartan":
                    lvl = np.where((sd - dob[s]) / YEAR > 75, spec["start_level_over75"], lvl)
                else:
                    lvl = np.where(drug[s, 2] >= 0, spec["start_level_with_diuretic"], lvl)
                    cough = d("cough").uniform(ids[s], np.broadcast_to(sd, len(s))) < care.acei_cough
                    cough_pending[s] |= cough
                set_drug(s, "A", meds.index[name], lvl, sd)
                decide(s, sd, "start" if rule.startswith("1.4.32") else "add", name, rule)
                labs(s, sd + 7 + d("monitor").integers(ids[s], 8, np.broadcast_to(sd, len(s))), False)
        elif cls == "C":
            set_drug(pos, "C", meds.index["amlodipine"], np.zeros(len(pos), dtype=np.int64), day)
            oed = d("oedema").uniform(ids[pos], np.broadcast_to(day, len(pos))) < meds.spec["amlodipine"]["oedema_by_level"][0]
            oedema_pending[pos] |= oed
            decide(pos, day, "start" if rule.startswith("1.4.32") else "add", "amlodipine", rule)
        elif cls == "D":
            set_drug(pos, "D", meds.index["indapamide"], np.zeros(len(pos), dtype=np.int64), day)
            decide(pos, day, "start" if rule.startswith("1.4.32") else "add", "indapamide", rule)
            labs(pos, day + 7 + d("monitor.d").integers(ids[pos], 8, np.broadcast_to(day, len(pos))), False)

    def diagnose(pos, day, clinic_s, clinic_d, oc_s, oc_d, step):
        """NG136 1.2.8 onwards: code the stage, tests (1.3.3), QRISK3 (1.3.2), whom to treat (1.4.9-1.4.13)."""
        if not len(pos):
            return
        st = ng136.stage(clinic_s, clinic_d, oc_s, oc_d)
        st = np.where(st == ng136.NONE, ng136.STAGE1, st)
        dx[pos], dx_day[pos], stage_[pos] = True, day, st
        cons = log.consultation(P[pos], day, staff("gp", pos, "dx", step), source["Face to face consultation"])
        lab_day = day - 3 - d("tod.delay").integers(ids[pos], 5, step)
        lab_day = np.maximum(lab_day, ent[pos])
        lab = labs(pos, lab_day, True)
        log.observation(P[pos], lab_day, code[268400002], obstype=obstype["Investigation"])
        log.observation(P[pos], day, code[314971001], cons=cons, obstype=obstype["Investigation"])
        tod = (lab["egfr"] < 60) | (lab["acr"] >= 3)
        dx_code = np.select([st == ng136.SEVERE, st == ng136.STAGE2, tod], [code[843841000000109], code[846371000000103], code[908651000000101]], code[908631000000108])
        problem_key[pos] = log.observation(P[pos], day, dx_code, cons=cons, obstype=obstype["Diagnosis"], problem=1)
        s_now, d_now, age, bmi_now = usual_at(pos, day)
        record_lifestyle(pos, day, bmi_now)
        score = np.zeros(len(pos))
        sc_, ok = qrisk(pos, day, clinic_s, lab, bmi_now)
        score[ok] = sc_
        cvd = (event_day["stroke"][pos] >= 0) | (event_day["mi"][pos] >= 0)
        offer, consider = ng136.offer_treatment(st, age, tod, cvd, known_day["ckd"][pos] <= day, known_day["type2"][pos] <= day, score)
        consider |= ng136.offer_treatment_over80(st, age, clinic_s, clinic_d)
        u = d("treat").uniform(ids[pos], step)
        treat = (offer | (consider & (u < care.consider_uptake)))
        declines = treat & (d("decline").uniform(ids[pos], step) < care.decline_treatment)
        start_now = treat & ~declines
        declined[pos[declines]] = True
        decide(pos[declines], day[declines], "declined", None, "decline_treatment")
        decide(pos[~treat], day[~treat], "lifestyle", None, "1.4.12/1.4.13 not offered")
        start_first_line(pos[start_now], day[start_now])
        next_review[pos] = np.where(start_now, day + fu["step_up_days"], day + fu["annual_review_days"])
        young = pos[(age < 40) & (d("young.ref").uniform(ids[pos], step) < care.refer_under40)]
        refer(young, dx_day[young], 1, "1.4.14 under 40: secondary causes")

    def refer(pos, day, urgency, rule):
        if len(pos):
            log.observation(P[pos], day, code[183856001], obstype=obstype["Referral"], referral=urgency)
            decide(pos, day, "refer", None, rule)

    def _step4(pos, day, k_now, step):
        if not len(pos):
            return
        which = ng136.step4_drug(k_now)
        sp = pos[which == "spironolactone"]
        set_drug(sp, "S", meds.index["spironolactone"], np.zeros(len(sp), dtype=np.int64), day[which == "spironolactone"] if np.ndim(day) else day)
        decide(sp, day[which == "spironolactone"] if np.ndim(day) else day, "add", "spironolactone", "1.4.48 K+ <= 4.5")
        ab = pos[which != "spironolactone"]
        pick = np.where(d("alpha_beta").uniform(ids[ab], step) < care.step4_alpha_share, "doxazosin", "bisoprolol")
        for nm in ("doxazosin", "bisoprolol"):
            s = ab[pick == nm]
            sd = day[which != "spironolactone"][pick == nm] if np.ndim(day) else day
            set_drug(s, "S", meds.index[nm], np.zeros(len(s), dtype=np.int64), sd)
            decide(s, sd, "add", nm, "1.4.49 K+ > 4.5")

    # ---------------------------------------------------------------- history at entry
    s0, d0, _, bmi0 = usual_at(np.arange(n), ent)
    htn0 = (s0 >= th["clinic_sbp"]) | (d0 >= th["clinic_dbp"])
    onset_htn[htn0] = ent[htn0]
    p_prior = care.prior_diagnosis * np.clip((age_entry - 20) / 45, 0.0, 1.0)
    pri = np.flatnonzero(htn0 & (d("prior").uniform(ids) < p_prior))
    if len(pri):
        pday = np.maximum(first_allowed[P[pri]], ent[pri] - np.round(d("prior.day").exponential(ids[pri], 5 * YEAR)).astype(np.int64))
        st = np.where((s0[pri] >= th["stage2_clinic_sbp"]) | (d0[pri] >= th["stage2_clinic_dbp"]), ng136.STAGE2, ng136.STAGE1)
        dx[pri], dx_day[pri], stage_[pri], prior[pri] = True, pday, st, True
        problem_key[pri] = log.observation(P[pri], pday, np.where(st == ng136.STAGE2, code[846371000000103], code[908631000000108]),
                                           obstype=obstype["Diagnosis"], problem=1)
        treated = pri[d("prior.treated").uniform(ids[pri]) < care.prior_treated]
        if len(treated):
            age_t = (ent[treated] - dob[treated]) / YEAR
            tgt_s, _ = ng136.target(age_t, rf["type1"][treated], np.zeros(len(treated)))
            per_drug = 9.1 * bpp.response[treated] * adherence[treated]
            k_need = np.clip(np.ceil((s0[treated] - tgt_s + 5) / per_drug), 1, 4).astype(np.int64)
            k_need -= (d("prior.inertia").uniform(ids[treated]) < care.inertia) & (k_need > 1)
            start_first_line(treated, ent[treated])
            for step_no in (2, 3, 4):
                more = treated[k_need >= step_no]
                if not len(more):
                    continue
                nxt = ng136.next_class(drug[more, 0] >= 0, drug[more, 1] >= 0, drug[more, 2] >= 0, black[more], known_day["type2"][more] <= ent[more])
                for c in ("A", "C", "D"):
                    _add_class(more[nxt == c], c, ent[more[nxt == c]], "1.4.41-1.4.45 step up")
                s4 = more[nxt == "4"]
                if len(s4):
                    # the potassium that chose step 4 predates the issues carried over from before the record
                    k_day = np.maximum(ent[s4] - 3 * interval[s4] - 7, first_allowed[P[s4]])
                    _step4(s4, ent[s4], labs(s4, k_day, False)["k"], 0)
            cough_pending[treated] = False  # a tolerated regimen is what carries over
            oedema_pending[treated] = False
            # the regimen was being issued before the record starts: the last three repeats are on it
            for k in (3, 2, 1):
                hday = ent[treated] - k * interval[treated]
                ok_h = hday >= first_allowed[P[treated]]
                for slot in range(4):
                    has = treated[ok_h & (drug[treated, slot] >= 0)]
                    hd = (ent[has] - k * interval[has])
                    mi, lv = drug[has, slot], level[has, slot]
                    log.issue(P[has], hd, staff("gp", has, "rx.hist", k), meds.prod[mi, lv], interval[has].astype(np.float64),
                              np.where(meds.capsule[mi], 2, 1), interval[has],
                              np.round(meds.cost[mi, lv] * interval[has] / 28 / 100, 2), course[has, slot],
                              np.where(meds.capsule[mi], "OD1C", "OD1"))
        next_review[pri] = ent[pri] + d("prior.review").integers(ids[pri], 365)
    # risk factors known at entry are on the record as history, and so is the last BP check
    record_lifestyle(np.arange(n), hist_day, bmi0)
    hist = np.flatnonzero((last_bp >= first_allowed[P]) & (last_bp >= dob + np.round(18 * YEAR).astype(np.int64)) & (last_bp < ent))
    if len(hist):
        measure(hist, last_bp[hist], np.full(len(hist), -1), -1)

    # regular medicines behind QRISK3 inputs: 28-day repeats for as long as the person is here
    other_meds = [(c, meds.index[name]) for c, name in (("atypical_antipsychotic", "olanzapine"), ("corticosteroids", "prednisolone"))]
    other_course = np.arange(n) + 10_000_000  # one course per person and medicine (offset by medicine below)
    # issued for a year before the record starts too (from registration at the earliest)
    next_other = np.where(rf["atypical_antipsychotic"] | rf["corticosteroids"], ent, NEVER)
    for k in range(13, 0, -1):
        hday = ent - 28 * k
        for j, (flag, mi) in enumerate(other_meds):
            has = np.flatnonzero(rf[flag] & (hday >= first_allowed[P]))
            log.issue(P[has], hday[has], staff("gp", has, "rx.other.hist", k), np.full(len(has), meds.prod[mi, 0]),
                      np.full(len(has), 28.0), 1, np.full(len(has), 28), np.full(len(has), round(meds.cost[mi, 0] / 100, 2)),
                      other_course[has] + j * 20_000_000, "OD1")

    # ---------------------------------------------------------------- month by month
    n_months = int(np.ceil((end - start + 1) / MONTH))
    for m in range(n_months):
        day0 = start + int(round(m * MONTH))
        day1 = min(start + int(round((m + 1) * MONTH)), end + 1)
        act = np.flatnonzero((ent < day1) & (lst >= day0))
        if not len(act):
            continue
        vday = np.clip(day0 + d("vday").integers(ids[act], day1 - day0, m), ent[act], lst[act])
        s_u, d_u, age, bmi_now = usual_at(act, vday)
        s_t, d_t = treated_bp(act, s_u, d_u)
        htn_now = (s_u >= th["clinic_sbp"]) | (d_u >= th["clinic_dbp"])
        new_onset = htn_now & (onset_htn[act] == dates.NONE)
        onset_htn[act[new_onset]] = vday[new_onset]
        if day0 >= study_start:  # the truth tables cover the study period
            yi = int(np.searchsorted(years, dates.year_of(np.array([day0]))[0]))
            acc[act, yi] += np.stack([s_u, d_u, s_t, d_t, np.ones(len(act))], axis=1)
        smoking[act[(smoking[act] >= 2) & (quit_day[act] <= vday)]] = 1

        # kidney function declines; CKD starts when it falls below 60
        diseased = has_onset[act] & (egfr[act] < kid["progression_below"])
        decline = np.where(has_onset[act] | (egfr[act] > kid["healthy_floor"]), kid["age_decline"], 0.0) + diseased * (
                                                   ckd_rate[act] - kid["age_decline"]
                                                   + kid["bp_decline_per_10"] * np.maximum(s_t - kid["bp_threshold"], 0) / 10
                                                   + kid["diabetes_decline"] * (onset_day["type2"][act] <= vday))
        egfr[act] = np.maximum(egfr[act] - decline / 12, 4.0)
        crossed = act[(egfr[act] < 60) & (onset_day["ckd"][act] > vday)]
        onset_day["ckd"][crossed] = vday[np.isin(act, crossed)]
        known_day["ckd"][crossed] = np.minimum(known_day["ckd"][crossed], vday[np.isin(act, crossed)] + np.round(
            d("dxdelay.ckd.new").exponential(ids[crossed], care.condition_diagnosis_delay_years * YEAR, m)).astype(np.int64))

        # stopping treatment (unseen by the practice until a review)
        on_rx = act[(drug[act] >= 0).any(axis=1) & ~stopped[act]]
        stop = on_rx[d("stop").uniform(ids[on_rx], m) < care.stop_per_year / 12]
        stopped[stop] = True
        stop_day[stop] = day0

        # conditions diagnosed this month (diabetes, CKD, AF) are coded
        for c, snomed in (("type2", 44054006), ("ckd", 433144002), ("af", 49436004)):
            kd = known_day[c][act]
            now = (kd >= np.maximum(day0, ent[act])) & (kd < day1)
            log.observation(P[act[now]], kd[now], code[snomed], obstype=obstype["Diagnosis"], problem=1)

        # consultations
        rate = _rate_by_age(age, care.consultation_rate_young, care.consultation_rate_old)
        rate = np.where(male[act], rate * 2 / (1 + care.female_consultation_ratio), rate * 2 * care.female_consultation_ratio / (1 + care.female_consultation_ratio))
        consults = d("consult").uniform(ids[act], m) < 1 - np.exp(-rate / 12)
        cpos = act[consults]
        cday = vday[consults]
        phone = d("phone").uniform(ids[cpos], m) < care.telephone_share
        ckeys = log.consultation(P[cpos], cday, staff("gp", cpos, "consult", m),
                                 np.where(phone, source["Telephone consultation"], source["Face to face consultation"]))

        # BP checks in people not diagnosed
        ndx = ~dx[cpos] & ~phone
        since = cday - last_bp[cpos]
        c_age = age[consults]
        older = c_age >= care.bp_check_overdue_from_age
        p_check = np.where(older & (since >= 5 * YEAR), care.bp_check_if_overdue,
                           np.where(cday - last_raised[cpos] <= YEAR, care.recheck_after_raised,
                                    care.bp_check_opportunistic * young_ramp(c_age)))
        known_t2 = known_day["type2"][cpos] <= cday
        p_check = np.where(known_t2 & (since >= 300), care.diabetes_review_bp, p_check)
        check = ndx & (d("check").uniform(ids[cpos], m) < p_check)
        chk_pos, chk_day, chk_cons = cpos[check], cday[check], ckeys[check]

        # known hypertensives: BP re-checked at some consultations
        kn = dx[cpos] & ~phone & (d("check.dx").uniform(ids[cpos], m) < care.bp_check_diagnosed)
        if kn.any():
            measure(cpos[kn], cday[kn], ckeys[kn], 7 * m + 4)

        # NHS Health Checks (every five years, 40-74, no known condition)
        elig = act[(age >= 40) & (age < 75) & ~dx[act] & (known_day["type2"][act] > vday) & (known_day["ckd"][act] > vday)
                   & (known_day["af"][act] > vday) & ((m - hc_phase[act]) % 60 == 0)]
        hc_day = np.clip(day0 + d("hc.day").integers(ids[elig], day1 - day0, m), ent[elig], lst[elig])
        go = d("hc.uptake").uniform(ids[elig], m) < care.health_check_uptake
        hc, hc_day = elig[go], hc_day[go]
        hc_cons = log.consultation(P[hc], hc_day, staff("nurse", hc, "hc", m), source["Clinic"])
        log.observation(P[hc], hc_day, code[523221000000100], cons=hc_cons, obstype=obstype["Observation"])
        _, _, _, hbmi = usual_at(hc, hc_day)
        record_lifestyle(hc, hc_day, hbmi)
        hc_lab = labs(hc, hc_day, True)
        hcs, hcd, _, _ = measure(hc, hc_day, hc_cons, 7 * m + 1)
        if len(hc):
            qrisk(hc, hc_day, hcs, hc_lab, hbmi)
        # readings at consultations
        rs, rd, _, _ = measure(chk_pos, chk_day, chk_cons, 7 * m)
        # after a cardiovascular event, someone not known to be hypertensive has their BP checked
        pe = act[(post_event_check[act] >= day0) & (post_event_check[act] < day1) & ~dx[act]]
        pe_day = np.clip(post_event_check[pe], ent[pe], lst[pe])
        post_event_check[pe] = NEVER
        pe_cons = log.consultation(P[pe], pe_day, staff("gp", pe, "post_event", m), source["Face to face consultation"])
        pes, ped, _, _ = measure(pe, pe_day, pe_cons, 7 * m + 5)
        r_pos = np.concatenate([chk_pos, hc, pe])
        r_day = np.concatenate([chk_day, hc_day, pe_day])
        r_s, r_d = np.concatenate([rs, hcs, pes]), np.concatenate([rd, hcd, ped])
        keep = ~dx[r_pos]
        r_pos, r_day, r_s, r_d = r_pos[keep], r_day[keep], r_s[keep], r_d[keep]
        _, first = np.unique(r_pos, return_index=True)
        r_pos, r_day, r_s, r_d = r_pos[first], r_day[first], r_s[first], r_d[first]

        # severe: repeat within 7 days (1.5.3); raised: ABPM or HBPM (1.2.3)
        severe = ng136.clinic_severe(r_s, r_d)
        sv, sv_day = r_pos[severe], r_day[severe] + 1 + d("severe.repeat").integers(ids[r_pos[severe]], 7, m)
        sv_cons = log.consultation(P[sv], sv_day, staff("nurse", sv, "severe", m), source["Clinic"])
        s2r, d2r, s2, d2 = measure(sv, sv_day, sv_cons, 7 * m + 2)
        still = ng136.clinic_severe(s2r, d2r)
        accelerated = still & (s2 >= th["accelerated_sbp"])
        refer(sv[accelerated], sv_day[accelerated], 3, "1.5.1 accelerated hypertension: same-day referral")
        diagnose(sv[still], sv_day[still], s2r[still], d2r[still], s2[still] + 0.0, d2[still] + 0.0, m)
        raised = np.concatenate([r_pos[~severe & ng136.clinic_raised(r_s, r_d)], sv[~still & ng136.clinic_raised(s2r, d2r)]])
        raised_day = np.concatenate([r_day[~severe & ng136.clinic_raised(r_s, r_d)], sv_day[~still & ng136.clinic_raised(s2r, d2r)]])
        raised_s = np.concatenate([r_s[~severe & ng136.clinic_raised(r_s, r_d)], s2r[~still & ng136.clinic_raised(s2r, d2r)]])
        raised_d = np.concatenate([r_d[~severe & ng136.clinic_raised(r_s, r_d)], d2r[~still & ng136.clinic_raised(s2r, d2r)]])
        last_raised[raised] = raised_day
        done = d("oc.done").uniform(ids[raised], m) < care.out_of_clinic_done
        oc, oc_day = raised[done], raised_day[done] + 7 + d("oc.day").integers(ids[raised[done]], 15, m)
        home = d("oc.home").uniform(ids[oc], m) < care.hbpm_share
        us, ud, _, _ = usual_at(oc, oc_day)
        ts, td = treated_bp(oc, us, ud)
        os_, od = bp.out_of_clinic(seed, ids[oc], m, ts, td, home)
        for is_home, (cs, cd) in ((False, (314446007, 314461008)), (True, (413606001, 413605002))):
            sel = home == is_home
            log.blood_pressure(P[oc[sel]], oc_day[sel], os_[sel], od[sel], np.full(int(sel.sum()), -1),
                               (code[cs], code[cd]), unit_id["mmHg"], obstype["Value"])
        conf = ng136.confirmed(os_, od)
        diagnose(oc[conf], oc_day[conf] + d("dx.delay").integers(ids[oc[conf]], 7, m), raised_s[done][conf], raised_d[done][conf], os_[conf], od[conf], m)

        # reviews of people diagnosed
        due = act[dx[act] & (next_review[act] < day1)]
        if len(due):
            rday = np.clip(np.maximum(next_review[due], day0), ent[due], lst[due])
            dna = d("dna").uniform(ids[due], m) < care.did_not_attend
            log.observation(P[due[dna]], rday[dna], code["did_not_attend"], obstype=obstype["Observation"])
            next_review[due[dna]] = rday[dna] + fu["missed_review_rebook_days"]
            rv, rv_day = due[~dna], rday[~dna]
            rv_cons = log.consultation(P[rv], rv_day, staff("gp", rv, "review", m), source["Face to face consultation"])
            _, _, rage, rbmi = usual_at(rv, rv_day)
            vs, vd, _, _ = measure(rv, rv_day, rv_cons, 7 * m + 3)
            annual = rv_day - np.maximum(dx_day[rv], ent[rv]) >= 300
            log.observation(P[rv[annual]], rv_day[annual], code["hypertension_annual_review"], cons=rv_cons[annual], obstype=obstype["Observation"])
            record_lifestyle(rv[annual], rv_day[annual], rbmi[annual])
            labs(rv[annual], rv_day[annual], False)
            tgt_s, tgt_d = ng136.target(rage, rf["type1"][rv], np.zeros(len(rv)))
            ok = ng136.controlled(vs, vd, tgt_s, tgt_d)
            on_any = (drug[rv] >= 0).any(axis=1)
            # side effects first (1.4.34, 1.4.37)
            cough = cough_pending[rv] & (drug[rv, 0] == meds.index["ramipril"])
            cg, cg_day = rv[cough], rv_day[cough]
            if len(cg):
                log.observation(P[cg], cg_day, code[49727002], cons=rv_cons[cough], obstype=obstype["Symptom"])
                lv = np.minimum(level[cg, 0], meds.max_level[meds.index["losartan"]])
                set_drug(cg, "A", meds.index["losartan"], np.minimum(lv, 1), cg_day)
                decide(cg, cg_day, "switch", "losartan", "1.4.34 ACEi cough: ARB")
            cough_pending[rv] = False
            oedema = oedema_pending[rv] & (drug[rv, 1] >= 0)
            oe, oday = rv[oedema], rv_day[oedema]
            if len(oe):
                log.observation(P[oe], oday, code[267038008], cons=rv_cons[oedema], obstype=obstype["Symptom"])
                stop_slot(oe, "C")
                no_d = drug[oe, 2] < 0
                _add_class(oe[no_d], "D", oday[no_d], "1.4.36 CCB not tolerated: diuretic")
            oedema_pending[rv] = False
            # a patient who stopped is found out (their BP is back up)
            back = rv[stopped[rv] & ~ok]
            restart = back[d("restart").uniform(ids[back], m) < care.restart_after_stopping]
            stopped[restart] = False
            decide(restart, rv_day[np.isin(rv, restart)], "restart", None, "1.4.40 adherence discussed")
            for s in range(4):
                has = restart[drug[restart, s] >= 0]
                next_issue[has] = np.minimum(next_issue[has], rv_day[np.isin(rv, has)])
            unc = ~ok & ~stopped[rv]
            inert = unc & (d("inertia").uniform(ids[rv], m) < care.inertia)
            decide(rv[inert], rv_day[inert], "no_change", None, "inertia")
            act_on = unc & ~inert
            # untreated: (re)offer
            start_pos = rv[act_on & ~on_any]
            start_pos = start_pos[d("reoffer").uniform(ids[start_pos], m) >= care.decline_treatment]
            start_first_line(start_pos, rv_day[np.isin(rv, start_pos)])
            # treated: titrate the newest drug first (1.4.44), then add (1.4.41-1.4.45), then step 4, then refer
            tr = rv[act_on & on_any]
            tr_day = rv_day[act_on & on_any]
            newest = np.argmax(np.where(drug[tr] >= 0, course[tr], -1), axis=1)
            cur = drug[tr, newest]
            can_titrate = level[tr, newest] < meds.max_level[np.maximum(cur, 0)]
            t_pos = tr[can_titrate]
            t_slot = newest[can_titrate]
            for s in range(4):
                sel = t_pos[t_slot == s]
                sd = tr_day[can_titrate][t_slot == s]
                if len(sel):
                    level[sel, s] += 1
                    course[sel, s] = np.arange(n_courses, n_courses + len(sel))
                    n_courses += len(sel)
                    next_issue[sel] = sd
                    nm = np.asarray(meds.names, dtype=object)[drug[sel, s]]
                    decide(sel, sd, "titrate", nm, "1.4.44 optimal dose before adding")
                    if s == 0:
                        labs(sel, sd + 7 + d("monitor.t").integers(ids[sel], 8, m), False)
            add_pos = tr[~can_titrate]
            add_day = tr_day[~can_titrate]
            nxt = ng136.next_class(drug[add_pos, 0] >= 0, drug[add_pos, 1] >= 0, drug[add_pos, 2] >= 0, black[add_pos],
                                   known_day["type2"][add_pos] <= add_day)
            on_s4 = drug[add_pos, 3] >= 0
            for c in ("A", "C", "D"):
                sel = (nxt == c) & ~on_s4
                _add_class(add_pos[sel], c, add_day[sel], "1.4.41-1.4.45 step up")
            s4 = (nxt == "4") & ~on_s4
            if s4.any():
                k_now = labs(add_pos[s4], add_day[s4], False)["k"]
                _step4(add_pos[s4], add_day[s4], k_now, m)
            ref = add_pos[on_s4 & ~referred[add_pos]]
            referred[ref] = True
            refer(ref, add_day[np.isin(add_pos, ref)], 1, "1.4.52 uncontrolled on four drugs")
            slip = np.round(d("review.slip").exponential(ids[rv], care.review_delay_mean_days, m)).astype(np.int64)
            next_review[rv] = np.where(ok | inert, rv_day + fu["annual_review_days"] + slip, rv_day + fu["step_up_days"])

        # repeat prescriptions
        for _ in range(3):
            iss = act[(next_issue[act] < day1) & ~stopped[act] & (next_issue[act] <= lst[act])]
            if not len(iss):
                break
            iday = np.maximum(next_issue[iss], ent[iss])
            for s in range(4):
                has = drug[iss, s] >= 0
                p_, dd_ = iss[has], iday[has]
                mi, lv = drug[p_, s], level[p_, s]
                qty = interval[p_].astype(np.float64)
                log.issue(P[p_], dd_, staff("gp", p_, "rx", m), meds.prod[mi, lv], qty,
                          np.where(meds.capsule[mi], 2, 1), interval[p_], np.round(meds.cost[mi, lv] * qty / 28 / 100, 2),
                          course[p_, s], np.where(meds.capsule[mi], "OD1C", "OD1"))
            on_any = (drug[iss] >= 0).any(axis=1)
            next_issue[iss] = np.where(on_any, iday + np.round(interval[iss] / np.maximum(adherence[iss], 0.35)).astype(np.int64), NEVER)

        # regular non-antihypertensive medicines
        for _ in range(2):
            oi = act[(next_other[act] < day1) & (next_other[act] <= lst[act])]
            if not len(oi):
                break
            for k, (flag, mi) in enumerate(other_meds):
                has = oi[rf[flag][oi]]
                log.issue(P[has], next_other[has], staff("gp", has, "rx.other", m), np.full(len(has), meds.prod[mi, 0]),
                          np.full(len(has), 28.0), 1, np.full(len(has), 28), np.full(len(has), round(meds.cost[mi, 0] / 100, 2)),
                          other_course[has] + k * 20_000_000, "OD1")
            next_other[oi] += 28

        # cardiovascular events (Lewington: log-linear in usual SBP, shallower in the old)
        ev_cfg = outcomes_cfg["events"]
        slope = np.interp(age, ev_cfg["slope_ages"], np.log(2) / np.asarray(ev_cfg["doubling_mmhg"], dtype=float))
        base = np.exp(ev_cfg["age_per_year"] * (age - ev_cfg["reference_age"])) * np.exp(slope * (s_t - ev_cfg["reference_sbp"]))
        factors = {"type2": onset_day["type2"][act] <= vday, "smoker": smoking[act] >= 2,
                   "af": onset_day["af"][act] <= vday, "male": male[act]}
        for ev in ("stroke", "mi", "heart_failure"):
            spec = ev_cfg[ev]
            extra = sum(w * factors[f] for f, w in spec["extra"].items())
            haz = spec["annual_risk"] * base * (1 + extra) / 12
            hit = (event_day[ev][act] < 0) & (age >= ev_cfg["min_age"]) & (d(f"event.{ev}").uniform(ids[act], m) < haz)
            e_pos, e_day = act[hit], vday[hit]
            fatal_p, snomed = spec["case_fatality"], spec["snomed"]
            event_day[ev][e_pos] = e_day
            # everyone simulated is known to be alive in the study period, so burn-in events are not fatal
            fatal = (d(f"fatal.{ev}").uniform(ids[e_pos], m) < fatal_p) & (e_day >= study_start)
            # the practice follows up the discharge letter: a review within about a month
            follow = e_day + fu["event_follow_up_days"]
            next_review[e_pos[dx[e_pos]]] = np.minimum(next_review[e_pos[dx[e_pos]]], follow[dx[e_pos]])
            post_event_check[e_pos[~dx[e_pos]]] = follow[~dx[e_pos]]
            log.observation(P[e_pos], e_day, code[snomed], obstype=obstype["Diagnosis"], problem=1,
                            enter_delay=14 + d(f"letter.{ev}").integers(ids[e_pos], 21, m))
            for k, v in (("pat", P[e_pos]), ("day", e_day), ("event", np.full(len(e_pos), ev, dtype=object)),
                         ("fatal", fatal.astype(np.int8)), ("sbp", s_t[hit])):
                outcomes[k].append(v)
            dies = e_pos[fatal]
            death_day = np.minimum(e_day[fatal] + d(f"death.{ev}").integers(ids[dies], 30, m), lst[dies])
            lst[dies] = death_day
            people.death[P[dies]] = np.where(people.death[P[dies]] >= 0, np.minimum(people.death[P[dies]], death_day), death_day)
            # deregistration follows death; beyond the end of data collection it is not yet recorded
            dereg = death_day + np.round(d(f"dereg.{ev}").exponential(ids[dies], sc.registration.deregistration_after_death_mean_days)).astype(np.int64)
            people.regend[P[dies]] = np.where(dereg > end, -1, dereg)
            log.last_day[P[dies]] = death_day

    # ---------------------------------------------------------------- truth
    cnt = acc[:, :, 4]
    has = cnt > 0
    pi, yi = np.nonzero(has)
    yearly = acc[pi, yi, :4] / cnt[pi, yi, None]
    s_end, d_end, _, bmi_end = usual_at(np.arange(n), lst)
    return Result(truth={
        "hypertension_truth": {
            "pat": P, "true_hypertension_onset": onset_htn, "hypertensive_at_end": ((s_end >= 140) | (d_end >= 90)).astype(np.int8),
            "diagnosed_date": dx_day, "prior_diagnosis": prior.astype(np.int8), "usual_sbp_entry": np.round(s0, 1),
            "white_coat_sbp": np.round(bpp.white_coat_sbp, 1), "drug_response": np.round(bpp.response, 3),
            "adherence": np.round(adherence, 3), "stopped_treatment_date": stop_day},
        "bp_truth_year": {"pat": P[pi], "year": years[yi], "usual_sbp": np.round(yearly[:, 0], 1), "usual_dbp": np.round(yearly[:, 1], 1),
                          "treated_sbp": np.round(yearly[:, 2], 1), "treated_dbp": np.round(yearly[:, 3], 1),
                          "months": cnt[pi, yi].astype(np.int8)},
        "decision_truth": _columns(decisions, {"day": "date"}),
        "outcome_truth": _columns(outcomes, {"day": "date", "sbp": "treated_sbp"}),
        "risk_factor_truth": {"pat": P, **{k: rf[k] for k in ("bmi", "total_cholesterol", "hdl")}, "bmi_at_end": np.round(bmi_end, 2),
                              "smoking": np.asarray(SMOKING_LEVELS, dtype=object)[rf["smoking"]],
                              **{k: rf[k].astype(np.int8) for k in ("type1", "type2", "af", "ckd", "ra", "sle", "migraine", "semi",
                                                                    "atypical_antipsychotic", "corticosteroids", "impotence", "fh_cvd")},
                              **{f"{k}_onset_age": np.where(rf[f"onset_{k}"] < 900, rf[f"onset_{k}"], np.nan) for k in ("type2", "ckd", "af")}},
        "_problem_key": {"pat": P, "key": problem_key},
    })


def _columns(parts: dict[str, list], rename: dict[str, str]) -> dict[str, np.ndarray]:
    """Emitted rows as columns, in (patient, day, emission) order so blocks cannot change the order."""
    cols = {k: (np.concatenate(v) if v else np.empty(0, dtype=np.int64)) for k, v in parts.items()}
    order = np.lexsort((np.arange(len(cols["pat"])), cols["day"], cols["pat"]))
    return {rename.get(k, k): v[order] for k, v in cols.items()}


def _sub(p: bp.Person, pos: np.ndarray) -> bp.Person:
    return bp.Person(*(getattr(p, f)[pos] for f in ("level_sbp", "level_dbp", "slope_sbp", "white_coat_sbp", "white_coat_dbp", "response")))
