"""The regulator's COVID-19 cohort as a flat table: its columns, its cohort against the record, and the worked
example of docs/covid_example.md run on a generated practice."""

import datetime as dt
import json
import re
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from synthgp.cli import main
from synthgp.formats import cprd_covid

START, END = dt.date(2019, 12, 3), dt.date(2021, 4, 12)


@pytest.fixture(scope="module")
def flat(small):
    assert main(["export", str(small), "--format", "cprd-covid", "--overwrite"]) == 0
    return small


@pytest.fixture(scope="module")
def rows(flat):
    return pq.read_table(flat / cprd_covid.SUBDIR / "cprd_covid.parquet").to_pylist()


def test_columns_files_and_dictionary(flat, rows):
    folder = flat / cprd_covid.SUBDIR
    t = pq.read_table(folder / "cprd_covid.parquet")
    assert t.column_names == [c.name for c in cprd_covid.COLUMNS]
    assert (folder / "cprd_covid.csv").read_text().splitlines()[0] == ",".join(f'"{c}"' for c in t.column_names)
    js = json.loads((folder / "data_dictionary.json").read_text())
    assert js["window"] == [START.isoformat(), END.isoformat()] and [c["column"] for c in js["columns"]] == t.column_names
    md = (folder / "data_dictionary.md").read_text()
    assert all(f"| `{c}` |" in md for c in t.column_names)
    assert len(rows) > 500 and {r["status"] for r in rows} == {"confirmed", "suspected", "negative"}


def test_the_cohort_is_the_window_and_no_covid_code_comes_before_2020(rows):
    assert all(START <= r["index_date"] <= END for r in rows)
    assert min(r["index_date"] for r in rows) >= dt.date(2020, 2, 1)
    neg = [r for r in rows if r["status"] == "negative"]
    assert len(neg) > sum(r["status"] == "confirmed" for r in rows)  # negative tests far outnumber cases
    assert all(r["negative_tests"] >= 1 and r["positive_date"] is None and not r["suspected"] for r in neg)
    assert all(r["positive_test_type"] in (None, "pcr", "antigen") for r in rows)
    assert not [r for r in rows if r["positive_test_type"] == "antigen" and r["positive_date"] < dt.date(2021, 4, 9)]
    assert all(r["first_dose_date"] is None or r["first_dose_date"] >= dt.date(2020, 12, 8) for r in rows)
    assert all(r["vaccine_doses"] == 0 for r in rows if r["index_date"] <= dt.date(2020, 12, 8))


def test_each_row_agrees_with_the_record(flat, rows):
    con = duckdb.connect(str(flat / "synthgp.duckdb"), read_only=True)
    try:
        death = dict(con.execute("SELECT patid, cprd_ddate FROM patient").fetchall())
        first = dict(con.execute("""SELECT o.patid, min(o.obsdate) FROM observation o JOIN medical_dictionary m USING (medcodeid)
                                    WHERE m.cluster IN ('COVIDPOS', 'COVID', 'COVIDHOSP', 'COVIDSUSP')
                                      AND o.obsdate BETWEEN ? AND ? GROUP BY 1""", [START, END]).fetchall())
        # nothing of a patient is dated after their death
        late = con.execute("""SELECT count(*) FROM observation o JOIN patient p USING (patid)
                              WHERE p.cprd_ddate IS NOT NULL AND o.obsdate > p.cprd_ddate""").fetchone()[0]
    finally:
        con.close()
    assert late == 0
    for r in rows:
        if r["status"] != "negative":
            assert first[r["patid"]] == r["index_date"], r["patid"]
        else:
            assert r["patid"] not in first
        d = death[r["patid"]]
        assert r["died_28d"] == int(d is not None and r["index_date"] <= d <= r["index_date"] + dt.timedelta(days=28))
    assert sum(r["died_28d"] for r in rows if r["status"] == "confirmed") >= 5


def test_the_docs_worked_example_reproduces_the_age_gradient_of_death(flat):
    """docs/covid_example.md's snippet, run as written: the odds of death among confirmed cases rise about
    threefold a decade (OpenSAFELY's hazard ratios rise 2.4-3.4 fold a decade from 50-59 on). Validation, not
    calibration: no parameter was fitted to it. The bounds 2-6 allow for a few dozen deaths (the 95% interval of
    the odds ratio is about 2 to 5 at this size)."""
    text = (Path(__file__).parents[2] / "docs" / "covid_example.md").read_text()
    code = re.search(r"```python\n(.*?)```", text, re.S).group(1)
    space: dict = {"__name__": "example"}
    exec(compile(code, "docs/covid_example.md", "exec"), space)
    r = space["death_by_age"](flat)
    assert r["cases"] > 200 and r["deaths"] >= 10
    assert 2.0 < r["or_per_decade"] < 6.0
    rates = list(r["death_rate_by_age"].values())
    assert all(a < b for a, b in zip(rates, rates[1:]))


def test_symptoms_oximetry_icu_and_long_covid_columns(rows):
    """Symptoms and advice only for suspected or confirmed cases; oximetry only from its programme; critical care
    only with an admission; long COVID only after the index date and from the codes' release."""
    neg = [r for r in rows if r["status"] == "negative"]
    sym = ("fever", "cough", "smell_taste", "breathless", "isolation_advice")
    assert not any(r[c] for r in neg for c in sym)
    suspected = [r for r in rows if r["status"] == "suspected"]
    assert suspected and all(any(r[c] for c in sym[:4]) for r in suspected)  # a suspected code comes with a symptom
    assert sum(r["cough"] for r in rows) > 20
    assert all(r["index_date"] >= dt.date(2020, 10, 1) for r in rows if r["oximetry"])
    icu = [r for r in rows if r["icu"]]
    assert icu and all(r["hospitalised"] for r in icu)


def test_long_covid_columns_over_a_longer_window(flat):
    """Long COVID is coded 12-26 weeks after an infection, from November 2020: in the regulator's window a
    20,000-patient practice codes a handful at most, so the columns are checked over 2020-2022."""
    con = duckdb.connect(str(flat / "synthgp.duckdb"), read_only=True)
    try:
        rows = cprd_covid.table(con, START, dt.date(2022, 12, 31)).to_pylist()
    finally:
        con.close()
    lc = [r for r in rows if r["long_covid"]]
    assert len(lc) >= 3 and all(r["status"] != "negative" or r["long_covid_date"] > r["index_date"] for r in lc)
    assert all(r["long_covid_date"] > r["index_date"] and r["long_covid_date"] >= dt.date(2020, 11, 23) for r in lc)
    assert all(r["long_covid"] for r in rows if r["post_covid_referral"])
    assert any(r["post_covid_referral"] for r in rows)


def test_a_window_that_ends_before_it_starts_is_refused(flat):
    con = duckdb.connect(str(flat / "synthgp.duckdb"), read_only=True)
    try:
        with pytest.raises(ValueError, match="after it ends"):
            cprd_covid.table(con, dt.date(2021, 1, 1), dt.date(2020, 1, 1))
    finally:
        con.close()


def test_the_learner_fits_the_table_and_samples_from_it(flat, tmp_path):
    """The regulator's workflow on the table: fit a Bayesian network (synthgp learn fit) and sample from it."""
    table = flat / cprd_covid.SUBDIR / "cprd_covid.csv"
    model, sample = tmp_path / "covid.npz", tmp_path / "synthetic.parquet"
    assert main(["learn", "fit", str(table), "--out", str(model), "--latent", "0", "--seed", "3"]) == 0
    assert main(["learn", "sample", str(model), "--rows", "1000", "--out", str(sample)]) == 0
    got = pq.read_table(sample)
    assert got.num_rows == 1000 and set(got.column_names) >= {"status", "age", "died_28d", "hospitalised"}
    assert set(got.column("status").to_pylist()) <= {"confirmed", "suspected", "negative"}
