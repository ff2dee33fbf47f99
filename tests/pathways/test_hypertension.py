"""Hypertension (NG136): first line, reviews, diagnosis, follow-up of raised readings, history at entry."""

import numpy as np
import pytest

from synthgp.clinical import ng136
from synthgp.core import codes, dates
from synthgp.engine.services.contacts import Consults
from synthgp.engine.services.prescribing import SLOTS
from synthgp.pathways.hypertension import diagnosis, history, treatment

from tests.engine.build import day, emitted, get, make_sim, month_at, person, put, truth

ON = day(2021, 3, 12)  # NG136 (the eras before it: test_eras.py)
NEVER = np.iinfo(np.int64).max // 4
# a practice without chance in it: everyone attends, acts, accepts and is restarted
CARE = {"did_not_attend": 0.0, "inertia": 0.0, "restart_after_stopping": 1.0, "decline_treatment": 0.0,
        "acei_cough": 0.0, "refer_under40": 0.0, "review_delay_mean_days": 0.0, "consider_uptake": 0.0}


def htn_sim(**care):
    sim = make_sim(care={**CARE, **care}, covid={"disruption_scale": 0.0})  # ON is in the pandemic: no postponing
    sim.hypertension.arb_choice = 0.0  # an ACE inhibitor wherever NG136 leaves A to the prescriber (test_arb_choice below)
    return sim


def decisions(sim, pos=None) -> list[tuple]:
    t = truth(sim, "decision_truth")
    pat = np.searchsorted(sim.P, t["pat"])
    keep = np.ones(len(pat), bool) if pos is None else np.isin(pat, np.atleast_1d(pos))
    return [(int(p), d, dr, r) for p, d, dr, r in zip(pat[keep], t["decision"][keep], t["drug"][keep], t["rule"][keep])]


def held(sim, p) -> dict[str, tuple[str, int]]:
    """What `p` holds: slot -> (medicine, dose level)."""
    names = sim.rx.meds.names
    drug, level = get(sim, "rx_drug")[p], get(sim, "rx_level")[p]
    return {SLOTS[k]: (names[drug[k]], int(level[k])) for k in range(4) if drug[k] >= 0}


# ---------------------------------------------------------------- first line (1.4.32-1.4.37)

@pytest.mark.parametrize("age, black, diabetic, hf, slot, drug, level", [
    (45, False, False, False, "A", "ramipril", 1),
    (54, False, False, False, "A", "ramipril", 1),
    (55, False, False, False, "C", "amlodipine", 0),
    (45, True, False, False, "C", "amlodipine", 0),  # Black: a CCB at any age
    (60, True, True, False, "A", "losartan", 1),  # type 2 diabetes: A, an ARB for a Black person
    (80, True, True, False, "A", "losartan", 0),  # over 75: the lower starting dose
    (70, False, True, True, "A", "ramipril", 1),
    (60, False, False, True, "D", "indapamide", 0),  # heart failure: a diuretic instead of a CCB
    (60, False, "unknown", False, "C", "amlodipine", 0),  # diabetes the practice does not know of
])
def test_first_line_by_ng136(age, black, diabetic, hf, slot, drug, level):
    sim = htn_sim()
    p = 7
    person(sim, p, age=age, on=ON, black=black)
    if diabetic:
        put(sim, p, onset_type2=ON - 400, known_type2=NEVER if diabetic == "unknown" else ON - 10)
    if hf:
        put(sim, p, heart_failure_day=ON - 50)
    treatment.start_first_line(sim.hypertension, np.array([p]), ON)
    assert held(sim, p) == {slot: (drug, level)}
    assert decisions(sim) == [(p, "start", drug, treatment.FIRST_LINE)]
    assert get(sim, "rx_next_issue")[p] == ON
    # A and D need urea and electrolytes one to two weeks later (1.4.xx monitoring)
    u_e = emitted(sim, "obs", code="egfr")["day"]
    if slot == "C":
        assert len(u_e) == 0
    else:
        assert len(u_e) == 1 and ON + 7 <= u_e[0] <= ON + 14


def test_first_line_matches_the_rule_for_many_people():
    sim = htn_sim()
    pos = sim.everyone
    rng = np.random.default_rng(3)
    age = rng.uniform(30, 90, sim.n)
    for p, a in zip(pos, age):
        person(sim, p, age=a, on=ON)
    put(sim, pos, black=rng.random(sim.n) < 0.3)
    put(sim, pos, known_type2=np.where(rng.random(sim.n) < 0.3, ON - 5, NEVER),
        heart_failure_day=np.where(rng.random(sim.n) < 0.2, ON - 5, -1))
    treatment.start_first_line(sim.hypertension, pos, ON)
    want = ng136.first_line((ON - get(sim, "dob")) / 365.25, get(sim, "black"), get(sim, "known_type2") <= ON,
                            get(sim, "heart_failure_day") >= 0, ON)
    got = np.array([next(iter(held(sim, p))) for p in pos])
    assert (got == want).all() and len(set(got)) == 3


def test_a_share_of_a_starts_are_an_arb_by_the_prescribers_choice():
    """NG136 1.4.33: 'an ACE inhibitor or an ARB'. The data file's share (about 30% of ACEi + ARB prescribing in
    English primary care) of non-Black people starting A get losartan."""
    from synthgp.core import reference

    share = reference.toml("ng136.toml")["first_line"]["arb_choice_share"]
    sim = make_sim(care=CARE)
    pos = sim.everyone
    for p in pos:
        person(sim, p, age=45, on=ON)
    put(sim, pos, black=False)
    treatment.start_first_line(sim.hypertension, pos, ON)
    arb = np.mean([held(sim, p)["A"][0] == "losartan" for p in pos])
    # binomial SE at n people: sqrt(p(1-p)/n); 4 SE
    assert abs(arb - share) < 4 * np.sqrt(share * (1 - share) / len(pos)) and 0 < arb < 1


def test_an_acei_added_to_a_diuretic_starts_low():
    sim = htn_sim()
    person(sim, 3, age=60, on=ON)
    sim.rx.set_drug(np.array([3]), "D", sim.rx.meds.index["indapamide"], 0, ON - 100)
    treatment.add_class(sim.hypertension, np.array([3]), "A", ON, treatment.STEP_UP)
    assert held(sim, 3) == {"A": ("ramipril", 0), "D": ("indapamide", 0)}
    assert decisions(sim) == [(3, "add", "ramipril", treatment.STEP_UP)]


# ---------------------------------------------------------------- reviews

def for_review(sim, pos, regimen=(), high=True):
    """Diagnosed, a review due on ON, BP far above (or below) target, taking all of `regimen` in order."""
    pos = np.atleast_1d(pos)
    person(sim, pos, age=62, on=ON)
    put(sim, pos, dx=True, dx_day=ON - 100, next_review=ON, bp_level_sbp=100.0 if high else -30.0,
        bp_level_dbp=30.0 if high else -15.0, bp_white_coat_sbp=0.0, bp_white_coat_dbp=0.0, bp_response=1.0,
        adherence=0.5 if high else 1.0, cough_pending=False, oedema_pending=False, black=False)
    for slot, name, level in regimen:
        sim.rx.set_drug(pos, slot, sim.rx.meds.index[name], level, ON - 200)


def review(sim, pos):
    m = month_at(sim, ON, act=np.atleast_1d(pos))
    sim.hypertension.review(sim, m)
    return emitted(sim, "obs", code="bp_systolic")


def test_an_uncontrolled_review_titrates_the_newest_drug_first():
    sim = htn_sim()
    for_review(sim, 0, [("A", "ramipril", 1), ("C", "amlodipine", 0)])
    for_review(sim, 1, [("C", "amlodipine", 0), ("A", "ramipril", 1)])
    bp = review(sim, [0, 1])
    assert (bp["value"] >= 140).all()
    assert held(sim, 0) == {"A": ("ramipril", 1), "C": ("amlodipine", 1)}
    assert held(sim, 1) == {"A": ("ramipril", 2), "C": ("amlodipine", 0)}
    assert decisions(sim) == [(0, "titrate", "amlodipine", "1.4.44 optimal dose before adding"),
                              (1, "titrate", "ramipril", "1.4.44 optimal dose before adding")]
    assert get(sim, "next_review")[[0, 1]].tolist() == [ON + 28, ON + 28]
    assert get(sim, "rx_next_issue")[[0, 1]].tolist() == [ON, ON]


def test_a_newest_drug_at_its_highest_dose_brings_the_next_class():
    sim = htn_sim()
    for_review(sim, 0, [("A", "ramipril", 1), ("C", "amlodipine", 1)])
    for_review(sim, 1, [("C", "amlodipine", 1)])
    review(sim, [0, 1])
    assert held(sim, 0) == {"A": ("ramipril", 1), "C": ("amlodipine", 1), "D": ("indapamide", 0)}
    assert held(sim, 1) == {"A": ("ramipril", 1), "C": ("amlodipine", 1)}  # on C: add A
    assert [d[1:3] for d in decisions(sim)] == [("add", "indapamide"), ("add", "ramipril")]


@pytest.mark.parametrize("potassium, drug", [(3.6, "spironolactone"), (5.4, None)])
def test_step_4_by_potassium(potassium, drug):
    sim = htn_sim()
    for_review(sim, 0, [("A", "ramipril", 3), ("C", "amlodipine", 1), ("D", "indapamide", 0)])
    put(sim, 0, potassium_level=potassium)
    review(sim, 0)
    s4 = held(sim, 0)["S"][0]
    assert s4 == drug if drug else s4 in ("doxazosin", "bisoprolol")
    k = emitted(sim, "obs", code="potassium")
    assert len(k["value"]) == 1 and (k["value"][0] <= 4.5) == (drug == "spironolactone")


def test_uncontrolled_on_four_drugs_is_referred_once():
    sim = htn_sim()
    regimen = [("A", "ramipril", 3), ("C", "amlodipine", 1), ("D", "indapamide", 0), ("S", "spironolactone", 0)]
    for_review(sim, 0, regimen)
    review(sim, 0)
    assert decisions(sim) == [(0, "refer", None, "1.4.52 uncontrolled on four drugs")]
    assert get(sim, "referred")[0]
    assert len(emitted(sim, "obs", code="hypertension_referral")["pat"]) == 1
    put(sim, 0, next_review=ON)
    review(sim, 0)
    assert len(emitted(sim, "obs", code="hypertension_referral")["pat"]) == 1


def test_a_controlled_review_changes_nothing_and_books_the_annual_review():
    sim = htn_sim()
    for_review(sim, 0, [("C", "amlodipine", 0)], high=False)
    bp = review(sim, 0)
    assert (bp["value"] < 140).all()
    assert held(sim, 0) == {"C": ("amlodipine", 0)} and decisions(sim) == []
    assert get(sim, "next_review")[0] == ON + 365


def test_an_untreated_uncontrolled_patient_is_offered_first_line():
    sim = htn_sim()
    for_review(sim, 0)
    put(sim, 0, declined=True)
    review(sim, 0)
    assert held(sim, 0) == {"C": ("amlodipine", 0)}
    assert decisions(sim) == [(0, "start", "amlodipine", treatment.FIRST_LINE)]


def test_a_missed_review_is_rebooked():
    sim = htn_sim(did_not_attend=1.0)
    for_review(sim, 0, [("C", "amlodipine", 0)])
    bp = review(sim, 0)
    assert len(bp["pat"]) == 0
    dna = emitted(sim, "obs", code="did_not_attend")
    assert dna["day"].tolist() == [ON] and get(sim, "next_review")[0] == ON + 30


def test_an_annual_review_codes_itself_with_lifestyle_and_bloods():
    sim = htn_sim()
    for_review(sim, [0, 1], [("C", "amlodipine", 0)], high=False)
    put(sim, 0, dx_day=ON - 300)  # diagnosed 300 days ago: annual; the other 100
    review(sim, [0, 1])
    assert emitted(sim, "obs", code="hypertension_annual_review")["pat"].tolist() == [0]
    assert emitted(sim, "obs", code="bmi")["pat"].tolist() == [0]
    assert emitted(sim, "obs", code="egfr")["pat"].tolist() == [0]


def test_step_up_follow_ups_between_annual_reviews_are_not_annual_reviews():
    """Diagnosed 400 days ago, uncontrolled, seen again a month after each change: the first review is
    the annual one; the follow-up a month later is not (it was coded annual at every visit once a year
    had passed since diagnosis)."""
    sim = htn_sim()
    for_review(sim, 0, [("A", "ramipril", 1)])
    put(sim, 0, dx_day=ON - 400)
    review(sim, 0)
    assert emitted(sim, "obs", code="hypertension_annual_review")["day"].tolist() == [ON]
    assert get(sim, "annual_day")[0] == ON and get(sim, "next_review")[0] < ON + 100  # a step-up follow-up
    put(sim, 0, next_review=ON)  # the follow-up, seen as due this month
    review(sim, 0)
    assert len(emitted(sim, "obs", code="hypertension_annual_review")["day"]) == 1
    assert len(emitted(sim, "obs", code="bp_systolic")["pat"]) == 2  # both visits took a BP


def test_someone_who_stopped_and_is_uncontrolled_is_restarted():
    sim = htn_sim()
    for_review(sim, 0, [("C", "amlodipine", 0)])
    sim.rx.stop_taking(np.array([0]), ON - 150)
    put(sim, 0, rx_next_issue=ON + 20)
    review(sim, 0)
    assert not get(sim, "rx_stopped")[0]
    assert ("restart", None, "1.4.40 adherence discussed") in [d[1:] for d in decisions(sim)]
    assert get(sim, "rx_next_issue")[0] == ON


def test_someone_who_stopped_stays_stopped_and_unchanged_when_not_found_out():
    sim = htn_sim(restart_after_stopping=0.0)
    for_review(sim, 0, [("C", "amlodipine", 0)])
    sim.rx.stop_taking(np.array([0]), ON - 150)
    review(sim, 0)
    assert get(sim, "rx_stopped")[0] and decisions(sim) == [] and held(sim, 0) == {"C": ("amlodipine", 0)}


def test_a_restarted_patient_is_not_stepped_up_on_the_reading_taken_off_treatment():
    sim = htn_sim()
    for_review(sim, 0, [("C", "amlodipine", 0)])
    sim.rx.stop_taking(np.array([0]), ON - 150)
    review(sim, 0)
    assert [d[1] for d in decisions(sim)] == ["restart"]
    assert held(sim, 0) == {"C": ("amlodipine", 0)}


@pytest.mark.parametrize("potassium, step4", [(3.6, "spironolactone"), (5.4, None)])
def test_a_restarted_regimen_with_spironolactone_checks_potassium_first(potassium, step4):
    """Stopped on four drugs and found out: the restart draws U&E that day, and a K+ above 4.5 puts an alpha- or
    beta-blocker in spironolactone's place (1.4.48) rather than reissuing it on a K+ months old (E11 had one)."""
    sim = htn_sim()
    regimen = [("A", "ramipril", 3), ("C", "amlodipine", 1), ("D", "indapamide", 0), ("S", "spironolactone", 0)]
    for_review(sim, 0, regimen)
    sim.rx.stop_taking(np.array([0]), ON - 150)
    put(sim, 0, potassium_level=potassium)
    review(sim, 0)
    assert [d[1] for d in decisions(sim)][0] == "restart"
    k = emitted(sim, "obs", code="potassium")
    assert k["day"].tolist() == [ON] and (k["value"][0] <= 4.5) == (step4 == "spironolactone")
    s4 = held(sim, 0)["S"][0]
    assert s4 == step4 if step4 else s4 in ("doxazosin", "bisoprolol")


@pytest.mark.parametrize("side_effect, regimen, after, code", [
    ("cough_pending", [("A", "ramipril", 2)], {"A": ("losartan", 1)}, "cough"),
    ("oedema_pending", [("A", "ramipril", 1), ("C", "amlodipine", 0)], {"A": ("ramipril", 1), "D": ("indapamide", 0)},
     "oedema"),
])
def test_side_effects_switch_before_anything_else(side_effect, regimen, after, code):
    sim = htn_sim()
    for_review(sim, 0, regimen, high=False)
    put(sim, 0, **{side_effect: True})
    review(sim, 0)
    assert held(sim, 0) == after
    assert len(emitted(sim, "obs", code=code)["pat"]) == 1 and not get(sim, side_effect)[0]


# ---------------------------------------------------------------- diagnosis

def quiet_acr(sim, k):
    """`k` positions whose urine ACR draw keeps them below 3 mg/mmol (no target-organ damage)."""
    return np.flatnonzero(sim.draws("acr").normal(sim.everyone) < 1.0)[:k]


@pytest.mark.parametrize("clinic, oc, stage, code", [
    ((165, 101), (152, 96), ng136.STAGE2, "hypertension_stage2"),
    ((160, 100), (150, 95), ng136.STAGE2, "hypertension_stage2"),
    ((145, 92), (138, 86), ng136.STAGE1, "hypertension_stage1"),
    ((185, 100), (150, 95), ng136.SEVERE, "hypertension_severe"),
    ((142, 88), (130, 80), ng136.STAGE1, "hypertension_stage1"),  # called at stage 1 at least
])
def test_diagnosis_codes_the_stage(clinic, oc, stage, code):
    sim = htn_sim()
    p = quiet_acr(sim, 1)
    person(sim, p, age=58, on=ON)
    put(sim, p, egfr=90.0)
    h = sim.hypertension
    diagnosis.diagnose(h, p, np.array([ON]), np.array([clinic[0]]), np.array([clinic[1]]), np.array([oc[0]]),
                       np.array([oc[1]]), 3)
    assert get(sim, "dx")[p[0]] and get(sim, "dx_day")[p[0]] == ON and get(sim, "stage")[p[0]] == stage
    dx = emitted(sim, "obs", code=code)
    assert dx["pat"].tolist() == p.tolist() and dx["problem"][0] == 1
    assert get(sim, "problem_key")[p[0]] == np.flatnonzero(sim.log._obs.column("medcode") == codes.medcode(code))[0]


def test_a_diagnosis_brings_tests_risk_score_and_the_treatment_decision():
    sim = htn_sim()
    p = quiet_acr(sim, 2)
    person(sim, p, age=58, on=ON)
    put(sim, p, egfr=90.0)
    put(sim, p[1], egfr=45.0)  # target-organ damage: eGFR below 60
    h = sim.hypertension
    diagnosis.diagnose(h, p, np.array([ON, ON]), np.array([150, 150]), np.array([92, 92]), np.array([140, 140]),
                       np.array([86, 86]), 3)
    cons = emitted(sim, "cons")
    assert cons["pat"].tolist() == p.tolist() and (cons["day"] == ON).all()
    lab = emitted(sim, "obs", code="egfr")
    assert ((lab["day"] <= ON - 3) & (lab["day"] >= ON - 7)).all()
    assert emitted(sim, "obs", code="ecg")["day"].tolist() == lab["day"].tolist()
    fundo = emitted(sim, "obs", code="fundoscopy")
    assert (fundo["cons"] >= 0).all() and (fundo["day"] == ON).all()
    assert len(emitted(sim, "obs", code="qrisk3")["pat"]) == 2 and len(emitted(sim, "obs", code="bmi")["pat"]) == 2
    assert emitted(sim, "obs", code="hypertension_stage1")["pat"].tolist() == [p[0]]
    assert emitted(sim, "obs", code="hypertension_stage1_organ_damage")["pat"].tolist() == [p[1]]
    # stage 1 with damage: treatment offered; without, at 58 with a low risk: considered, and not taken up here
    d = decisions(sim)
    assert (p[1], "start", "amlodipine", treatment.FIRST_LINE) in d
    assert (p[0], "lifestyle", None, "1.4.12/1.4.13 not offered") in d
    assert get(sim, "next_review")[p].tolist() == [ON + 365, ON + 28]


def test_raised_readings_from_other_programmes_are_confirmed_out_of_clinic():
    sim = htn_sim(out_of_clinic_done=1.0, hbpm_share=0.0)
    pos = np.array([0, 1, 2])
    person(sim, pos, age=50, on=ON)
    put(sim, 2, dx=True)
    m = month_at(sim, ON, act=pos)
    sim.hypertension.checks = (np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.int64))
    m.bp_screens.append((pos, np.full(3, ON), np.array([150.0, 120.0, 150.0]), np.array([95.0, 80.0, 95.0])))
    sim.hypertension.diagnose(sim, m)
    abpm = emitted(sim, "obs", code="abpm_systolic")
    assert abpm["pat"].tolist() == [0] and ON + 7 <= abpm["day"][0] <= ON + 21
    assert get(sim, "last_raised")[pos].tolist() == [ON, -NEVER, -NEVER]


def test_a_severe_reading_is_repeated_within_a_week_by_a_nurse():
    sim = htn_sim()
    person(sim, 0, age=50, on=ON)
    put(sim, 0, bp_level_sbp=-40.0, bp_level_dbp=-20.0)  # the repeat is neither severe nor raised
    m = month_at(sim, ON, act=[0])
    sim.hypertension.checks = (np.empty(0, np.int64),) * 3
    m.bp_screens.append((np.array([0]), np.array([ON]), np.array([190.0]), np.array([100.0])))
    sim.hypertension.diagnose(sim, m)
    cons = emitted(sim, "cons")
    assert len(cons["day"]) == 1 and ON + 1 <= cons["day"][0] <= ON + 7
    assert cons["source"][0] == sim.record.source("Clinic")
    bp = emitted(sim, "obs", code="bp_systolic")
    assert bp["day"].tolist() == [cons["day"][0]] and bp["value"][0] < 140
    assert not get(sim, "dx")[0] and len(emitted(sim, "obs", code="abpm_systolic")["pat"]) == 0


def test_a_severe_reading_confirmed_on_repeat_is_diagnosed_at_once():
    sim = htn_sim()
    person(sim, 0, age=50, on=ON)
    put(sim, 0, bp_level_sbp=100.0, bp_level_dbp=45.0, bp_white_coat_sbp=20.0)
    m = month_at(sim, ON, act=[0])
    sim.hypertension.checks = (np.empty(0, np.int64),) * 3
    m.bp_screens.append((np.array([0]), np.array([ON]), np.array([190.0]), np.array([100.0])))
    sim.hypertension.diagnose(sim, m)
    assert get(sim, "dx")[0] and get(sim, "stage")[0] == ng136.SEVERE
    assert ON + 1 <= get(sim, "dx_day")[0] <= ON + 7
    assert emitted(sim, "obs", code="hypertension_severe")["pat"].tolist() == [0]
    assert len(emitted(sim, "obs", code="abpm_systolic")["pat"]) == 0  # no out-of-clinic wait


def test_a_post_event_check_is_booked_for_someone_not_diagnosed():
    sim = htn_sim()
    person(sim, [0, 1], age=70, on=ON)
    put(sim, [0, 1], post_event_check=ON + 3)
    put(sim, 1, dx=True)
    m = month_at(sim, ON, act=[0, 1])
    sim.hypertension.checks = (np.empty(0, np.int64),) * 3
    sim.hypertension.diagnose(sim, m)
    bp = emitted(sim, "obs", code="bp_systolic")
    assert bp["pat"].tolist()[:1] == [0] and bp["day"][0] == ON + 3
    assert get(sim, "post_event_check")[[0, 1]].tolist() == [NEVER, ON + 3]


def test_opportunistic_checks_at_face_to_face_consultations_of_the_undiagnosed():
    on = {k: 1.0 for k in ("bp_check_if_overdue", "bp_check_opportunistic", "recheck_after_raised",
                           "diabetes_review_bp", "bp_check_young_factor", "bp_check_diagnosed")}
    sim = htn_sim(**on)
    pos = np.array([0, 1, 2, 3])
    person(sim, pos, age=50, on=ON)
    put(sim, 3, dx=True)
    m = month_at(sim, ON, act=pos)
    m.consults = Consults(pos, np.full(4, ON), np.arange(4), np.array([False, True, False, False]), np.full(4, 50.0))
    sim.hypertension.opportunistic(sim, m)
    checked, days, keys = sim.hypertension.checks
    assert checked.tolist() == [0, 2] and keys.tolist() == [0, 2]  # not by telephone, not the diagnosed
    assert emitted(sim, "obs", code="bp_systolic")["pat"].tolist() == [3]  # a known hypertensive's re-check


# ---------------------------------------------------------------- truth of onset, and history at entry

def test_track_sets_the_truth_of_onset_once():
    sim = htn_sim()
    pos = np.array([0, 1, 2])
    m = month_at(sim, ON, act=pos)
    m.usual_sbp, m.usual_dbp = np.array([141.0, 130.0, 120.0]), np.array([80.0, 91.0, 80.0])
    put(sim, 2, onset_htn=ON - 900)
    assert (get(sim, "onset_htn")[[0, 1]] == dates.NONE).all()
    sim.hypertension.track(sim, m)
    assert get(sim, "onset_htn")[pos].tolist() == [m.vday[0], m.vday[1], ON - 900]


def test_history_brings_a_prior_diagnosis_and_its_regimen():
    sim = htn_sim(prior_diagnosis=1.0, prior_treated=1.0)
    pos = np.array([0, 1])
    person(sim, pos, age=70, on=ON)
    put(sim, pos, ent=ON, age_entry=70.0, bp_level_sbp=[60.0, -40.0], bp_level_dbp=[20.0, -20.0], first_allowed=ON - 5000)
    history.at_entry(sim.hypertension)
    dx, prior = get(sim, "dx")[pos], get(sim, "prior")[pos]
    assert dx.tolist() == [True, False] and prior.tolist() == [True, False]
    assert ON - 5000 <= get(sim, "dx_day")[0] <= ON
    assert len(held(sim, 0)) >= 1 and held(sim, 1) == {}
    iss = emitted(sim, "issue", pos=0)
    assert len(iss["day"]) == 3 * len(held(sim, 0)) and (iss["day"] < ON).all()
    assert ON <= get(sim, "next_review")[0] < ON + 365
    assert get(sim, "onset_htn")[0] == ON and get(sim, "usual_sbp_entry")[0] > 140


def test_a_regimen_from_before_cg34_keeps_its_beta_blocker_and_care_still_adds_a_c_and_d():
    sim = htn_sim()
    h = sim.hypertension
    h.prior_ramp = {**h.prior_ramp, "beta_blocker_share": 1.0}  # this sim's own (the packaged file's dict is shared)
    cg34 = dates.to_days(h.prior_ramp["beta_blocker_before"])
    pos = np.array([0, 1])
    person(sim, pos, age=70, on=ON)
    # diagnosed before 28 June 2006 (0) or after it (1), carried in at entry on one class
    put(sim, pos, ent=ON, dx=True, prior=True, dx_day=[cg34 - 400, cg34 + 400], first_allowed=ON - 9000,
        bp_response=1.0, adherence=1.0)
    history._regimen(h, pos, np.array([141.0, 141.0]))
    assert held(sim, 0)["S"] == ("atenolol", 0) and "S" not in held(sim, 1)
    assert [d[1:3] for d in decisions(sim, 0)][-1] == ("carried", "atenolol")
    iss = emitted(sim, "issue", pos=0)
    assert len(iss["day"]) == 3 * len(held(sim, 0)) and (iss["day"] < ON).all()  # its repeats came with the regimen
    # at a review, uncontrolled on atenolol and one class: the next of A, C, D is added, not step 4
    first = set(held(sim, 0)) - {"S"}
    put(sim, 0, next_review=ON, bp_level_sbp=100.0, bp_level_dbp=30.0, bp_white_coat_sbp=0.0, bp_white_coat_dbp=0.0,
        cough_pending=False, oedema_pending=False, black=False)
    for k in first:  # at its highest dose: the next review adds a class
        sim.rx.set_drug(np.array([0]), k, get(sim, "rx_drug")[0, SLOTS.index(k)], np.array([1 if k == "C" else 3]), ON - 200)
    review(sim, 0)
    now = held(sim, 0)
    assert now["S"] == ("atenolol", 0) and len(set(now) - {"S"}) == len(first) + 1
    assert decisions(sim, 0)[-1][1] == "add"


def test_last_check_is_a_reading_before_entry_while_registered_and_adult():
    sim = htn_sim()
    pos = np.array([0, 1, 2])
    person(sim, pos, age=50, on=ON)
    put(sim, pos, ent=ON, first_allowed=ON - 1000)
    put(sim, pos, last_bp=[ON - 500, ON - 1500, ON + 5])
    history.last_check(sim.hypertension)
    bp = emitted(sim, "obs", code="bp_systolic", pos=pos)
    assert bp["pat"].tolist() == [0] and bp["day"].tolist() == [ON - 500]
