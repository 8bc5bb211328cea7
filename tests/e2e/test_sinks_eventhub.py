"""The Event Hubs sink with the real azure-eventhub SDK against the local AMQP endpoint."""

from __future__ import annotations

import asyncio
import io
import logging
import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from sim.config.realtime import RealtimeSettings
from sim.sinks.base import OutEvent
from sim.sinks.breaker import BreakerState
from sim.sinks.check import check_connection
from sim.sinks.connection import ENV_CONNECTION_STRING, ENV_KEYVAULT_URL
from sim.sinks.deadletter import DeadLetterStore, read_lines
from sim.sinks.eventhub import EventHubSink
from sim.sinks.factory import make_sink
from sim.sinks.replay import replay_dead_letters
from tests.eventhub_endpoint import EventHubEndpoint, Fault

SECRET = "S3cr3t-Key-Value-For-Tests-0123456789+/="
KEYS = [f"store-{i}" for i in range(1, 6)] + ["dc-1", "dc-2"]


def fast_settings(**overrides: object) -> RealtimeSettings:
    values: dict[str, object] = {
        "batch_size": 40,
        "batch_timeout_ms": 10,
        "retry_attempts": 3,
        "retry_backoff_s": 0.01,
        "retry_backoff_max_s": 0.05,
        "breaker_failure_threshold": 3,
        "breaker_reset_s": 0.3,
        "send_timeout_s": 1.0,
        "max_buffer": 2_000,
        "producers": 2,
    }
    values.update(overrides)
    return RealtimeSettings.model_validate(values)


def make_events(n: int, keys: list[str] = KEYS, start: int = 0) -> list[OutEvent]:
    """Events whose body carries its key and its per-key sequence number."""
    events = []
    for i in range(start, start + n):
        key = keys[i % len(keys)]
        trace = f"trace-{i:08d}"
        body = orjson.dumps(
            {
                "event_type": "receipt_created",
                "payload": {"key": key, "seq": i // len(keys), "text": "x" * (i % 50)},
                "trace_id": trace,
                "ingest_timestamp": "2024-01-01T08:00:00.000Z",
                "schema_version": 1,
                "source": "retail-sim",
            }
        )
        events.append(OutEvent(key, body, trace, "receipt_created"))
    return events


@pytest.fixture
def endpoint() -> Iterator[EventHubEndpoint]:
    with EventHubEndpoint(partitions=4) as ep:
        yield ep


def received_traces(endpoint: EventHubEndpoint) -> set[str]:
    return {orjson.loads(r.body)["trace_id"] for r in endpoint.received()}


def dead_traces(output_dir: Path) -> list[str]:
    store = DeadLetterStore(output_dir)
    return [rec.event.trace_id for path in store.files() for _, rec in read_lines(path) if rec]


def assert_order_per_key(endpoint: EventHubEndpoint) -> None:
    """First arrivals of each key's events come in sequence order (duplicates allowed)."""
    seen: dict[str, set[int]] = defaultdict(set)
    last: dict[str, int] = {}
    for record in endpoint.received():
        payload = orjson.loads(record.body)["payload"]
        assert record.partition_key == payload["key"]
        if payload["seq"] in seen[payload["key"]]:
            continue
        seen[payload["key"]].add(payload["seq"])
        assert payload["seq"] > last.get(payload["key"], -1), f"order broken for {payload['key']}"
        last[payload["key"]] = payload["seq"]


async def run_sink(sink: EventHubSink, events: list[OutEvent], chunk: int = 100) -> None:
    await sink.start()
    for i in range(0, len(events), chunk):
        await sink.send(events[i : i + chunk])
    await sink.close()


def test_delivers_every_event_with_key_and_order(endpoint: EventHubEndpoint, tmp_path: Path):
    events = make_events(3_000)
    conn = endpoint.connection_string(SECRET)
    sink = EventHubSink(fast_settings(), conn, DeadLetterStore(tmp_path))
    asyncio.run(run_sink(sink, events))
    assert received_traces(endpoint) == {e.trace_id for e in events}
    assert endpoint.received_count == len(events)
    assert_order_per_key(endpoint)
    assert sink.metrics.events_sent == len(events)
    assert sink.metrics.bytes_sent == sum(len(e.body) for e in events)
    assert sink.metrics.dead_lettered == 0 and sink.metrics.buffered == 0
    assert 3_000 / 40 <= sink.metrics.batches < 3_000
    assert not (tmp_path / "dead_letter").exists()


def test_breaker_opens_then_recovers(endpoint: EventHubEndpoint, tmp_path: Path):
    settings = fast_settings(retry_attempts=50, breaker_failure_threshold=2, breaker_reset_s=0.4)
    sink = EventHubSink(settings, endpoint.connection_string(SECRET), DeadLetterStore(tmp_path))
    events = make_events(400)

    async def scenario() -> None:
        await sink.start()
        endpoint.set_fault(Fault.SERVER_BUSY)
        await sink.send(events[:200])
        deadline = time.monotonic() + 5
        while sink.breaker.state is not BreakerState.OPEN:
            assert time.monotonic() < deadline, "breaker never opened"
            await asyncio.sleep(0.01)
        attempts_when_open = endpoint.deliveries
        await asyncio.sleep(0.25)  # inside the reset window: nothing is attempted
        assert endpoint.deliveries == attempts_when_open
        assert sink.metrics.breaker_state == "open"
        endpoint.clear_fault()
        await sink.send(events[200:])
        deadline = time.monotonic() + 5
        while sink.metrics.events_sent < len(events):
            assert time.monotonic() < deadline, "did not recover"
            await asyncio.sleep(0.02)
        await sink.close()

    asyncio.run(scenario())
    states = list(sink.breaker.transitions)
    assert states[:4] == ["closed", "open", "half-open", "closed"]
    assert sink.metrics.breaker_state == "closed"
    assert received_traces(endpoint) == {e.trace_id for e in events}
    assert sink.metrics.dead_lettered == 0
    assert_order_per_key(endpoint)


def test_half_open_probe_failure_reopens(endpoint: EventHubEndpoint, tmp_path: Path):
    settings = fast_settings(retry_attempts=50, breaker_failure_threshold=1, breaker_reset_s=0.2)
    sink = EventHubSink(settings, endpoint.connection_string(SECRET), DeadLetterStore(tmp_path))

    async def scenario() -> None:
        await sink.start()
        endpoint.set_fault(Fault.UNAUTHORIZED)
        await sink.send(make_events(50))
        deadline = time.monotonic() + 5
        while list(sink.breaker.transitions).count(BreakerState.OPEN) < 2:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.01)
        endpoint.clear_fault()
        await sink.close()

    asyncio.run(scenario())
    assert list(sink.breaker.transitions)[:4] == ["closed", "open", "half-open", "open"]
    assert sink.metrics.events_sent + sink.metrics.dead_lettered == 50


def test_replay_dlq_delivers_once_healthy(endpoint: EventHubEndpoint, tmp_path: Path):
    settings = fast_settings(retry_attempts=1, breaker_failure_threshold=1)
    conn = endpoint.connection_string(SECRET)
    events = make_events(120)
    endpoint.set_fault(Fault.SERVER_BUSY)
    asyncio.run(run_sink(EventHubSink(settings, conn, DeadLetterStore(tmp_path)), events))
    assert sorted(dead_traces(tmp_path)) == sorted(e.trace_id for e in events)
    assert endpoint.received_count == 0

    async def replay() -> object:
        sink = EventHubSink(settings, conn, DeadLetterStore(tmp_path))
        try:
            return await replay_dead_letters(tmp_path, sink)
        finally:
            await sink.close()

    still_failing = asyncio.run(replay())  # the endpoint still refuses everything
    assert still_failing.replayed == 120 and still_failing.still_failed == 120
    assert sorted(dead_traces(tmp_path)) == sorted(e.trace_id for e in events)
    endpoint.clear_fault()
    report = asyncio.run(replay())
    assert report.replayed == 120 and report.delivered == 120 and report.still_failed == 0
    assert dead_traces(tmp_path) == []
    assert DeadLetterStore(tmp_path).files() == []
    assert received_traces(endpoint) == {e.trace_id for e in events}
    by_trace = {orjson.loads(r.body)["trace_id"]: orjson.loads(r.body) for r in endpoint.received()}
    assert by_trace[events[7].trace_id] == orjson.loads(events[7].body)


def test_oversized_event_is_dead_lettered(tmp_path: Path):
    with EventHubEndpoint(max_message_size=16 * 1024) as ep:
        conn = ep.connection_string(SECRET)
        sink = EventHubSink(fast_settings(), conn, DeadLetterStore(tmp_path))
        body = orjson.dumps({"trace_id": "big", "pad": "x" * 20_000})
        big = OutEvent("store-1", body, "big", "receipt_created")
        small = make_events(30)
        asyncio.run(run_sink(sink, [*small[:10], big, *small[10:]]))
        assert received_traces(ep) == {e.trace_id for e in small}
    assert dead_traces(tmp_path) == ["big"]


def test_no_secret_anywhere(
    endpoint: EventHubEndpoint,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
):
    caplog.set_level(logging.DEBUG)
    conn = endpoint.connection_string(SECRET)
    monkeypatch.delenv(ENV_KEYVAULT_URL, raising=False)
    monkeypatch.setenv(ENV_CONNECTION_STRING, conn)
    monkeypatch.chdir(tmp_path)
    settings = fast_settings(retry_attempts=1, breaker_failure_threshold=1)
    sink = make_sink(settings, tmp_path, None)
    texts: list[str] = []

    async def scenario() -> None:
        await sink.start()
        endpoint.set_fault(Fault.UNAUTHORIZED)
        await sink.send(make_events(60))
        await sink.flush()
        texts.append(str(sink.metrics))
        endpoint.set_fault(Fault.CLOSE_CONNECTION)
        await sink.send(make_events(60, start=60))
        await sink.close()

    asyncio.run(scenario())
    assert sink.metrics.dead_lettered > 0
    out = io.StringIO()
    assert check_connection(settings, tmp_path, out=out) == 0
    unreachable = conn.replace(f"127.0.0.1:{endpoint.port}", "127.0.0.1:1")
    monkeypatch.setenv(ENV_CONNECTION_STRING, unreachable)
    assert check_connection(fast_settings(send_timeout_s=1), tmp_path, out=out) == 1
    bad = conn.replace("SharedAccessKeyName=", "KeyName=")
    monkeypatch.setenv(ENV_CONNECTION_STRING, bad)
    assert check_connection(settings, tmp_path, out=out) == 2
    try:
        make_sink(settings, tmp_path, bad)
    except Exception as exc:
        texts.append(str(exc))
    else:
        pytest.fail("a string without SharedAccessKeyName must be refused")
    texts += [out.getvalue(), str(sink.metrics), repr(sink.metrics), caplog.text]
    for record in caplog.records:
        texts.append(record.getMessage())
        texts.append(str(record.exc_text or ""))
    for path in DeadLetterStore(tmp_path).files():
        texts.append(path.read_text())
    blob = "\n".join(texts)
    assert "UnauthorizedAccess" in blob or "unauthorized" in blob  # the texts are real
    assert SECRET not in blob
    assert SECRET[:12] not in blob


def test_check_connection_reports_fabric_and_missing_parts(
    endpoint: EventHubEndpoint, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.delenv(ENV_KEYVAULT_URL, raising=False)
    monkeypatch.delenv(ENV_CONNECTION_STRING, raising=False)
    monkeypatch.chdir(tmp_path)
    out = io.StringIO()
    ok = endpoint.connection_string(SECRET)
    assert check_connection(fast_settings(), tmp_path, connection_string=ok, out=out) == 0
    assert "OK: 4 partition(s) [0, 1, 2, 3]" in out.getvalue()
    assert "Event Hubs emulator" in out.getvalue()
    no_key = ok.replace(f"SharedAccessKey={SECRET};", "")
    out = io.StringIO()
    assert check_connection(fast_settings(), tmp_path, connection_string=no_key, out=out) == 2
    assert "lacks SharedAccessKey" in out.getvalue()
    out = io.StringIO()
    assert check_connection(fast_settings(), tmp_path, out=out) == 2
    assert "no Event Hubs connection string" in out.getvalue()
    no_hub = endpoint.connection_string(SECRET, entity=False)
    out = io.StringIO()
    assert check_connection(fast_settings(), tmp_path, connection_string=no_hub, out=out) == 2
    assert "EntityPath" in out.getvalue()
    out = io.StringIO()
    settings = fast_settings(hub_name="hub")
    assert check_connection(settings, tmp_path, connection_string=no_hub, out=out) == 0
    out = io.StringIO()
    wrong_hub = fast_settings(hub_name="nope")
    assert check_connection(wrong_hub, tmp_path, connection_string=ok, out=out) == 1
    assert SECRET not in out.getvalue()


def test_every_message_carries_id_content_type_and_routing_properties(
    endpoint: EventHubEndpoint, tmp_path: Path
):
    events = make_events(400)
    events[7] = OutEvent(
        events[7].partition_key, events[7].body, events[7].trace_id, "inventory_updated", "ev-7", 2
    )
    conn = endpoint.connection_string(SECRET)
    asyncio.run(run_sink(EventHubSink(fast_settings(), conn, DeadLetterStore(tmp_path)), events))
    received = endpoint.received()
    assert len(received) == len(events)
    by_id = {r.message_id: r for r in received}
    assert len(by_id) == len(events)  # message ids are unique
    for event in events:
        record = by_id[event.message_id]
        assert record.body == event.body
        assert record.content_type == "application/json"
        assert record.application_properties == {
            "event_type": event.event_type,
            "schema_version": event.schema_version,
        }
    assert by_id["ev-7"].application_properties == {
        "event_type": "inventory_updated",
        "schema_version": 2,
    }
    assert "trace-00000000:receipt_created" in by_id


def test_counting_endpoint_counts_every_event(tmp_path: Path):
    with EventHubEndpoint(partitions=2, keep_events=False) as counting:
        sink = EventHubSink(fast_settings(), counting.connection_string(SECRET), None)
        asyncio.run(run_sink(sink, make_events(333)))
        assert counting.wait_for(333, 5) and counting.received_count == 333
        assert counting.received() == []
