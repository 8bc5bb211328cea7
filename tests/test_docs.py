"""The committed reference pages are what ``python -m sim docs`` generates."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PAGES = ("tables.md", "events.md", "scenario.md")


def test_committed_reference_pages_equal_the_generated(tmp_path: Path):
    done = subprocess.run(
        [sys.executable, "-m", "sim", "docs", "--folder", str(tmp_path / "docs")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    stale = [
        p for p in PAGES if (tmp_path / "docs" / p).read_text() != (ROOT / "docs" / p).read_text()
    ]
    assert not stale, f"docs/{', docs/'.join(stale)} out of date: run python -m sim docs"
