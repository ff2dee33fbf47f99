"""The NHS Health Check: whom it invites, and what a check records."""

import numpy as np

from synthgp.core import codes

from tests.engine.build import day, emitted, get, make_sim, month_at, person, put

ON = day(2018, 10, 16)
LABS = ("ue_panel", "lipid_panel", "hba1c_panel", "sodium", "potassium", "creatinine", "egfr", "cholesterol",
        "hdl_cholesterol", "ldl_cholesterol", "triglycerides", "hba1c", "urine_acr")  # a draw's panel headers, then results

# (age, what else, invited?)
CASES = [
    (39.9, {}, False),
    (40.0, {}, True),
    (74.9, {}, True),
    (75.0, {}, False),
    (50, {"dx": True}, False),  # known hypertension
    (50, {"known_type2": ON - 30}, False),
    (50, {"known_ckd": ON - 30}, False),
    (50, {"known_af": ON - 30}, False),
    (50, {"onset_type2": ON - 300}, True),  # diabetes the practice does not know of
    (50, {"known_type2": ON + 30}, True),  # known only later
    (50, {"hc_phase": "other"}, False),  # not their month of the five years
]


def hc_sim(uptake=1.0):
    sim = make_sim(care={"health_check_uptake": uptake})
    sim.labs.with_ue = {}  # the bloods the check orders, no liver panel or FBC added
    pos = np.arange(len(CASES))
    m = month_at(sim, ON, act=pos)
    for p, (age, extra, _) in zip(pos, CASES):
        person(sim, p, age=age, on=ON)
        put(sim, p, dx=False, hc_phase=m.m % 60, egfr=90.0)
        for k, v in extra.items():
            put(sim, p, **{k: (m.m + 1) % 60 if v == "other" else v})
    return sim, pos, month_at(sim, ON, act=pos)


def test_only_40_to_74_year_olds_without_known_conditions_are_invited_in_their_month():
    sim, pos, m = hc_sim()
    sim.health_check.invite(sim, m)
    invited = emitted(sim, "obs", code="health_check")["pat"]
    assert invited.tolist() == [p for p, c in zip(pos, CASES) if c[2]]


def test_nobody_is_checked_when_nobody_takes_it_up():
    sim, pos, m = hc_sim(uptake=0.0)
    sim.health_check.invite(sim, m)
    assert len(emitted(sim, "obs")["pat"]) == 0 and len(emitted(sim, "cons")["pat"]) == 0
    assert [len(x) for x in m.bp_screens[0]] == [0, 0, 0, 0]


def test_a_check_records_bmi_smoking_bloods_bp_and_qrisk3():
    sim, pos, m = hc_sim()
    sim.health_check.invite(sim, m)
    p = 1
    o = emitted(sim, "obs", pos=p)
    names = {codes.medcode(k): k for k in ("health_check", "bmi", "body_height", "body_weight", "audit_c_score", "alcohol_intake",
                                           *LABS, "bp_systolic", "bp_diastolic", "qrisk3")}
    smoking = {codes.medcode(k) for k in ("never_smoked", "ex_smoker", "light_smoker", "moderate_smoker", "heavy_smoker")}
    got = [names.get(c, "smoking" if c in smoking else c) for c in o["medcode"]]
    alcohol = [g for g in got if g in ("audit_c_score", "alcohol_intake")]  # asked at most checks (prevention.toml)
    assert len(alcohol) <= 1 and [g for g in got if g not in alcohol] == [
        "health_check", "bmi", "smoking", "body_height", "body_weight", *LABS, "bp_systolic", "bp_diastolic", "qrisk3"]
    hc_day = o["day"][0]
    assert m.day0 <= hc_day < m.day1 and (o["day"] == hc_day).all()
    cons = emitted(sim, "cons", pos=p)
    assert len(cons["pat"]) == 1 and cons["source"][0] == sim.record.source("Clinic")
    nurse = sim.contacts.jobs.index("nurse")
    prac = get(sim, "practice")[p]
    first, count = sim.plan.staff_first[prac, nurse], sim.plan.staff_count[prac, nurse]
    assert first <= cons["staff"][0] // 100_000 < first + count  # a nurse of their practice
    key = np.flatnonzero(emitted(sim, "cons")["pat"] == p)[0]
    assert o["cons"][0] == key and (o["cons"][[-3, -2]] == key).all()  # the check and its BP are at the visit
    # the reading goes to the hypertension pathway
    screened, sday, sbp, dbp = m.bp_screens[0]
    i = np.flatnonzero(screened == p)[0]
    assert sday[i] == hc_day and sbp[i] == o["value"][-3] and dbp[i] == o["value"][-2]
    assert get(sim, "last_bp")[p] == hc_day
