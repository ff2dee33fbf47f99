"""Output formats, chosen from a registry. Each exporter reads the record through a DuckDB
connection on which every record table is visible by name, and writes under an output folder."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import duckdb

from synthgp.exporters import aurum, cprd_cvd, parquet

# write(con, out_dir, scenario): read the record through `con`, write under `out_dir`
Exporter = Callable[[duckdb.DuckDBPyConnection, Path, object], None]

# duckdb is not here: the DuckDB file is the run's own store, written by the engine itself.
EXPORTERS: dict[str, Exporter] = {
    "aurum": aurum.write,
    "cprd-cvd": cprd_cvd.write,
    "parquet": parquet.write,
}
# the folder each exporter writes, for `synthgp export` to replace atomically
FOLDERS = {"aurum": "aurum", "cprd-cvd": cprd_cvd.SUBDIR, "parquet": parquet.SUBDIR}
FORMATS = ("duckdb", *EXPORTERS)
