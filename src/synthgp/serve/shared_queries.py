"""Queries shared by concurrent requests: what many requests ask of different patients, one query answers.

At 100,000 patients DuckDB spends most of a per-patient query planning it (about 20 ms for the FHIR
Observation query, the same for one patient or fifty) and little reading a row group or two. So a request
asks through `Shared.run` under a key (the query it needs); if MAX_RUNNING queries of that key are running, the
request waits for one to end, and the next run answers every waiting request at once (at most MAX_BATCH asks).
Under 16 concurrent clients one plan serves many requests; a lone request (or two, on two cores) waits for
nobody.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Any

MAX_BATCH = 64  # asks one run answers; more wait for the next
MAX_RUNNING = 2  # runs of one key at once: one a core on the machine this was measured on
BIGINT = range(-2**63, 2**63)  # a patid outside it is nobody's (and would not cast)


class _Ask:
    def __init__(self, value: Any, execute: Callable[[list[Any]], list[Any]]):
        self.value, self.execute = value, execute
        self.done = threading.Event()
        self.lead = False  # woken to run the next batch, not with an answer
        self.answer: Any = None
        self.error: BaseException | None = None


class Shared:
    """Runs asks of the same key together: `execute(values)` answers a batch, one answer per value, in order."""

    def __init__(self):
        self._lock = threading.Lock()
        self._waiting: dict[Hashable, list[_Ask]] = {}
        self._running: dict[Hashable, int] = {}

    def run(self, key: Hashable, value: Any, execute: Callable[[list[Any]], list[Any]]) -> Any:
        """The answer to `value`, from `execute` run on a batch of the asks of `key` (this thread's `execute`
        if it runs the batch, another waiting request's if that one does)."""
        ask = _Ask(value, execute)
        with self._lock:
            lead = self._running.get(key, 0) < MAX_RUNNING
            if lead:
                self._running[key] = self._running.get(key, 0) + 1
            else:
                self._waiting.setdefault(key, []).append(ask)
        if not lead:
            ask.done.wait()
            if not ask.lead:
                return self._answer(ask)
        self._run(key, ask)
        return self._answer(ask)

    @staticmethod
    def _answer(ask: _Ask) -> Any:
        if ask.error is not None:
            raise ask.error
        return ask.answer

    def _run(self, key: Hashable, me: _Ask) -> None:
        """Answer `me` and the asks of `key` waiting, then hand the lead to the next waiting one."""
        with self._lock:
            waiting = self._waiting.get(key, [])
            batch = [me, *waiting[:MAX_BATCH - 1]]
            del waiting[:MAX_BATCH - 1]
        try:
            for a, answer in zip(batch, me.execute([a.value for a in batch]), strict=True):
                a.answer = answer
        except BaseException as exc:  # every request of the batch raises it (a closing server, a DuckDB error)
            for a in batch:
                a.error = exc
        with self._lock:
            nxt = self._waiting.get(key)
            if nxt:
                lead = nxt.pop(0)
                lead.lead = True  # its thread runs the next batch
                lead.done.set()
            else:
                self._running[key] -= 1
        for a in batch:
            a.done.set()


def patient_rows(con, sql: str, patid: int, shared: Shared | None = None) -> list[dict]:
    """The rows of `sql` for one patient, as dicts: `sql` selects the patient's id as `_patid` and filters on it
    with `$WHO` (e.g. `WHERE o.patid $WHO`). See patient_tables."""
    return patient_tables(con, {"": sql}, patid, shared)[""]


def patient_tables(con, sqls: dict[str, str], patid: int, shared: Shared | None = None) -> dict[str, list[dict]]:
    """The rows of each of `sqls` (each as patient_rows takes it) for one patient, by name. With `shared`,
    concurrent requests' patients are read together, every query in one turn (on the connection `con` of the
    request that runs the turn)."""

    def execute(patids: list[int]) -> list[dict[str, list[dict]]]:
        out: list[dict[str, list[dict]]] = [{} for _ in patids]
        for name, sql in sqls.items():
            cur = con.execute(sql.replace("$WHO", "IN (SELECT unnest($patids::BIGINT[]))"),
                              {"patids": sorted({p for p in patids if p in BIGINT})})
            cols = [d[0] for d in cur.description]
            at = cols.index("_patid")
            mine: dict[int, list[tuple]] = {}
            for r in cur.fetchall():
                mine.setdefault(r[at], []).append(r)
            for j, p in enumerate(patids):  # each ask its own dicts: the pages change them as they go
                out[j][name] = [{c: v for c, v in zip(cols, r) if c != "_patid"} for r in mine.get(p, [])]
        return out

    return execute([patid])[0] if shared is None else shared.run(("tables", tuple(sqls.items())), patid, execute)
