"""Same seed and scenario => the same bytes: across worker counts, repeated runs, and a
period generated in one run or continued over several; a finished period is not redone;
an output folder of another scenario is refused."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from sim.contract.schema import CHANGE_FEEDS, TABLES
from sim.contract.writer import read_table
from sim.validate import validate_output
from tests.helpers import generate, run_cli, small_world, write_yaml

FEEDS = {t.name for t in CHANGE_FEEDS}  # only with master_changes (tests/test_master_changes*)
FACTS = sorted(n for n, t in TABLES.items() if t.kind == "fact" and n not in FEEDS)
FIRST, LAST = "2024-03-01", "2024-03-04"  # Fri..Mon: a weekend and deferred rows cross days
COMPARED = ("facts", "closing", "master")  # everything the user reads


def scenario(folder: Path, name: str, **changes: Any) -> Path:
    """A small two-shard scenario file; ``changes`` replace top-level sections or keys."""
    data = small_world(5, FIRST, LAST, per_day=400)
    return write_yaml(folder, name, data, changes)


def files(root: Path, parts: tuple[str, ...] = COMPARED) -> dict[str, bytes]:
    """Relative path -> bytes of every file under ``parts`` of ``root``."""
    found = {
        p.relative_to(root).as_posix(): p.read_bytes()
        for part in parts
        for p in sorted((root / part).rglob("*"))
        if p.is_file()
    }
    assert found, f"no files under {root}"
    return found


def assert_same_files(a: Path, b: Path) -> None:
    fa, fb = files(a), files(b)
    assert sorted(fa) == sorted(fb), set(fa) ^ set(fb)
    differ = [name for name in fa if fa[name] != fb[name]]
    assert differ == [], f"{len(differ)} files differ, e.g. {differ[:5]}"


def snapshot(root: Path) -> dict[str, tuple[bytes, int]]:
    """Every file of an output folder with its bytes and modification time."""
    return {
        p.relative_to(root).as_posix(): (p.read_bytes(), p.stat().st_mtime_ns)
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("scenarios")


@pytest.fixture(scope="module")
def one_run(base: Path) -> Path:
    """The reference: days 1-4 in one run, one worker."""
    out = base / "one_run"
    generate(scenario(base, "full"), out, workers=1)
    return out


@pytest.fixture(scope="module")
def continued(base: Path) -> Path:
    """Days 1-2, then days 3-4 by a second run whose calendar ends later."""
    out = base / "continued"
    generate(scenario(base, "first_half", calendar={"start": FIRST, "end": "2024-03-02"}), out)
    generate(scenario(base, "full"), out)
    return out


# --- the reference output is a real one --------------------------------------------


def test_reference_output_has_every_fact_table_for_every_day_and_shard(one_run: Path) -> None:
    days = ["2024-03-01", "2024-03-02", "2024-03-03", "2024-03-04"]
    for table in ("receipts", "receipt_lines", "store_inventory_txn", "marketing", "ble_pings"):
        found = sorted(p.relative_to(one_run / "facts" / table).as_posix()
                       for p in (one_run / "facts" / table).rglob("*.csv"))  # fmt: skip
        assert found == [f"dt={d}/part-{s:03d}.csv" for d in days for s in (1, 2)], table
    assert sorted(p.name for p in (one_run / "facts").iterdir()) == FACTS


# --- workers, repeated runs, seeds ---------------------------------------------------


def test_two_workers_write_the_same_bytes_as_one(base: Path, one_run: Path) -> None:
    out = base / "two_workers"
    generate(scenario(base, "full"), out, workers=2)
    assert_same_files(one_run, out)


def test_the_same_seed_twice_writes_the_same_bytes(base: Path, one_run: Path) -> None:
    out = base / "again"
    generate(scenario(base, "full"), out, workers=1)
    assert_same_files(one_run, out)


def test_a_different_seed_writes_different_data(base: Path, one_run: Path) -> None:
    out = base / "seed6"
    generate(scenario(base, "seed6", seed=6), out)
    a, b = files(one_run, ("facts",)), files(out, ("facts",))
    for table in FACTS:
        mine = [n for n in a if n.startswith(f"facts/{table}/")]
        assert mine, table
        assert any(a[n] != b.get(n) for n in mine), f"{table}: identical with another seed"
    schema = TABLES["receipts"].arrow_schema()
    ids_a = {t for p in sorted((one_run / "facts/receipts").rglob("*.csv"))
             for t in read_table(p, schema)["TraceId"].to_pylist()}  # fmt: skip
    ids_b = {t for p in sorted((out / "facts/receipts").rglob("*.csv"))
             for t in read_table(p, schema)["TraceId"].to_pylist()}  # fmt: skip
    assert ids_a and ids_b and not ids_a & ids_b  # trace ids derive from the seed


# --- continuation ----------------------------------------------------------------------


def test_continuing_a_period_writes_the_same_bytes_as_one_run(
    one_run: Path, continued: Path
) -> None:
    assert_same_files(one_run, continued)


def test_continuation_is_recorded_in_the_generation_state(one_run: Path, continued: Path) -> None:
    whole = json.loads((one_run / "generation_state.json").read_text())
    parts = json.loads((continued / "generation_state.json").read_text())
    assert (parts["first_day"], parts["last_day"]) == (FIRST, LAST)
    assert [(r["first_day"], r["last_day"]) for r in parts["runs"]] == [
        (FIRST, "2024-03-02"),
        ("2024-03-03", LAST),
    ]
    assert parts["rows"] == whole["rows"]
    assert sum(r["rows"]["receipts"] for r in parts["runs"]) == whole["rows"]["receipts"]


def test_three_runs_with_mixed_workers_write_the_same_bytes(base: Path, one_run: Path) -> None:
    out = base / "three_runs"
    generate(scenario(base, "day1", calendar={"start": FIRST, "end": FIRST}), out, workers=2)
    generate(scenario(base, "day3", calendar={"start": FIRST, "end": "2024-03-03"}), out)
    generate(scenario(base, "full"), out)
    assert_same_files(one_run, out)


def test_a_continued_output_validates(continued: Path) -> None:
    assert run_cli("validate", continued) == 0
    report = validate_output(continued)
    assert report.check("store_inventory").status == "PASS"  # opening + deltas = closing
    assert report.rows["facts/receipts"] > 0


def test_parquet_continuation_matches_one_parquet_run_and_validates(base: Path) -> None:
    parquet = {"format": "parquet"}
    whole, parts = base / "pq_whole", base / "pq_parts"
    generate(scenario(base, "pq_full", output=parquet), whole)
    half = {"start": FIRST, "end": "2024-03-02"}
    generate(scenario(base, "pq_half", output=parquet, calendar=half), parts)
    generate(scenario(base, "pq_full", output=parquet), parts)
    assert_same_files(whole, parts)
    assert all(name.endswith(".parquet") for name in files(whole))
    assert run_cli("validate", parts) == 0


# --- a finished period, another scenario ---------------------------------------------


@pytest.mark.parametrize("end", [LAST, "2024-03-02"], ids=["same-period", "shorter-period"])
def test_rerunning_a_finished_period_writes_nothing_and_says_so(
    base: Path,
    one_run: Path,
    tmp_path: Path,
    end: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "out"
    shutil.copytree(one_run, out)
    before = snapshot(out)
    again = scenario(tmp_path, "again", calendar={"start": FIRST, "end": end})
    capsys.readouterr()
    assert run_cli("run", again, "--output", out, "--workers", "1") == 0
    printed = capsys.readouterr()
    assert "nothing to generate" in printed.out
    assert f"{FIRST} .. {LAST}" in printed.out  # what the folder already holds
    assert snapshot(out) == before


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"seed": 6}, "seed: 5 in the output, 6 now"),
        (
            {"volume": {"customers_per_day": 500}},
            "volume.customers_per_day: 400.0 in the output, 500.0 now",
        ),
        ({"volume": {"stores": 4}}, "volume.stores: 3 in the output, 4 now"),
    ],
    ids=["seed", "volume", "stores"],
)
def test_a_different_scenario_is_refused_and_writes_nothing(
    one_run: Path,
    tmp_path: Path,
    changes: dict[str, Any],
    named: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "out"
    shutil.copytree(one_run, out)
    before = snapshot(out)
    later = {"start": FIRST, "end": "2024-03-06"}  # there would be days to generate
    other = scenario(tmp_path, "other", calendar=later, **changes)
    capsys.readouterr()
    assert run_cli("run", other, "--output", out, "--quiet", "--workers", "1") == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "different scenario" in err
    assert named in err, err
    assert snapshot(out) == before
