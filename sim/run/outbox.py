"""The outbox: events built ahead of their time, released in time order, bounded.

The simulation thread adds batches (:meth:`Outbox.add`); the asyncio loop takes what is
due (:meth:`Outbox.due`). Each batch is kept sorted by time; a release merges the due
prefixes of all batches and orders them by (time, arrival), the order a single heap of
events would give, without one Python object per event. The outbox counts its events
and bytes so the simulation can be held back (:class:`sim.run.feeder.Feeder`).
"""

from __future__ import annotations

import threading

import numpy as np

from sim.run.events import EventBatch

MAX_BATCHES = 16  # waiting batches before they are merged into one


class Outbox:
    """Events waiting for their time, in (time, arrival) order. Thread-safe."""

    def __init__(self, after_ms: int) -> None:
        self.after_ms = after_ms
        self._batches: list[tuple[EventBatch, int]] = []  # (events, bytes)
        self._lock = threading.Lock()
        self.events = 0
        self.nbytes = 0
        self.peak_events = 0
        self.peak_bytes = 0
        self.added = 0
        self.released_upto = after_ms  # everything at or before this has been taken
        self.late = 0  # events added after their time was taken: they go out of order

    def add(self, batches: list[EventBatch]) -> None:
        """Keep the events of ``batches`` (in arrival order) after :attr:`after_ms`
        (the resume point), as one batch sorted by (time, arrival)."""
        batches = [b for b in batches if len(b)]
        if not batches:
            return
        batch = batches[0] if len(batches) == 1 else EventBatch.concat(batches)
        keep = batch.ms > self.after_ms
        if not keep.all():
            batch = batch.take(np.flatnonzero(keep))
        if not len(batch):
            return
        if len(batch) > 1 and (np.diff(batch.ms) < 0).any():
            batch = batch.take(np.argsort(batch.ms, kind="stable"))
        size = batch.nbytes
        with self._lock:
            self.late += int(np.searchsorted(batch.ms, self.released_upto, side="right"))
            self._batches.append((batch, size))
            if len(self._batches) > MAX_BATCHES:
                self._compact()
            self.events += len(batch)
            self.nbytes += size
            self.added += len(batch)
            self.peak_events = max(self.peak_events, self.events)
            self.peak_bytes = max(self.peak_bytes, self.nbytes)

    def _compact(self) -> None:
        """Merge the waiting batches into one, in (time, arrival) order, with buffers of
        its own: a batch that is partly released is a slice that keeps the whole
        batch's buffers alive, and a few events dated hours ahead (an online order's
        later statuses, a truck's planned arrival) would keep them for as long."""
        merged = EventBatch.concat([b for b, _ in self._batches])
        merged = merged.take(np.argsort(merged.ms, kind="stable"))
        self._batches = [(merged, sum(size for _, size in self._batches))]

    def put_back(self, batch: EventBatch) -> None:
        """Return the unreleased tail of a :meth:`due` batch (a rate cap took less): it
        goes first, so ties in time keep their (time, arrival) order."""
        if not len(batch):
            return
        size = batch.nbytes
        with self._lock:
            self._batches.insert(0, (batch, size))
            self.events += len(batch)
            self.nbytes += size

    def next_ms(self) -> int | None:
        """The time of the earliest waiting event."""
        with self._lock:
            return min((int(b.ms[0]) for b, _ in self._batches), default=None)

    def due(self, upto_ms: int) -> EventBatch | None:
        """Take every event at or before ``upto_ms``, in (time, arrival) order."""
        with self._lock:
            self.released_upto = max(self.released_upto, upto_ms)
            heads: list[EventBatch] = []
            rest: list[tuple[EventBatch, int]] = []
            for b, size in self._batches:
                cut = int(np.searchsorted(b.ms, upto_ms, side="right"))
                if cut == len(b):
                    heads.append(b)
                    self.nbytes -= size
                elif cut:
                    heads.append(b.slice(0, cut))
                    left = size * (len(b) - cut) // len(b)
                    self.nbytes -= size - left
                    rest.append((b.slice(cut, len(b)), left))
                else:
                    rest.append((b, size))
            self._batches = rest
            if not heads:
                return None
            self.events -= sum(len(h) for h in heads)
        out = heads[0] if len(heads) == 1 else EventBatch.concat(heads)
        return out.take(np.argsort(out.ms, kind="stable"))
