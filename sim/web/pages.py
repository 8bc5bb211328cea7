"""The server-rendered pages (Jinja2) and the HTML fragments htmx swaps into them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, Form, HTTPException, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, Response
from fastapi.templating import Jinja2Templates

from sim.config.disruptions import KINDS
from sim.config.secrets import redact
from sim.contract.schema import TABLES
from sim.web import backend
from sim.web.models import OLD_TYPES
from sim.web.realism import report_file

TEMPLATES = Jinja2Templates(directory=Path(__file__).parent / "templates")
pages = APIRouter(include_in_schema=False)

NAV = [
    ("/", "Overview"),
    ("/scenario", "Scenario"),
    ("/generate", "Generate"),
    ("/data", "Data"),
    ("/live", "Live"),
    ("/quality", "Quality"),
    ("/danger", "Danger"),
]


def _page(request: Request, page: str, **context: Any) -> HTMLResponse:
    c = request.app.state.console
    return TEMPLATES.TemplateResponse(
        request,
        f"{page}.html",
        {"nav": NAV, "path": request.url.path, "output": str(c.output), **context},
    )


@pages.get("/", response_class=HTMLResponse)
def overview(request: Request) -> HTMLResponse:
    return _page(request, "overview", o=request.app.state.console.overview())


@pages.get("/scenario", response_class=HTMLResponse)
def scenario(request: Request, file: str | None = Query(None, max_length=100)) -> HTMLResponse:
    c = request.app.state.console
    path = c.scenario
    if file is not None:
        if file not in c.scenario_files():
            raise HTTPException(404, f"no scenario {file!r} in scenarios/")
        path = c.scenarios_dir / file
    text = redact(path.read_text(encoding="utf-8", errors="replace"))  # keys never shown
    check = backend.check_text(text, path.name, c.wall)
    return _page(
        request,
        "scenario",
        text=text,
        name=path.name,
        files=c.scenario_files(),
        check=check,
        current=str(c.scenario),
        in_dir=path.parent == c.scenarios_dir and path.name in c.scenario_files(),
    )


@pages.post("/ui/scenario/check", response_class=HTMLResponse)
def scenario_check(
    request: Request,
    text: str = Form("", max_length=1_000_000),
    name: str = Form("scenario.yaml", max_length=100),
) -> HTMLResponse:
    check = backend.check_text(text, name, request.app.state.console.wall)
    return TEMPLATES.TemplateResponse(request, "_check.html", {"check": check})


@pages.get("/generate", response_class=HTMLResponse)
def generate(request: Request) -> HTMLResponse:
    c = request.app.state.console
    return _page(request, "generate", o=c.overview(), jobs=[j.view() for j in c.jobs.history])


@pages.get("/data", response_class=HTMLResponse)
def data(request: Request) -> HTMLResponse:
    return _page(request, "data", tables=request.app.state.console.tables())


@pages.get("/ui/preview/{name}", response_class=HTMLResponse)
def preview(
    request: Request,
    name: str,
    offset: int = Query(0, ge=0, le=100_000_000),
    day: str = Query("", pattern=r"^(\d{4}-\d{2}-\d{2})?$"),
    store: str = Query("", pattern=r"^\d{0,9}$"),
) -> HTMLResponse:
    if name not in TABLES or TABLES[name].kind == "event":
        raise HTTPException(404, f"unknown table {name!r}")
    c = request.app.state.console
    p = c.preview(name, offset, 25, day or None, int(store) if store else None)
    return TEMPLATES.TemplateResponse(
        request, "_preview.html", {"p": p, "day": day, "store": store, "limit": 25}
    )


@pages.get("/live", response_class=HTMLResponse)
def live(request: Request) -> HTMLResponse:
    c = request.app.state.console
    targets = backend.master_targets(c.output) if (c.output / "master").is_dir() else {}
    return _page(
        request,
        "live",
        status=c.live.status(),
        kinds=KINDS,
        old=OLD_TYPES,
        targets=targets,
        event_types=backend.event_types(),
    )


@pages.get("/quality", response_class=HTMLResponse)
def quality(request: Request) -> HTMLResponse:
    built = report_file(request.app.state.console.output) is not None
    return _page(request, "quality", report_built=built)


@pages.get("/report", response_class=HTMLResponse)
def report(request: Request) -> Response:
    """The last realism report built for the output folder (``POST /api/report``)."""
    path = report_file(request.app.state.console.output)
    if path is None:
        raise HTTPException(404, "no realism report yet: build it on the Quality page")
    return FileResponse(path, media_type="text/html")


@pages.get("/danger", response_class=HTMLResponse)
def danger(request: Request) -> HTMLResponse:
    c = request.app.state.console
    return _page(request, "danger", name=c.output.name, o=c.overview())
