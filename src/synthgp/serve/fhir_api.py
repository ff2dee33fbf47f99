"""FHIR R4 read and search API over a generated practice, serving the same resources as the export.

Read: GET /fhir/{type}/{id}. Search: GET /fhir/{type}?params, answered with a searchset Bundle
(`total` unless `_total=none`, `self`/`next`/`previous` links, `_count` from 0 (the total alone) to
500, `_offset` for paging, `_include` of the patient). Repeated parameters are ANDed, comma-separated
values ORed. Every parameter is validated; unknown ones and malformed values get a 400
OperationOutcome, more than a search may ask for a 400 "too-costly", unknown ids a 404. Values reach
SQL only as bound parameters. Routes: serve/fhir_routes.py; parameters: serve/fhir_params.py;
the SQL: serve/fhir_sql.py.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Callable

import duckdb
from fastapi import Request

from synthgp.formats import fhir_resources as fhir
from synthgp.serve.fhir_access import Access, confine
from synthgp.serve.fhir_build import Builder, Row
from synthgp.serve.fhir_json import Raw, parsed, resource
from synthgp.serve.fhir_params import ID_RE, PATIENT_SCOPED, FhirError, collect, elements, options, patients, subset
from synthgp.serve.fhir_sql import search_sql

TOTALS_KEPT = 1_024  # search totals remembered (the data are read-only)
MAX_REVINCLUDE = 5_000  # resources one page may pull in with _revinclude; more is a 400 (ask for a smaller _count)


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
        self.builder = Builder(connect)  # builds patients' resources, in queries shared by concurrent requests

    def _load(self, text: str) -> Raw | dict:
        """A resource from its JSON, with meta.versionId and meta.lastUpdated (as text: serve/fhir_json.py)."""
        return resource(text, self.updated)

    # ------------------------------------------------------------------ reading
    def _fetch(self, con, kind: str, ids: list[str], patids: list[int] | None) -> dict[str, Raw | dict]:
        """Resources of `kind` with these ids (patient-level: of these patients), as dicts by id; only these
        are built (a patient's, in a query shared with other requests: serve/fhir_build.py)."""
        if not ids:
            return {}
        if kind in PATIENT_SCOPED or kind == "Patient":
            rows = [(i, r) for _, i, r, _ in self.builder.build(kind, patids or [], ids)]
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
        return parsed(res[rid])

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

    def search(self, kind: str, request: Request, access: Access | None = None) -> dict:
        p = collect(kind, request.query_params.multi_items())
        confine(kind, p, access)
        o = options(kind, p)
        count, offset, includes, counted = o.count, o.offset, o.includes, o.counted
        revincludes = self._revincludes(kind, p.get("_revinclude", []), access)
        wanted = elements(p)
        with self.connect() as con:
            if kind in PATIENT_SCOPED and ("patient" in p or "subject" in p) and self._indexed(kind):
                # a patient's matches are few: the index (sorted by patient) gives them all, the page is cut here
                # and only its resources are built
                source, cond, params, order, _ = self._query(kind, p, indexed=True)
                every = con.execute(f"SELECT id, patid FROM ({source}) WHERE {cond} ORDER BY {order}", params).fetchall()
                total, found, more = len(every), every[offset:offset + count], offset + count < len(every)
                res = self._fetch(con, kind, [i for i, _ in found], [pid for _, pid in found])
            elif kind in PATIENT_SCOPED and ("patient" in p or "subject" in p):
                # (before the index is built) one query builds the patients' resources, and the page is cut here
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
            entries = [{"fullUrl": f"{self._abs(request)}/{kind}/{i}",
                        "resource": res[i] if wanted is None else subset(parsed(res[i]), wanted),
                        "search": {"mode": "match"}} for i in ids if i in res]
            if includes:
                pids = sorted({pid for _, pid in found})
                pats = self._fetch(con, "Patient", [str(x) for x in pids], pids)
                entries += [{"fullUrl": f"{self._abs(request)}/Patient/{i}", "resource": r,
                             "search": {"mode": "include"}} for i, r in pats.items()]
            entries += self._revinclude(con, request, revincludes, ids)
        if self.overlay is not None and offset == 0:  # what apps wrote comes on the first page
            written = self.overlay.search(kind, p, patients(p))
            at = sum(e["search"]["mode"] == "match" for e in entries)
            entries[at:at] = [{"fullUrl": f"{self._abs(request)}/{kind}/{w['id']}", "resource": subset(w, wanted),
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
        kinds = tuple(k for k in PATIENT_SCOPED if _covers(access, k))  # types the token's scopes do not cover are left out
        for kind, rows in self.builder.records(int(rid), kinds).items():
            entries += [{"fullUrl": f"{self._abs(request)}/{kind}/{i}", "resource": self._load(r),
                         "search": {"mode": "match"}} for _, i, r, _ in sorted(rows, key=_by_date)]
        return {"resourceType": "Bundle", "type": "searchset", "total": len(entries),
                "link": [{"relation": "self", "url": str(request.url)}], "entry": entries}

    def _indexed(self, kind: str) -> bool:
        return self.index is not None and self.index.table(kind) is not None

    def _query(self, kind: str, p: dict[str, list[str]], indexed: bool = False) -> tuple[str, str, dict, str, str]:
        return search_sql(kind, p, self.index, self.updated, indexed)

    def _abs(self, request: Request) -> str:
        return str(request.base_url).rstrip("/") + self.base

    @staticmethod
    def _page_url(request: Request, offset: int) -> str:
        return str(request.url.include_query_params(_offset=offset))



def _by_date(row: Row) -> tuple:
    """The order of a search without _sort (sdate, id; a resource without a date last), as DuckDB sorts them."""
    return row[3] is None, row[3] or 0, row[1]


def _covers(access: Access | None, kind: str) -> bool:
    """Whether the token (if any) may read `kind`."""
    try:
        if access:
            access.restrict(kind)
    except FhirError:
        return False
    return True
