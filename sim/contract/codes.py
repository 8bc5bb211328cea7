"""Each table's code in its TraceIds (:class:`TableCode`), re-exported by
:mod:`sim.contract.schema`."""

from __future__ import annotations

from enum import IntEnum


class TableCode(IntEnum):
    """Each table's code in its TraceIds. Part of the output contract: never renumber;
    a new table takes the next free number (tests/test_contract.py holds the list)."""

    geographies_master = 0
    distribution_centers = 1
    stores = 2
    trucks = 3
    customers = 4
    products_master = 5
    dc_inventory_snapshots = 6
    store_inventory_snapshots = 7
    receipts = 8
    receipt_lines = 9
    store_inventory_txn = 10
    foot_traffic = 11
    ble_pings = 12
    marketing = 13
    dc_inventory_txn = 14
    truck_moves = 15
    online_orders = 16
    reorder_triggered = 17
    customer_entered = 18
    payment_processed = 19
    stockout_detected = 20
    store_status = 21
    customers_cdc = 22
    products_cdc = 23
    stores_cdc = 24
    customers_scd2 = 25
    products_scd2 = 26
    stores_scd2 = 27
