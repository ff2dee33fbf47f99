"""The Aurum files as rAURUM (alexpate30/rAURUM, now CRAN's rcprd) reads them.

rAURUM finds a table's files with `list.files(dir, pattern = ".txt")` then `stringr::str_detect(file,
"<table>")` on the lowercase table name (R/misc_functions.R: cprd_extract, extract_cohort), and reads each
with `read.table(sep = "\\t", header = TRUE, colClasses = ...)` (R/functions_read_txt.R). Its BMI derivation
(R/extract_bmi.R) divides weight by height squared, taking numunitid 173, 432 and 3202 as metres.
The first tests reproduce those rules in Python from its source; the last runs rAURUM itself in R where
R and rAURUM are installed (skipped otherwise, saying so).
"""

from __future__ import annotations

import csv
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from synthgp.core import codes
from synthgp.formats import aurum

HERE = Path(__file__).parent
# rAURUM's colClasses per file type, in column order (R/functions_read_txt.R), c = character, i = integer, n = numeric
COL_CLASSES = {
    "patient": "ciciiiccicic",
    "observation": "cciccccccniinnc",
    "drugissue": "ccicccccccniin",
    "problem": "ccicciccii" + "i",
    "referral": "cciiiiii",
    "consultation": "ccicccc" + "ic",
}
TABLES = ("patient", "practice", "staff", "observation", "drugissue", "problem", "referral", "consultation")
INT = re.compile(r"^-?\d+$")
NUM = re.compile(r"^-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")


@pytest.fixture(scope="module")
def folder(clients_out) -> Path:
    return clients_out / "aurum"


def _raurum_files(folder: Path, filetype: str) -> list[Path]:
    """rAURUM's match: the folder's files whose name matches the regex '.txt', then those whose full path
    contains `filetype` (case-sensitive), sorted as list.files sorts them."""
    listed = sorted(p for p in folder.iterdir() if p.is_file() and re.search(".txt", p.name))
    return [p for p in listed if filetype in str(p)]


def _rows(paths: list[Path]) -> tuple[list[str], list[list[str]]]:
    header, rows = None, []
    for p in paths:
        with p.open(newline="") as f:
            r = list(csv.reader(f, delimiter="\t"))
        header = header or r[0]
        assert r[0] == header
        rows += r[1:]
    return header, rows


@pytest.mark.parametrize("table", TABLES)
def test_raurum_finds_each_table_by_its_lowercase_name(folder, table):
    found = _raurum_files(folder, table)
    assert found, f"rAURUM finds no {table} file"
    assert found == aurum.files(folder, table), "it finds exactly the table's chunks, nothing else"
    assert all(re.fullmatch(rf"{aurum.PREFIX}_extract_{table}_\d{{3}}\.txt", p.name) for p in found)
    # the set number after "set", as extract_txt_pat(set = TRUE) reads it: str_match(path, "set\\s*(.*?)\\s*_")
    assert re.search(r"set\s*(.*?)\s*_", found[0].name).group(1) == "1"


def test_large_tables_come_in_numbered_chunks_that_split_no_row(folder, monkeypatch, tmp_path):
    import duckdb

    monkeypatch.setattr(aurum, "CHUNK_ROWS", 10_000)
    con = duckdb.connect(str(folder.parent / "synthgp.duckdb"), read_only=True)
    aurum.write(con, tmp_path)
    n = con.execute("SELECT count(*) FROM observation").fetchone()[0]
    chunks = aurum.files(tmp_path / "aurum", "observation")
    assert [p.name[-7:-4] for p in chunks] == [f"{i:03d}" for i in range(1, len(chunks) + 1)]
    assert len(chunks) == -(-n // 10_000) > 1
    _, rows = _rows(chunks)
    _, whole = _rows(aurum.files(folder, "observation"))
    assert rows == whole  # the chunks, in order, are the table
    # a run without the DuckDB store exports from views: the same chunks, byte for byte
    views = duckdb.connect()
    views.execute(f"ATTACH '{(folder.parent / 'synthgp.duckdb').as_posix()}' AS src (READ_ONLY)")
    for (name,) in views.execute("SELECT table_name FROM duckdb_tables() WHERE database_name = 'src'").fetchall():
        views.execute(f'CREATE VIEW "{name}" AS SELECT * FROM src."{name}"')
    aurum.write(views, tmp_path / "from_views")
    again = aurum.files(tmp_path / "from_views" / "aurum", "observation")
    assert [p.read_bytes() for p in again] == [p.read_bytes() for p in chunks]


@pytest.mark.parametrize("table", sorted(COL_CLASSES))
def test_columns_read_with_raurums_classes(folder, table):
    header, rows = _rows(aurum.files(folder, table))
    classes = COL_CLASSES[table]
    assert len(header) == len(classes), "read.table with colClasses needs exactly these columns"
    for i, k in enumerate(classes):
        vals = [r[i] for r in rows if r[i] != ""]  # blank is NA for integer and numeric columns
        pattern = {"i": INT, "n": NUM}.get(k)
        if pattern:
            bad = [v for v in vals if not pattern.match(v)]
            assert not bad, f"{table}.{header[i]}: {bad[:3]} is not {'integer' if k == 'i' else 'numeric'}"
    # read.table's defaults: '#' starts a comment, quotes group fields; neither may appear in a data file
    assert not any("#" in v or '"' in v or "'" in v for r in rows for v in r)


def test_numunit_has_cprds_ids_for_the_units_loaders_check(folder):
    _, rows = _rows([folder / "lookups" / "NumUnit.txt"])
    units = {d: int(i) for i, d in rows}
    # ids that published code reading real Aurum data names (data/aurum_lookups.toml gives the sources)
    assert units["m"] in (173, 432, 3202)  # rAURUM's metre ids
    assert (units["cm"], units["kg"], units["kg/m2"], units["mmol/L"], units["umol/L"]) == (122, 156, 157, 218, 285)


def test_height_and_weight_give_back_the_recorded_bmi(folder):
    """rAURUM's path: BMI = weight / height^2 for a weight and a height of the same person and day."""
    header, rows = _rows(aurum.files(folder, "observation"))
    h = {c: i for i, c in enumerate(header)}
    _, units = _rows([folder / "lookups" / "NumUnit.txt"])
    unit = {i: d for i, d in units}
    want = {codes.medcode("bmi"): "bmi", codes.medcode("body_height"): "h", codes.medcode("body_weight"): "w"}
    seen: dict[tuple[str, str], dict[str, tuple[float, str]]] = {}
    for r in rows:
        k = want.get(int(r[h["medcodeid"]]))
        if k:
            seen.setdefault((r[h["patid"]], r[h["obsdate"]]), {})[k] = (float(r[h["value"]]), unit[r[h["numunitid"]]])
    pairs = [v for v in seen.values() if {"bmi", "h", "w"} <= v.keys()]
    assert len(pairs) > 500
    for v in pairs:
        (bmi, _), (height, hu), (weight, wu) = v["bmi"], v["h"], v["w"]
        assert (hu, wu) == ("m", "kg") and 1.3 < height < 2.2
        # the recorded BMI is the recorded weight over the recorded height squared, rounded to 0.1
        assert abs(weight / height**2 - bmi) <= 0.05 + 1e-9


def _raurum_available() -> str | None:
    if not shutil.which("Rscript"):
        return "R is not installed (apt-get install r-base-core r-cran-data.table r-cran-dplyr r-cran-fastmatch " \
               "r-cran-rsqlite r-cran-stringr, then R CMD INSTALL a checkout of alexpate30/rAURUM)"
    ok = subprocess.run(["Rscript", "-e", "library(rAURUM)"], capture_output=True).returncode == 0
    return None if ok else "the rAURUM R package is not installed"


def test_raurum_itself_loads_the_files_and_derives_bmi(folder):
    why = _raurum_available()
    if why:
        pytest.skip(why)
    med = [str(codes.medcode(k)) for k in ("bmi", "body_weight", "body_height", "bp_systolic")]
    out = subprocess.run(["Rscript", str(HERE / "clients" / "raurum_steps.R"), str(folder), *med],
                         capture_output=True, text=True, timeout=600)
    steps = dict(re.findall(r"^STEP (\S+) (OK|FAIL)", out.stdout, re.M))
    assert steps and all(v == "OK" for v in steps.values()), out.stdout + out.stderr
    assert len(steps) == 10
    m = re.search(r"^STEP extract_bmi_from_height_weight_only OK (\d+) of (\d+) with bmi, median ([\d.]+)", out.stdout, re.M)
    assert m and int(m.group(1)) > 0.3 * int(m.group(2)) and 20 < float(m.group(3)) < 32
