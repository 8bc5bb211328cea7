"""pyarrow alone writing the rows of a run, against the run that made them.

Runs ``python -m sim run`` on bench_engine's copy of scenarios/default.yaml (``--days``
business days from 2024-03-04, one worker by default) in a child and times it; then reads
every fact partition it wrote back into memory (not timed) and times pyarrow alone
writing the same tables again, one file per partition, on one thread:

* ``pyarrow``: ``pyarrow.csv.write_csv`` / ``pyarrow.parquet.write_table`` with their
  default options, from tables whose timestamps are already text for CSV;
* ``writer``: the project's own :func:`sim.contract.writer.write_table` (the same
  options, ISO timestamps, atomic rename), the floor of what a run spends writing.

Prints rows/s of each and the run's ratio to pyarrow alone (issue 15: within 2.5x).

    python bench/bench_writer.py [--days N] [--workers N] [--format csv|parquet]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_engine import run  # noqa: E402

from sim.contract.schema import TABLES  # noqa: E402
from sim.contract.writer import _csv_ready, read_table, write_table  # noqa: E402


def partitions(facts: Path, fmt: str) -> list[tuple[Path, pa.Table]]:
    """Every fact file under ``facts`` with its table, as the engine wrote it."""
    files = sorted(facts.rglob(f"*.{fmt}"))
    schema = {
        name: TABLES[name].arrow_schema() for name in {p.relative_to(facts).parts[0] for p in files}
    }
    return [
        (p.relative_to(facts), read_table(p, schema[p.relative_to(facts).parts[0]])) for p in files
    ]


def pyarrow_alone(tables: list[tuple[Path, pa.Table]], fmt: str, out: Path) -> float:
    if fmt == "csv":  # text timestamps, as the files hold them: conversion not timed
        tables = [(p, _csv_ready(t)) for p, t in tables]
    pa.set_cpu_count(1)
    started = time.perf_counter()
    for rel, table in tables:
        path = out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if fmt == "csv":
            pacsv.write_csv(table, path)
        else:
            pq.write_table(table, path)
    return time.perf_counter() - started


def project_writer(tables: list[tuple[Path, pa.Table]], fmt: str, out: Path) -> float:
    started = time.perf_counter()
    for rel, table in tables:
        write_table(table, out / rel, fmt)
    return time.perf_counter() - started


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--days", type=int, default=7)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--format", choices=("csv", "parquet"), default="csv")
    args = ap.parse_args()
    result = run(args.days, args.workers, args.format, keep=True)
    rows = sum(result.rows.values())
    assert result.output is not None
    tables = partitions(result.output / "facts", args.format)
    assert sum(t.num_rows for _, t in tables) == rows, "every fact row read back"
    with tempfile.TemporaryDirectory(prefix="bench-writer-") as tmp:
        alone = pyarrow_alone(tables, args.format, Path(tmp) / "pyarrow")
        ours = project_writer(tables, args.format, Path(tmp) / "writer")
    result.cleanup()
    print(f"{rows:,} fact rows in {len(tables)} {args.format} files ({args.days} days)")
    wall = result.wall
    print(f"the run, {args.workers} worker(s), wall   {wall:7.1f} s  {rows / wall:12,.0f} rows/s")
    print(f"pyarrow alone, 1 thread        {alone:7.1f} s  {rows / alone:12,.0f} rows/s")
    print(f"sim.contract.writer alone      {ours:7.1f} s  {rows / ours:12,.0f} rows/s")
    print(f"the run / pyarrow alone        {result.wall / alone:7.1f} x   (target: <= 2.5 x)")
    print(f"load average                   {os.getloadavg()[0]:7.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
