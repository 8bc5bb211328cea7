"""The pipeline stages plugged together as the real-time loop does each tick:
envelope -> faults -> rate cap -> sink (jsonl, CloudEvents), on an injected clock."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import orjson

from sim.run.faults import FaultStage
from sim.run.rate import RateLimiter
from sim.sinks import load_realtime_settings, make_sink
from sim.sinks.base import OutEvent
from tests.helpers import Pending, envelope

RATE = 200


def test_faults_rate_and_envelope_together(tmp_path: Path) -> None:
    settings = load_realtime_settings(
        {
            "sink": "jsonl",
            "envelope": "cloudevents",
            "max_events_per_second": RATE,
            "faults": {
                "duplicate": {"share": 0.05, "delay": {"mean_s": 0.5}},
                "late": {"share": 0.05, "delay": {"distribution": "fixed", "mean_s": 2}},
                "malformed": {"share": 0.01, "kinds": ["wrong_type"]},
            },
        }
    )
    t = [1_000.0]
    clock = lambda: t[0]  # noqa: E731
    faults = FaultStage.from_settings(settings.faults, 11, tmp_path, clock=clock)
    limiter = RateLimiter.from_settings(settings, clock=clock)
    sink = make_sink(settings, tmp_path, None)
    ingest = datetime(2024, 3, 6, 16, 0, tzinfo=UTC)
    produced: list[OutEvent] = []
    per_tick: list[int] = []

    async def loop() -> None:
        await sink.start()
        for tick in range(200):  # 20 simulated seconds at 0.1 s; the world makes 400/s
            batch = [
                Pending(0, "receipt_created", f"store-{i % 5}", f"T{tick}-{i}", {"Qty": i})
                for i in range(40)
            ]
            out = [
                OutEvent(e.partition_key, envelope(e, ingest), e.trace_id, e.event_type)
                for e in batch
            ]
            produced.extend(out)
            out = limiter.release(faults.apply(out))  # the two hooks
            per_tick.append(len(out))
            await sink.send(out)
            t[0] += 0.1
        limiter.offer(faults.drain())
        await sink.send(limiter.drain())
        faults.close()
        await sink.close()

    asyncio.run(loop())
    assert max(per_tick[10:-1]) <= RATE * 0.1 + 1  # the cap holds once the bucket emptied
    assert abs(sum(per_tick[:-1]) - RATE * 20) <= RATE * 20 * 0.05 + limiter.burst
    lines = [orjson.loads(x) for x in settings.jsonl_file(tmp_path).read_bytes().splitlines()]
    ids = Counter(e["id"] for e in lines)
    ledger = [
        orjson.loads(x)
        for x in (tmp_path / "realtime/fault_ledger.jsonl").read_bytes().splitlines()
    ]
    dupes = {r["message_id"] for r in ledger if r["fault"] == "duplicate"}
    assert set(ids) == {e.message_id for e in produced}  # nothing lost
    assert {i for i, n in ids.items() if n == 2} == dupes and dupes
    assert len(lines) == len(produced) + len(dupes)
    broken = {r["message_id"] for r in ledger if r["fault"] == "malformed"}
    assert broken == {e["id"] for e in lines if e["data"].get("Qty") == "#MALFORMED"}
    assert all(e["specversion"] == "1.0" and e["type"] == "receipt_created" for e in lines)
