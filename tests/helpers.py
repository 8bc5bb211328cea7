"""Shared test helpers: the CLI, scenario files, reading facts, and an in-memory world.

``conftest.py`` holds fixtures only; everything a test file imports lives here. The
in-memory world (:func:`world`, :func:`day_context`, :class:`MemoryRecorder`) builds
master data with :func:`sim.master.build.build_master` and runs processes against a
:class:`sim.world.context.DayContext` without writing or reading any file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc
import simpy
import yaml

from sim.cli import main
from sim.config.calendar import day_start
from sim.config.scenario import Scenario
from sim.master.build import build_master
from sim.master.dictionaries import load_dictionaries
from sim.report.metrics import read_facts
from sim.run.events import SCHEMA_VERSION, SOURCE, ingest_text
from sim.world.context import DAY, DayContext
from sim.world.day import Shard
from sim.world.disruptions import Disruptions
from sim.world.model import Catalog, ShardMaster, day_number
from sim.world.recorder import Recorder
from sim.world.state import WorldState
from sim.world.till import Promotions

ROOT = Path(__file__).resolve().parent.parent
TINY = ROOT / "tests" / "scenarios" / "tiny.yaml"


# -- the CLI and scenario files -------------------------------------------------------------
def run_cli(*args: str | os.PathLike) -> int:
    return main([str(a) for a in args])


def write_yaml(folder: Path, name: str, data: dict[str, Any], changes: dict[str, Any]) -> Path:
    """``folder/name.yaml`` from ``data`` with ``changes`` merged in (a section dict is
    merged key by key, anything else replaced)."""
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def small_world(
    seed: int,
    start: str,
    end: str,
    *,
    stores: int = 3,
    dcs: int = 2,
    customers: int = 3000,
    products: int = 800,
    per_day: int = 400,
    geographies: int = 20,
) -> dict[str, Any]:
    """A small scenario as a dict (the test files' worlds differ only in these)."""
    return {
        "seed": seed,
        "volume": {
            "stores": stores,
            "dcs": dcs,
            "total_geographies": geographies,
            "total_customers": customers,
            "total_products": products,
            "customers_per_day": per_day,
        },
        "calendar": {"start": start, "end": end},
        "paths": {"dictionaries": str(ROOT / "dictionaries"), "output": "output"},
    }


def generate(scenario_file: Path, out: Path, workers: int = 1) -> Path:
    """Run a scenario into ``out`` from the project root (module fixtures run before the
    autouse chdir); the run must succeed."""
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        code = run_cli("run", scenario_file, "--output", out, "--quiet", "--workers", str(workers))
    finally:
        os.chdir(cwd)
    assert code == 0, f"run {scenario_file} into {out} exited {code}"
    return out


# -- reading outputs --------------------------------------------------------------------------
def facts(root: Path, table: str, columns: list[str] | None = None) -> pa.Table:
    """A fact table of an output; it must have rows."""
    t = read_facts(root, table, columns)
    assert t is not None and t.num_rows > 0, f"no rows in {root}/facts/{table}"
    return t


def ms(col: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """Timestamps as epoch milliseconds."""
    return col.cast(pa.timestamp("ms", tz="UTC")).cast(pa.int64()).to_numpy()


def cents(col: pa.ChunkedArray) -> np.ndarray:
    """Money as integer cents: exact for decimals, rounded for floats."""
    if pa.types.is_decimal(col.type):
        scaled = pc.multiply(col, pa.scalar(100, pa.decimal128(12, 2)))
        return scaled.cast(pa.decimal128(16, 0)).cast(pa.int64()).to_numpy()
    return np.round(col.cast(pa.float64()).to_numpy() * 100).astype(np.int64)


# -- an in-memory world -----------------------------------------------------------------------
class MemoryRecorder(Recorder):
    """Keeps every recorded row in memory: ``rows[table]`` is a list of Arrow tables."""

    def __init__(self, seed: int, shard: int, t0_ms: int) -> None:
        super().__init__(seed, shard, t0_ms)
        self.rows: dict[str, list[pa.Table]] = {}

    def emit(self, table: str, ms: np.ndarray, key: np.ndarray, cols: dict[str, Any]) -> None:
        self.rows.setdefault(table, []).append(self.build(self.day, table, ms, key, cols))

    def table(self, name: str) -> pa.Table:
        """All rows of ``name`` recorded so far (a table without columns when none)."""
        parts = self.rows.get(name, [])
        return pa.concat_tables(parts) if parts else pa.table({})


_DICTIONARIES: dict[str, pa.Table] = {}


def world(sc: Scenario, first_day: date, shard: int = 1) -> Shard:
    """A shard's master data, catalog and disruptions, built in memory."""
    if not _DICTIONARIES:
        _DICTIONARIES.update(load_dictionaries(ROOT / "dictionaries"))
    master = build_master(sc, _DICTIONARIES, first_day)
    m = ShardMaster.from_master(sc, master, shard)
    t0 = day_start(first_day).timestamp()
    disruptions = Disruptions.build(sc, master, shard, t0, m.store_ids)
    return Shard(sc, m, Catalog.from_master(master), disruptions, first_day)


def recorder(shard: Shard) -> MemoryRecorder:
    return MemoryRecorder(
        shard.sc.seed, shard.m.shard, int(day_start(shard.first_day).timestamp() * 1000)
    )


def day_context(
    shard: Shard, day: date, rec: Recorder, state: WorldState | None = None
) -> DayContext:
    """A bare day context (no processes running yet) for business day ``day``."""
    state = state or WorldState.opening(shard.m)
    start = (day - shard.first_day).days * DAY
    ctx = DayContext(
        sc=shard.sc,
        m=shard.m,
        catalog=shard.catalog,
        disruptions=shard.disruptions,
        env=simpy.Environment(initial_time=start),
        rec=rec,
        day=day,
        day_no=day_number(day),
        start=start,
        end=start + DAY,
        t0=day_start(shard.first_day).timestamp(),
        factor=1.0,
        promos=Promotions.for_day(shard.sc, shard.catalog, day),
        **state.stocks(),
    )
    rec.start_day(day, ctx.end, state.deferred)
    return ctx


@dataclass(frozen=True)
class Pending:
    """A hand-made event for tests of the stream's stages (not from a simulated world)."""

    ms: int
    event_type: str
    partition_key: str
    trace_id: str
    payload: dict[str, Any]


def envelope(e: Pending, ingest: datetime) -> bytes:
    """The native envelope of a hand-made event, as the engine writes it."""
    return orjson.dumps(
        {
            "event_id": f"{e.trace_id}:{e.event_type}",
            "event_type": e.event_type,
            "payload": e.payload,
            "trace_id": e.trace_id,
            "ingest_timestamp": ingest_text(ingest),
            "schema_version": SCHEMA_VERSION,
            "source": f"{SOURCE}/{e.partition_key}",
        }
    )
