"""The calibration table's sampling margin (evaluate/sampling.py): a share carries its denominator, and a figure outside
its tolerance is marked `noise` only when the miss is within the run's 95% sampling margin."""

import datetime as dt
import math

import duckdb
import pytest

from synthgp.evaluate import calibration
from synthgp.evaluate.calibration import Row
from synthgp.evaluate.sampling import Share, margin

from tests.conftest import generate


def row(generated, target=0.004, tolerance=0.25, relative=True, n=None) -> Row:
    return Row(id="register_by_age", what="", part="20-29", target=target, generated=generated, tolerance=tolerance,
               role="calibration", source="", relative=relative, n=n)


def test_margin_is_the_binomial_interval():
    assert margin(0.004, 2_600) == pytest.approx(1.96 * math.sqrt(0.004 * 0.996 / 2_600))
    assert margin(0.5, None) == 0 and margin(0.5, 0) == 0


def test_status_pass_noise_fail():
    # 0.004 +- 25% is 0.003-0.005; at 2,600 people the margin is 0.0024, so 0.002 is noise, 0.0005 below it fails
    assert row(0.0045, n=2_600).status == "pass"
    assert row(0.002, n=2_600).status == "noise" and not row(0.002, n=2_600).passed
    assert row(0.0002, n=2_600).status == "FAIL"
    # the same miss over 260,000 people is a real one; and with no denominator there is no margin to allow
    assert row(0.002, n=260_000).status == "FAIL"
    assert row(0.002).status == "FAIL"
    # a range widens at both ends by the margin of its middle; absolute tolerances likewise
    r = Row(id="x", what="", part="", target=(0.67, 0.78), generated=0.80, tolerance=None, role="calibration",
            source="", n=400)
    assert r.status == "noise" and Row(**{**r.__dict__, "n": 40_000}).status == "FAIL"
    assert row(0.62, target=0.56, tolerance=0.05, relative=False, n=500).status == "noise"


def test_share_is_a_float_with_its_denominator():
    s = Share(0.25, 40)
    assert s == 0.25 and s * 4 == 1.0 and s.n == 40 and s.per == 1 and isinstance(s, float)


def test_a_rate_per_100000_takes_the_margin_of_its_proportion():
    # 100 per 100,000 over 20,000 people is 20 cases: the margin is that of 0.001 over 20,000, scaled back up
    r = Row(id="x", what="", part="", target=100.0, generated=55.0, tolerance=0.25, role="validation", source="",
            relative=True, n=20_000, per=100_000)
    assert r.noise == pytest.approx(100_000 * margin(0.001, 20_000))
    assert r.status == "noise" and Row(**{**r.__dict__, "n": 2_000_000}).status == "FAIL"


def test_a_small_practice_marks_shares_with_their_people(tmp_path):
    """A real 3,000-patient practice: the register bands carry the number of people in each band, counted here
    again from the record, and the table marks any miss within noise as `noise`."""
    out = generate(tmp_path / "out", 3_000, seed=7)
    rows = [r for r in calibration.for_output(out) if r.id == "register_by_age"]
    assert len(rows) == 7 and all(r.n for r in rows)
    con = duckdb.connect(str(out / "synthgp.duckdb"), read_only=True)
    end = con.execute("SELECT max(lcd) FROM practice").fetchone()[0]
    n_20s = con.execute("""SELECT count(*) FROM patient p JOIN person_truth t USING (patid)
        WHERE p.regenddate IS NULL AND p.cprd_ddate IS NULL AND p.patienttypeid = 3
          AND date_diff('year', t.date_of_birth, ?::DATE) - (strftime(t.date_of_birth, '%m%d') > strftime(?::DATE, '%m%d'))::INT
              BETWEEN 20 AND 29""", [end, end]).fetchone()[0]
    con.close()
    assert rows[0].n == n_20s
    for r in rows:
        assert r.status == ("pass" if r.passed else "noise" if abs(r.generated - r.target) <= 0.25 * r.target + r.noise
                            else "FAIL")
    table = calibration.format_table(calibration.for_output(out), 3_000)
    assert "sampling noise" in table and " noise " in table.splitlines()[0]


def test_a_rate_has_a_poisson_margin_and_is_marked_noise_within_it():
    """2.6 per 100,000 over 112,000 person-years expects 2.9 cases: the 95% margin is 1.96 * sqrt(2.9) cases, in the
    rate's unit 3.0 per 100,000; over 100 times the person-years it is a tenth of that."""
    from synthgp.evaluate.sampling import Rate, rate_margin

    expected = 2.6 * 112_000 / 100_000
    assert rate_margin(2.6, 112_000, 100_000) == pytest.approx(1.96 * math.sqrt(expected) * 100_000 / 112_000)
    assert rate_margin(2.6, 11_200_000, 100_000) == pytest.approx(rate_margin(2.6, 112_000, 100_000) / 10)
    assert rate_margin(2.6, 0, 100_000) == 0
    r = Rate(5.3, 112_000, 100_000)
    assert r == 5.3 and r.years == 112_000 and r.per == 100_000
    common = dict(id="accelerated_hypertension_incidence", what="", part="", target=2.6, tolerance=0.9,
                  role="calibration", source="")
    assert Row(generated=r, per_years=(r.years, r.per), **common).status == "noise"  # 5.3 < 2.6 + 0.9 + 3.0
    assert Row(generated=r, per_years=(100 * r.years, r.per), **common).status == "FAIL"
    assert Row(generated=r, **common).status == "FAIL"  # no person-years: no margin


def test_accelerated_incidence_counts_first_codes_in_the_window_over_person_years(tmp_path):
    """A DuckDB file with the record's tables: two people registered all of 2020 (731 days over 2020-2021), one
    joining on 1 January 2021; the first malignant-hypertension code of person 1 is in the window (a second one
    later is not a new case), person 2's is before it; person 3 has none."""
    from synthgp.core import codes
    from synthgp.evaluate import care_gaps

    con = duckdb.connect(str(tmp_path / "r.duckdb"))
    con.execute("CREATE TABLE patient (patid BIGINT, regstartdate DATE, regenddate DATE, cprd_ddate DATE)")
    con.execute("INSERT INTO patient VALUES (1, '2010-01-01', NULL, NULL), (2, '2010-01-01', NULL, NULL), "
                "(3, '2021-01-01', NULL, NULL)")
    con.execute("CREATE TABLE medical_dictionary (medcodeid BIGINT, snomedctconceptid BIGINT)")
    con.execute("INSERT INTO medical_dictionary VALUES (?, ?)",
                [codes.medcode("hypertension_malignant"), codes.snomed("hypertension_malignant")])
    con.execute("CREATE TABLE observation (patid BIGINT, obsdate DATE, medcodeid BIGINT)")
    m = codes.medcode("hypertension_malignant")
    con.execute("INSERT INTO observation VALUES (1, '2020-06-01', ?), (1, '2021-03-01', ?), (2, '2019-06-01', ?)", [m, m, m])
    got = care_gaps.accelerated_incidence(con, dt.date(2020, 1, 1), dt.date(2021, 12, 31))["accelerated_hypertension_incidence"]
    years = (731 + 731 + 365) / 365.25
    assert got.years == pytest.approx(years) and got == pytest.approx(100_000 / years)
