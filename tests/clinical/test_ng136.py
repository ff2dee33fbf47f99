"""NG136 rules as decisions on hand-made patients (recommendation numbers in brackets), on a day in the
NG136 era; the earlier eras' rules are in test_eras.py."""

import numpy as np

from synthgp.clinical import ng136 as g
from synthgp.core import dates

a = np.array
NOW = dates.to_days(__import__("datetime").date(2021, 6, 1))  # NG136


def test_first_drug_by_age_family_origin_and_diabetes():
    # (1.4.32-1.4.37): age, black, type 2 diabetes, heart failure -> class
    cases = [
        (45, False, False, False, "A"),   # under 55, not Black
        (45, True, False, False, "C"),    # Black without diabetes: C at any age
        (45, True, True, False, "A"),     # type 2 diabetes: A at any age and origin
        (54.9, False, False, False, "A"),
        (55, False, False, False, "C"),   # 55 and over without diabetes
        (70, False, True, False, "A"),
        (70, False, False, True, "D"),    # C not suitable with heart failure
    ]
    got = g.first_line(a([c[0] for c in cases]), a([c[1] for c in cases]), a([c[2] for c in cases]),
                       a([c[3] for c in cases]), NOW)
    assert list(got) == [c[4] for c in cases]
    assert list(g.prefer_arb(a([True, False]), NOW)) == [True, False]


def test_step_up_sequence():
    on_a, on_c, on_d = a([1, 0, 1, 1, 0]).astype(bool), a([0, 1, 1, 1, 0]).astype(bool), a([0, 0, 0, 1, 1]).astype(bool)
    got = g.next_class(on_a, on_c, on_d, a([False] * 5), a([False] * 5), NOW)
    assert list(got) == ["C", "A", "D", "4", "A"]


def test_a_class_not_tolerated_is_not_added_back():
    # a CCB stopped for oedema (1.4.36): on A, add D not C; on A + D, step 4 not C
    f, t = a([False, False]), a([True, True])
    got = g.next_class(t, f, a([False, True]), f, f, NOW, no_c=t)
    assert list(got) == ["D", "4"]
    # an ACEi/ARB stopped for K+ > 6 or a fall in eGFR: on C, add D not A; on C + D, step 4
    got = g.next_class(f, t, a([False, True]), f, f, NOW, no_a=t)
    assert list(got) == ["D", "4"]


def test_an_acei_or_arb_is_stopped_on_potassium_over_6_or_an_egfr_fall_of_25_percent():
    k = a([6.1, 6.0, 4.5, 4.5, 4.5])
    egfr, before = a([80.0, 80.0, 60.0, 61.0, 50.0]), a([80.0, 80.0, 80.0, 80.0, np.nan])
    assert list(g.acei_arb_unsafe(k, egfr, before, NOW)) == [True, False, True, False, False]


def test_step4_by_potassium():
    assert list(g.step4_drug(a([3.9, 4.5, 4.6, 5.2]), NOW)) == ["spironolactone", "spironolactone", "alpha_or_beta", "alpha_or_beta"]


def test_targets_change_at_80_and_with_type1_or_albuminuria():
    sbp, dbp = g.target(a([79.9, 80, 50, 50, 50]), a([False, False, True, False, False]), a([3, 3, 3, 75, np.nan]), NOW)
    assert list(sbp) == [140, 150, 130, 130, 140] and list(dbp) == [90, 90, 80, 80, 90]  # NaN: ACR never measured
    # NICE "below" versus QOF "or less"
    assert not g.controlled(a([140]), a([80]), a([140]), a([90]))[0]
    assert g.qof_controlled(a([140]), a([90]), a([79]), NOW)[0]
    assert g.qof_controlled(a([150]), a([90]), a([80]), NOW)[0] and not g.qof_controlled(a([151]), a([90]), a([80]), NOW)[0]


def test_severe_thresholds_are_180_over_120_not_110():
    assert list(g.clinic_severe(a([180, 179, 150, 150]), a([100, 119, 120, 110]), NOW)) == [True, False, True, False]


def test_diagnosis_and_staging():
    assert list(g.clinic_raised(a([140, 139, 120]), a([80, 89, 90]), NOW)) == [True, False, True]
    assert list(g.confirmed(a([135, 134, 120]), a([80, 84, 85]), NOW)) == [True, False, True]
    st = g.stage(a([150, 165, 150, 185, 150]), a([95, 95, 90, 100, 90]), a([140, 152, 130, 150, 138]),
                 a([88, 90, 80, 90, 96]), NOW)
    assert list(st) == [g.STAGE1, g.STAGE2, g.NONE, g.SEVERE, g.STAGE1]


def test_stage_2_needs_clinic_160_100_and_out_of_clinic_150_95():
    # (section 2 table) both, not either: a high ABPM with a clinic reading under 160/100 is stage 1,
    # and so is a clinic reading over 160/100 with an ABPM under 150/95
    clinic_s, clinic_d = a([165, 150, 150, 165, 150, 160]), a([95, 95, 101, 95, 90, 100])
    oc_s, oc_d = a([140, 155, 140, 152, 138, 150]), a([86, 90, 96, 90, 96, 95])
    got = g.stage(clinic_s, clinic_d, oc_s, oc_d, NOW)
    assert list(got) == [g.STAGE1, g.STAGE1, g.STAGE2, g.STAGE2, g.STAGE1, g.STAGE2]


def test_whom_to_treat():
    f = a([False] * 6)
    stage = a([g.STAGE2, g.STAGE1, g.STAGE1, g.STAGE1, g.STAGE1, g.STAGE1])
    age = a([85, 70, 70, 50, 85, 65])
    qrisk = a([5, 12, 5, 5, 30, 5])
    diabetes = a([False, False, False, False, False, True])
    offer, consider = g.offer_treatment(stage, age, f, f, f, diabetes, qrisk, NOW)
    assert list(offer) == [True, True, False, False, False, True]
    assert list(consider) == [False, False, False, True, False, False]
    assert list(g.offer_treatment_over80(a([g.STAGE1] * 3), a([85, 85, 70]), a([155, 145, 155]), a([85, 85, 85]), NOW)) == [True, False, False]


def test_type_1_diabetes_target_follows_ng17():
    # NG17: below 135/85, or 130/80 with albuminuria (ACR >= 3); ACR >= 70 tightens anyone's to 130/80
    sbp, dbp = g.target(a([50, 50, 85, 50]), a([True, True, True, False]), a([1.0, 4.0, np.nan, 1.0]), NOW)
    assert list(sbp) == [135, 130, 135, 140] and list(dbp) == [85, 80, 85, 90]


def test_type_1_diabetes_and_heart_failure_count_where_ng136_counts_them():
    # type 1 diabetes: a renin-angiotensin blocker first line (NG17), at any age and origin
    got = g.first_line(a([70, 45]), a([False, True]), a([False, False]), a([False, False]), NOW, type1=a([True, True]))
    assert list(got) == ["A", "A"]
    # heart failure is established cardiovascular disease for stage 1 under 80 (1.4.10)
    f = a([False])
    offer, _ = g.offer_treatment(a([g.STAGE1]), a([70]), f, a([True]), f, f, a([5.0]), NOW)
    assert offer[0]


def test_out_of_clinic_targets_are_5_mmhg_lower():
    # section 5 table: ABPM/HBPM below 135/85 under 80, below 145/85 at 80 and over
    sbp, dbp = g.target_out_of_clinic(a([60, 85]), a([False, False]), a([np.nan, np.nan]), NOW)
    assert list(sbp) == [135, 145] and list(dbp) == [85, 85]
