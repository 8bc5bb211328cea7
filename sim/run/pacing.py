"""Pacing: wall time to simulated time, and the lag figures shown on screen.

A :class:`Clock` maps wall seconds to simulated epoch seconds at ``speed`` simulated
seconds per wall second. It can be paused, resumed and re-speeded: each change re-anchors
it at the simulated instant it had reached, so simulated time never jumps or moves
backward. ``speed=None`` is ``--speed max``: the clock does not pace; the run releases
whatever the simulation has made safe to release.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np

from sim.config.clock import WallClock


@dataclass
class Clock:
    """``sim = anchor_sim + (wall - anchor_wall) * speed`` while running."""

    anchor_sim: float
    speed: float | None
    wall: WallClock
    anchor_wall: float = 0.0
    paused: bool = False

    def __post_init__(self) -> None:
        self.anchor_wall = self.anchor_wall or self.wall.time()

    def sim_now(self) -> float:
        """The simulated instant the wall clock has reached (``inf`` at max speed)."""
        if self.paused:
            return self.anchor_sim
        if self.speed is None:
            return float("inf")
        return self.anchor_sim + (self.wall.time() - self.anchor_wall) * self.speed

    def wall_of(self, sim: float | np.ndarray) -> float | np.ndarray:
        """When the simulated instant ``sim`` is (or was) due on the wall clock."""
        if self.speed is None or self.paused:
            return self.wall.time() + 0 * np.asarray(sim)
        return self.anchor_wall + (np.asarray(sim) - self.anchor_sim) / self.speed

    def rebase(self, sim: float, speed: float | None, paused: bool = False) -> None:
        """Continue from simulated instant ``sim`` now, at ``speed``."""
        self.anchor_sim, self.anchor_wall = sim, self.wall.time()
        self.speed, self.paused = speed, paused


@dataclass
class Lag:
    """Release lag samples (wall seconds between when an event was due and when it was
    handed to the sink) over the last ``window`` releases."""

    window: int = 600
    _samples: deque[np.ndarray] = field(default_factory=deque)

    def add(self, lags: np.ndarray) -> None:
        if len(lags) > 2000:  # a fixed-size sample keeps the figure cheap at any rate
            lags = np.sort(lags)[np.linspace(0, len(lags) - 1, 2000).astype(np.int64)]
        self._samples.append(lags)
        while len(self._samples) > self.window:
            self._samples.popleft()

    def quantiles(self) -> tuple[float, float]:
        """(p50, p99) in seconds; 0 before any release."""
        if not self._samples:
            return 0.0, 0.0
        all_ = np.concatenate(self._samples)
        p50, p99 = np.quantile(all_, [0.5, 0.99])
        return float(p50), float(p99)
