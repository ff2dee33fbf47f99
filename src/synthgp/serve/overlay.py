"""Write-back for apps under test: resources an app creates go to an overlay beside the generated practice,
which stays read-only and unchanged. Reads and patient searches see both; a reset drops the overlay.

The overlay is a DuckDB file of its own (`DIR/sandbox-overlay.duckdb`), so writes outlast a restart of
the server until someone resets them (`POST /sandbox/reset`, or deleting the file). Written resources get
ids `w1`, `w2`, ... (the practice's own ids are digits only, so the two never clash) and meta.versionId 1.
A search returns the written resources that match its patient, `_id`, code and date; a search with any
other parameter returns the practice's resources alone. They come on the first page, counted in the total.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import threading
from pathlib import Path
from typing import Any

import duckdb
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

FILE_NAME = "sandbox-overlay.duckdb"
PREFIX = "w"
ID_RE = re.compile(rf"^{PREFIX}[0-9]{{1,12}}$")
MAX_BODY = 200_000  # bytes in one written resource
MAX_RESOURCES = 10_000  # resources the overlay holds before it asks for a reset
# what an app may write, and the elements FHIR R4 requires of each (1..1 at the top level), beside `subject`
# (`patient` for Immunization), which must name a patient of the practice
WRITABLE: dict[str, tuple[str, ...]] = {
    "Observation": ("status", "code"),
    "Condition": (),
    "MedicationRequest": ("status", "intent"),
    "Immunization": ("status", "vaccineCode", "occurrenceDateTime"),
    "Procedure": ("status",),
    "ServiceRequest": ("status", "intent"),
}
DATE_OF = {"Observation": "effectiveDateTime", "Condition": "recordedDate", "MedicationRequest": "authoredOn",
           "Immunization": "occurrenceDateTime", "Procedure": "performedDateTime", "ServiceRequest": "authoredOn"}
SEARCHABLE = {"patient", "subject", "_id", "code", "vaccine-code", "date", "authoredon", "authored", "onset-date",
              "_count", "_offset", "_sort", "_total", "_format", "_summary", "_elements"}


class WriteError(ValueError):
    """A write the sandbox refuses: `status` the HTTP status, the message what to change."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class Overlay:
    """The written resources, in `path` (a DuckDB file; created on the first write)."""

    def __init__(self, path: Path, patient_exists):
        self.path, self.patient_exists = Path(path), patient_exists
        self._lock = threading.Lock()

    def _con(self) -> duckdb.DuckDBPyConnection:
        con = duckdb.connect(str(self.path))
        con.execute("CREATE TABLE IF NOT EXISTS written (n BIGINT PRIMARY KEY, kind VARCHAR, patid BIGINT, "
                    "codes VARCHAR[], day DATE, resource VARCHAR)")
        return con

    def _rows(self, sql: str, params: dict) -> list[tuple]:
        if not self.path.exists():
            return []
        with self._lock, self._con() as con:
            return con.execute(sql, params).fetchall()

    # ------------------------------------------------------------------ writing
    def create(self, kind: str, body: bytes, patient_in_context: int | None) -> dict:
        """Validate and store a new resource of `kind`; returns it with its id and meta."""
        if kind not in WRITABLE:
            raise WriteError(405, "not-supported", f"{kind} cannot be written here; writable: {', '.join(WRITABLE)}")
        if len(body) > MAX_BODY:
            raise WriteError(413, "too-costly", f"the resource is {len(body):,} bytes; at most {MAX_BODY:,}")
        try:
            res = json.loads(body)
        except ValueError as exc:
            raise WriteError(400, "structure", f"the body is not JSON: {exc}") from None
        if not isinstance(res, dict) or res.get("resourceType") != kind:
            got = res.get("resourceType") if isinstance(res, dict) else type(res).__name__
            raise WriteError(400, "invalid", f"POST /fhir/{kind} takes a {kind} resource, not {got!r}")
        missing = [e for e in WRITABLE[kind] if e not in res]
        if missing:
            raise WriteError(422, "required", f"{kind} needs {', '.join(missing)} (FHIR R4 requires them)")
        ref_field = "patient" if kind == "Immunization" else "subject"
        ref = (res.get(ref_field) or {}).get("reference", "") if isinstance(res.get(ref_field), dict) else ""
        m = re.fullmatch(r"Patient/([0-9]{1,19})", ref)
        if not m or not self.patient_exists(int(m[1])):
            raise WriteError(422, "invalid", f"{kind}.{ref_field}.reference must name a patient of this practice as "
                                             f"'Patient/<id>', not {ref!r}")
        patid = int(m[1])
        if patient_in_context is not None and patid != patient_in_context:
            raise WriteError(403, "forbidden", f"the access token is for Patient/{patient_in_context}, not Patient/{patid}")
        day = _day(res.get(DATE_OF[kind]))
        codes = [f"{c.get('system', '')}|{c.get('code', '')}" for key in ("code", "vaccineCode")
                 for c in (res.get(key) or {}).get("coding", []) if isinstance(c, dict)]
        with self._lock, self._con() as con:
            n_now, top = con.execute("SELECT count(*), coalesce(max(n), 0) FROM written").fetchone()
            if n_now >= MAX_RESOURCES:
                raise WriteError(507, "too-costly", f"the overlay holds {n_now:,} resources, its limit; reset it "
                                                    "(POST /sandbox/reset) to write more")
            res["id"] = f"{PREFIX}{top + 1}"
            res["meta"] = {**res.get("meta", {}), "versionId": "1",
                           "lastUpdated": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}
            con.execute("INSERT INTO written VALUES (?, ?, ?, ?, ?, ?)",
                        [top + 1, kind, patid, codes, day, json.dumps(res)])
        return res

    def reset(self) -> int:
        """Drop every written resource; returns how many there were."""
        with self._lock:
            if not self.path.exists():
                return 0
            with self._con() as con:
                n = con.execute("SELECT count(*) FROM written").fetchone()[0]
            self.path.unlink()
            Path(str(self.path) + ".wal").unlink(missing_ok=True)
            return n

    # ------------------------------------------------------------------ reading
    def read(self, kind: str, rid: str) -> tuple[dict, int] | None:
        """(the resource, its patient) or None."""
        if not ID_RE.match(rid):
            return None
        rows = self._rows("SELECT resource, patid FROM written WHERE kind = $k AND n = $n",
                          {"k": kind, "n": int(rid[len(PREFIX):])})
        return (json.loads(rows[0][0]), rows[0][1]) if rows else None

    def search(self, kind: str, p: dict[str, list[str]], patients: set[int] | None) -> list[dict]:
        """The written resources of `kind` matching a search (`patients`: the patients it names, None if
        it names none); [] when the search has a parameter the overlay cannot judge."""
        if kind not in WRITABLE or set(p) - SEARCHABLE or not self.path.exists():
            return []
        rows = self._rows("SELECT n, patid, codes, day, resource FROM written WHERE kind = $k ORDER BY n", {"k": kind})
        out = []
        for n, patid, codes, day, text in rows:
            if patients is not None and patid not in patients:
                continue
            if "_id" in p and not all(f"{PREFIX}{n}" in v.split(",") for v in p["_id"]):
                continue
            if not all(_code_match(codes, v) for k in ("code", "vaccine-code") for v in p.get(k, [])):
                continue
            dates = [v for k in ("date", "authoredon", "authored", "onset-date") for v in p.get(k, [])]
            if dates and (day is None or not all(_date_match(day, v) for v in dates)):
                continue
            out.append(json.loads(text))
        return out


def _day(value: Any) -> dt.date | None:
    if not isinstance(value, str):
        return None
    try:
        return dt.date.fromisoformat(value[:10])
    except ValueError:
        return None


def _code_match(codes: list[str], value: str) -> bool:
    """A token parameter's value (ORed by commas: system|code, |code or code) against a resource's codes."""
    for want in value.split(","):
        system, _, code = want.rpartition("|") if "|" in want else (None, "", want)
        if any(c.endswith(f"|{code}") and (system is None or c.startswith(f"{system}|")) for c in codes):
            return True
    return False


def _date_match(day: dt.date, value: str) -> bool:
    m = re.fullmatch(r"(eq|ne|gt|lt|ge|le)?(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?", value)
    if not m:
        return False
    y, mo, d = int(m[2]), int(m[3] or 1), int(m[4] or 1)
    lo = dt.date(y, mo, d)
    hi = (dt.date(y + 1, 1, 1) if not m[3] else dt.date(y + (mo == 12), mo % 12 + 1, 1) if not m[4]
          else lo + dt.timedelta(days=1)) - dt.timedelta(days=1)
    return {"eq": lo <= day <= hi, None: lo <= day <= hi, "ne": not lo <= day <= hi, "gt": day > hi,
            "lt": day < lo, "ge": day >= lo, "le": day <= hi}[m[1]]


def router(overlay: Overlay | None, access_of) -> APIRouter:
    """POST /fhir/{type} for the WRITABLE types, and POST /sandbox/reset. Without an overlay (the server
    was not started with --writable) a write gets 405 naming the flag."""
    r = APIRouter(tags=["Sandbox writes"])

    def create_endpoint(kind: str):
        async def create(request: Request):
            if overlay is None:
                raise WriteError(405, "not-supported", "this server is read-only; start it with `synthgp serve DIR "
                                                       "--writable` to let apps under test write back")
            acc = access_of(request)
            if acc is not None and not acc.may_write(kind):
                raise WriteError(403, "forbidden", f"the access token's scopes do not allow writing {kind} "
                                                   f"(ask for patient/{kind}.c or patient/{kind}.write)")
            res = overlay.create(kind, await request.body(), acc.patient if acc is not None else None)
            loc = f"{str(request.base_url).rstrip('/')}/fhir/{kind}/{res['id']}/_history/1"
            return JSONResponse(res, status_code=201, media_type="application/fhir+json",
                                headers={"Location": loc, "ETag": 'W/"1"'})
        create.__name__ = f"create_{kind}"
        return create

    for kind in WRITABLE:
        r.add_api_route(f"/fhir/{kind}", create_endpoint(kind), methods=["POST"], status_code=201,
                        summary=f"Create {kind} (sandbox overlay, with --writable)")

    @r.post("/sandbox/reset", status_code=204, summary="Drop everything apps wrote (with --writable)")
    def reset():
        if overlay is None:
            raise WriteError(405, "not-supported", "nothing to reset: this server is read-only (no --writable)")
        overlay.reset()
        return Response(status_code=204)

    return r
