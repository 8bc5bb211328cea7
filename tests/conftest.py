"""Shared fixtures: a small generated output folder, made once per test session."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from sim.cli import main

ROOT = Path(__file__).resolve().parent.parent
TINY = ROOT / "tests" / "scenarios" / "tiny.yaml"


@pytest.fixture(autouse=True)
def _project_root(monkeypatch: pytest.MonkeyPatch) -> None:
    """Scenario paths are relative to the project root, as for a user."""
    monkeypatch.chdir(ROOT)


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


@pytest.fixture(scope="session")
def tiny_output(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``tests/scenarios/tiny.yaml`` generated once; copy it before changing it."""
    out = tmp_path_factory.mktemp("tiny") / "output"
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        assert run_cli("run", TINY, "--output", out, "--quiet", "--workers", "1") == 0
    finally:
        os.chdir(cwd)
    return out


@pytest.fixture
def tiny_copy(tiny_output: Path, tmp_path: Path) -> Path:
    """A private copy of the tiny output, free to corrupt."""
    dst = tmp_path / "output"
    shutil.copytree(tiny_output, dst)
    return dst
