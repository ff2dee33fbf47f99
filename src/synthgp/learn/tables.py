"""Reading and writing tables (CSV or Parquet), kept apart from the evaluation so `learn sample` starts fast."""

from __future__ import annotations

import pandas as pd


def read_table(path) -> pd.DataFrame:
    """A CSV or Parquet file, by extension."""
    from pathlib import Path

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return pd.read_csv(path)
    if suffix in (".parquet", ".pq"):
        return pd.read_parquet(path)
    raise ValueError(f"{path}: give a .csv or .parquet file (not {suffix or 'no extension'})")


def write_table(df: pd.DataFrame, path, overwrite: bool = False) -> None:
    """CSV or Parquet by extension, written to a temporary name and renamed (never half a file)."""
    import os
    from pathlib import Path

    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".parquet", ".pq"):
        raise ValueError(f"{path}: the output must end in .csv or .parquet")
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} exists; add --overwrite to replace it")
    tmp = path.with_name(f".{path.name}.partial")
    if suffix == ".csv":
        df.to_csv(tmp, index=False)
    else:  # dictionary pages only for columns that are not floats: continuous values rarely repeat, so
        # trying a dictionary on them costs time and saves nothing (a third of the write at 1,000,000 rows)
        import pyarrow as pa
        import pyarrow.parquet as pq

        t = pa.Table.from_pandas(df, preserve_index=False)
        pq.write_table(t, tmp, use_dictionary=[f.name for f in t.schema if not pa.types.is_floating(f.type)])
    os.replace(tmp, path)
