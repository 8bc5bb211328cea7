"""Shards on a local Spark (``local[2]``): ``sim.spark.history`` and ``run --engine spark``
give the local engine's rows, row for row (and, writing files, its bytes).

Needs ``pyspark`` (the ``spark`` extra) and a Java runtime; skipped without them. One small
scenario (2 shards, 1 day) and one session keep it short: most of its time is the JVM.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import ROOT, generate, run_cli, write_yaml

pytest.importorskip("pyspark")
if shutil.which("java") is None:
    pytest.skip("no Java runtime for Spark", allow_module_level=True)

import sim  # noqa: E402
from sim.contract.schema import FACTS, TABLES  # noqa: E402
from sim.report.metrics import read_facts  # noqa: E402

DAY = "2024-03-02"  # a Saturday: trucks, online orders and every table have rows


def scenario(folder: Path) -> Path:
    data: dict[str, Any] = {
        "seed": 3,
        "volume": {
            "stores": 3,
            "dcs": 2,
            "total_geographies": 20,
            "total_customers": 1500,
            "total_products": 500,
            "customers_per_day": 200,
        },
        "calendar": {"start": DAY, "end": DAY},
        "paths": {"dictionaries": str(ROOT / "dictionaries"), "output": "output"},
    }
    return write_yaml(folder, "spark", data, {})


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    from pyspark.sql import SparkSession

    env = {"PYSPARK_PYTHON": sys.executable, "PYTHONPATH": str(ROOT)}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    session = (
        SparkSession.builder.master("local[2]")
        .appName("retail-sim-test")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .getOrCreate()
    )
    yield session
    session.stop()
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("spark")
    sc = scenario(base)
    return sc, generate(sc, base / "local")


def test_spark_history_equals_the_local_engine_row_for_row(
    spark: Any, files: tuple[Path, Path]
) -> None:
    sc, local = files
    frames = sim.spark.history(spark, sc)
    assert sorted(frames) == sorted(t.name for t in FACTS)
    for name, df in frames.items():
        got = df.toArrow()
        want = read_facts(local, name)
        assert got.column_names == TABLES[name].names + ["dt"], name
        if want is None:  # no rows that day (e.g. trucks on a first day)
            assert got.num_rows == 0, name
            continue
        assert {str(d) for d in got["dt"].to_pylist()} == {DAY}, name
        rows = got.drop_columns(["dt"]).cast(want.schema)
        assert rows.sort_by("TraceId").equals(want.sort_by("TraceId")), name
    assert frames["receipts"].count() > 0
    receipts = dict(frames["receipts"].dtypes)
    assert receipts["EventTS"] == "timestamp" and receipts["Total"] == "decimal(12,2)"


def test_engine_spark_writes_the_local_engines_bytes(
    spark: Any, files: tuple[Path, Path], tmp_path: Path
) -> None:
    sc, local = files
    out = tmp_path / "spark"
    assert run_cli("run", sc, "--output", out, "--engine", "spark", "--quiet") == 0
    for part in ("master", "facts", "closing"):
        a = {p.relative_to(local): p.read_bytes() for p in (local / part).rglob("*") if p.is_file()}
        b = {p.relative_to(out): p.read_bytes() for p in (out / part).rglob("*") if p.is_file()}
        assert a.keys() == b.keys() and a == b, part
