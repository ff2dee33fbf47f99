"""The FHIR API's routes under /fhir (metadata, $everything, and read and search of every type) and its
CapabilityStatement."""

from __future__ import annotations

import datetime as dt
import email.utils
import inspect
from typing import Any, Callable

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response

from synthgp.formats import fhir_resources as fhir
from synthgp.serve.fhir_access import access
from synthgp.serve.fhir_api import Api
from synthgp.serve.fhir_json import FhirResponse
from synthgp.serve.fhir_params import COMMON, DATE_PARAMS, FHIR_JSON, OTHER, PATIENT_SCOPED
from synthgp.serve.overlay import WRITABLE


def capability(api: Api, security: dict | None = None) -> dict:
    """The CapabilityStatement; `security`: the SMART sandbox's section, if it is on."""
    resources = []
    for kind in fhir.TYPES:
        params = list(PATIENT_SCOPED.get(kind, ((), ()))[0]) + list(OTHER.get(kind, ())) + ["_id"]
        writable = api.overlay is not None and kind in WRITABLE
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
                               + (", with writes kept in a resettable overlay" if api.overlay is not None else "")},
            "rest": [{"mode": "server", "resource": resources,
                      "security": security or {"cors": True, "description": "No authentication: synthetic data, "
                                   "read-only, answered only on localhost or the host names the server was started with"}}]}


def _http_date(iso: str) -> str:
    return email.utils.format_datetime(dt.datetime.fromisoformat(iso).astimezone(dt.timezone.utc), usegmt=True)


def router(api: Api, security: Callable[[Request], dict | None] = lambda r: None) -> APIRouter:
    r = APIRouter(prefix="/fhir", tags=["FHIR"])

    @r.get("/metadata", summary="CapabilityStatement")
    def metadata(request: Request):
        return JSONResponse(capability(api, security(request)), media_type=FHIR_JSON)

    @r.get("/Patient/{rid}/$everything", summary="Everything in one patient's record")
    def everything(rid: str, request: Request):
        return FhirResponse(api.everything(rid, request, access(request)))

    for kind in fhir.TYPES:
        names = list(COMMON) + list(PATIENT_SCOPED.get(kind, ((), ()))[0]) + list(OTHER.get(kind, ()))
        r.add_api_route(f"/{kind}", _search_endpoint(api, kind, names), methods=["GET"], summary=f"Search {kind}",
                        name=f"search_{kind}")
        r.add_api_route(f"/{kind}/{{rid}}", _read_endpoint(api, kind), methods=["GET"], summary=f"Read {kind}",
                        name=f"read_{kind}")
    return r


def _search_endpoint(api: Api, kind: str, names: list[str]):
    def endpoint(request: Request, **_: Any):
        return FhirResponse(api.search(kind, request, access(request)))

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
