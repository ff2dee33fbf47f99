"""The FHIR API's search parameters: limits, what each resource type may be searched by, and the parsing
and checking of each value (a 400 OperationOutcome for anything malformed or too costly)."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from fastapi.responses import JSONResponse

from synthgp.serve.shared_queries import BIGINT

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


# --------------------------------------------------------------------------- parameter parsing

def date_range(value: str, name: str) -> tuple[str, dt.date, dt.date]:
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


def date_sql(col: str, values: list[str], name: str, params: dict) -> list[str]:
    out = []
    for i, v in enumerate(values):
        prefix, lo, hi = date_range(v, name)
        a, b = f"{name}_{i}_lo", f"{name}_{i}_hi"
        sql = {"eq": f"{col} BETWEEN ${a} AND ${b}", "ne": f"NOT ({col} BETWEEN ${a} AND ${b})",
               "gt": f"{col} > ${b}", "ge": f"{col} >= ${a}", "lt": f"{col} < ${a}", "le": f"{col} <= ${b}"}[prefix]
        if f"${a}" in sql:
            params[a] = lo
        if f"${b}" in sql:
            params[b] = hi
        out.append(sql)
    return out


def token(value: str, name: str) -> tuple[str | None, str]:
    if "|" in value:
        system, code = value.split("|", 1)
    else:
        system, code = None, value
    if not code or len(code) > 64 or not re.fullmatch(r"[A-Za-z0-9\-.]+", code):
        raise FhirError(400, "invalid", f"{name}: '{value}' is not a token (code or system|code)")
    return system or None, code


def patient_ref(value: str, name: str) -> int:
    ref = value.removeprefix("Patient/")
    if not ID_RE.match(ref):
        raise FhirError(400, "invalid", f"{name}: '{value}' is not a patient reference (Patient/<id> or <id>)")
    return int(ref)


def patients(p: dict[str, list[str]]) -> set[int] | None:
    """The patients a search is restricted to (None: any). FHIR's rules: the values of one parameter,
    comma-separated, are ORed; repeated parameters (patient and subject alike) are ANDed."""
    out: set[int] | None = None
    for name in ("patient", "subject"):
        for v in p.get(name, []):
            these = {r for r in (patient_ref(x, name) for x in v.split(",")) if r in BIGINT}  # others are nobody
            out = these if out is None else out & these
    return out


# --------------------------------------------------------------------------- search definitions

COMMON = ("_count", "_offset", "_include", "_revinclude", "_id", "_total", "_totalMethod", "_format", "_sort", "_summary",
          "_elements", "_lastUpdated")
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
    "CarePlan": (("patient", "subject", "category", "date"), ("CarePlan:patient", "CarePlan:subject")),
}
OTHER = {"Patient": ("identifier", "name", "family", "given", "birthdate", "gender"),
         "Practitioner": ("name", "family", "given"), "Organization": ("name",)}
DATE_PARAMS = {"date", "onset-date", "authoredon", "authored", "birthdate"}
CODE_PARAMS = ("code", "vaccine-code", "reason-code")  # tokens matched against a resource's codes (scodes)
KIND_PARAMS = ("category", "status")  # tokens matched against a resource's category or status (scat)


@dataclass(frozen=True)
class Options:
    """A search's result parameters, checked: the page (_count, _offset), _include and whether to count."""

    count: int
    offset: int
    includes: list[str]
    counted: bool


def collect(kind: str, items: list[tuple[str, str]]) -> dict[str, list[str]]:
    """A search's parameters by name (repeated ones in order), each known for `kind` and within the limits."""
    allowed = set(COMMON) | set(PATIENT_SCOPED.get(kind, ((), ()))[0]) | set(OTHER.get(kind, ()))
    if len(items) > MAX_PARAMS:
        raise FhirError(400, "too-costly", f"{len(items)} search parameters; at most {MAX_PARAMS} in one search")
    p: dict[str, list[str]] = {}
    for k, v in items:
        if len(v) > MAX_VALUE_LENGTH or v.count(",") >= MAX_VALUES:
            raise FhirError(400, "too-costly", f"{k}: {len(v):,} characters, {v.count(',') + 1:,} values; at most "
                                               f"{MAX_VALUE_LENGTH:,} characters and {MAX_VALUES} values ORed in one parameter")
        if k not in allowed:
            raise FhirError(400, "not-supported", f"unknown search parameter '{k}' for {kind}; "
                                                  f"supported: {', '.join(sorted(allowed))}")
        p.setdefault(k, []).append(v)
    return p


def options(kind: str, p: dict[str, list[str]]) -> Options:
    """The result parameters of a search's parameters `p` (406 for XML, 400 for a bad value)."""
    if any(v in XML for v in p.get("_format", [])):
        raise FhirError(406, "not-supported", "this server speaks FHIR JSON only (_format=json)")
    for name, ok in CHOICES.items():
        for v in p.get(name, []):
            if v not in ok:
                raise FhirError(400, "invalid", f"{name}: '{v}' is not one of {', '.join(sorted(ok))}")
    count = 0 if p.get("_summary") == ["count"] else whole(p, "_count", DEFAULT_COUNT, 0, MAX_COUNT)
    offset = whole(p, "_offset", 0, 0, 10**9)
    includes = p.get("_include", [])
    ok_inc = PATIENT_SCOPED.get(kind, ((), ()))[1]
    for inc in includes:
        if inc not in ok_inc:
            raise FhirError(400, "not-supported", f"_include '{inc}' is not supported for {kind}; "
                                                  f"supported: {', '.join(ok_inc) or 'none'}")
    return Options(count, offset, includes, p.get("_total", ["accurate"])[-1] != "none")


def elements(p: dict[str, list[str]]) -> set[str] | None:
    """The top-level elements `_elements` keeps (None: all)."""
    if "_elements" not in p:
        return None
    names = {n.strip() for v in p["_elements"] for n in v.split(",") if n.strip()}
    bad = sorted(n for n in names if not ELEMENT_RE.match(n))
    if bad or not names:
        raise FhirError(400, "invalid", f"_elements: {', '.join(bad) or 'nothing'} is not a list of element names "
                                        "(e.g. _elements=code,valueQuantity)")
    return names


def subset(res: dict, elements: set[str] | None) -> dict:
    """`res` cut to `elements` (with resourceType, id and meta, tagged SUBSETTED as FHIR asks)."""
    if elements is None:
        return res
    out = {k: v for k, v in res.items() if k in elements or k in ("resourceType", "id")}
    out["meta"] = {**res.get("meta", {}), "tag": [*res.get("meta", {}).get("tag", []), SUBSETTED]}
    return out


def sort_sql(p: dict[str, list[str]], allowed: dict[str, str], default: str) -> str:
    """The ORDER BY of `_sort` (one key; the id breaks ties)."""
    if "_sort" not in p:
        return default
    key = p["_sort"][-1]
    if key not in allowed:
        raise FhirError(400, "not-supported", f"_sort: '{key}' is not supported here; supported: {', '.join(allowed)}")
    return allowed[key]


def whole(p: dict[str, list[str]], name: str, default: int, lo: int, hi: int) -> int:
    if name not in p:
        return default
    v = p[name][-1]
    if not re.fullmatch(r"\d{1,10}", v) or not lo <= int(v) <= hi:
        raise FhirError(400, "invalid", f"{name}: '{v}' must be a whole number from {lo} to {hi}")
    return int(v)

