"""CloudEvents 1.0 structured envelopes: built from the native envelope, read back by the
CloudEvents reference SDK, and delivered through the real azure-eventhub SDK."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest
from cloudevents.core.bindings.amqp import AMQPMessage, from_amqp
from cloudevents.core.formats.json import JSONFormat

from sim.config.realtime import RealtimeSettings
from sim.sinks.base import OutEvent
from sim.sinks.cloudevents import CONTENT_TYPE, envelope_stage, from_native, to_cloudevents
from sim.sinks.eventhub import EventHubSink
from sim.sinks.factory import make_sink
from tests.eventhub_endpoint import EventHubEndpoint
from tests.helpers import Pending, envelope

INGEST = datetime(2024, 3, 6, 16, 0, 1, 250_000, UTC)
PAYLOAD = {"EventTS": "2024-03-06T16:00:00.125Z", "StoreID": 12, "Total": 19.99, "Tax": None}


def native(i: int = 0, event_type: str = "receipt_created") -> OutEvent:
    pending = Pending(0, event_type, "store-12", f"trace-{i}", dict(PAYLOAD, Line=i))
    return OutEvent("store-12", envelope(pending, INGEST), f"trace-{i}", event_type)


def test_structured_form_of_a_native_envelope() -> None:
    event = native()
    ce = orjson.loads(from_native(event.body, "ev-1"))
    assert ce == {
        "specversion": "1.0",
        "id": "ev-1",
        "source": "retail-sim/store-12",
        "type": "receipt_created",
        "time": "2024-03-06T16:00:00.125Z",
        "subject": "store-12",
        "datacontenttype": "application/json",
        "data": dict(PAYLOAD, Line=0),
        "traceid": "trace-0",
        "schemaversion": 1,
        "ingesttime": "2024-03-06T16:00:01.250Z",
        "partitionkey": "store-12",
    }
    for name in ce:  # CloudEvents attribute naming rule
        assert re.fullmatch(r"[a-z0-9]{1,20}", name), name
    # pure: same input, same bytes; the native body is not touched
    assert from_native(event.body, "ev-1") == from_native(event.body, "ev-1")
    assert orjson.loads(event.body)["payload"] == dict(PAYLOAD, Line=0)


def test_reference_sdk_reads_it_back() -> None:
    out = to_cloudevents(native(3, "inventory_updated"))
    assert out.content_type == CONTENT_TYPE == JSONFormat.CONTENT_TYPE
    assert out.message_id == "trace-3:inventory_updated"
    message = AMQPMessage({"content-type": out.content_type}, {}, out.body)
    ce = from_amqp(message, JSONFormat())
    assert ce.get_id() == out.message_id
    assert ce.get_type() == "inventory_updated"
    assert ce.get_source() == "retail-sim/store-12"
    assert ce.get_time() == datetime(2024, 3, 6, 16, 0, 0, 125_000, UTC)
    assert ce.get_data() == dict(PAYLOAD, Line=3)
    assert ce.get_extension("traceid") == "trace-3"


def test_envelope_stage_choice() -> None:
    events = [native(i) for i in range(3)]
    assert envelope_stage("native")(events) is events
    assert [e.message_id for e in envelope_stage("cloudevents")(events)] == [
        e.message_id for e in events
    ]
    with pytest.raises(ValueError, match="native or cloudevents"):
        envelope_stage("xml")
    assert RealtimeSettings(envelope="cloudevents").envelope == "cloudevents"


def test_cloudevents_through_the_sdk_keep_routing_properties(tmp_path: Path) -> None:
    events = envelope_stage("cloudevents")([native(i, ("a", "b")[i % 2]) for i in range(60)])
    with EventHubEndpoint(partitions=2) as endpoint:
        settings = RealtimeSettings(batch_size=25, batch_timeout_ms=5, send_timeout_s=2.0)
        sink = EventHubSink(settings, endpoint.connection_string(), None)

        async def go() -> None:
            await sink.start()
            await sink.send(events)
            await sink.close()

        asyncio.run(go())
        received = endpoint.received()
    assert len(received) == 60
    for got, sent in zip(
        sorted(received, key=lambda r: r.body), sorted(events, key=lambda e: e.body), strict=True
    ):
        assert got.content_type == "application/cloudevents+json"
        assert got.message_id == sent.message_id == orjson.loads(got.body)["id"]
        assert got.application_properties == {"event_type": sent.event_type, "schema_version": 1}
        ce = from_amqp(AMQPMessage({"content-type": got.content_type}, {}, got.body), JSONFormat())
        assert ce.get_type() == sent.event_type


def test_make_sink_applies_the_envelope(tmp_path: Path) -> None:
    async def write(envelope_kind: str) -> list[dict]:
        settings = RealtimeSettings(
            sink="jsonl", envelope=envelope_kind, event_types=["receipt_created"]
        )
        sink = make_sink(settings, tmp_path / envelope_kind, None)
        await sink.start()
        kinds = ("receipt_created", "ad_impression")
        await sink.send([native(i, kinds[i % 2]) for i in range(10)])
        await sink.close()
        path = settings.jsonl_file(tmp_path / envelope_kind)
        return [orjson.loads(line) for line in path.read_bytes().splitlines()]

    ce = asyncio.run(write("cloudevents"))
    assert [e["id"] for e in ce] == [f"trace-{i}:receipt_created" for i in range(0, 10, 2)]
    assert all(e["specversion"] == "1.0" and e["type"] == "receipt_created" for e in ce)
    plain = asyncio.run(write("native"))
    assert [e["trace_id"] for e in plain] == [f"trace-{i}" for i in range(0, 10, 2)]
    assert "specversion" not in plain[0]
