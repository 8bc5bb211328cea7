"""Every event type the real-time stream can carry, derived from the table definitions.

Most tables report a row as one event type; a few name it after the row's status
(online orders, truck moves, store status) or report a row twice (a receipt line that
applies a promotion also emits ``promotion_applied``).
"""

from __future__ import annotations

from sim.contract.schema import EVENTS, FACTS, Table

ONLINE_STATUSES = (
    "created",
    "allocated",
    "picked",
    "shipped",
    "ready",
    "delivered",
    "picked_up",
    "cancelled",
)
TRUCK_STATUSES = ("scheduled", "loading", "departed", "arrived", "unloading", "completed")


def event_types_of(t: Table) -> list[str]:
    """The event types that report rows of ``t``."""
    if t.name == "online_orders":
        return ["online_order_" + s for s in ONLINE_STATUSES]
    if t.name == "truck_moves":
        return ["truck_" + s for s in TRUCK_STATUSES]
    if t.name == "store_status":
        return ["store_opened", "store_closed"]
    if t.name == "receipt_lines":
        return ["receipt_line_added", "promotion_applied"]
    return [t.event_type or t.name]


EVENT_TYPES: tuple[str, ...] = tuple(
    sorted({e for t in (*FACTS, *EVENTS) for e in event_types_of(t)})
)
