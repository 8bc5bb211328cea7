"""`make_sink`: the sink named by the settings, with its dead-letter store, its event-type
filter and its envelope (`realtime.envelope`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from sim.config.realtime import RealtimeSettings
from sim.config.secrets import install_log_redaction
from sim.sinks.base import OutEvent, Sink, SinkWrapper
from sim.sinks.cloudevents import envelope_stage
from sim.sinks.connection import resolve_connection_string
from sim.sinks.deadletter import DeadLetterStore
from sim.sinks.files import JsonlSink, StdoutSink


class EventTypeFilter(SinkWrapper):
    """Passes on only events whose type is listed; shares the inner sink's metrics."""

    def __init__(self, inner: Sink, event_types: Sequence[str]) -> None:
        super().__init__(inner)
        self.event_types = frozenset(event_types)
        self.filtered_out = 0

    async def send(self, events: Sequence[OutEvent]) -> None:
        wanted = self.event_types
        kept = [e for e in events if e.event_type in wanted]
        self.filtered_out += len(events) - len(kept)
        if kept:
            await self.inner.send(kept)


class EnvelopeSink(SinkWrapper):
    """Re-encodes every event (e.g. as CloudEvents) before the inner sink sees it."""

    def __init__(self, inner: Sink, encode: Callable[[list[OutEvent]], list[OutEvent]]) -> None:
        super().__init__(inner)
        self.encode = encode

    async def send(self, events: Sequence[OutEvent]) -> None:
        await self.inner.send(self.encode(list(events)))


def make_sink(settings: RealtimeSettings, output_dir: Path, connection_string: str | None) -> Sink:
    """Build the configured sink (not started).

    For `eventhub`, `connection_string` (e.g. from a command-line option) wins when given;
    otherwise it is resolved from Key Vault, the environment, `./.env`, then the settings.
    Raises `ConnectionStringError` / `MissingExtraError` with a secret-free message.
    """
    install_log_redaction()
    output_dir = Path(output_dir)
    sink: Sink
    if settings.sink == "jsonl":
        sink = JsonlSink(settings.jsonl_file(output_dir))
    elif settings.sink == "stdout":
        sink = StdoutSink()
    else:
        from sim.sinks.eventhub import EventHubSink, require_eventhub_sdk

        require_eventhub_sdk()
        if connection_string is None:
            connection_string = resolve_connection_string(
                keyvault_url=settings.keyvault_url,
                keyvault_secret=settings.keyvault_secret,
                configured=settings.configured_connection_string(),
            ).value
        dead_letter = DeadLetterStore(output_dir) if settings.dead_letter else None
        sink = EventHubSink(settings, connection_string, dead_letter)
    if settings.envelope != "native":
        sink = EnvelopeSink(sink, envelope_stage(settings.envelope))
    if settings.event_types is not None:
        sink = EventTypeFilter(sink, settings.event_types)
    return sink
