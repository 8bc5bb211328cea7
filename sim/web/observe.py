"""What the console sees of a stream: a sink wrapper that counts events by type, keeps
the last 100, measures the lag behind the wall clock, and (:class:`Watch`) adds up sales
per simulated minute from ``receipt_created`` and which stores are short of stock from
``stockout_detected`` / ``inventory_updated``. The release-rate cap is the engine's
(``realtime.max_events_per_second``, :mod:`sim.run.release`)."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import orjson

from sim.config.clock import WallClock
from sim.sinks.base import OutEvent, Sink, SinkWrapper

MINUTES = 120  # simulated minutes of sales kept for the chart
WATCHED = frozenset({"receipt_created", "stockout_detected", "inventory_updated"})


class Watch:
    """Sales per simulated minute and the stores short of stock, over a stream's sessions.

    A product is *short* at a store from its ``stockout_detected`` until an
    ``inventory_updated`` with a positive ``QtyDelta`` (a delivery, a return) for it."""

    def __init__(self) -> None:
        self.minutes: dict[int, list[float]] = {}  # epoch minute -> [receipts, sales]
        self.short: dict[int, dict[int, str]] = {}  # store -> product -> since (EventTS)
        self.seen: dict[int, int] = {}  # store -> stockouts seen
        self.lock = threading.Lock()

    def add(self, event_type: str, p: dict[str, Any]) -> None:
        with self.lock:
            if event_type == "receipt_created":
                minute = _ms(p["EventTS"]) // 60_000
                m = self.minutes.setdefault(minute, [0, 0.0])
                m[0] += 1
                m[1] += float(p.get("Total") or 0.0)
                if len(self.minutes) > MINUTES:
                    del self.minutes[min(self.minutes)]
            elif event_type == "stockout_detected":
                store = int(p["StoreID"])
                self.short.setdefault(store, {})[int(p["ProductID"])] = p["EventTS"]
                self.seen[store] = self.seen.get(store, 0) + 1
            elif (p.get("QtyDelta") or 0) > 0 and p.get("StoreID") is not None:
                self.short.get(int(p["StoreID"]), {}).pop(int(p["ProductID"]), None)

    def sales(self) -> list[dict[str, Any]]:
        """One point per simulated minute that had receipts: receipts and sales total."""
        with self.lock:
            return [
                {"minute": _minute_iso(k), "receipts": int(v[0]), "sales": round(v[1], 2)}
                for k, v in sorted(self.minutes.items())
            ]

    def stores(self) -> list[dict[str, Any]]:
        """The stores with stockouts seen, most products short first."""
        with self.lock:
            out = [
                {
                    "store": s,
                    "short_products": len(self.short.get(s, {})),
                    "stockouts_seen": n,
                    "products": sorted(self.short.get(s, {}))[:20],
                    "since": min(self.short[s].values()) if self.short.get(s) else None,
                }
                for s, n in self.seen.items()
            ]
        return sorted(out, key=lambda x: (-x["short_products"], x["store"]))


def _ms(ts: str) -> int:
    return int(datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp() * 1000)


def _minute_iso(minute: int) -> str:
    return datetime.fromtimestamp(minute * 60, UTC).strftime("%Y-%m-%dT%H:%MZ")


class Observer:
    """What the console sees of a stream: counts by type, the last events, lag."""

    def __init__(self, wall: WallClock, speed: float | None, watch: Watch | None = None) -> None:
        self.wall, self.speed = wall, speed
        self.watch = watch or Watch()
        self.by_type: dict[str, int] = {}
        self.recent: list[dict[str, Any]] = []
        self.anchor: tuple[float, float] | None = None  # (sim seconds, wall seconds)
        self.last_ms = 0
        self.paused = False  # no lag while the engine's clock is paused
        self.lock = threading.Lock()

    def lag(self) -> float:
        """Wall seconds the last event seen is behind its paced schedule; 0 at max speed
        (``speed`` None: unpaced, no schedule to be behind)."""
        if self.speed is None or self.paused or self.anchor is None or not self.last_ms:
            return 0.0
        due = self.anchor[1] + (self.last_ms / 1000 - self.anchor[0]) / self.speed
        return max(0.0, self.wall.time() - due)

    def seen(self, events: Sequence[Any]) -> None:
        with self.lock:
            for e in events:
                self.by_type[e.event_type] = self.by_type.get(e.event_type, 0) + 1
                if e.event_type in WATCHED:
                    self.watch.add(e.event_type, orjson.loads(e.body).get("payload", {}))
            for e in events[-100:]:
                self.recent.append(orjson.loads(e.body))
            del self.recent[:-100]
            ts = self.recent[-1].get("payload", {}).get("EventTS") if self.recent else None
            if ts:
                moment = datetime.fromisoformat(ts.replace("Z", "+00:00"))
                self.last_ms = int(moment.timestamp() * 1000)


class ObservedSink(SinkWrapper):
    """A sink that tells the observer what passes."""

    def __init__(self, inner: Sink, obs: Observer) -> None:
        super().__init__(inner)
        self.obs = obs

    async def send(self, events: Sequence[OutEvent]) -> None:
        await self.inner.send(events)
        self.obs.seen(events)
