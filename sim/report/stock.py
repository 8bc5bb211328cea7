"""End-of-day out-of-stock rate by day, rebuilt from the opening snapshot and the
store inventory deltas (the fast form of :func:`sim.report.metrics.stock_curve`)."""

from __future__ import annotations

import numpy as np

from sim.report.scan import Output, business_day, np_col, read_master


def out_of_stock_by_day(
    out: Output, stores: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(business days, share of carried (store, product) pairs with nothing on hand at
    the end of each day), for all stores or only ``stores``."""
    snap = read_master(out.root, "store_inventory_snapshots")
    s0, p0, q0 = (np_col(snap, c) for c in ("StoreID", "ProductID", "Qty"))
    if stores is not None:
        keep = np.isin(s0, stores)
        s0, p0, q0 = s0[keep], p0[keep], q0[keep]
    width = int(p0.max(initial=0)) + 1
    key0 = s0 * width + p0
    order = np.argsort(key0)
    key0, q0 = key0[order], q0[order]
    txn = out.facts("store_inventory_txn", ["EventTS", "StoreID", "ProductID", "QtyDelta"])
    span = np.arange(out.days[0], out.days[-1] + 1)
    if txn is None or not len(key0):
        return span, np.zeros(len(span))
    day = business_day(np_col(txn, "EventTS")) - span[0]
    key = np_col(txn, "StoreID") * width + np_col(txn, "ProductID")
    pos = np.minimum(np.searchsorted(key0, key), len(key0) - 1)
    ok = (key0[pos] == key) & (day >= 0) & (day < len(span))
    flat = pos[ok] * len(span) + day[ok]
    delta = np.bincount(
        flat, weights=np_col(txn, "QtyDelta", float)[ok], minlength=len(key0) * len(span)
    )
    on_hand = q0[:, None] + np.cumsum(delta.reshape(len(key0), len(span)), axis=1)
    return span, (on_hand <= 0).mean(axis=0)
