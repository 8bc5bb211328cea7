"""Steering a running stream from a second process (``python -m sim control``), and a live
DC outage recorded so that fast-forward regenerates the same day's files.

The stream runs in a child process (``python -m sim run ... --realtime``); this test
process is the second one, talking to it through ``OUTPUT/realtime/control.json``. The
world is the small one of tests/e2e/test_realtime.py (3 stores, 1 DC), so a whole
business day streams in about 20 seconds and the equality test stays fast.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml

from sim.config.calendar import business_date, day_start
from sim.config.clock import ENV_NOW, fixed_wall_clock
from sim.contract.schema import TABLES
from sim.report.metrics import read_facts
from sim.run import channel
from sim.run.channel import CHANNEL, request
from sim.run.overlay import OVERLAY
from tests.helpers import ROOT, run_cli

NOW = "2024-03-06T16:00:00Z"
SCENARIO = """\
seed: 11
volume: {{stores: 3, dcs: {dcs}, total_geographies: 12, total_customers: 1500,
         total_products: 600, customers_per_day: 250}}
calendar: {{start: -2d, end: {end}}}
paths: {{dictionaries: {dicts}, output: {out}}}
realtime: {{sink: jsonl, batch_timeout_ms: 20}}
"""


@pytest.fixture(scope="module", autouse=True)
def _injected_clock() -> Iterator[None]:
    with fixed_wall_clock(NOW):
        yield


def scenario(folder: Path, name: str, end: str = "now", dcs: int = 1) -> Path:
    path = folder / f"{name}.yaml"
    text = SCENARIO.format(end=end, dicts=ROOT / "dictionaries", out=folder / name, dcs=dcs)
    path.write_text(text)
    return path


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("steer")
    os.chdir(ROOT)
    assert run_cli("run", scenario(tmp, "h"), "--quiet", "--workers", "1") == 0
    return tmp / "h"


@pytest.fixture(scope="module")
def two_dcs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two DCs: on 2 cores or more the stream's shards run in two worker processes."""
    tmp = tmp_path_factory.mktemp("steer2")
    os.chdir(ROOT)
    assert run_cli("run", scenario(tmp, "h", dcs=2), "--quiet", "--workers", "1") == 0
    return tmp / "h"


def dcs_of(history: Path) -> int:
    return int(yaml.safe_load((history.parent / "h.yaml").read_text())["volume"]["dcs"])


def copy(history: Path, folder: Path, name: str = "rt", end: str = "now") -> tuple[Path, Path]:
    shutil.copytree(history, folder / name)
    return scenario(folder, name, end, dcs_of(history)), folder / name


def start_stream(path: Path, *args: str) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "sim", "run", str(path), "--realtime", "--quiet", *args]
    return subprocess.Popen(
        cmd,
        cwd=ROOT,
        env={**os.environ, ENV_NOW: NOW},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def streaming(out: Path, proc: subprocess.Popen[bytes], timeout: float = 90) -> dict[str, Any]:
    """Wait for the session's control channel and its first releases."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        if (out / CHANNEL).exists():
            st = request(out, "status", {})
            if st["phase"] == "streaming" and st["released"] > 0:
                return st
        time.sleep(0.2)
    raise AssertionError("the stream did not start")


def control(capsys: pytest.CaptureFixture[str], out: Path, *args: str) -> tuple[int, Any, str]:
    """``python -m sim control OUT ...`` in this (second) process: exit code, JSON, stderr."""
    capsys.readouterr()
    code = run_cli("control", out, *args)
    got = capsys.readouterr()
    return code, (json.loads(got.out) if code == 0 else None), got.err


def events(out: Path) -> list[dict[str, Any]]:
    return [orjson.loads(x) for x in (out / "realtime" / "events.jsonl").read_bytes().splitlines()]


def test_control_from_a_second_process(
    history: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, out = copy(history, tmp_path)
    proc = start_stream(path, "--speed", "600")
    try:
        streaming(out, proc)
        info = json.loads((out / CHANNEL).read_text())
        assert stat.S_IMODE((out / CHANNEL).stat().st_mode) == 0o600
        # a real separate process too: the CLI's own exit code and JSON
        sub = subprocess.run(
            [sys.executable, "-m", "sim", "control", str(out), "pause"],
            cwd=ROOT,
            capture_output=True,
            timeout=60,
        )
        assert sub.returncode == 0, sub.stderr
        assert json.loads(sub.stdout)["paused"] is True
        time.sleep(0.3)
        held = request(out, "status", {})["simulated"]
        time.sleep(1.0)
        assert request(out, "status", {})["simulated"] == held, "paused: the clock stands"
        code, st, _ = control(capsys, out, "resume")
        assert code == 0 and st["paused"] is False
        time.sleep(1.0)
        assert request(out, "status", {})["simulated"] > held, "resumed: it moves on"
        code, st, _ = control(capsys, out, "speed", "1200")
        assert code == 0 and st["speed"] == 1200
        # the event-type filter and the rate cap, live
        code, st, _ = control(capsys, out, "types", "receipt_created")
        assert code == 0 and st["event_types"] == ["receipt_created"]
        time.sleep(1.5)
        assert request(out, "status", {})["filtered_out"] > 0
        code, st, _ = control(capsys, out, "types", "all")
        assert code == 0 and st["event_types"] is None
        code, _, error = control(capsys, out, "types", "no_such_event")
        assert code == 2 and "unknown 'no_such_event'" in error
        code, st, _ = control(capsys, out, "rate", "20")
        assert code == 0 and st["rate_cap"] == 20
        time.sleep(1.5)
        assert request(out, "status", {})["capped"] is True, "1200x makes more than 20/s"
        code, st, _ = control(capsys, out, "rate", "none")
        assert code == 0 and st["rate_cap"] is None
        # a bad target: the scenario file's message, exit 2, nothing recorded
        code, _, error = control(
            capsys, out, "inject", "dc_outage", "--target", "9", "--duration", "2h"
        )
        assert code == 2 and "disruptions.0.dc: 9 is not one of the DC ids" in error
        code, _, error = control(
            capsys, out, "inject", "truck_delay", "--duration", "2h", "--param", "factor=-1"
        )
        assert code == 2 and "disruptions.0.factor" in error and "greater than 0" in error
        assert not (out / OVERLAY).exists()
        code, d, _ = control(
            capsys, out, "inject", "dc_outage", "--target", "1", "--duration", "6h"
        )
        assert code == 0 and d["id"] == "d1" and d["dc"] == 1
        assert d["effective_in_s"] > 0, "it starts at the first instant not yet simulated"
        start = datetime.fromisoformat(d["start"].replace("Z", "+00:00"))
        end = datetime.fromisoformat(d["end"].replace("Z", "+00:00"))
        assert end - start == timedelta(hours=6)
        code, active, _ = control(capsys, out, "disruptions")
        assert [x["id"] for x in active] == ["d1"] and active[0]["state"] == "scheduled"
        code, gone, _ = control(capsys, out, "cancel", "d1")
        assert code == 0 and gone["status"] in ("cancelled", "cancelled_before_start")
        # a day-shaping kind waits for the first business day not yet set up
        code, promo, _ = control(
            capsys,
            out,
            "inject",
            "promotion",
            "--target",
            "Dairy",
            "--duration",
            "1d",
            "--param",
            "discount=0.2",
        )
        assert code == 0 and promo["id"] == "d2" and promo["discount"] == 0.2
        assert promo["start"] == "2024-03-07T10:00:00Z", promo
        code, dropped, _ = control(capsys, out, "cancel", "d2")
        assert code == 0 and dropped["status"] == "cancelled_before_start"
        code, _, error = control(capsys, out, "cancel", "d7")
        assert code == 2 and "no live disruption 'd7'" in error
        code, st, _ = control(capsys, out, "stop")
        assert code == 0
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    stdout, stderr = proc.communicate()
    assert not (out / CHANNEL).exists(), "the channel file goes with the session"
    recorded = json.loads((out / OVERLAY).read_text())
    assert [r["id"] for r in recorded] == ["d1", "d2"]
    assert [r["status"] for r in recorded] == [gone["status"], "cancelled_before_start"]
    captured = capsys.readouterr()
    for text in (stdout.decode(), stderr.decode(), sub.stdout.decode(), captured.out, captured.err):
        assert info["token"] not in text, "the token is never printed"


@pytest.mark.parametrize("folder", ["history", "two_dcs"])
def test_a_live_dc_outage_is_recorded_and_fast_forward_writes_the_same_files(
    folder: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """The stream crosses the business-day boundary with a DC outage injected live; the
    same day regenerated in fast-forward from the same checkpoint, with the recorded
    overlay, gives the same files, and the stream's rows are those files' rows (with
    the shards in a thread, and in worker processes)."""
    history: Path = request.getfixturevalue(folder)
    now = datetime.fromisoformat(NOW.replace("Z", "+00:00"))
    today = business_date(now)
    boundary = day_start(today + timedelta(days=1)).timestamp()
    duration = boundary - now.timestamp() + 3600  # into the next day's dispatch (10:00-10:40)
    path, out = copy(history, tmp_path)
    proc = start_stream(path, "--speed", "2400", "--duration", str(duration))
    try:
        streaming(out, proc)
        outage = channel.request(
            out, "inject", {"disruption": {"kind": "dc_outage", "dc": 1, "duration_hours": 20}}
        )
        assert proc.wait(timeout=240) == 0, proc.stderr.read() if proc.stderr else ""
    finally:
        if proc.poll() is None:
            proc.kill()
    state = json.loads((out / "realtime" / "state.json").read_text())
    assert today.isoformat() in state["days_completed"]
    a = datetime.fromisoformat(outage["start"].replace("Z", "+00:00"))
    b = datetime.fromisoformat(outage["end"].replace("Z", "+00:00"))
    assert b - a == timedelta(hours=20) and a.timestamp() < boundary < b.timestamp()
    # fast-forward of the same day from the same checkpoint, with the recorded overlay
    ff_path, ff = copy(history, tmp_path, "ff", end=today.isoformat())
    (ff / OVERLAY).parent.mkdir(exist_ok=True)
    shutil.copy(out / OVERLAY, ff / OVERLAY)
    assert run_cli("run", ff_path, "--quiet", "--workers", "1") == 0
    # and without it: the outage changed the day
    plain_path, plain = copy(history, tmp_path, "plain", end=today.isoformat())
    assert run_cli("run", plain_path, "--quiet", "--workers", "1") == 0
    day = f"dt={today.isoformat()}"
    ours = sorted(p.relative_to(out) for p in out.glob(f"facts/*/{day}/*"))
    assert ours == sorted(p.relative_to(ff) for p in ff.glob(f"facts/*/{day}/*"))
    assert len(ours) >= 8
    for part in ours:
        assert (out / part).read_bytes() == (ff / part).read_bytes(), part
    assert any((out / p).read_bytes() != (plain / p).read_bytes() for p in ours), (
        "the live outage changed the day's files"
    )
    # the stream's rows for the day are the fast-forward files' rows
    evs = [
        e
        for e in events(out)
        if business_date(datetime.fromisoformat(e["payload"]["EventTS"][:-1] + "+00:00")) == today
    ]
    checked = 0
    for name, table in TABLES.items():
        if table.kind != "fact":
            continue
        rows = read_facts(ff, name, ["TraceId"])
        ids = set(rows["TraceId"].to_pylist()) if rows is not None else set()
        mine = [e for e in evs if e["event_type"] in table.event_types]
        assert all(e["trace_id"] in ids for e in mine), name
        checked += len(mine)
    assert checked > 1000
    # no truck left the DC while it was out: the next morning's dispatch did not happen,
    # where the day before, trucks left DC 1 between 10:00 and 11:00
    departed = [
        e
        for e in events(out)
        if e["event_type"] == "truck_departed"
        and e["source"].endswith("/dc-1")
        and a <= datetime.fromisoformat(e["payload"]["EventTS"][:-1] + "+00:00") < b
    ]
    assert not departed
    moves = read_facts(history, "truck_moves", ["EventTS", "DCID", "Status"]).to_pylist()
    start = day_start(today - timedelta(days=1))
    assert [
        m
        for m in moves
        if m["DCID"] == 1
        and m["Status"] == "IN_TRANSIT"
        and start <= m["EventTS"] < start + timedelta(hours=1)
    ]
