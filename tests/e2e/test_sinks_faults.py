"""No event is lost under any fault the endpoint injects (real SDK, local AMQP endpoint)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from sim.sinks.deadletter import DeadLetterStore
from sim.sinks.eventhub import EventHubSink
from tests.e2e.test_sinks_eventhub import (
    SECRET,
    assert_order_per_key,
    dead_traces,
    fast_settings,
    make_events,
    received_traces,
)
from tests.eventhub_endpoint import EventHubEndpoint, Fault


@pytest.fixture
def endpoint() -> Iterator[EventHubEndpoint]:
    with EventHubEndpoint(partitions=4) as ep:
        yield ep


@pytest.mark.parametrize("fault", list(Fault), ids=[f.value for f in Fault])
def test_nothing_lost_under_fault(endpoint: EventHubEndpoint, tmp_path: Path, fault: Fault):
    """A transient fault is retried in order; a permanent one ends in the dead-letter store."""
    settings = fast_settings(
        retry_attempts=2, breaker_failure_threshold=1, breaker_reset_s=0.1, producers=1
    )
    sink = EventHubSink(settings, endpoint.connection_string(SECRET), DeadLetterStore(tmp_path))
    first, second = make_events(300), make_events(200, start=300)

    async def scenario() -> None:
        await sink.start()
        endpoint.set_fault(fault, count=1)
        await sink.send(first)
        await sink.flush()
        endpoint.set_fault(fault)
        await sink.send(second)
        await sink.close()

    asyncio.run(scenario())
    emitted = {e.trace_id for e in first + second}
    got, dead = received_traces(endpoint), dead_traces(tmp_path)
    assert {e.trace_id for e in first} <= got, "transient fault lost events"
    assert got | set(dead) == emitted, "events lost"
    assert len(dead) == len(set(dead))
    assert set(dead) <= {e.trace_id for e in second}
    assert sink.metrics.dead_lettered == len(dead) > 0
    assert sink.metrics.retries > 0 and sink.metrics.failures > 0
    assert_order_per_key(endpoint)
    record = orjson.loads((DeadLetterStore(tmp_path).files()[0]).read_bytes().splitlines()[0])
    assert set(record) == {
        "reason",
        "failed_at",
        "attempts",
        "event_type",
        "partition_key",
        "trace_id",
        "message_id",
        "schema_version",
        "content_type",
        "body",
    }
    assert record["message_id"] == f"{record['trace_id']}:receipt_created"
    assert record["body"]["trace_id"] == record["trace_id"]
    assert record["reason"]


def test_backpressure_bounds_the_buffer(endpoint: EventHubEndpoint, tmp_path: Path):
    settings = fast_settings(max_buffer=100, batch_size=50)
    sink = EventHubSink(settings, endpoint.connection_string(SECRET), DeadLetterStore(tmp_path))
    events = make_events(1_000)

    async def scenario() -> None:
        await sink.start()
        endpoint.set_fault(Fault.NEVER_SETTLE)
        producer = asyncio.create_task(sink.send(events))
        peak = 0
        for _ in range(20):
            await asyncio.sleep(0.01)
            peak = max(peak, sink.metrics.buffered)
        assert not producer.done(), "send() should wait while the buffer is full"
        assert peak <= 100
        endpoint.clear_fault()
        await asyncio.wait_for(producer, 10)
        await sink.close()

    asyncio.run(scenario())
    assert received_traces(endpoint) | set(dead_traces(tmp_path)) == {e.trace_id for e in events}
