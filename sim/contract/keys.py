"""Row keys: the natural keys a TraceId is derived from, one bit layout per kind of row.

A row's TraceId is a hash of (seed, table, shard, business day, key), so a key must be
unique within its table, shard and business day, and must never change meaning: every
layout below is frozen (changing a tag, a shift or a width changes TraceIds). Each
:class:`Layout` is constant ``tag`` bits plus fields in disjoint bit ranges;
``tests/unit/test_keys.py`` proves that no two layouts of one table can produce the
same key. Rows of a trip that runs past midnight are keyed by the day the trip started
(modulo 256), so they stay unique on the later business day they are recorded in.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

import numpy as np


class TripKind(IntEnum):
    """Bits 56..63 of the keys of trip-bound rows (and of online stock moves)."""

    TRUCK_STATUS = 0  # truck_moves: a trip's statuses
    DC_SHIPMENT = 1  # dc_inventory_txn: goods loaded onto a store's truck
    DC_RECEIPT = 2  # dc_inventory_txn: a supplier delivery received
    DC_ONLINE = 3  # dc_inventory_txn: an online order line taken from the DC
    STORE_RECEIPT = 4  # store_inventory_txn: a DC delivery received
    STORE_DAMAGE = 5  # store_inventory_txn: units found damaged on receipt
    STORE_ONLINE = 6  # store_inventory_txn: an online order line taken from a store


class StoreTxnKind(IntEnum):
    """Bits 52..63 of the keys of a store's own stock moves in ``store_inventory_txn``."""

    SHRINK = 2
    RETURN = 3
    SALE = 16  # = 1 << 56: the till's sales


@dataclass(frozen=True)
class Field:
    """``bits`` bits from bit ``shift``; a ``wrap`` field is stored modulo 2**bits."""

    name: str
    shift: int
    bits: int
    wrap: bool = False

    @property
    def mask(self) -> int:
        return ((1 << self.bits) - 1) << self.shift


@dataclass(frozen=True)
class Layout:
    """One kind of row key of ``table``: constant ``tag`` bits OR'ed with its fields."""

    name: str
    table: str
    tag: int
    fields: tuple[Field, ...]

    def key(self, **values: np.ndarray | int) -> np.ndarray:
        """Keys from field values (arrays broadcast), each within its field's range."""
        if values.keys() != {f.name for f in self.fields}:
            raise TypeError(f"{self.name} key takes {[f.name for f in self.fields]}")
        out: np.ndarray | int = self.tag
        for f in self.fields:
            v = np.asarray(values[f.name], dtype=np.int64)
            if f.wrap:
                v = v & ((1 << f.bits) - 1)
            out = out | (v << f.shift)
        return np.asarray(out, dtype=np.int64)


def _trip(kind: TripKind, table: str) -> Layout:
    """A row of trip ``seq`` started on ``day``; ``local`` tells the trip's rows apart."""
    return Layout(
        kind.name,
        table,
        kind << 56,
        (Field("day", 48, 8, wrap=True), Field("seq", 24, 24), Field("local", 0, 24)),
    )


def _online(kind: TripKind, table: str) -> Layout:
    """Line ``line`` of online order ``order`` of ``day``, as a stock move."""
    return Layout(
        kind.name,
        table,
        kind << 56,
        (Field("day", 48, 8, wrap=True), Field("order", 12, 36), Field("line", 0, 12)),
    )


def _store_txn(kind: StoreTxnKind, local: str) -> Layout:
    fields = (Field("store", 32, 20), Field(local, 0, 32))
    return Layout(f"STORE_{kind.name}", "store_inventory_txn", kind << 52, fields)


def _per_store(name: str, table: str, local: str) -> Layout:
    """Row ``local`` (a visit, receipt or line number) of store index ``store``."""
    return Layout(name, table, 0, (Field("store", 32, 31), Field(local, 0, 32)))


TRUCK_STATUS = _trip(TripKind.TRUCK_STATUS, "truck_moves")  # local: status index
DC_SHIPMENT = _trip(TripKind.DC_SHIPMENT, "dc_inventory_txn")  # local: product id
DC_RECEIPT = _trip(TripKind.DC_RECEIPT, "dc_inventory_txn")  # local: line of the load
DC_ONLINE = _online(TripKind.DC_ONLINE, "dc_inventory_txn")
STORE_RECEIPT = _trip(TripKind.STORE_RECEIPT, "store_inventory_txn")  # local: line
STORE_DAMAGE = _trip(TripKind.STORE_DAMAGE, "store_inventory_txn")  # local: line
STORE_ONLINE = _online(TripKind.STORE_ONLINE, "store_inventory_txn")
STORE_SALE = _store_txn(StoreTxnKind.SALE, "line")
STORE_SHRINK = _store_txn(StoreTxnKind.SHRINK, "product")
STORE_RETURN = _store_txn(StoreTxnKind.RETURN, "product")
CUSTOMER_ENTERED = _per_store("CUSTOMER_ENTERED", "customer_entered", "visit")
RECEIPT = _per_store("RECEIPT", "receipts", "receipt")
PAYMENT = _per_store("PAYMENT", "payment_processed", "receipt")
RECEIPT_LINE = _per_store("RECEIPT_LINE", "receipt_lines", "line")
STOCKOUT = Layout(
    "STOCKOUT",
    "stockout_detected",
    0,
    (Field("store", 32, 31), Field("product", 8, 24), Field("count", 0, 8)),
)
BLE_PING = Layout(
    "BLE_PING",
    "ble_pings",
    0,
    (Field("store", 48, 15), Field("visit", 24, 24), Field("stay", 20, 4), Field("ping", 0, 20)),
)
FOOT_TRAFFIC = Layout(
    "FOOT_TRAFFIC",
    "foot_traffic",
    0,
    (Field("store", 36, 27), Field("interval", 4, 32), Field("zone", 0, 4)),
)
STORE_STATUS = Layout(
    "STORE_STATUS", "store_status", 0, (Field("store", 1, 62), Field("status", 0, 1))
)
IMPRESSION = Layout("IMPRESSION", "marketing", 0, (Field("seq", 0, 63),))
REORDER = Layout(  # node 0 is the shard's DC, node s + 1 its store index s
    "REORDER", "reorder_triggered", 0, (Field("node", 32, 31), Field("product", 0, 32))
)
ONLINE_ORDER = Layout(
    "ONLINE_ORDER",
    "online_orders",
    0,
    (
        Field("day", 48, 8, wrap=True),
        Field("order", 20, 28),
        Field("line", 4, 16),
        Field("status", 0, 4),
    ),
)

LAYOUTS: tuple[Layout, ...] = (
    TRUCK_STATUS,
    DC_SHIPMENT,
    DC_RECEIPT,
    DC_ONLINE,
    STORE_RECEIPT,
    STORE_DAMAGE,
    STORE_ONLINE,
    STORE_SALE,
    STORE_SHRINK,
    STORE_RETURN,
    CUSTOMER_ENTERED,
    RECEIPT,
    PAYMENT,
    RECEIPT_LINE,
    STOCKOUT,
    BLE_PING,
    FOOT_TRAFFIC,
    STORE_STATUS,
    IMPRESSION,
    REORDER,
    ONLINE_ORDER,
)
