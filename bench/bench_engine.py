"""Throughput and memory of fast-forward history on scenarios/default.yaml.

Runs ``python -m sim run`` in a child process on a copy of the default scenario whose
calendar is fixed to 2024-03-04 .. 2024-03-10 (7 business days; ``--days`` changes the
count), into a temporary folder, and prints the wall seconds, the fact rows written per
table and in total, rows per second, and the peak resident memory of the run (the
child and its worker processes, from the kernel's rusage of the waited-for child, the
same figure ``resource.getrusage(RUSAGE_CHILDREN).ru_maxrss`` reports). It then runs
3 days the same way and prints both peaks, to show that memory does not grow with
the number of days.

    python bench/bench_engine.py [--days N] [--workers N] [--format csv|parquet|delta]
                                 [--no-compare]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
DEFAULT = ROOT / "scenarios" / "default.yaml"
FIRST = date(2024, 3, 4)
COMPARE_DAYS = 3


@dataclass
class Result:
    days: int
    wall: float  # seconds of the whole command (start-up and master data included)
    engine: float  # seconds of the simulation itself, as the run recorded them
    rows: dict[str, int]
    peak_mb: float
    cpu: float  # user + system CPU seconds of the child and its workers (load-independent-ish)
    disk_mb: float = 0.0  # size of the fact files written
    output: Path | None = None  # the output folder, when kept (run(..., keep=True))

    def cleanup(self) -> None:
        """Remove a kept output folder."""
        if self.output is not None:
            shutil.rmtree(self.output.parent, ignore_errors=True)


def scenario_file(folder: Path, days: int, fmt: str, volume: dict[str, Any] | None = None) -> Path:
    """The default scenario over ``days`` days from FIRST, to ``fmt``, with ``volume``
    keys replaced."""
    data: dict[str, Any] = yaml.safe_load(DEFAULT.read_text())
    data["volume"] = {**data["volume"], **(volume or {})}
    data["calendar"] = {
        "start": FIRST.isoformat(),
        "end": (FIRST + timedelta(days=days - 1)).isoformat(),
    }
    paths = data.setdefault("paths", {})
    paths["dictionaries"] = str(ROOT / paths.get("dictionaries", "dictionaries"))
    data.setdefault("output", {})["format"] = fmt
    path = folder / f"bench-{days}d.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def peak_mb(ru_maxrss: int) -> float:
    """ru_maxrss is in KiB on Linux and in bytes on macOS."""
    return ru_maxrss / (1024 * 1024 if sys.platform == "darwin" else 1024)


def run(
    days: int, workers: int, fmt: str, volume: dict[str, Any] | None = None, keep: bool = False
) -> Result:
    """``python -m sim run`` of the default scenario (``volume`` keys replaced) in a child;
    ``keep``: its output stays (``Result.output``) until ``Result.cleanup()``."""
    tmp = tempfile.mkdtemp(prefix="bench-engine-")
    try:
        folder = Path(tmp)
        out = folder / "output"
        cmd = [
            sys.executable, "-m", "sim", "run", str(scenario_file(folder, days, fmt, volume)),
            "--output", str(out), "--quiet", "--workers", str(workers),
        ]  # fmt: skip
        started = time.perf_counter()
        child = subprocess.Popen(cmd, cwd=ROOT)
        _, status, usage = os.wait4(child.pid, 0)  # rusage of this child and its workers
        wall = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)
        if child.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} exited {child.returncode}")
        state = json.loads((out / "generation_state.json").read_text())
        disk = sum(p.stat().st_size for p in (out / "facts").rglob("*") if p.is_file())
    finally:
        if not keep:
            shutil.rmtree(tmp, ignore_errors=True)
    cpu = usage.ru_utime + usage.ru_stime
    return Result(
        days,
        wall,
        state["runs"][-1]["seconds"],
        state["rows"],
        peak_mb(usage.ru_maxrss),
        cpu,
        disk / 1e6,
        out if keep else None,
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--days", type=int, default=7, help="business days from 2024-03-04 (7)")
    ap.add_argument("--workers", type=int, default=1, help="worker processes (1)")
    ap.add_argument("--format", choices=("csv", "parquet", "delta"), default="csv")
    ap.add_argument(
        "--no-compare", action="store_true", help=f"skip the {COMPARE_DAYS}-day memory run"
    )
    args = ap.parse_args()
    if args.days < 1 or args.workers < 1:
        ap.error("--days and --workers must be >= 1")

    sc = yaml.safe_load(DEFAULT.read_text())["volume"]
    last = FIRST + timedelta(days=args.days - 1)
    print(
        f"scenarios/default.yaml: {sc['stores']} stores, {sc['dcs']} DCs, "
        f"{sc['customers_per_day']:,} visits/store/day; {FIRST} .. {last} ({args.days} days), "
        f"{args.workers} worker(s), {args.format}"
    )
    main_run = run(args.days, args.workers, args.format)
    total = sum(main_run.rows.values())
    width = max(len(t) for t in main_run.rows)
    print(f"\n{'table':<{width}}  {'rows':>12}")
    for table, n in sorted(main_run.rows.items()):
        print(f"{table:<{width}}  {n:>12,}")
    print(f"{'total':<{width}}  {total:>12,}\n")
    print(
        f"wall seconds      {main_run.wall:10.1f}   (python -m sim run, start-up and master data)"
    )
    print(f"simulation secs   {main_run.engine:10.1f}   (as recorded in generation_state.json)")
    print(f"rows/s (wall)     {total / main_run.wall:10,.0f}")
    print(f"rows/s (sim)      {total / main_run.engine:10,.0f}")
    print(f"peak RSS          {main_run.peak_mb:10.0f} MB")
    print(f"fact files        {main_run.disk_mb:10.0f} MB")
    print(f"CPU seconds       {main_run.cpu:10.1f}   (user + system, all processes of the run)")
    print(f"rows per CPU s    {total / main_run.cpu:10,.0f}   (less sensitive to a shared machine)")
    load = os.getloadavg()
    print(f"load average      {load[0]:10.2f}   (1 min, at the end; the machine may be shared)")

    if not args.no_compare and args.days != COMPARE_DAYS:
        other = run(COMPARE_DAYS, args.workers, args.format)
        runs = sorted([main_run, other], key=lambda r: r.days)
        print("\npeak RSS by period length (memory must not grow with days):")
        for r in runs:
            print(f"  {r.days:3d} days  {r.peak_mb:8.0f} MB  ({sum(r.rows.values()):,} rows)")
        print(f"  ratio {runs[1].days}d / {runs[0].days}d: {runs[1].peak_mb / runs[0].peak_mb:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
