"""Real time on the default chain (42 stores, 5 DCs), the scale users stream at: every
event goes out in time order (no row is recorded later than the look-ahead), each once,
and the simulation stays within the look-ahead of what it released."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson
import psutil
import pytest
import yaml

from sim.config.clock import ENV_NOW, fixed_wall_clock
from sim.run.feeder import SLICE
from sim.run.realtime import LOOKAHEAD
from tests.helpers import ROOT, run_cli

HISTORY_NOW = "2024-03-06T10:30:00Z"  # history: 2024-03-05; today is 2024-03-06


def scenario(tmp: Path, out: Path) -> Path:
    data = yaml.safe_load((ROOT / "scenarios" / "default.yaml").read_text())
    data["calendar"] = {"start": "-1d", "end": "now"}
    data["paths"] = {"dictionaries": str(ROOT / "dictionaries"), "output": str(out)}
    data["realtime"] = {"sink": "jsonl"}
    path = tmp / f"{out.name}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("rtdefault")
    with fixed_wall_clock(HISTORY_NOW):
        assert run_cli("run", scenario(tmp, tmp / "base"), "--quiet", "--workers", "2") == 0
    return tmp / "base"


def test_default_chain_streams_every_event_in_time_order(history: Path, tmp_path: Path) -> None:
    out = tmp_path / "live"
    shutil.copytree(history, out)
    path = scenario(tmp_path, out)
    with fixed_wall_clock("2024-03-06T16:00:00Z"):
        args = ["run", path, "--realtime", "--speed", "max", "--duration", "3600", "--quiet"]
        assert run_cli(*args) == 0
    lines = (out / "realtime" / "events.jsonl").read_bytes().splitlines()
    events = [orjson.loads(line) for line in lines]
    assert len(events) > 50_000, "an afternoon hour of 42 stores"
    ts = [e["payload"]["EventTS"] for e in events]
    assert ts == sorted(ts), "released in time order: nothing came after the look-ahead"
    assert ts[0] > "2024-03-06T16:00:00" and ts[-1] <= "2024-03-06T17:00:00.000Z"
    ids = [e["event_id"] for e in events]
    assert len(set(ids)) == len(ids)
    state = json.loads((out / "realtime" / "state.json").read_text())
    assert state["late_events"] == 0
    assert state["events_released"] == len(events)
    assert {"ble_ping_detected", "foot_traffic_counted", "receipt_created"} <= {
        e["event_type"] for e in events
    }, "the sensor rows recorded after the fact are in the stream"
    assert LOOKAHEAD + SLICE <= 3600, "a start simulates at most an hour past its point"
    assert ts[-1] > "2024-03-06T16:55:00", "the whole hour went out"


def _stream(history: Path, tmp: Path, name: str, now: str, seconds: int, workers: int) -> Path:
    out = tmp / name
    shutil.copytree(history, out)
    path = scenario(tmp, out)
    data = yaml.safe_load(path.read_text())
    data["realtime"]["workers"] = workers
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    with fixed_wall_clock(now):
        args = ["run", path, "--realtime", "--speed", "max", "--duration", str(seconds)]
        assert run_cli(*args, "--quiet") == 0
    return out


def _by_key(out: Path, lo: str, hi: str) -> dict[str, list[tuple[str, str, str]]]:
    """Each store's (or DC's) events from ``lo`` to ``hi``: id, type, payload."""
    keys: dict[str, list[tuple[str, str, str]]] = {}
    for line in (out / "realtime" / "events.jsonl").read_bytes().splitlines():
        e = orjson.loads(line)
        if not lo <= e["payload"]["EventTS"] < hi:
            continue
        key = str(e["payload"].get("StoreID") or e["payload"].get("DCID") or e["event_type"])
        body = orjson.dumps(e["payload"], option=orjson.OPT_SORT_KEYS).decode()
        keys.setdefault(key, []).append((e["event_id"], e["event_type"], body))
    return keys


def test_worker_processes_stream_what_the_thread_streams(history: Path, tmp_path: Path) -> None:
    """Today's shards in two worker processes (the default on 2 cores) or in the
    session's thread: the same events, the same ids, each store's in the same order."""
    now, lo, hi = "2024-03-06T17:00:00Z", "2024-03-06T17:00:10", "2024-03-06T17:19:50"
    # (the wall clock runs on from ``now``: each run starts a moment later than the other)
    procs = _by_key(_stream(history, tmp_path, "procs", now, 1200, workers=2), lo, hi)
    thread = _by_key(_stream(history, tmp_path, "thread", now, 1200, workers=1), lo, hi)
    assert sum(map(len, procs.values())) > 10_000
    assert procs.keys() == thread.keys()
    for key in procs:
        assert procs[key] == thread[key], key


def test_a_day_closed_by_worker_processes_has_fast_forward_bytes(
    history: Path, tmp_path: Path
) -> None:
    """Streaming across 10:00 UTC: the workers write the day's files and checkpoints,
    and the files are byte for byte the ones fast-forward writes for that day."""
    live = _stream(history, tmp_path, "live", "2024-03-07T09:50:00Z", 1200, workers=2)
    ff = tmp_path / "ff"
    shutil.copytree(history, ff)
    with fixed_wall_clock("2024-03-07T10:30:00Z"):
        assert run_cli("run", scenario(tmp_path, ff), "--quiet", "--workers", "2") == 0
    day = sorted(ff.glob("facts/*/dt=2024-03-06/*"))
    assert len(day) >= 9 * 5, "every fact table, every shard"
    for f in day:
        assert (live / f.relative_to(ff)).read_bytes() == f.read_bytes(), f
    state = json.loads((live / "generation_state.json").read_text())
    assert state["last_day"] == "2024-03-06"


def _session(history: Path, tmp: Path, name: str) -> tuple[subprocess.Popen, Path]:
    """A real-time session on the default chain (600x, workers: auto) in its own
    process, once its first events are out."""
    out = tmp / name
    shutil.copytree(history, out)
    path = scenario(tmp, out)
    env = {**os.environ, ENV_NOW: "2024-03-06T15:00:00Z", "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "sim", "run", str(path), "--realtime", "--speed", "600"]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True)
    events = out / "realtime" / "events.jsonl"
    deadline = time.monotonic() + 120
    while not (events.exists() and events.stat().st_size) and time.monotonic() < deadline:
        time.sleep(0.1)
    return proc, out


def _gone(p: psutil.Process) -> bool:
    return not p.is_running() or p.status() == psutil.STATUS_ZOMBIE


def test_a_worker_killed_ends_the_session_with_a_clear_error(history: Path, tmp_path: Path) -> None:
    proc, _ = _session(history, tmp_path, "k")
    workers = psutil.Process(proc.pid).children()
    assert len(workers) == 2, "two worker processes on the default chain"
    workers[0].kill()
    _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 1, stderr
    assert "run failed: the worker process simulating shards" in stderr, stderr
    assert "killed by signal 9" in stderr and "Traceback" not in stderr, stderr
    assert _gone(workers[1])


def test_sigint_stops_the_session_and_its_workers_within_a_second(
    history: Path, tmp_path: Path
) -> None:
    proc, out = _session(history, tmp_path, "i")
    workers = psutil.Process(proc.pid).children()
    assert len(workers) == 2
    sent = time.monotonic()
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=30)
    took = time.monotonic() - sent
    assert proc.returncode == 0, stderr
    assert took < 1.5, f"{took:.2f} s from SIGINT to exit"  # <1 s unloaded
    assert all(_gone(w) for w in workers)
    assert json.loads((out / "realtime" / "state.json").read_text())["clean_stop"]
