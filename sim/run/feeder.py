"""The simulation side of real time: a worker thread that runs every shard's day ahead
of what is released, turning recorded rows into event batches in the outbox.

The asyncio loop never simulates: it tells the feeder how far it may run
(:meth:`Feeder.allow`) and reads how far it got (:attr:`Feeder.frontier`). The feeder
runs in slices of ``SLICE`` simulated seconds and waits when it reaches the allowance,
so the outbox holds at most the allowance's worth of events: backpressure from the sink
reaches the simulation, and memory stays flat at any speed. A stop is seen between
slices.

Rows before the resume point (``Outbox.after_ms``) are recorded to the day's files only:
no event is built for them, so rebuilding today up to the resume point runs on the
fast-forward path (its cost is the simulation itself).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Protocol, TypeVar, cast

import numpy as np

from sim.config.scenario import Scenario
from sim.contract.schema import TABLES
from sim.run.events import EventBatch, build_events
from sim.run.files import FileRecorder, merge
from sim.run.outbox import Outbox
from sim.run.shard import Master, ShardLoop
from sim.world.day import ShardDay
from sim.world.recorder import Chunk, take

SLICE = 300.0  # simulated seconds per step of the simulation thread
STEP = 30.0  # simulated seconds between two looks at a stop request


class StreamRecorder(FileRecorder):
    """Writes the day's facts like fast-forward and turns rows after the resume point
    into event batches."""

    flush_every = 300.0  # while streaming: LOOKAHEAD includes it (the first event waits)

    def __init__(
        self, seed: int, shard: int, t0_ms: int, root: Path, fmt: str, outbox: Outbox
    ) -> None:
        super().__init__(seed, shard, t0_ms, root, fmt)
        self.outbox = outbox
        self.staged: dict[tuple[str, date], list[Chunk]] = {}  # rows for events

    def wants(self, table: str) -> bool:
        return True

    def next_flush(self, now: float) -> float:
        """Rows before the resume point make no events: rebuilding today hands them over
        once, at the resume point (fast-forward does so once a day; a flush every 15
        minutes made the rebuild 4x slower), and from there every ``flush_every``."""
        resume = (self.outbox.after_ms - self.t0_ms) / 1000
        return resume if now < resume else now + self.flush_every

    def emit(self, table: str, ms: np.ndarray, key: np.ndarray, cols: dict[str, Any]) -> None:
        if TABLES[table].kind == "fact":
            super().emit(table, ms, key, cols)
        keep = ms > self.outbox.after_ms
        if not keep.any():
            return
        if not keep.all():
            ms, key, cols = ms[keep], key[keep], {c: take(v, keep) for c, v in cols.items()}
        self.staged.setdefault((table, self.day), []).append((ms, key, cols))

    def take_staged(self) -> list[EventBatch]:
        """The events of the rows recorded since the last call: one batch per table and
        day, built in bulk (a store's flush records a few rows of many tables: one
        Arrow table each cost more than the rows)."""
        staged, self.staged = self.staged, {}
        return [
            build_events(self.seed, table, self.build(day, table, *merge(parts)))
            for (table, day), parts in sorted(staged.items())
        ]


T = TypeVar("T")
DayClosed = Callable[[date, dict[str, int]], None]
Action = Callable[[list[ShardLoop]], None]  # a live change, made to the shards' loops
Decide = Callable[[float], tuple[Action, T]]


class Steerable(Protocol):
    """What :mod:`sim.run.steer` needs of a feeder (a thread's or worker processes')."""

    def steer(self, decide: Decide[T]) -> T: ...


class AnyFeeder(Steerable, Protocol):
    """What the session needs of a feeder: :class:`Feeder` or
    :class:`sim.run.feeder_procs.ProcessFeeder`."""

    frontier: float
    error: BaseException | None
    on_day_closed: DayClosed  # called with each business day closed and its rows

    @property
    def day(self) -> date: ...

    @property
    def alive(self) -> bool: ...

    def start(self) -> None: ...

    def allow(self, upto: float) -> None: ...

    def stop(self, timeout: float = 0.5) -> None: ...

    def close(self) -> None: ...


class Feeder:
    """Runs the shards' days in a worker thread up to what the loop allows.

    Each shard is a :class:`~sim.run.shard.ShardLoop` with today begun and a
    :class:`StreamRecorder`; the feeder only steps today and, when a day ends, has every
    loop end it (checkpoint saved after its files) and begin the next.
    """

    def __init__(
        self, loops: list[ShardLoop], t0: float, on_day_closed: DayClosed | None = None
    ) -> None:
        self.loops, self.t0 = loops, t0
        self.on_day_closed: DayClosed = on_day_closed or no_day_hook
        self.recs = [cast(StreamRecorder, lp.rec) for lp in loops]
        self.outbox = self.recs[0].outbox
        self.frontier = t0 + self.days[0].start  # epoch seconds every shard has reached
        self.allowed = self.frontier
        # The instant the thread has run, or is running, to (the first one not yet
        # simulated), and what to apply before it runs further (:meth:`steer`).
        self.committed = self.frontier
        self._pending: list[Action] = []
        self.error: BaseException | None = None
        self.busy_s = 0.0
        self._stop = False
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._main, name="simulation", daemon=True)

    @property
    def days(self) -> list[ShardDay]:
        """Every shard's business day being simulated."""
        return [lp.today for lp in self.loops]

    @property
    def day(self) -> date:
        """The business day being simulated (the one just closed while the next begins:
        the loop reads it from another thread)."""
        return cast(date, self.loops[0].day)

    def start(self) -> None:
        self._thread.start()

    def allow(self, upto: float) -> None:
        """Let the simulation run up to epoch second ``upto`` (never less than before)."""
        with self._cond:
            if upto > self.allowed:
                self.allowed = upto
                self._cond.notify_all()

    def steer(self, decide: Decide[T]) -> T:
        """Change the world from the first instant not yet simulated: ``decide(committed)``
        runs under the lock and returns an action, run by the simulation thread before
        its next slice (nothing past ``committed`` is simulated before it), and a result."""
        with self._cond:
            action, result = decide(self.committed)
            self._pending.append(action)
            return result

    def stop(self, timeout: float = 0.5) -> None:
        """Ask the thread to stop after its slice; wait up to ``timeout`` seconds."""
        with self._cond:
            self._stop = True
            self._cond.notify_all()
        self._thread.join(timeout)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def _main(self) -> None:
        import time

        try:
            while True:
                with self._cond:
                    while not self._stop and self.allowed <= self.frontier:
                        self._cond.wait(0.5)
                    if self._stop:
                        return
                    target = min(self.allowed, self.frontier + SLICE)
                    for action in self._pending:  # live changes (sim.run.steer)
                        action(self.loops)
                    self._pending.clear()
                    self.committed = target
                started = time.perf_counter()
                self._advance(target)
                self._deliver(target, [b for r in self.recs for b in r.take_staged()])
                self.busy_s += time.perf_counter() - started
        except BaseException as exc:  # surfaced by the loop
            self.error = exc

    def _deliver(self, target: float, batches: list[EventBatch]) -> None:
        """Hand a slice's events over: every shard has simulated up to ``target``."""
        self.outbox.add(batches)
        with self._cond:
            self.frontier = target

    def close(self) -> None:
        """After :meth:`stop`: wait for the day files being written and end the writers
        (unless the thread is still mid-slice: it is a daemon, ended with the process)."""
        if not self.alive:
            for r in self.recs:
                r.close()

    def _advance(self, target: float) -> None:
        """Run every shard to epoch second ``target``, closing days that end before it."""
        while self.t0 + self.days[0].end <= target:
            if self._stop:
                return
            self._close_day()
        for sd in self.days:
            t = sd.env.now
            while t < target - self.t0:  # short steps: a stop is seen within one
                if self._stop:
                    return
                t = min(t + STEP, target - self.t0)
                sd.run(t)

    def _close_day(self) -> None:
        day = self.day
        rows: dict[str, int] = {}
        for lp in self.loops:
            for table, n in lp.end(checkpoint=True).items():
                rows[table] = rows.get(table, 0) + n
        self.on_day_closed(day, rows)
        for lp in self.loops:
            lp.begin(day + timedelta(days=1))


def no_day_hook(day: date, rows: dict[str, int]) -> None:
    """The default :data:`DayClosed`: nothing to record."""


def today_loops(
    sc: Scenario,
    root: Path,
    shards: list[int],
    first: date,
    today: date,
    t0: float,
    outbox: Outbox,
    master: Master,
) -> list[ShardLoop]:
    """A loop for each of ``shards``, with today begun, recording to ``outbox``."""
    fmt, loops = sc.output.format, []
    for s in shards:
        rec = StreamRecorder(sc.seed, s, int(t0 * 1000), root, fmt, outbox)
        loops.append(ShardLoop(sc, root, s, first, rec, master))
        loops[-1].begin(today)
    return loops
