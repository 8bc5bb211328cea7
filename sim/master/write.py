"""Master data on disk: all tables appear at once or not at all."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pyarrow as pa

from sim.contract.writer import write_table

STAGING = ".master.tmp"  # master data is written here, then renamed to master/


def write_master(tables: dict[str, pa.Table], root: Path, fmt: str) -> list[Path]:
    """Write ``root/master/<table>.<fmt>`` atomically: all tables appear at once.

    They are written to ``root/.master.tmp/`` and that folder is renamed to ``master/``,
    so a crash or a full disk half-way leaves no master data (only the staging folder,
    which the next run removes) and a rerun simply writes it again.
    """
    staging, final = root / STAGING, root / "master"
    if staging.exists():
        shutil.rmtree(staging)
    names = [write_table(t, staging / name, fmt).name for name, t in tables.items()]
    if final.is_dir() and any(final.iterdir()):  # replacing tables one by one (tests, bench)
        for name in names:
            os.replace(staging / name, final / name)
        shutil.rmtree(staging)
    else:
        os.replace(staging, final)  # an empty master/ is replaced too
    return [final / name for name in names]
