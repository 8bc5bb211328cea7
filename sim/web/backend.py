"""The console's adapter to the engine: the ONLY module of sim/web that calls sim.run,
sim.validate and sim.report (and sim.master), so the engine can change under it.

Everything here is synchronous and blocking; :mod:`sim.web.jobs` and :mod:`sim.web.live`
run it in threads. A running stream is steered through the engine's live control
(:meth:`Stream.control`: pause, resume, speed, rate cap, event types, inject and cancel
a disruption), without restarting the session. With no stream running, a disruption is
recorded in the engine's overlay (``OUTPUT/realtime/disruptions.json``,
:mod:`sim.run.overlay`) for the next run, validated as the engine's ``inject`` does.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from rich.console import Console

from sim.config.clock import WallClock
from sim.config.scenario import Period, Scenario, load_scenario, resolve_period
from sim.config.secrets import redact
from sim.contract.schema import TABLES
from sim.errors import InputError
from sim.run.lock import OutputLocked
from sim.run.lock import output_lock as engine_lock
from sim.run.output import GENERATED, STATE_FILE
from sim.web.observe import ObservedSink, Observer, Watch
from sim.web.tables import master_targets  # noqa: F401 - re-exported for the pages

if TYPE_CHECKING:
    from sim.run.outbox import Outbox
    from sim.run.pacing import Clock
    from sim.sinks.base import Sink

READY_S = 60.0  # how long a live command waits for a session that is still setting up
T = TypeVar("T")


class Busy(Exception):
    """Another writer holds the output folder."""


# -- the output-folder lock ------------------------------------------------------------
@contextlib.contextmanager
def output_lock(root: Path, command: str) -> Iterator[None]:
    """The engine's exclusive writer lock on ``root`` (:mod:`sim.run.lock`)."""
    try:
        with engine_lock(root, command):
            yield
    except OutputLocked as e:
        raise Busy(str(e)) from None


# -- scenarios ---------------------------------------------------------------------------
def load(scenario: Path, output: Path | None, wall: WallClock) -> tuple[Scenario, Period]:
    now = wall.now()
    sc = load_scenario(scenario, now=now)
    if output is not None:
        sc = sc.model_copy(update={"paths": sc.paths.model_copy(update={"output": output})})
    return sc, resolve_period(sc, now, source=str(scenario))


def check_text(text: str, name: str, wall: WallClock) -> dict[str, Any]:
    """Validate scenario text as ``sim check`` would; messages name ``name``."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "scenario.yaml"
        path.write_bytes(text.encode("utf-8", errors="surrogateescape"))
        try:
            sc, period = load(path, None, wall)
            _dictionaries(sc, name)
        except InputError as e:
            return {"ok": False, "errors": redact(str(e).replace(str(path), name)).splitlines()}
    v, p = sc.volume, sc.realtime.pace
    return {
        "ok": True,
        "errors": [],
        "summary": {
            "seed": sc.seed,
            "period": f"{period.first} .. {period.last} ({period.days} business days)",
            "stores / DCs": f"{v.stores} / {v.dcs}",
            "output": f"{sc.paths.output} ({sc.output.format})",
            "disruptions": ", ".join(f"{d.kind} from {d.start}" for d in sc.disruptions) or "none",
            "real time": f"sink {sc.realtime.sink}, speed {'max' if p is None else f'x{p:g}'}",
        },
    }


def _dictionaries(sc: Scenario, name: str) -> None:
    from sim.master.build import check_volumes
    from sim.master.dictionaries import load_dictionaries

    try:
        check_volumes(sc, load_dictionaries(sc.paths.dictionaries))
    except InputError as e:
        raise InputError(f"{name}: {e}") from None


# -- history -----------------------------------------------------------------------------
Progress = Callable[[int, date, dict[str, int]], None]


@dataclass
class Prepared:
    days: list[date]
    shards: int
    master_written: bool
    plan: Any


def prepare(sc: Scenario, period: Period, source: str) -> Prepared:
    """Master data (written if absent) and the days still to generate."""
    from sim.run.history import prepare as run_prepare

    _dictionaries(sc, source)
    plan = run_prepare(sc, period, sc.paths.output, source=source)
    return Prepared(plan.days, len(plan.shards), plan.master_written, plan)


def generate(sc: Scenario, prepared: Prepared, workers: int, progress: Progress) -> dict:
    from sim.run.history import run_history

    s = run_history(sc, prepared.plan, workers, progress)
    return {"rows": s.rows, "seconds": s.seconds, "days": s.days}


def default_workers() -> int:
    from sim.run.history import default_workers as workers

    return workers()


# -- what is in an output folder -------------------------------------------------------
def overview(root: Path) -> dict[str, Any]:
    path = root / STATE_FILE
    state = json.loads(path.read_text()) if path.exists() else None
    size = sum(p.stat().st_size for p in root.rglob("*") if p.is_file()) if root.exists() else 0
    rt = root / "realtime" / "state.json"
    return {
        "output": str(root),
        "exists": root.exists(),
        "first_day": state and state["first_day"],
        "last_day": state and state.get("last_day"),
        "rows": state["rows"] if state else {},
        "runs": (state["runs"][-5:] if state else []),
        "disk_bytes": size,
        "realtime": json.loads(rt.read_text()) if rt.exists() else None,
    }


# -- quality ---------------------------------------------------------------------------
def validate(root: Path) -> dict[str, Any]:
    from sim.validate import validate_output

    r = validate_output(root)
    return {
        "ok": r.ok,
        "seconds": round(r.seconds, 2),
        "checks": [
            {
                "name": c.name,
                "doc": c.doc,
                "status": c.status,
                "rows": c.rows,
                "violations": c.violations,
                "examples": [redact(x) for x in c.examples],
            }
            for c in r.checks
        ],
    }


def stats(root: Path) -> list[dict[str, str]]:
    from sim.report.stats import figures

    if not (root / "facts").is_dir():
        raise InputError(f"{root}: no facts/ folder (not an output folder?)")
    return [
        {"name": f.name, "measured": f.measured, "published": f.published} for f in figures(root)
    ]


def clear(root: Path) -> list[str]:
    present = [root / n for n in GENERATED if (root / n).exists()]
    for p in present:
        shutil.rmtree(p) if p.is_dir() else p.unlink()
    return [p.name for p in present]


def event_types() -> list[str]:
    return sorted({e for t in TABLES.values() if t.kind != "master" for e in t.event_types})


# -- real time ---------------------------------------------------------------------------
def load_overlay(root: Path) -> list[dict[str, Any]]:
    """The live disruptions recorded for ``root`` (entries that never applied left out)."""
    from sim.run.overlay import NO_EFFECT

    return [d for d in raw_overlay(root) if d.get("status") != NO_EFFECT]


def raw_overlay(root: Path) -> list[dict[str, Any]]:
    """Every entry of the folder's overlay (:mod:`sim.run.overlay`)."""
    from sim.run.overlay import load_overlay as engine_overlay

    return engine_overlay(root)


def write_overlay(root: Path, entries: list[dict[str, Any]]) -> None:
    """Replace the folder's overlay with ``entries`` (atomically)."""
    from sim.run.overlay import save_overlay as engine_save

    engine_save(root, entries)


def no_effect() -> str:
    """The overlay status of an entry that never applied."""
    from sim.run.overlay import NO_EFFECT

    return NO_EFFECT


def check_disruption(sc: Scenario, root: Path, entry: dict[str, Any]) -> dict[str, Any]:
    """A disruption validated as the engine's ``inject`` does (the scenario file's models
    and messages, its targets against the master data), for the next run's overlay."""
    from sim.run.overlay import model_of
    from sim.run.steer import parse
    from sim.world.disruptions import check_targets
    from sim.world.model import load_master

    before = [*sc.disruptions, *(model_of(x) for x in load_overlay(root))]
    d = parse(entry, len(before))
    master = load_master(root, sc.output.format)
    check_targets(sc.model_copy(update={"disruptions": [*before, d]}), master, "inject")
    return d.model_dump(mode="json", exclude_none=True)


def next_id(root: Path) -> str:
    """The id the engine would give the next live disruption (``d1``, ``d2``, ...)."""
    ids = [x.get("id") for x in raw_overlay(root)]
    nums = [int(i[1:]) for i in ids if isinstance(i, str) and i[:1] == "d" and i[1:].isdigit()]
    return f"d{max(nums, default=0) + 1}"


def stream_position(root: Path) -> float | None:
    """Simulated epoch seconds up to which the last stream released events."""
    path = root / "realtime" / "state.json"
    return json.loads(path.read_text())["released_ms"] / 1000 if path.exists() else None


def realtime_settings(sc: Scenario, update: dict[str, Any]) -> Any:
    """The scenario's real-time settings with ``update``; bad values raise InputError."""
    from sim.config.realtime import load_realtime_settings

    data = sc.realtime.model_dump()
    data.update({k: v for k, v in update.items() if v is not None})
    unknown = sorted(set(data.get("event_types") or ()) - set(event_types()))
    if unknown:
        raise InputError(f"event_types: unknown {', '.join(map(repr, unknown))}; see event-types")
    return load_realtime_settings(data)


class Stream:
    """One real-time session of the engine, run by :meth:`run` in its own thread."""

    def __init__(
        self,
        sc: Scenario,
        settings: Any,
        duration: float | None,
        wall: WallClock,
        cap: float | None,
        watch: Watch | None = None,
    ) -> None:
        """A session of ``sc`` (the engine applies the folder's disruption overlay), its
        releases capped at ``cap`` events per second (None: the settings' cap)."""
        from sim.run.realtime import RealtimeRun

        if cap is not None:
            settings = settings.model_copy(
                update={"max_events_per_second": cap, "emit_interval_ms": None}
            )
        self.obs = obs = Observer(wall, settings.pace, watch)
        self.t0 = 0.0

        class Run(RealtimeRun):
            async def _release(
                self, sink: Sink, outbox: Outbox, clock: Clock, upto_ms: int
            ) -> None:
                if obs.anchor is None:  # the first release starts at the clock's anchor
                    obs.anchor = (clock.anchor_sim, clock.anchor_wall)
                await super()._release(sink, outbox, clock, upto_ms)

        quiet = Console(file=io.StringIO())
        self.run_ = Run(sc, sc.paths.output, settings, duration, quiet, True, wall)
        self.sc, self.settings, self.cap = sc, settings, cap
        self.loop: asyncio.AbstractEventLoop | None = None
        self.sink: ObservedSink | None = None
        self.report: Any = None

    def run(self) -> None:
        """Blocks until the session ends (stop, duration or error)."""
        from sim.config.calendar import day_start
        from sim.sinks import make_sink

        state = self.run_.history()
        self.t0 = day_start(date.fromisoformat(state.first_day)).timestamp()
        root = self.sc.paths.output
        plain = self.settings.model_copy(update={"event_types": None})  # the engine filters
        sink = self.sink = ObservedSink(make_sink(plain, root, None), self.obs)

        async def main() -> Any:
            self.loop = asyncio.get_running_loop()
            if self.run_.stop.is_set():
                return None
            return await self.run_.run(sink)

        self.report = asyncio.run(main())

    def stop(self) -> None:
        """Thread-safe: ask the session to stop (it flushes and saves its position)."""
        loop = self.loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self.run_.stop.set)
        else:
            self.run_.stop.set()

    def control(self, command: Callable[[Any], T], steering: bool = False) -> T:
        """Thread-safe: ``command(control)`` run on the session's own loop (the engine's
        :class:`sim.run.control.Control`); waits while the session sets up (up to
        :data:`READY_S`; with ``steering``, until today's world is built)."""
        deadline = time.monotonic() + READY_S
        ctl = self.run_.control
        while self.loop is None or (steering and ctl.steering is None) or ctl.releaser is None:
            if self.run_.stop.is_set() or time.monotonic() > deadline:
                raise Busy("the stream is still setting up today's world; try again")
            time.sleep(0.05)
        loop = self.loop

        async def run() -> T:
            return command(ctl)

        try:
            return asyncio.run_coroutine_threadsafe(run(), loop).result(timeout=READY_S)
        except RuntimeError:  # the loop closed: the session ended meanwhile
            raise Busy("the stream ended; start it again") from None

    def released(self) -> int:
        """Events the session released so far."""
        return int(self.run_.report.released)

    def position(self) -> float | None:
        """Simulated epoch seconds the session released up to (None before the first)."""
        ms = self.run_.released_ms
        return ms / 1000 if ms else None

    def metrics(self) -> dict[str, Any]:
        m = self.sink.metrics if self.sink else None
        return {
            "sent": m.events_sent if m else 0,
            "retries": m.retries if m else 0,
            "failures": m.failures if m else 0,
            "dead_lettered": m.dead_lettered if m else 0,
            "breaker_state": m.breaker_state if m else "closed",
            "last_error": redact(m.last_error) if m and m.last_error else None,
            "lag_seconds": round(self.obs.lag(), 3),
        }


def test_sink(settings: Any, root: Path) -> dict[str, Any]:
    """Event Hubs: ``check-connection`` (connect, list partitions); a file sink: open it."""
    if settings.sink == "eventhub":
        from sim.sinks.check import check_connection

        text = io.StringIO()
        code = check_connection(settings, root, out=text)
        return {"ok": code == 0, "exit": code, "lines": redact(text.getvalue()).splitlines()}
    return {"ok": True, **asyncio.run(_try_sink(settings, root))}


async def _try_sink(settings: Any, root: Path) -> dict[str, Any]:
    from sim.sinks import make_sink

    started = time.monotonic()
    sink = make_sink(settings, root, None)
    await sink.start()
    await sink.close()
    return {"seconds": round(time.monotonic() - started, 3)}
