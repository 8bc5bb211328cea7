"""Real-time mode: the same world, paced to the wall clock and streamed to a sink.

History is first caught up to files, in fast-forward, up to the last whole business day.
The current day is then rebuilt from its checkpoint by a worker thread
(:mod:`sim.run.feeder`) on the fast-forward path up to the resume point (no event is
built for a row before it), and the same world goes on making events. The asyncio loop
only releases: an event leaves once the simulated clock (:mod:`sim.run.pacing`) has
reached its time, in time order, and once the world has run ``LOOKAHEAD`` past it
(some rows are recorded after the fact: a people-counter interval, a payment's
checkout pings).

Rows of a day are also written to the day's files when the day ends, so the files and
the stream describe the same world. The position (``realtime/state.json``) is saved
every ``SAVE_EVERY`` wall seconds with what the sink has acknowledged, and on stop
(Ctrl-C, SIGTERM, ``--duration``, :meth:`Control.stop`) after the sink is flushed
(delivered or dead-lettered). The next run continues after that position: ahead of the
wall clock, it paces from there; behind it, it catches up at max speed to the wall
clock, then paces. After a crash (kill -9) events after the last saved position are
sent again, with the same ids: at most ``SAVE_EVERY`` seconds of releases plus what the
sink had not acknowledged.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import signal
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

from rich.console import Console
from rich.live import Live

from sim.config.calendar import business_date, day_start, sim_origin
from sim.config.clock import WallClock
from sim.config.scenario import Period, Scenario
from sim.errors import InputError
from sim.run.channel import ControlChannel
from sim.run.control import Control
from sim.run.feeder import SLICE, AnyFeeder, StreamRecorder
from sim.run.feeder_procs import discard, make_feeder, store_ids
from sim.run.history import record_generated, run_history
from sim.run.outbox import Outbox
from sim.run.output import GenerationState, save_position
from sim.run.overlay import with_overlay
from sim.run.pacing import Clock, Lag
from sim.run.release import Releaser
from sim.run.screen import hm, span, status, view_of
from sim.run.shard import master_tables, warm_arrow
from sim.run.steer import Steering
from sim.run.threads import T, in_thread
from sim.sinks import RealtimeSettings, Sink, make_sink
from sim.sinks.metrics_view import MetricsView
from sim.world.sensors import FT_INTERVAL

# Sim seconds the world runs ahead of what is released: the latest a row is recorded
# after its time. A people-counter interval (FT_INTERVAL, dated at its start) is handed
# over at the next flush (StreamRecorder.flush_every) at the end of a slice (SLICE):
# 25 minutes; 5 more to spare. A row later than that still goes out (``late_events``).
LOOKAHEAD = FT_INTERVAL + StreamRecorder.flush_every + SLICE + 300.0
TICK = 0.05  # wall seconds between releases
SAVE_EVERY = 1.0  # wall seconds between saves of the position
STATE = Path("realtime") / "state.json"

__all__ = ["LOOKAHEAD", "Outbox", "RealtimeRun", "Report", "StreamRecorder", "run_realtime"]


@dataclass
class Report:
    released: int = 0
    days_completed: list[str] = field(default_factory=list)
    paced_seconds: float = 0.0
    first_event_s: float | None = None  # wall seconds from start to the first release
    catch_up_s: float = 0.0  # wall seconds rebuilding today up to the resume point
    delivered: int = 0  # of the released events, what the sink delivered ...
    dead_lettered: int = 0  # ... and what it gave up on
    filtered_out: int = 0  # released, but not of the event types asked for


class RealtimeRun:
    """One real-time session over an output folder; :attr:`control` steers it."""

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
        self.report = Report()
        self.lag = Lag()
        self.releaser = Releaser(settings, sc.seed, root, wall, self.lag)
        self.control = Control(settings.pace, releaser=self.releaser)
        self.control.status_of = lambda: {**status(self), **self.releaser.status()}
        self.steering: Steering | None = None
        self.phase = "starting"
        self.released_ms = 0
        self.clock: Clock | None = None
        self.feeder: AnyFeeder | None = None
        self.outbox: Outbox | None = None
        self._acks: deque[tuple[int, int]] = deque()  # (released_ms, events handed so far)
        self._prep_lock = threading.Lock()
        self._given_up = False  # the session stopped before its set-up was ready
        self._made: AnyFeeder | None = None  # the feeder the set-up made

    @property
    def stop(self) -> asyncio.Event:
        """Set to end the session (kept for callers of the earlier API)."""
        return self.control.stopping

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

    def _position(self, state: GenerationState, now: datetime) -> tuple[date, int, int]:
        """Today (the day after the history), the resume point and now, in epoch ms."""
        today = date.fromisoformat(state.last_day) + timedelta(days=1)  # type: ignore[arg-type]
        now_ms = int(now.timestamp() * 1000)
        resume = max(self._resume_point(today, now_ms), int(day_start(today).timestamp() * 1000))
        return today, resume, now_ms

    def _prepare(self) -> tuple[AnyFeeder, Outbox, int, int]:
        """Catch up whole days, then set up today's world from its checkpoint."""
        now = self.wall.now()
        state = self.catch_up(now)
        first = date.fromisoformat(state.first_day)
        today, resume, now_ms = self._position(state, now)
        outbox = Outbox(resume)
        t0, fmt = sim_origin(first), self.sc.output.format
        warm = threading.Thread(target=warm_arrow, name="warm-arrow", daemon=True)
        warm.start()
        master = master_tables(self.root, fmt)  # cached: catch-up may have read them
        warm.join()
        world = with_overlay(self.sc, self.root)  # the folder's live disruptions too
        shards = list(range(1, self.sc.volume.dcs + 1))
        workers = self.settings.shard_workers(len(shards))
        feeder = make_feeder(world, self.root, master, shards, workers, first, today, t0, outbox)
        feeder.on_day_closed = self._day_closed
        with self._prep_lock:  # a stop may have given this set-up up (see run)
            given_up, self._made = self._given_up, feeder
        if given_up:
            discard(feeder)
        ids = store_ids(master["stores"], shards)
        self.steering = Steering(self.sc, self.root, master, ids, feeder, t0, self.wall)
        self.steering.position = lambda: max(self.released_ms, resume) / 1000
        return feeder, outbox, resume, now_ms

    def _day_closed(self, day: date, rows: dict[str, int]) -> None:
        record_generated(self.sc, self.root, self.history(), day, day, rows, mode="realtime")
        self.report.days_completed.append(day.isoformat())

    # -- the loop --------------------------------------------------------------------
    async def run(self, sink: Sink) -> Report:
        """Stream to ``sink`` until stopped; it is started while today's world is built."""
        started = time.monotonic()
        report, ctl = self.report, self.control
        prepared = await self._in_thread(self._prepare)
        if prepared is None:  # stopped while preparing: nothing released, position kept
            with self._prep_lock:
                self._given_up, made = True, self._made
            if made is not None:  # ready just after the stop: its workers end too
                discard(made)
            await sink.close()
            today, resume, _ = self._position(self.history(), self.wall.now())
            self._save(today, resume, None, resume / 1000, clean=True)
            return report
        feeder, outbox, resume, now_ms = prepared
        gc.freeze()  # master data and today's plans: no collection walks them again
        self.feeder, self.outbox, self.released_ms = feeder, outbox, resume
        self.control.steering = self.steering
        start_sim = resume / 1000
        end_sim = start_sim + self.duration if self.duration else float("inf")
        end_ms = int(end_sim * 1000) if self.duration else None  # whole ms, as released_ms
        saved = resume != now_ms
        feeder.allow(start_sim + LOOKAHEAD + SLICE)
        feeder.start()
        self.phase = f"rebuilding today up to {hm(start_sim)} (fast-forward, no events)"
        live = (
            None
            if self.quiet or self.settings.sink == "stdout"
            else Live(console=self.console, refresh_per_second=4, transient=False)
        )
        shown = "max" if ctl.speed is None else f"x{ctl.speed:g}"
        view = MetricsView(title=f"real-time {shown} -> {self.settings.sink}")
        if live:
            live.start()
        clock: Clock | None = None
        behind, paced_from = False, None
        last_save = time.monotonic()
        try:
            await sink.start()  # connects while today's world is rebuilt
            while not ctl.stopping.is_set():
                if feeder.error is not None:
                    raise feeder.error
                safe = feeder.frontier - LOOKAHEAD
                if clock is None:  # rebuilding today up to the resume point
                    if safe >= min(start_sim, end_sim):
                        report.catch_up_s = time.monotonic() - started
                        behind = (
                            ctl.speed is not None
                            and start_sim < self.wall.time()
                            and (saved or ctl.speed <= 1)
                        )
                        speed = None if behind else ctl.speed
                        clock = self.clock = Clock(start_sim, speed, self.wall)
                        if behind:
                            self.phase = (
                                f"behind the wall clock by {span(now_ms / 1000 - start_sim)}: "
                                f"catching up at max speed, then x{ctl.speed:g}"
                            )
                        else:
                            self.phase = "streaming"
                        paced_from = time.monotonic()
                    else:
                        await self._tick(live, view, sink)
                        continue
                if behind and self.released_ms / 1000 >= self.wall.time():
                    behind = False
                    clock.rebase(self.released_ms / 1000, ctl.speed)
                    self.phase = "caught up with the wall clock: streaming"
                if ctl.changed and not behind:
                    ctl.changed = False
                    clock.rebase(self._sim_now(clock), ctl.speed, ctl.paused)
                target = min(self._sim_now(clock), safe, end_sim)
                if target * 1000 > self.released_ms and self.releaser.room(sink):
                    await self._release(sink, outbox, clock, int(target * 1000))
                await self.releaser.pump(sink)
                margin = max(SLICE, (clock.speed or 0) * 2.0)
                feeder.allow(self.released_ms / 1000 + LOOKAHEAD + margin)
                if time.monotonic() - last_save > SAVE_EVERY:
                    last_save = time.monotonic()
                    await self._save_acknowledged(sink, clock, start_sim)
                if end_ms is not None and self.released_ms >= end_ms:
                    break
                await self._tick(live, view, sink)
        finally:
            t_stop = time.monotonic()
            feeder.stop()
            report.paced_seconds = (t_stop - paced_from) if paced_from else 0.0
            await self.releaser.drain(sink)
            await sink.close()
            feeder.close()
            if live:
                live.update(view_of(self, view, sink))
                live.stop()
            self._save(feeder.day, self.released_ms, clock, start_sim, clean=True)
        return report

    async def _in_thread(self, fn: Callable[[], T]) -> T | None:
        """``fn()`` in a daemon thread; None if the session is stopped first."""
        return await in_thread(fn, self.control.stopping)

    def _sim_now(self, clock: Clock) -> float:
        return self.released_ms / 1000 if self.control.paused else clock.sim_now()

    async def _tick(self, live: Live | None, view: MetricsView, sink: Sink) -> None:
        if live:
            live.update(view_of(self, view, sink))
        await asyncio.sleep(TICK)

    async def _release(self, sink: Sink, outbox: Outbox, clock: Clock, upto_ms: int) -> None:
        """Hand what is due over (:mod:`sim.run.release`: filter, rate cap, faults)."""
        pos = await self.releaser.release(sink, outbox, clock, upto_ms)
        if self.report.first_event_s is None and self.releaser.released:
            self.report.first_event_s = time.time() - _START[0]
        self.report.released = self.releaser.released
        self.released_ms = pos
        self._acks.append((pos, self.report.released))

    async def _save_acknowledged(self, sink: Sink, clock: Clock, start: float) -> None:
        """Save the last position whose events the sink has acknowledged (a crash then
        re-sends at most what came after it)."""
        if sink.metrics.buffered == 0:
            await sink.flush()  # line sinks: out of the process's buffer
        acked = self.report.released - sink.metrics.buffered - self.releaser.held
        pos = None
        while self._acks and self._acks[0][1] <= acked:
            pos = self._acks.popleft()[0]
        held = self.releaser.unsent_before()  # a faulted-late event not yet sent once
        if pos is not None and held is not None:
            pos = min(pos, held - 1)
        if pos is not None and self.feeder is not None:
            self._save(self.feeder.day, pos, clock, start, clean=False)

    def _save(
        self, day: date, released_ms: int, clock: Clock | None, start: float, clean: bool
    ) -> None:
        p50, p99 = self.lag.quantiles()
        data = {
            "day": day.isoformat(),
            "released_ms": released_ms,
            "speed": "max" if clock is None or clock.speed is None else clock.speed,
            "anchor_sim": start,
            "anchor_wall": clock.anchor_wall if clock else None,
            "events_released": self.report.released,
            "paced_seconds": round(self.report.paced_seconds, 3),
            "first_event_s": self.report.first_event_s,
            "catch_up_s": round(self.report.catch_up_s, 3),
            "lag_p50_s": round(p50, 3),
            "lag_p99_s": round(p99, 3),
            "late_events": self.outbox.late if self.outbox else 0,
            "days_completed": self.report.days_completed,
            "clean_stop": clean,
        }
        save_position(self.root / STATE, data)


_START = [time.time()]


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
    _START[0] = time.time()
    run = RealtimeRun(sc, root, settings, duration, console, quiet, wall)
    run.history()
    sink = make_sink(settings.model_copy(update={"event_types": None}), root, connection_string)

    def on_signal() -> None:  # the first stops within the sink's bound, a second at once
        sink.stop(now=run.control.stopping.is_set())
        run.control.stop()

    async def main() -> Report:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, on_signal)
        channel = await ControlChannel(root, run.control).open()  # python -m sim control
        try:
            return await run.run(sink)
        finally:
            await channel.close()

    try:
        report = asyncio.run(main())
        report.delivered, report.dead_lettered = sink.metrics.delivered, sink.metrics.dead_lettered
        report.filtered_out = run.releaser.filtered_out
        return report
    finally:
        gc.freeze()  # the interpreter's final collection of a big heap would delay exit
