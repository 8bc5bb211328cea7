"""Real time on the default chain (42 stores, 5 DCs), the scale users stream at: every
event goes out in time order (no row is recorded later than the look-ahead), each once,
and the simulation stays within the look-ahead of what it released."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import orjson
import pytest
import yaml

from sim.config.clock import fixed_wall_clock
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
