"""What the console sees of a stream: a sink wrapper that counts events by type, keeps
the last 100, measures the lag behind the wall clock and holds a release-rate cap."""

from __future__ import annotations

import asyncio
import threading
import time
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
        self.lock = threading.Lock()

    def lag(self) -> float:
        if self.anchor is None or not self.last_ms:
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
    """A sink that tells the observer what passes and holds a release-rate cap."""

    def __init__(self, inner: Any, obs: Observer, cap: float | None) -> None:
        self.inner, self.obs, self.cap = inner, obs, cap
        self.window: tuple[float, int] = (time.monotonic(), 0)

    @property
    def metrics(self) -> Any:
        return self.inner.metrics

    async def start(self) -> None:
        await self.inner.start()

    async def send(self, events: Sequence[Any]) -> None:
        step = max(1, int(self.cap)) if self.cap else len(events) or 1
        for i in range(0, len(events), step):
            chunk = events[i : i + step]
            if self.cap:  # at most ``cap`` events per wall second: wait, never drop
                t0, n = self.window
                wait = t0 + (n + len(chunk)) / self.cap - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                self.window = (t0, n + len(chunk))
            await self.inner.send(chunk)
            self.obs.seen(chunk)

    async def flush(self) -> None:
        await self.inner.flush()

    async def close(self) -> None:
        await self.inner.close()

    def stop(self, now: bool = False) -> None:
        self.inner.stop(now)
