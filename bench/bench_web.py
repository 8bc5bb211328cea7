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

``--stream``: real time, console against CLI, to the local AMQP endpoint
(``tests/eventhub_endpoint.py``, in this process on 127.0.0.1; the children's official
``azure-eventhub`` SDK talks AMQP to it). The default chain's history up to the day before
2024-03-06 is generated once (``bench_realtime.history``, clock injected; or ``--history
DIR``); each round copies it to a fresh folder and streams it, with ``RETAIL_SIM_NOW`` at
``--at`` (11:00 UTC) on that day and ``--speed`` (max), once per side:

* CLI: ``python -m sim run SCENARIO --realtime --sink eventhub --speed S --quiet``,
  stopped with SIGINT;
* console: ``python -m sim serve --output DIR --scenario SCENARIO --port P``, then
  ``POST /api/stream/start {"sink": "eventhub", "speed": S}``, stopped with
  ``POST /api/stream/stop``.

Each reports the time to the first event received (CLI: from the child's start; console:
from the POST, and from the serve child's start), the events/s received over ``--window``
wall seconds after the first, and released (``realtime/state.json``, written on stop) ==
received (nothing lost). The first ``CAPTURE`` bytes of raw AMQP payloads of each run are
kept (not the rest: memory stays bounded) and decoded afterwards: the event ids and
contents (the body without its ``ingest_timestamp``) of the events whose ``EventTS`` falls
before the earliest end every run covered (less a margin for batches sent out of order)
must be the same in every run. (The events of one release slice go out on concurrent
producers and arrive interleaved, up to about a slice out of order: twice the worst
lateness seen is left off the end.) Rounds alternate the side that goes first; the ratio is of
the median events/s.

With ``--page`` the console is also polled as an open Live page polls it (status,
statistics, stores and the last 100 events, once a second) while it is measured.

    python bench/bench_web.py --stream [--rounds 3] [--window 30] [--speed max] [--at 11:00]
        [--page] [--history DIR]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import bench_realtime  # noqa: E402 - bench/ is the script's folder (puts ROOT on sys.path)
import httpx
import orjson
import yaml

from tests.eventhub_endpoint import EventHubEndpoint, decode_events  # noqa: E402

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


def wait_healthy(c: httpx.Client, seconds: float = 30.0) -> None:
    """Until the console answers ``/health`` (it is starting in a child process)."""
    deadline = time.perf_counter() + seconds
    while True:
        try:
            c.get("/health")
            return
        except httpx.HTTPError:
            if time.perf_counter() > deadline:
                raise
            time.sleep(0.05)


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
            wait_healthy(c)
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


# -- stream mode ----------------------------------------------------------------------------
CAPTURE = 24 * 2**20  # raw payload bytes kept per run for the comparison of events
MARGIN_MS = 5 * 60_000  # at least this (simulated ms) is left off the end a capture covers
INGEST = re.compile(rb'"ingest_timestamp":"[^"]*"')


@dataclass
class Streamed:
    side: str
    first_s: float | None  # to the first event received (CLI: child start; console: POST)
    first_from_spawn_s: float | None  # console: from the serve child's start
    rate: float  # events/s received over the window
    released: int | None  # realtime/state.json's events_released, written on stop
    received: int
    exit: int | None
    events: list[tuple[int, str, bytes]]  # (EventTS ms, event_id, content digest) captured


def _fresh(hist: Path, tmp: Path, name: str) -> tuple[Path, Path]:
    out = tmp / name
    shutil.rmtree(out, ignore_errors=True)
    shutil.copytree(hist, out)
    return out, bench_realtime.scenario(tmp, out, 2)


def _env(ep: EventHubEndpoint, at: str) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "RETAIL_SIM_NOW": f"{bench_realtime.DAY}T{at}:00Z",
        "AZURE_EVENTHUB_CONNECTION_STRING": ep.connection_string(),
    }


def _measure(ep: EventHubEndpoint, proc: subprocess.Popen, t0: float, window: float):
    """(seconds from ``t0`` to the first event received, events/s over ``window`` after)."""
    while ep.received_count == 0:
        if proc.poll() is not None or time.perf_counter() - t0 > 600:
            return None, 0.0
        time.sleep(0.02)
    first = time.perf_counter() - t0
    n0, t1 = ep.received_count, time.perf_counter()
    while proc.poll() is None and time.perf_counter() - t1 < window:
        time.sleep(0.05)
    return first, (ep.received_count - n0) / (time.perf_counter() - t1)


def _settled(ep: EventHubEndpoint) -> int:
    """The endpoint's count once nothing more arrives for a second (at most 15 s)."""
    n, quiet, deadline = ep.received_count, 0.0, time.monotonic() + 15
    while quiet < 1.0 and time.monotonic() < deadline:
        time.sleep(0.1)
        quiet = quiet + 0.1 if ep.received_count == n else 0.0
        n = ep.received_count
    return n


def _captured(ep: EventHubEndpoint) -> list[tuple[int, str, bytes]]:
    """The captured events: EventTS (ms), event id and a digest of the body without its
    ingest time (the only field that differs between two runs of the same events)."""
    out = []
    for payload in ep.payloads():
        for m in decode_events(payload):
            body = orjson.loads(m.body)
            ts = datetime.fromisoformat(body["payload"]["EventTS"].replace("Z", "+00:00"))
            content = hashlib.blake2b(INGEST.sub(b"", m.body), digest_size=8).digest()
            out.append((int(ts.timestamp() * 1000), body["event_id"], content))
    return out


def _state(out: Path) -> dict[str, Any]:
    path = out / "realtime" / "state.json"
    return json.loads(path.read_text()) if path.exists() else {}


def stream_cli(hist: Path, tmp: Path, at: str, speed: str, window: float) -> Streamed:
    out, path = _fresh(hist, tmp, "cli")
    with EventHubEndpoint(partitions=4, keep_events=False, keep_payload_bytes=CAPTURE) as ep:
        cmd = [sys.executable, "-m", "sim", "run", str(path), "--realtime"]
        cmd += ["--sink", "eventhub", "--speed", speed, "--quiet"]
        with open(tmp / "cli.log", "wb") as log:
            t0 = time.perf_counter()
            proc = subprocess.Popen(cmd, cwd=ROOT, env=_env(ep, at), stdout=log, stderr=log)
            first, rate = _measure(ep, proc, t0, window)
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=120)
            except subprocess.TimeoutExpired:
                proc.kill()
        received = _settled(ep)
        events = _captured(ep)
    released = _state(out).get("events_released")
    shutil.rmtree(out, ignore_errors=True)
    return Streamed("cli", first, first, rate, released, received, proc.returncode, events)


def _page(base: str, done: threading.Event) -> None:
    """What the Live page asks for, once a second, until ``done`` (``--page``)."""
    paths = ("/api/stream/status", "/api/stream/statistics", "/api/stream/stores")
    with httpx.Client(base_url=base, timeout=30) as c:
        while not done.wait(1.0):
            for path in (*paths, "/api/stream/events/recent?limit=100"):
                c.get(path).raise_for_status()


def stream_console(
    hist: Path, tmp: Path, at: str, speed: str, window: float, page: bool = False
) -> Streamed:
    out, path = _fresh(hist, tmp, "console")
    port = free_port()
    cmd = [sys.executable, "-m", "sim", "serve", "--output", str(out), "--scenario", str(path)]
    cmd += ["--port", str(port)]
    body = {"sink": "eventhub", "speed": "max" if speed == "max" else float(speed)}
    with (
        EventHubEndpoint(partitions=4, keep_events=False, keep_payload_bytes=CAPTURE) as ep,
        open(tmp / "console.log", "wb") as log,
    ):
        spawned = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=ROOT, env=_env(ep, at), stdout=log, stderr=log)
        try:
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=120) as c:
                wait_healthy(c)
                t0 = time.perf_counter()
                r = c.post("/api/stream/start", json=body)
                assert r.status_code == 200, r.text
                done = threading.Event()
                poller = threading.Thread(target=_page, args=(str(c.base_url), done))
                if page:
                    poller.start()
                first, rate = _measure(ep, proc, t0, window)
                done.set()
                if page:
                    poller.join()
                stopped = c.post("/api/stream/stop").json()
                assert stopped["state"] == "stopped" and not stopped["error"], stopped
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(120)
        received = _settled(ep)
        events = _captured(ep)
    released = _state(out).get("events_released")
    shutil.rmtree(out, ignore_errors=True)
    spawn = first + (t0 - spawned) if first is not None else None
    return Streamed("console", first, spawn, rate, released, received, proc.returncode, events)


def compare(runs: list[Streamed]) -> str:
    """Whether every run sent the same events over the simulated span all captures cover."""
    if any(not r.events for r in runs):
        return "no events captured"
    # batches of one release slice go out on concurrent producers and arrive interleaved:
    # an event may arrive after others up to ``late`` newer; twice that is left off the end
    late = max(_out_of_order(r.events) for r in runs)
    start = max(min(e[0] for e in r.events) for r in runs)
    end = min(max(e[0] for e in r.events) for r in runs) - max(MARGIN_MS, 2 * late)
    if end <= start:
        return f"NOT COMPARABLE: batches arrived up to {late / 1000:.0f} s out of order"
    sets = [sorted(e[1:] for e in r.events if start <= e[0] < end) for r in runs]
    span = f"{_iso(start)} .. {_iso(end)} simulated"
    same = all(x == sets[0] for x in sets) and all(len(set(x)) == len(x) for x in sets)
    verdict = "the same" if same else "DIFFERENT"
    return (
        f"{verdict} events (ids and contents) in every run over {span}: {len(sets[0]):,} "
        f"events per run (arrival at most {late / 1000:.1f} simulated s out of order)"
    )


def _out_of_order(events: list[tuple[int, str, bytes]]) -> int:
    """How far (ms) an event arrived behind the latest EventTS already received."""
    top, late = 0, 0
    for ts, _, _ in events:
        top = max(top, ts)
        late = max(late, top - ts)
    return late


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def stream_main(args: argparse.Namespace) -> None:
    results: dict[str, list[Streamed]] = {"cli": [], "console": []}
    with tempfile.TemporaryDirectory() as t:
        tmp = Path(t)
        hist = args.history or bench_realtime.history(tmp, 2)
        for i in range(args.rounds):
            for side, fn in (("cli", stream_cli), ("console", stream_console))[:: 1 - 2 * (i % 2)]:
                extra = {"page": True} if side == "console" and args.page else {}
                r = fn(hist, tmp, args.at, args.speed, args.window, **extra)
                results[side].append(r)
                spawn = f" ({r.first_from_spawn_s:.1f} s from spawn)" if side == "console" else ""
                first = f"{r.first_s:.1f} s{spawn}" if r.first_s is not None else "none"
                print(
                    f"round {i + 1} {side:8s} first event {first}, {r.rate:,.0f} events/s, "
                    f"released {r.released} received {r.received}, exit {r.exit}, "
                    f"load {os.getloadavg()[0]:.1f}",
                    flush=True,
                )
    runs = [*results["cli"], *results["console"]]
    print("\n| round | side | first event (s) | from spawn (s) | events/s | released | received |")
    print("|---|---|---|---|---|---|---|")
    for i in range(args.rounds):
        for r in (results["cli"][i], results["console"][i]):
            f1 = f"{r.first_s:.1f}" if r.first_s is not None else "-"
            f2 = f"{r.first_from_spawn_s:.1f}" if r.first_from_spawn_s is not None else "-"
            print(
                f"| {i + 1} | {r.side} | {f1} | {f2} | {r.rate:,.0f} | {r.released} "
                f"| {r.received} |"
            )
    rate = {k: statistics.median(r.rate for r in v) for k, v in results.items()}
    ratio = rate["console"] / rate["cli"] if rate["cli"] else float("nan")
    lost = [r for r in runs if r.released != r.received]
    print(
        f"\ndefault chain, start {bench_realtime.DAY}T{args.at}Z, speed {args.speed}, "
        f"{args.rounds} round(s) of {args.window:g} s"
        f"{', the Live page polling the console' if args.page else ''}; load average "
        f"{' '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} cores"
    )
    print(f"CLI     median {rate['cli']:,.0f} events/s")
    print(f"console median {rate['console']:,.0f} events/s")
    verdict = "within" if ratio >= 0.9 else "NOT within"
    print(f"console / CLI = {ratio:.3f} ({verdict} 10%)")
    print(f"nothing lost (released == received) in every run: {'yes' if not lost else 'NO'}")
    print(compare(runs))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--days", type=int, default=2)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=None, help="default 2 (history), 3 (stream)")
    ap.add_argument("--stream", action="store_true", help="real time: console vs CLI")
    ap.add_argument("--window", type=float, default=30.0, help="stream: wall seconds measured")
    ap.add_argument("--speed", default="max", help="stream: max or simulated s per wall s")
    ap.add_argument("--at", default="11:00", help="stream: injected start time (UTC)")
    ap.add_argument("--history", type=Path, help="stream: reuse a generated history folder")
    ap.add_argument(
        "--page", action="store_true", help="stream: poll the console as an open Live page does"
    )
    args = ap.parse_args()
    if args.stream:
        args.rounds = args.rounds or 3
        stream_main(args)
        return
    args.rounds = args.rounds or 2
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
