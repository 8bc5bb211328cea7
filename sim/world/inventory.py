"""Inventory transactions of stores and DCs other than till sales.

Deliveries, shrink, damage, returns and online allocations all record through these two
functions, so every movement has the same columns wherever it happens.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from sim.contract.columns import repeated
from sim.world.recorder import Recorder


def _rows(
    node_col: str,
    node: int,
    prods: np.ndarray,
    delta: np.ndarray,
    reason: str,
    source: str,
    reference: pa.Array | None,
) -> dict[str, object]:
    n = len(prods)
    return {
        node_col: np.full(n, node),
        "ProductID": prods,
        "QtyDelta": delta,
        "Reason": repeated(reason, n),
        "Source": repeated(source, n),
        "Reference": reference if reference is not None else pa.nulls(n, pa.string()),
    }


def record_store_txn(
    rec: Recorder,
    store_id: int,
    t: np.ndarray,
    prods: np.ndarray,
    delta: np.ndarray,
    reason: str,
    source: str,
    reference: pa.Array | None,
    key: np.ndarray,
) -> None:
    """``store_inventory_txn`` rows (deliveries, shrink, damage, returns, online)."""
    rec.record(
        "store_inventory_txn",
        t,
        key,
        _rows("StoreID", store_id, prods, delta, reason, source, reference),
    )


def record_dc_txn(
    rec: Recorder,
    dc_id: int,
    t: np.ndarray,
    prods: np.ndarray,
    delta: np.ndarray,
    reason: str,
    source: str,
    reference: pa.Array | None,
    key: np.ndarray,
) -> None:
    """``dc_inventory_txn`` rows (shipments, supplier receipts, online)."""
    rec.record(
        "dc_inventory_txn", t, key, _rows("DCID", dc_id, prods, delta, reason, source, reference)
    )
