"""Dirty-data faults: shares, ground-truth ledger, determinism; only the stream changes."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import orjson
import pytest

from sim.config.faults import FaultSettings
from sim.errors import InputError
from sim.run.faults import FaultStage, LedgerRow, malform
from sim.sinks import load_realtime_settings
from sim.sinks.base import OutEvent
from sim.sinks.cloudevents import to_cloudevents

N = 20_000
SHARES = {"late": 0.05, "duplicate": 0.03, "out_of_order": 0.04, "malformed": 0.01}
KEYS = [f"store-{i}" for i in range(1, 9)]


class FakeClock:
    def __init__(self) -> None:
        self.t = 500.0

    def __call__(self) -> float:
        return self.t


def settings(**overrides: object) -> FaultSettings:
    data: dict = {
        "late": {"share": SHARES["late"], "delay": {"distribution": "exponential", "mean_s": 2}},
        "duplicate": {
            "share": SHARES["duplicate"],
            "delay": {"distribution": "fixed", "mean_s": 1},
        },
        "out_of_order": {"share": SHARES["out_of_order"], "window": 5, "max_hold_s": 600},
        "malformed": {"share": SHARES["malformed"]},
    }
    data.update(overrides)
    return FaultSettings.model_validate(data)


def stream(n: int = N) -> list[OutEvent]:
    out = []
    for i in range(n):
        key = KEYS[i % len(KEYS)]
        payload = {"EventTS": f"2024-03-06T16:00:{i % 60:02d}.000Z", "StoreID": i % 8, "Qty": i}
        body = orjson.dumps(
            {"event_type": "receipt_created", "payload": payload, "trace_id": f"t{i}"}
        )
        out.append(OutEvent(key, body, f"t{i}", "receipt_created"))
    return out


def run(stage: FaultStage, events: list[OutEvent], seed_ticks: int) -> list[OutEvent]:
    """Feed the stage in random lumps, 0.05-0.3 s apart, then run the clock out."""
    rng = np.random.default_rng(seed_ticks)
    clock = stage.clock
    out, i = [], 0
    while i < len(events):
        n = int(rng.integers(1, 200))
        out += stage.apply(events[i : i + n])
        i += n
        clock.t += float(rng.uniform(0.05, 0.3))  # type: ignore[attr-defined]
    for _ in range(100):
        clock.t += 10  # type: ignore[attr-defined]
        out += stage.apply([])
    out += stage.drain()
    return out


def test_each_fault_at_its_share_and_the_ledger_is_the_ground_truth() -> None:
    events = stream()
    stage = FaultStage(settings(), seed=42, clock=FakeClock())
    sent = run(stage, events, 1)
    rows = stage.take_rows()
    by_fault: dict[str, list[LedgerRow]] = {f: [] for f in SHARES}
    for row in rows:
        by_fault[row.fault].append(row)
    for fault, share in SHARES.items():
        sd = (N * share * (1 - share)) ** 0.5
        assert abs(len(by_fault[fault]) - N * share) <= 4 * sd, fault
    assert len({r.message_id for r in rows}) == len(rows)  # one row per faulted event
    # ground truth, from the stream itself
    original = {e.message_id: e for e in events}
    position = {e.message_id: i for i, e in enumerate(events)}
    copies = Counter(e.message_id for e in sent)
    assert set(copies) == set(original)  # nothing lost
    assert {m for m, c in copies.items() if c == 2} == {r.message_id for r in by_fault["duplicate"]}
    assert max(copies.values()) == 2
    changed = {e.message_id for e in sent if e.body != original[e.message_id].body}
    assert changed == {r.message_id for r in by_fault["malformed"]}
    first_at: dict[str, int] = {}
    for i, e in enumerate(sent):
        first_at.setdefault(e.message_id, i)
    # an event arrives behind a later event of its key only if the ledger says late/ooo
    moved = {r.message_id for r in by_fault["late"] + by_fault["out_of_order"]}
    last_seen: dict[str, int] = {}
    for e in sorted(events, key=lambda e: first_at[e.message_id]):
        p = position[e.message_id]
        if p < last_seen.get(e.partition_key, -1):
            assert e.message_id in moved
        elif e.message_id not in moved:
            last_seen[e.partition_key] = p
    for row in by_fault["out_of_order"]:
        assert 1 <= row.detail["displaced_by"] <= row.detail["window_k"] <= 5
    assert all(r.detail["delay_s"] == 1.0 for r in by_fault["duplicate"])
    delays = [r.detail["delay_s"] for r in by_fault["late"]]
    assert 1.5 < float(np.mean(delays)) < 2.5  # exponential, mean 2 s
    kinds = Counter(r.detail["kind"] for r in by_fault["malformed"])
    assert set(kinds) == {"missing_field", "wrong_type", "truncated"}


def test_same_seed_same_faults_whatever_the_ticks() -> None:
    events = stream(5_000)
    a = FaultStage(settings(), seed=7, clock=FakeClock())
    b = FaultStage(settings(), seed=7, clock=FakeClock())
    sent_a, sent_b = run(a, events, 1), run(b, events, 99)
    rows_a = sorted(a.take_rows(), key=lambda r: r.message_id)
    rows_b = sorted(b.take_rows(), key=lambda r: r.message_id)
    assert rows_a == rows_b and rows_a
    assert Counter(e.body for e in sent_a) == Counter(e.body for e in sent_b)
    other = FaultStage(settings(), seed=8, clock=FakeClock())
    run(other, events, 1)
    assert sorted(r.message_id for r in other.take_rows()) != [r.message_id for r in rows_a]


def test_late_is_held_for_its_delay_and_off_passes_through(tmp_path: Path) -> None:
    clock = FakeClock()
    off = FaultStage.from_settings(FaultSettings(), 1, tmp_path, clock=clock)
    events = stream(100)
    assert off.apply(events) == events and not (tmp_path / "realtime").exists()
    only_late = settings(
        duplicate={"share": 0},
        out_of_order={"share": 0},
        malformed={"share": 0},
        late={"share": 1.0, "delay": {"distribution": "uniform", "min_s": 5, "max_s": 10}},
    )
    stage = FaultStage.from_settings(only_late, 1, tmp_path, clock=clock)
    assert stage.apply(events) == [] and stage.held == 100
    clock.t += 5.0 - 1e-6
    assert stage.apply([]) == []
    clock.t += 5.0 + 2e-6
    assert sorted(e.message_id for e in stage.apply([])) == sorted(e.message_id for e in events)
    stage.close()
    ledger = [
        orjson.loads(x)
        for x in (tmp_path / "realtime/fault_ledger.jsonl").read_bytes().splitlines()
    ]
    assert len(ledger) == 100 and {r["fault"] for r in ledger} == {"late"}
    assert all(5 <= r["delay_s"] <= 10 and r["message_id"] and r["trace_id"] for r in ledger)
    assert ledger[0]["message_id"] == f"{ledger[0]['trace_id']}:receipt_created"


def test_drain_releases_everything_held_and_marks_it(tmp_path: Path) -> None:
    stage = FaultStage(
        settings(late={"share": 0.5, "delay": {"mean_s": 1000, "max_s": 5000}}), 3, FakeClock()
    )
    events = stream(400)
    sent = stage.apply(events)
    held = stage.held
    assert held > 150
    drained = stage.drain()
    assert len(drained) == held and stage.held == 0
    assert {e.message_id for e in sent + drained} == {e.message_id for e in events}
    assert sum(1 for r in stage.take_rows() if r.detail.get("drained")) == held


def test_malformed_kinds_are_documented_breaks() -> None:
    body = orjson.dumps({"event_type": "x", "payload": {"A": "s", "B": 2}, "trace_id": "t"})
    missing, name = malform(body, "missing_field", 0.0)
    assert name == "A" and orjson.loads(missing)["payload"] == {"B": 2}
    wrong, name = malform(body, "wrong_type", 0.99)
    assert name == "B" and orjson.loads(wrong)["payload"] == {"A": "s", "B": "#MALFORMED"}
    cut, name = malform(body, "truncated", 0.5)
    assert name is None and body.startswith(cut) and len(cut) == len(body) // 2
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(cut)
    event = OutEvent("store-1", cut, "t", "x")
    assert to_cloudevents(event).body == cut  # a broken body goes out as it is


def test_fault_settings_are_validated() -> None:
    assert not FaultSettings().enabled
    with pytest.raises(InputError, match="realtime.faults: .*add up to 1.2"):
        load_realtime_settings({"faults": {"late": {"share": 0.7}, "duplicate": {"share": 0.5}}})
    with pytest.raises(InputError, match="realtime.faults.malformed.share"):
        load_realtime_settings({"faults": {"malformed": {"share": 0.5}}})
    with pytest.raises(InputError, match="realtime.faults.late.bogus"):
        load_realtime_settings({"faults": {"late": {"bogus": 1}}})
