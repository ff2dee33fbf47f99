"""CPRD Aurum files: tab-delimited .txt with a header row, dates as DD/MM/YYYY, empty for missing.

Only the `record` tables with an `aurum_file` are written, with only their Aurum columns; the
identity and truth tables never reach these files. Tables are named as CPRD delivers them,
`<PREFIX>_extract_<table>_<NNN>.txt` with the table in lowercase and a chunk number from 001
(e.g. `synthgp_set1_extract_observation_001.txt`): loaders written for real extracts find files by
these names (rAURUM/rcprd match the lowercase table name in the file name, and the number after
"set" when asked for the set). A table longer than CHUNK_ROWS rows comes in several chunks, in the
record's order. Lookups go to `lookups/`, the dictionaries beside the tables, linked data to `linked/`.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from synthgp.core import schema

LOOKUPS = ("JobCat", "Gender", "PatientType", "ObsType", "NumUnit", "Region", "ConsSource", "ProbStatus", "Sign",
           "RefUrgency", "RefServiceType", "RefMode", "QuantUnit", "common_dosages")
PREFIX = "synthgp_set1"  # CPRD's files start with the extract's name and patient set, e.g. aurum_allpatid_set1
# Rows per chunk. CPRD splits large tables into numbered chunks; the size it uses is not published
# (nor confirmed here), so this is ours: any loader that reads CPRD's chunks reads any number of them.
CHUNK_ROWS = 1_000_000
_OPTIONS = "HEADER, DELIMITER '\t', DATEFORMAT '%d/%m/%Y', QUOTE '', NULLSTR ''"


def file_name(table: str, chunk: int = 1) -> str:
    """CPRD's name for chunk `chunk` (from 1) of an Aurum table, e.g. ('Observation', 1) ->
    synthgp_set1_extract_observation_001.txt."""
    return f"{PREFIX}_extract_{table.lower()}_{chunk:03d}.txt"


def files(folder: Path, table: str) -> list[Path]:
    """The chunk files of an Aurum table (e.g. 'Observation') in `folder`, in chunk order."""
    return sorted(Path(folder).glob(f"*_extract_{table.lower()}_[0-9][0-9][0-9].txt"))


def _copy(con: duckdb.DuckDBPyConnection, select: str, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    con.execute(f"COPY ({select}) TO '{path.as_posix()}' ({_OPTIONS})")


def _write_table(con: duckdb.DuckDBPyConnection, t: schema.Table, folder: Path) -> None:
    cols = ", ".join(t.aurum_columns)
    if "/" in t.aurum_file:  # linked data keeps its own name (linked/patient_2019_imd.txt)
        _copy(con, f"SELECT {cols} FROM {t.name}", folder / t.aurum_file)
        return
    table = Path(t.aurum_file).stem
    n = con.execute(f"SELECT count(*) FROM {t.name}").fetchone()[0]
    if n <= CHUNK_ROWS:  # one chunk (an empty table still gets its header-only chunk 001)
        _copy(con, f"SELECT {cols} FROM {t.name}", folder / file_name(table, 1))
        return
    # cut by rowid, a range scan per chunk: a stored table's own, or a view's rows held once in a temp table
    stored = con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = ? AND NOT temporary "
                         "AND database_name = current_database() AND schema_name = current_schema()",
                         [t.name]).fetchone()[0] > 0
    src = t.name if stored else f"_aurum_{t.name}"
    if not stored:
        con.execute(f"CREATE OR REPLACE TEMP TABLE {src} AS SELECT {cols} FROM {t.name}")
    try:
        top = con.execute(f"SELECT max(rowid) + 1 FROM {src}").fetchone()[0]  # rowids may have gaps
        for i in range(-(-top // CHUNK_ROWS)):
            lo, hi = i * CHUNK_ROWS, (i + 1) * CHUNK_ROWS
            _copy(con, f"SELECT {cols} FROM {src} WHERE rowid >= {lo} AND rowid < {hi} ORDER BY rowid",
                  folder / file_name(table, i + 1))
    finally:
        if not stored:
            con.execute(f"DROP TABLE IF EXISTS {src}")


def write(con: duckdb.DuckDBPyConnection, out: Path, sc: object = None) -> None:
    folder = Path(out) / "aurum"
    for t in schema.ALL_TABLES:
        if t.group == "record" and t.aurum_file:
            _write_table(con, t, folder)
    for name in LOOKUPS:
        _copy(con, f'SELECT * FROM "lookup_{name}"', folder / "lookups" / f"{name}.txt")
    _copy(con, "SELECT * EXCLUDE (cluster, code_status) FROM medical_dictionary", folder / "MedicalDictionary.txt")
    _copy(con, "SELECT * FROM product_dictionary", folder / "ProductDictionary.txt")
