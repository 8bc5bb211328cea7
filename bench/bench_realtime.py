"""Real time on the default chain, end to end to the local AMQP endpoint.

Generates the default chain's history up to yesterday once (into a temporary folder, or
``--history DIR`` to reuse one), then for each injected start time (11:00, 16:00 and
21:00 UTC) and each speed (``max`` and 600x) runs ``python -m sim run --realtime --sink
eventhub`` against ``tests/eventhub_endpoint.py`` (in this process, on 127.0.0.1) and
measures: time to the first event received by the endpoint (from process start), events/s
received over ``--window`` wall seconds after the first, the run's peak memory (RSS and
PSS summed over the session and its worker processes), the release lag p99 (from
``realtime/state.json``) and the time from SIGINT to exit. Prints a table.

    python bench/bench_realtime.py [--window 60] [--times 11:00 16:00 21:00] [--speeds max 600]
        [--workers N]   # realtime.workers (default: the scenario's, auto)
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.eventhub_endpoint import EventHubEndpoint  # noqa: E402

DAY = "2024-03-06"


WORKERS: list[object] = []  # --workers, if given


def scenario(tmp: Path, out: Path, days: int) -> Path:
    data = yaml.safe_load((ROOT / "scenarios" / "default.yaml").read_text())
    data["calendar"] = {"start": f"-{days}d", "end": "now"}
    if WORKERS:
        data.setdefault("realtime", {})["workers"] = WORKERS[0]
    data["paths"] = {"dictionaries": str(ROOT / "dictionaries"), "output": str(out)}
    path = tmp / f"{out.name}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def history(tmp: Path, days: int) -> Path:
    out = tmp / "history"
    path = scenario(tmp, out, days)
    env = {**os.environ, "RETAIL_SIM_NOW": f"{DAY}T10:30:00Z"}  # history up to yesterday
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "sim", "run", str(path), "--quiet"], cwd=ROOT, env=env, check=True
    )
    print(f"history: {days} days in {time.perf_counter() - started:.0f} s", flush=True)
    return out


def tree_memory(ps: psutil.Process) -> tuple[int, int]:
    """RSS and PSS of the session and its worker processes, in bytes. RSS counts the
    pages a forked worker shares with its parent twice; PSS shares them out."""
    rss = pss = 0
    for p in [ps, *ps.children(recursive=True)]:
        try:
            m = p.memory_full_info()
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        rss, pss = rss + m.rss, pss + m.pss
    return rss, pss


def one(hist: Path, tmp: Path, at: str, speed: str, window: float) -> dict[str, object]:
    out = tmp / f"run-{at.replace(':', '')}-{speed}"
    shutil.rmtree(out, ignore_errors=True)
    shutil.copytree(hist, out)
    path = scenario(tmp, out, 2)
    with EventHubEndpoint(partitions=4, keep_events=False) as ep:
        env = {
            **os.environ,
            "RETAIL_SIM_NOW": f"{DAY}T{at}:00Z",
            "AZURE_EVENTHUB_CONNECTION_STRING": ep.connection_string(),
        }
        cmd = [sys.executable, "-m", "sim", "run", str(path), "--realtime"]
        cmd += ["--sink", "eventhub", "--speed", speed, "--quiet"]
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stderr=subprocess.PIPE)
        ps = psutil.Process(proc.pid)
        peak = peak_pss = 0
        first = None
        while proc.poll() is None:
            rss, pss = tree_memory(ps)
            peak, peak_pss = max(peak, rss), max(peak_pss, pss)
            if first is None and ep.received_count:
                first = time.perf_counter() - t0
                n0, t1 = ep.received_count, time.perf_counter()
            if first is not None and time.perf_counter() - t1 >= window:
                break
            if time.perf_counter() - t0 > 600:
                break
            time.sleep(0.05)
        rate = (ep.received_count - n0) / (time.perf_counter() - t1) if first else 0.0
        sigint = time.perf_counter()
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            proc.kill()
        stop_s = time.perf_counter() - sigint
        time.sleep(0.5)
        state = json.loads((out / "realtime" / "state.json").read_text())
        shutil.rmtree(out, ignore_errors=True)
        return {
            "start": at,
            "speed": speed,
            "first_event_s": first,
            "events_per_s": rate,
            "peak_rss_mb": peak / 2**20,
            "peak_pss_mb": peak_pss / 2**20,
            "lag_p99_s": state.get("lag_p99_s"),
            "sigint_to_exit_s": stop_s,
            "exit": proc.returncode,
            "released": state.get("events_released"),
            "received": ep.received_count,
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--window", type=float, default=60.0, help="wall seconds measured")
    parser.add_argument("--times", nargs="+", default=["11:00", "16:00", "21:00"])
    parser.add_argument("--speeds", nargs="+", default=["max", "600"])
    parser.add_argument("--history", type=Path, help="reuse a generated history folder")
    parser.add_argument("--days", type=int, default=2, help="days of history to generate")
    parser.add_argument("--workers", help="realtime.workers: 1 (a thread), N or auto")
    args = parser.parse_args()
    if args.workers:
        WORKERS.append(args.workers if args.workers == "auto" else int(args.workers))
    with tempfile.TemporaryDirectory() as t:
        tmp = Path(t)
        hist = args.history or history(tmp, args.days)
        rows = []
        for at in args.times:
            for speed in args.speeds:
                row = one(hist, tmp, at, speed, args.window)
                rows.append(row)
                print(json.dumps(row), flush=True)
    print()
    print(
        "| start (UTC) | speed | first event (s) | events/s | peak RSS (MB) "
        "| peak PSS (MB) | lag p99 (s) | SIGINT to exit (s) |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        first = f"{r['first_event_s']:.1f}" if r["first_event_s"] is not None else "none"
        lag = r["lag_p99_s"]
        print(
            f"| {r['start']} | {r['speed']} | {first} | {r['events_per_s']:,.0f} "
            f"| {r['peak_rss_mb']:,.0f} | {r['peak_pss_mb']:,.0f} "
            f"| {lag if lag is not None else '-'} "
            f"| {r['sigint_to_exit_s']:.2f} |"
        )


if __name__ == "__main__":
    main()
