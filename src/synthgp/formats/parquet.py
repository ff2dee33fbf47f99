"""Parquet: every table of the record, the identities and the ground truth, partitioned by practice.

`parquet/<table>/pracid=<id>/*.parquet` (hive layout), so DuckDB, Polars or Spark read one practice
or all of them fast: `SELECT * FROM read_parquet('parquet/observation/*/*.parquet', hive_partitioning=true)`.
Tables without a practice column are partitioned by the practice in their ids (patid's last five
digits); dictionaries and lookups are single files under `parquet/reference/`.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from synthgp.core import schema
from synthgp.core.ids import PATID_MULT

SUBDIR = "parquet"


def write(con: duckdb.DuckDBPyConnection, out: Path, sc: object = None) -> None:
    folder = Path(out) / SUBDIR
    folder.mkdir(parents=True, exist_ok=True)
    for t in schema.ALL_TABLES:
        cols = [c.name for c in t.columns]
        if "pracid" in cols:
            select = f"SELECT * FROM {t.name}"
        elif "patid" in cols:
            select = f"SELECT *, CAST(patid % {PATID_MULT} AS INTEGER) AS pracid FROM {t.name}"
        else:  # staff_identity: staffid ends in the pracid too
            select = f"SELECT *, CAST(staffid % {PATID_MULT} AS INTEGER) AS pracid FROM {t.name}"
        con.execute(f"COPY ({select}) TO '{(folder / t.name).as_posix()}' "
                    "(FORMAT parquet, PARTITION_BY (pracid), COMPRESSION zstd)")
    ref = folder / "reference"
    ref.mkdir(exist_ok=True)
    names = [r[0] for r in con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE table_name LIKE 'lookup_%' OR table_name LIKE '%_dictionary' "
        "UNION SELECT view_name FROM duckdb_views() WHERE NOT internal AND (view_name LIKE 'lookup_%' OR view_name LIKE '%_dictionary')"
    ).fetchall()]
    for name in sorted(names):
        con.execute(f'COPY (SELECT * FROM "{name}") TO \'{(ref / name).as_posix()}.parquet\' (FORMAT parquet)')
