"""What the regulator-shaped flat tables (cprd-cvd, cprd-covid) share: a column of the data dictionary,
and the files each is written as (Parquet, CSV and the dictionary as Markdown and JSON)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq


@dataclass(frozen=True)
class Col:
    name: str
    type: str
    levels: str
    meaning: str
    derivation: str
    extra: bool = False  # synthgp's own, after the regulator's columns


def write_files(folder: Path, stem: str, table: pa.Table, md: str, js: dict) -> None:
    """`stem`.parquet, `stem`.csv, data_dictionary.md and data_dictionary.json in `folder`."""
    pq.write_table(table, folder / f"{stem}.parquet")
    pacsv.write_csv(table, folder / f"{stem}.csv")
    (folder / "data_dictionary.md").write_text(md)
    (folder / "data_dictionary.json").write_text(json.dumps(js, indent=2) + "\n")
