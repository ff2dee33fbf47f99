"""Builds patients' FHIR resources for the API, the patients of many concurrent requests in one query.

A patient's resources of one type come from one SELECT (formats/fhir_resources.py), the export's own, of
which DuckDB spends nine tenths planning at 100,000 patients: requests for the same type share a query
(serve/shared_queries.py). A request asks for whole records of its patients, or for resources by id (then
only those are built: the id filter reaches below the JSON).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import duckdb

from synthgp.formats import fhir_resources as fhir
from synthgp.serve.shared_queries import BIGINT, Shared

Row = tuple[int, str, str, object]  # (patid, id, resource JSON, search date: None for Patient)


class Builder:
    """Resources of Patient and the patient-level types, by patient, over connections from `connect`."""

    def __init__(self, connect: Callable[[], duckdb.DuckDBPyConnection], shared: Shared | None = None):
        self.connect = connect
        self.shared = shared or Shared()

    def build(self, kind: str, patids: Iterable[int], ids: Iterable[str] | None = None) -> list[Row]:
        """The resources of `kind` of these patients: all of them, or those with these `ids`, in no particular order."""
        ask = (frozenset(p for p in patids if p in BIGINT), None if ids is None else frozenset(ids))
        if not ask[0]:
            return []
        return self.shared.run(("fhir", kind), ask, lambda asks: self._query(kind, asks))

    def records(self, patid: int, kinds: tuple[str, ...]) -> dict[str, list[Row]]:
        """Everything of these `kinds` in one patient's record, by kind ($everything): concurrent requests' patients
        are built together, every kind in one turn (not a wait for each kind in turn)."""

        def execute(patids: list[int]) -> list[dict[str, list[Row]]]:
            asks = [(frozenset([p]), None) for p in patids]
            built = {kind: self._query(kind, asks) for kind in kinds}
            return [{kind: built[kind][j] for kind in kinds} for j in range(len(patids))]

        if patid not in BIGINT:
            return {kind: [] for kind in kinds}
        return self.shared.run(("records", kinds), patid, execute)

    def _query(self, kind: str, asks: list[tuple[frozenset, frozenset | None]]) -> list[list[Row]]:
        """One query for the batch: the whole record of `kind` of the patients asked whole, and the ids asked of
        the others; each ask's rows."""
        patids = sorted(set().union(*(p for p, _ in asks)))
        whole = sorted(set().union(*(p for p, ids in asks if ids is None)))
        ids = sorted(set().union(*(ids for _, ids in asks if ids is not None)))
        flt = lambda a: f"{a}.patid IN (SELECT unnest($patids::BIGINT[]))"  # noqa: E731
        sdate = "NULL" if kind == "Patient" else "sdate"
        with self.connect() as con:
            rows = con.execute(f"SELECT patid, id, resource, {sdate} FROM ({fhir.QUERIES[kind](flt)}) "
                               "WHERE list_contains($whole::BIGINT[], patid) OR list_contains($ids::VARCHAR[], id)",
                               {"patids": patids, "whole": whole, "ids": ids}).fetchall()
        by_patient: dict[int, list[Row]] = {}
        for r in rows:
            by_patient.setdefault(r[0], []).append(r)
        return [[r for pid in p for r in by_patient.get(pid, ()) if i is None or r[1] in i] for p, i in asks]
