"""A narrow search index for the FHIR API, built once per server and never written into the practice.

A search across everyone (`/fhir/Observation?code=X`) used to build every resource's search columns
(sdate, scodes, scat) from the record tables on each request: at 20,000 patients 0.7 s, nearly all of it
joining observation rows to the dictionary. The index holds, per patient-level type, those columns alone
(id, patid, sdate, scodes, scat, sorted by date: a page in date order, or of a date range, reads a few
row groups), one row per code and resource (code, sdate, id, patid, scat, sorted by code) for code
searches, the same columns as the first sorted by patient (a patient's search reads a row group or two),
and (id, patid) sorted by id for reads, in an
in-memory DuckDB database attached beside the practice (`sidx`). The practice file is attached read-only
and never changes; what apps write under `--writable` lives in the overlay, which searches still add.

A server builds the index in a background thread when it starts; until a type's tables are ready, its
searches build the columns from the record as before (same answers, slower).
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import duckdb

from synthgp.formats import fhir_resources as fhir

SCHEMA = "sidx"  # the attached in-memory database holding the index


def _quote(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


class SearchIndex:
    """One process's view of a practice: the DuckDB file attached read-only as `practice`, the index as `sidx`."""

    def __init__(self, db: Path):
        self.root = duckdb.connect(":memory:")
        self.root.execute("SET enable_progress_bar = false")
        self.root.execute(f"ATTACH {_quote(Path(db))} AS practice (READ_ONLY)")
        self.root.execute(f"ATTACH ':memory:' AS {SCHEMA} (COMPRESS)")
        self._ready: set[str] = set()
        self.seconds: dict[str, float] = {}  # build time by type
        self._thread: threading.Thread | None = None

    def connect(self) -> duckdb.DuckDBPyConnection:
        """A cursor of its own (use as `with connect() as con`) whose unqualified names are the practice's tables."""
        con = self.root.cursor()
        con.execute("USE practice")
        return con

    def table(self, kind: str) -> str | None:
        """The index table of `kind`, or None while it is not built (or `kind` is not patient-level)."""
        return f'{SCHEMA}.main."{kind}"' if kind in self._ready else None

    def codes(self, kind: str) -> str:
        """The (code, sdate, id, patid, scat) table of `kind` (only once `table(kind)` is not None)."""
        return f'{SCHEMA}.main."{kind}_codes"'

    def ids(self, kind: str) -> str:
        """The (id, patid) table of `kind`, sorted by id (a read finds its patient there)."""
        return f'{SCHEMA}.main."{kind}_ids"'

    def by_patient(self, kind: str) -> str:
        """The (id, patid, sdate, scodes, scat) table of `kind` sorted by patient, then date and id."""
        return f'{SCHEMA}.main."{kind}_patients"'

    def patient_of(self, con: duckdb.DuckDBPyConnection, kind: str, rid: str) -> list[tuple[str, int]] | None:
        """[(rid, its patient)] or [] if there is no such resource; None while `kind` is not built."""
        if self.table(kind) is None:
            return None
        return con.execute(f"SELECT id, patid FROM {self.ids(kind)} WHERE id = $id", {"id": rid}).fetchall()

    def build(self, kinds: tuple[str, ...] = fhir.PATIENT_TYPES) -> None:
        """Build the index tables of `kinds` (Patient has none: its searches read the patient tables)."""
        for kind in kinds:
            if kind == "Patient" or kind in self._ready:
                continue
            t = time.perf_counter()
            with self.connect() as con:
                con.execute(f'CREATE OR REPLACE TABLE {SCHEMA}.main."{kind}" AS SELECT id, patid, sdate, scodes, scat '
                            f"FROM ({fhir.QUERIES[kind](fhir.everyone)}) ORDER BY sdate, id")
                con.execute(f'CREATE OR REPLACE TABLE {self.ids(kind)} AS SELECT id, patid FROM {SCHEMA}.main."{kind}" ORDER BY id')
                con.execute(f"CREATE OR REPLACE TABLE {self.by_patient(kind)} AS SELECT * FROM {SCHEMA}.main.\"{kind}\" "
                            "ORDER BY patid, sdate, id")
                con.execute(f"CREATE OR REPLACE TABLE {self.codes(kind)} AS SELECT DISTINCT unnest(scodes) AS code, sdate, id, "
                            f'patid, scat FROM {SCHEMA}.main."{kind}" ORDER BY code, sdate, id')
                con.execute(f"CHECKPOINT {SCHEMA}")  # compresses the new tables: a sixth of the memory
            self.seconds[kind] = time.perf_counter() - t
            self._ready.add(kind)

    def start(self) -> None:
        """Build every type's tables in a background thread (searches fall back to the record until each is ready)."""
        self._thread = threading.Thread(target=self._build_quietly, name="synthgp-search-index", daemon=True)
        self._thread.start()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the background build; True when every type is ready."""
        if self._thread is not None:
            self._thread.join(timeout)
        return all(k in self._ready for k in fhir.PATIENT_TYPES if k != "Patient")

    def _build_quietly(self) -> None:
        try:
            self.build()
        except duckdb.Error:  # e.g. the server is closing: searches keep building from the record
            pass
