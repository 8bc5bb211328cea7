"""Spark ``local[N]`` against the local process pool on a 200-store, 20-DC chain.

Runs ``python -m sim run`` on a copy of scenarios/default.yaml with 200 stores and 20 DCs
(``--stores`` / ``--dcs`` change them) for ``--days`` business days from 2024-03-04,
once per engine, each into its own temporary folder, and prints the wall seconds of each
command (Spark's JVM start-up included), fact rows, rows/s, and whether the outputs'
fact files are byte-identical.

    python bench/bench_spark.py [--days N] [--master local[2]] [--workers 1 2]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
FIRST = date(2024, 3, 4)


def scenario(folder: Path, days: int, stores: int, dcs: int) -> Path:
    data: dict[str, Any] = yaml.safe_load((ROOT / "scenarios" / "default.yaml").read_text())
    data["calendar"] = {"start": str(FIRST), "end": str(FIRST + timedelta(days=days - 1))}
    data["volume"]["stores"], data["volume"]["dcs"] = stores, dcs
    paths = data.setdefault("paths", {})
    paths["dictionaries"] = str(ROOT / paths.get("dictionaries", "dictionaries"))
    path = folder / "bench-spark.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def digest(root: Path) -> str:
    h = hashlib.sha256()
    for p in sorted((root / "facts").rglob("*")):
        if p.is_file():
            h.update(p.relative_to(root).as_posix().encode())
            h.update(p.read_bytes())
    return h.hexdigest()[:16]


def rows(root: Path) -> int:
    import json

    return sum(json.loads((root / "generation_state.json").read_text())["rows"].values())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--days", type=int, default=1)
    ap.add_argument("--stores", type=int, default=200)
    ap.add_argument("--dcs", type=int, default=20)
    ap.add_argument("--master", default="local[2]")
    ap.add_argument("--workers", type=int, nargs="+", default=[1])
    args = ap.parse_args()
    env = {**os.environ, "PYSPARK_PYTHON": sys.executable, "PYTHONPATH": str(ROOT)}
    with tempfile.TemporaryDirectory(prefix="bench-spark-") as tmp:
        sc = scenario(Path(tmp), args.days, args.stores, args.dcs)
        print(
            f"{args.stores} stores, {args.dcs} DCs, {args.days} day(s) from {FIRST}; "
            f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}"
        )
        runs = [("spark " + args.master, ["--engine", "spark", "--master", args.master])]
        runs += [(f"local --workers {w}", ["--workers", str(w)]) for w in args.workers]
        seen = set()
        for name, extra in runs:
            out = Path(tmp) / name.replace(" ", "_")
            cmd = [sys.executable, "-m", "sim", "run", str(sc), "--output", str(out), "--quiet"]
            started = time.perf_counter()
            subprocess.run(cmd + extra, cwd=ROOT, env=env, check=True, capture_output=True)
            wall = time.perf_counter() - started
            n = rows(out)
            seen.add(digest(out))
            print(f"{name:<22} {wall:8.1f} s  {n:>12,} rows  {n / wall:>10,.0f} rows/s")
        print("fact files identical across engines:", len(seen) == 1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
