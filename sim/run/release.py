"""The release path of real-time mode: outbox -> event-type filter -> rate cap -> events
-> fault stage -> sink.

Each tick the loop asks :meth:`Releaser.release` to hand over what is due up to a
simulated instant. The stages, in order:

* **event-type filter** (`realtime.event_types`, changed live by
  :meth:`Releaser.set_event_types`): events of other types are released (the position
  moves past them) but not sent, and counted in :attr:`Releaser.filtered_out`;
* **rate cap** (`realtime.max_events_per_second`, `--rate`, `emit_interval_ms` +
  `burst`; changed live by :meth:`Releaser.set_rate`): a token bucket
  (:class:`sim.run.rate.RateLimiter`) that counts only. What the cap does not let out
  stays in the outbox, in order, and the position stops just before it: nothing is
  dropped, the release lag grows and is shown, each event's ``ingest_timestamp`` is the
  moment it really left, and a stop (or crash) continues exactly from the position;
* **faults** (`realtime.faults`, :class:`sim.run.faults.FaultStage`): late, duplicate,
  out-of-order and malformed events, with the ledger; held events are sent when due
  (:meth:`Releaser.pump`, every tick) and all at once at stop (:meth:`Releaser.drain`).

With no cap, no filter and no fault the path is the plain one: the same events, in the
same order, in the same chunks (the stream oracle's bytes).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sim.config.clock import WallClock
from sim.config.realtime import RealtimeSettings
from sim.run.events import EventBatch, out_events
from sim.run.faults import FaultStage
from sim.run.outbox import Outbox
from sim.run.pacing import Clock, Lag
from sim.run.rate import RateLimiter
from sim.sinks.base import OutEvent, Sink

CHUNK = 20_000  # events per sink.send: keeps each step of the loop short
IN_FLIGHT_S = 0.3  # the sink holds at most this many seconds of its deliveries
IN_FLIGHT_MIN = 2_000  # ... and never less than this many events (batches in flight)


class Releaser:
    """Hands due events from the outbox to the sink through the stream stages."""

    def __init__(
        self, settings: RealtimeSettings, seed: int, root: Any, wall: WallClock, lag: Lag
    ) -> None:
        self.wall, self.lag = wall, lag
        self.limiter: RateLimiter[Any] = RateLimiter(
            settings.rate_cap, settings.burst, clock=wall.time
        )
        self.faults = FaultStage.from_settings(settings.faults, seed, root, clock=wall.time)
        self.event_types: frozenset[str] | None = None
        self.set_event_types(settings.event_types)
        self.released = 0  # taken from the outbox (filtered ones included)
        self.filtered_out = 0
        self.capped_ticks = 0  # ticks at which the cap held events back
        self._deliveries = (wall.time(), 0)  # (when, delivered then): the sink's pace
        self._rate = 0.0  # events the sink delivered per second, over the last second
        # message id -> time (ms) of the events the fault stage holds before their first
        # send (late, out of order): the saved position stays before the oldest of them
        self._unsent: dict[str, int] = {}

    # -- live changes (the control interface) -------------------------------------------
    def set_rate(self, rate: float | None, burst: int | None = None) -> None:
        """A new cap in events per second (None: no cap); takes effect at the next tick."""
        self.limiter.set_rate(rate, burst)

    def set_event_types(self, types: list[str] | None) -> None:
        """Send only these event types from the next tick on (None: all)."""
        self.event_types = frozenset(types) if types else None
        self._wanted = pa.array(sorted(self.event_types)) if self.event_types else None

    @property
    def rate(self) -> float | None:
        return self.limiter.rate

    @property
    def held(self) -> int:
        """Events sent later by the fault stage (late, out-of-order, second copies)."""
        return self.faults.held

    def unsent_before(self) -> int | None:
        """The time (ms) of the oldest released event not yet sent once (None: none)."""
        return min(self._unsent.values(), default=None)

    def status(self) -> dict[str, Any]:
        return {
            "rate_cap": self.limiter.rate,
            "capped": self.capped_ticks > 0,
            "event_types": sorted(self.event_types) if self.event_types else None,
            "filtered_out": self.filtered_out,
            "faults": dict(self.faults.counts) if self.faults.settings.enabled else None,
            "fault_held": self.faults.held,
        }

    # -- the path -------------------------------------------------------------------------
    async def release(self, sink: Sink, outbox: Outbox, clock: Clock, upto_ms: int) -> int:
        """Send what is due up to ``upto_ms`` and the cap allows; returns the new position
        (every event at or before it has been taken from the outbox)."""
        batch = outbox.due(upto_ms)
        if batch is None or not len(batch):
            return upto_ms
        pos = upto_ms
        allow = self.limiter.allowance()
        if allow is not None and len(batch) > allow:
            batch, rest = _cut(batch, allow)
            if len(rest):
                outbox.put_back(rest)
                pos = int(rest.ms[0]) - 1  # just before the first event left waiting
                self.capped_ticks += 1
        else:
            self.capped_ticks = 0
        self.limiter.spend(len(batch))
        self.released += len(batch)
        if self._wanted is not None and len(batch):
            keep = pc.is_in(batch.event_type, value_set=self._wanted).to_numpy(zero_copy_only=False)
            self.filtered_out += int(len(batch) - keep.sum())
            batch = batch.take(np.flatnonzero(keep))
        if len(batch):
            ingest = self.wall.now()
            due = clock.wall_of(batch.ms / 1000)
            self.lag.add(np.maximum(ingest.timestamp() - np.asarray(due), 0.0))
            for lo in range(0, len(batch), CHUNK):
                part = batch.slice(lo, min(lo + CHUNK, len(batch)))
                events = out_events(part, ingest)
                out = self.faults.apply(events)
                if self.faults.settings.enabled:
                    self._track(events, part.ms, out)
                await self._send(sink, out)
        return pos

    def room(self, sink: Sink) -> bool:
        """Whether the stream may hand the sink more now: it holds less than
        ``IN_FLIGHT_S`` of what it delivers (paced, it holds more only when it is slow).
        A stop delivers what the sink holds, so this keeps a stop within a second at any
        speed; the rest waits in the outbox."""
        now, done = self.wall.time(), sink.metrics.delivered
        t0, d0 = self._deliveries
        if now - t0 >= 1.0:
            self._rate = (done - d0) / (now - t0)
            self._deliveries = (now, done)
        return sink.metrics.buffered < max(IN_FLIGHT_MIN, IN_FLIGHT_S * self._rate)

    async def pump(self, sink: Sink) -> None:
        """Send the events the fault stage holds whose time has come."""
        if self.faults.settings.enabled and self.faults.held:
            out = self.faults.apply(())
            self._track([], np.empty(0, np.int64), out)
            await self._send(sink, out)

    async def drain(self, sink: Sink) -> None:
        """At stop: everything the fault stage still holds, then close its ledger."""
        if self.faults.settings.enabled:
            await self._send(sink, self.faults.drain())
            self._unsent.clear()
            self.faults.close()

    def _track(self, new: list[OutEvent], ms: np.ndarray, out: list[OutEvent]) -> None:
        """Which events went out for the first time, and which new ones were held."""
        gone = {e.message_id for e in out}
        for e in out:
            self._unsent.pop(e.message_id, None)
        for e, t in zip(new, ms.tolist(), strict=True):
            if e.message_id not in gone:
                self._unsent[e.message_id] = int(t)

    async def _send(self, sink: Sink, events: list[OutEvent]) -> None:
        if events:
            await sink.send(events)


def _cut(batch: EventBatch, n: int) -> tuple[EventBatch, EventBatch]:
    """The first events of ``batch`` up to ``n``, cut between two instants (so a position
    separates what went from what waits), and the rest. At least one instant's events go
    when ``n`` > 0 (the bucket then runs a debt)."""
    if n <= 0:
        return batch.slice(0, 0), batch
    k = int(np.searchsorted(batch.ms, batch.ms[n], side="left"))
    if k == 0:
        k = int(np.searchsorted(batch.ms, batch.ms[0], side="right"))
    return batch.slice(0, k), batch.slice(k, len(batch))
