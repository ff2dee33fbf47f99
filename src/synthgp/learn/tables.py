"""Reading and writing tables (CSV or Parquet), kept apart from the evaluation so `learn sample` starts fast."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    import pyarrow as pa


def read_table(path) -> pd.DataFrame:
    """A CSV or Parquet file, by extension."""
    from pathlib import Path

    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return pd.read_csv(path)
    if suffix in (".parquet", ".pq"):
        return pd.read_parquet(path)
    raise ValueError(f"{path}: give a .csv or .parquet file (not {suffix or 'no extension'})")


def write_table(df: pd.DataFrame | tuple[dict[str, tuple[np.ndarray, bool]], list], path, overwrite: bool = False) -> None:
    """CSV or Parquet by extension, written to a temporary name and renamed (never half a file). For
    Parquet, `df` may be (`model.sample_arrays(...)`, the model's columns): written without pandas."""
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

        t = _arrow(*df) if isinstance(df, tuple) else pa.Table.from_pandas(df, preserve_index=False)
        pq.write_table(t, tmp, use_dictionary=[f.name for f in t.schema if not pa.types.is_floating(f.type)],
                       store_schema=not isinstance(df, tuple))  # text read back as text, not as categories
    os.replace(tmp, path)


def _arrow(arrays: dict[str, tuple[np.ndarray, bool]], cols: list) -> pa.Table:
    """`encode.arrays(..., text_codes=True)` as an Arrow table, from the numpy buffers (pa.array would
    import pandas): numbers as they are (NaN as null, as pandas writes it), booleans bit-packed, text
    as a dictionary over its levels."""
    import numpy as np
    import pyarrow as pa

    def validity(ok: np.ndarray | None):
        return None if ok is None or ok.all() else pa.py_buffer(np.packbits(ok, bitorder="little"))

    out = []
    for c in cols:
        v, _ = arrays[c.name]
        n = len(v)
        if c.kind == "categorical" and c.dtype in ("object", "str"):
            words = [w.encode() for w in c.levels]
            offsets = np.cumsum([0, *map(len, words)], dtype=np.int32)
            levels = pa.Array.from_buffers(pa.string(), len(words), [None, pa.py_buffer(offsets), pa.py_buffer(b"".join(words))])
            idx = np.ascontiguousarray(v, dtype=np.int32)
            out.append(pa.DictionaryArray.from_arrays(
                pa.Array.from_buffers(pa.int32(), n, [validity(idx < len(words)), pa.py_buffer(idx)]), levels))
        elif v.dtype == bool:
            out.append(pa.Array.from_buffers(pa.bool_(), n, [None, pa.py_buffer(np.packbits(v, bitorder="little"))]))
        else:
            v = np.ascontiguousarray(v)
            out.append(pa.Array.from_buffers(pa.from_numpy_dtype(v.dtype), n,
                                             [validity(~np.isnan(v)) if v.dtype.kind == "f" else None, pa.py_buffer(v)]))
    return pa.Table.from_arrays(out, names=[c.name for c in cols])
