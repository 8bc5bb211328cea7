"""Sink layer parts that need no network: settings, connection strings, redaction,
credential order, file sinks, dead-letter store, replay through a file sink, breaker,
backoff, batch encoding and the live metrics view."""

from __future__ import annotations

import asyncio
import io
import logging
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest
from rich.console import Console

from sim.config.secrets import RedactingFilter, redact
from sim.errors import InputError
from sim.sinks import OutEvent, RealtimeSettings, load_realtime_settings, make_sink
from sim.sinks.amqp_batch import BatchBuilder, encode_event, fast_path_available
from sim.sinks.breaker import BreakerState, CircuitBreaker
from sim.sinks.connection import (
    ENV_CONNECTION_STRING,
    ConnectionStringError,
    MissingExtraError,
    parse_connection_string,
    read_dotenv,
    resolve_connection_string,
    sdk_connection_string,
)
from sim.sinks.deadletter import DeadLetterStore, read_lines
from sim.sinks.eventhub import backoff_delay
from sim.sinks.factory import EventTypeFilter
from sim.sinks.files import JsonlSink, StdoutSink
from sim.sinks.metrics_view import MetricsView
from sim.sinks.replay import replay_dead_letters

KEY = "AbCdEf0123456789SecretKeyValue+/="
GOOD = (
    "Endpoint=sb://contoso.servicebus.windows.net/;SharedAccessKeyName=send;"
    f"SharedAccessKey={KEY};EntityPath=sales"
)
FABRIC = (
    "Endpoint=sb://eventstream-1a2b3c4d.servicebus.windows.net/;SharedAccessKeyName=key_123;"
    f"SharedAccessKey={KEY};EntityPath=es_0f8fad5b-d9cb-469f-a165-70867728950e"
)


def events(n: int, event_type: str = "receipt_created") -> list[OutEvent]:
    return [
        OutEvent(
            f"store-{i % 3}",
            orjson.dumps({"event_type": event_type, "trace_id": f"t{i}", "payload": {"i": i}}),
            f"t{i}",
            event_type,
        )
        for i in range(n)
    ]


# -- settings ----------------------------------------------------------------------------


def test_settings_defaults_and_paths(tmp_path: Path):
    s = RealtimeSettings()
    assert (s.speed, s.sink, s.batch_size, s.batch_timeout_ms) == (1.0, "eventhub", 500, 200)
    assert (s.retry_attempts, s.retry_backoff_s, s.retry_backoff_max_s) == (5, 0.5, 30.0)
    assert (s.breaker_failure_threshold, s.breaker_reset_s, s.max_buffer) == (5, 10.0, 50_000)
    assert s.dead_letter and s.keyvault_secret == "eventhub-connection-string"
    assert s.jsonl_file(tmp_path) == tmp_path / "realtime" / "events.jsonl"
    assert RealtimeSettings(jsonl_path="x/e.jsonl").jsonl_file(tmp_path) == tmp_path / "x/e.jsonl"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"speed": 0}, "realtime.speed: Value error, speed must be a number > 0, or max"),
        ({"sink": "kafka"}, "realtime.sink: Input should be 'eventhub', 'jsonl' or 'stdout'"),
        ({"batch_size": 10, "max_buffer": 5}, "max_buffer (5) must be >= batch_size (10)"),
        ({"retry_backoff_s": 5, "retry_backoff_max_s": 1}, "retry_backoff_max_s (1.0) must be"),
        ({"event_types": []}, "event_types must list at least one type"),
        ({"keyvault_url": "http://x"}, "keyvault_url must be https://"),
        ({"conection_string": GOOD}, "realtime.conection_string: Extra inputs are not permitted"),
    ],
)
def test_settings_errors_are_clear_and_secret_free(data: dict, message: str):
    with pytest.raises(InputError) as info:
        load_realtime_settings(data)
    assert message in str(info.value)
    assert KEY not in str(info.value)


def test_settings_never_echo_the_connection_string():
    s = RealtimeSettings(connection_string=GOOD)
    assert KEY not in repr(s) and KEY not in str(s.model_dump())
    assert s.configured_connection_string() == GOOD


# -- connection strings, redaction, credentials -------------------------------------------


def test_parse_valid_strings():
    info = parse_connection_string(GOOD)
    assert (info.host, info.entity_path, info.key_name, info.kind) == (
        "contoso.servicebus.windows.net",
        "sales",
        "send",
        "Azure Event Hubs",
    )
    assert KEY not in repr(info)
    assert parse_connection_string(GOOD, hub_name="other").entity_path == "other"
    fabric = parse_connection_string(FABRIC)
    assert fabric.is_fabric and fabric.kind == "Microsoft Fabric eventstream"
    emulator = parse_connection_string(
        "Endpoint=sb://127.0.0.1:5672;SharedAccessKeyName=a;SharedAccessKey=b;"
        "EntityPath=h;UseDevelopmentEmulator=True"
    )
    assert emulator.use_emulator and emulator.host == "127.0.0.1"
    assert "UseDevelopmentEmulator=true" in sdk_connection_string(
        "Endpoint=sb://h/;UseDevelopmentEmulator=True"
    )


@pytest.mark.parametrize(
    ("conn", "missing"),
    [
        ("", "is empty"),
        ("SharedAccessKeyName=a;SharedAccessKey=b;EntityPath=h", "lacks Endpoint"),
        ("Endpoint=sb://h/;SharedAccessKey=b;EntityPath=h", "lacks SharedAccessKeyName"),
        ("Endpoint=sb://h/;SharedAccessKeyName=a;EntityPath=h", "lacks SharedAccessKey "),
        ("Endpoint=sb://h/;SharedAccessKeyName=a;SharedAccessKey=b", "lacks EntityPath"),
        ("Endpoint=https://h/;SharedAccessKeyName=a;SharedAccessKey=b;EntityPath=h", "sb://"),
        (f"Endpoint=sb://h/;SharedAccessKeyName=a;SharedAccessKey={KEY};garbage", "Key=Value"),
        (
            "Endpoint=sb://h/;SharedAccessKeyName=a;SharedAccessKey=b;EntityPath=h;"
            "UseDevelopmentEmulator=yes",
            "UseDevelopmentEmulator must be",
        ),
    ],
)
def test_parse_names_what_is_missing(conn: str, missing: str):
    with pytest.raises(ConnectionStringError) as info:
        parse_connection_string(conn)
    assert missing in str(info.value)
    assert KEY not in str(info.value)


def test_redact_masks_keys_and_signatures():
    token = "SharedAccessSignature sr=sb%3a%2f%2fh&sig=abcDEF123%3d&se=1700000000&skn=send"
    text = f"failed {GOOD} and {token} and {{'SharedAccessKey': 'zzz'}} SharedAccessSignature=qq"
    out = redact(text)
    assert KEY not in out and "abcDEF123" not in out and "zzz" not in out and "qq" not in out
    assert "SharedAccessKeyName=send" in out and "EntityPath=sales" in out
    parse_connection_string(GOOD)  # registers the key as a known secret
    assert redact(f"the key {KEY} leaked") == "the key *** leaked"


def test_redacting_log_filter(caplog: pytest.LogCaptureFixture):
    logger = logging.getLogger("sim.sinks.test")
    logger.addFilter(RedactingFilter())
    with caplog.at_level(logging.INFO, logger="sim.sinks.test"):
        logger.info("connecting with %s", GOOD)
    assert KEY not in caplog.text and "SharedAccessKey=***" in caplog.text


def test_dotenv_parsing(tmp_path: Path):
    env = tmp_path / ".env"
    env.write_text(
        "# comment\nOTHER=1\nexport AZURE_EVENTHUB_CONNECTION_STRING='Endpoint=sb://h/;a=b'\n"
    )
    assert read_dotenv(env, ENV_CONNECTION_STRING) == "Endpoint=sb://h/;a=b"
    env.write_text(f'{ENV_CONNECTION_STRING}="x=y;z"\n')
    assert read_dotenv(env, ENV_CONNECTION_STRING) == "x=y;z"
    assert read_dotenv(tmp_path / "missing", ENV_CONNECTION_STRING) is None


def test_credential_order(tmp_path: Path):
    (tmp_path / ".env").write_text(f"{ENV_CONNECTION_STRING}=from-dotenv\n")

    def resolve(env: dict[str, str], configured: str | None = "from-settings") -> object:
        return resolve_connection_string(
            keyvault_url=None, keyvault_secret="s", configured=configured, env=env, cwd=tmp_path
        )

    assert resolve({ENV_CONNECTION_STRING: "from-env"}).value == "from-env"
    assert resolve({}).value == "from-dotenv"
    (tmp_path / ".env").unlink()
    got = resolve({})
    assert got.value == "from-settings" and "scenario" in got.source
    with pytest.raises(ConnectionStringError, match="no Event Hubs connection string"):
        resolve({}, configured=None)


def test_keyvault_first_and_clear_when_extra_missing(tmp_path: Path):
    try:
        import azure.identity  # noqa: F401
        import azure.keyvault.secrets  # noqa: F401
    except ImportError:
        with pytest.raises(MissingExtraError, match=r"pip install -e '\.\[keyvault\]'"):
            resolve_connection_string(
                keyvault_url=None,
                keyvault_secret="s",
                configured="x",
                env={
                    "AZURE_KEYVAULT_URL": "https://v.vault.azure.net/",
                    ENV_CONNECTION_STRING: "from-env",
                },
                cwd=tmp_path,
            )
    else:
        pytest.skip("Key Vault packages installed: the missing-extra path cannot be shown")


# -- file sinks, filter --------------------------------------------------------------------


def test_jsonl_sink_appends_lines(tmp_path: Path):
    path = tmp_path / "out" / "events.jsonl"
    evs = events(25)

    async def run() -> JsonlSink:
        sink = JsonlSink(path)
        await sink.start()
        before = path.read_bytes().count(b"\n")
        await sink.send(evs[:10])
        await sink.flush()
        assert path.read_bytes().count(b"\n") == before + 10
        await sink.send(evs[10:])
        await sink.close()
        return sink

    sink = asyncio.run(run())
    assert path.read_bytes() == b"".join(e.body + b"\n" for e in evs)
    assert sink.metrics.events_sent == 25
    assert sink.metrics.bytes_sent == sum(len(e.body) for e in evs)
    asyncio.run(run())  # a second run appends
    assert path.read_bytes().count(b"\n") == 50


def test_stdout_sink_and_event_type_filter(capsysbinary: pytest.CaptureFixture[bytes]):
    mixed = events(4) + events(3, "ble_ping_detected")
    settings = RealtimeSettings(sink="stdout", event_types=["ble_ping_detected"])
    sink = make_sink(settings, Path("unused"), None)
    assert isinstance(sink, EventTypeFilter)

    async def run() -> None:
        await sink.start()
        await sink.send(mixed)
        await sink.close()

    asyncio.run(run())
    out = capsysbinary.readouterr().out
    assert out == b"".join(e.body + b"\n" for e in mixed[4:])
    assert sink.metrics.events_sent == 3 and sink.filtered_out == 4


def test_stdout_sink_to_stream():
    stream = io.BytesIO()
    sink = StdoutSink(stream)
    evs = events(3)

    async def run() -> None:
        await sink.start()
        await sink.send(evs)
        await sink.close()

    asyncio.run(run())
    assert stream.getvalue().splitlines() == [e.body for e in evs]


def test_make_sink_jsonl_uses_output_dir(tmp_path: Path):
    sink = make_sink(RealtimeSettings(sink="jsonl"), tmp_path, None)
    assert isinstance(sink, JsonlSink)
    assert sink.path == tmp_path / "realtime" / "events.jsonl"


def test_make_sink_eventhub_without_credentials_is_clear(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.delenv(ENV_CONNECTION_STRING, raising=False)
    monkeypatch.delenv("AZURE_KEYVAULT_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConnectionStringError, match="AZURE_EVENTHUB_CONNECTION_STRING"):
        make_sink(RealtimeSettings(), tmp_path, None)


# -- dead letters, replay ------------------------------------------------------------------


def test_dead_letter_store_format(tmp_path: Path):
    store = DeadLetterStore(tmp_path, clock=lambda: datetime(2024, 5, 6, 7, 8, 9, 123456, UTC))
    evs = events(2) + [OutEvent("dc-1", b"not json\xff", "raw", "truck_arrived")]
    store.write(evs, f"server said no to {GOOD}", 6)
    (path,) = store.files()
    assert path.name == "2024-05-06.jsonl"
    lines = path.read_bytes().splitlines()
    first = orjson.loads(lines[0])
    assert first == {
        "reason": first["reason"],
        "failed_at": "2024-05-06T07:08:09.123Z",
        "attempts": 6,
        "event_type": "receipt_created",
        "partition_key": "store-0",
        "trace_id": "t0",
        "message_id": "t0:receipt_created",
        "schema_version": 1,
        "content_type": "application/json",
        "body": orjson.loads(evs[0].body),
    }
    assert KEY not in path.read_text(errors="replace") and "***" in first["reason"]
    decoded = [rec.event for _, rec in read_lines(path) if rec]
    assert decoded == evs  # bodies round-trip (compact JSON, or base64 for non-JSON)
    assert store.count() == 3


def test_replay_through_jsonl_sink_empties_the_store(tmp_path: Path):
    store = DeadLetterStore(tmp_path)
    evs = events(5)
    store.write(evs[:3], "first", 1)
    store.write(evs[3:], "second", 2)
    (store.directory / "2020-01-01.jsonl").write_bytes(b"{broken\n")
    out = tmp_path / "replayed.jsonl"

    async def run() -> object:
        sink = JsonlSink(out)
        report = await replay_dead_letters(tmp_path, sink)
        await sink.close()
        return report

    report = asyncio.run(run())
    assert (report.replayed, report.delivered, report.still_failed, report.unreadable) == (
        5,
        5,
        0,
        1,
    )
    assert out.read_bytes() == b"".join(e.body + b"\n" for e in evs)
    assert [p.name for p in store.files()] == ["2020-01-01.jsonl"]  # unreadable line kept
    assert (store.directory / "2020-01-01.jsonl").read_bytes() == b"{broken\n"
    assert not list(store.directory.glob(".*"))


# -- breaker, backoff, batch encoding, metrics view ---------------------------------------


def test_breaker_state_machine():
    now = [0.0]

    async def run() -> list[str]:
        breaker = CircuitBreaker(2, 5.0, clock=lambda: now[0])
        assert await breaker.acquire()
        breaker.record_failure()
        assert breaker.state is BreakerState.CLOSED
        breaker.record_failure()
        assert breaker.state is BreakerState.OPEN
        assert not await breaker.acquire(give_up=lambda: True)
        now[0] = 5.0
        assert await breaker.acquire()  # the probe
        assert breaker.state is BreakerState.HALF_OPEN
        waiter = asyncio.create_task(breaker.acquire())
        await asyncio.sleep(0.01)
        assert not waiter.done()  # only one probe at a time
        breaker.record_failure()
        assert breaker.state is BreakerState.OPEN and breaker.failed_probes == 1
        now[0] = 10.0
        breaker.wake()
        assert await waiter  # the next probe
        breaker.record_success()
        return list(breaker.transitions)

    assert asyncio.run(run()) == ["closed", "open", "half-open", "open", "half-open", "closed"]


def test_backoff_is_exponential_capped_and_deterministic():
    delays = [backoff_delay(a, 0.5, 4.0, "trace-1") for a in range(1, 8)]
    assert delays == [backoff_delay(a, 0.5, 4.0, "trace-1") for a in range(1, 8)]
    for attempt, delay in enumerate(delays, start=1):
        raw = min(4.0, 0.5 * 2 ** (attempt - 1))
        assert raw / 2 <= delay <= raw
    assert backoff_delay(3, 0.5, 4.0, "trace-2") != delays[2]


def test_fast_batch_matches_sdk_encoding():
    from azure.eventhub import EventData, EventDataBatch

    assert fast_path_available()
    events = [
        OutEvent("store-7", b'{"a":1}', "t-1", "receipt_created"),
        OutEvent("store-7", b'{"b":"' + b"y" * 300 + b'"}', "t-2", "inventory_updated", "id-2"),
    ]

    def sdk_event(e: OutEvent) -> EventData:
        data = EventData(e.body)
        data.message_id, data.content_type = e.message_id, "application/json"
        data.properties = {"event_type": e.event_type, "schema_version": 1}
        return data

    fast = BatchBuilder("store-7", 4096, fast=True)
    slow = EventDataBatch(max_size_in_bytes=4096, partition_key="store-7")
    added = 0
    while fast.try_add(events[added % 2]):
        slow.add(sdk_event(events[added % 2]))
        added += 1
    with pytest.raises(ValueError):
        slow.add(sdk_event(events[added % 2]))  # both stop at the same event
    assert len(fast) == len(slow) == added > 3
    assert fast.batch.size_in_bytes == slow.size_in_bytes
    assert fast.batch._message.data[0] == encode_event(events[0])
    assert bytes(slow._message.data[1]) == encode_event(events[1])
    assert events[0].message_id == "t-1:receipt_created" and events[1].message_id == "id-2"


def test_metrics_view_renders_everything():
    t = [0.0]
    view = MetricsView(clock=lambda: t[0])
    sink = JsonlSink(Path("unused"))
    m = sink.metrics
    view.render(m, 0.0)
    m.events_sent, m.bytes_sent, m.batches, m.retries, m.failures = 12_000, 4_000_000, 30, 2, 3
    m.dead_lettered, m.breaker_state, m.last_error = 7, "open", "ConnectError: boom"
    t[0] = 2.0
    console = Console(record=True, width=100)
    console.print(view.render(m, 3.5))
    text = console.export_text()
    for expected in ("6,000", "12,000", "30", "open", "3.5 s", "boom", "dead-lettered"):
        assert expected in text
