"""Live disruptions: inject, list and cancel disruptions in a running real-time world.

**The rule.** The simulation thread runs ahead of what is released (the look-ahead,
:data:`sim.run.realtime.LOOKAHEAD`, plus a margin), and what it simulated is never
redone. So a live disruption takes effect at the **first simulated instant not yet
simulated** (rounded up to a whole second), or at its own start if that is later:

* ``dc_outage``, ``truck_delay``, ``supplier_shortage`` are read by the world at the
  moment they matter (a truck leaves, a delivery arrives): they apply from that instant,
  in the middle of a day;
* ``demand_spike``, ``store_closure``, ``sensor_outage``, ``price_change`` and
  ``promotion`` shape a whole business day when it is set up (its visits, sensor
  counts, prices, promotions): they apply from the start of the first business day
  not yet set up (10:00 UTC).

The change reaches the world through the feeder's ``steer`` (:mod:`sim.run.feeder`, or
:mod:`sim.run.feeder_procs` whose workers are processes: the instant is then the furthest
any worker was allowed to run): it is applied before the next slice, as a
:class:`ShardAction` (plain data, so it can cross to a worker process). The resolved
start and end are recorded in the folder's overlay (:mod:`sim.run.overlay`), which every
later run (a restart of the stream, fast-forward of the same days) applies, so those days
come out the same.
:meth:`Steering.inject` says how far ahead of the stream's position the disruption
starts (``effective_in_s``: at least the look-ahead, 40 simulated minutes, plus a margin).

A cancel ends a live disruption at the same first instant not yet simulated (for the
day-shaping kinds: at the start of the next business day not yet set up); one that
had not started yet is dropped (kept in the overlay as ``cancelled_before_start``).

Validation is the scenario file's: the same models (:mod:`sim.config.disruptions`) and
the same messages (``inject: disruptions.N.dc: 9 is not one of the DC ids ...``); a bad
entry raises :class:`InputError` and changes nothing.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
from pydantic import ValidationError

from sim.config.calendar import business_date, day_start
from sim.config.clock import WallClock
from sim.config.scenario import Scenario, _describe
from sim.errors import InputError
from sim.run.feeder import Steerable
from sim.run.overlay import DISRUPTION, NO_EFFECT, load_overlay, model_of, save_overlay
from sim.run.shard import ShardLoop
from sim.world.disruptions import Disruptions, check_targets

AT_INSTANT = frozenset({"dc_outage", "truck_delay", "supplier_shortage"})
SOURCE = "inject"


def iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def next_day_start(t: float) -> float:
    """The start of the first business day that begins after epoch second ``t``."""
    day = business_date(datetime.fromtimestamp(t, UTC))
    start = day_start(day).timestamp()
    return start if start > t else day_start(day + timedelta(days=1)).timestamp()


@dataclass
class ShardAction:
    """A change to the shards' disruptions, made by whichever process simulates them
    (plain data: it crosses to a shard worker process)."""

    add: dict[int, list[Any]] = field(default_factory=dict)  # shard -> new entries
    old: Any = None  # the disruption whose entries are swapped for ``new``'s (or dropped)
    new: Any = None
    t0: float = 0.0

    def __call__(self, loops: list[ShardLoop]) -> None:
        for lp in loops:
            entries = lp.shard.disruptions.entries
            entries.extend(self.add.get(lp.shard.m.shard, []))
            if self.old is not None:
                self._swap(entries)

    def _swap(self, entries: list[Any]) -> None:
        for i, e in enumerate(entries):
            if e[0].model_dump() == self.old.model_dump():
                if self.new is None:
                    del entries[i]
                else:
                    a, b = self.new.window()
                    entries[i] = (self.new, a - self.t0, b - self.t0, e[3], e[4])
                break


def parse(entry: dict[str, Any], index: int) -> Any:
    """A disruption entry validated as entry ``index`` of a scenario's list."""
    try:
        return DISRUPTION.validate_python(entry)
    except ValidationError as e:
        lines = [
            f"{SOURCE}: disruptions.{index}.{'.'.join(map(str, err['loc']))}: {_describe(err)}"
            for err in e.errors()[:5]
        ]
        raise InputError("\n".join(lines)) from None


class Steering:
    """The live disruptions of one session (the control interface's inject/cancel)."""

    def __init__(
        self,
        sc: Scenario,
        root: Path,
        master: dict[str, pa.Table],
        store_ids: dict[int, np.ndarray],
        feeder: Steerable,
        t0: float,
        wall: WallClock,
    ) -> None:
        self.sc, self.root, self.master = sc, root, master
        self.store_ids, self.feeder, self.t0 = store_ids, feeder, t0
        self.wall = wall
        self.position: Callable[[], float] = lambda: 0.0  # the stream's (set by the run)

    # -- inject ---------------------------------------------------------------------------
    def inject(self, entry: dict[str, Any]) -> dict[str, Any]:
        """Validate ``entry`` (a ``disruptions:`` item; ``start`` optional: as soon as
        possible) and make it part of the world; returns its overlay record."""
        entry = dict(entry)
        entry.setdefault("start", iso(math.ceil(self.position())))
        overlay = load_overlay(self.root)
        before = [
            *self.sc.disruptions,
            *(model_of(x) for x in overlay if x.get("status") != NO_EFFECT),
        ]
        index = len(before)
        d = parse(entry, index)
        check_targets(self.sc.model_copy(update={"disruptions": [*before, d]}), self.master, SOURCE)
        did = f"d{max((int(x['id'][1:]) for x in overlay if _live_id(x)), default=0) + 1}"

        def decide(committed: float) -> tuple[Any, dict[str, Any]]:
            first = math.ceil(committed)
            a, b = d.window()
            earliest = first if d.kind in AT_INSTANT else next_day_start(first - 1)
            start = max(a, earliest)
            end = b if d.end is not None else start + (b - a)
            if end <= start:
                raise InputError(
                    f"{SOURCE}: disruptions.{index}.end: {iso(end)} is not after the first "
                    f"instant it can take effect ({iso(start)}: the world has simulated up "
                    f"to {iso(first)})"
                )
            resolved = d.model_copy(
                update={
                    "start": datetime.fromtimestamp(start, UTC),
                    "end": datetime.fromtimestamp(end, UTC),
                    "duration_hours": None,
                }
            )
            record = {
                "id": did,
                **resolved.model_dump(mode="json", exclude_none=True),
                "status": "live",
                "source": SOURCE,
                "injected_at": self.wall.now().isoformat(timespec="seconds"),
                "injected_at_simulated": iso(self.position()),
                "requested_start": entry["start"],
                "effective_in_s": round(start - self.position(), 3),
            }
            overlay.append(record)
            save_overlay(self.root, overlay)
            return self._adder(resolved), record

        return self.feeder.steer(decide)

    def _adder(self, d: Any) -> ShardAction:
        """The action adding ``d`` to every shard's disruptions (run by the simulation)."""
        one = self.sc.model_copy(update={"disruptions": [d]})
        return ShardAction(
            add={
                s: Disruptions.build(one, self.master, s, self.t0, ids).entries
                for s, ids in self.store_ids.items()
            }
        )

    # -- cancel ---------------------------------------------------------------------------
    def cancel(self, did: str) -> dict[str, Any]:
        """End live disruption ``did`` at the first instant not yet simulated."""
        overlay = load_overlay(self.root)
        rec = next((x for x in overlay if x.get("id") == did), None)
        if rec is None:
            known = ", ".join(x["id"] for x in overlay if _live_id(x)) or "none"
            raise InputError(f"cancel: no live disruption {did!r} (live ones: {known})")
        if rec.get("status") != "live":
            raise InputError(f"cancel: {did} is already {rec.get('status')}")
        old = model_of(rec)
        a, b = old.window()

        def decide(committed: float) -> tuple[Any, dict[str, Any]]:
            first = math.ceil(committed)
            end = first if old.kind in AT_INSTANT else next_day_start(first - 1)
            rec["cancelled_at"] = self.wall.now().isoformat(timespec="seconds")
            rec["cancelled_at_simulated"] = iso(self.position())
            if end >= b:  # it ends before the cancel could take effect
                rec["status"] = "ended"
                save_overlay(self.root, overlay)
                return ShardAction(), rec
            if end <= a:
                rec["status"] = NO_EFFECT
                new = None
            else:
                rec["end"] = iso(end)
                rec["status"] = "cancelled"
                new = model_of(rec)
            save_overlay(self.root, overlay)
            return self._replacer(old, new), rec

        return self.feeder.steer(decide)

    def _replacer(self, old: Any, new: Any) -> ShardAction:
        """The action swapping ``old``'s entries for ``new``'s (or dropping them)."""
        return ShardAction(old=old, new=new, t0=self.t0)

    # -- list -----------------------------------------------------------------------------
    def active(self) -> list[dict[str, Any]]:
        """The scenario's and the live disruptions not yet over at the stream's position,
        each with its state (``scheduled`` or ``active``)."""
        out = []
        pos = self.position()
        for i, d in enumerate(self.sc.disruptions):
            a, b = d.window()
            if b > pos:
                out.append(
                    {"id": f"scenario.{i}", **d.model_dump(mode="json", exclude_none=True)}
                    | {"state": "active" if a <= pos else "scheduled"}
                )
        for rec in load_overlay(self.root):
            if rec.get("status") == NO_EFFECT:
                continue
            d = model_of(rec)
            a, b = d.window()
            if b > pos:
                out.append({**rec, "state": "active" if a <= pos else "scheduled"})
        return out


def _live_id(x: dict[str, Any]) -> bool:
    i = x.get("id")
    return isinstance(i, str) and i.startswith("d") and i[1:].isdigit()
