"""How the server answers errors: an OperationOutcome under /fhir, an error page elsewhere, and 414 for a
request whose URL is too long."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import PlainTextResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from synthgp.serve import overlay
from synthgp.serve.fhir_params import FhirError, outcome

MAX_URL = 8_192  # bytes of path and query a request may carry; longer ones get 414


def install(app: FastAPI, page: Callable) -> None:
    """The app's error handlers; `page(request, template, status, **ctx)` renders the HTML error page."""

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


class LongUrl:
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
