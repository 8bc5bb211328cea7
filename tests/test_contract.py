"""The contract in sim/contract: explicit table codes, vocabularies, event types."""

from __future__ import annotations

import typing

import pyarrow as pa

from sim.contract import vocab
from sim.contract.schema import FACTS, TABLES, TableCode, code
from sim.run.events import build_events, event_types

# Every table's TraceId code as released. Append a line for a new table; never edit one.
RELEASED_CODES = {
    "geographies_master": 0,
    "distribution_centers": 1,
    "stores": 2,
    "trucks": 3,
    "customers": 4,
    "products_master": 5,
    "dc_inventory_snapshots": 6,
    "store_inventory_snapshots": 7,
    "receipts": 8,
    "receipt_lines": 9,
    "store_inventory_txn": 10,
    "foot_traffic": 11,
    "ble_pings": 12,
    "marketing": 13,
    "dc_inventory_txn": 14,
    "truck_moves": 15,
    "online_orders": 16,
    "reorder_triggered": 17,
    "customer_entered": 18,
    "payment_processed": 19,
    "stockout_detected": 20,
    "store_status": 21,
}


def test_released_table_codes_never_change():
    current = {c.name: int(c) for c in TableCode}
    changed = {n: (c, current.get(n)) for n, c in RELEASED_CODES.items() if current.get(n) != c}
    assert not changed, f"table codes changed (released, now): {changed}"


def test_every_table_has_a_unique_code_and_new_ones_come_after_the_released():
    assert set(TABLES) == {c.name for c in TableCode}
    values = [int(c) for c in TableCode]
    assert len(values) == len(set(values))  # IntEnum would alias a duplicate silently
    assert len(TableCode.__members__) == len(TableCode)
    newest = max(RELEASED_CODES.values())
    for name in set(TABLES) - set(RELEASED_CODES):
        assert code(name) > newest, f"{name}: a new table takes a new number"


def test_the_recorder_derives_trace_ids_from_the_explicit_codes():
    from sim.world.recorder import TABLE_CODES

    assert TABLE_CODES == RELEASED_CODES | {n: code(n) for n in TABLES}


def test_world_constants_are_the_schema_vocabularies():
    """The world reads its codes from sim.contract.vocab, never a copy (order matters:
    processes draw indices into these tuples and row keys hold positions in them)."""
    from sim.world import logistics, marketing, model, online, till

    assert logistics.STATUSES is vocab.TRUCK_STATUSES
    assert online.STATUSES is vocab.ORDER_STATUSES
    assert online.TYPES is vocab.FULFILLMENT_TYPES
    assert till.TENDERS is vocab.TENDERS
    assert model.ZONES is vocab.ZONES
    assert marketing.CHANNELS is vocab.AD_CHANNELS
    assert marketing.DEVICES is vocab.AD_DEVICES
    assert typing.get_args(vocab.Tender) == vocab.TENDERS
    assert typing.get_args(vocab.Fulfillment) == vocab.FULFILLMENT_TYPES


def test_every_status_has_its_event_and_event_types_are_unique():
    for t in TABLES.values():
        if t.status_events:
            assert tuple(s for s, _ in t.status_events) == t.column("Status").values
    names = [e for t in TABLES.values() for e in t.event_types]
    assert len(names) == len(set(names)), "two tables report the same event type"
    assert vocab.TRUCK_EVENTS["IN_TRANSIT"] == "truck_departed"
    assert vocab.TRUCK_EVENTS["ARRIVED"] == "truck_arrived"


def test_events_are_named_from_the_schema():
    trucks = TABLES["truck_moves"]
    rows = pa.table({"Status": list(vocab.TRUCK_STATUSES)})
    assert event_types(trucks, rows).to_pylist() == list(trucks.event_types)
    receipts = next(t for t in FACTS if t.name == "receipts")
    assert event_types(receipts, pa.table({"x": [1, 2]})).to_pylist() == ["receipt_created"] * 2


def test_a_promoted_line_is_also_a_promotion_applied_event():
    lines = TABLES["receipt_lines"]
    cols = {c.name: [None, None] for c in lines.columns}
    a, b = "0" * 31 + "a", "0" * 31 + "b"
    cols |= {"TraceId": [a, b], "EventTS": [0, 1000], "StoreID": [1, 1]}
    cols["PromoCode"] = [None, "P1"]
    rows = pa.Table.from_pydict(cols, schema=lines.arrow_schema())
    batch = build_events(1, "receipt_lines", rows)
    got = list(zip(batch.event_type.to_pylist(), batch.trace_id.to_pylist(), strict=True))
    assert got == [
        ("receipt_line_added", a),
        ("receipt_line_added", b),
        ("promotion_applied", b),
    ]
