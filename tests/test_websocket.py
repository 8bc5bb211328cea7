"""AMQP over WebSockets (`realtime.transport: websocket`) with the real SDK, through a
WebSocket front on 127.0.0.1 that bridges to the local AMQP endpoint."""

from __future__ import annotations

import asyncio
import io
import shutil
import ssl
import subprocess
from pathlib import Path

import orjson
import pytest

from sim.config.realtime import RealtimeSettings
from sim.errors import InputError
from sim.sinks.check import check_connection
from sim.sinks.deadletter import DeadLetterStore
from sim.sinks.eventhub import EventHubSink
from sim.sinks.factory import make_sink
from sim.sinks.transport import client_options
from tests.e2e.test_sinks_eventhub import fast_settings, make_events, run_sink
from tests.eventhub_endpoint import EventHubEndpoint
from tests.eventhub_ws_front import WebSocketFront


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


def _self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 made by the openssl command-line tool."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("the openssl command is needed to make a test certificate")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


def test_tls_websocket_with_a_self_signed_certificate(tmp_path: Path) -> None:
    cert, key = _self_signed(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    with (
        EventHubEndpoint(partitions=2) as endpoint,
        WebSocketFront(endpoint.port, ssl_context=context) as front,
    ):
        # no UseDevelopmentEmulator: the SDK speaks wss:// and verifies the certificate
        conn = "Endpoint=sb://127.0.0.1/;SharedAccessKeyName=k;SharedAccessKey=s;EntityPath=hub"
        verified = fast_settings(
            transport="websocket",
            custom_endpoint_address=front.address,
            connection_verify=str(cert),
        )
        sink = EventHubSink(verified, conn, DeadLetterStore(tmp_path))
        asyncio.run(run_sink(sink, make_events(200)))
        assert endpoint.received_count == 200 and front.upgrades == verified.producers
        # without the CA bundle the system roots reject the certificate: nothing arrives
        unverified = fast_settings(
            transport="websocket",
            custom_endpoint_address=front.address,
            retry_attempts=0,
            breaker_failure_threshold=100,
            producers=1,
            send_timeout_s=0.5,
        )
        sink = EventHubSink(unverified, conn, DeadLetterStore(tmp_path / "untrusted"))
        asyncio.run(run_sink(sink, make_events(20, keys=["store-1"])))
        assert endpoint.received_count == 200
        assert sink.metrics.dead_lettered == 20 and sink.metrics.events_sent == 0
        assert "CERTIFICATE_VERIFY_FAILED" in (sink.metrics.last_error or "")


def test_missing_ca_bundle_is_a_clear_input_error(tmp_path: Path) -> None:
    settings = RealtimeSettings(connection_verify=str(tmp_path / "nope.pem"))
    with pytest.raises(InputError, match="realtime.connection_verify: .*nope.pem"):
        client_options(settings)
