"""Code vocabularies: every status, reason, source, tender, zone and channel the output
holds, and the event types that statuses are reported as.

The order of each tuple is part of the output contract: processes draw an index into
it and row keys encode positions in it, so a code is only ever appended. The columns
that hold these codes name them in :mod:`sim.contract.schema` (``Column.values``).
"""

from __future__ import annotations

from typing import Literal

Tender = Literal["CREDIT", "DEBIT", "CASH", "MOBILE"]  # the keys of shopping.tender_mix
TENDERS: tuple[Tender, ...] = ("CREDIT", "DEBIT", "CASH", "MOBILE")
ZONES = ("ENTRANCE", "GROCERY", "HOME", "APPAREL", "ELECTRONICS", "HEALTH", "CHECKOUT")
AD_CHANNELS = ("SEARCH", "SOCIAL", "DISPLAY", "EMAIL")
AD_DEVICES = ("MOBILE", "DESKTOP", "TABLET")

STORE_TXN_REASONS = ("SALE", "RECEIPT", "SHRINK", "DAMAGE", "RETURN")
STORE_TXN_SOURCES = ("STORE", "TRUCK", "ONLINE")
DC_TXN_REASONS = ("SHIPMENT", "RECEIPT", "SALE", "DAMAGE")
DC_TXN_SOURCES = ("TRUCK", "SUPPLIER", "ONLINE")  # TRUCK: shipments to the stores

TRUCK_STATUSES = ("SCHEDULED", "LOADING", "IN_TRANSIT", "ARRIVED", "UNLOADING", "COMPLETED")
ORDER_STATUSES = (
    "CREATED",
    "ALLOCATED",
    "PICKED",
    "SHIPPED",
    "READY",
    "DELIVERED",
    "PICKED_UP",
    "CANCELLED",
)
Fulfillment = Literal["SHIP_TO_HOME", "STORE_PICKUP", "SHIP_FROM_STORE"]  # online.fulfillment keys
FULFILLMENT_TYPES: tuple[Fulfillment, ...] = ("SHIP_TO_HOME", "STORE_PICKUP", "SHIP_FROM_STORE")
NODE_TYPES = ("STORE", "DC")
STORE_STATUSES = ("OPENED", "CLOSED")


def _named(prefix: str, statuses: tuple[str, ...], **renamed: str) -> dict[str, str]:
    return {s: renamed.get(s, prefix + s.lower()) for s in statuses}


TRUCK_EVENTS = _named(
    "truck_", TRUCK_STATUSES, IN_TRANSIT="truck_departed", ARRIVED="truck_arrived"
)
ORDER_EVENTS = _named("online_order_", ORDER_STATUSES)
STORE_EVENTS = _named("store_", STORE_STATUSES)
