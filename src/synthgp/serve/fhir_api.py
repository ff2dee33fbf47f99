"""FHIR R4 read and search API over a generated practice, serving the same resources as the export.

Read: GET /fhir/{type}/{id}. Search: GET /fhir/{type}?params, answered with a searchset Bundle
(`total` unless `_total=none`, `self`/`next`/`previous` links, `_count` from 0 (the total alone) to
500, `_offset` for paging, `_include` of the patient). Repeated parameters are ANDed, comma-separated
values ORed. Every parameter is validated; unknown ones and malformed values get a 400
OperationOutcome, more than a search may ask for a 400 "too-costly", unknown ids a 404. Values reach
SQL only as bound parameters.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import inspect
import json
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Callable

import duckdb
from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response

from synthgp.formats import fhir_resources as fhir
from synthgp.serve.overlay import WRITABLE

FHIR_JSON = "application/fhir+json"
MAX_COUNT, DEFAULT_COUNT = 500, 50
# what one search may ask for: no request does unbounded work
MAX_PARAMS = 40  # query parameters in one search
MAX_VALUES = 100  # values ORed in one parameter (a,b,c)
MAX_VALUE_LENGTH = 2_000  # characters in one parameter's value
ID_RE = re.compile(r"^[0-9]{1,19}$")  # synthgp's ids are the record's integer ids
DATE_RE = re.compile(r"^(eq|ne|gt|lt|ge|le)?(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")


class FhirError(Exception):
    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def outcome(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"resourceType": "OperationOutcome", "issue": [
        {"severity": "error", "code": code, "diagnostics": message}]}, status_code=status, media_type=FHIR_JSON)


@dataclass(frozen=True)
class Access:
    """What a SMART bearer token may read: resource types in its patient's compartment (`patient/...`
    scopes) and across the practice (`user/...`); '*' for any type."""

    patient: int | None
    patient_types: frozenset[str]
    user_types: frozenset[str]
    write_types: frozenset[str] = frozenset()  # types the token may create (patient/X.c, .write; '*' any)

    def may_write(self, kind: str) -> bool:
        return "*" in self.write_types or kind in self.write_types

    def restrict(self, kind: str) -> int | None:
        """The patient a read of `kind` is confined to (None: not confined); 403 if no scope covers it."""
        if "*" in self.user_types or kind in self.user_types:
            return None
        if ("*" in self.patient_types or kind in self.patient_types) and self.patient is not None:
            return self.patient if kind in PATIENT_SCOPED or kind == "Patient" else None
        raise FhirError(403, "forbidden", f"the access token's scopes do not cover {kind}"
                        + ("" if self.patient is not None or not self.patient_types else " (no patient in context)"))


def _confine(kind: str, p: dict[str, list[str]], access: Access | None) -> None:
    """Add the token's patient to a search: ANDed with what the client asked, so nothing else matches."""
    pid = access.restrict(kind) if access else None
    if pid is not None:
        p.setdefault("_id" if kind == "Patient" else "patient", []).append(str(pid))


# --------------------------------------------------------------------------- parameter parsing

def _date_range(value: str, name: str) -> tuple[str, dt.date, dt.date]:
    """A FHIR date parameter: (prefix, first day, last day) of the value's precision."""
    m = DATE_RE.match(value)
    if not m:
        raise FhirError(400, "invalid", f"{name}: '{value}' is not a date (YYYY, YYYY-MM or YYYY-MM-DD, optionally "
                                        "prefixed eq, ne, gt, lt, ge or le)")
    prefix, y, mo, d = m.group(1) or "eq", int(m.group(2)), m.group(3), m.group(4)
    try:
        if d:
            lo = hi = dt.date(y, int(mo), int(d))
        elif mo:
            lo = dt.date(y, int(mo), 1)
            hi = (dt.date(y + int(mo) // 12, int(mo) % 12 + 1, 1) - dt.timedelta(days=1))
        else:
            lo, hi = dt.date(y, 1, 1), dt.date(y, 12, 31)
    except ValueError:
        raise FhirError(400, "invalid", f"{name}: '{value}' is not a real date") from None
    return prefix, lo, hi


def _date_sql(col: str, values: list[str], name: str, params: dict) -> list[str]:
    out = []
    for i, v in enumerate(values):
        prefix, lo, hi = _date_range(v, name)
        a, b = f"{name}_{i}_lo", f"{name}_{i}_hi"
        sql = {"eq": f"{col} BETWEEN ${a} AND ${b}", "ne": f"NOT ({col} BETWEEN ${a} AND ${b})",
               "gt": f"{col} > ${b}", "ge": f"{col} >= ${a}", "lt": f"{col} < ${a}", "le": f"{col} <= ${b}"}[prefix]
        if f"${a}" in sql:
            params[a] = lo
        if f"${b}" in sql:
            params[b] = hi
        out.append(sql)
    return out


def _token(value: str, name: str) -> tuple[str | None, str]:
    if "|" in value:
        system, code = value.split("|", 1)
    else:
        system, code = None, value
    if not code or len(code) > 64 or not re.fullmatch(r"[A-Za-z0-9\-.]+", code):
        raise FhirError(400, "invalid", f"{name}: '{value}' is not a token (code or system|code)")
    return system or None, code


def _patient_ref(value: str, name: str) -> int:
    ref = value.removeprefix("Patient/")
    if not ID_RE.match(ref):
        raise FhirError(400, "invalid", f"{name}: '{value}' is not a patient reference (Patient/<id> or <id>)")
    return int(ref)


def _patients(p: dict[str, list[str]]) -> set[int] | None:
    """The patients a search is restricted to (None: any). FHIR's rules: the values of one parameter,
    comma-separated, are ORed; repeated parameters (patient and subject alike) are ANDed."""
    out: set[int] | None = None
    for name in ("patient", "subject"):
        for v in p.get(name, []):
            these = {_patient_ref(x, name) for x in v.split(",")}
            out = these if out is None else out & these
    return out


# --------------------------------------------------------------------------- search definitions

COMMON = ("_count", "_offset", "_include", "_revinclude", "_id", "_total", "_totalMethod", "_format", "_sort", "_summary",
          "_elements", "_lastUpdated")
TOTALS_KEPT = 1_024  # search totals remembered (the data are read-only)
MAX_REVINCLUDE = 5_000  # resources one page may pull in with _revinclude; more is a 400 (ask for a smaller _count)
ELEMENT_RE = re.compile(r"^[A-Za-z]{1,40}$")
SUBSETTED = {"system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue", "code": "SUBSETTED"}
# result parameters accepted for what clients send; the total is counted exactly unless _total=none; JSON is the only format
CHOICES = {"_total": {"none", "estimated", "accurate"}, "_totalMethod": {"count", "estimate"},
           "_format": {"json", "application/json", "application/fhir+json"}, "_summary": {"count", "false"}}
XML = ("xml", "application/xml", "application/fhir+xml", "text/xml")
# _sort: patient-level resources by their date (newest first with -date) or id; Patient by birthdate or id
SORTS = {"date": "sdate, id", "-date": "sdate DESC, id DESC", "_id": "id", "-_id": "id DESC"}
PATIENT_SORTS = {"birthdate": "date_of_birth, patid", "-birthdate": "date_of_birth DESC, patid DESC",
                 "_id": "patid", "-_id": "patid DESC"}
PATIENT_SCOPED = {
    # type: (search parameters, allowed _include values)
    "Observation": (("patient", "subject", "code", "date", "category"), ("Observation:patient", "Observation:subject")),
    "Condition": (("patient", "subject", "code", "onset-date", "category"), ("Condition:patient", "Condition:subject")),
    "MedicationRequest": (("patient", "subject", "code", "authoredon"), ("MedicationRequest:patient", "MedicationRequest:subject")),
    "Encounter": (("patient", "subject", "date", "reason-code"), ("Encounter:patient", "Encounter:subject")),
    "DiagnosticReport": (("patient", "subject", "code", "date", "category"),
                         ("DiagnosticReport:patient", "DiagnosticReport:subject")),
    "Procedure": (("patient", "subject", "code", "date"), ("Procedure:patient", "Procedure:subject")),
    "ServiceRequest": (("patient", "subject", "code", "authored"), ("ServiceRequest:patient", "ServiceRequest:subject")),
    "Immunization": (("patient", "vaccine-code", "date", "status"), ("Immunization:patient",)),
}
OTHER = {"Patient": ("identifier", "name", "family", "given", "birthdate", "gender"),
         "Practitioner": ("name", "family", "given"), "Organization": ("name",)}
DATE_PARAMS = {"date", "onset-date", "authoredon", "authored", "birthdate"}
CODE_PARAMS = ("code", "vaccine-code", "reason-code")  # tokens matched against a resource's codes (scodes)
KIND_PARAMS = ("category", "status")  # tokens matched against a resource's category or status (scat)


class Api:
    """The FHIR API over one DuckDB file (read-only)."""

    def __init__(self, connect: Callable[[], duckdb.DuckDBPyConnection], base_url: str = "/fhir",
                 updated: str = "1970-01-01T00:00:00+00:00"):
        """`updated`: when the output was written, every resource's meta.lastUpdated (the data never change
        after: each resource is version 1, ETag W/"1")."""
        self.connect = connect
        self.base = base_url
        self.updated = updated
        self._totals: OrderedDict[tuple, int] = OrderedDict()
        self._lock = threading.Lock()
        self.overlay = None  # serve/overlay.py Overlay: what apps under test wrote (--writable)
        self.index = None  # serve/search_index.py SearchIndex: the search columns, built once per server

    def _load(self, text: str) -> dict:
        """A resource from its JSON, with meta.versionId and meta.lastUpdated."""
        res = json.loads(text)
        res["meta"] = {"versionId": "1", "lastUpdated": self.updated, **res.get("meta", {})}
        return res

    # ------------------------------------------------------------------ reading
    def _fetch(self, con, kind: str, ids: list[str], patids: list[int] | None) -> dict[str, dict]:
        """Resources of `kind` with these ids (patient-level: of these patients), as dicts by id."""
        if not ids:
            return {}
        if kind in PATIENT_SCOPED or kind == "Patient":
            flt = lambda a: f"{a}.patid IN (SELECT unnest($patids::BIGINT[]))"  # noqa: E731
            sql = f"SELECT id, resource FROM ({fhir.QUERIES[kind](flt)}) WHERE list_contains($ids, id)"
            rows = con.execute(sql, {"patids": sorted(set(patids or [])), "ids": ids}).fetchall()
        else:
            sql = f"SELECT id, resource FROM ({fhir.QUERIES[kind]()}) WHERE list_contains($ids, id)"
            rows = con.execute(sql, {"ids": ids}).fetchall()
        return {i: self._load(r) for i, r in rows}

    def read(self, kind: str, rid: str, access: Access | None = None) -> dict:
        pid = access.restrict(kind) if access else None
        written = self.overlay.read(kind, rid) if self.overlay is not None else None
        if written is not None:
            if pid is not None and written[1] != pid:
                raise FhirError(403, "forbidden", f"{kind}/{rid} is not in the record of Patient/{pid}, the access token's patient")
            return written[0]
        if not ID_RE.match(rid):
            raise FhirError(404, "not-found", f"{kind}/{rid} is not known here")
        if kind == "Patient" and pid is not None and int(rid) != pid:
            raise FhirError(403, "forbidden", f"the access token is for Patient/{pid}, not Patient/{rid}")
        with self.connect() as con:
            if kind in PATIENT_SCOPED:
                found = self.index.patient_of(con, kind, rid) if self.index is not None else None
                if found is None:
                    found = self._search_ids(con, kind, {"_id": [rid]}, 1, 0, counted=False)[1]
                if not found:  # (building nobody's resources cost a second at 20,000 patients)
                    raise FhirError(404, "not-found", f"{kind}/{rid} is not known here")
                if pid is not None and found and found[0][1] != pid:
                    raise FhirError(403, "forbidden", f"{kind}/{rid} is not in the record of Patient/{pid}, "
                                                      "the access token's patient")
                res = self._fetch(con, kind, [rid], [p for _, p in found])
            elif kind == "Patient":
                res = self._fetch(con, kind, [rid], [int(rid)])
            else:
                res = self._fetch(con, kind, [rid], None)
        if rid not in res:
            raise FhirError(404, "not-found", f"{kind}/{rid} is not known here")
        return res[rid]

    # ------------------------------------------------------------------ searching
    def _search_ids(self, con, kind: str, p: dict[str, list[str]], count: int, offset: int, counted: bool = True):
        """(total or None, [(id, patid)], whether a page follows) of the matches, in date then id order.
        Without `counted` (_total=none) nothing is counted: one row past the page tells if another follows."""
        source, cond, params, order, pat = self._query(kind, p, indexed=True)
        total = self._count(con, source, cond, params) if counted else None
        rows = con.execute(f"SELECT id, {pat} FROM ({source}) WHERE {cond} ORDER BY {order} LIMIT {int(count) + 1} "
                           f"OFFSET {int(offset)}", params).fetchall()
        return total, rows[:count], len(rows) > count

    def _count(self, con, source: str, cond: str, params: dict) -> int:
        """The number of matches. The output never changes while served, so a search's total is counted once
        and kept (the last TOTALS_KEPT searches): paging through a large result costs one count, not one a page."""
        key = (cond, tuple(sorted((k, repr(v)) for k, v in params.items())), source)
        with self._lock:
            if key in self._totals:
                self._totals.move_to_end(key)
                return self._totals[key]
        n = con.execute(f"SELECT count(*) FROM ({source}) WHERE {cond}", params).fetchall()[0][0]
        with self._lock:
            self._totals[key] = n
            while len(self._totals) > TOTALS_KEPT:
                self._totals.popitem(last=False)
        return n

    def _query(self, kind: str, p: dict[str, list[str]], indexed: bool = False) -> tuple[str, str, dict, str, str]:
        """The search as SQL: (source, condition, parameters, order, patient id column). `indexed`: the
        caller reads only the search columns (no resource), so the search index may answer, once built."""
        params: dict[str, Any] = {}
        where: list[str] = []
        if kind in PATIENT_SCOPED:
            flt = fhir.everyone
            patids = _patients(p)
            if patids is not None:
                params["patids"] = sorted(patids)
                flt = lambda a: f"{a}.patid IN (SELECT unnest($patids::BIGINT[]))"  # noqa: E731
            table = self.index.table(kind) if indexed and self.index is not None else None
            source = fhir.QUERIES[kind](flt) if table is None else f"SELECT * FROM {table}"
            if table is not None and patids is not None:
                where.append("patid IN (SELECT unnest($patids::BIGINT[]))")
            coded = [(name, v) for name in CODE_PARAMS for v in p.get(name, [])]
            for i, (name, v) in enumerate(coded):  # each parameter's values ORed, repeated parameters ANDed
                key = f"code_{i}"
                params[key] = [_token(item, name)[1] for item in v.split(",")]
                if table is None:
                    where.append(f"list_has_any(scodes, ${key}::VARCHAR[])")
                elif i == 0:  # the index's rows by code (sorted by code): the first code's matches are the source
                    source = (f"SELECT DISTINCT id, patid, sdate, scat FROM {self.index.codes(kind)} "
                              f"WHERE list_contains(${key}::VARCHAR[], code)")
                else:
                    where.append(f"id IN (SELECT id FROM {self.index.codes(kind)} WHERE list_contains(${key}::VARCHAR[], code))")
            for name in KIND_PARAMS:
                for i, v in enumerate(p.get(name, [])):
                    _, code = _token(v, name)
                    params[f"{name}_{i}"] = code
                    where.append(f"scat = ${name}_{i}")
            for name in DATE_PARAMS & set(p):
                where += _date_sql("sdate", p[name], name.replace("-", "_"), params)
            order, pat = _sort(p, SORTS, "sdate, id"), "patid"
        elif kind == "Patient":
            source = ("SELECT p.patid, CAST(p.patid AS VARCHAR) AS id, i.*, p.gender AS g FROM patient p "
                      "JOIN patient_identity i USING (patid)")
            for i, v in enumerate(p.get("identifier", [])):
                system, value = _token(v, "identifier")
                if system not in (None, fhir.mapping()["system"]["nhs_number"]):
                    where.append("FALSE")
                params[f"ident_{i}"] = value
                where.append(f"nhs_number = $ident_{i}")
            for name, cols in (("name", ("given_name", "family_name")), ("family", ("family_name",)),
                               ("given", ("given_name",))):
                for i, v in enumerate(p.get(name, [])):
                    if not v.strip() or len(v) > 100:
                        raise FhirError(400, "invalid", f"{name}: give 1 to 100 characters")
                    params[f"{name}_{i}"] = v.strip().lower()
                    where.append("(" + " OR ".join(f"starts_with(lower({c}), ${name}_{i})" for c in cols) + ")")
            for i, v in enumerate(p.get("gender", [])):
                codes = {g: k for k, g in fhir.mapping()["gender"].items()}
                if v not in codes and v != "unknown":
                    raise FhirError(400, "invalid", f"gender: '{v}' is not one of male, female, other, unknown")
                where.append(f"g = {int(codes[v])}" if v in codes else "FALSE")
            if "birthdate" in p:
                where += _date_sql("date_of_birth", p["birthdate"], "birthdate", params)
            order, pat = _sort(p, PATIENT_SORTS, "patid"), "patid"
        else:
            table, alias = ("staff s JOIN staff_identity si USING (staffid)", "staffid") if kind == "Practitioner" \
                else ("practice", "pracid")
            source = f"SELECT CAST({alias} AS VARCHAR) AS id, * FROM {table}"
            names = (("name", ("given_name", "family_name")), ("family", ("family_name",)), ("given", ("given_name",))) \
                if kind == "Practitioner" else (("name", ("name",)),)
            for name, cols in names:
                for i, v in enumerate(p.get(name, [])):
                    params[f"{name}_{i}"] = v.strip().lower()
                    where.append("(" + " OR ".join(f"contains(lower({c}), ${name}_{i})" for c in cols) + ")")
            order, pat = "id", "NULL::BIGINT"
        for v in p.get("_lastUpdated", []):  # every resource was last updated when the output was written
            prefix, lo, hi = _date_range(v, "_lastUpdated")
            day = dt.date.fromisoformat(self.updated[:10])
            if not {"eq": lo <= day <= hi, "ne": not lo <= day <= hi, "gt": day > hi, "ge": day >= lo,
                    "lt": day < lo, "le": day <= hi}[prefix]:
                where.append("FALSE")
        for i, v in enumerate(p.get("_id", [])):
            ids = v.split(",")
            if not all(ID_RE.match(x) for x in ids):
                raise FhirError(400, "invalid", f"_id: '{v}' holds an id that cannot exist here")
            params[f"id_{i}"] = ids
            where.append(f"list_contains($id_{i}, id)")
        return source, " AND ".join(where) or "TRUE", params, order, pat

    def search(self, kind: str, request: Request, access: Access | None = None) -> dict:
        allowed = set(COMMON) | set(PATIENT_SCOPED.get(kind, ((), ()))[0]) | set(OTHER.get(kind, ()))
        p: dict[str, list[str]] = {}
        items = request.query_params.multi_items()
        if len(items) > MAX_PARAMS:
            raise FhirError(400, "too-costly", f"{len(items)} search parameters; at most {MAX_PARAMS} in one search")
        for k, v in items:
            if len(v) > MAX_VALUE_LENGTH or v.count(",") >= MAX_VALUES:
                raise FhirError(400, "too-costly", f"{k}: {len(v):,} characters, {v.count(',') + 1:,} values; at most "
                                                   f"{MAX_VALUE_LENGTH:,} characters and {MAX_VALUES} values ORed in one parameter")
            if k not in allowed:
                raise FhirError(400, "not-supported", f"unknown search parameter '{k}' for {kind}; "
                                                      f"supported: {', '.join(sorted(allowed))}")
            p.setdefault(k, []).append(v)
        _confine(kind, p, access)
        if any(v in XML for v in p.get("_format", [])):
            raise FhirError(406, "not-supported", "this server speaks FHIR JSON only (_format=json)")
        for name, ok in CHOICES.items():
            for v in p.get(name, []):
                if v not in ok:
                    raise FhirError(400, "invalid", f"{name}: '{v}' is not one of {', '.join(sorted(ok))}")
        count = 0 if p.get("_summary") == ["count"] else _int(p, "_count", DEFAULT_COUNT, 0, MAX_COUNT)
        offset = _int(p, "_offset", 0, 0, 10**9)
        includes = p.get("_include", [])
        ok_inc = PATIENT_SCOPED.get(kind, ((), ()))[1]
        for inc in includes:
            if inc not in ok_inc:
                raise FhirError(400, "not-supported", f"_include '{inc}' is not supported for {kind}; "
                                                      f"supported: {', '.join(ok_inc) or 'none'}")
        revincludes = self._revincludes(kind, p.get("_revinclude", []), access)
        elements = _elements(p)
        counted = p.get("_total", ["accurate"])[-1] != "none"
        with self.connect() as con:
            if kind in PATIENT_SCOPED and ("patient" in p or "subject" in p):
                # one patient's matches are few: one query builds them all, and the page is cut here
                source, cond, params, order, _ = self._query(kind, p)
                every = con.execute(f"SELECT id, patid, resource FROM ({source}) WHERE {cond} ORDER BY {order}",
                                    params).fetchall()
                total, page = len(every), every[offset:offset + count]
                found = [(i, pid) for i, pid, _ in page]
                res = {i: self._load(r) for i, _, r in page}
                more = offset + count < total
            else:
                total, found, more = self._search_ids(con, kind, p, count, offset, counted)
                res = self._fetch(con, kind, [i for i, _ in found], [pid for _, pid in found if pid is not None])
            ids = [i for i, _ in found]
            entries = [{"fullUrl": f"{self._abs(request)}/{kind}/{i}", "resource": _subset(res[i], elements),
                        "search": {"mode": "match"}} for i in ids if i in res]
            if includes:
                pids = sorted({pid for _, pid in found})
                pats = self._fetch(con, "Patient", [str(x) for x in pids], pids)
                entries += [{"fullUrl": f"{self._abs(request)}/Patient/{i}", "resource": r,
                             "search": {"mode": "include"}} for i, r in pats.items()]
            entries += self._revinclude(con, request, revincludes, ids)
        if self.overlay is not None and offset == 0:  # what apps wrote comes on the first page
            written = self.overlay.search(kind, p, _patients(p))
            at = sum(e["search"]["mode"] == "match" for e in entries)
            entries[at:at] = [{"fullUrl": f"{self._abs(request)}/{kind}/{w['id']}", "resource": _subset(w, elements),
                                           "search": {"mode": "match"}} for w in written[:max(count, 0)]]
            total = total + len(written) if total is not None else None
        links = [{"relation": "self", "url": self._page_url(request, offset)}]
        if count > 0 and more:  # _count=0 asks for the total alone: no page follows
            links.append({"relation": "next", "url": self._page_url(request, offset + count)})
        if offset > 0 and count > 0:
            links.append({"relation": "previous", "url": self._page_url(request, max(0, offset - count))})
        out = {"resourceType": "Bundle", "type": "searchset", **({"total": total} if counted else {}), "link": links}
        if entries:
            out["entry"] = entries
        return out

    def _revincludes(self, kind: str, asked: list[str], access: Access | None) -> list[str]:
        """The types a Patient search's `_revinclude` asks for (Type:patient or Type:subject), checked."""
        ok = {f"{t}:{ref}": t for t, (names, _) in PATIENT_SCOPED.items() for ref in ("patient", "subject") if ref in names}
        out = []
        for v in asked:
            if kind != "Patient" or v not in ok:
                raise FhirError(400, "not-supported", f"_revinclude '{v}' is not supported for {kind}; supported: "
                                + (", ".join(sorted(ok)) if kind == "Patient" else "none (only on Patient)"))
            if access:
                access.restrict(ok[v])  # 403 for a type the token does not cover
            out.append(ok[v])
        return list(dict.fromkeys(out))

    def _revinclude(self, con, request: Request, types: list[str], patids: list[str]) -> list[dict]:
        """The entries of `types` that refer to these patients, at most MAX_REVINCLUDE of them (400 past that)."""
        if not types or not patids:
            return []
        queries = [(t, *self._query(t, {"patient": [",".join(patids)]})[:4]) for t in types]
        n = sum(con.execute(f"SELECT count(*) FROM ({src}) WHERE {cond}", params).fetchone()[0] for _, src, cond, params, _ in queries)
        if n > MAX_REVINCLUDE:
            raise FhirError(400, "too-costly", f"_revinclude would add {n:,} resources to this page; at most "
                                               f"{MAX_REVINCLUDE:,}: ask for a smaller _count")
        return [{"fullUrl": f"{self._abs(request)}/{t}/{i}", "resource": self._load(r), "search": {"mode": "include"}}
                for t, src, cond, params, order in queries
                for i, r in con.execute(f"SELECT id, resource FROM ({src}) WHERE {cond} ORDER BY {order}", params).fetchall()]

    def everything(self, rid: str, request: Request, access: Access | None = None) -> dict:
        """Patient/{id}/$everything: the patient and every resource of their record, as a searchset."""
        patient = self.read("Patient", rid, access)
        entries = [{"fullUrl": f"{self._abs(request)}/Patient/{rid}", "resource": patient, "search": {"mode": "match"}}]
        with self.connect() as con:
            for kind in PATIENT_SCOPED:
                try:
                    if access:
                        access.restrict(kind)
                except FhirError:
                    continue  # a type the token's scopes do not cover is left out
                source, cond, params, order, _ = self._query(kind, {"patient": [rid]})
                for i, r in con.execute(f"SELECT id, resource FROM ({source}) WHERE {cond} ORDER BY {order}", params).fetchall():
                    entries.append({"fullUrl": f"{self._abs(request)}/{kind}/{i}", "resource": self._load(r),
                                    "search": {"mode": "match"}})
        return {"resourceType": "Bundle", "type": "searchset", "total": len(entries),
                "link": [{"relation": "self", "url": str(request.url)}], "entry": entries}

    def _abs(self, request: Request) -> str:
        return str(request.base_url).rstrip("/") + self.base

    @staticmethod
    def _page_url(request: Request, offset: int) -> str:
        return str(request.url.include_query_params(_offset=offset))

    def capability(self, security: dict | None = None) -> dict:
        """The CapabilityStatement; `security`: the SMART sandbox's section, if it is on."""
        resources = []
        for kind in fhir.TYPES:
            params = list(PATIENT_SCOPED.get(kind, ((), ()))[0]) + list(OTHER.get(kind, ())) + ["_id"]
            writable = self.overlay is not None and kind in WRITABLE
            resources.append({
                "type": kind, "profile": fhir.type_profile(kind),
                "interaction": [{"code": "read"}, {"code": "search-type"}, *([{"code": "create"}] if writable else [])],
                "searchInclude": list(PATIENT_SCOPED.get(kind, ((), ()))[1]),
                **({"searchRevInclude": [f"{t}:patient" for t in PATIENT_SCOPED]} if kind == "Patient" else {}),
                **({"operation": [{"name": "everything", "definition":
                                   "http://hl7.org/fhir/OperationDefinition/Patient-everything"}]} if kind == "Patient" else {}),
                "searchParam": [{"name": n, "type": "date" if n in DATE_PARAMS else
                                 "reference" if n in ("patient", "subject") else
                                 "string" if n in ("name", "family", "given") else "token"} for n in params],
            })
        return {"resourceType": "CapabilityStatement", "status": "active", "date": dt.date.today().isoformat(),
                "kind": "instance", "fhirVersion": "4.0.1", "format": ["json"],
                "software": {"name": "synthgp serve"},
                "implementation": {"description": "FHIR R4 API over a synthetic GP practice: read-only"
                                   + (", with writes kept in a resettable overlay" if self.overlay is not None else "")},
                "rest": [{"mode": "server", "resource": resources,
                          "security": security or {"cors": True, "description": "No authentication: synthetic data, "
                                       "read-only, answered only on localhost or the host names the server was started with"}}]}


def _elements(p: dict[str, list[str]]) -> set[str] | None:
    """The top-level elements `_elements` keeps (None: all)."""
    if "_elements" not in p:
        return None
    names = {n.strip() for v in p["_elements"] for n in v.split(",") if n.strip()}
    bad = sorted(n for n in names if not ELEMENT_RE.match(n))
    if bad or not names:
        raise FhirError(400, "invalid", f"_elements: {', '.join(bad) or 'nothing'} is not a list of element names "
                                        "(e.g. _elements=code,valueQuantity)")
    return names


def _subset(res: dict, elements: set[str] | None) -> dict:
    """`res` cut to `elements` (with resourceType, id and meta, tagged SUBSETTED as FHIR asks)."""
    if elements is None:
        return res
    out = {k: v for k, v in res.items() if k in elements or k in ("resourceType", "id")}
    out["meta"] = {**res.get("meta", {}), "tag": [*res.get("meta", {}).get("tag", []), SUBSETTED]}
    return out


def _sort(p: dict[str, list[str]], allowed: dict[str, str], default: str) -> str:
    """The ORDER BY of `_sort` (one key; the id breaks ties)."""
    if "_sort" not in p:
        return default
    key = p["_sort"][-1]
    if key not in allowed:
        raise FhirError(400, "not-supported", f"_sort: '{key}' is not supported here; supported: {', '.join(allowed)}")
    return allowed[key]


def _int(p: dict[str, list[str]], name: str, default: int, lo: int, hi: int) -> int:
    if name not in p:
        return default
    v = p[name][-1]
    if not re.fullmatch(r"\d{1,10}", v) or not lo <= int(v) <= hi:
        raise FhirError(400, "invalid", f"{name}: '{v}' must be a whole number from {lo} to {hi}")
    return int(v)


def access(request: Request) -> Access | None:
    """The bearer token's access, as the SMART sandbox's middleware left it (None: open, no token)."""
    return request.scope.get("state", {}).get("access")


def _http_date(iso: str) -> str:
    return email.utils.format_datetime(dt.datetime.fromisoformat(iso).astimezone(dt.timezone.utc), usegmt=True)


def router(api: Api, security: Callable[[Request], dict | None] = lambda r: None) -> APIRouter:
    r = APIRouter(prefix="/fhir", tags=["FHIR"])

    @r.get("/metadata", summary="CapabilityStatement")
    def metadata(request: Request):
        return JSONResponse(api.capability(security(request)), media_type=FHIR_JSON)

    @r.get("/Patient/{rid}/$everything", summary="Everything in one patient's record")
    def everything(rid: str, request: Request):
        return JSONResponse(api.everything(rid, request, access(request)), media_type=FHIR_JSON)

    for kind in fhir.TYPES:
        names = list(COMMON) + list(PATIENT_SCOPED.get(kind, ((), ()))[0]) + list(OTHER.get(kind, ()))
        r.add_api_route(f"/{kind}", _search_endpoint(api, kind, names), methods=["GET"], summary=f"Search {kind}",
                        name=f"search_{kind}")
        r.add_api_route(f"/{kind}/{{rid}}", _read_endpoint(api, kind), methods=["GET"], summary=f"Read {kind}",
                        name=f"read_{kind}")
    return r


def _search_endpoint(api: Api, kind: str, names: list[str]):
    def endpoint(request: Request, **_: Any):
        return JSONResponse(api.search(kind, request, access(request)), media_type=FHIR_JSON)

    params = [inspect.Parameter("request", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=Request)]
    for n in names:
        params.append(inspect.Parameter(n.replace("-", "_").lstrip("_") + ("_" if n.startswith("_") else ""),
                                        inspect.Parameter.KEYWORD_ONLY, annotation=str | None,
                                        default=Query(None, alias=n)))
    endpoint.__signature__ = inspect.Signature(params)
    endpoint.__name__ = f"search_{kind}"
    return endpoint


def _read_endpoint(api: Api, kind: str):
    def endpoint(rid: str, request: Request):
        res = api.read(kind, rid, access(request))
        etag = f'W/"{res["meta"]["versionId"]}"'
        headers = {"ETag": etag, "Last-Modified": _http_date(res["meta"]["lastUpdated"])}
        if request.headers.get("if-none-match") in (etag, "*"):
            return Response(status_code=304, headers=headers)
        return JSONResponse(res, media_type=FHIR_JSON, headers=headers)
    endpoint.__name__ = f"read_{kind}"
    return endpoint
