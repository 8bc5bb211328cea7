"""AMQP over WebSockets (`realtime.transport: websocket`) with the real SDK, through a
WebSocket front on 127.0.0.1 that bridges to the local AMQP endpoint."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import orjson
import pytest

from sim.config.realtime import RealtimeSettings
from sim.sinks.check import check_connection
from sim.sinks.deadletter import DeadLetterStore
from sim.sinks.eventhub import EventHubSink, client_options
from sim.sinks.factory import make_sink
from tests.eventhub_endpoint import EventHubEndpoint
from tests.eventhub_ws_front import WebSocketFront
from tests.test_sinks_eventhub import fast_settings, make_events, run_sink


def test_sdk_delivers_through_the_websocket_front(tmp_path: Path) -> None:
    events = make_events(1_500)
    with EventHubEndpoint(partitions=4) as endpoint, WebSocketFront(endpoint.port) as front:
        settings = fast_settings(transport="websocket", custom_endpoint_address=front.address)
        sink = EventHubSink(settings, endpoint.connection_string(), DeadLetterStore(tmp_path))
        asyncio.run(run_sink(sink, events))
        received = endpoint.received()
        assert front.upgrades == settings.producers  # one websocket per producer lane
        assert front.frames_in > 0 and front.bytes_out > 0
        accepted_directly = endpoint.connections_accepted
    assert accepted_directly == front.upgrades  # every AMQP connection came via the front
    assert sorted(orjson.loads(r.body)["trace_id"] for r in received) == sorted(
        e.trace_id for e in events
    )
    assert all(
        r.content_type == "application/json" and r.message_id and r.application_properties
        for r in received
    )
    assert sink.metrics.events_sent == len(events) and sink.metrics.dead_lettered == 0


def test_make_sink_and_check_connection_use_the_transport(tmp_path: Path) -> None:
    with EventHubEndpoint(partitions=3) as endpoint, WebSocketFront(endpoint.port) as front:
        settings = RealtimeSettings(
            sink="eventhub",
            transport="websocket",
            custom_endpoint_address=front.address,
            send_timeout_s=5,
        )
        out = io.StringIO()
        code = check_connection(
            settings, tmp_path, connection_string=endpoint.connection_string(), out=out
        )
        assert code == 0, out.getvalue()
        assert "transport websocket" in out.getvalue() and "3 partition(s)" in out.getvalue()
        assert front.upgrades == 1
        sink = make_sink(settings, tmp_path, endpoint.connection_string())
        asyncio.run(run_sink(sink, make_events(50)))  # type: ignore[arg-type]
        assert endpoint.received_count == 50 and front.upgrades == 1 + settings.producers


def test_transport_options() -> None:
    from azure.eventhub import TransportType

    assert client_options(RealtimeSettings())["transport_type"] is TransportType.Amqp
    ws = client_options(RealtimeSettings(transport="websocket"))
    assert ws == {"transport_type": TransportType.AmqpOverWebsocket}
    with pytest.raises(ValueError):
        RealtimeSettings(transport="http")  # type: ignore[arg-type]
