"""How the Event Hubs sink stops: within a bound, dead-lettering what the hub did not take.

A stop (Ctrl-C, SIGTERM, the end of ``--duration``) closes the sink. The batches in flight
get ``send_timeout_s`` + ``CLOSE_GRACE_S`` to be acknowledged; then the lanes are
cancelled, their batches in flight and every event still queued go to the dead-letter
store, and the run saves its position. ``stop(now=True)`` (a second signal) cuts the wait
short. A hub that never acknowledges therefore delays a stop by that bound, never more,
and loses no event: each is delivered or dead-lettered.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from sim.sinks.base import OutEvent
from sim.sinks.eventhub_util import SAFE_MAX_MESSAGE_BYTES

_LOG = logging.getLogger("sim.sinks.eventhub")


@dataclass(eq=False)
class Lane:
    index: int
    queues: dict[str, deque[OutEvent]] = field(default_factory=dict)
    since: dict[str, float] = field(default_factory=dict)  # arrival of a key's oldest event
    count: int = 0
    wakeup: asyncio.Event = field(default_factory=asyncio.Event)
    client: Any = None
    max_size: int = SAFE_MAX_MESSAGE_BYTES
    limit_known: bool = False
    task: asyncio.Task[None] | None = None


class StoppableSink:
    """The stop half of :class:`~sim.sinks.eventhub.EventHubSink` (which sets the
    attributes used here)."""

    _lanes: list[Lane]
    _space: asyncio.Event
    _abort: asyncio.Event
    _stop_requested: bool
    _stop_reason: str | None

    # provided by EventHubSink
    def _wake_all(self) -> None: ...
    async def flush(self) -> None: ...
    def _give_up(self, events: Any, reason: str, attempts: int) -> None: ...
    def _release(self, lane: Lane, n: int) -> None: ...

    def stop(self, now: bool = False) -> None:
        """A stop was asked for (a signal). ``send()`` no longer waits for room: what
        does not fit is dead-lettered. With ``now`` (a second signal), a pending or later
        ``close()`` stops waiting for the hub at once and dead-letters what is left."""
        self._stop_requested = True
        self._space.set()
        if now:
            self._abort.set()
            self._wake_all()

    async def _drained_within(self, bound: float) -> bool:
        """Whether every lane delivered or dead-lettered its events within ``bound``."""

        async def drain() -> None:
            await self.flush()
            await asyncio.gather(*(lane.task for lane in self._lanes if lane.task))

        drained = asyncio.ensure_future(drain())
        aborted = asyncio.ensure_future(self._abort.wait())
        try:
            await asyncio.wait(
                {drained, aborted}, timeout=bound, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            aborted.cancel()
        if drained.done():
            drained.result()
            return True
        drained.cancel()
        await asyncio.gather(drained, return_exceptions=True)
        return False

    async def _abandon(self, reason: str) -> None:
        """Cancel the lanes (their batches in flight are dead-lettered with ``reason``),
        then dead-letter every event still queued."""
        self._stop_reason = reason
        tasks = [lane.task for lane in self._lanes if lane.task and not lane.task.done()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for lane in self._lanes:
            for key in list(lane.queues):
                events = list(lane.queues.pop(key))
                lane.since.pop(key, None)
                self._give_up(events, reason, 0)
                self._release(lane, len(events))
        _LOG.warning("eventhub sink stopped: %s", reason)
