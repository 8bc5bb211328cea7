"""The byte oracle's small case: the tiny scenario writes the bytes the manifest records.

The manifest (``tests/oracle/manifest.json``) is written by ``bench/oracle.py --write``;
the large cases run there, on demand (``--check``), since they take minutes.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from tests.helpers import ROOT

sys.path.insert(0, str(ROOT / "bench"))

import oracle  # noqa: E402


def test_tiny_output_is_byte_identical_to_the_manifest(tmp_path: Path) -> None:
    want = json.loads((ROOT / "tests" / "oracle" / "manifest.json").read_text())["tiny"]
    got = oracle.tiny(tmp_path)
    assert oracle.compare(want, got) == []
    assert len(got) > 40  # master data, every fact table's partitions, closing snapshots
