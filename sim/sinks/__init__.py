"""The sink layer of real-time mode: from serialized events to Event Hubs, a JSON-lines
file or stdout, with retries, a circuit breaker, backpressure and a dead-letter store."""

from sim.config.realtime import RealtimeSettings, load_realtime_settings
from sim.config.secrets import redact
from sim.sinks.base import DeadLetterWriter, OutEvent, Sink, SinkMetrics
from sim.sinks.connection import ConnectionStringError, MissingExtraError
from sim.sinks.factory import EventTypeFilter, make_sink

__all__ = [
    "ConnectionStringError",
    "DeadLetterWriter",
    "EventTypeFilter",
    "MissingExtraError",
    "OutEvent",
    "RealtimeSettings",
    "Sink",
    "SinkMetrics",
    "load_realtime_settings",
    "make_sink",
    "redact",
]
