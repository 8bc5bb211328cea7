"""The REST API under /api (and /health): what the pages do, scriptable.

The old generator's streaming endpoints keep their paths and fields (docs/web.md).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import StreamingResponse

from sim.config.secrets import redact
from sim.contract.schema import TABLES
from sim.errors import InputError
from sim.web import backend
from sim.web.models import (
    ClearRequest,
    DisruptionCreate,
    GenerateRequest,
    ScenarioSave,
    ScenarioText,
    ScenarioUse,
    SpeedRequest,
    StreamConfig,
    StreamStart,
    pace,
)
from sim.web.realism import build_report
from sim.web.state import Console

api = APIRouter(prefix="/api")
health = APIRouter()


def _c(request: Request) -> Console:
    return request.app.state.console


def _bad(e: InputError) -> HTTPException:
    return HTTPException(400, redact(str(e)))


def _busy(e: backend.Busy) -> HTTPException:
    return HTTPException(409, redact(str(e)))


@health.get("/health", tags=["health"])
def get_health(request: Request) -> dict[str, Any]:
    c = _c(request)
    return {"status": "ok", "output": str(c.output), "streaming": c.live.state == "running"}


# -- overview and scenario ---------------------------------------------------------------
@api.get("/overview", tags=["overview"])
def overview(request: Request) -> dict[str, Any]:
    return _c(request).overview()


@api.get("/scenario", tags=["scenario"])
def scenario(request: Request) -> dict[str, Any]:
    c = _c(request)
    text = redact(c.scenario.read_text(encoding="utf-8", errors="replace"))
    return {"path": str(c.scenario), "text": text, "files": c.scenario_files()}


@api.post("/scenario/check", tags=["scenario"])
def scenario_check(request: Request, body: ScenarioText) -> dict[str, Any]:
    return backend.check_text(body.text, body.name, _c(request).wall)


@api.post("/scenario/save", tags=["scenario"])
def scenario_save(request: Request, body: ScenarioSave) -> dict[str, Any]:
    c = _c(request)
    result = backend.check_text(body.text, body.name, c.wall)
    if not result["ok"]:
        raise HTTPException(400, "; ".join(result["errors"]))
    path = c.scenarios_dir / body.name
    if path.exists() and not body.overwrite:
        raise HTTPException(409, f"scenarios/{body.name} exists; pass overwrite to replace it")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(body.text, encoding="utf-8")
    return {"saved": f"scenarios/{body.name}"}


@api.put("/scenario", tags=["scenario"])
def scenario_use(request: Request, body: ScenarioUse) -> dict[str, Any]:
    """Use ``scenarios/NAME`` for the next generate and stream (409 while one runs)."""
    try:
        return _c(request).use_scenario(body.name)
    except FileNotFoundError as e:
        raise HTTPException(404, str(e)) from None
    except InputError as e:
        raise HTTPException(422, redact(str(e))) from None
    except backend.Busy as e:
        raise _busy(e) from None


# -- generation jobs -------------------------------------------------------------------
@api.post("/jobs/generate", status_code=202, tags=["generate"])
def generate(request: Request, body: GenerateRequest) -> dict[str, Any]:
    c = _c(request)
    try:
        return c.jobs.start(body.workers, body.master_only, c.stream_blocker()).view()
    except backend.Busy as e:
        raise _busy(e) from None


@api.get("/jobs", tags=["generate"])
def jobs(request: Request) -> list[dict[str, Any]]:
    return [j.view() for j in _c(request).jobs.history]


def _job(request: Request, job_id: str) -> Any:
    job = _c(request).jobs.get(job_id)
    if job is None:
        raise HTTPException(404, f"no job {job_id!r}")
    return job


@api.get("/jobs/{job_id}", tags=["generate"])
def job(request: Request, job_id: str) -> dict[str, Any]:
    return _job(request, job_id).view()


@api.post("/jobs/{job_id}/cancel", tags=["generate"])
def cancel_job(request: Request, job_id: str) -> dict[str, Any]:
    j = _job(request, job_id)
    j.cancel.set()
    return j.view()


@api.get("/jobs/{job_id}/events", tags=["generate"])
async def job_events(request: Request, job_id: str) -> StreamingResponse:
    """Server-sent events: the job's progress every 0.5 s until it ends."""
    j = _job(request, job_id)

    async def feed() -> AsyncIterator[str]:
        while True:
            view = j.view()
            yield f"event: progress\ndata: {json.dumps(view)}\n\n"
            if view["status"] != "running" or await request.is_disconnected():
                return
            await asyncio.sleep(0.5)

    return StreamingResponse(feed(), media_type="text/event-stream")


# -- data -----------------------------------------------------------------------------
def _table(name: str) -> str:
    if name not in TABLES or TABLES[name].kind == "event":
        raise HTTPException(404, f"unknown table {name!r}; expected one of the schema's tables")
    return name


@api.get("/tables", tags=["data"])
def tables(request: Request) -> list[dict[str, Any]]:
    return _c(request).tables()


@api.get("/tables/{name}", tags=["data"])
def table_preview(
    request: Request,
    name: str,
    offset: int = Query(0, ge=0, le=100_000_000),
    limit: int = Query(50, ge=1, le=1000),
    day: str | None = Query(None, pattern=r"^\d{4}-\d{2}-\d{2}$"),
    store: int | None = Query(None, ge=0, le=100_000_000),
) -> dict[str, Any]:
    return _c(request).preview(_table(name), offset, limit, day, store)


# -- quality and clear ---------------------------------------------------------------
@api.post("/validate", tags=["quality"])
def validate(request: Request) -> dict[str, Any]:
    try:
        return _c(request).validate()
    except InputError as e:
        raise _bad(e) from None


@api.get("/stats", tags=["quality"])
def stats(request: Request) -> list[dict[str, str]]:
    try:
        return _c(request).stats()
    except InputError as e:
        raise _bad(e) from None


@api.post("/report", tags=["quality"])
def realism_report(request: Request) -> dict[str, Any]:
    """Build the realism report of the output folder (scores against published figures,
    with its plots at ``/report``); busy while a generation job writes the folder."""
    c = _c(request)
    blocker = c.job_blocker()
    if blocker:
        raise _busy(backend.Busy(blocker))
    try:
        return build_report(c.output)
    except InputError as e:
        raise _bad(e) from None


@api.post("/clear", tags=["danger"])
def clear(request: Request, body: ClearRequest) -> dict[str, Any]:
    c = _c(request)
    if body.confirm != c.output.name:
        raise HTTPException(400, f"type the output folder's name ({c.output.name!r}) to confirm")
    try:
        return {"cleared": c.clear()}
    except backend.Busy as e:
        raise _busy(e) from None


# -- the stream (the old generator's paths) ---------------------------------------------
@api.post("/stream/start", tags=["stream"])
def stream_start(request: Request, body: StreamStart) -> dict[str, Any]:
    c = _c(request)
    update = body.model_dump(include={"sink", "speed", "event_types"}, exclude_none=True)
    speed = pace(update.get("speed") or c.live.config.get("speed") or c.realtime_default("speed"))
    minutes = body.duration_minutes
    # wall minutes: a simulated deadline when paced; at max, a wall-clock deadline
    duration = minutes * 60 * speed if minutes and speed is not None else None
    wall_limit = minutes * 60 if minutes and speed is None else None
    try:
        return c.live.start(update, body.cap(), duration, c.job_blocker(), wall_limit)
    except backend.Busy as e:
        raise _busy(e) from None
    except InputError as e:
        raise _bad(e) from None


@api.post("/stream/stop", tags=["stream"])
def stream_stop(request: Request) -> dict[str, Any]:
    return _c(request).live.stop()


@api.post("/stream/pause", tags=["stream"])
def stream_pause(request: Request) -> dict[str, Any]:
    try:
        return _c(request).live.pause()
    except backend.Busy as e:
        raise _busy(e) from None


@api.post("/stream/resume", tags=["stream"])
def stream_resume(request: Request) -> dict[str, Any]:
    try:
        return _c(request).live.resume()
    except backend.Busy as e:
        raise _busy(e) from None


@api.post("/stream/speed", tags=["stream"])
def stream_speed(request: Request, body: SpeedRequest) -> dict[str, Any]:
    live = _c(request).live
    try:
        live.apply({"speed": body.speed})
    except InputError as e:
        raise _bad(e) from None
    except backend.Busy as e:
        raise _busy(e) from None
    return live.status()


@api.get("/stream/status", tags=["stream"])
def stream_status(request: Request) -> dict[str, Any]:
    return _c(request).live.status()


@api.get("/stream/statistics", tags=["stream"])
def stream_statistics(request: Request) -> dict[str, Any]:
    live = _c(request).live
    point = live.sample()
    by_type = live.by_type()
    return {
        "events_sent": point["sent"],
        "events_by_type": by_type,
        "rates": point["rates"],
        "lag_seconds": point.get("lag_seconds", 0.0),
        "dead_lettered": point.get("dead_lettered", 0),
        "retries": point.get("retries", 0),
        "breaker_state": point.get("breaker_state", "closed"),
        "state": live.state,
        "samples": list(live.samples),
        "sales_per_minute": live.watch.sales(),
        "stores_short": len([s for s in live.watch.stores() if s["short_products"]]),
    }


@api.get("/stream/stores", tags=["stream"])
def stream_stores(request: Request) -> list[dict[str, Any]]:
    """The stores with stockouts the stream has shown, and how many products are short
    (a ``stockout_detected`` not yet followed by a restocking ``inventory_updated``)."""
    return _c(request).live.watch.stores()


@api.get("/stream/events/recent", tags=["stream"])
def stream_recent(request: Request, limit: int = Query(100, ge=1, le=100)) -> list[dict]:
    return _c(request).live.recent(limit)


@api.get("/stream/health", tags=["stream"])
def stream_health(request: Request) -> dict[str, Any]:
    live = _c(request).live
    m = live.metrics()
    ok = live.error is None and m.get("breaker_state", "closed") == "closed"
    return {"healthy": ok, "state": live.state, "error": live.error, **m}


@api.get("/stream/config", tags=["stream"])
def stream_config(request: Request) -> dict[str, Any]:
    return _c(request).stream_config()


@api.put("/stream/config", tags=["stream"])
def put_stream_config(request: Request, body: StreamConfig) -> dict[str, Any]:
    c = _c(request)
    update = body.model_dump(exclude_none=True, exclude={"max_events_per_second"})
    try:
        if body.max_events_per_second is not None:
            c.live.apply(update, body.max_events_per_second)
        else:
            c.live.apply(update)
    except (InputError, ValueError) as e:
        raise HTTPException(422, redact(str(e))) from None
    except backend.Busy as e:
        raise _busy(e) from None
    return c.stream_config()


@api.post("/stream/test", tags=["stream"])
def stream_test(request: Request) -> dict[str, Any]:
    return _c(request).test_sink()


@api.get("/stream/event-types", tags=["stream"])
def stream_event_types() -> list[str]:
    return backend.event_types()


# -- disruptions -------------------------------------------------------------------------
@api.get("/disruption/targets", tags=["disruption"])
def disruption_targets(request: Request) -> dict[str, list]:
    return backend.master_targets(_c(request).output)


@api.post("/disruption/create", tags=["disruption"])
def disruption_create(request: Request, body: DisruptionCreate) -> dict[str, Any]:
    c = _c(request)
    if not (c.output / "master").is_dir():
        raise HTTPException(400, "no master data yet: generate it first")
    try:
        return c.live.inject(body.entry(), body.hours())
    except InputError as e:
        raise HTTPException(422, redact(str(e))) from None
    except backend.Busy as e:
        raise _busy(e) from None


@api.get("/disruption/list", tags=["disruption"])
def disruption_list(request: Request, active_only: bool = False) -> list[dict[str, Any]]:
    return _c(request).live.disruptions(active_only)


@api.delete("/disruption/{disruption_id}", tags=["disruption"])
def disruption_cancel(request: Request, disruption_id: str) -> dict[str, Any]:
    try:
        d = _c(request).live.cancel(disruption_id)
    except InputError as e:
        raise HTTPException(409, redact(str(e))) from None
    except backend.Busy as e:
        raise _busy(e) from None
    if d is None:
        raise HTTPException(404, f"no disruption {disruption_id!r}")
    return d


@api.post("/disruption/clear-all", tags=["disruption"])
def disruption_clear_all(request: Request) -> dict[str, int]:
    try:
        return {"cancelled": _c(request).live.clear_all()}
    except backend.Busy as e:
        raise _busy(e) from None


def scenarios_in(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.glob("*.y*ml")) if folder.is_dir() else []
