"""Builds patients' FHIR resources for the API, the patients of many requests in one query.

A patient's resources of one type come from one SELECT (formats/fhir_resources.py), the export's own. At
100,000 patients DuckDB spends nine tenths of such a query planning it (about 20 ms for Observation, the
same for one patient or fifty) and the rest reading a row group or two. So the queries are shared: a
request asks for its patients' resources of a type; if a query of that type is running, the request waits
for it to end, and the next query builds every waiting request's patients at once (at most MAX_BATCH).
Under 16 concurrent clients one plan serves many requests; a lone request waits for nobody.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable

import duckdb

from synthgp.formats import fhir_resources as fhir

MAX_BATCH = 64  # patients one query builds; more wait for the next
Row = tuple[int, str, str, object]  # (patid, id, resource JSON, search date: None for Patient)


class _Ask:
    def __init__(self, patids: set[int], ids: set[str] | None):
        self.patids, self.ids = patids, ids
        self.done = threading.Event()
        self.lead = False  # woken to run the next query, not with an answer
        self.rows: list[Row] | None = None
        self.error: BaseException | None = None

    def wants(self, row: Row) -> bool:
        return row[0] in self.patids and (self.ids is None or row[1] in self.ids)


class Builder:
    """Resources of patient-level types by patient, built in shared queries over connections from `connect`."""

    def __init__(self, connect: Callable[[], duckdb.DuckDBPyConnection]):
        self.connect = connect
        self._lock = threading.Lock()
        self._waiting: dict[str, list[_Ask]] = {}
        self._running: set[str] = set()

    def build(self, kind: str, patids: Iterable[int], ids: Iterable[str] | None = None) -> list[Row]:
        """The resources of `kind` (Patient or a patient-level type) of these patients: all of them, or those
        with these `ids` (only these are built), in no particular order."""
        ask = _Ask(set(patids), None if ids is None else set(ids))
        if not ask.patids:
            return {}
        with self._lock:
            self._waiting.setdefault(kind, []).append(ask)
            lead = kind not in self._running
            if lead:
                self._running.add(kind)
        if not lead:
            ask.done.wait()
            if not ask.lead:
                return self._answer(ask)
        self._run(kind)
        return self._answer(ask)

    @staticmethod
    def _answer(ask: _Ask) -> list[Row]:
        if ask.error is not None:
            raise ask.error
        return ask.rows or []

    def _run(self, kind: str) -> None:
        """Build what the waiting requests of `kind` ask (this request's among them), then hand the lead on."""
        with self._lock:
            waiting = self._waiting.get(kind, [])
            batch, patids = [], set()
            while waiting and (not batch or len(patids | waiting[0].patids) <= MAX_BATCH):
                batch.append(waiting.pop(0))
                patids |= batch[-1].patids
        try:
            rows = self._query(kind, batch)
            for a in batch:
                a.rows = [r for r in rows if a.wants(r)]
        except BaseException as exc:  # each request raises it (a closing server, a DuckDB error)
            for a in batch:
                a.error = exc
        with self._lock:
            nxt = self._waiting.get(kind)
            if nxt:
                nxt[0].lead = True  # its thread runs the next query
                nxt[0].done.set()
            else:
                self._running.discard(kind)
        for a in batch:
            a.done.set()

    def _query(self, kind: str, batch: list[_Ask]) -> list[Row]:
        """One query for the batch: the whole record of `kind` of the patients asked whole, and the ids asked of
        the others (the filter reaches below the JSON, so no other resource is built)."""
        patids = sorted(set().union(*(a.patids for a in batch)))
        whole = sorted(set().union(*(a.patids for a in batch if a.ids is None)))
        ids = sorted(set().union(*(a.ids for a in batch if a.ids is not None)))
        flt = lambda a: f"{a}.patid IN (SELECT unnest($patids::BIGINT[]))"  # noqa: E731
        sdate = "NULL" if kind == "Patient" else "sdate"
        with self.connect() as con:
            return con.execute(f"SELECT patid, id, resource, {sdate} FROM ({fhir.QUERIES[kind](flt)}) "
                               "WHERE list_contains($whole::BIGINT[], patid) OR list_contains($ids::VARCHAR[], id)",
                               {"patids": patids, "whole": whole, "ids": ids}).fetchall()
