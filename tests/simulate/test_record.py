"""The hypertension pathway end to end: record invariants, NG136 conformance, physiology, calibration."""

import shutil

import duckdb
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from synthgp.clinical import bp
from synthgp.core import scenario
from synthgp.core.rng import Draws
from synthgp.evaluate import calibration, integrity
from synthgp.population import plan as population
from synthgp.record import tables as record
from synthgp.simulate import block

from tests.conftest import generate


def _con(path, read_only=True):
    return duckdb.connect(str(path / "synthgp.duckdb"), read_only=read_only)


def test_generated_record_keeps_every_invariant(small):
    assert integrity.check(_con(small)) == {k: 0 for k in integrity.CHECKS}


def test_the_record_is_rich_enough_to_check(small):
    con = _con(small)
    n = lambda sql: con.execute(sql).fetchone()[0]  # noqa: E731
    assert n("SELECT count(*) FROM drug_issue") > 10_000
    assert n("SELECT count(DISTINCT prodcodeid) FROM drug_issue") >= 8
    assert n("SELECT count(*) FROM referral") > 0
    assert n("""SELECT count(*) FROM observation o JOIN medical_dictionary m USING (medcodeid)
                WHERE m.snomedctconceptid = 314446007""") > 50  # ABPM
    assert n("""SELECT count(*) FROM drug_issue i JOIN product_dictionary p USING (prodcodeid)
                WHERE p.drugsubstancename = 'Spironolactone'""") > 0
    qrisk = con.execute("""SELECT min(value), max(value) FROM observation o JOIN medical_dictionary m USING (medcodeid)
                           WHERE m.snomedctconceptid = 1085871000000105""").fetchone()
    assert 0 <= qrisk[0] and qrisk[1] <= 100


@pytest.fixture()
def faulty(small, tmp_path):
    out = tmp_path / "faulty"
    shutil.copytree(small, out)
    return out


def test_each_integrity_check_can_fail(faulty):
    con = _con(faulty, read_only=False)
    # a prescription after death
    con.execute("""INSERT INTO drug_issue SELECT i.* REPLACE (p.cprd_ddate + 20 AS issuedate, p.cprd_ddate + 20 AS enterdate,
                   i.issueid + 7 AS issueid) FROM drug_issue i JOIN patient p USING (patid)
                   WHERE p.cprd_ddate IS NOT NULL LIMIT 1""")
    # a lone systolic
    con.execute("""DELETE FROM observation WHERE obsid = (SELECT min(d.obsid) FROM observation d
                   JOIN medical_dictionary m USING (medcodeid) WHERE m.snomedctconceptid = 163031004)""")
    # an ACE inhibitor and an ARB on the same day
    con.execute("""INSERT INTO drug_issue SELECT i.* REPLACE (i.issueid + 3 AS issueid,
                   (SELECT prodcodeid FROM product_dictionary WHERE drugsubstancename = 'Losartan' LIMIT 1) AS prodcodeid)
                   FROM drug_issue i JOIN product_dictionary p USING (prodcodeid) WHERE p.drugsubstancename = 'Ramipril' LIMIT 1""")
    # spironolactone after a potassium of 5.2
    con.execute("""UPDATE observation SET value = 5.2 WHERE medcodeid = (SELECT medcodeid FROM medical_dictionary
                   WHERE snomedctconceptid = 1000651000000109) AND patid IN (SELECT patid FROM drug_issue i
                   JOIN product_dictionary p USING (prodcodeid) WHERE p.drugsubstancename = 'Spironolactone')""")
    # a code missing from the dictionary
    con.execute("UPDATE observation SET medcodeid = 999999 WHERE obsid = (SELECT max(obsid) FROM observation)")
    got = integrity.check(con)
    for name in ("prescription_outside_registration", "systolic_without_diastolic", "acei_and_arb_together",
                 "spironolactone_without_prior_potassium", "code_not_in_dictionary"):
        assert got[name] > 0, name


def _memory_db(plan, tables):
    con = duckdb.connect()
    everything = dict(tables)
    everything.update(record.plan_tables(plan))
    look = record.lookup_tables()
    everything["medical_dictionary"] = look["MedicalDictionary"]
    everything["product_dictionary"] = look["ProductDictionary"]
    for name, t in everything.items():
        con.register(f"_{name}", t)
        con.execute(f"CREATE TABLE {name} AS SELECT * FROM _{name}")
    return con


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**31), n=st.integers(50, 2500), region=st.sampled_from(["south_west", "england"]),
       inertia=st.floats(0, 1), adherence=st.floats(0, 1))
def test_invariants_hold_over_seeds_sizes_and_behaviour(seed, n, region, inertia, adherence):
    sc = scenario.build({"population": {"region": region}, "care": {"inertia": inertia, "nonadherent_share": adherence}})
    plan = population.make_plan(sc, seed, n)
    con = _memory_db(plan, block.block_tables(plan, 0, n))
    assert integrity.check(con) == {k: 0 for k in integrity.CHECKS}


def test_first_line_drugs_follow_ng136(small):
    """Every new start recorded in the truth follows 1.4.32-1.4.37 given age, family origin and diabetes."""
    con = _con(small)
    rows = con.execute("""
        SELECT d.drug, date_diff('day', t.date_of_birth, d.date) / 365.25 AS age, t.ethnicity_broad = 'Black' AS black,
               EXISTS (SELECT 1 FROM observation o JOIN medical_dictionary m USING (medcodeid)
                       WHERE o.patid = d.patid AND m.snomedctconceptid = 44054006 AND o.obsdate <= d.date) AS t2dm
        FROM decision_truth d JOIN person_truth t USING (patid)
        WHERE d.decision = 'start' AND d.rule LIKE '1.4.32%'""").fetchall()
    assert len(rows) > 100
    for drug, age, black, t2dm in rows:
        if t2dm or (age < 55 and not black):
            assert drug in ("ramipril", "losartan"), (drug, age, black, t2dm)
            assert drug == "losartan" or not black
        else:
            assert drug in ("amlodipine", "indapamide"), (drug, age, black, t2dm)


def test_truth_is_apart_from_the_record(small):
    for f in (small / "aurum").rglob("*.txt"):
        header = f.read_text().split("\n", 1)[0]
        for truth_col in ("usual_sbp", "adherence", "true_hypertension_onset", "ethnicity"):
            assert truth_col not in header


def test_readings_show_end_digit_preference_and_stay_physiological():
    ids = np.arange(200_000)
    true_s = np.random.default_rng(1).normal(140, 25, len(ids))
    true_d = true_s * 0.6
    s, d, _ = bp.clinic_reading(lambda purpose: Draws(3, purpose), ids, 0, true_s, true_d, np.zeros(len(ids)), np.zeros(len(ids)))
    zero = (s % 10 == 0).mean()
    assert 0.3 < zero < 0.45  # 30% manual rounding + 10% by chance of the rest: far above 10%
    assert s.min() >= 75 and s.max() <= 260 and (s - d >= 15).all()


@settings(max_examples=200, deadline=None)
@given(usual=st.floats(60, 320), units=st.floats(0, 8), response=st.floats(0.1, 5), adherence=st.floats(0, 1))
def test_treatment_lowering_is_bounded_and_never_impossible(usual, units, response, adherence):
    u = np.array([usual])
    ls, ld = bp.drug_lowering(u, np.array([units]), np.array([response]), np.array([adherence]))
    assert ls[0] >= 0 and ld[0] >= 0
    assert ls[0] <= 0.8 * max(usual - 100, 0) + 1e-9
    s, d = bp.bound(u - ls, u * 0.6 - ld)
    assert 75 <= s[0] <= 260 and 40 <= d[0] <= 150 and s[0] - d[0] >= 15 - 1e-9


def test_out_of_clinic_readings_run_below_clinic():
    ids = np.arange(100_000)
    true_s = np.full(len(ids), 150.0)
    oc_s, _ = bp.out_of_clinic(lambda purpose: Draws(1, purpose), ids, 0, true_s, true_s * 0.6, np.zeros(len(ids), dtype=bool))
    assert abs(oc_s.mean() - 145) < 0.2  # 5 mmHg below clinic-equivalent (NG136 1.4.18)


def test_default_scenario_calibrates(tmp_path):
    """A calibration, not a validation: care parameters were tuned (on other seeds) to these figures.

    200,000 patients: the youngest register band (0.4%) has a sampling SE of about 21% (relative)
    at 50,000 patients, nearly its whole 25% tolerance; at 200,000 it is about 10%."""
    out = generate(tmp_path / "cal", 200_000, seed=31, formats=("duckdb",), workers=2)
    rows = [r for r in calibration.for_output(out) if r.id in (
        "hypertension_register", "register_by_age", "controlled_under80", "controlled_80_plus", "undiagnosed_share")]
    assert len(rows) == 11
    failed = [r for r in rows if not r.passed]
    assert not failed, calibration.format_table(failed)


def test_ids_of_different_tables_never_coincide(small):
    con = _con(small)
    clash = con.execute("""SELECT (SELECT count(*) FROM observation o JOIN drug_issue i ON i.issueid = o.obsid)
                                + (SELECT count(*) FROM observation o JOIN consultation c ON c.consid = o.obsid)
                                + (SELECT count(*) FROM consultation c JOIN drug_issue i ON i.issueid = c.consid)""").fetchone()[0]
    assert clash == 0
    assert con.execute("SELECT count(*) FROM drug_issue WHERE probobsid IS NOT NULL").fetchone()[0] > 0
