"""Time ``python -m sim report`` on an output folder and print what it measured.

    python bench/bench_report.py OUTPUT [--against BASE]

Prints the fact rows in the output, the business days, wall and CPU seconds of the
report (measure + plots + HTML, written to a temporary file), peak memory, and the
rows per second; for an output shorter than a year, the time a year would take if it
grows with the rows (stated as an extrapolation). Generate the benchmark output with
an 8-store, 2-DC variant of scenarios/default.yaml in Parquet, e.g.

    python -m sim run /tmp/year8.yaml --quiet --workers 2
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sim.report.report import build, write_html  # noqa: E402


def fact_rows(root: Path) -> int:
    total = 0
    for f in (root / "facts").glob("*/dt=*/part-*.*"):
        if f.suffix == ".parquet":
            total += pq.read_metadata(f).num_rows
        else:
            with f.open("rb") as fh:
                total += sum(1 for _ in fh) - 1
    return total


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("output", type=Path)
    p.add_argument("--against", type=Path)
    args = p.parse_args()
    rows = fact_rows(args.output)
    cpu0, t0 = os.times(), time.perf_counter()
    r = build(args.output, args.against)
    with tempfile.TemporaryDirectory() as tmp:
        page = write_html(r, Path(tmp) / "index.html")
        size = page.stat().st_size
    wall = time.perf_counter() - t0
    cpu1 = os.times()
    cpu = (cpu1.user - cpu0.user) + (cpu1.system - cpu0.system)
    days = r.this.out.span_days
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    load = os.getloadavg()[0]
    print(f"output            {args.output} ({days} days, {rows:,} fact rows)")
    print(f"report            {wall:.1f} s wall, {cpu:.1f} s CPU (user+sys), peak {peak:,.0f} MB")
    per_cpu = rows / max(cpu, 1e-9)
    print(f"throughput        {rows / wall:,.0f} rows/s wall, {per_cpu:,.0f} rows/s CPU")
    print(f"html page         {size / 1024:,.0f} KiB; {r.summary()}")
    print(f"machine           {os.cpu_count()} cores, load average {load:.1f} at the end")
    if days < 360:
        scale = 366 / days
        print(
            f"a year (extrapolated x{scale:.1f} by days): about {wall * scale:.0f} s wall, "
            f"{cpu * scale:.0f} s CPU"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
