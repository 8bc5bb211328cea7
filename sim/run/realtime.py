"""Real-time mode: the same world, paced to the wall clock and streamed to a sink.

History is first caught up to files, in fast-forward, up to the last whole business day.
The current day is then rebuilt from its checkpoint and stepped along a clock that maps
wall time to simulated time (``speed`` simulated seconds per second). Every row the
processes record becomes an event; an event is released to the sink only once the
simulated clock has reached its time, in time order. The environment runs ``LOOKAHEAD``
ahead of the released time because some rows are recorded after the fact (a sensor
batch, a visit's pings), so nothing is released late or out of order.

Rows of a day are also written to the day's files when the day ends, so the files and
the stream describe the same world. On stop (Ctrl-C, SIGTERM, ``--duration``) the sink
is flushed (delivered or dead-lettered) and ``realtime/state.json`` records how far the
stream got; the next run rebuilds the day and continues after that point.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import json
import os
import signal
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pyarrow as pa
from rich.console import Console, Group
from rich.live import Live
from rich.text import Text

from sim.config.calendar import business_date, day_start, sim_origin, sim_origin_ms
from sim.config.clock import WallClock
from sim.config.scenario import Period, Scenario
from sim.contract.schema import TABLES
from sim.errors import InputError
from sim.run.events import Pending, envelope, pending_events
from sim.run.files import FileRecorder
from sim.run.history import record_generated, run_history
from sim.run.output import GenerationState
from sim.run.shard import ShardLoop
from sim.sinks import RealtimeSettings, Sink, make_sink
from sim.sinks.base import OutEvent
from sim.sinks.metrics_view import MetricsView

LOOKAHEAD = 3 * 3600.0  # sim seconds the world runs ahead of what is released
TICK = 0.1  # wall seconds between steps
STATE = Path("realtime") / "state.json"


class Outbox:
    """Events waiting for their time, in (time, arrival) order."""

    def __init__(self, after_ms: int) -> None:
        self.after_ms = after_ms
        self._heap: list[tuple[int, int, Pending]] = []
        self._seq = itertools.count()
        self.skipped = 0

    def add(self, table: str, rows: pa.Table) -> None:
        for e in pending_events(table, rows):
            if e.ms > self.after_ms:
                heapq.heappush(self._heap, (e.ms, next(self._seq), e))
            else:
                self.skipped += 1

    def due(self, upto_ms: int) -> list[Pending]:
        out = []
        while self._heap and self._heap[0][0] <= upto_ms:
            out.append(heapq.heappop(self._heap)[2])
        return out


class StreamRecorder(FileRecorder):
    """Writes the day's facts like fast-forward and also turns every row into events."""

    flush_every = 60.0

    def __init__(
        self, seed: int, shard: int, t0_ms: int, root: Path, fmt: str, outbox: Outbox
    ) -> None:
        super().__init__(seed, shard, t0_ms, root, fmt)
        self.outbox = outbox

    def wants(self, table: str) -> bool:
        return True

    def emit(self, table: str, ms, key, cols) -> None:  # noqa: ANN001 (see Recorder.emit)
        if TABLES[table].kind == "fact":
            super().emit(table, ms, key, cols)
        self.outbox.add(table, self.build(self.day, table, ms, key, cols))


@dataclass
class Clock:
    """Wall time to simulated epoch seconds: ``sim = anchor_sim + (wall - anchor_wall) * speed``."""

    anchor_sim: float
    speed: float
    wall: WallClock
    anchor_wall: float = 0.0

    def __post_init__(self) -> None:
        self.anchor_wall = self.anchor_wall or self.wall.time()

    def sim_now(self) -> float:
        return self.anchor_sim + (self.wall.time() - self.anchor_wall) * self.speed

    def wall_of(self, sim: float) -> float:
        return self.anchor_wall + (sim - self.anchor_sim) / self.speed


@dataclass
class Report:
    released: int = 0
    days_completed: list[str] = field(default_factory=list)
    paced_seconds: float = 0.0
    delivered: int = 0  # of the released events, what the sink delivered ...
    dead_lettered: int = 0  # ... and what it gave up on
    filtered_out: int = 0  # released, but not of the event types asked for


class RealtimeRun:
    """One real-time session over an output folder."""

    def __init__(
        self,
        sc: Scenario,
        root: Path,
        settings: RealtimeSettings,
        duration: float | None,
        console: Console,
        quiet: bool,
        wall: WallClock,
    ) -> None:
        self.sc, self.root, self.settings = sc, root, settings
        self.duration, self.console, self.quiet = duration, console, quiet
        self.wall = wall
        self.stop = asyncio.Event()

    # -- set-up ----------------------------------------------------------------------
    def history(self) -> GenerationState:
        """The output folder's generation state; real time continues it."""
        state = GenerationState.load(self.root)
        if state is None or state.last_day is None:
            raise InputError(
                f"{self.root}: real-time mode continues generated history; "
                f"generate it first: python -m sim run SCENARIO "
                f"--output {self.root}"
            )
        return state

    def catch_up(self, now: datetime) -> GenerationState:
        """Fast-forward whole business days before today into files."""
        state = self.history()
        from sim.run.history import prepare

        first = date.fromisoformat(state.first_day)
        last = business_date(now) - timedelta(days=1)
        if last >= first:
            plan = prepare(
                self.sc, Period(first=first, last=max(last, first), resolved_at=now), self.root
            )
            if plan.days:
                if not self.quiet:
                    self.console.print(f"catching up {plan.days[0]} .. {plan.days[-1]} to files")
                run_history(self.sc, plan, os.cpu_count() or 1)
        return GenerationState.load(self.root)  # type: ignore[return-value]

    def _resume_point(self, today: date, now_ms: int) -> int:
        """Released up to here: the saved point of a stopped run today, else now.

        The saved point wins whether it is behind the wall clock (a run stopped a while
        ago) or ahead of it (a run faster than 1x): the stream never moves backward.
        """
        path = self.root / STATE
        if path.exists():
            saved = json.loads(path.read_text())
            if saved.get("day") == today.isoformat() and "released_ms" in saved:
                return int(saved["released_ms"])
        return now_ms

    # -- the loop --------------------------------------------------------------------
    async def run(self, sink: Sink) -> Report:
        now = self.wall.now()
        state = self.catch_up(now)
        first = date.fromisoformat(state.first_day)
        assert state.last_day is not None  # history() requires generated days
        today = date.fromisoformat(state.last_day) + timedelta(days=1)
        released_ms = max(
            self._resume_point(today, int(now.timestamp() * 1000)),
            int(day_start(today).timestamp() * 1000),
        )
        outbox = Outbox(released_ms)
        t0 = sim_origin(first)
        loops = [
            ShardLoop(
                self.sc,
                self.root,
                s,
                first,
                StreamRecorder(
                    self.sc.seed, s, sim_origin_ms(first), self.root, self.sc.output.format, outbox
                ),
            )
            for s in range(1, self.sc.volume.dcs + 1)
        ]
        for loop in loops:
            loop.begin(today)
        clock = Clock(released_ms / 1000, self.settings.speed, self.wall)
        report = Report()
        view = MetricsView(title=f"real-time x{self.settings.speed:g} -> {self.settings.sink}")
        live = (
            None
            if self.quiet or self.settings.sink == "stdout"
            else Live(console=self.console, refresh_per_second=4, transient=False)
        )
        started = time.monotonic()
        end_sim = clock.anchor_sim + self.duration if self.duration else float("inf")
        if live:
            live.start()
        try:
            while not self.stop.is_set():
                target = min(clock.sim_now(), end_sim)
                self._advance(loops, target - t0, report)
                batch = outbox.due(int(target * 1000))
                if batch:
                    ingest = self.wall.now()
                    await sink.send(
                        [
                            OutEvent(e.partition_key, envelope(e, ingest), e.trace_id, e.event_type)
                            for e in batch
                        ]
                    )
                    report.released += len(batch)
                released_ms = int(target * 1000)
                if live:
                    live.update(self._view(view, sink, clock, target, report))
                if target >= end_sim:
                    break
                await asyncio.sleep(TICK)
        finally:
            report.paced_seconds = time.monotonic() - started
            await sink.close()
            for loop in loops:
                loop.close()
            if live:
                live.update(self._view(view, sink, clock, clock.sim_now(), report))
                live.stop()
            self._save(loops[0].day or today, released_ms, clock, report)
        return report

    def _advance(self, loops: list[ShardLoop], target: float, report: Report) -> None:
        """Run every shard to ``target`` + lookahead, closing days that end before it."""
        while loops[0].today.end <= target + LOOKAHEAD:
            day = loops[0].today.day
            rows: dict[str, int] = {}
            for loop in loops:
                for table, n in loop.end(checkpoint=True).items():
                    rows[table] = rows.get(table, 0) + n
            record_generated(self.sc, self.root, self.history(), day, day, rows, mode="realtime")
            report.days_completed.append(day.isoformat())
            for loop in loops:
                loop.begin(day + timedelta(days=1))
        for loop in loops:
            loop.today.run(target + LOOKAHEAD)

    def _save(self, day: date, released_ms: int, clock: Clock, report: Report) -> None:
        path = self.root / STATE
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(
            json.dumps(
                {
                    "day": day.isoformat(),
                    "released_ms": released_ms,
                    "released_at": datetime.fromtimestamp(released_ms / 1000, UTC).isoformat(),
                    "speed": clock.speed,
                    "anchor_sim": clock.anchor_sim,
                    "anchor_wall": clock.anchor_wall,
                    "events_released": report.released,
                    "paced_seconds": round(report.paced_seconds, 3),
                    "days_completed": report.days_completed,
                },
                indent=2,
            )
            + "\n"
        )
        tmp.replace(path)

    def _view(
        self, view: MetricsView, sink: Sink, clock: Clock, target: float, report: Report
    ) -> Group:
        lag = max(0.0, self.wall.time() - clock.wall_of(target))
        sim = datetime.fromtimestamp(target, UTC).isoformat(timespec="seconds")
        return Group(
            Text(f"simulated {sim}  released {report.released:,} events"),
            view.render(sink.metrics, lag),
        )


def run_realtime(
    sc: Scenario,
    root: Path,
    settings: RealtimeSettings,
    duration: float | None,
    console: Console,
    quiet: bool,
    wall: WallClock,
    connection_string: str | None = None,
) -> Report:
    """Run real-time mode until stopped; returns what it did."""
    run = RealtimeRun(sc, root, settings, duration, console, quiet, wall)
    run.history()
    sink = make_sink(settings, root, connection_string)

    def on_signal() -> None:  # the first stops within the sink's bound, a second at once
        sink.stop(now=run.stop.is_set())
        run.stop.set()

    async def main() -> Report:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, on_signal)
        await sink.start()
        return await run.run(sink)

    report = asyncio.run(main())
    report.delivered, report.dead_lettered = sink.metrics.delivered, sink.metrics.dead_lettered
    report.filtered_out = getattr(sink, "filtered_out", 0)
    return report
