"""Receipts agree with their lines and with the stock they took off the shelf.

* a line has its receipt's StoreID and EventTS, and a receipt's lines are numbered
  1..n;
* per (receipt, store, product), the units sold on the lines equal minus the
  QtyDelta of the store_inventory_txn rows with Reason SALE, Source STORE and that
  receipt as Reference.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sim.validate.arrays import index_in, ints, iso, ms, strings, unequal_sums
from sim.validate.output import Output
from sim.validate.registry import Findings, check


@check(
    "receipt_lines",
    "a line has its receipt's StoreID and EventTS; a receipt's lines are numbered 1..n",
    needs=("facts/receipts", "facts/receipt_lines"),
)
def receipt_lines(out: Output, f: Findings) -> None:
    r, lines = out["facts/receipts"], out["facts/receipt_lines"]
    f.examined(lines.num_rows)
    owner = index_in(lines["ReceiptId"], r["ReceiptId"])
    at = np.maximum(owner, 0)
    store, ts = ints(lines["StoreID"]), ms(lines["EventTS"])
    rstore, rts = ints(r["StoreID"])[at], ms(r["EventTS"])[at]
    bad = np.flatnonzero((owner >= 0) & ((store != rstore) | (ts != rts)))
    ids = strings(lines["ReceiptId"].take(pa.array(bad[: f.room()])))
    f.add(
        len(bad),
        (
            f"receipt {ids[k]} line: StoreID {store[i]} at {iso(int(ts[i]))}, receipt: "
            f"StoreID {rstore[i]} at {iso(int(rts[i]))}"
            for k, i in enumerate(bad[: len(ids)])
        ),
    )
    g = lines.group_by("ReceiptId").aggregate([([], "count_all"), ("Line", "min"), ("Line", "max")])
    gaps = g.filter(
        pc.or_(pc.not_equal(g["Line_min"], 1), pc.not_equal(g["Line_max"], g["count_all"]))
    )
    f.add(
        gaps.num_rows,
        (
            f"receipt {row['ReceiptId']}: {row['count_all']} lines numbered "
            f"{row['Line_min']}..{row['Line_max']}"
            for row in gaps.slice(0, f.room()).to_pylist()
        ),
    )


@check(
    "sales_stock",
    "per (receipt, store, product): units on receipt_lines = -QtyDelta of its "
    "store_inventory_txn rows with Reason SALE, Source STORE and Reference = ReceiptId",
    needs=("facts/receipt_lines", "facts/store_inventory_txn"),
)
def sales_stock(out: Output, f: Findings) -> None:
    lines, txn = out["facts/receipt_lines"], out["facts/store_inventory_txn"]
    sales = txn.filter(pc.and_(pc.equal(txn["Reason"], "SALE"), pc.equal(txn["Source"], "STORE")))
    f.examined(lines.num_rows + sales.num_rows)
    bad = unequal_sums(
        {"ref": lines["ReceiptId"], "s": lines["StoreID"], "p": lines["ProductID"]},
        lines["Qty"],
        {"ref": sales["Reference"], "s": sales["StoreID"], "p": sales["ProductID"]},
        pc.negate(sales["QtyDelta"]),
    )
    f.add(
        bad.num_rows,
        (
            f"receipt {r['ref']} store {r['s']} product {r['p']}: {r['a']} sold, "
            f"{r['b']} taken from stock"
            for r in bad.slice(0, f.room()).to_pylist()
        ),
    )
