"""Master data that changes, in Delta and in real time: the SCD2 tables and the change
feed as Delta tables, a MERGE of the feed with deltalake's merge API, and the change
events of the stream joining the feed's rows."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from sim.config.calendar import day_start
from sim.config.scenario import load_scenario
from sim.contract.schema import TABLES
from sim.report.metrics import read_facts
from sim.run.feeder import StreamRecorder
from sim.run.outbox import Outbox
from sim.run.shard import load_shard, starting_state
from sim.validate import validate_output
from sim.world.day import ShardDay
from tests.helpers import generate, small_world, write_yaml
from tests.test_master_changes import FAST, NEW_CHECKS

deltalake = pytest.importorskip("deltalake")
DIMS = {"customers": "customers", "products": "products_master", "stores": "stores"}


def _world(tmp: Path, end: str, fmt: str) -> Path:
    data = small_world(13, "2024-03-01", end, stores=6, dcs=2, per_day=100, products=500)
    return write_yaml(
        tmp, f"w-{fmt}-{end}", data, {"master_changes": FAST, "output": {"format": fmt}}
    )


@pytest.fixture(scope="module")
def lake(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("lake")
    return generate(_world(tmp, "2024-03-03", "delta"), tmp / "out")


def test_delta_output_passes_the_checks(lake):
    for short in DIMS:
        assert deltalake.DeltaTable(str(lake / "dimensions" / f"{short}_scd2")).version() >= 0
    report = validate_output(lake)
    assert report.ok, [(c.name, c.examples) for c in report.checks if c.status == "FAIL"]
    assert all(report.check(n).status == "PASS" for n in NEW_CHECKS)


def test_parquet_output_passes_the_checks(tmp_path):
    out = generate(_world(tmp_path, "2024-03-02", "parquet"), tmp_path / "pq")
    assert sorted(p.name for p in (out / "dimensions").iterdir()) == [
        "customers_scd2.parquet", "products_scd2.parquet", "stores_scd2.parquet"
    ]  # fmt: skip
    report = validate_output(out)
    assert report.ok and all(report.check(n).status == "PASS" for n in NEW_CHECKS)


def _dimension_columns(t: pa.Table, dim: str) -> pa.Table:
    names = TABLES[dim].names
    t = t.select(names)
    return t.take(pa.array(np.argsort(t["ID"].to_numpy(), kind="stable")))


def test_merge_of_the_feed_gives_the_current_dimension(lake, tmp_path):
    """The docs' MERGE: the first versions, then the latest change per ID merged in."""
    for short, dim in DIMS.items():
        versions = deltalake.DeltaTable(str(lake / "dimensions" / f"{short}_scd2"))
        v = versions.to_pyarrow_table()
        first = v.filter(pc.equal(v["ValidFrom"], pc.min(v["ValidFrom"])))
        target = tmp_path / short
        deltalake.write_deltalake(str(target), _dimension_columns(first, dim))
        feed = read_facts(lake, f"{short}_cdc")
        assert feed is not None and feed.num_rows > 0
        order = np.lexsort((feed["ID"].to_numpy(), feed["EventTS"].cast(pa.int64()).to_numpy()))
        feed = feed.take(pa.array(order))
        ids = feed["ID"].to_numpy()
        _, from_end = np.unique(ids[::-1], return_index=True)  # the latest change per ID
        source = feed.take(pa.array(np.sort(len(ids) - 1 - from_end)))
        cols = {n: f"s.{n}" for n in TABLES[dim].names}
        (
            deltalake.DeltaTable(str(target))
            .merge(source, "t.ID = s.ID", source_alias="s", target_alias="t")
            .when_matched_delete(predicate="s.Op = 'd'")
            .when_matched_update(updates=cols, predicate="s.Op <> 'd'")
            .when_not_matched_insert(updates=cols, predicate="s.Op <> 'd'")
            .execute()
        )
        merged = _dimension_columns(deltalake.DeltaTable(str(target)).to_pyarrow_table(), dim)
        current = _dimension_columns(v.filter(v["IsCurrent"]), dim)
        assert merged.num_rows == current.num_rows
        assert merged.to_pylist() == current.to_pylist(), short


def test_stream_reports_the_changes_with_the_feeds_trace_ids(tmp_path):
    out = generate(_world(tmp_path, "2024-03-02", "csv"), tmp_path / "rt")
    scenario = _world(tmp_path, "2024-03-03", "csv")
    sc = load_scenario(scenario)
    day = date(2024, 3, 3)
    shard = load_shard(sc, out, 1, date(2024, 3, 1))
    outbox = Outbox(0)
    t0_ms = int(day_start(shard.first_day).timestamp() * 1000)
    rec = StreamRecorder(sc.seed, 1, t0_ms, tmp_path / "scratch", "csv", outbox)
    ShardDay(shard, starting_state(out, shard, day), day, rec).finish()
    rec.close()
    outbox.add(rec.take_staged())
    batch = outbox.due(2**62)
    assert batch is not None
    types = np.array(batch.event_type.to_pylist())
    assert {"customer_updated", "product_updated"} <= set(types)
    changes = ["customer_updated", "product_updated", "store_lifecycle_opened"]
    changes.append("store_lifecycle_closed")
    streamed = set(np.array(batch.trace_id.to_pylist())[np.isin(types, changes)])
    generate(scenario, out)  # the same day into the files
    written = set()
    for short in DIMS:
        t = read_facts(out, f"{short}_cdc")
        if t is not None:
            day_rows = t.filter(pc.equal(pc.cast(t["EventTS"], pa.date32()), pa.scalar(day)))
            written |= set(day_rows["TraceId"].to_pylist())
    mine = {tid for tid in written if tid in streamed}
    assert streamed and mine == streamed  # every change event is a row of the feed
