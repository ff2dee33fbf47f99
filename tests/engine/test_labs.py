"""Tests (blood samples, component "labs"): results from the person's truth, keyed by day, with ranges."""

import tomllib
from importlib import resources

import numpy as np
import pytest

from synthgp.core import codes, dates

from tests.engine.build import day, emitted, make_sim, person, put

ON = day(2020, 2, 3)
PANEL = ("egfr", "creatinine", "potassium", "sodium")
FULL = (*PANEL, "hba1c", "cholesterol", "hdl_cholesterol", "urine_acr")


def lab_sim(pos=(0, 1, 2)):
    sim = make_sim()
    person(sim, list(pos), age=60, on=ON)
    put(sim, list(pos), egfr=80.0, rf_total_cholesterol=5.5, rf_hdl=1.3)
    return sim


def test_two_samples_of_one_patient_on_one_day_give_the_same_results():
    sim = lab_sim()
    both = sim.labs.sample(np.array([0, 0, 1]), ON, True)
    again = sim.labs.sample(np.array([0]), ON, True)
    later = sim.labs.sample(np.array([0]), ON + 1, True)
    for k, v in both.items():
        assert v[0] == v[1] == again[k][0], k
    # reported results are rounded (eGFR to a whole number), so another sample can repeat one: compare them all
    differ = lambda a, i, b, j: any(a[k][i] != b[k][j] for k in ("egfr", "k", "tc", "hdl", "acr"))  # noqa: E731
    assert differ(both, 0, later, 0) and differ(both, 0, both, 2)


def test_one_blood_sample_a_day_carries_every_test_ordered_that_day():
    sim = lab_sim()
    part = sim.labs.sample(np.array([0, 1]), ON, False)
    full = sim.labs.sample(np.array([0, 1]), ON, True)  # a second order the same day: the same sample
    again = sim.labs.sample(np.array([0, 1]), ON, False)
    rows = emitted(sim, "obs")
    medcode = {codes.medcode(k): k for k in FULL}
    got = [(p, medcode[c]) for p, c in zip(rows["pat"], rows["medcode"])]
    # U&E once for each, then only the tests of the full panel it lacked; the third order adds nothing
    assert got == [(p, k) for k in PANEL for p in (0, 1)] + [(p, k) for k in FULL if k not in PANEL for p in (0, 1)]
    for k in ("egfr", "k"):
        assert np.array_equal(part[k], full[k]) and np.array_equal(part[k], again[k])
    assert len(sim.labs.sample(np.array([0]), ON + 1, False)["k"]) == 1 and len(emitted(sim, "obs")["pat"]) == len(got) + 4


def test_a_full_panel_returns_cholesterol_hdl_and_acr_and_records_eight_results():
    sim = lab_sim()
    full = sim.labs.sample(np.array([0, 1]), ON, True)
    part = sim.labs.sample(np.array([2]), ON, False)
    assert set(full) == {"egfr", "k", "tc", "hdl", "acr"} and set(part) == {"egfr", "k"}
    rows = emitted(sim, "obs")
    medcode = {codes.medcode(k): k for k in FULL}
    got = [(p, medcode[c]) for p, c in zip(rows["pat"], rows["medcode"])]
    assert got == [(p, k) for k in FULL for p in (0, 1)] + [(2, k) for k in PANEL]
    assert sim.labs.sample(np.array([], dtype=np.int64), ON, True) is None


def test_results_come_from_the_truth_within_visit_noise():
    sim = lab_sim()
    r = sim.labs.sample(np.array([0, 1, 2]), np.array([ON, ON + 5, ON + 9]), True)
    assert np.abs(r["egfr"] - 80).max() < 10  # visit SD 2
    assert np.abs(r["tc"] - 5.5).max() < 1.5 and np.abs(r["hdl"] - 1.3).max() < 0.5
    rows = emitted(sim, "obs", code="egfr")
    assert rows["value"].tolist() == np.round(r["egfr"]).tolist()
    assert rows["day"].tolist() == [ON, ON + 5, ON + 9]
    delay = rows["enter"] - rows["day"]
    assert ((delay >= 0) & (delay <= 2)).all()


def test_the_egfr_hook_is_called_with_every_samples_egfr():
    sim = lab_sim()
    seen = []
    sim.labs.on_egfr(lambda pos, d, egfr, k: seen.append((pos.copy(), np.array(d), egfr.copy(), k.copy())))
    r = sim.labs.sample(np.array([2, 0]), ON, False)
    assert len(seen) == 1
    pos, d, egfr, k = seen[0]
    assert pos.tolist() == [2, 0] and d.tolist() == [ON, ON] and np.array_equal(egfr, r["egfr"]) and np.array_equal(k, r["k"])


def test_recorded_reference_ranges_are_those_of_the_data_file():
    data = tomllib.loads(resources.files("synthgp.data").joinpath("outcomes.toml").read_text())
    ranges = data["labs"]["ranges"]
    assert set(ranges) == set(FULL)
    assert ranges["egfr"] == {"low": 90.0} and ranges["potassium"] == {"low": 3.5, "high": 5.3}
    sim = lab_sim()
    sim.labs.sample(np.array([0]), ON, True)
    for key in FULL:
        row = emitted(sim, "obs", code=key)
        assert len(row["pat"]) == 1, key
        for bound in ("low", "high"):
            want = ranges[key].get(bound, np.nan)
            assert np.array_equal(row[bound], [want], equal_nan=True), (key, bound)
        assert row["obstype"][0] == sim.record.obstype("Investigation") and row["cons"][0] == -1
    units = {k: emitted(sim, "obs", code=k)["unit"][0] for k in FULL}
    assert units["egfr"] == sim.record.unit("mL/min/1.73m2") and units["potassium"] == sim.record.unit("mmol/L")
    assert units["hba1c"] == sim.record.unit("mmol/mol") and units["urine_acr"] == sim.record.unit("mg/mmol")


def test_hba1c_is_in_the_diabetic_range_after_type2_onset_only():
    sim = lab_sim(range(40))
    pos = np.arange(40)
    put(sim, pos[:20], onset_type2=ON - 100)
    sim.labs.sample(pos, ON, True)
    hba1c = emitted(sim, "obs", code="hba1c")
    assert (hba1c["value"][hba1c["pat"] < 20] >= 48).all() and (hba1c["value"][hba1c["pat"] >= 20] <= 47).all()


@pytest.mark.parametrize("slot, drug, shift", [("A", "ramipril", 0.15), ("A", "losartan", 0.15),
                                               ("S", "spironolactone", 0.3), ("D", "indapamide", -0.25),
                                               ("S", "doxazosin", 0.0)])
def test_potassium_moves_with_the_drugs_held(slot, drug, shift):
    sim = lab_sim(range(20))
    pos = np.arange(20)
    before = sim.labs.sample(pos, ON, False)["k"]
    sim.rx.set_drug(pos, slot, sim.rx.meds.index[drug], 0, ON)
    put(sim, pos, sample_day=dates.NONE)  # forget it: a fresh sample that day, with the same draws
    after = sim.labs.sample(pos, ON, False)["k"]
    assert np.abs(after - before - shift).max() <= 0.051 + 1e-9  # results are to 0.1 mmol/L
    assert np.mean(after - before) == pytest.approx(shift, abs=0.05)


def test_kidney_disease_raises_potassium_and_acr():
    sim = lab_sim()
    pos = np.array([0, 1])
    before = sim.labs.sample(pos, ON, True)
    put(sim, pos, onset_ckd=ON - 1, sample_day=dates.NONE)  # a fresh sample that day, with the same draws
    after = sim.labs.sample(pos, ON, True)
    assert np.allclose(after["acr"] / before["acr"], np.exp(sim.labs.cfg["acr_log_ckd"]))
    assert (after["k"] > before["k"]).all()
