"""Phases of a fast-forward run from a py-spy sampling profile (all threads).

cProfile (``bench/profile_day.py``) sees only the main thread and slows Python code
several times more than C code; py-spy samples every thread of an unmodified run.
Record a run, then read the samples by phase:

    py-spy record -r 200 -f raw --threads -o spy.txt -- \\
        python -m sim run SCENARIO --output OUT --quiet --workers 1
    python bench/spy_phases.py spy.txt

A phase is a function on the sampled stack (the first phase that matches, in the order
below, takes the sample); shares are of all samples of that thread group (the main
thread, the partition-writer threads).
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path

# (phase, function names as py-spy prints them); the first phase found on a stack wins,
# from the innermost frame outwards
MAIN: list[tuple[str, tuple[str, ...]]] = [
    ("till: checkout (fast + short-shelf path)", ("Store.checkout", "Store._checkout_short")),
    ("visit processes: start (Arrival timeouts)", ("Arrival.__init__",)),
    ("visit processes: lanes, steps", ("visit",)),
    ("store recording: receipts, lines, txns", ("Store._record_receipts",)),
    ("store recording: BLE pings, foot traffic", ("Store._record_sensors",)),
    ("store recording: entries, stockouts", ("Store.flush",)),
    ("online channel", ("OnlineChannel.run", "OnlineChannel.flush", "OnlineChannel.__init__")),
    ("logistics, DC, supply reviews", ("Logistics.dispatch", "review_dc", "store_review")),
    ("visit plans (numpy draws)", ("plan_visits",)),
    ("marketing impressions", ("impressions",)),
    ("store setup (arrivals, customers)", ("ShardDay._open_store",)),
    ("SimPy event loop itself", ("Environment.step", "Environment.run")),
    ("day wiring, other", ("ShardDay.__init__", "ShardDay.finish")),
    ("waiting for writer threads", ("FileRecorder.wait",)),
    ("checkpoint save", ("WorldState.save",)),
    ("master data build + write", ("prepare", "World.prepare")),
    ("loading a shard (master read)", ("load_shard", "ShardLoop.__init__")),
    ("closing snapshots, state", ("record_generated",)),
    ("imports and start-up", ("_find_and_load",)),
]
WRITER: list[tuple[str, tuple[str, ...]]] = [
    ("trace ids", ("trace_ids",)),
    ("CSV timestamps as text", ("_csv_ready",)),
    ("CSV encoding (pyarrow.csv)", ("_write_csv",)),
    ("Parquet encoding (or a CSV's mkdir, rename)", ("write_table",)),
    ("sort + take by row order", ("take",)),
    ("concat chunks", ("_concat",)),
    ("to_arrow / other day_rows", ("FileRecorder.day_rows",)),
    ("idle: waiting for the next day to write", ("_worker",)),
]
_NAME = re.compile(r"^(.*?) \(")


def phase_of(frames: list[str], phases: list[tuple[str, tuple[str, ...]]]) -> str:
    names = [(_NAME.match(f) or re.match(r"(.*)", f)).group(1) for f in frames]  # type: ignore[union-attr]
    for name in reversed(names):
        for phase, funcs in phases:
            if name in funcs:
                return phase
    return "other"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("raw", type=Path, help="py-spy record -f raw --threads output")
    ap.add_argument("--rate", type=float, default=200.0, help="the -r of py-spy (200)")
    args = ap.parse_args()
    groups: dict[str, Counter[str]] = {"main thread": Counter(), "writer threads": Counter()}
    for line in args.raw.read_text().splitlines():
        stack, n = line.rsplit(" ", 1)
        thread, *frames = stack.split(";")
        if "partition-writer" in thread:
            groups["writer threads"][phase_of(frames, WRITER)] += int(n)
        else:
            groups["main thread"][phase_of(frames, MAIN)] += int(n)
    for group, counts in groups.items():
        total = sum(counts.values())
        print(f"\n{group}: {total:,} samples ({total / args.rate:.1f} s sampled)")
        order = MAIN if group == "main thread" else WRITER
        for phase, _ in [*order, ("other", ())]:
            if counts[phase]:
                s = counts[phase] / args.rate
                print(f"  {phase:<46} {s:7.2f} s {counts[phase] / total:6.1%}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
