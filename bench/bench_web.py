"""History generation from the web console against the CLI: same rate within 10%?

On a copy of scenarios/default.yaml fixed to ``--days`` business days from 2024-03-04,
each round writes master data first (not timed), then times history:

* CLI: ``python -m sim run SCENARIO --quiet --workers W`` in a child process;
* console: a ``python -m sim serve`` child on 127.0.0.1; ``POST /api/jobs/generate``,
  then its progress watched over SSE (``/api/jobs/<id>/events``, as the page does) until
  the job is done.

Both report the wall seconds of the history step (the CLI's include its process start-up;
the history run's own timer, without it, is printed too) and the fact rows written (from
``generation_state.json``), so rows/s compare like for like; the fact files of both are
hashed to show they are the same bytes. Rounds alternate CLI and console so that load
from other processes on a shared machine falls on both.

    python bench/bench_web.py [--days N] [--workers N] [--rounds N]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import yaml

ROOT = Path(__file__).resolve().parent.parent
FIRST = date(2024, 3, 4)


def scenario(folder: Path, days: int) -> Path:
    data: dict[str, Any] = yaml.safe_load((ROOT / "scenarios" / "default.yaml").read_text())
    data["calendar"] = {
        "start": FIRST.isoformat(),
        "end": (FIRST + timedelta(days=days - 1)).isoformat(),
    }
    data.setdefault("paths", {})["dictionaries"] = str(ROOT / "dictionaries")
    data["paths"]["output"] = str(folder / "out")
    path = folder / "bench.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def rows(out: Path) -> int:
    return sum(json.loads((out / "generation_state.json").read_text())["rows"].values())


def engine_seconds(out: Path) -> float:
    """The history run's own timer (``run_history``), without process start-up."""
    return json.loads((out / "generation_state.json").read_text())["runs"][-1]["seconds"]


def digest(out: Path) -> str:
    h = hashlib.sha256()
    for p in sorted((out / "facts").rglob("part-*")):
        h.update(str(p.relative_to(out)).encode())
        h.update(p.read_bytes())
    return h.hexdigest()[:16]


def cli(folder: Path, days: int, workers: int) -> tuple[float, int, str, float]:
    sc = scenario(folder, days)
    run = [sys.executable, "-m", "sim"]
    subprocess.run([*run, "master", str(sc)], cwd=ROOT, check=True, capture_output=True)
    t0 = time.perf_counter()
    cmd = [*run, "run", str(sc), "--quiet", "--workers", str(workers)]
    subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True)
    out = folder / "out"
    return time.perf_counter() - t0, rows(out), digest(out), engine_seconds(out)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_sse(client: httpx.Client, job: str) -> dict[str, Any]:
    last: dict[str, Any] = {}
    with client.stream("GET", f"/api/jobs/{job}/events", timeout=None) as r:
        for line in r.iter_lines():
            if line.startswith("data: "):
                last = json.loads(line[6:])
    return last


def console(folder: Path, days: int, workers: int) -> tuple[float, int, str, float]:
    sc = scenario(folder, days)
    port = free_port()
    cmd = [sys.executable, "-m", "sim", "serve", "--scenario", str(sc), "--port", str(port)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as c:
            for _ in range(300):
                try:
                    c.get("/health")
                    break
                except httpx.HTTPError:
                    time.sleep(0.1)
            job = c.post("/api/jobs/generate", json={"master_only": True}).json()["id"]
            assert wait_sse(c, job)["status"] == "done"
            t0 = time.perf_counter()
            job = c.post("/api/jobs/generate", json={"workers": workers}).json()["id"]
            end = wait_sse(c, job)
            seconds = time.perf_counter() - t0
            assert end["status"] == "done", end
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)
    out = folder / "out"
    return seconds, rows(out), digest(out), engine_seconds(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--days", type=int, default=2)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    results: dict[str, list[tuple[float, int, str, float]]] = {"cli": [], "console": []}
    for i in range(args.rounds):
        for name, fn in (("cli", cli), ("console", console))[:: 1 if i % 2 == 0 else -1]:
            with tempfile.TemporaryDirectory() as tmp:
                r = fn(Path(tmp), args.days, args.workers)
            results[name].append(r)
            print(
                f"round {i + 1} {name:8s} {r[0]:7.2f} s  {r[1]:,} rows  {r[1] / r[0]:,.0f} rows/s"
                f"  (engine timer {r[3]:.2f} s, {r[1] / r[3]:,.0f} rows/s)"
            )
    rates = {k: statistics.median(n / s for s, n, _, _ in v) for k, v in results.items()}
    engine = {k: statistics.median(n / e for _, n, _, e in v) for k, v in results.items()}
    same = {d for v in results.values() for _, _, d, _ in v}
    print(
        f"\ndefault scenario, {args.days} day(s), {args.workers} worker(s), "
        f"{args.rounds} round(s); "
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
    )
    print(f"CLI     median {rates['cli']:,.0f} rows/s")
    print(f"console median {rates['console']:,.0f} rows/s")
    print(f"console / CLI = {rates['console'] / rates['cli']:.3f} (target >= 0.90)")
    print(
        f"engine timer only (no process start-up): CLI {engine['cli']:,.0f}, console "
        f"{engine['console']:,.0f} rows/s, ratio {engine['console'] / engine['cli']:.3f}"
    )
    print(f"fact files identical across all runs: {'yes' if len(same) == 1 else 'NO'}")


if __name__ == "__main__":
    main()
