"""A FHIR search as SQL over the record (or the search index): the source, the condition, its bound
parameters and the order. Values reach SQL only as bound parameters."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from synthgp.formats import fhir_resources as fhir
from synthgp.serve.fhir_params import (
    CODE_PARAMS,
    DATE_PARAMS,
    ID_RE,
    KIND_PARAMS,
    PATIENT_SCOPED,
    PATIENT_SORTS,
    SORTS,
    FhirError,
    date_range,
    date_sql,
    patients,
    sort_sql,
    token,
)

if TYPE_CHECKING:
    from synthgp.serve.search_index import SearchIndex


def search_sql(kind: str, p: dict[str, list[str]], index: SearchIndex | None, updated: str,
               indexed: bool = False) -> tuple[str, str, dict, str, str]:
    """The search as SQL: (source, condition, parameters, order, patient id column). `indexed`: the
    caller reads only the search columns (no resource), so the search index may answer, once built."""
    params: dict[str, Any] = {}
    where: list[str] = []
    if kind in PATIENT_SCOPED:
        source, order, pat = _patient_level(kind, p, index if indexed else None, where, params)
    elif kind == "Patient":
        source, order, pat = _patient(p, where, params)
    else:
        source, order, pat = _practice_level(kind, p, where, params)
    for v in p.get("_lastUpdated", []):  # every resource was last updated when the output was written
        prefix, lo, hi = date_range(v, "_lastUpdated")
        day = dt.date.fromisoformat(updated[:10])
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


def _patient_level(kind: str, p: dict[str, list[str]], index: SearchIndex | None, where: list[str],
                   params: dict) -> tuple[str, str, str]:
    """(source, order, patient column) of a patient-level type's search, its conditions added to `where`; over
    the search index once built (`index`), else over the record."""
    flt = fhir.everyone
    patids = patients(p)
    table = index.table(kind) if index is not None else None
    if table is None and patids is not None:
        params["patids"] = sorted(patids)
        flt = lambda a: f"{a}.patid IN (SELECT unnest($patids::BIGINT[]))"  # noqa: E731
    source = fhir.QUERIES[kind](flt) if table is None else f"SELECT * FROM {table}"
    if table is not None and patids is not None:  # the index sorted by patient: a row group or two read
        source = f"SELECT * FROM {index.by_patient(kind)}"
        params.update({f"pat_{j}": x for j, x in enumerate(sorted(patids))})
        where.append(f"patid IN ({', '.join(f'$pat_{j}' for j in range(len(patids)))})" if patids else "FALSE")
    coded = [(name, v) for name in CODE_PARAMS for v in p.get(name, [])]
    for i, (name, v) in enumerate(coded):  # each parameter's values ORed, repeated parameters ANDed
        key = f"code_{i}"
        params[key] = [token(item, name)[1] for item in v.split(",")]
        if table is None:
            where.append(f"list_has_any(scodes, ${key}::VARCHAR[])")
        elif i == 0 and len(params[key]) == 1:  # the index's rows by code, sorted by code then date: one code's
            params[key] = params[key][0]  # rows are read in order, and (code, id) is unique: no DISTINCT
            source = f"SELECT id, patid, sdate, scat FROM {index.codes(kind)} WHERE code = ${key}"
        elif i == 0:  # several codes ORed: a resource may have two of them
            source = (f"SELECT DISTINCT id, patid, sdate, scat FROM {index.codes(kind)} "
                      f"WHERE list_contains(${key}::VARCHAR[], code)")
        else:
            where.append(f"id IN (SELECT id FROM {index.codes(kind)} WHERE list_contains(${key}::VARCHAR[], code))")
    for name in KIND_PARAMS:
        for i, v in enumerate(p.get(name, [])):
            _, code = token(v, name)
            params[f"{name}_{i}"] = code
            where.append(f"scat = ${name}_{i}")
    for name in DATE_PARAMS & set(p):
        where += date_sql("sdate", p[name], name.replace("-", "_"), params)
    return source, sort_sql(p, SORTS, "sdate, id"), "patid"


def _patient(p: dict[str, list[str]], where: list[str], params: dict) -> tuple[str, str, str]:
    """(source, order, patient column) of a Patient search, its conditions added to `where`."""
    source = ("SELECT p.patid, CAST(p.patid AS VARCHAR) AS id, i.*, p.gender AS g FROM patient p "
              "JOIN patient_identity i USING (patid)")
    for i, v in enumerate(p.get("identifier", [])):
        system, value = token(v, "identifier")
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
        where += date_sql("date_of_birth", p["birthdate"], "birthdate", params)
    return source, sort_sql(p, PATIENT_SORTS, "patid"), "patid"


def _practice_level(kind: str, p: dict[str, list[str]], where: list[str], params: dict) -> tuple[str, str, str]:
    """(source, order, patient column) of an Organization or Practitioner search, its conditions added to `where`."""
    table, alias = ("staff s JOIN staff_identity si USING (staffid)", "staffid") if kind == "Practitioner" \
        else ("practice", "pracid")
    source = f"SELECT CAST({alias} AS VARCHAR) AS id, * FROM {table}"
    names = (("name", ("given_name", "family_name")), ("family", ("family_name",)), ("given", ("given_name",))) \
        if kind == "Practitioner" else (("name", ("name",)),)
    for name, cols in names:
        for i, v in enumerate(p.get(name, [])):
            params[f"{name}_{i}"] = v.strip().lower()
            where.append("(" + " OR ".join(f"contains(lower({c}), ${name}_{i})" for c in cols) + ")")
    return source, "id", "NULL::BIGINT"
