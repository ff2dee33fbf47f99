"""Output formats, chosen from a registry. Each exporter reads the record through a DuckDB
connection on which every record table is visible by name, and writes under an output folder."""

from __future__ import annotations

from typing import Callable

import duckdb

from synthgp.exporters import aurum

Exporter = Callable[[duckdb.DuckDBPyConnection, "object"], None]

# duckdb is not here: the DuckDB file is the run's own store, written by the engine itself.
EXPORTERS: dict[str, Exporter] = {
    "aurum": aurum.write,
}
FORMATS = ("duckdb", *EXPORTERS)
