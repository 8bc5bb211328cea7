"""Real-time mode: pacing, the stream and the files describe one world, clean stops, and
the official Event Hubs SDK talking to a local AMQP endpoint."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pyarrow.compute as pc
import pytest

from sim.config.calendar import business_date, day_start
from sim.config.clock import ENV_NOW, fixed_wall_clock
from sim.report.metrics import read_facts
from tests.eventhub_endpoint import EventHubEndpoint
from tests.helpers import ROOT, run_cli

SCENARIO = """\
seed: 11
volume: {{stores: 3, dcs: 1, total_geographies: 12, total_customers: 1500,
         total_products: 600, customers_per_day: 250}}
calendar: {{start: {start}, end: {end}}}
paths: {{dictionaries: {dicts}, output: {out}}}
realtime: {{sink: jsonl, batch_timeout_ms: 20}}
"""


def scenario(tmp_path: Path, start: str = "-2d", end: str = "now", name: str = "rt") -> Path:
    out = tmp_path / name
    path = tmp_path / f"{name}.yaml"
    path.write_text(SCENARIO.format(start=start, end=end, dicts=ROOT / "dictionaries", out=out))
    return path


def events(out: Path) -> list[dict]:
    path = out / "realtime" / "events.jsonl"
    return [orjson.loads(line) for line in path.read_bytes().splitlines()] if path.exists() else []


def rt_state(out: Path) -> dict:
    return json.loads((out / "realtime" / "state.json").read_text())


NOW = "2024-03-06T16:00:00Z"  # the injected wall clock: no test here reads the machine's


@pytest.fixture(scope="module", autouse=True)
def _injected_clock() -> Iterator[None]:
    """Every run in this module (and every process it starts) begins at NOW."""
    with fixed_wall_clock(NOW):
        yield


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A scenario whose history (the last two whole business days) is generated."""
    tmp = tmp_path_factory.mktemp("rt")
    path = scenario(tmp)
    os.chdir(ROOT)
    assert run_cli("run", path, "--quiet", "--workers", "1") == 0
    return path


def copy_history(history: Path, tmp_path: Path) -> tuple[Path, Path]:
    """A private copy of the generated output and a scenario pointing at it."""
    import shutil

    out = tmp_path / "rt"
    shutil.copytree(history.parent / "rt", out)
    path = scenario(tmp_path)
    return path, out


def test_realtime_needs_history(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = scenario(tmp_path)
    assert run_cli("run", path, "--realtime", "--duration", "10", "--quiet") == 2
    err = capsys.readouterr().err
    assert "generate it first" in err and "python -m sim run" in err
    assert not (tmp_path / "rt").exists()


def test_bad_speed_and_duration(history: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli("run", history, "--realtime", "--speed", "0", "--quiet") == 2
    assert "--speed" in capsys.readouterr().err
    assert run_cli("run", history, "--realtime", "--duration", "-5", "--quiet") == 2
    assert "--duration" in capsys.readouterr().err


def test_pacing_sixty_times_two_minutes(history: Path, tmp_path: Path) -> None:
    path, out = copy_history(history, tmp_path)
    assert run_cli("run", path, "--realtime", "--speed", "60", "--duration", "120", "--quiet") == 0
    st = rt_state(out)
    assert 1.8 <= st["paced_seconds"] <= 4.5, st
    assert st["released_ms"] == pytest.approx(st["anchor_sim"] * 1000 + 120_000, abs=1)


def test_no_event_before_its_time_and_order_per_key(history: Path, tmp_path: Path) -> None:
    path, out = copy_history(history, tmp_path)
    assert (
        run_cli("run", path, "--realtime", "--speed", "3600", "--duration", "7200", "--quiet") == 0
    )
    st, evs = rt_state(out), events(out)
    assert evs, "two simulated hours always carry ad impressions"
    assert st["events_released"] == len(evs)
    last: dict[str, str] = {}
    for e in evs:
        ts = datetime.fromisoformat(e["payload"]["EventTS"].replace("Z", "+00:00")).timestamp()
        ingest = datetime.fromisoformat(e["ingest_timestamp"].replace("Z", "+00:00")).timestamp()
        sim_at_release = st["anchor_sim"] + (ingest - st["anchor_wall"]) * st["speed"]
        assert ts <= sim_at_release + 0.01 * st["speed"], e
        assert ts > st["anchor_sim"]  # nothing from before the stream started
        key = e["source"].split("/", 1)[1]
        assert e["payload"]["EventTS"] >= last.get(key, ""), "order per partition key"
        last[key] = e["payload"]["EventTS"]
        assert set(e) == {
            "event_id",
            "event_type",
            "payload",
            "trace_id",
            "ingest_timestamp",
            "schema_version",
            "source",
        }


def test_stream_and_files_describe_one_world(history: Path, tmp_path: Path) -> None:
    """Run across a business-day boundary: the events of the day that closed are the rows
    of its files, and those files equal what fast-forward writes for that day."""
    path, out = copy_history(history, tmp_path)
    now = datetime.fromisoformat(NOW.replace("Z", "+00:00"))
    today = business_date(now)
    boundary = day_start(today + timedelta(days=1)).timestamp()
    duration = boundary - now.timestamp() + 600
    assert (
        run_cli(
            "run",
            path,
            "--realtime",
            "--speed",
            str(duration / 6),
            "--duration",
            str(duration),
            "--quiet",
        )
        == 0
    )
    assert today.isoformat() in rt_state(out)["days_completed"]
    evs = [
        e
        for e in events(out)
        if e["event_type"] == "receipt_created"
        and business_date(datetime.fromisoformat(e["payload"]["EventTS"][:-1] + "+00:00")) == today
    ]
    receipts = read_facts(out, "receipts")
    rows = {
        r["TraceId"]: r
        for r in receipts.filter(pc.is_in(receipts["TraceId"], receipts["TraceId"])).to_pylist()
    }
    for e in evs:
        row = rows[e["trace_id"]]
        assert e["payload"]["ReceiptId"] == row["ReceiptId"]
        assert e["payload"]["Total"] == float(row["Total"])
        assert e["payload"]["StoreID"] == row["StoreID"]
    # fast-forward of the same day, in a separate folder, writes the same bytes
    ff_path = scenario(tmp_path, start="-2d", end=today.isoformat(), name="ff")
    import shutil

    shutil.copytree(history.parent / "rt", tmp_path / "ff")
    assert run_cli("run", ff_path, "--quiet", "--workers", "1") == 0
    ours = sorted(p.relative_to(out) for p in out.glob(f"facts/*/dt={today.isoformat()}/*"))
    theirs = sorted(
        p.relative_to(tmp_path / "ff")
        for p in (tmp_path / "ff").glob(f"facts/*/dt={today.isoformat()}/*")
    )
    assert ours == theirs and len(ours) >= 4
    for part in ours:
        assert (out / part).read_bytes() == (tmp_path / "ff" / part).read_bytes(), part
    assert run_cli("validate", out) == 0


def test_ctrl_c_stops_cleanly_and_the_next_run_continues(history: Path, tmp_path: Path) -> None:
    path, out = copy_history(history, tmp_path)
    cmd = [
        sys.executable,
        "-m",
        "sim",
        "run",
        str(path),
        "--realtime",
        "--speed",
        "3600",
        "--quiet",
    ]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 120
    while not events(out) and time.time() < deadline:
        time.sleep(0.2)
    time.sleep(1)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=60) == 0, proc.stderr.read() if proc.stderr else ""
    first, stopped = events(out), rt_state(out)
    assert first and stopped["events_released"] == len(first)
    assert (
        run_cli("run", path, "--realtime", "--speed", "3600", "--duration", "1800", "--quiet") == 0
    )
    second = events(out)[len(first) :]
    assert second
    assert not {e["trace_id"] for e in first} & {e["trace_id"] for e in second}
    start = datetime.fromtimestamp(stopped["released_ms"] / 1000, UTC)
    assert min(e["payload"]["EventTS"] for e in second) > start.isoformat()[:19]


def test_eventhub_sink_delivers_every_event(
    history: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path, out = copy_history(history, tmp_path)
    with EventHubEndpoint(partitions=4) as ep:
        monkeypatch.setenv("AZURE_EVENTHUB_CONNECTION_STRING", ep.connection_string())
        assert (
            run_cli(
                "run",
                path,
                "--realtime",
                "--sink",
                "eventhub",
                "--speed",
                "3600",
                "--duration",
                "3600",
                "--quiet",
            )
            == 0
        )
        released = rt_state(out)["events_released"]
        assert released > 0
        assert ep.wait_for(released, timeout=20)
        got = [orjson.loads(r.body) for r in ep.received()]
        keys = {r.partition_key for r in ep.received()}
    assert len({e["event_id"] for e in got}) == released
    assert all(k.startswith(("store-", "dc-")) for k in keys)
    assert not (out / "dead_letter").exists() or not any((out / "dead_letter").iterdir())


def test_check_connection_command(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with EventHubEndpoint(partitions=2) as ep:
        secret = "Real-Looking-Secret-Key-42="
        monkeypatch.setenv("AZURE_EVENTHUB_CONNECTION_STRING", ep.connection_string(key=secret))
        assert run_cli("check-connection") == 0
        monkeypatch.setenv(
            "AZURE_EVENTHUB_CONNECTION_STRING",
            f"Endpoint=sb://127.0.0.1:{ep.port}/;SharedAccessKey={secret}",
        )
        assert run_cli("check-connection") == 2
    captured = capsys.readouterr()
    assert secret not in captured.out + captured.err
    assert "SharedAccessKeyName" in captured.out + captured.err


def _ident(e: dict) -> tuple[str, str]:
    return e["trace_id"], e["event_type"]


def _iso(ms: float) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds")[:23] + "Z"


@pytest.mark.parametrize(
    "now",
    [
        "2024-03-06T11:00:00Z",
        "2024-03-06T21:30:00Z",
        "2024-03-07T09:58:00Z",  # just before the business-day boundary: it crosses it
        "2024-03-07T10:02:00Z",  # just after: yesterday is caught up to files first
    ],
)
def test_stop_and_resume_at_any_hour(history: Path, tmp_path: Path, now: str) -> None:
    """A run stopped by SIGINT, then continued while the wall clock is behind its saved
    position (it ran at 3600x), sends every event of the span exactly once."""
    path, out = copy_history(history, tmp_path)
    cmd = [sys.executable, "-m", "sim", "run", str(path), "--realtime", "--speed", "3600"]
    proc = subprocess.Popen(
        [*cmd, "--quiet"],
        cwd=ROOT,
        env={**os.environ, ENV_NOW: now},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while not events(out) and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(1)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=60) == 0, proc.stderr.read() if proc.stderr else ""
    first, stopped = events(out), rt_state(out)
    assert first and stopped["events_released"] == len(first)
    with fixed_wall_clock(now):
        assert (
            run_cli("run", path, "--realtime", "--speed", "3600", "--duration", "1800", "--quiet")
            == 0
        )
    second = events(out)[len(first) :]
    resumed = rt_state(out)
    assert second, "the second run continues the stream"
    assert not {_ident(e) for e in first} & {_ident(e) for e in second}, "nothing is re-sent"
    saved = _iso(stopped["released_ms"])
    assert max(e["payload"]["EventTS"] for e in first) <= saved
    assert min(e["payload"]["EventTS"] for e in second) > saved
    assert resumed["anchor_sim"] * 1000 == pytest.approx(stopped["released_ms"], abs=1)
    # no gap: one uninterrupted run over the same span sends exactly these events
    ref_path, ref_out = copy_history(history, tmp_path / "ref")
    span = resumed["released_ms"] / 1000 - stopped["anchor_sim"] + 60
    with fixed_wall_clock(now):
        assert (
            run_cli(
                "run", ref_path, "--realtime", "--speed", "7200", "--duration", str(span), "--quiet"
            )
            == 0
        )
    lo, hi = _iso(stopped["anchor_sim"] * 1000 + 10_000), _iso(resumed["released_ms"])

    def window(evs: list[dict]) -> set[tuple[str, str]]:
        return {_ident(e) for e in evs if lo < e["payload"]["EventTS"] <= hi}

    assert window(first + second) == window(events(ref_out))
    assert len(window(first + second)) > 100
