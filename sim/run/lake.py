"""Delta output: shards stage a day's rows, then each table commits the day once.

With ``output.format: delta`` every shard's :class:`~sim.run.files.FileRecorder` writes its
partitions as Parquet under ``<root>/_staging/facts/<table>/dt=<day>/part-<shard>.parquet``
(the same code and bytes as ``format: parquet``). Several shards — in one process or
many — produce the same table and day, and a Delta commit must not race another writer,
so nothing touches the Delta log while shards run. When every shard has finished the
days (before the generation state moves on), :func:`commit_days` writes each table's day
in one commit: the shards' rows in shard order, a predicate overwrite of ``dt = day``.
An interrupted run therefore leaves each table either with the whole day or without it
(or with the day of an earlier run, which the next run replaces), never half of it.
"""

from __future__ import annotations

import shutil
from datetime import date, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from sim.contract.delta import write_delta_day
from sim.contract.schema import CHANGE_FEEDS, FACTS

STAGING = "_staging"


def fact_target(root: Path, fmt: str) -> tuple[Path, str]:
    """Where a shard's recorder writes its partitions, and in which file format."""
    return (root / STAGING, "parquet") if fmt == "delta" else (root, fmt)


def clear_staging(root: Path) -> None:
    """Drop what an interrupted run staged but did not commit."""
    shutil.rmtree(root / STAGING, ignore_errors=True)


def commit_days(root: Path, first: date, last: date, feeds: bool = False) -> dict[str, int]:
    """Commit days ``first`` .. ``last`` of every fact table from the staging area; return
    rows committed per table. Then remove the staged files. The change feeds
    (``<dim>_cdc``) are tables only with ``feeds`` (``master_changes`` on)."""
    rows: dict[str, int] = {}
    staged = root / STAGING / "facts"
    n = (last - first).days + 1
    for day in (first + timedelta(days=i) for i in range(n)):
        for spec in FACTS:
            if spec in CHANGE_FEEDS and not feeds:
                continue
            part = staged / spec.name / f"dt={day.isoformat()}"
            files = sorted(part.glob("part-*.parquet"))
            schema = spec.arrow_schema()
            table = (
                pa.concat_tables([pq.read_table(f, schema=schema) for f in files])
                if files
                else schema.empty_table()
            )
            write_delta_day(table, root / "facts" / spec.name, day)
            rows[spec.name] = rows.get(spec.name, 0) + table.num_rows
    clear_staging(root)
    return rows
