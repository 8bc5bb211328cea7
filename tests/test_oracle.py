"""The byte oracle: the tiny scenario and three days of the default chain write the bytes
the manifest records, on this CPU and with numpy held to its baseline SIMD kernels.

The manifest (``tests/oracle/manifest.json``) is written by ``bench/oracle.py --write``;
its other cases run there, on demand (``--check``), since they take minutes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from numpy._core import _multiarray_umath as umath

from tests.helpers import ROOT

sys.path.insert(0, str(ROOT / "bench"))

import oracle  # noqa: E402

MANIFEST = ROOT / "tests" / "oracle" / "manifest.json"
# The SIMD levels numpy can dispatch to beyond its baseline that this CPU has (AVX2,
# AVX-512, ...): NPY_DISABLE_CPU_FEATURES turns them off, as on an older CPU.
ABOVE_BASELINE = [f for f in umath.__cpu_dispatch__ if umath.__cpu_features__.get(f)]


def _want(case: str) -> dict[str, str]:
    return json.loads(MANIFEST.read_text())[case]


def test_tiny_output_is_byte_identical_to_the_manifest(tmp_path: Path) -> None:
    got = oracle.tiny(tmp_path)
    assert oracle.compare(_want("tiny"), got) == []
    assert len(got) > 40  # master data, every fact table's partitions, closing snapshots


def test_default_chain_is_byte_identical_to_the_manifest(tmp_path: Path) -> None:
    got = oracle.default_csv(tmp_path)
    assert oracle.compare(_want("default_csv"), got) == []
    assert any("ble_pings" in k for k in got) and any("dc_inventory_txn" in k for k in got)


@pytest.mark.skipif(not ABOVE_BASELINE, reason="numpy runs its baseline kernels only here")
def test_default_chain_bytes_do_not_depend_on_the_simd_level() -> None:
    """numpy's log, exp and power kernels round differently under AVX-512, AVX2 and SSE;
    the model does not use them (``sim.contract.portable``), so the bytes hold."""
    env = {**os.environ, "NPY_DISABLE_CPU_FEATURES": " ".join(ABOVE_BASELINE)}
    run = subprocess.run(
        [sys.executable, str(ROOT / "bench/oracle.py"), "--check", str(MANIFEST)]
        + ["--cases", "default_csv"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "default_csv: identical" in run.stdout
