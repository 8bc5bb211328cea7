"""``output.format: delta``: one Delta table per fact and master table, a business day one
commit per table; the same data as Parquet, whatever the workers or split runs; a day
re-written replaces exactly its partition; an interrupted run leaves no half day."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.helpers import ROOT, generate, write_yaml

deltalake = pytest.importorskip("deltalake")

from sim.config.scenario import load_scenario, resolve_period  # noqa: E402
from sim.contract.delta import delta_files, read_delta, write_delta_day  # noqa: E402
from sim.contract.schema import CHANGE_FEEDS, TABLES  # noqa: E402
from sim.contract.writer import read_table  # noqa: E402
from sim.run import lake  # noqa: E402
from sim.run.history import prepare, run_history  # noqa: E402
from sim.validate import validate_output  # noqa: E402

FIRST, LAST = "2024-03-01", "2024-03-03"
FEEDS = {t.name for t in CHANGE_FEEDS}  # only with master_changes (tests/test_master_changes*)
FACTS = sorted(n for n, t in TABLES.items() if t.kind == "fact" and n not in FEEDS)
MASTERS = sorted(n for n, t in TABLES.items() if t.kind == "master")


def scenario(folder: Path, name: str, fmt: str = "delta", **changes: Any) -> Path:
    data: dict[str, Any] = {
        "seed": 11,
        "volume": {
            "stores": 3,
            "dcs": 2,
            "total_geographies": 20,
            "total_customers": 2000,
            "total_products": 600,
            "customers_per_day": 250,
        },
        "calendar": {"start": FIRST, "end": LAST},
        "output": {"format": fmt},
        "paths": {"dictionaries": str(ROOT / "dictionaries"), "output": "output"},
    }
    return write_yaml(folder, name, data, changes)


def contents(root: Path) -> dict[str, pa.Table]:
    """Every table of a Delta output as the contract's Arrow types, in stored order."""
    out = {f"facts/{t}": read_delta(root / "facts" / t, TABLES[t].arrow_schema()) for t in FACTS}
    for section in ("master", "closing"):
        for p in sorted((root / section).iterdir()):
            out[f"{section}/{p.name}"] = read_delta(p, TABLES[p.name].arrow_schema())
    return out


def assert_same_data(a: Path, b: Path) -> None:
    ca, cb = contents(a), contents(b)
    assert sorted(ca) == sorted(cb)
    differ = [k for k in ca if not ca[k].equals(cb[k])]
    assert differ == [], f"tables differ: {differ}"


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("delta")


@pytest.fixture(scope="module")
def one_run(base: Path) -> Path:
    return generate(scenario(base, "one"), base / "one")


def test_every_table_is_a_delta_table_partitioned_by_dt(one_run: Path) -> None:
    for t in FACTS:
        dt = deltalake.DeltaTable(str(one_run / "facts" / t))
        assert dt.metadata().partition_columns == ["dt"], t
    for t in MASTERS:
        assert deltalake.DeltaTable(str(one_run / "master" / t)).metadata().partition_columns == []
    assert not (one_run / lake.STAGING).exists(), "staged rows are removed after the commit"
    assert not any((one_run / "facts" / t).exists() for t in FEEDS)  # master_changes is off
    assert not (one_run / "dimensions").exists()


def test_types_are_fabric_readable(one_run: Path) -> None:
    """Timestamps are Delta ``timestamp`` (UTC), never ``timestamp_ntz``; protocol 1/2,
    so no deletion vectors or column mapping."""
    dt = deltalake.DeltaTable(str(one_run / "facts" / "receipts"))
    p = dt.protocol()
    assert (p.min_reader_version, p.min_writer_version) == (1, 2)
    assert not p.reader_features and not p.writer_features
    assert "delta.columnMapping.mode" not in dt.metadata().configuration
    fields = json.loads(dt.schema().to_json())["fields"]
    types = {f["name"]: f["type"] for f in fields}
    assert types["EventTS"] == "timestamp" and types["dt"] == "date"
    assert types["Total"] == "decimal(12,2)"
    log = "".join(p.read_text() for p in (one_run / "facts" / "receipts" / "_delta_log").glob("*"))
    assert "timestamp_ntz" not in log and "timestampNtz" not in log


def test_one_commit_per_table_and_business_day(one_run: Path) -> None:
    for t in FACTS:
        history = deltalake.DeltaTable(str(one_run / "facts" / t)).history()
        assert len(history) == 3, t  # 2024-03-01 .. 03
        predicates = sorted(h["operationParameters"]["predicate"] for h in history)
        assert predicates == [f"dt = '2024-03-0{d}'::date" for d in (1, 2, 3)], t


def test_delta_holds_the_same_rows_as_parquet(base: Path, one_run: Path) -> None:
    pq_out = generate(scenario(base, "pq", fmt="parquet"), base / "pq")
    for t in FACTS:
        files = sorted((pq_out / "facts" / t).glob("dt=*/part-*.parquet"))
        want = pa.concat_tables([pq.read_table(f) for f in files])
        got = read_delta(one_run / "facts" / t, TABLES[t].arrow_schema())
        assert got.equals(want.cast(got.schema)), t
    for t in MASTERS:
        want = read_table(pq_out / "master" / f"{t}.parquet", TABLES[t].arrow_schema())
        assert read_delta(one_run / "master" / t, TABLES[t].arrow_schema()).equals(want), t


def test_two_workers_and_split_runs_give_the_same_data(base: Path, one_run: Path) -> None:
    assert_same_data(generate(scenario(base, "two"), base / "two", workers=2), one_run)
    split = base / "split"
    generate(scenario(base, "half", calendar={"start": FIRST, "end": FIRST}), split, workers=2)
    generate(scenario(base, "rest"), split)
    assert_same_data(split, one_run)


def test_validate_runs_fully_on_a_delta_output(one_run: Path) -> None:
    report = validate_output(one_run)
    assert report.ok, [(c.name, c.status, c.examples) for c in report.checks]
    changes = {"scd2_versions", "scd2_facts", "cdc_replay"}  # only with master_changes
    assert {c.status for c in report.checks if c.name not in changes} == {"PASS"}
    assert {report.check(n).status for n in changes} == {"SKIP"}
    assert report.rows["facts/receipts"] > 0


def test_rewriting_a_day_replaces_exactly_that_partition(base: Path, one_run: Path) -> None:
    root = base / "rewrite"
    generate(scenario(base, "rw"), root)
    path = root / "facts" / "receipts"
    schema = TABLES["receipts"].arrow_schema()
    before = {f.path.name: f.day for f in delta_files(path)}
    day2 = date(2024, 3, 2)
    rows = read_delta(path, schema)
    only = pa.concat_tables(
        [read_table_file(f.path, schema) for f in delta_files(path) if f.day == day2]
    )
    write_delta_day(only, path, day2)
    write_delta_day(only, path, day2)  # idempotent
    after = {f.path.name: f.day for f in delta_files(path)}
    assert {n for n, d in after.items() if d != day2} == {n for n, d in before.items() if d != day2}
    assert read_delta(path, schema).equals(rows)


def read_table_file(path: Path, schema: pa.Schema) -> pa.Table:
    return pq.read_table(path).select(schema.names).cast(schema)


def test_an_interrupted_commit_is_redone_whole_by_the_next_run(
    base: Path, one_run: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The run dies after committing a few tables of the first day: the state does not move
    on, and the next run regenerates and replaces those days, as one clean run wrote them."""
    root = base / "interrupted"
    now = datetime(2024, 6, 1, tzinfo=UTC)
    sc = load_scenario(scenario(base, "int"), now=now)
    calls = {"n": 0}
    real = lake.write_delta_day

    def dies_on_the_fifth(*args: Any, **kw: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 5:
            raise KeyboardInterrupt
        real(*args, **kw)

    monkeypatch.setattr(lake, "write_delta_day", dies_on_the_fifth)
    plan = prepare(sc, resolve_period(sc, now), root)
    with pytest.raises(KeyboardInterrupt):
        run_history(sc, plan, workers=1)
    assert json.loads((root / "generation_state.json").read_text())["last_day"] is None
    assert (root / lake.STAGING).exists()
    monkeypatch.setattr(lake, "write_delta_day", real)
    generate(scenario(base, "int"), root)
    assert not (root / lake.STAGING).exists()
    assert_same_data(root, one_run)
    assert validate_output(root).ok
