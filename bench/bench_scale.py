"""How fast-forward history scales with the chain and with the period.

Runs ``python -m sim run`` (through :mod:`bench_engine`, one child process per run) on
the default scenario with its stores and DCs multiplied together (42 stores / 5 DCs,
210 / 25, 420 / 50; the customer base is sized from the stores as usual) for 3 days
each, then the default chain for 3 and for 14 days, and prints one table: rows, wall
seconds, rows/s, CPU seconds, rows per CPU second and peak RSS. Rows/s should not fall
as the chain grows; RSS grows with the stores but not with the days.

    python bench/bench_scale.py [--quick] [--workers N] [--format csv|parquet]
                                [--sizes 42,210,420] [--days 3] [--long 14]

``--quick`` is 42 and 210 stores for 2 days and 2 vs 6 days (a few minutes less).
The machine's load average is printed with each row: figures on a shared machine move.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_engine import Result, run  # noqa: E402

BASE_STORES, BASE_DCS = 42, 5


def scaled(stores: int) -> dict[str, int]:
    """The default chain's volume with ``stores`` stores and DCs in the same ratio."""
    return {"stores": stores, "dcs": max(1, round(stores * BASE_DCS / BASE_STORES))}


def line(label: str, r: Result) -> str:
    rows = sum(r.rows.values())
    load = os.getloadavg()[0]
    return (
        f"{label:<22} {r.days:>4} {rows:>12,} {r.wall:>8.1f} {rows / r.wall:>11,.0f} "
        f"{r.cpu:>8.1f} {rows / r.cpu:>11,.0f} {r.peak_mb:>8.0f} {load:>6.2f}"
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="42 and 210 stores, 2 days; 2 vs 6")
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--format", choices=("csv", "parquet"), default="csv")
    ap.add_argument("--sizes", default="42,210,420", help="store counts (comma-separated)")
    ap.add_argument("--days", type=int, default=3, help="days of each chain size (3)")
    ap.add_argument("--long", type=int, default=14, help="the long period at 42 stores (14)")
    args = ap.parse_args()
    sizes = [int(x) for x in args.sizes.split(",")]
    days, long = args.days, args.long
    if args.quick:
        sizes, days, long = [s for s in sizes if s <= 210], 2, 6
    if min(sizes) < 1 or days < 1 or long <= days:
        ap.error("--sizes must be >= 1, --days >= 1 and --long > --days")

    print(
        f"scenarios/default.yaml scaled, from 2024-03-04, {args.workers} worker(s), "
        f"{args.format}; {os.cpu_count()} CPUs (shared: see the load column)\n"
    )
    head = (
        f"{'run':<22} {'days':>4} {'rows':>12} {'wall s':>8} {'rows/s':>11} "
        f"{'CPU s':>8} {'rows/CPU s':>11} {'RSS MB':>8} {'load':>6}"
    )
    print(head)
    print("-" * len(head))
    by_size = {}
    for stores in sizes:
        v = scaled(stores)
        r = run(days, args.workers, args.format, v)
        by_size[stores] = r
        print(line(f"{stores} stores, {v['dcs']} DCs", r), flush=True)
    short = by_size.get(BASE_STORES) or run(days, args.workers, args.format, scaled(BASE_STORES))
    longer = run(long, args.workers, args.format, scaled(BASE_STORES))
    print(line(f"{BASE_STORES} stores, {BASE_DCS} DCs", longer), flush=True)
    print(
        f"\npeak RSS {long} days / {days} days at {BASE_STORES} stores: "
        f"{longer.peak_mb / short.peak_mb:.2f} (memory must not grow with days)"
    )
    first, last = by_size[sizes[0]], by_size[sizes[-1]]
    per = [sum(r.rows.values()) / r.cpu for r in (first, last)]
    print(
        f"rows per CPU second {sizes[-1]} / {sizes[0]} stores: {per[1] / per[0]:.2f} "
        "(must not fall as the chain grows)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
