"""The flat cardiovascular table: each column agrees with the Aurum record of the same patient."""

import csv
import datetime as dt
import json
import statistics
from collections import defaultdict

import pyarrow.parquet as pq
import pytest

from synthgp.cli import main
from synthgp.core import codes
from synthgp.formats import aurum, cprd_cvd

BASELINE = dt.date(2015, 1, 1)  # the default: the study start


@pytest.fixture(scope="module")
def flat(small):
    assert main(["export", str(small), "--format", "cprd-cvd", "--overwrite"]) == 0
    return small


def _aurum(folder, name):
    """Rows of an Aurum file, or of every CPRD-named chunk of a table (a name without .txt)."""
    paths = [folder / "aurum" / name] if name.endswith(".txt") else aurum.files(folder / "aurum", name)
    rows = []
    for path in paths:
        with path.open(newline="") as f:
            rows += list(csv.DictReader(f, delimiter="\t"))
    return rows


def _day(s):
    return dt.datetime.strptime(s, "%d/%m/%Y").date()


@pytest.fixture(scope="module")
def record(flat):
    """Everything we need, read independently from the Aurum files (not from DuckDB)."""
    dic = {r["medcodeid"]: int(r["snomedctconceptid"] or 0) for r in _aurum(flat, "MedicalDictionary.txt")}
    obs = defaultdict(list)
    for o in _aurum(flat, "Observation"):
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
        assert r["stroke_followup"] <= int(230690007 in after)  # strokeha also counts strokes before baseline
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
    assert "allowed: aurum, cprd-cvd, cprd-covid, parquet, fhir, fhir-bundles, csv" in capsys.readouterr().err
    assert main(["export", str(flat / "nowhere"), "--format", "cprd-cvd"]) == 2


def test_the_docs_worked_example_runs(flat):
    import importlib.util
    from pathlib import Path

    spec = importlib.util.spec_from_file_location("example", Path(__file__).parents[2] / "docs/examples/cprd_cvd_summary.py")
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    text = example.summarise(flat)
    assert "adults aged 25-84" in text and "strokeha" in text and "QRISK3 band" in text


# What the regulator's own code (CPRD/Synthetic-Data, latent_model/latentModel.R) expects of the table

def test_gender_is_the_text_code_the_regulators_code_filters_on(flat):
    """latentModel.R drops sampled rows with `gender == "F" & impot == 1` and gives gender four levels: the
    column holds CPRD's text codes (M, F, I, U), not 1/2."""
    t = pq.read_table(flat / cprd_cvd.SUBDIR / "cprd_cvd.parquet").to_pylist()
    genders = {r["gender"] for r in t}
    assert genders <= {"M", "F", "I", "U"} and {"M", "F"} <= genders
    assert not [r for r in t if r["gender"] == "F" and r["impot"] == 1]
    aurum = {int(r["patid"]): r["gender"] for r in _aurum(flat, "Patient")}
    assert all({"1": "M", "2": "F", "3": "I"}.get(aurum[r["patid"]], "U") == r["gender"] for r in t[::5])


def test_tab_delimited_file_reads_as_read_delim_would(flat):
    """The regulator's code reads its table with read.delim: tab-delimited, a header, NA for missing."""
    path = flat / cprd_cvd.SUBDIR / "cprd_cvd.txt"
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    t = pq.read_table(flat / cprd_cvd.SUBDIR / "cprd_cvd.parquet")
    assert list(rows[0]) == t.column_names and len(rows) == t.num_rows
    assert all(r["gender"] in ("M", "F", "I", "U") for r in rows)
    missing = sum(r["choleratio"] == "NA" for r in rows)
    assert missing == t.column("choleratio").null_count > 0 and not any(v == "" for r in rows for v in r.values())


def test_choleratio_is_rounded_to_one_decimal_as_the_regulator_rounds_it(flat, record):
    rows = pq.read_table(flat / cprd_cvd.SUBDIR / "cprd_cvd.parquet").to_pylist()
    ratios = [r["choleratio"] for r in rows if r["choleratio"] is not None]
    assert len(ratios) > 500 and all(round(v, 1) == v for v in ratios)
    checked = 0
    for r in rows[::11]:
        o = [x for x in record[str(r["patid"])] if x[0] <= BASELINE]
        tc, hdl = codes.snomed("cholesterol"), codes.snomed("hdl_cholesterol")
        last = {c: float(max(((d, i, v) for d, cc, v, i in o if cc == c))[2]) for c in (tc, hdl)
                if any(cc == c for _, cc, _, _ in o)}
        if len(last) == 2:
            assert r["choleratio"] == round(last[tc] / last[hdl], 1)
            checked += 1
    assert checked > 20


def test_strokeha_counts_a_stroke_recorded_before_baseline_too(flat, record):
    """strokeha is the regulator's stroke label (their evaluation trains a stroke classifier on it), with no
    dates: a stroke recorded on or before baseline counts, as a stroke in follow-up does."""
    rows = pq.read_table(flat / cprd_cvd.SUBDIR / "cprd_cvd.parquet").to_pylist()
    stroke_codes = {c.snomed for c in codes.in_cluster("STROKE")}
    before = 0
    for r in rows:
        strokes = [d for d, c, _, _ in record[str(r["patid"])] if c in stroke_codes]
        fu_end = BASELINE + dt.timedelta(days=round(r["followup_years"] * 365.25))
        assert r["strokeha"] == int(any(d <= fu_end + dt.timedelta(days=1) for d in strokes)), r["patid"]
        before += any(d <= BASELINE for d in strokes)
    assert before > 10


def test_treathyp_counts_antihypertensives_only(small, tmp_path):
    """A statin, aspirin or GTN (BNF chapter 2, not antihypertensives) must not make treathyp 1; amlodipine must."""
    import shutil

    import duckdb

    shutil.copy(small / "synthgp.duckdb", tmp_path / "synthgp.duckdb")
    con = duckdb.connect(str(tmp_path / "synthgp.duckdb"))
    before = {r["patid"]: r for r in cprd_cvd.table(con, BASELINE).to_pylist()}
    untreated = sorted(p for p, r in before.items() if r["treathyp"] == 0)[:4]
    others = [(10**12 + 1, "Atorvastatin 20mg tablets", "Atorvastatin", "0212000B0"),
              (10**12 + 2, "Aspirin 75mg dispersible tablets", "Aspirin", "0209000A0"),
              (10**12 + 3, "Glyceryl trinitrate 400micrograms/dose sublingual spray", "Glyceryl trinitrate", "0206010F0")]
    for pid, term, substance, bnf in others:
        con.execute("INSERT INTO product_dictionary (prodcodeid, termfromemis, productname, drugsubstancename, bnfchapter) "
                    "VALUES (?, ?, ?, ?, ?)", [pid, term, term, substance, bnf])
    amlodipine = con.execute("SELECT prodcodeid FROM product_dictionary WHERE drugsubstancename = 'Amlodipine' LIMIT 1").fetchone()[0]
    plant = [(untreated[0], others[0][0]), (untreated[1], others[1][0]), (untreated[2], others[2][0]), (untreated[3], amlodipine)]
    for k, (patid, prod) in enumerate(plant):
        con.execute("""INSERT INTO drug_issue (patid, issueid, pracid, issuedate, enterdate, prodcodeid, quantity, duration)
                       SELECT patid, ?, pracid, ?, ?, ?, 28, 28 FROM patient WHERE patid = ?""",
                    [10**13 + k, BASELINE - dt.timedelta(days=20), BASELINE - dt.timedelta(days=20), prod, patid])
    after = {r["patid"]: r for r in cprd_cvd.table(con, BASELINE).to_pylist()}
    con.close()
    assert [after[p]["treathyp"] for p, _ in plant] == [0, 0, 0, 1]
    assert sum(r["treathyp"] for r in after.values()) == sum(r["treathyp"] for r in before.values()) + 1


def test_treathyp_stays_0_with_the_registers_other_chapter_2_medicines(small, tmp_path):
    """The register pathways' cardiovascular medicines that are not antihypertensives (statin, antiplatelets,
    anticoagulants, loop diuretic, nitrate) and their other medicines leave treathyp 0; a beta-blocker given for
    angina or AF, or eplerenone for heart failure, is an antihypertensive agent by BNF section, as QRISK3 counts it."""
    import shutil

    import duckdb

    from synthgp.core import reference

    meds = reference.toml("medicines.toml")
    shutil.copy(small / "synthgp.duckdb", tmp_path / "synthgp.duckdb")
    con = duckdb.connect(str(tmp_path / "synthgp.duckdb"))
    before = {r["patid"]: r for r in cprd_cvd.table(con, BASELINE).to_pylist()}
    others = ["atorvastatin", "aspirin", "clopidogrel", "ticagrelor", "dipyridamole", "warfarin", "apixaban", "furosemide",
              "isosorbide_mononitrate", "metformin", "levothyroxine"]
    treat = ["bisoprolol", "eplerenone"]
    untreated = sorted(p for p, r in before.items() if r["treathyp"] == 0)[:len(others) + len(treat)]
    for k, (patid, drug) in enumerate(zip(untreated, others + treat)):
        con.execute("""INSERT INTO drug_issue (patid, issueid, pracid, issuedate, enterdate, prodcodeid, quantity, duration)
                       SELECT patid, ?, pracid, ?, ?, ?, 28, 28 FROM patient WHERE patid = ?""",
                    [10**13 + k, BASELINE - dt.timedelta(days=20), BASELINE - dt.timedelta(days=20),
                     meds[drug]["levels"][0]["prodcodeid"], patid])
    after = {r["patid"]: r for r in cprd_cvd.table(con, BASELINE).to_pylist()}
    con.close()
    assert [after[p]["treathyp"] for p in untreated] == [0] * len(others) + [1] * len(treat)
