"""Online orders: each line's statuses follow its fulfilment type's lifecycle, and the
units allocated show up as ONLINE sales in the fulfilling node's inventory.

Statuses are ordered by EventTS (simultaneous ones in lifecycle order); a line passes
when they are the first k of its lifecycle. A line is allocated or cancelled, never
both.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sim.validate.arrays import group_starts, ints, ms, pair, unequal_sums
from sim.validate.output import Output
from sim.validate.registry import Findings, check

SHIPPED = ("CREATED", "ALLOCATED", "PICKED", "SHIPPED", "DELIVERED")
LIFECYCLES = {
    "SHIP_TO_HOME": SHIPPED,
    "SHIP_FROM_STORE": SHIPPED,
    "STORE_PICKUP": ("CREATED", "ALLOCATED", "PICKED", "READY", "PICKED_UP"),
}
CANCELLED = ("CREATED", "CANCELLED")
TXN = {"STORE": ("facts/store_inventory_txn", "StoreID"), "DC": ("facts/dc_inventory_txn", "DCID")}


@check(
    "online_status",
    "per (OrderId, Line), Status in EventTS order is a prefix of CREATED -> ALLOCATED -> "
    "PICKED -> SHIPPED -> DELIVERED (STORE_PICKUP: ... PICKED -> READY -> PICKED_UP) or "
    "of CREATED -> CANCELLED",
    needs=("facts/online_orders",),
)
def online_status(out: Output, f: Findings) -> None:
    t = out["facts/online_orders"]
    f.examined(t.num_rows)
    if not t.num_rows:
        return
    order = ints(pc.dictionary_encode(t["OrderId"].combine_chunks()).indices)
    line = pair(order, ints(t["Line"]))
    rank = _ranks(t)
    cancelled = np.isin(line, line[ints(pc.equal(t["Status"], "CANCELLED").cast(pa.int64())) > 0])
    rank = np.where(cancelled, ints(pc.index_in(t["Status"], value_set=pa.array(CANCELLED))), rank)
    by = np.lexsort((rank, ms(t["EventTS"]), line))
    starts = group_starts(line[by])
    sizes = np.diff(np.r_[starts, len(by)])
    wrong = rank[by] != np.arange(len(by)) - np.repeat(starts, sizes)
    bad = np.flatnonzero(np.add.reduceat(wrong.astype(np.int64), starts) > 0)
    status, ids, lines = t["Status"], t["OrderId"], ints(t["Line"])
    f.add(
        len(bad),
        (
            f"order {ids[int(by[starts[g]])]} line {lines[by[starts[g]]]}: "
            + " -> ".join(str(status[int(i)]) for i in by[starts[g] : starts[g] + sizes[g]])
            for g in bad
        ),
    )


def _ranks(t: pa.Table) -> np.ndarray:
    """Position of each row's Status in its fulfilment type's lifecycle (-1 if absent)."""
    rank = np.full(t.num_rows, -1, dtype=np.int64)
    for kind, steps in LIFECYCLES.items():
        mine = pc.equal(t["FulfillmentType"], kind).fill_null(False).to_numpy(zero_copy_only=False)
        pos = ints(pc.index_in(t["Status"], value_set=pa.array(steps)))
        rank = np.where(mine, pos, rank)
    return rank


@check(
    "online_stock",
    "per (OrderId, node, ProductID): units on ALLOCATED online_orders rows = -QtyDelta of "
    "the node's store/dc_inventory_txn rows with Source ONLINE and Reference = OrderId",
    needs=("facts/online_orders",),
)
def online_stock(out: Output, f: Findings) -> None:
    t = out["facts/online_orders"]
    alloc = t.filter(pc.equal(t["Status"], "ALLOCATED"))
    for node_type, (key, place) in TXN.items():
        if not out.usable(key):
            f.notes.append(f"{node_type} allocations not checked: no usable {key}")
            continue
        txn = out[key]
        online = txn.filter(pc.equal(txn["Source"], "ONLINE"))
        mine = alloc.filter(pc.equal(alloc["NodeType"], node_type))
        f.examined(mine.num_rows + online.num_rows)
        bad = unequal_sums(
            {"ref": mine["OrderId"], "node": mine["NodeID"], "p": mine["ProductID"]},
            mine["Qty"],
            {"ref": online["Reference"], "node": online[place], "p": online["ProductID"]},
            pc.negate(online["QtyDelta"]),
        )
        f.add(
            bad.num_rows,
            (
                f"order {r['ref']} {node_type} {r['node']} product {r['p']}: "
                f"{r['a']} allocated, {r['b']} taken from stock"
                for r in bad.slice(0, f.room()).to_pylist()
            ),
        )
