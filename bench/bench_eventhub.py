"""Throughput of the Event Hubs sink against the local AMQP endpoint.

Starts `tests/eventhub_endpoint.py` in a separate process (it counts what it receives),
then pushes synthetic ~350-byte envelopes for 66 partition keys through `EventHubSink`
as fast as backpressure allows, and prints sustained events/s (delivered, after a warm-up)
and the peak RSS of this process.

    python bench/bench_eventhub.py [--events 600000] [--producers 2] [--batch-size 500]
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sim.config.realtime import RealtimeSettings  # noqa: E402
from sim.sinks.base import OutEvent  # noqa: E402
from sim.sinks.deadletter import DeadLetterStore  # noqa: E402
from sim.sinks.eventhub import EventHubSink  # noqa: E402

KEYS = [f"store-{i}" for i in range(1, 61)] + [f"dc-{i}" for i in range(1, 7)]
TEMPLATE = (
    b'{"event_type":"receipt_line_added","payload":{"ReceiptId":"R-%08d","Line":%d,'
    b'"ProductID":%d,"Qty":2,"UnitPrice":3.49,"ExtPrice":6.98,"PromoCode":null,'
    b'"StoreID":"%s"},"trace_id":"%s","ingest_timestamp":"2024-01-01T08:15:30.250Z",'
    b'"schema_version":1,"source":"retail-sim"}'
)


def make_chunk(start: int, size: int) -> list[OutEvent]:
    out = []
    for n in range(start, start + size):
        key = KEYS[n % len(KEYS)]
        trace = f"t-{n:016x}"
        body = TEMPLATE % (n // 7, n % 7, n % 9973, key.encode(), trace.encode())
        out.append(OutEvent(key, body, trace, "receipt_line_added"))
    return out


async def run(conn_str: str, args: argparse.Namespace, out_dir: Path) -> None:
    settings = RealtimeSettings(
        batch_size=args.batch_size,
        producers=args.producers,
        max_buffer=args.max_buffer,
        send_timeout_s=10,
    )
    sink = EventHubSink(settings, conn_str, DeadLetterStore(out_dir))
    await sink.start()
    proc = psutil.Process()
    chunk = 1000
    warm = args.events // 10
    t_warm = sent_warm = None
    rss_samples = []
    t0 = time.perf_counter()
    for start in range(0, args.events, chunk):
        await sink.send(make_chunk(start, chunk))
        if t_warm is None and sink.metrics.events_sent >= warm:
            t_warm, sent_warm = time.perf_counter(), sink.metrics.events_sent
        if start % 50_000 == 0:
            rss_samples.append(proc.memory_info().rss)
    await sink.flush()
    t1 = time.perf_counter()
    await sink.close()
    m = sink.metrics
    if t_warm is None:
        t_warm, sent_warm = t0, 0
    rate = (m.events_sent - sent_warm) / (t1 - t_warm)
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        f"events={args.events} producers={args.producers} batch_size={args.batch_size} "
        f"max_buffer={args.max_buffer}"
    )
    print(
        f"delivered={m.events_sent} batches={m.batches} retries={m.retries} "
        f"dead_lettered={m.dead_lettered} avg_batch={m.events_sent / max(1, m.batches):.0f}"
    )
    print(f"sustained: {rate:,.0f} events/s ({m.bytes_sent / (t1 - t0) / 1e6:.1f} MB/s overall)")
    print(f"peak RSS: {peak_kib / 1024:.0f} MiB (sampled max {max(rss_samples) / 2**20:.0f} MiB)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=600_000)
    parser.add_argument("--producers", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--max-buffer", type=int, default=50_000)
    args = parser.parse_args()
    endpoint = subprocess.Popen(
        [sys.executable, str(ROOT / "tests" / "eventhub_endpoint.py"), "--discard"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert endpoint.stdout is not None
        conn_str = endpoint.stdout.readline().strip()
        with tempfile.TemporaryDirectory() as tmp:
            asyncio.run(run(conn_str, args, Path(tmp)))
        time.sleep(1.2)
    finally:
        endpoint.terminate()
        out, _ = endpoint.communicate(timeout=10)
    lines = [line for line in out.splitlines() if line.startswith("received")]
    if lines:
        print(f"endpoint {lines[-1]}")


if __name__ == "__main__":
    main()
