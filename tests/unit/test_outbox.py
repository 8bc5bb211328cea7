"""The outbox releases in (time, arrival) order and keeps no more memory than what waits."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from sim.run.events import EventBatch
from sim.run.outbox import MAX_BATCHES, Outbox


def batch(ms: np.ndarray, tag: str) -> EventBatch:
    ids = pa.array([f"{tag}-{i}" for i in range(len(ms))])
    body = pa.array(["x" * 200] * len(ms))
    return EventBatch(ms.astype(np.int64), ids, ids, ids, ids, body, body)


def slices(n: int) -> list[EventBatch]:
    """Slices of 300 s, each with a few events dated up to 20 h ahead (an online order's
    later statuses), the rest within the next 40 minutes; ties across slices."""
    rng = np.random.default_rng(1)
    out = []
    for s in range(n):
        now = s * 300_000
        soon = now + rng.integers(0, 2_400_000, 2_000) // 1000 * 1000
        later = now + rng.integers(0, 72_000_000, 20)
        out.append(batch(np.r_[soon, later], f"s{s}"))
    return out


def test_release_order_is_time_then_arrival_and_memory_follows_what_waits() -> None:
    outbox, sent = Outbox(-1), []
    for s, b in enumerate(slices(120)):
        outbox.add([b])
        got = outbox.due(s * 300_000 - 2_400_000)
        if got is not None:
            sent.append(got)
        assert len(outbox._batches) <= MAX_BATCHES
    rest = outbox.due(2**62)
    assert rest is not None
    out = EventBatch.concat([*sent, rest])
    everything = EventBatch.concat(slices(120))
    order = np.argsort(everything.ms, kind="stable")
    assert out.event_id.to_pylist() == everything.event_id.take(pa.array(order)).to_pylist()
    assert outbox.late == 0


def test_waiting_events_do_not_pin_released_ones() -> None:
    outbox = Outbox(-1)
    for s, b in enumerate(slices(120)):
        outbox.add([b])
        outbox.due(s * 300_000 - 2_400_000)
    waiting = sum(len(b) for b, _ in outbox._batches)
    pinned = sum(b.head.get_total_buffer_size() for b, _ in outbox._batches)
    assert waiting < 40_000, "most of the 242,400 events went out"
    assert pinned < 3 * waiting * 200, "buffers held are about what waits, not all sent"
