"""A circuit breaker for batch sends, shared by all producers of a sink.

closed --(`failure_threshold` consecutive failures)--> open
open --(`reset_s` elapsed)--> half-open: exactly one probe attempt is let through
half-open --(probe succeeds)--> closed;  --(probe fails)--> open again
"""

from __future__ import annotations

import asyncio
import enum
import logging
import time
from collections import deque
from collections.abc import Callable

_LOG = logging.getLogger("sim.sinks.breaker")


class BreakerState(enum.StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half-open"


class CircuitBreaker:
    """Gate for send attempts. Use `acquire()` before an attempt, then record its outcome."""

    def __init__(
        self,
        failure_threshold: int,
        reset_s: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        on_change: Callable[[BreakerState], None] | None = None,
    ) -> None:
        self.failure_threshold = failure_threshold
        self.reset_s = reset_s
        self._clock = clock
        self._on_change = on_change
        self._state = BreakerState.CLOSED
        self._consecutive_failures = 0
        self._opened_at = 0.0
        self._probe_out = False
        self.failed_probes = 0
        self._changed = asyncio.Event()
        self.transitions: deque[BreakerState] = deque([BreakerState.CLOSED], maxlen=1000)

    @property
    def state(self) -> BreakerState:
        return self._state

    def _set(self, state: BreakerState) -> None:
        if state is self._state:
            return
        self._state = state
        self.transitions.append(state)
        log = _LOG.warning if state is BreakerState.OPEN else _LOG.info
        log("circuit breaker %s", state.value)
        if self._on_change is not None:
            self._on_change(state)
        self.wake()

    def wake(self) -> None:
        """Wake every waiter so it re-checks (state change, or the caller now drains)."""
        self._changed.set()
        self._changed = asyncio.Event()

    async def acquire(self, give_up: Callable[[], bool] = lambda: False) -> bool:
        """Wait until an attempt is allowed: True to attempt, False when `give_up()` turns
        true while the breaker is open (the caller then dead-letters instead)."""
        while True:
            if self._state is BreakerState.CLOSED:
                return True
            waiter = self._changed
            timeout: float | None = None
            if self._state is BreakerState.OPEN:
                remaining = self._opened_at + self.reset_s - self._clock()
                if remaining <= 0:
                    self._probe_out = True
                    self._set(BreakerState.HALF_OPEN)
                    return True
                if give_up():
                    return False
                timeout = remaining
            elif not self._probe_out:  # half-open and the probe ended without an outcome
                self._probe_out = True
                return True
            try:
                await asyncio.wait_for(waiter.wait(), timeout)
            except TimeoutError:
                pass

    def release_probe(self) -> None:
        """The probe attempt ended without an outcome (e.g. cancelled)."""
        self._probe_out = False
        self.wake()

    def record_success(self) -> None:
        self._consecutive_failures = 0
        self._probe_out = False
        self._set(BreakerState.CLOSED)

    def record_failure(self) -> None:
        self._consecutive_failures += 1
        self._probe_out = False
        if self._state is BreakerState.HALF_OPEN:
            self.failed_probes += 1
        if self._state is BreakerState.HALF_OPEN or (
            self._state is BreakerState.CLOSED
            and self._consecutive_failures >= self.failure_threshold
        ):
            self._opened_at = self._clock()
            self._set(BreakerState.OPEN)
