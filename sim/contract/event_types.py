"""Every event type the real-time stream can carry, derived from the table definitions
(:attr:`sim.contract.table.Table.event_types`)."""

from __future__ import annotations

from sim.contract.schema import EVENTS, FACTS

EVENT_TYPES: tuple[str, ...] = tuple(sorted({e for t in (*FACTS, *EVENTS) for e in t.event_types}))
