"""The release rate cap of real-time mode: a token bucket in front of the sink.

`RateLimiter` holds what the world produced beyond the cap, in arrival order, and lets
out at most `rate` events per second on average (and at most `burst` at once). Nothing
is dropped: when the world produces more than the cap, the backlog and the lag grow,
and they shrink again when it produces less. The limiter reads time from an injected
clock (wall seconds), so tests run a simulated 30 s without sleeping.

Two ways to use it: hold items (`release()`: offer what is due, take what may go), or
count only (`allowance()` / `spend()`): the real-time loop (:mod:`sim.run.release`)
leaves what waits in its outbox, so the saved stream position and the events'
`ingest_timestamp` stay exact, and takes at most `allowance()` events a tick.

`set_rate()` changes the cap live (the control interface's "rate" command).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from typing import Generic, TypeVar

from sim.config.realtime import RealtimeSettings

T = TypeVar("T")


class RateLimiter(Generic[T]):
    """A FIFO token bucket; `rate=None` passes everything through at once."""

    def __init__(
        self, rate: float | None, burst: int | None = None, *, clock: Callable[[], float]
    ) -> None:
        self._clock = clock
        self._held: deque[tuple[float, T]] = deque()
        self.released = 0
        self.set_rate(rate, burst)

    @classmethod
    def from_settings(
        cls, settings: RealtimeSettings, *, clock: Callable[[], float]
    ) -> RateLimiter[T]:
        return cls(settings.rate_cap, settings.burst, clock=clock)

    def set_rate(self, rate: float | None, burst: int | None = None) -> None:
        """Change the cap (None = none); the bucket starts full at the new size."""
        if rate is not None and rate <= 0:
            raise ValueError(f"rate must be > 0 events per second or None, got {rate}")
        self.rate = rate
        # Default bucket: one second of events, so a loop that polls every 0.1-1 s never
        # loses tokens to a full bucket.
        self.burst = float(burst) if burst is not None else max(1.0, rate or 1.0)
        self._tokens = self.burst
        self._last = self._clock()

    def offer(self, items: Iterable[T]) -> None:
        """Queue items to be released in this order."""
        now = self._clock()
        self._held.extend((now, item) for item in items)

    def release(self, items: Iterable[T] = ()) -> list[T]:
        """Offer `items`, then take every held item the bucket allows now, oldest first."""
        self.offer(items)
        held = self._held
        if self.rate is None:
            out = [item for _, item in held]
            held.clear()
        else:
            now = self._clock()
            elapsed = max(0.0, now - self._last)  # a wall clock stepped back adds nothing
            self._tokens = min(self.burst, self._tokens + elapsed * self.rate)
            self._last = now
            n = min(len(held), int(self._tokens))
            self._tokens -= n
            out = [held.popleft()[1] for _ in range(n)]
        self.released += len(out)
        return out

    def allowance(self) -> int | None:
        """Events that may go now (None: no cap), without holding them: the real-time
        loop leaves what waits in its outbox and :meth:`spend` what it released."""
        if self.rate is None:
            return None
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + max(0.0, now - self._last) * self.rate)
        self._last = now
        return max(0, int(self._tokens))

    def spend(self, n: int) -> None:
        """Count ``n`` events released (after :meth:`allowance`; a debt is paid later)."""
        if self.rate is not None:
            self._tokens -= n
        self.released += n

    def drain(self) -> list[T]:
        """Everything held, at once (at stop: the sink still flushes what was produced)."""
        out = [item for _, item in self._held]
        self._held.clear()
        self.released += len(out)
        return out

    @property
    def backlog(self) -> int:
        """Items held back by the cap."""
        return len(self._held)

    def lag_s(self) -> float:
        """How long the oldest held item has waited (0 when nothing is held)."""
        return self._clock() - self._held[0][0] if self._held else 0.0

    def wait_s(self) -> float:
        """Seconds until the next held item may go (0 when it may go now or none is held)."""
        if not self._held or self.rate is None or self._tokens >= 1:
            return 0.0
        return (1 - self._tokens) / self.rate
