"""Labs (blood tests, component "labs"): panels under their header, one draw a person and day, results from the
person's truth with the data file's ranges, the monitoring the service orders itself."""

import tomllib
from importlib import resources

import numpy as np
import pytest

from synthgp.core import codes, dates
from synthgp.engine.services.labs import ORDERABLE

from tests.engine.build import day, emitted, finish, get, make_sim, month_at, person, put

ON = day(2020, 2, 3)
UE = ("sodium", "potassium", "creatinine", "egfr")
FULL = (*UE, "hba1c", "cholesterol", "hdl_cholesterol", "ldl_cholesterol", "triglycerides", "urine_acr")
CFG = tomllib.loads(resources.files("synthgp.data").joinpath("labs.toml").read_text())
HEADERS = {codes.medcode(v["header"]): k for k, v in CFG["panels"].items()}


def lab_sim(pos=(0, 1, 2), with_ue=False, **kw):
    """A sim with people of 60 on ON; without `with_ue`, a U&E comes alone (no liver panel or FBC added)."""
    sim = make_sim()
    person(sim, list(pos), age=60, on=ON, **kw)
    put(sim, list(pos), egfr=80.0, rf_total_cholesterol=5.5, rf_hdl=1.3)
    if not with_ue:
        sim.labs.with_ue = {}
    return sim


def forget(sim, pos):
    """Forget each one's draws: a fresh draw that day, with the same draws of chance."""
    put(sim, pos, draw_day=dates.NONE, draw_panels=0)


def coded(sim, **kw):
    """(pos, key) of the rows emitted, header rows as 'panel:<name>'."""
    rows = emitted(sim, "obs", **kw)
    key = {codes.medcode(k): k for k in (*FULL, "haemoglobin", "tsh", "free_t4", "alt")}
    return [(p, key.get(c) or "panel:" + HEADERS[c]) for p, c in zip(rows["pat"], rows["medcode"])]


def test_two_samples_of_one_patient_on_one_day_give_the_same_results():
    sim = lab_sim()
    both = sim.labs.sample(np.array([0, 0, 1]), ON, True)
    again = sim.labs.sample(np.array([0]), ON, True)
    later = sim.labs.sample(np.array([0]), ON + 1, True)
    for k, v in both.items():
        assert v[0] == v[1] == again[k][0], k
    # another day is another draw (an integer eGFR from a rounded creatinine can repeat by chance: look at them all)
    assert any(both[k][0] != later[k][0] for k in both) and any(both[k][0] != both[k][2] for k in both)


def test_one_draw_a_day_carries_every_panel_ordered_that_day_once():
    sim = lab_sim()
    part = sim.labs.sample(np.array([0, 1]), ON, False)
    full = sim.labs.sample(np.array([0, 1]), ON, True)  # the same draw: adds lipids, HbA1c and ACR
    sim.labs.order(np.array([0]), ON, "tft")
    sim.labs.order(np.array([0]), ON, "ue")  # tested already: nothing
    again = sim.labs.sample(np.array([0, 1]), ON, False)
    got = coded(sim)
    # each order's headers, then their results panel by panel (a result's parent is its header)
    ue = ["panel:ue", *UE]
    full_extra = ["panel:lipids", "panel:hba1c", "cholesterol", "hdl_cholesterol", "ldl_cholesterol", "triglycerides", "hba1c",
                  "urine_acr"]
    want = [(p, k) for k in ue for p in (0, 1)] + [(p, k) for k in full_extra for p in (0, 1)]
    assert got == want + [(0, "panel:tft"), (0, "tsh"), (0, "free_t4")]
    for k in ("egfr", "k"):
        assert np.array_equal(part[k], full[k]) and np.array_equal(part[k], again[k])


def test_orders_out_of_day_order_within_a_month_meet_the_same_draw():
    """The cause of same-day duplicates: pathways pick their own days, so a draw on day 10 can be followed by one
    on day 2 and then another order for day 10; the last four draws are kept, so it joins day 10's."""
    sim = lab_sim()
    p = np.array([0])
    a = sim.labs.sample(p, ON + 10, False)
    sim.labs.sample(p, ON + 2, True)
    sim.labs.order(p, ON + 5, "fbc")
    b = sim.labs.sample(p, ON + 10, True)
    assert a["egfr"][0] == b["egfr"][0]
    rows = emitted(sim, "obs", code="egfr")
    assert rows["day"].tolist() == [ON + 10, ON + 2]
    assert emitted(sim, "obs", code="hba1c")["day"].tolist() == [ON + 2, ON + 10]


def test_a_conditions_bloods_add_a_liver_panel_and_fbc_at_the_data_files_rates():
    sim = lab_sim(range(90), with_ue=True)
    pos = np.arange(90)
    for k in range(6):  # 540 draws
        sim.labs.sample(pos, ON + 7 * k, k % 2 == 0)
    n = len(emitted(sim, "obs", code="egfr")["pat"])
    share = {p: len(emitted(sim, "obs", code=c)["pat"]) / n for p, c in (("lft", "alt"), ("fbc", "haemoglobin"))}
    for p, want in CFG["monitoring"]["with_ue"].items():
        assert share[p] == pytest.approx(want, abs=0.08), p  # SE about 0.02 at 540 draws
    sim.labs.order(pos[:5], ON + 50, "tft")  # an order names its panel: nothing added
    sim.labs.sample(pos, ON + 60, True, extras=False)  # nor to bloods that are not a condition's
    assert len(emitted(sim, "obs", code="alt")["pat"]) == round(share["lft"] * n)
    assert len(emitted(sim, "obs", code="egfr")["pat"]) == n + 90


def test_results_are_children_of_their_panel_header_and_share_its_consultation():
    sim = lab_sim()
    cons = sim.record.consultation(np.array([0]), ON, np.array([1]), sim.record.source("Clinic"))
    sim.labs.order(np.array([0]), ON, "fbc", cons)
    sim.labs.sample(np.array([0, 1]), ON, True)  # joins 0's draw and its consultation; 1 has none
    fin = finish(sim)
    o = fin.obs
    header = np.isin(o["medcode"], list(HEADERS))
    assert (o["parentobsid"][header] == -1).all()
    by_id = dict(zip(o["obsid"], o["medcode"]))
    for i in np.flatnonzero(~header):
        if o["medcode"][i] == codes.medcode("urine_acr"):
            assert o["parentobsid"][i] == -1  # a urine test: no blood panel
            continue
        parent = by_id[o["parentobsid"][i]]
        panel = HEADERS[parent]
        assert codes.get(next(k for k in codes.table() if codes.medcode(k) == o["medcode"][i])).key in CFG["panels"][panel]["results"]
    pat0 = o["pat"] == sim.P[0]
    assert (o["consid"][pat0] == fin.cons["consid"][0]).all() and (o["consid"][~pat0] == -1).all()


def test_an_unknown_panel_is_refused():
    sim = lab_sim()
    with pytest.raises(ValueError, match="no blood panel 'ferritin'"):
        sim.labs.order(np.array([0]), ON, "ferritin")
    assert set(ORDERABLE) == set(CFG["panels"])


def test_recorded_reference_ranges_and_units_are_those_of_the_data_file():
    ranges = CFG["labs"]["ranges"]
    assert ranges["egfr"] == {"low": 90.0} and ranges["potassium"] == {"low": 3.5, "high": 5.3}
    sim = lab_sim((0, 1))
    put(sim, [0], male=True)
    put(sim, [1], male=False)
    sim.labs.sample(np.array([0, 1]), ON, True)
    for panel in ORDERABLE:
        sim.labs.order(np.array([0, 1]), ON, panel)
    for key in (*FULL, "haemoglobin", "white_cell_count", "platelet_count", "mcv", "alt", "alp", "bilirubin", "albumin",
                "tsh", "free_t4"):
        row = emitted(sim, "obs", code=key)
        assert row["pat"].tolist() == [0, 1], key
        for i, sfx in ((0, ""), (1, "_female")):
            for bound in ("low", "high"):
                want = ranges[key].get(bound + sfx, ranges[key].get(bound, np.nan))
                assert np.array_equal(row[bound][i:i + 1], [want], equal_nan=True), (key, bound, sfx)
        assert row["obstype"][0] == sim.record.obstype("Investigation") and row["cons"][0] == -1
        assert row["unit"][0] == sim.record.unit(CFG["units"].get(key, "mmol/L")), key
    hb = emitted(sim, "obs", code="haemoglobin")
    assert hb["low"].tolist() == [130.0, 115.0]


def test_hba1c_is_in_the_diabetic_range_after_type2_onset_only():
    sim = lab_sim(range(40))
    pos = np.arange(40)
    put(sim, pos[:20], onset_type2=ON - 100)
    sim.labs.sample(pos, ON, True)
    hba1c = emitted(sim, "obs", code="hba1c")
    assert (hba1c["value"][hba1c["pat"] < 20] >= 48).all() and (hba1c["value"][hba1c["pat"] >= 20] <= 47).all()


def test_hba1c_rises_in_the_years_before_a_type2_onset():
    sim = lab_sim(range(60))
    pos = np.arange(60)
    before = sim.labs.sample(pos, ON, True)
    put(sim, pos, onset_type2=ON + 30)  # an onset next month: at the top of the pre-diabetes rise
    forget(sim, pos)
    sim.labs.sample(pos, ON, True)
    v = emitted(sim, "obs", code="hba1c")["value"]
    assert before is not None and np.mean(v[60:] - v[:60]) > 5
    assert np.mean(v[60:] >= 42) > 0.5 and (v <= 47).all()


@pytest.mark.parametrize("slot, drug, shift", [("A", "ramipril", 0.15), ("A", "losartan", 0.15),
                                               ("S", "spironolactone", 0.3), ("D", "indapamide", -0.25),
                                               ("S", "doxazosin", 0.0)])
def test_potassium_moves_with_the_drugs_held(slot, drug, shift):
    sim = lab_sim(range(20))
    pos = np.arange(20)
    before = sim.labs.sample(pos, ON, False)["k"]
    sim.rx.set_drug(pos, slot, sim.rx.meds.index[drug], 0, ON)
    forget(sim, pos)
    after = sim.labs.sample(pos, ON, False)["k"]
    assert np.abs(after - before - shift).max() <= 0.051 + 1e-9  # results are to 0.1 mmol/L
    assert np.mean(after - before) == pytest.approx(shift, abs=0.05)


def test_kidney_disease_raises_potassium_and_acr():
    sim = lab_sim()
    pos = np.array([0, 1])
    before = sim.labs.sample(pos, ON, True)
    put(sim, pos, onset_ckd=ON - 1)
    forget(sim, pos)
    after = sim.labs.sample(pos, ON, True)
    assert np.allclose(after["acr"] / before["acr"], np.exp(CFG["labs"]["acr_log_ckd"]))
    assert (after["k"] > before["k"]).all()


def test_anaemia_truth_decides_haemoglobin_and_iron_deficiency_is_microcytic():
    sim = lab_sim(range(90), male=False)
    pos = np.arange(90)
    put(sim, pos, dob=ON - int(30 * 365.25))  # women of 30: about 12% anaemic a year
    sim.labs.order(pos, ON, "fbc")
    anaemic, iron = sim.labs.results.anaemic(pos, np.full(90, 2020))
    assert 2 <= anaemic.sum() <= 24 and (anaemic & iron).any()  # 12% of 90 (10.8), within about 4 SD
    hb = emitted(sim, "obs", code="haemoglobin")["value"]
    mcv = emitted(sim, "obs", code="mcv")["value"]
    assert (hb[anaemic] < 120).all() and (hb[~anaemic] >= 120).all()
    assert mcv[anaemic & iron].mean() < mcv[~anaemic].mean() - 8


def _thyroid(sim, pos, onset=None, levo_from=None, hyper=None):
    if onset is not None:
        get(sim, "reg_onset")[pos, sim.registers.col["hypothyroidism"]] = onset
    if levo_from is not None:
        sim.rx.start_regular(pos, "levothyroxine", np.full(len(pos), levo_from))
    if hyper is not None:
        put(sim, pos, hyper_onset=hyper)


def test_tsh_is_high_untreated_falls_on_levothyroxine_and_is_suppressed_in_hyperthyroidism():
    sim = lab_sim(range(88))
    pos = np.arange(88)
    put(sim, pos, hyper_onset=np.iinfo(np.int64).max // 4)
    untreated, stable, hyper, well = pos[:22], pos[22:44], pos[44:66], pos[66:]
    _thyroid(sim, untreated, onset=ON - 60)
    _thyroid(sim, stable, onset=ON - 800, levo_from=ON - 700)
    _thyroid(sim, hyper, hyper=ON - 60)
    sim.labs.order(pos, ON, "tft")
    tsh = emitted(sim, "obs", code="tsh")["value"]
    ft4 = emitted(sim, "obs", code="free_t4")["value"]
    assert np.mean(tsh[untreated] > 4.0) > 0.85 and np.mean(ft4[untreated] < 12) > 0.5
    assert np.median(tsh[stable]) < 4.0 and 0.1 < np.mean((tsh[stable] > 4.0) | (tsh[stable] < 0.4)) < 0.6
    assert (tsh[hyper] < 0.4).all() and np.mean(ft4[hyper] > 22) > 0.85
    assert np.mean((tsh[well] >= 0.4) & (tsh[well] <= 4.0)) > 0.85


def test_a_statin_lowers_ldl_and_its_start_brings_alt_at_3_and_12_months():
    sim = lab_sim(range(10))
    pos = np.arange(10)
    before = sim.labs.sample(pos, ON, True)
    start = ON - 90
    sim.rx.start_regular(pos, "atorvastatin", np.full(10, start))
    forget(sim, pos)
    after = sim.labs.sample(pos, ON, True)
    ldl = emitted(sim, "obs", code="ldl_cholesterol")["value"]
    assert (after["tc"] < before["tc"]).all() and np.allclose(ldl[10:] / ldl[:10], 1 - CFG["lipids"]["statin_ldl_fall"], atol=0.1)
    for when in (start + 90, start + 365):
        sim.labs.monitor(sim, month_at(sim, when, act=pos))
    alt = emitted(sim, "obs", code="alt")
    assert sorted(set(alt["day"].tolist())) == [start + 90, start + 365] and len(alt["day"]) == 20


def test_the_egfr_hook_is_called_with_every_samples_reported_egfr_and_potassium():
    """The kidney pathway's hook (stopping drugs at low eGFR or K+ > 6) sees what the record shows."""
    sim = make_sim()
    pos = sim.adults[:2]
    seen = []
    sim.labs.on_egfr(lambda p, d, egfr, k: seen.append((p.copy(), np.array(d), egfr.copy(), k.copy())))
    r = sim.labs.sample(pos, ON, False)
    assert len(seen) == 1
    p, d, egfr, k = seen[0]
    assert p.tolist() == pos.tolist() and (d == ON).all() and np.array_equal(egfr, r["egfr"]) and np.array_equal(k, r["k"])


def test_childrens_results_carry_the_childrens_range_of_their_age_and_sit_inside_it():
    """Children of 1, 4 and 9 (and young people of 14) get the [labs.child_ranges] range of their age band for the
    counts, ALP and albumin (the adult range from the band's end: 12 for the counts, 16 for ALP), both sexes; their
    results are healthy children's, so about 95% inside the range (at least 85% of 30 at a fixed seed), where the
    adults' ALP (30-130 U/L) would flag nearly every child's high."""
    child = CFG["labs"]["child_ranges"]
    n = 30  # the test sim's 120 positions
    sim = lab_sim(range(4 * n))
    pos = np.arange(4 * n)
    ages = np.repeat([1.0, 4.0, 9.0, 14.0], n)
    put(sim, pos, dob=ON - np.round(ages * 365.25).astype(np.int64), male=pos % 2 == 0)
    for panel in ("fbc", "lft"):
        sim.labs.order(pos, ON, panel)
    for key, band in (("haemoglobin", [0, 1, 2, None]), ("mcv", [0, 1, 2, None]), ("platelet_count", [0, 1, 2, None]),
                      ("white_cell_count", [0, 1, 2, None]), ("alp", [0, 0, 0, 0]), ("albumin", [0, 0, 0, 0])):
        row = emitted(sim, "obs", code=key)
        assert row["pat"].tolist() == pos.tolist(), key
        for a, b in enumerate(band):
            sel = slice(a * n, (a + 1) * n)
            if b is None:  # 14: the adult range (haemoglobin's by sex)
                adult = CFG["labs"]["ranges"][key]
                female = pos[sel] % 2 == 1
                assert (row["low"][sel] == np.where(female, adult.get("low_female", adult["low"]), adult["low"])).all(), key
                continue
            lo, hi = child[key]["low"][b], child[key]["high"][b]
            assert (row["low"][sel] == lo).all() and (row["high"][sel] == hi).all(), (key, a)
            inside = ((row["value"][sel] >= lo) & (row["value"][sel] <= hi)).mean()
            assert inside >= 0.85, (key, a, inside)
    alp = emitted(sim, "obs", code="alp")["value"]
    assert (alp > CFG["labs"]["ranges"]["alp"]["high"]).mean() > 0.9  # children's ALP is above the adults' range
