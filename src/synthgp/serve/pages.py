"""The record viewer's HTML pages (dashboard, a practice's recall lists, finding a patient, a patient's record)
and the SMART sandbox's patient picker, rendered from the practice's tables."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from synthgp.evaluate import covid, flu
from synthgp.serve import coverage, smart, viewer
from synthgp.serve.shared_queries import Shared

HERE = Path(__file__).parent


class Pages:
    """Renders the templates, with the output's name on every page."""

    def __init__(self, output_name: str):
        self.output_name = output_name
        self.templates = Jinja2Templates(directory=HERE / "templates")
        self.templates.env.filters["d"] = lambda d: d.strftime("%d %b %Y") if d else ""
        self.templates.env.filters["pct"] = lambda x: "-" if x is None else f"{100 * x:.1f}%"

    def page(self, request: Request, name: str, status: int = 200, **ctx):
        return self.templates.TemplateResponse(request, name, {"output": self.output_name, **ctx}, status_code=status)


def picker(pages: Pages, connect: Callable, sandbox: smart.Sandbox) -> Callable[..., HTMLResponse]:
    """The patient picker of a standalone launch: `picker(request, waiting_key, q, page)`."""

    def render(request: Request, request_id: str, q: str, page_no: int):
        with connect() as con:
            try:
                total, rows = viewer.patients(con, viewer.Query(q[:100], None, min(page_no, 100000)))
                error = None
            except ValueError as exc:
                total, rows, error = 0, [], str(exc)
        req = sandbox.waiting.get(request_id)
        return pages.page(request, "picker.html", pq=q, rows=rows, total=total, page=page_no, error=error,
                          pages=max(1, -(-total // viewer.PAGE)), request_id=request_id,
                          app=sandbox.apps[req["client_id"]], scope=req["scope"])

    return render


def router(pages: Pages, connect: Callable, sandbox: smart.Sandbox) -> APIRouter:
    """The viewer's pages over connections from `connect`; a patient's page offers the sandbox's launchable apps."""
    r = APIRouter()
    page = pages.page
    covered: dict = {}
    shared = Shared()  # a patient's record read in queries shared with concurrent requests

    def vaccination_coverage(con) -> dict:
        """The dashboard's coverage tables, computed once: the record does not change while served (writes go
        to the sandbox overlay, which the dashboard does not read)."""
        if not covered:
            covered.update(flu_seasons=coverage.flu_seasons(con), immunisations=coverage.immunisations(con))
        return covered

    @r.get("/", response_class=HTMLResponse, summary="Practice dashboard")
    def dashboard(request: Request):
        with connect() as con:
            return page(request, "dashboard.html", practices=viewer.dashboard(con), flu_definition=flu.DEFINITION,
                        covid_definition=covid.DEFINITION, **vaccination_coverage(con))

    @r.get("/practice/{pracid}", response_class=HTMLResponse, summary="A practice's recall lists")
    def practice(request: Request, pracid: int):
        with connect() as con:
            rows = [r for r in viewer.dashboard(con) if r["pracid"] == pracid]
            if not rows:
                raise HTTPException(404, f"No practice {pracid}")
            return page(request, "practice.html", p=rows[0], overdue=viewer.recall(con, pracid, "overdue"),
                        uncontrolled=viewer.recall(con, pracid, "uncontrolled"))

    @r.get("/patients", response_class=HTMLResponse, summary="Find a patient")
    def patients(request: Request, q: str = Query("", max_length=100), pracid: int | None = Query(None, ge=0),
                 page_no: int = Query(1, ge=1, le=100000, alias="page")):
        with connect() as con:
            try:
                total, rows = viewer.patients(con, viewer.Query(q, pracid, page_no))
            except ValueError as exc:
                return page(request, "patients.html", 400, q=q, pracid=pracid, error=str(exc), rows=[], total=0,
                            page=1, pages=1)
        pages_n = max(1, -(-total // viewer.PAGE))
        return page(request, "patients.html", q=q, pracid=pracid, rows=rows, total=total, page=page_no,
                    pages=pages_n, error=None)

    @r.get("/patient/{patid}", response_class=HTMLResponse, summary="A patient's record")
    def patient(request: Request, patid: int):
        with connect() as con:
            rec = viewer.record(con, patid, shared)
        if rec is None:
            raise HTTPException(404, f"No patient {patid}")
        chart = viewer.bp_chart(rec["bps"], rec["issues"], rec["target"])
        launchable = [a for a in sandbox.apps.values() if a.launch_url]
        return page(request, "patient.html", r=rec, chart=chart, today=dt.date.today(), apps=launchable, patid=patid)

    return r
