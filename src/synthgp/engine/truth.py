"""Truth rows a component writes as it goes, handed back as columns in (patient, time, emission)
order, so neither blocks nor the order of steps change the table."""

from __future__ import annotations

import numpy as np


class TruthRows:
    def __init__(self, *columns: str):
        self.parts: dict[str, list] = {c: [] for c in columns}
        self.sizes: list[int] = []

    def add(self, n: int, **cols) -> None:
        """`n` rows; each column an array of `n` or one value for all (spread when the table is made)."""
        if n:
            for k, v in cols.items():
                self.parts[k].append(v)
            self.sizes.append(n)

    def _column(self, k: str) -> np.ndarray:
        parts = [np.broadcast_to(np.asarray(v, dtype=object if isinstance(v, str) or v is None else None), n)
                 for v, n in zip(self.parts[k], self.sizes)]
        return np.concatenate(parts) if parts else np.empty(0, dtype=np.int64)

    def columns(self, by: str = "day", rename: dict[str, str] | None = None) -> dict[str, np.ndarray]:
        cols = {k: self._column(k) for k in self.parts}
        order = np.lexsort((np.arange(len(cols["pat"])), cols[by], cols["pat"]))
        rename = rename or {}
        return {rename.get(k, k): v[order] for k, v in cols.items()}
