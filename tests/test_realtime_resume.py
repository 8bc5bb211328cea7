"""Real time: exact resume (ahead of and behind the wall clock), kill -9 then rerun,
stops within a second, backpressure from a slow sink, and unique event ids."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime
from pathlib import Path

import orjson
import psutil
import pytest
from rich.console import Console

from sim.config.calendar import day_start
from sim.config.clock import ENV_NOW, WallClock, fixed_wall_clock
from sim.config.scenario import load_scenario
from sim.run.feeder import StreamRecorder
from sim.run.outbox import Outbox
from sim.run.realtime import LOOKAHEAD, RealtimeRun
from sim.run.shard import load_shard, starting_state
from sim.sinks.base import OutEvent, SinkMetrics
from sim.world.day import ShardDay
from tests.helpers import ROOT, run_cli

SCENARIO = """\
seed: 5
volume: {{stores: 2, dcs: 1, total_geographies: 10, total_customers: 1200,
         total_products: 500, customers_per_day: 300}}
calendar: {{start: -1d, end: now}}
paths: {{dictionaries: {dicts}, output: {out}}}
realtime: {{sink: jsonl, batch_timeout_ms: 20}}
"""
HISTORY_NOW = "2024-03-06T10:30:00Z"  # history: 2024-03-05; today is 2024-03-06


def scenario(tmp: Path, name: str) -> Path:
    path = tmp / f"{name}.yaml"
    path.write_text(SCENARIO.format(dicts=ROOT / "dictionaries", out=tmp / name))
    return path


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("rth")
    path = scenario(tmp, "base")
    os.chdir(ROOT)
    with fixed_wall_clock(HISTORY_NOW):
        assert run_cli("run", path, "--quiet", "--workers", "1") == 0
    return tmp / "base"


def copy(history: Path, tmp: Path, name: str) -> tuple[Path, Path]:
    shutil.copytree(history, tmp / name)
    return scenario(tmp, name), tmp / name


def events(out: Path) -> list[dict]:
    path = out / "realtime" / "events.jsonl"
    if not path.exists():
        return []
    lines = path.read_bytes().split(b"\n")
    return [orjson.loads(line) for line in lines if line]


def state(out: Path) -> dict:
    return json.loads((out / "realtime" / "state.json").read_text())


def stream(path: Path, now: str, speed: str, duration: float) -> None:
    with fixed_wall_clock(now):
        args = ["run", path, "--realtime", "--speed", speed, "--duration", str(duration)]
        assert run_cli(*args, "--quiet") == 0


def iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="milliseconds")[:23] + "Z"


def window(evs: list[dict], lo: str, hi: str) -> dict[str, dict]:
    return {e["event_id"]: e for e in evs if lo < e["payload"]["EventTS"] <= hi}


def in_order_per_key(evs: list[dict]) -> bool:
    last: dict[str, str] = {}
    for e in evs:
        key, ts = e["source"], e["payload"]["EventTS"]
        if ts < last.get(key, ""):
            return False
        last[key] = ts
    return True


@pytest.mark.parametrize(
    ("first_now", "speed1", "second_now", "speed2"),
    [
        ("2024-03-06T11:00:00Z", "max", "2024-03-06T11:00:00Z", "3600"),  # resume ahead
        ("2024-03-06T16:00:00Z", "3600", "2024-03-06T17:00:00Z", "3600"),  # resume behind
        ("2024-03-06T21:00:00Z", "max", "2024-03-06T21:00:00Z", "max"),
    ],
)
def test_resume_sends_each_event_once(
    history: Path, tmp_path: Path, first_now: str, speed1: str, second_now: str, speed2: str
) -> None:
    path, out = copy(history, tmp_path, "a")
    stream(path, first_now, speed1, 1800)
    first, st1 = events(out), state(out)
    stream(path, second_now, speed2, 1800)
    both, st2 = events(out), state(out)
    second = both[len(first) :]
    assert first and second
    assert st2["anchor_sim"] * 1000 == pytest.approx(st1["released_ms"], abs=1)
    assert st2["released_ms"] > st1["released_ms"], "the position never moves backward"
    ids = [e["event_id"] for e in both]
    assert len(ids) == len(set(ids)), "0 duplicates"
    assert in_order_per_key(both)
    # 0 gaps: one uninterrupted run over the same span sends exactly these events
    ref_path, ref_out = copy(history, tmp_path, "ref")
    span = st2["released_ms"] / 1000 - st1["anchor_sim"] + 60
    stream(ref_path, first_now, "max", span)
    lo, hi = iso(st1["anchor_sim"] + 10), iso(st2["released_ms"] / 1000)
    ours, ref = window(both, lo, hi), window(events(ref_out), lo, hi)
    assert len(ref) > 100
    assert ours.keys() == ref.keys()
    assert all(ours[k]["payload"] == ref[k]["payload"] for k in ref)


def _start(path: Path, now: str, speed: str) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "sim", "run", str(path), "--realtime", "--speed", speed]
    return subprocess.Popen(
        [*cmd, "--quiet"],
        cwd=ROOT,
        env={**os.environ, ENV_NOW: now},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _wait(cond: object, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not cond() and time.monotonic() < deadline:  # type: ignore[operator]
        time.sleep(0.05)
    assert cond(), "timed out"  # type: ignore[operator]


def test_kill_9_then_rerun_is_at_least_once_with_the_same_ids(
    history: Path, tmp_path: Path
) -> None:
    now, speed = "2024-03-06T14:00:00Z", 600.0
    path, out = copy(history, tmp_path, "k")
    proc = _start(path, now, str(speed))
    _wait(lambda: (out / "realtime" / "state.json").exists() and events(out))
    time.sleep(2.5)  # several saves of the position
    proc.kill()
    proc.wait()
    first, saved = events(out), state(out)
    assert not saved["clean_stop"]
    stream(path, now, str(speed), 1200)
    both = events(out)
    second = both[len(first) :]
    pos = iso(saved["released_ms"] / 1000)
    assert all(e["payload"]["EventTS"] > pos for e in second), "resumes at the saved position"
    repeated = {e["event_id"] for e in first} & {e["event_id"] for e in second}
    again = [e for e in first if e["event_id"] in repeated]
    # bounded: only what was released after the last save (1 s of wall time, 3 with load)
    bound = iso(saved["released_ms"] / 1000 + 3 * speed)
    assert all(pos < e["payload"]["EventTS"] <= bound for e in again)
    # at least once, no gap: everything up to the end of the rerun, against one clean run
    ref_path, ref_out = copy(history, tmp_path, "ref")
    end = state(out)["released_ms"] / 1000
    stream(ref_path, now, "max", end - saved["anchor_sim"] + 60)
    lo, hi = iso(saved["anchor_sim"] + 10), iso(end)
    assert window(both, lo, hi).keys() == window(events(ref_out), lo, hi).keys()


@pytest.mark.parametrize("when", ["catch-up", "streaming"])
def test_sigint_stops_within_a_second(history: Path, tmp_path: Path, when: str) -> None:
    path, out = copy(history, tmp_path, "s")
    proc = _start(path, "2024-03-06T21:00:00Z", "3600")
    if when == "catch-up":  # the sink is open: the day is being rebuilt
        _wait(lambda: (out / "realtime" / "events.jsonl").exists())
        time.sleep(0.3)
    else:
        _wait(lambda: bool(events(out)))
    sent = time.monotonic()
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=30) == 0, proc.stderr.read() if proc.stderr else ""
    took = time.monotonic() - sent
    assert took < 1.5, f"{took:.2f} s from SIGINT to exit ({when})"  # <1 s unloaded
    assert state(out)["clean_stop"]


class SlowSink:
    """A real sink that accepts events slowly (a congested hub): ``rate`` events/s."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.metrics = SinkMetrics()
        self.got: list[OutEvent] = []

    async def start(self) -> None: ...

    async def send(self, events: Sequence[OutEvent]) -> None:
        await asyncio.sleep(len(events) / self.rate)
        self.got.extend(events)
        self.metrics.events_sent += len(events)

    async def flush(self) -> None: ...

    async def close(self) -> None: ...


def test_slow_sink_holds_the_simulation_back(history: Path, tmp_path: Path) -> None:
    path, out = copy(history, tmp_path, "p")
    sc = load_scenario(path)
    settings = sc.realtime.model_copy(update={"speed": 600.0})
    with fixed_wall_clock("2024-03-06T15:00:00Z"):
        wall = WallClock.from_env()
    run = RealtimeRun(sc, out, settings, None, Console(), True, wall)
    sink = SlowSink(rate=60)
    proc = psutil.Process()

    async def main() -> tuple[int, int]:
        task = asyncio.create_task(run.run(sink))
        while run.report.released == 0:
            await asyncio.sleep(0.1)
        rss0, peak = proc.memory_info().rss, 0
        for _ in range(40):  # 8 s: the world would make ~80 simulated minutes
            await asyncio.sleep(0.2)
            peak = max(peak, proc.memory_info().rss)
        run.control.stop()
        await task
        return rss0, peak

    rss0, peak = asyncio.run(main())
    st = run.control.status()
    assert len(sink.got) == run.report.released, "nothing dropped"
    assert peak - rss0 < 200 * 2**20
    # the simulation waited: it is at most LOOKAHEAD + margin past what was released
    frontier = datetime.fromisoformat(st["simulated_to"]).timestamp()
    assert frontier - run.released_ms / 1000 <= LOOKAHEAD + 1200 + 300 + 1
    assert st["lag_p99_s"] > 1.0, "the slow sink made the stream lag (it is shown)"
    ids = [e.body[13:45] for e in sink.got]
    assert len(set(ids)) == len(ids)


def test_event_ids_unique_over_a_whole_day(history: Path, tmp_path: Path) -> None:
    sc = load_scenario(scenario(tmp_path, "u"))
    root = history
    shard = load_shard(sc, root, 1, date(2024, 3, 5))
    outbox = Outbox(0)
    t0_ms = int(day_start(shard.first_day).timestamp() * 1000)
    rec = StreamRecorder(sc.seed, 1, t0_ms, tmp_path / "scratch", "csv", outbox)
    day = ShardDay(shard, starting_state(root, shard, date(2024, 3, 6)), date(2024, 3, 6), rec)
    day.finish()
    rec.close()
    outbox.add(rec.take_staged())
    batch = outbox.due(2**62)
    assert batch is not None and len(batch) > 10_000
    ids = batch.event_id.to_pylist()
    assert len(set(ids)) == len(ids)
    pairs = set(zip(batch.trace_id.to_pylist(), batch.event_type.to_pylist(), strict=True))
    assert len(pairs) == len(ids)
    types = batch.event_type.to_pylist()
    assert "promotion_applied" in types and "receipt_line_added" in types


@pytest.fixture(autouse=True)
def _no_stray_clock() -> Iterator[None]:
    yield
    os.environ.pop(ENV_NOW, None)


def test_control_pause_resume_speed_stop(history: Path, tmp_path: Path) -> None:
    path, out = copy(history, tmp_path, "c")
    sc = load_scenario(path)
    settings = sc.realtime.model_copy(update={"speed": 60.0})
    with fixed_wall_clock("2024-03-06T13:00:00Z"):
        wall = WallClock.from_env()
    run = RealtimeRun(sc, out, settings, None, Console(), True, wall)
    sink = SlowSink(rate=1e9)

    async def main() -> list[int]:
        task = asyncio.create_task(run.run(sink))
        while run.clock is None:
            await asyncio.sleep(0.05)
        seen = [run.released_ms]
        run.control.pause()
        await asyncio.sleep(0.3)
        seen.append(run.released_ms)
        await asyncio.sleep(1.0)
        seen.append(run.released_ms)  # paused: the simulated clock stood still
        run.control.resume()
        await asyncio.sleep(1.0)
        seen.append(run.released_ms)
        run.control.set_speed(None)  # max
        await asyncio.sleep(1.5)
        seen.append(run.released_ms)
        assert run.control.status()["speed"] == "max"
        run.control.stop()
        await task
        return seen

    seen = asyncio.run(main())
    assert seen[2] == seen[1], "nothing moves while paused"
    assert seen[3] > seen[2], "resumed"
    assert seen[4] - seen[3] > 60 * 1000 * 3, "max is faster than x60"
    ids = [e.body[13:45] for e in sink.got]
    assert len(set(ids)) == len(ids), "nothing re-sent"
    with pytest.raises(ValueError, match="speed"):
        run.control.set_speed(0)
