"""Dirty-data faults for testing pipelines (`realtime.faults`), and their ground truth.

`FaultStage` is a pure stream stage: released events in, events to send out, plus one
ledger row per faulted event. It never touches the files (the facts stay exactly as
fast-forward writes them); only the stream is dirtied. Time comes from an injected clock
(wall seconds), so tests run without sleeping.

Which events are faulted, and how, depends only on the scenario seed and the event's
message id (a BLAKE2b hash of both gives three uniforms per event): the same events are
faulted in every run, whatever the batching, the tick or the speed. At most one fault
applies to an event:

* `late`: held back for a delay drawn from `delay` (wall seconds), then sent; the body,
  and so its EventTS, is unchanged.
* `duplicate`: sent on time, and the very same message (same id, same body) again after
  a delay.
* `out_of_order`: held back until 1..`window` later events of its partition key have
  gone (or `max_hold_s` passed), so it arrives behind them.
* `malformed`: the payload breaks the schema in one documented way: `missing_field` (one
  payload field removed), `wrong_type` (one field's value of the wrong JSON type: a
  string becomes the number 0, anything else the string "#MALFORMED"), `truncated` (the
  body cut to half its bytes: not JSON).

Every faulted event gets one ledger row when it is finally sent (JSON lines in
`OUTPUT/realtime/fault_ledger.jsonl`): its message id, trace id, type, key, the fault and
its parameters (`delay_s`; `window_k` and the actual `displaced_by`; `kind` and `field`).
`drained: true` marks an event sent early because the stream stopped.

In the real-time loop: `faults = FaultStage.from_settings(settings.faults, seed, root,
clock=wall.time)`, then `events = faults.apply(events)` before the sink each tick, and
`faults.drain()` / `faults.close()` at stop.
"""

from __future__ import annotations

import hashlib
import heapq
import itertools
import math
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from statistics import NormalDist
from typing import Any

import orjson

from sim.config.faults import DelaySettings, FaultSettings
from sim.sinks.base import OutEvent

LEDGER = Path("realtime") / "fault_ledger.jsonl"
FAULTS = ("late", "duplicate", "out_of_order", "malformed")
_NORMAL = NormalDist()


def uniforms(seed: int, message_id: str) -> tuple[float, float, float]:
    """Three uniforms in [0, 1) fixed by the seed and the message id."""
    digest = hashlib.blake2b(f"{seed}\x1f{message_id}".encode(), digest_size=24).digest()
    return tuple(int.from_bytes(digest[i : i + 8], "big") / 2.0**64 for i in (0, 8, 16))  # type: ignore[return-value]


def draw_delay(d: DelaySettings, u: float) -> float:
    """The delay of a uniform `u` under distribution `d` (inverse CDF), clipped."""
    if d.distribution == "fixed":
        x = d.mean_s
    elif d.distribution == "uniform":
        x = d.min_s + u * (d.max_s - d.min_s)
    elif d.distribution == "exponential":
        x = -d.mean_s * math.log1p(-u)
    else:  # lognormal, median mean_s
        x = d.mean_s * math.exp(d.sigma * _NORMAL.inv_cdf(min(max(u, 1e-12), 1 - 1e-12)))
    return round(min(d.max_s, max(d.min_s, x)), 3)


def malform(body: bytes, kind: str, u: float) -> tuple[bytes, str | None]:
    """The body broken by `kind`, and the payload field concerned (None for truncated)."""
    if kind == "truncated":
        return body[: len(body) // 2], None
    envelope = orjson.loads(body)
    payload = envelope.get("payload", envelope.get("data"))
    names = sorted(payload) if isinstance(payload, dict) else []
    if not names:
        return body[: len(body) // 2], None
    name = names[min(len(names) - 1, int(u * len(names)))]
    if kind == "missing_field":
        del payload[name]
    else:
        payload[name] = 0 if isinstance(payload[name], str) else "#MALFORMED"
    return orjson.dumps(envelope), name


@dataclass(frozen=True, slots=True)
class LedgerRow:
    """What was done to one faulted event."""

    message_id: str
    trace_id: str
    event_type: str
    partition_key: str
    fault: str
    detail: dict[str, Any]

    def to_json(self) -> bytes:
        row = {
            "message_id": self.message_id,
            "trace_id": self.trace_id,
            "event_type": self.event_type,
            "partition_key": self.partition_key,
            "fault": self.fault,
            **self.detail,
        }
        return orjson.dumps(row) + b"\n"


@dataclass(eq=False, slots=True)
class _Held:
    event: OutEvent
    row: LedgerRow
    until: float  # release at this wall time (out_of_order: at the latest)
    left: int = 0  # out_of_order: later events of its key still to pass it
    passed: int = 0


@dataclass
class FaultStage:
    """Applies `settings` to a stream of released events (see the module docstring)."""

    settings: FaultSettings
    seed: int
    clock: Callable[[], float]
    ledger: Path | None = None
    rows: list[LedgerRow] = field(default_factory=list)  # without a ledger file
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(FAULTS, 0))

    def __post_init__(self) -> None:
        s = self.settings
        edges = list(itertools.accumulate((s.late.share, s.duplicate.share, s.out_of_order.share)))
        self._edges = [*edges, edges[-1] + s.malformed.share]
        self._timed: list[tuple[float, int, _Held]] = []
        self._by_key: dict[str, list[_Held]] = defaultdict(list)
        self._seq = itertools.count()
        self._file: Any = None
        self._unwritten: list[LedgerRow] = []

    @classmethod
    def from_settings(
        cls, settings: FaultSettings, seed: int, root: Path, *, clock: Callable[[], float]
    ) -> FaultStage:
        """A stage writing its ledger under `root/realtime/` (only when a fault is on)."""
        return cls(settings, seed, clock, root / LEDGER if settings.enabled else None)

    @property
    def held(self) -> int:
        return len(self._timed) + sum(len(v) for v in self._by_key.values())

    def apply(self, events: Sequence[OutEvent]) -> list[OutEvent]:
        """Fault the new `events`; returns what to send now, held events now due included."""
        if not self.settings.enabled:
            return list(events)
        now = self.clock()
        out: list[OutEvent] = []
        for event in events:
            fault, u_param, u_field = self._decide(event)
            if fault == "late":
                delay = draw_delay(self.settings.late.delay, u_param)
                self._hold_until(event, now + delay, "late", {"delay_s": delay})
                continue
            if fault == "out_of_order":
                oo = self.settings.out_of_order
                k = 1 + min(oo.window - 1, int(u_param * oo.window))
                row = self._row(event, "out_of_order", {"window_k": k})
                self._by_key[event.partition_key].append(
                    _Held(event, row, now + oo.max_hold_s, left=k)
                )
                continue
            if fault == "malformed":
                kinds = self.settings.malformed.kinds
                kind = kinds[min(len(kinds) - 1, int(u_param * len(kinds)))]
                body, name = malform(event.body, kind, u_field)
                detail: dict[str, Any] = {"kind": kind}
                if name is not None:
                    detail["field"] = name
                self._done(self._row(event, "malformed", detail))
                event = replace(event, body=body)
            elif fault == "duplicate":
                delay = draw_delay(self.settings.duplicate.delay, u_param)
                self._hold_until(event, now + delay, "duplicate", {"delay_s": delay})
            out.append(event)
            self._passed(event.partition_key, out)
        out += self._due(now)
        self._write()
        return out

    def drain(self) -> list[OutEvent]:
        """Everything still held, now (at stop), marked `drained` in the ledger."""
        out: list[OutEvent] = []
        for _, _, held in sorted(self._timed, key=lambda t: (t[0], t[1])):
            self._release(held, out, drained=True)
        self._timed.clear()
        for key in sorted(self._by_key):
            for held in self._by_key[key]:
                self._release(held, out, drained=True)
        self._by_key.clear()
        self._write()
        return out

    def close(self) -> None:
        self._write()
        if self._file is not None:
            self._file.close()
            self._file = None

    def take_rows(self) -> list[LedgerRow]:
        """Ledger rows since the last call (kept in memory only when there is no ledger
        file; with one, they are appended to it at the end of every call)."""
        rows, self.rows = self.rows, []
        return rows

    # -- internals ---------------------------------------------------------------------

    def _decide(self, event: OutEvent) -> tuple[str | None, float, float]:
        u, u_param, u_field = uniforms(self.seed, event.message_id)
        for name, edge in zip(FAULTS, self._edges, strict=True):
            if u < edge:
                return name, u_param, u_field
        return None, u_param, u_field

    def _row(self, event: OutEvent, fault: str, detail: dict[str, Any]) -> LedgerRow:
        return LedgerRow(
            event.message_id, event.trace_id, event.event_type, event.partition_key, fault, detail
        )

    def _hold_until(self, event: OutEvent, until: float, fault: str, detail: dict) -> None:
        held = _Held(event, self._row(event, fault, detail), until)
        heapq.heappush(self._timed, (until, next(self._seq), held))

    def _passed(self, key: str, out: list[OutEvent]) -> None:
        """One event of `key` went: out-of-order events it was the last to pass follow it."""
        waiting = self._by_key.get(key)
        if not waiting:
            return
        keep = []
        for held in waiting:
            held.passed += 1
            held.left -= 1
            if held.left <= 0:
                self._release(held, out)
            else:
                keep.append(held)
        if keep:
            self._by_key[key] = keep
        else:
            del self._by_key[key]

    def _due(self, now: float) -> list[OutEvent]:
        out: list[OutEvent] = []
        while self._timed and self._timed[0][0] <= now:
            self._release(heapq.heappop(self._timed)[2], out)
        for key in [k for k, v in self._by_key.items() if v[0].until <= now]:
            waiting = self._by_key.pop(key)
            keep = [h for h in waiting if h.until > now]
            for held in waiting:
                if held.until <= now:
                    self._release(held, out)
            if keep:
                self._by_key[key] = keep
        return out

    def _release(self, held: _Held, out: list[OutEvent], drained: bool = False) -> None:
        out.append(held.event)
        row = held.row
        if row.fault == "out_of_order":
            row = replace(row, detail={**row.detail, "displaced_by": held.passed})
        if drained:
            row = replace(row, detail={**row.detail, "drained": True})
        self._done(row)

    def _done(self, row: LedgerRow) -> None:
        self.counts[row.fault] += 1
        if self.ledger is None:
            self.rows.append(row)
        else:
            self._unwritten.append(row)

    def _write(self) -> None:
        rows = self._unwritten
        if self.ledger is None or not rows:
            return
        if self._file is None:
            self.ledger.parent.mkdir(parents=True, exist_ok=True)
            self._file = open(self.ledger, "ab")  # noqa: SIM115 - closed in close()
        self._file.write(b"".join(r.to_json() for r in rows))
        self._file.flush()
        rows.clear()
