"""Unpaced streams hand the sink at most ~0.3 s of its deliveries (a stop then drains in
well under a second)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from sim.config.clock import WallClock
from sim.config.realtime import RealtimeSettings
from sim.run.pacing import Lag
from sim.run.release import IN_FLIGHT_MIN, Releaser
from sim.sinks.base import SinkMetrics


class Clock(WallClock):
    """A wall clock the test moves."""

    t = 1_000.0

    def time(self) -> float:
        return self.t


@dataclass
class Sink:
    metrics: SinkMetrics = field(default_factory=SinkMetrics)


def test_room_follows_the_sinks_pace(tmp_path: Path) -> None:
    wall = Clock()
    rel = Releaser(RealtimeSettings(sink="jsonl"), 1, tmp_path, wall, Lag())
    sink = Sink()
    sink.metrics.buffered = IN_FLIGHT_MIN - 1
    assert rel.room(sink)  # type: ignore[arg-type]
    sink.metrics.buffered = IN_FLIGHT_MIN
    assert not rel.room(sink), "unknown pace: the minimum"  # type: ignore[arg-type]
    wall.t += 1.0
    sink.metrics.events_sent = 40_000  # 40,000 events delivered in that second
    sink.metrics.buffered = 11_000
    assert rel.room(sink), "0.3 s of 40,000/s is 12,000"  # type: ignore[arg-type]
    sink.metrics.buffered = 12_500
    assert not rel.room(sink)  # type: ignore[arg-type]
