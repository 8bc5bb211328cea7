"""Shards as Spark tasks: ``sim.spark.history(spark, ...)`` and ``run --engine spark``.

The unit of parallel work is the shard (one DC and its stores, every day in order), so
a job is ``spark.range(n_shards, numPartitions=n_shards).mapInArrow(...)``: one task per
shard, parallelism = the number of DCs. Each task runs the same shard-day loop as the
local engine (:mod:`sim.run.history`), once per shard:

* :func:`history` keeps the rows in Spark: each task emits every table's day as one
  Arrow IPC chunk tagged with its table, the tagged frame is persisted (the simulation
  runs once), then split into one typed DataFrame per fact table (plus ``dt``).
* :func:`run_history_spark` (the CLI's ``--engine spark``) has each task call
  :func:`~sim.run.history.run_shard` itself, writing partitions and checkpoints under the
  output folder, which every executor must see (a local folder on ``local[N]``, a mounted
  or shared path on a cluster); the driver then records the run as the local engine does.

Either way the rows equal the local engine's, row for row.
"""

from __future__ import annotations

import functools
import tempfile
import time
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from sim.config.calendar import sim_origin_ms
from sim.config.clock import WallClock
from sim.config.scenario import Period, Scenario, load_scenario, resolve_period
from sim.contract.delta import delta_schema
from sim.contract.schema import FACTS, TABLES
from sim.errors import InputError
from sim.run.files import FileRecorder
from sim.run.history import Plan, Summary, prepare, record_generated, run_shard
from sim.run.shard import ShardLoop
from sim.world.model import load_master
from sim.world.recorder import Chunk

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import DataFrame, SparkSession

TAGGED = pa.schema(
    [
        pa.field("table", pa.string(), False),
        pa.field("dt", pa.date32(), False),
        pa.field("shard", pa.int64(), False),
        pa.field("data", pa.binary(), False),
    ]
)
COUNTS = "shard long, table string, rows long"


class MemoryRecorder(FileRecorder):
    """The fast-forward recorder, keeping each table's day in memory instead of a file."""

    def __init__(self, seed: int, shard: int, t0_ms: int) -> None:
        super().__init__(seed, shard, t0_ms, Path("."), "parquet")
        self.days: list[tuple[date, str, pa.Table]] = []

    def _write_table(self, day: date, table: str, parts: list[Chunk]) -> None:
        self.days.append((day, table, self.day_rows(day, table, parts)))


def shard_days(
    sc: Scenario, master: dict[str, pa.Table], shard: int, days: list[date]
) -> Iterator[tuple[date, str, pa.Table]]:
    """Simulate ``days`` of ``shard`` from the opening state; each table's day in turn."""
    rec = MemoryRecorder(sc.seed, shard, sim_origin_ms(days[0]))
    loop = ShardLoop(sc, Path("."), shard, days[0], rec, master)
    for _ in loop.run(days, checkpoint=False):
        rec.wait()
        done, rec.days = rec.days, []
        yield from sorted(done, key=lambda x: x[1])
    loop.close()


# -- tasks (module level, so Spark pickles them by reference) -----------------------------
def _simulate_task(
    sc: Scenario, master: dict[str, pa.Table], days: list[date], batches: Iterator[Any]
) -> Iterator[pa.RecordBatch]:
    for batch in batches:
        for shard in batch.column(0).to_pylist():
            for day, table, rows in shard_days(sc, master, int(shard) + 1, days):
                sink = pa.BufferOutputStream()
                with pa.ipc.new_stream(sink, rows.schema) as w:
                    w.write_table(rows)
                yield pa.record_batch(
                    [[table], [day], [int(shard) + 1], [sink.getvalue().to_pybytes()]],
                    schema=TAGGED,
                )


def _decode_task(table: str, batches: Iterator[Any]) -> Iterator[pa.RecordBatch]:
    out = _out_schema(table)
    for batch in batches:
        for dt, data in zip(
            batch.column("dt").to_pylist(), batch.column("data").to_pylist(), strict=True
        ):
            rows = pa.ipc.open_stream(data).read_all()
            rows = rows.cast(delta_schema(rows.schema))
            rows = rows.append_column(out.field("dt"), pa.array([dt] * rows.num_rows, pa.date32()))
            yield from rows.to_batches()


def _run_shard_task(
    sc: Scenario, root: str, first: date, days: list[date], batches: Iterator[Any]
) -> Iterator[pa.RecordBatch]:
    for batch in batches:
        for shard in batch.column(0).to_pylist():
            rows = run_shard(sc, Path(root), int(shard) + 1, first, days)
            names = sorted(rows)
            yield pa.record_batch(
                [[int(shard) + 1] * len(names), names, [rows[n] for n in names]],
                names=["shard", "table", "rows"],
            )


# -- schemas ------------------------------------------------------------------------------
def _out_schema(table: str) -> pa.Schema:
    schema = delta_schema(TABLES[table].arrow_schema())
    return schema.append(pa.field("dt", pa.date32(), False))


def spark_schema(table: str) -> Any:
    """The Spark StructType of fact table ``table`` (timestamps UTC, money decimal, + dt)."""
    from pyspark.sql import types as T

    def spark_type(t: pa.DataType) -> Any:
        if pa.types.is_int64(t):
            return T.LongType()
        if pa.types.is_string(t):
            return T.StringType()
        if pa.types.is_boolean(t):
            return T.BooleanType()
        if pa.types.is_float64(t):
            return T.DoubleType()
        if pa.types.is_decimal(t):
            return T.DecimalType(t.precision, t.scale)
        if pa.types.is_timestamp(t):
            return T.TimestampType()
        if pa.types.is_date32(t):
            return T.DateType()
        raise TypeError(f"{table}: no Spark type for {t}")

    return T.StructType(
        [T.StructField(f.name, spark_type(f.type), f.nullable) for f in _out_schema(table)]
    )


# -- entry points -------------------------------------------------------------------------
def history(
    spark: SparkSession,
    scenario: str | Path | Scenario,
    start: str | date | None = None,
    end: str | date | None = None,
    now: datetime | None = None,
) -> dict[str, DataFrame]:
    """Simulate business days ``start`` .. ``end`` (default: the scenario's calendar) on
    Spark, one task per shard; one DataFrame per fact table, with its ``dt`` column.

    The master data is built on the driver (in a temporary folder, as the local engine
    writes and reads it) and shipped to the tasks with them.
    """
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    now = now or WallClock.from_env().now()
    sc = scenario if isinstance(scenario, Scenario) else load_scenario(scenario, now=now)
    period = resolve_period(sc, now)
    first = _as_day(start) or period.first
    last = _as_day(end) or period.last
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    with tempfile.TemporaryDirectory(prefix="retail-sim-master-") as tmp:
        prepare(sc, Period(first=first, last=last, resolved_at=period.resolved_at), Path(tmp))
        master = load_master(Path(tmp), sc.output.format)
    n = sc.volume.dcs
    tagged = (
        spark.range(n, numPartitions=n)
        .mapInArrow(functools.partial(_simulate_task, sc, master, days), _tagged_ddl())
        .persist(StorageLevel.MEMORY_AND_DISK)
    )
    tagged.count()  # the simulation runs here, once per shard
    return {
        spec.name: tagged.filter(F.col("table") == spec.name).mapInArrow(
            functools.partial(_decode_task, spec.name), spark_schema(spec.name)
        )
        for spec in FACTS
    }


def _tagged_ddl() -> str:
    return "table string, dt date, shard long, data binary"


def run_history_spark(
    sc: Scenario, plan: Plan, master: str | None = None, spark: SparkSession | None = None
) -> Summary:
    """The CLI's ``run --engine spark``: ``plan.days`` of every shard as Spark tasks
    writing the output folder (visible to every executor), then the run is recorded."""
    started = time.perf_counter()
    if spark is None:
        try:
            from pyspark.sql import SparkSession
        except ImportError:
            raise InputError(
                "--engine spark needs pyspark and pandas: pip install 'retail-sim[spark]'"
            ) from None
        builder = SparkSession.builder.appName("retail-sim")
        spark = (builder.master(master) if master else builder).getOrCreate()
    first = date.fromisoformat(plan.state.first_day)
    n = len(plan.shards)
    task = functools.partial(_run_shard_task, sc, str(plan.root.resolve()), first, plan.days)
    rows = spark.range(n, numPartitions=n).mapInArrow(task, COUNTS).collect()
    totals: dict[str, int] = {}
    for r in rows:
        totals[r["table"]] = totals.get(r["table"], 0) + r["rows"]
    seconds = time.perf_counter() - started
    record_generated(
        sc,
        plan.root,
        plan.state,
        plan.days[0],
        plan.days[-1],
        totals,
        seconds=round(seconds, 2),
        engine="spark",
        tasks=n,
    )
    return Summary(totals, seconds, len(plan.days))


def _as_day(value: str | date | None) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(value)
