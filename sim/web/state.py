"""The console's state: one output folder, one scenario, its jobs and its stream."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

from sim.config.clock import WallClock
from sim.config.secrets import describe_error, redact
from sim.contract.schema import TABLES
from sim.errors import InputError
from sim.web import backend, tables
from sim.web.jobs import Jobs
from sim.web.live import Live

SECRET_FIELDS = {"connection_string", "keyvault_url", "keyvault_secret"}


class Console:
    def __init__(self, output: Path, scenario: Path, wall: WallClock, scenarios_dir: Path) -> None:
        self.output, self.scenario, self.wall = output, scenario, wall
        self.scenarios_dir = scenarios_dir
        self.jobs = Jobs(output, scenario, wall)
        self.live = Live(output, scenario, wall)
        self.quality_lock = contextlib.nullcontext()

    # -- what blocks what -------------------------------------------------------------
    def stream_blocker(self) -> str | None:
        state = self.live.state
        return f"a stream is {state} on {self.output}" if state != "stopped" else None

    def job_blocker(self) -> str | None:
        j = self.jobs.busy()
        return f"job {j.id} ({j.kind}) is running on {self.output}" if j else None

    def use_scenario(self, name: str) -> dict[str, Any]:
        """Make ``scenarios/NAME`` the scenario of the next generate and stream (the output
        folder stays). Busy while a job or a stream runs; a missing or invalid file
        raises :class:`FileNotFoundError` / :class:`InputError`."""
        path = self.scenarios_dir / name
        if name not in self.scenario_files():
            raise FileNotFoundError(f"no scenario {name!r} in scenarios/")
        with self.live.lock:
            blocker = self.stream_blocker() or self.job_blocker()
            if blocker:
                raise backend.Busy(f"{blocker}; stop it before switching the scenario")
            check = backend.check_text(path.read_text(encoding="utf-8"), name, self.wall)
            if not check["ok"]:
                raise InputError("; ".join(check["errors"]))
            self.scenario = self.jobs.scenario = self.live.scenario = path
        return {"scenario": str(path), "summary": check["summary"]}

    # -- pages' data ---------------------------------------------------------------------
    def scenario_files(self) -> list[str]:
        d = self.scenarios_dir
        return sorted(p.name for p in d.glob("*.y*ml")) if d.is_dir() else []

    def overview(self) -> dict[str, Any]:
        o = backend.overview(self.output)
        j = self.jobs.busy()
        return {
            **o,
            "scenario": str(self.scenario),
            "stream": self.live.state,
            "job": j.view() if j else None,
        }

    def tables(self) -> list[dict[str, Any]]:
        out = []
        for name, t in TABLES.items():
            if t.kind == "event":
                continue
            out.append(
                {
                    "name": name,
                    "kind": t.kind,
                    "doc": t.doc,
                    "columns": [
                        {"name": c.name, "type": c.kind, "doc": c.doc, "nullable": c.nullable}
                        for c in t.columns
                    ],
                    "days": tables.days_of(self.output, name) if t.kind == "fact" else [],
                }
            )
        return out

    def preview(
        self, name: str, offset: int, limit: int, day: str | None, store: int | None
    ) -> dict[str, Any]:
        return tables.preview(self.output, name, offset, limit, day, store)

    def validate(self) -> dict[str, Any]:
        if not self.output.is_dir():
            raise InputError(f"{self.output}: no output folder yet")
        return backend.validate(self.output)

    def stats(self) -> list[dict[str, str]]:
        return backend.stats(self.output)

    def clear(self) -> list[str]:
        blocker = self.stream_blocker() or self.job_blocker()
        if blocker:
            raise backend.Busy(blocker)
        with backend.output_lock(self.output, "sim serve: clear"):
            return backend.clear(self.output)

    def realtime_default(self, key: str) -> Any:
        sc, _ = backend.load(self.scenario, self.output, self.wall)
        return getattr(sc.realtime, key)

    def stream_config(self) -> dict[str, Any]:
        """The settings the next (or running) stream uses, secrets left out."""
        try:
            sc, _ = backend.load(self.scenario, self.output, self.wall)
            s = backend.realtime_settings(sc, self.live.config)
        except InputError as e:
            return {"error": redact(str(e))}
        data = s.model_dump(mode="json", exclude=SECRET_FIELDS)
        data["connection_string_configured"] = s.connection_string is not None
        data["max_events_per_second"] = self.live.cap
        return data

    def test_sink(self) -> dict[str, Any]:
        """Open and close the configured sink (for Event Hubs: connect), secrets redacted."""
        try:
            sc, _ = backend.load(self.scenario, self.output, self.wall)
            settings = backend.realtime_settings(sc, self.live.config)
            return {"sink": settings.sink, **backend.test_sink(settings, self.output)}
        except Exception as e:  # noqa: BLE001 - the answer is the point
            return {"ok": False, "error": describe_error(e)}
