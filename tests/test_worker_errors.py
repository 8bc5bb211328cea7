"""A failure inside a shard's simulation ends the run with one clear line and exit 1."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.helpers import ROOT, TINY, generate, write_yaml

FIRST, SECOND = "2024-03-04", "2024-03-05"


@pytest.fixture(scope="module")
def one_day(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The tiny scenario's first day generated; the scenario file that continues it."""
    folder = tmp_path_factory.mktemp("worker-errors")
    data = yaml.safe_load(TINY.read_text())
    first = write_yaml(folder, "first", dict(data), {"calendar": {"end": FIRST}})
    out = generate(first, folder / "output")
    return out, write_yaml(folder, "both", yaml.safe_load(TINY.read_text()), {})


@pytest.mark.parametrize("workers", [1, 2])
def test_a_corrupt_checkpoint_ends_the_run_with_one_line(
    one_day: tuple[Path, Path], tmp_path: Path, workers: int
) -> None:
    import shutil

    out, scenario = one_day
    copy = tmp_path / "output"
    shutil.copytree(out, copy)
    (copy / "state" / f"shard-002-{FIRST}.pkl").write_bytes(b"not a pickle")
    res = subprocess.run(
        [sys.executable, "-m", "sim", "run", str(scenario), "--output", str(copy)]
        + ["--quiet", "--workers", str(workers)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert res.returncode == 1, res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in res.stderr, res.stderr
    assert lines[0].startswith(f"run failed: shard 2, day {SECOND}: "), lines
    assert "Traceback" not in " ".join(lines)
    # the shard that did not fail still wrote its day; the folder still says one day
    assert (copy / "facts" / "receipts" / f"dt={SECOND}" / "part-001.csv").exists()
    assert f'"last_day": "{FIRST}"' in (copy / "generation_state.json").read_text()
