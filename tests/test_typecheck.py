"""The type checker is clean: ``python -m mypy sim`` (settings in pyproject.toml)."""

from __future__ import annotations

import subprocess
import sys

from tests.helpers import ROOT


def test_mypy_finds_no_error() -> None:
    res = subprocess.run(
        [sys.executable, "-m", "mypy", "sim"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert res.returncode == 0, res.stdout + res.stderr
