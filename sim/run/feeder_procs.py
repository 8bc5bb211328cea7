"""Today's shards in worker processes: the simulation on every core, the loop free.

A :class:`~sim.run.feeder.Feeder` thread shares the interpreter lock with the loop that
releases and sends events, so the world and the sink take turns on one core. Here the
shards are split over forked worker processes (largest shards first, by store count);
each runs an ordinary feeder whose slices go down a pipe (:class:`PipeFeeder` overrides
the one hook, ``_deliver``) instead of into the outbox. :class:`ProcessFeeder` gives the
loop the feeder's interface: it forwards :meth:`allow` and live changes to every worker
and puts what comes back into the outbox; its frontier is the slowest worker's.

The workers are forked after today's checkpoint exists (the catch-up of missed days runs
first), so each rebuilds its own shards from it, in parallel; they write the day files
and checkpoints of their shards as the thread does. A live change is applied from the
highest instant any worker was allowed to reach (none has simulated past it). A worker
leaves SIGINT to the parent, and ends when the parent stops it or goes away (its command
pipe closes, kill -9 included).
"""

from __future__ import annotations

import gc
import multiprocessing as mp
import os
import signal
import threading
import time
import traceback
from datetime import date, timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from sim.config.calendar import day_start
from sim.config.scenario import Scenario
from sim.errors import RunError
from sim.run.events import EventBatch
from sim.run.feeder import AnyFeeder, DayClosed, Decide, Feeder, T, no_day_hook, today_loops
from sim.run.outbox import Outbox
from sim.run.shard import Master, ShardLoop, master_tables
from sim.run.workers import EXIT_ORPHANED

POLL = 0.05  # wall seconds between a worker's looks at its simulation thread


def make_feeder(
    sc: Scenario,
    root: Path,
    master: Master,
    shards: list[int],
    workers: int,
    first: date,
    today: date,
    t0: float,
    outbox: Outbox,
) -> AnyFeeder:
    """Today's ``shards`` in ``workers`` processes, or (1) in a thread of this one."""
    if workers > 1:
        split = groups(master["stores"], shards, workers)
        return ProcessFeeder(
            sc, root, first, today, t0, outbox, split, day_start(today).timestamp()
        )
    return Feeder(today_loops(sc, root, shards, first, today, t0, outbox, master), t0)


def discard(feeder: AnyFeeder) -> None:
    """End a feeder (and its workers) the session gave up before it started it."""
    feeder.stop()
    feeder.close()


def groups(stores: pa.Table, shards: list[int], workers: int) -> list[list[int]]:
    """``shards`` split into at most ``workers`` groups of about as many stores each."""
    size = np.bincount(stores["DCID"].to_numpy(), minlength=max(shards) + 1)
    load = [0] * min(workers, len(shards))
    out: list[list[int]] = [[] for _ in load]
    for s in sorted(shards, key=lambda s: (-size[s], s)):
        i = load.index(min(load))
        out[i].append(s)
        load[i] += int(size[s])
    return [sorted(g) for g in out]


def store_ids(stores: pa.Table, shards: list[int]) -> dict[int, np.ndarray]:
    """Each shard's store ids, in the order of its master data (``ShardMaster``)."""
    dc, ids = stores["DCID"].to_numpy(), stores["ID"].to_numpy()
    return {s: ids[dc == s] for s in shards}


class PipeFeeder(Feeder):
    """A worker's feeder: slices go to the parent instead of an outbox."""

    def __init__(self, loops: list[ShardLoop], t0: float, out: Connection) -> None:
        super().__init__(loops, t0, lambda day, rows: out.send(("day", day, rows)))
        self.out = out

    def _deliver(self, target: float, batches: list[EventBatch]) -> None:
        self.out.send(("slice", target, batches))
        with self._cond:
            self.frontier = target


class ProcessFeeder:
    """The feeder interface over worker processes (see the module docstring)."""

    def __init__(
        self,
        sc: Scenario,
        root: Path,
        first: date,
        today: date,
        t0: float,
        outbox: Outbox,
        shard_groups: list[list[int]],
        start: float,
    ) -> None:
        self.outbox = outbox
        self.on_day_closed: DayClosed = no_day_hook
        self.frontier = self.allowed = self.committed = start
        self.error: BaseException | None = None
        self._day = today
        self._fronts = [start] * len(shard_groups)
        self._groups = shard_groups
        self._closed: dict[date, list[dict[str, int]]] = {}
        self._lock = threading.Lock()
        self._stopping = False
        gc.freeze()  # what the fork shares: no collection in a worker copies its pages
        ctx = mp.get_context("fork")
        pipes = [(ctx.Pipe(duplex=False), ctx.Pipe(duplex=False)) for _ in shard_groups]
        self._cmds = [cmd_w for (_, cmd_w), _ in pipes]
        outs = [out_r for _, (out_r, _) in pipes]
        self._procs = []
        for i, g in enumerate(shard_groups):
            (cmd_r, _), (_, out_w) = pipes[i]
            others = [c for pair in pipes for c in (*pair[0], *pair[1]) if c not in (cmd_r, out_w)]
            args = (cmd_r, out_w, others, sc, root, first, today, t0, outbox.after_ms, g)
            proc = ctx.Process(target=_worker, args=args, name=f"shards-{g}", daemon=True)
            proc.start()
            self._procs.append(proc)
        for (cmd_r, _), (_, out_w) in pipes:
            cmd_r.close()
            out_w.close()
        self._readers = [
            threading.Thread(target=self._read, args=(i, c), name=f"shards-{i}", daemon=True)
            for i, c in enumerate(outs)
        ]

    @property
    def day(self) -> date:
        """The business day being simulated (the next one once every worker closed it)."""
        return self._day

    @property
    def alive(self) -> bool:
        return any(p.is_alive() for p in self._procs)

    def start(self) -> None:
        for r in self._readers:
            r.start()

    def allow(self, upto: float) -> None:
        with self._lock:
            if upto > self.allowed:
                self.allowed = self.committed = upto
                self._send(("allow", upto))

    def steer(self, decide: Decide[T]) -> T:
        with self._lock:
            action, result = decide(self.committed)
            self._send(("steer", action))
            return result

    def stop(self, timeout: float = 0.5) -> None:
        """Ask every worker to stop after its step; no wait (``timeout`` is the
        thread's): a worker ends on its own, and nothing it sends after this is
        released."""
        with self._lock:
            self._stopping = True
            self._send(("stop",))

    def close(self) -> None:
        """End the workers: those not ended a moment after :meth:`stop` (still setting
        up today, or writing a day's files) are ended as the thread is with its
        process; the next run redoes that day from its checkpoint."""
        self._join(0.3)
        for p in self._procs:
            if p.is_alive():
                p.terminate()
        self._join(1.0)

    def _join(self, timeout: float) -> None:
        end = time.monotonic() + timeout
        for p in self._procs:
            p.join(max(0.0, end - time.monotonic()))

    def _send(self, msg: tuple[Any, ...]) -> None:
        for c in self._cmds:
            try:
                c.send(msg)
            except (BrokenPipeError, OSError):
                pass  # that worker has ended: its reader reports why

    def _read(self, i: int, conn: Connection) -> None:
        while True:
            try:
                msg = conn.recv()
            except (EOFError, OSError):
                if not self._stopping and self.error is None:
                    self._procs[i].join(1.0)
                    self.error = RunError(f"{self._name(i)} ended ({_how(self._procs[i])})")
                return
            if msg[0] == "slice":
                self.outbox.add(msg[2])
                with self._lock:
                    self._fronts[i] = msg[1]
                    self.frontier = min(self._fronts)
            elif msg[0] == "day":
                self._day_closed(msg[1], msg[2])
            elif msg[0] == "error":
                self.error = RunError(f"{self._name(i)} failed:\n{msg[1]}")
                return

    def _name(self, i: int) -> str:
        shards = ", ".join(map(str, self._groups[i]))
        return f"the worker process simulating shards {shards}"

    def _day_closed(self, day: date, rows: dict[str, int]) -> None:
        with self._lock:
            done = self._closed.setdefault(day, [])
            done.append(rows)
            if len(done) < len(self._procs):
                return
            del self._closed[day]
        total: dict[str, int] = {}
        for part in done:
            for table, n in part.items():
                total[table] = total.get(table, 0) + n
        self.on_day_closed(day, total)
        self._day = day + timedelta(days=1)


def _how(proc: mp.process.BaseProcess) -> str:
    code = proc.exitcode
    if code is None:
        return "its pipe closed"
    return f"killed by signal {-code}" if code < 0 else f"exit code {code}"


def _worker(
    cmd: Connection,
    out: Connection,
    others: list[Connection],
    sc: Scenario,
    root: Path,
    first: date,
    today: date,
    t0: float,
    resume_ms: int,
    shards: list[int],
) -> None:
    """A worker process: rebuild ``shards``' today, then simulate as the parent allows."""
    signal.set_wakeup_fd(-1)  # the parent's event loop's, inherited by the fork
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    for c in others:  # every other pipe end: each must close with its owner (EOF)
        c.close()
    parent = os.getppid()
    feeder: Feeder | None = None
    try:
        master = master_tables(root, sc.output.format)
        loops = today_loops(sc, root, shards, first, today, t0, Outbox(resume_ms), master)
        gc.freeze()  # master data and today's plans: no collection walks them again
        feeder = PipeFeeder(loops, t0, out)
        feeder.start()
        while _serve(cmd, feeder):
            if os.getppid() != parent:  # killed (kill -9): write nothing more
                os._exit(EXIT_ORPHANED)
    except BaseException:
        out.send(("error", traceback.format_exc()))
    finally:
        if feeder is not None:
            feeder.stop(timeout=5.0)
            feeder.close()
        os._exit(0)


def _serve(cmd: Connection, feeder: Feeder) -> bool:
    """Handle the parent's next command; False when the worker should end."""
    if feeder.error is not None:
        raise feeder.error
    if not cmd.poll(POLL):
        return True
    try:
        msg = cmd.recv()
    except EOFError:  # the parent is gone
        return False
    if msg[0] == "allow":
        feeder.allow(msg[1])
    elif msg[0] == "steer":
        feeder.steer(lambda committed: (msg[1], None))
    return msg[0] != "stop"
