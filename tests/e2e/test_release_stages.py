"""The release path of a real real-time run: the rate cap holds, nothing is dropped, and
the test faults hit their shares with a complete ledger (through the jsonl sink)."""

from __future__ import annotations

import asyncio
import io
import math
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from rich.console import Console

from sim.config.clock import WallClock, fixed_wall_clock
from sim.config.scenario import load_scenario
from sim.run.realtime import RealtimeRun
from sim.sinks import make_sink
from tests.helpers import ROOT, generate

NOW = "2024-03-06T16:00:00Z"
SCENARIO = """\
seed: 11
volume: {{stores: 3, dcs: 1, total_geographies: 12, total_customers: 1500,
         total_products: 600, customers_per_day: 250}}
calendar: {{start: -2d, end: now}}
paths: {{dictionaries: {dicts}, output: {out}}}
realtime:
  sink: jsonl
  batch_timeout_ms: 20
{extra}"""
FAULTS = """\
  faults:
    late: {share: 0.05, delay: {distribution: fixed, mean_s: 0.3}}
    duplicate: {share: 0.05, delay: {distribution: fixed, mean_s: 0.2}}
    out_of_order: {share: 0.05, window: 3, max_hold_s: 1}
    malformed: {share: 0.02, kinds: [missing_field, wrong_type]}
"""


@pytest.fixture(scope="module", autouse=True)
def _injected_clock() -> Iterator[None]:
    with fixed_wall_clock(NOW):
        yield


def scenario(folder: Path, name: str, extra: str = "") -> Path:
    path = folder / f"{name}.yaml"
    out = folder / name
    path.write_text(SCENARIO.format(dicts=ROOT / "dictionaries", out=out, extra=extra))
    return path


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("stages")
    path = scenario(tmp, "h")
    generate(path, tmp / "h")
    return tmp / "h"


def copy(history: Path, tmp_path: Path, extra: str = "") -> tuple[Path, Path]:
    import shutil

    shutil.copytree(history, tmp_path / "rt")
    return scenario(tmp_path, "rt", extra), tmp_path / "rt"


def lines(out: Path) -> list[bytes]:
    return (out / "realtime" / "events.jsonl").read_bytes().splitlines()


@dataclass(frozen=True)
class FastClock(WallClock):
    """A wall clock starting at NOW and running ``factor`` times the real rate."""

    start: float = 0.0
    real0: float = 0.0
    factor: float = 1.0

    def time(self) -> float:
        return self.start + (time.monotonic() - self.real0) * self.factor


def run_for(path: Path, out: Path, wall: WallClock, window: float, speed: str = "max") -> Any:
    """Run a real-time session on ``out`` until ``window`` wall seconds (of ``wall``) after
    its first release, then stop it as Ctrl-C would."""
    sc = load_scenario(path, now=wall.now())
    settings = sc.realtime.model_copy(update={"speed": speed})
    run = RealtimeRun(sc, out, settings, None, Console(file=io.StringIO()), True, wall)

    async def main() -> Any:
        sink = make_sink(settings.model_copy(update={"event_types": None}), out, None)
        await sink.start()

        async def stop_later() -> None:
            while not run.report.released:
                await asyncio.sleep(0.02)
            first = wall.time()
            while wall.time() < first + window:
                await asyncio.sleep(0.02)
            run.control.stop()

        stopper = asyncio.create_task(stop_later())
        report = await run.run(sink)
        stopper.cancel()
        return report

    return run, asyncio.run(main())


def test_rate_cap_holds_within_five_percent_over_thirty_seconds(
    history: Path, tmp_path: Path
) -> None:
    rate = 40.0
    # a 4-s bucket: the simulation thread can hold the loop for a while at 6x
    path, out = copy(history, tmp_path, f"  max_events_per_second: {rate}\n  burst: 160\n")
    t0 = datetime.fromisoformat(NOW.replace("Z", "+00:00")).timestamp()
    wall = FastClock(start=t0, real0=time.monotonic(), factor=6.0)  # 36 s in 6 real seconds
    run, report = run_for(path, out, wall, 38.0, speed="600")
    evs = [orjson.loads(x) for x in lines(out)]
    assert len(evs) == report.released, "every released event reached the sink"
    ingest = sorted(
        datetime.fromisoformat(e["ingest_timestamp"].replace("Z", "+00:00")).timestamp()
        for e in evs
    )
    first = ingest[0]
    steady = [t for t in ingest if first + 5 <= t < first + 35]  # 30 s after the first bucket
    assert abs(len(steady) - rate * 30) <= 0.05 * rate * 30, len(steady)
    # the world made more than the cap let out: what waits stayed in the outbox (nothing
    # dropped), the saved position stops just before it, and the lag grew
    assert run.outbox.events > 0 and run.releaser.capped_ticks > 0
    st = orjson.loads((out / "realtime" / "state.json").read_bytes())
    released_at = datetime.fromisoformat(st["released_at"]).timestamp() * 1000
    assert all(
        datetime.fromisoformat(e["payload"]["EventTS"].replace("Z", "+00:00")).timestamp() * 1000
        <= released_at + 1
        for e in evs
    )
    assert st["lag_p99_s"] > 5


def test_faults_at_their_shares_and_the_ledger_complete(history: Path, tmp_path: Path) -> None:
    path, out = copy(history, tmp_path, FAULTS)
    wall = WallClock.from_env()
    run, report = run_for(path, out, wall, 4.0)
    ledger = [
        orjson.loads(x) for x in (out / "realtime" / "fault_ledger.jsonl").read_bytes().splitlines()
    ]
    n = report.released
    assert n > 2000, n
    counts = Counter(r["fault"] for r in ledger)
    for fault, share in (
        ("late", 0.05),
        ("duplicate", 0.05),
        ("out_of_order", 0.05),
        ("malformed", 0.02),
    ):
        sd = math.sqrt(n * share * (1 - share))
        assert abs(counts[fault] - n * share) <= 4 * sd + 2, (fault, counts[fault], n)
    assert len(ledger) == len({r["message_id"] for r in ledger}), "one row per faulted event"
    sent = [orjson.loads(x) for x in lines(out)]
    ids = Counter(e["event_id"] for e in sent)
    assert len(ids) == n, "every released event was sent (none lost by a fault)"
    assert {i for i, c in ids.items() if c == 2} == {
        r["message_id"] for r in ledger if r["fault"] == "duplicate"
    }, "exactly the duplicated events came twice"
    assert max(ids.values()) <= 2
    by_id = {e["event_id"]: e for e in sent}
    for r in ledger:
        assert r["message_id"] in by_id
        if r["fault"] == "malformed":
            payload = by_id[r["message_id"]]["payload"]
            if r["kind"] == "missing_field":
                assert r["field"] not in payload
            else:
                assert payload[r["field"]] in (0, "#MALFORMED")
    # a late event went out behind events released after it (a later ingest_timestamp
    # before it in the stream; the exact displacement is tests/test_faults.py's)
    late = {r["message_id"] for r in ledger if r["fault"] == "late" and not r.get("drained")}
    newest, behind = "", 0
    for e in sent:
        if e["event_id"] in late and newest > e["ingest_timestamp"]:
            behind += 1
        newest = max(newest, e["ingest_timestamp"])
    assert late and behind >= 0.8 * len(late), (behind, len(late))
    assert run.releaser.unsent_before() is None, "at stop every held event went out"
    # faults touch the stream only: the state counts released events, not sent copies
    assert orjson.loads((out / "realtime" / "state.json").read_bytes())["events_released"] == n


def test_the_saved_position_stays_before_an_event_the_fault_stage_holds(
    history: Path, tmp_path: Path
) -> None:
    """A third of the events held back as late: while the stream runs, the position saved
    every second (what a crash would continue from) stays before the first of them."""
    late = "  faults:\n    late: {share: 0.3, delay: {distribution: fixed, mean_s: 500}}\n"
    path, out = copy(history, tmp_path, late)
    wall = WallClock.from_env()
    sc = load_scenario(path, now=wall.now())
    settings = sc.realtime.model_copy(update={"speed": "600"})
    run = RealtimeRun(sc, out, settings, None, Console(file=io.StringIO()), True, wall)
    seen: list[tuple[int, int]] = []  # (saved position, released position) while running

    async def main() -> None:
        sink = make_sink(settings, out, None)
        await sink.start()

        async def watch() -> None:
            while run.report.released < 50:
                await asyncio.sleep(0.05)
            for _ in range(30):
                await asyncio.sleep(0.1)
                state = out / "realtime" / "state.json"
                if state.exists():
                    seen.append((orjson.loads(state.read_bytes())["released_ms"], run.released_ms))
            run.control.stop()

        task = asyncio.create_task(watch())
        await run.run(sink)
        task.cancel()

    asyncio.run(main())
    anchor_ms = orjson.loads((out / "realtime" / "state.json").read_bytes())["anchor_sim"] * 1000
    assert seen and seen[-1][1] > anchor_ms + 20 * 60_000, "the stream moved on"
    assert all(saved < anchor_ms + 5 * 60_000 for saved, _ in seen), seen[-3:]
    assert len(lines(out)) == run.report.released, "drained at stop: every event went out"
