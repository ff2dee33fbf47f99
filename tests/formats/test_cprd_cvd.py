"""The flat cardiovascular table: each column agrees with the Aurum record of the same patient."""

import csv
import datetime as dt
import json
import statistics
from collections import defaultdict

import pyarrow.parquet as pq
import pytest

from synthgp.cli import main
from synthgp.formats import cprd_cvd

BASELINE = dt.date(2015, 1, 1)  # the default: the study start


@pytest.fixture(scope="module")
def flat(small):
    assert main(["export", str(small), "--format", "cprd-cvd", "--overwrite"]) == 0
    return small


def _aurum(folder, name):
    with (folder / "aurum" / name).open(newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    return rows


def _day(s):
    return dt.datetime.strptime(s, "%d/%m/%Y").date()


@pytest.fixture(scope="module")
def record(flat):
    """Everything we need, read independently from the Aurum files (not from DuckDB)."""
    dic = {r["medcodeid"]: int(r["snomedctconceptid"] or 0) for r in _aurum(flat, "MedicalDictionary.txt")}
    obs = defaultdict(list)
    for o in _aurum(flat, "Observation.txt"):
        obs[o["patid"]].append((_day(o["obsdate"]), dic[o["medcodeid"]], o["value"], int(o["obsid"])))
    return obs


def test_columns_names_and_files(flat):
    folder = flat / cprd_cvd.SUBDIR
    t = pq.read_table(folder / "cprd_cvd.parquet")
    regulator = ["strokeha", "af", "atyantip", "steroid", "impot", "migr", "ra", "ckidney", "semi", "sle", "treathyp",
                 "type1", "type2", "ethr", "smoking", "fh_cad", "gender", "region", "age", "bmi", "choleratio", "sbp", "sbps"]
    assert t.column_names[:len(regulator)] == regulator
    assert t.num_rows > 1000
    with (folder / "cprd_cvd.csv").open() as f:
        header = next(csv.reader(f))
    assert header == t.column_names
    js = json.loads((folder / "data_dictionary.json").read_text())
    assert [c["column"] for c in js["columns"]] == t.column_names and js["baseline"] == BASELINE.isoformat()
    assert "| `strokeha` |" in (folder / "data_dictionary.md").read_text()
    ages = t.column("age").to_pylist()
    assert min(ages) >= 25 and max(ages) <= 84


def test_each_column_agrees_with_the_record(flat, record):
    rows = pq.read_table(flat / cprd_cvd.SUBDIR / "cprd_cvd.parquet").to_pylist()
    checked = defaultdict(int)
    for r in rows[::7]:
        o = sorted(x for x in record[str(r["patid"])] if x[0] <= BASELINE)
        codes = {x[1] for x in o}
        assert r["type2"] == int(44054006 in codes)
        assert r["af"] == int(49436004 in codes)
        assert r["ckidney"] == int(bool(codes & {433144002, 431857002, 433146000}))
        sbps = [(d, float(v), i) for d, c, v, i in o if c == 163030003]
        if sbps:
            assert r["sbp"] == max(sbps, key=lambda x: (x[0], x[2]))[1]  # the latest reading before baseline
            checked["sbp"] += 1
        else:
            assert r["sbp"] is None  # missing only where the record lacks a value
        window = [v for d, v, _ in sbps if d > BASELINE.replace(year=BASELINE.year - 5)]
        if len(window) >= 2:
            assert r["sbps"] == pytest.approx(statistics.stdev(window), abs=0.006)
            checked["sbps"] += 1
        else:
            assert r["sbps"] is None
        bmis = [(d, float(v), i) for d, c, v, i in o if c == 60621009]
        assert (r["bmi"] is None) == (not bmis)
        if bmis:
            assert r["bmi"] == max(bmis, key=lambda x: (x[0], x[2]))[1]
        after = {c for d, c, _, _ in record[str(r["patid"])] if d > BASELINE}
        assert r["strokeha"] <= int(230690007 in after)
        if r["type2"]:
            checked["type2"] += 1
    assert checked["sbp"] > 50 and checked["sbps"] > 10 and checked["type2"] > 10


def test_qrisk3_column_is_in_range_and_rises_with_age(flat):
    t = pq.read_table(flat / cprd_cvd.SUBDIR / "cprd_cvd.parquet").to_pylist()
    young = [r["qrisk3"] for r in t if r["age"] < 40]
    old = [r["qrisk3"] for r in t if r["age"] >= 70]
    assert all(0 <= r["qrisk3"] <= 100 for r in t)
    assert statistics.mean(old) > 5 * statistics.mean(young)


def test_export_refuses_to_overwrite_and_validates(flat, capsys):
    assert main(["export", str(flat), "--format", "cprd-cvd"]) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert main(["export", str(flat), "--format", "hl7v2"]) == 2
    assert "allowed: aurum, cprd-cvd, parquet, fhir, fhir-bundles, csv" in capsys.readouterr().err
    assert main(["export", str(flat / "nowhere"), "--format", "cprd-cvd"]) == 2


def test_the_docs_worked_example_runs(flat):
    import importlib.util
    from pathlib import Path

    spec = importlib.util.spec_from_file_location("example", Path(__file__).parents[2] / "docs/examples/cprd_cvd_summary.py")
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    text = example.summarise(flat)
    assert "adults aged 25-84" in text and "strokeha" in text and "QRISK3 band" in text
