"""The FastAPI application: API, pages, vendored static files, local Swagger UI, token.

Everything the browser loads is served from ``sim/web/static``: the console works with
no network at all. With a token, every page and API call needs it (``Authorization:
Bearer T``, ``X-Token: T``, the ``retail_sim_token`` cookie, or ``?token=T`` once, which
sets the cookie).
"""

from __future__ import annotations

import hmac
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles

from sim.config.clock import WallClock
from sim.config.secrets import redact
from sim.web.api import api, health
from sim.web.pages import pages
from sim.web.state import Console

STATIC = Path(__file__).parent / "static"
COOKIE = "retail_sim_token"


def create_app(
    output: Path,
    scenario: Path,
    token: str | None = None,
    wall: WallClock | None = None,
    scenarios_dir: Path | None = None,
) -> FastAPI:
    console = Console(
        output, scenario, wall or WallClock.from_env(), scenarios_dir or scenario.parent
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        console.live.stop()  # SIGINT/SIGTERM of the server: the stream stops cleanly
        for job in console.jobs.history:
            job.cancel.set()

    app = FastAPI(
        title="retail-sim console",
        version="0.1.0",
        description="Generate, stream, steer and inspect a simulated retail chain (docs/web.md).",
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.console = console
    app.state.token = token
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.include_router(health)
    app.include_router(api)
    app.include_router(pages)

    @app.get("/docs", include_in_schema=False)
    def docs() -> Response:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="retail-sim API",
            swagger_js_url="/static/vendor/swagger-ui-bundle.js",
            swagger_css_url="/static/vendor/swagger-ui.css",
            swagger_favicon_url="/static/favicon.svg",
        )

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        detail = [
            {"loc": list(e["loc"]), "msg": redact(str(e["msg"])), "type": e["type"]}
            for e in exc.errors()
        ]
        return JSONResponse({"detail": detail}, status_code=422)

    @app.middleware("http")
    async def guard(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        if token is None:
            return await call_next(request)
        given = (
            request.headers.get("x-token")
            or _bearer(request.headers.get("authorization"))
            or request.cookies.get(COOKIE)
            or request.query_params.get("token")
        )
        if not given or not hmac.compare_digest(given.encode(), token.encode()):
            return JSONResponse({"detail": "a token is required (see docs/web.md)"}, 401)
        response = await call_next(request)
        if request.query_params.get("token"):
            response.set_cookie(COOKIE, token, httponly=True, samesite="strict")
        return response

    return app


def _bearer(value: str | None) -> str | None:
    if value and value.lower().startswith("bearer "):
        return value[7:].strip()
    return None
