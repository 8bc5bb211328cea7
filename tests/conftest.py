"""Shared fixtures (helpers live in tests/helpers.py): the project root as working
directory, and a small generated output folder made once per test session."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.helpers import ROOT, TINY, run_cli


@pytest.fixture(autouse=True)
def _project_root(monkeypatch: pytest.MonkeyPatch) -> None:
    """Scenario paths are relative to the project root, as for a user."""
    monkeypatch.chdir(ROOT)


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
