"""A profiler's view of fast-forward history, by phase, on the default scenario.

Writes the default scenario with its calendar fixed to 2024-03-04 (``--days`` days),
builds its master data in a temporary folder, then runs every shard (or ``--shard K``)
in this process under ``cProfile`` and prints the cumulative seconds of the main phases
(the SimPy event loop, the visit processes and the till, the day's numpy draws, the
recorder's Arrow building, trace ids, CSV text and file writing, waiting for the writer
threads, checkpoints) and the functions with the most own time.

cProfile sees only the main thread: by default the partition files are written by the
recorder's writer threads as in a real run, so their cost shows as the main thread's
wait for them; ``--sync`` writes them on the main thread instead, so the profile
breaks the writing down too.

    python bench/profile_day.py [--days N] [--format csv|parquet] [--sync] [--top N]
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import tempfile
import time
from concurrent.futures import Future
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sim.config.scenario import load_scenario, resolve_period  # noqa: E402
from sim.run import files  # noqa: E402
from sim.run.history import prepare, run_shard  # noqa: E402

FIRST = date(2024, 3, 4)

# phase -> "file:function" whose cumulative time it is (phases may nest: see the indent)
PHASES: list[tuple[str, str]] = [
    ("ShardDay setup: arrivals, visit plans, processes", "world/day.py:__init__"),
    ("  visit plan draws (numpy, per store)", "world/visits.py:plan_visits"),
    ("SimPy event loop (Environment.run)", "simpy/core.py:run"),
    ("  visit processes (generator steps)", "world/store.py:visit"),
    ("    till: checkout + substitution", "world/store.py:checkout"),
    ("  lanes: take a free one or queue", "world/store.py:take"),
    ("  online channel", "world/online.py:flush"),
    ("  logistics: dispatch, trucks, DC", "world/logistics.py:dispatch"),
    ("end of day: store recording (all tables)", "world/store.py:flush"),
    ("  receipts, lines, sales txns", "world/store.py:_record_receipts"),
    ("  BLE pings", "world/store.py:_record_pings"),
    ("  foot traffic", "world/store.py:_record_traffic"),
    ("Recorder.record (deferral, ms)", "world/recorder.py:record"),
    ("day rows: concat, sort, take, to_arrow", "run/files.py:day_rows"),
    ("  trace ids", "contract/ids.py:trace_ids"),
    ("  to_arrow", "contract/columns.py:to_arrow"),
    ("file write (CSV text + encoding + rename)", "contract/writer.py:write_table"),
    ("  CSV timestamps as text", "contract/writer.py:_csv_ready"),
    ("waiting for writer threads (Future.result)", "concurrent/futures/_base.py:result"),
    ("checkpoint save", "world/state.py:save"),
]


class SyncPool:
    """An executor that runs what is submitted at once, on the calling thread."""

    def submit(self, fn: Any, *args: Any) -> Future[Any]:
        f: Future[Any] = Future()
        f.set_result(fn(*args))
        return f

    def shutdown(self) -> None:
        pass


def cumulative(stats: pstats.Stats, where: str) -> float:
    """Cumulative seconds of the function ``file:function`` (all its entries)."""
    file, func = where.rsplit(":", 1)
    total = 0.0
    for (f, _line, name), (_cc, _nc, _tt, ct, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        if name == func and f.endswith(file):
            # recursive or generator re-entries are counted once by cProfile's ct
            total += ct
    return total


def scenario(folder: Path, days: int, fmt: str) -> Path:
    data: dict[str, Any] = yaml.safe_load((ROOT / "scenarios" / "default.yaml").read_text())
    data["calendar"] = {
        "start": FIRST.isoformat(),
        "end": (FIRST + timedelta(days=days - 1)).isoformat(),
    }
    data.setdefault("paths", {})["dictionaries"] = str(ROOT / "dictionaries")
    data.setdefault("output", {})["format"] = fmt
    path = folder / "profile.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--days", type=int, default=1)
    ap.add_argument("--format", choices=("csv", "parquet"), default="csv")
    ap.add_argument("--sync", action="store_true", help="write files on the main thread")
    ap.add_argument("--top", type=int, default=25)
    ap.add_argument("--shard", type=int, default=0, help="only this shard (0: all)")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="profile-day-") as tmp:
        folder = Path(tmp)
        sc = load_scenario(scenario(folder, args.days, args.format))
        period = resolve_period(sc, datetime(2025, 1, 1))
        out = folder / "output"
        plan = prepare(sc, period, out)
        shards = [args.shard] if args.shard else plan.shards
        first = date.fromisoformat(plan.state.first_day)
        if args.sync:
            files.ThreadPoolExecutor = lambda *a, **k: SyncPool()  # type: ignore[misc,assignment]
        prof = cProfile.Profile()
        rows = 0
        started = time.perf_counter()
        prof.enable()
        for s in shards:
            rows += sum(run_shard(sc, out, s, first, plan.days).values())
        prof.disable()
        wall = time.perf_counter() - started
    stats = pstats.Stats(prof)
    total = sum(v[2] for v in stats.stats.values())  # type: ignore[attr-defined]
    mode = "files written on the main thread" if args.sync else "files written by threads"
    print(
        f"scenarios/default.yaml, {args.days} day(s) from {FIRST}, {len(shards)} shard(s), "
        f"{args.format}, {mode}\n{rows:,} rows in {wall:.1f} s under cProfile "
        f"(main thread's profiled time {total:.1f} s)\n"
    )
    print(f"{'phase (cumulative; indented = inside the one above)':<52} {'s':>7} {'share':>6}")
    for name, where in PHASES:
        s = cumulative(stats, where)
        if s:
            print(f"{name:<52} {s:7.2f} {s / total:6.1%}")
    if args.top:
        print(f"\ntop {args.top} functions by own time (main thread):")
        stats.sort_stats("tottime").print_stats(args.top)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
