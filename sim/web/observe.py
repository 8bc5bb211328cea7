"""What the console sees of a stream: a sink wrapper that counts events by type, keeps
the last 100 and measures the lag behind the wall clock. The release-rate cap is the
engine's (``realtime.max_events_per_second``, :mod:`sim.run.release`)."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import orjson

from sim.config.clock import WallClock


class Observer:
    """What the console sees of a stream: counts by type, the last events, lag."""

    def __init__(self, wall: WallClock, speed: float) -> None:
        self.wall, self.speed = wall, speed
        self.by_type: dict[str, int] = {}
        self.recent: list[dict[str, Any]] = []
        self.anchor: tuple[float, float] | None = None  # (sim seconds, wall seconds)
        self.last_ms = 0
        self.paused = False  # no lag while the engine's clock is paused
        self.lock = threading.Lock()

    def lag(self) -> float:
        if self.paused or self.anchor is None or not self.last_ms:
            return 0.0
        due = self.anchor[1] + (self.last_ms / 1000 - self.anchor[0]) / self.speed
        return max(0.0, self.wall.time() - due)

    def seen(self, events: Sequence[Any]) -> None:
        with self.lock:
            for e in events:
                self.by_type[e.event_type] = self.by_type.get(e.event_type, 0) + 1
            for e in events[-100:]:
                self.recent.append(orjson.loads(e.body))
            del self.recent[:-100]
            ts = self.recent[-1].get("payload", {}).get("EventTS") if self.recent else None
            if ts:
                moment = datetime.fromisoformat(ts.replace("Z", "+00:00"))
                self.last_ms = int(moment.timestamp() * 1000)


class ObservedSink:
    """A sink that tells the observer what passes."""

    def __init__(self, inner: Any, obs: Observer) -> None:
        self.inner, self.obs = inner, obs

    @property
    def metrics(self) -> Any:
        return self.inner.metrics

    async def start(self) -> None:
        await self.inner.start()

    async def send(self, events: Sequence[Any]) -> None:
        await self.inner.send(events)
        self.obs.seen(events)

    async def flush(self) -> None:
        await self.inner.flush()

    async def close(self) -> None:
        await self.inner.close()

    def stop(self, now: bool = False) -> None:
        self.inner.stop(now)
