"""A hub that never acknowledges: a stop ends within the bound and loses no event.

The real azure-eventhub SDK talks to the local endpoint (tests/eventhub_endpoint.py),
which keeps every delivery unsettled (``Fault.NEVER_SETTLE``). Every event released is
then delivered or dead-lettered; none is neither.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from sim.config.clock import fixed_wall_clock
from sim.sinks.deadletter import DeadLetterStore
from sim.sinks.eventhub import EventHubSink
from sim.sinks.eventhub_util import CLOSE_GRACE_S
from tests.e2e.test_sinks_eventhub import (
    SECRET,
    dead_traces,
    fast_settings,
    make_events,
    received_traces,
)
from tests.eventhub_endpoint import EventHubEndpoint, Fault
from tests.helpers import ROOT, run_cli

SEND_TIMEOUT = 1.0
BOUND = SEND_TIMEOUT + CLOSE_GRACE_S  # what close() may take before giving up on the hub
SLACK = 2 * CLOSE_GRACE_S + 3.0  # closing the connections (one grace each) and a loaded CI


@pytest.fixture
def silent_hub() -> Iterator[EventHubEndpoint]:
    with EventHubEndpoint(partitions=4) as ep:
        ep.set_fault(Fault.NEVER_SETTLE)
        yield ep


def _sink(ep: EventHubEndpoint, out: Path, **settings: object) -> EventHubSink:
    s = fast_settings(send_timeout_s=SEND_TIMEOUT, retry_attempts=5, **settings)
    return EventHubSink(s, ep.connection_string(SECRET), DeadLetterStore(out))


def test_close_is_bounded_and_dead_letters_what_is_in_flight(
    silent_hub: EventHubEndpoint, tmp_path: Path
) -> None:
    sink = _sink(silent_hub, tmp_path, retry_backoff_s=2.0, retry_backoff_max_s=10.0)
    events = make_events(600)

    async def scenario() -> float:
        await sink.start()
        await sink.send(events)
        await asyncio.sleep(0.3)  # batches are in flight, unacknowledged
        started = time.monotonic()
        await sink.close()
        return time.monotonic() - started

    took = asyncio.run(scenario())
    assert took <= BOUND + SLACK, f"close took {took:.1f}s"
    dead = dead_traces(tmp_path)
    assert received_traces(silent_hub) | set(dead) == {e.trace_id for e in events}
    assert sink.metrics.delivered == 0 and sink.metrics.dead_lettered == len(set(dead))


def test_a_second_stop_ends_close_at_once(silent_hub: EventHubEndpoint, tmp_path: Path) -> None:
    sink = EventHubSink(
        fast_settings(send_timeout_s=30.0, retry_attempts=5),
        silent_hub.connection_string(SECRET),
        DeadLetterStore(tmp_path),
    )
    events = make_events(300)

    async def scenario() -> float:
        await sink.start()
        await sink.send(events)
        await asyncio.sleep(0.3)
        loop = asyncio.get_running_loop()
        loop.call_later(0.5, sink.stop, True)  # the second signal
        started = time.monotonic()
        await sink.close()
        return time.monotonic() - started

    took = asyncio.run(scenario())
    assert took < 0.5 + 2 * 0.5 + 3.0, f"close took {took:.1f}s after a second stop"
    assert set(dead_traces(tmp_path)) == {e.trace_id for e in events}


def test_stop_unblocks_a_send_waiting_for_room(
    silent_hub: EventHubEndpoint, tmp_path: Path
) -> None:
    sink = _sink(silent_hub, tmp_path, max_buffer=100, batch_size=50)
    events = make_events(1_000)

    async def scenario() -> None:
        await sink.start()
        producer = asyncio.create_task(sink.send(events))
        await asyncio.sleep(0.3)
        assert not producer.done()  # backpressure: the buffer is full
        sink.stop()
        await asyncio.wait_for(producer, 2)
        await sink.close()

    asyncio.run(scenario())
    dead = dead_traces(tmp_path)
    assert received_traces(silent_hub) | set(dead) == {e.trace_id for e in events}


# --- the whole run ---------------------------------------------------------------------------

SCENARIO = """\
seed: 11
volume: {{stores: 3, dcs: 1, total_geographies: 12, total_customers: 1500,
         total_products: 600, customers_per_day: 250}}
calendar: {{start: -2d, end: now}}
paths: {{dictionaries: {dicts}, output: {out}}}
realtime: {{sink: eventhub, send_timeout_s: {timeout}, retry_attempts: 5,
           retry_backoff_s: 1.0, batch_timeout_ms: 20, producers: 2}}
"""
NOW = "2024-03-06T16:00:00Z"


@pytest.fixture
def history(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "rt.yaml"
    out = tmp_path / "out"
    path.write_text(SCENARIO.format(dicts=ROOT / "dictionaries", out=out, timeout=SEND_TIMEOUT))
    with fixed_wall_clock(NOW):
        assert run_cli("run", path, "--quiet", "--workers", "1") == 0
        yield path


def test_a_run_that_delivered_nothing_exits_1_with_a_loud_summary(
    history: Path, silent_hub: EventHubEndpoint, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    out = history.parent / "out"
    monkeypatch.setenv("AZURE_EVENTHUB_CONNECTION_STRING", silent_hub.connection_string(SECRET))
    code = run_cli("run", history, "--realtime", "--speed", "3600", "--duration", "900", "-q")
    err = capsys.readouterr().err
    assert code == 1, err
    state = json.loads((out / "realtime" / "state.json").read_text())
    released = state["events_released"]
    assert released > 0 and "nothing delivered" in err and f"{released:,} events released" in err
    assert len(dead_traces(out)) == released  # every released event dead-lettered


def test_sigterm_with_a_silent_hub_stops_within_the_bound(
    history: Path, silent_hub: EventHubEndpoint
) -> None:
    out = history.parent / "out"
    env = {
        **os.environ,
        "AZURE_EVENTHUB_CONNECTION_STRING": silent_hub.connection_string(SECRET),
        "RETAIL_SIM_NOW": NOW,
    }
    cmd = [sys.executable, "-m", "sim", "run", str(history), "--realtime", "--speed", "600", "-q"]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 90
    while silent_hub.deliveries == 0 and time.time() < deadline:
        time.sleep(0.1)
    time.sleep(1.0)  # batches in flight, unacknowledged
    started = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    code = proc.wait(60)
    took = time.monotonic() - started
    err = proc.stderr.read() if proc.stderr else ""
    assert took <= BOUND + SLACK, f"stopping took {took:.1f}s"
    assert code == 1 and "nothing delivered" in err, err
    state = json.loads((out / "realtime" / "state.json").read_text())
    assert len(dead_traces(out)) == state["events_released"] > 0


def test_a_second_sigterm_stops_at_once(history: Path, silent_hub: EventHubEndpoint) -> None:
    out = history.parent / "out"
    slow = history.read_text().replace(f"send_timeout_s: {SEND_TIMEOUT}", "send_timeout_s: 60")
    history.write_text(slow)
    env = {
        **os.environ,
        "AZURE_EVENTHUB_CONNECTION_STRING": silent_hub.connection_string(SECRET),
        "RETAIL_SIM_NOW": NOW,
    }
    cmd = [sys.executable, "-m", "sim", "run", str(history), "--realtime", "--speed", "600", "-q"]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 90
    while silent_hub.deliveries == 0 and time.time() < deadline:
        time.sleep(0.1)
    time.sleep(1.0)
    proc.send_signal(signal.SIGTERM)
    time.sleep(1.0)
    started = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    code = proc.wait(60)
    took = time.monotonic() - started
    # the 60 s send timeout would hold the stop for 63 s; a second signal cuts it short
    # (what remains is the loop finishing the simulation step it was in, on a loaded CI)
    assert took < 30.0, f"a second signal took {took:.1f}s"
    assert code == 1
    state = json.loads((out / "realtime" / "state.json").read_text())
    assert len(dead_traces(out)) == state["events_released"] > 0
