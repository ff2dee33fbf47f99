"""The web application: record viewer pages and the FHIR API, over one output's DuckDB file, read-only."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, PlainTextResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from fastapi_offline import FastAPIOffline
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.cors import CORSMiddleware
from starlette.middleware.trustedhost import TrustedHostMiddleware

from synthgp._version import __version__
from synthgp.core.output import Output
from synthgp.evaluate import covid, flu
from synthgp.serve import coverage, overlay, search_index, smart, smart_apps, viewer
from synthgp.serve.fhir_access import access
from synthgp.serve.fhir_api import Api
from synthgp.serve.fhir_params import FhirError, outcome
from synthgp.serve.fhir_routes import router

HERE = Path(__file__).parent


MAX_URL = 8_192  # bytes of path and query a request may carry; longer ones get 414


def create_app(out: Path, allowed_hosts: list[str] | None = None, apps: Path | None = None,
               require_auth: bool = False, writable: bool = False) -> FastAPI:
    """The app over output `out`. `allowed_hosts`: the Host headers answered (others get 400, so a
    page elsewhere cannot reach the server by DNS rebinding, nor put its name in bundle links);
    None answers any (for an app mounted in a larger one). `apps`: the SMART sandbox's registered
    apps (default `out`/smart-apps.toml, if there); `require_auth`: the FHIR API answers only a bearer
    token (otherwise it reads openly without one, and as the token allows with one); `writable`: apps may
    create resources, kept in an overlay beside the practice (serve/overlay.py), which stays unchanged."""
    output = Output.open(out)  # NotAnOutputError (a ValueError) naming what is missing
    output.connect().close()  # the database is there and opens
    registered = smart_apps.load(Path(apps) if apps else Path(out) / smart_apps.FILE_NAME)  # AppsError: a ValueError
    if require_auth and not registered:
        raise smart_apps.AppsError("the API cannot require a token when no app is registered to get one: "
                                   "register one with `synthgp apps add` (docs/sandbox.md)")
    sandbox = smart.Sandbox(registered, require_auth)
    index = search_index.SearchIndex(output.db)  # the practice attached read-only, the search index beside it
    index.start()
    connect = index.connect  # a connection of its own per request (`with connect() as con`)

    # the API docs (/docs, /redoc) with their scripts served from here, not a CDN: they work offline
    app = FastAPIOffline(title="synthgp record viewer and FHIR API", version=__version__,
                  description="A synthetic GP practice: pages for people under /, FHIR R4 under /fhir. Read-only.")
    app.state.search_index = index
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    templates = Jinja2Templates(directory=HERE / "templates")
    templates.env.filters["d"] = lambda d: d.strftime("%d %b %Y") if d else ""
    templates.env.filters["pct"] = lambda x: "-" if x is None else f"{100 * x:.1f}%"
    api = Api(connect, updated=output.manifest.get("created", "1970-01-01T00:00:00+00:00"))
    api.index = index
    if writable:
        api.overlay = overlay.Overlay(Path(out) / overlay.FILE_NAME, lambda patid: patient_resource(patid) is not None)
    app.include_router(overlay.router(api.overlay, access))
    app.include_router(router(api, lambda request: smart.security(request, sandbox)))
    app.add_middleware(smart.Bearer, sandbox=sandbox)
    if allowed_hosts is not None:
        app.add_middleware(TrustedHostMiddleware, allowed_hosts=allowed_hosts)
    # apps under test run in browsers on other origins: they may read (GET) the synthetic record, and
    # get tokens (POST /auth/token); a bearer token goes in the Authorization header, not a cookie
    app.add_middleware(CORSMiddleware, allow_origins=["*"], allow_methods=["GET", "POST"], allow_headers=["*"],
                       expose_headers=["WWW-Authenticate"])
    app.add_middleware(_LongUrl)

    def page(request: Request, name: str, status: int = 200, **ctx):
        return templates.TemplateResponse(request, name, {"output": Path(out).name, **ctx}, status_code=status)

    @app.exception_handler(FhirError)
    def _fhir_error(request: Request, exc: FhirError):
        return outcome(exc.status, exc.code, exc.message)

    @app.exception_handler(overlay.WriteError)
    def _write_error(request: Request, exc: overlay.WriteError):
        return outcome(exc.status, exc.code, exc.message)

    @app.exception_handler(RequestValidationError)
    def _invalid(request: Request, exc: RequestValidationError):
        msg = "; ".join(f"{'.'.join(map(str, e['loc'][1:]))}: {e['msg']}" for e in exc.errors())
        if request.url.path.startswith("/fhir"):
            return outcome(400, "invalid", msg)
        return PlainTextResponse(f"Bad request: {msg}", status_code=400)

    @app.exception_handler(StarletteHTTPException)
    def _http(request: Request, exc: StarletteHTTPException):
        if request.url.path.startswith("/fhir"):
            return outcome(exc.status_code, "not-found" if exc.status_code == 404 else "processing", str(exc.detail))
        return page(request, "error.html", exc.status_code, message=exc.detail)

    def picker(request: Request, request_id: str, q: str, page_no: int):
        with connect() as con:
            try:
                total, rows = viewer.patients(con, viewer.Query(q[:100], None, min(page_no, 100000)))
                error = None
            except ValueError as exc:
                total, rows, error = 0, [], str(exc)
        req = sandbox.waiting.get(request_id)
        return page(request, "picker.html", pq=q, rows=rows, total=total, page=page_no, error=error,
                    pages=max(1, -(-total // viewer.PAGE)), request_id=request_id, app=sandbox.apps[req["client_id"]],
                    scope=req["scope"])

    def patient_resource(patid: int) -> dict | None:
        try:
            return api.read("Patient", str(patid))
        except FhirError:
            return None

    app.include_router(smart.router(sandbox, picker, patient_resource))

    covered: dict = {}

    def vaccination_coverage(con) -> dict:
        """The dashboard's coverage tables, computed once: the record does not change while served (writes go
        to the sandbox overlay, which the dashboard does not read)."""
        if not covered:
            covered.update(flu_seasons=coverage.flu_seasons(con), immunisations=coverage.immunisations(con))
        return covered

    @app.get("/status", summary="Whether the FHIR search index is built (searches are slower until it is)")
    def status():
        return {"search_index": "ready" if index.wait(0) else "building",
                "built_seconds": {k: round(v, 1) for k, v in index.seconds.items()}}

    @app.get("/", response_class=HTMLResponse, summary="Practice dashboard")
    def dashboard(request: Request):
        with connect() as con:
            return page(request, "dashboard.html", practices=viewer.dashboard(con), flu_definition=flu.DEFINITION,
                        covid_definition=covid.DEFINITION, **vaccination_coverage(con))

    @app.get("/practice/{pracid}", response_class=HTMLResponse, summary="A practice's recall lists")
    def practice(request: Request, pracid: int):
        with connect() as con:
            rows = [r for r in viewer.dashboard(con) if r["pracid"] == pracid]
            if not rows:
                raise HTTPException(404, f"No practice {pracid}")
            return page(request, "practice.html", p=rows[0], overdue=viewer.recall(con, pracid, "overdue"),
                        uncontrolled=viewer.recall(con, pracid, "uncontrolled"))

    @app.get("/patients", response_class=HTMLResponse, summary="Find a patient")
    def patients(request: Request, q: str = Query("", max_length=100), pracid: int | None = Query(None, ge=0),
                 page_no: int = Query(1, ge=1, le=100000, alias="page")):
        with connect() as con:
            try:
                total, rows = viewer.patients(con, viewer.Query(q, pracid, page_no))
            except ValueError as exc:
                return page(request, "patients.html", 400, q=q, pracid=pracid, error=str(exc), rows=[], total=0,
                            page=1, pages=1)
        pages = max(1, -(-total // viewer.PAGE))
        return page(request, "patients.html", q=q, pracid=pracid, rows=rows, total=total, page=page_no,
                    pages=pages, error=None)

    @app.get("/patient/{patid}", response_class=HTMLResponse, summary="A patient's record")
    def patient(request: Request, patid: int):
        with connect() as con:
            rec = viewer.record(con, patid)
        if rec is None:
            raise HTTPException(404, f"No patient {patid}")
        chart = viewer.bp_chart(rec["bps"], rec["issues"], rec["target"])
        launchable = [a for a in sandbox.apps.values() if a.launch_url]
        return page(request, "patient.html", r=rec, chart=chart, today=dt.date.today(), apps=launchable, patid=patid)

    return app


class _LongUrl:
    """414 for a request whose path and query exceed MAX_URL (an OperationOutcome under /fhir)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and len(scope.get("raw_path") or b"") + len(scope.get("query_string") or b"") > MAX_URL:
            msg = f"the request's URL is longer than {MAX_URL:,} bytes; send fewer or shorter search parameters"
            resp = outcome(414, "too-long", msg) if scope["path"].startswith("/fhir") else PlainTextResponse(msg, 414)
            await resp(scope, receive, send)
            return
        await self.app(scope, receive, send)
