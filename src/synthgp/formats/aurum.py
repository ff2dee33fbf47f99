"""CPRD Aurum files: tab-delimited .txt with a header row, dates as DD/MM/YYYY, empty for missing.

Only the `record` tables with an `aurum_file` are written, with only their Aurum columns; the
identity and truth tables never reach these files. Lookups go to `lookups/`, the medical
dictionary beside the tables.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from synthgp.core import schema

LOOKUPS = ("JobCat", "Gender", "PatientType", "ObsType", "NumUnit", "Region", "ConsSource", "ProbStatus", "Sign",
           "RefUrgency", "RefServiceType", "RefMode", "QuantUnit", "common_dosages")
_OPTIONS = "HEADER, DELIMITER '\t', DATEFORMAT '%d/%m/%Y', QUOTE '', NULLSTR ''"


def _copy(con: duckdb.DuckDBPyConnection, select: str, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    con.execute(f"COPY ({select}) TO '{path.as_posix()}' ({_OPTIONS})")


def write(con: duckdb.DuckDBPyConnection, out: Path, sc: object = None) -> None:
    folder = Path(out) / "aurum"
    for t in schema.ALL_TABLES:
        if t.group == "record" and t.aurum_file:
            cols = ", ".join(t.aurum_columns)
            _copy(con, f"SELECT {cols} FROM {t.name}", folder / t.aurum_file)
    for name in LOOKUPS:
        _copy(con, f'SELECT * FROM "lookup_{name}"', folder / "lookups" / f"{name}.txt")
    _copy(con, "SELECT * EXCLUDE (cluster, code_status) FROM medical_dictionary", folder / "MedicalDictionary.txt")
    _copy(con, "SELECT * FROM product_dictionary", folder / "ProductDictionary.txt")
