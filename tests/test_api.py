"""The notebook API: ``sim.load``, ``World.master / history / check``; the same bytes as
the CLI, one business day at a time."""

from __future__ import annotations

import subprocess
import sys
from datetime import date
from pathlib import Path

import pyarrow as pa
import pytest

import sim
from sim.contract.schema import TABLES
from sim.errors import InputError
from sim.report.metrics import read_facts
from sim.run.output import GenerationState
from tests.helpers import ROOT, TINY

COMPARED = ("facts", "closing", "master")


def files(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for part in COMPARED
        for p in sorted((root / part).rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def api_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[sim.Day]]:
    out = tmp_path_factory.mktemp("api") / "output"
    world = sim.load(ROOT / TINY.relative_to(ROOT), output=out)
    return out, list(world.history())


def test_import_sim_is_light() -> None:
    code = "import sim, sys; print(sorted({'simpy', 'pyarrow', 'numpy'} & set(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert done.stdout.strip() == "[]", done.stderr


def test_history_writes_the_same_bytes_as_the_cli(
    api_run: tuple[Path, list[sim.Day]], tiny_output: Path
) -> None:
    out, _ = api_run
    a, b = files(out), files(tiny_output)
    assert sorted(a) == sorted(b)
    assert [k for k in a if a[k] != b[k]] == []


def test_history_yields_each_business_day_with_its_tables(
    api_run: tuple[Path, list[sim.Day]],
) -> None:
    out, days = api_run
    assert [d.day for d in days] == [date(2024, 3, 4), date(2024, 3, 5)]
    for name in ("receipts", "receipt_lines", "online_orders"):
        assert all(d[name].schema == TABLES[name].arrow_schema() for d in days)
        joined = pa.concat_tables([d[name] for d in days])
        assert joined.equals(read_facts(out, name)), name
    assert days[0]["receipts"].num_rows > 0


def test_history_of_days_on_disk_reads_them_without_simulating(
    api_run: tuple[Path, list[sim.Day]],
) -> None:
    out, days = api_run
    runs = len(GenerationState.load(out).runs)
    again = list(sim.load(TINY, output=out).history("2024-03-05", "2024-03-05"))
    assert [d.day for d in again] == [date(2024, 3, 5)]
    assert again[0]["receipts"].equals(days[1]["receipts"])
    assert len(GenerationState.load(out).runs) == runs


def test_master_and_check(api_run: tuple[Path, list[sim.Day]]) -> None:
    out, _ = api_run
    world = sim.load(TINY, output=out)
    master = world.master()
    assert master["stores"].num_rows == 4
    assert master["products_master"].schema == TABLES["products_master"].arrow_schema()
    report = world.check()
    changes = {"scd2_versions", "scd2_facts", "cdc_replay"}  # only with master_changes
    assert report.ok and {c.status for c in report.checks if c.name not in changes} == {"PASS"}
    assert report.rows["facts/receipts"] == sum(d["receipts"].num_rows for d in api_run[1])


def test_a_bad_date_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="expected a date"):
        next(sim.load(TINY, output=tmp_path / "o").history("March"))
    assert not (tmp_path / "o").exists()
