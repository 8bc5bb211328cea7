"""Core types of the sink layer: the event handed to a sink, the Sink protocol, metrics."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

JSON_CONTENT_TYPE = "application/json"


@dataclass(frozen=True, slots=True)
class OutEvent:
    """One serialized real-time event, ready to publish.

    `partition_key` is the store or DC the event concerns ("store-12", "dc-3"); all events
    of one key keep their order. `body` is the encoded JSON envelope and is sent as is.

    The Event Hubs message carries `message_id` (the event id), `content_type` and the
    application properties `event_type` and `schema_version`, so a consumer can route an
    event without parsing its body. `event_id` is the event's own id (the envelope's
    `event_id`); when a caller leaves it empty the id is `trace_id:event_type`.
    """

    partition_key: str
    body: bytes
    trace_id: str
    event_type: str
    event_id: str = ""
    schema_version: int = 1
    content_type: str = JSON_CONTENT_TYPE

    @property
    def message_id(self) -> str:
        """The id a consumer de-duplicates on: `event_id`, else `trace_id:event_type`."""
        return self.event_id or f"{self.trace_id}:{self.event_type}"

    def application_properties(self) -> dict[str, str | int]:
        """The AMQP application properties every message carries."""
        return {"event_type": self.event_type, "schema_version": self.schema_version}


@dataclass(slots=True)
class SinkMetrics:
    """Running counters of a sink. `last_error` is always redacted."""

    events_sent: int = 0
    bytes_sent: int = 0
    batches: int = 0
    retries: int = 0
    failures: int = 0
    dead_lettered: int = 0
    dropped: int = 0
    breaker_state: str = "closed"
    buffered: int = 0
    last_error: str | None = None

    @property
    def delivered(self) -> int:
        """Events the destination accepted (acknowledged by the hub, written to the file)."""
        return self.events_sent


@runtime_checkable
class Sink(Protocol):
    """Where real-time events go. All methods run on the caller's asyncio loop."""

    @property
    def metrics(self) -> SinkMetrics:
        """The sink's running counters."""
        ...

    async def start(self) -> None:
        """Open connections/files. Call once before `send`."""
        ...

    async def send(self, events: Sequence[OutEvent]) -> None:
        """Accept events; awaits while the bounded buffer is full (backpressure)."""
        ...

    async def flush(self) -> None:
        """Return once every event accepted so far is delivered or dead-lettered."""
        ...

    async def close(self) -> None:
        """Flush, then release connections/files; bounded in time (see each sink)."""
        ...

    def stop(self, now: bool = False) -> None:
        """A stop was asked for (a signal; ``now`` for a second one): stop waiting for
        the destination, dead-lettering what it has not taken. Safe from a signal handler
        on the loop; a no-op where nothing can wait."""
        ...


class DeadLetterWriter(Protocol):
    """Receives events a sink gave up on, with a secret-free reason."""

    def write(self, events: Sequence[OutEvent], reason: str, attempts: int) -> None: ...


class SinkWrapper:
    """A sink around another one that changes what :meth:`send` passes on; everything
    else (metrics, start, flush, close, stop) is the inner sink's. Subclasses override
    :meth:`send` alone."""

    def __init__(self, inner: Sink) -> None:
        self.inner = inner

    @property
    def metrics(self) -> SinkMetrics:
        return self.inner.metrics

    async def start(self) -> None:
        await self.inner.start()

    async def send(self, events: Sequence[OutEvent]) -> None:
        await self.inner.send(events)

    async def flush(self) -> None:
        await self.inner.flush()

    async def close(self) -> None:
        await self.inner.close()

    def stop(self, now: bool = False) -> None:
        self.inner.stop(now)
