"""Output formats, chosen from a registry. Each exporter reads the record through a DuckDB
connection on which every record table is visible by name, and writes under an output folder.
A new format is one module here plus one entry in FORMATS_INFO."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import duckdb

from synthgp.formats import aurum, cprd_covid, cprd_cvd, fhir, parquet, synthea_csv

# write(con, out_dir, scenario): read the record through `con`, write under `out_dir`
Exporter = Callable[[duckdb.DuckDBPyConnection, Path, object], None]


@dataclass(frozen=True)
class Format:
    write: Exporter
    folder: str  # the folder it writes under the output, replaced atomically by `synthgp export`
    about: str  # one line for --help and for the summary after a run


# duckdb is not here: the DuckDB file is the run's own store, written by the engine itself.
FORMATS_INFO: dict[str, Format] = {
    "aurum": Format(aurum.write, "aurum", "CPRD Aurum text files"),
    "cprd-cvd": Format(cprd_cvd.write, cprd_cvd.SUBDIR,
                       "the regulator's flat cardiovascular table (QRISK3 predictors + outcomes), CSV and Parquet"),
    "cprd-covid": Format(cprd_covid.write, cprd_covid.SUBDIR,
                         "the regulator's COVID-19 cohort as one flat table (risk factors, tests, outcomes), CSV and Parquet"),
    "parquet": Format(parquet.write, parquet.SUBDIR, "every table, partitioned by practice (<table>/pracid=N/)"),
    "fhir": Format(fhir.write, fhir.SUBDIR, "FHIR R4 UK Core bulk data, one NDJSON file per resource type"),
    "fhir-bundles": Format(fhir.write_bundles, fhir.BUNDLE_SUBDIR,
                           "one FHIR transaction Bundle per patient (<pracid>/<patid>.json), ready to POST"),
    "csv": Format(synthea_csv.write, synthea_csv.SUBDIR, "Synthea-style CSV (patients.csv, encounters.csv, ...)"),
}
EXPORTERS: dict[str, Exporter] = {k: f.write for k, f in FORMATS_INFO.items()}
FOLDERS = {k: f.folder for k, f in FORMATS_INFO.items()}
FORMATS = ("duckdb", *EXPORTERS)


def describe(indent: str = "  ") -> str:
    """The formats, a line each, for help texts."""
    width = max(map(len, FORMATS_INFO))
    return "\n".join(f"{indent}{k:<{width}}  {f.about} (DIR/{f.folder}/)" for k, f in FORMATS_INFO.items())
