"""The web application: record viewer pages and the FHIR API, over one output's DuckDB file, read-only."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline
from starlette.middleware.cors import CORSMiddleware
from starlette.middleware.trustedhost import TrustedHostMiddleware

from synthgp._version import __version__
from synthgp.core.output import Output
from synthgp.serve import http_errors, overlay, pages, search_index, smart, smart_apps, smart_routes
from synthgp.serve.fhir_access import access
from synthgp.serve.fhir_api import Api
from synthgp.serve.fhir_params import FhirError
from synthgp.serve.fhir_routes import router

HERE = Path(__file__).parent


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
    api = Api(connect, updated=output.manifest.get("created", "1970-01-01T00:00:00+00:00"))
    api.index = index

    def patient_resource(patid: int) -> dict | None:
        try:
            return api.read("Patient", str(patid))
        except FhirError:
            return None

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
    app.add_middleware(http_errors.LongUrl)

    html = pages.Pages(Path(out).name)
    http_errors.install(app, html.page)
    app.include_router(smart_routes.router(sandbox, pages.picker(html, connect, sandbox), patient_resource))

    @app.get("/status", summary="Whether the FHIR search index is built (searches are slower until it is)")
    def status():
        return {"search_index": "ready" if index.wait(0) else "building",
                "built_seconds": {k: round(v, 1) for k, v in index.seconds.items()}}

    app.include_router(pages.router(html, connect, sandbox))
    return app
