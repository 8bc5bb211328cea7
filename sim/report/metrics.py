"""Realism figures measured on an output folder (``python -m sim stats``).

Each figure is computed from the written files only, so it can be compared with the
published figures in docs/realism.md and between disruption experiments.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sim.contract.delta import is_delta, read_delta
from sim.contract.schema import TABLES
from sim.contract.writer import read_table


def read_facts(root: Path, table: str, columns: list[str] | None = None) -> pa.Table | None:
    """All partitions of a fact table, or None when there are none."""
    if is_delta(root / "facts" / table):
        t = read_delta(root / "facts" / table, TABLES[table].arrow_schema())
        if t.num_rows == 0:
            return None
        return t.select(columns) if columns else t
    files = sorted((root / "facts" / table).glob("dt=*/part-*.*"))
    if not files:
        return None
    schema = TABLES[table].arrow_schema()
    parts = [read_table(f, schema) for f in files]
    t = pa.concat_tables(parts)
    return t.select(columns) if columns else t


def read_master(root: Path, table: str) -> pa.Table:
    if is_delta(root / "master" / table):
        return read_delta(root / "master" / table, TABLES[table].arrow_schema())
    path = next((root / "master").glob(f"{table}.*"))
    return read_table(path, TABLES[table].arrow_schema())


def _days(ms: np.ndarray) -> np.ndarray:
    """Business day number (days since epoch of EventTS - 10 h)."""
    return (ms - 36_000_000) // 86_400_000


@dataclass
class StockCurve:
    """On-hand units of every carried (store, product) at the end of each business day."""

    stores: np.ndarray  # store id of each pair
    days: np.ndarray  # business day numbers (days since 1970-01-01)
    on_hand: np.ndarray  # (pairs, days)

    def out_of_stock(self, stores: np.ndarray | None = None) -> np.ndarray:
        """Share of carried products with nothing on hand at the end of each day."""
        rows = slice(None) if stores is None else np.isin(self.stores, stores)
        return (self.on_hand[rows] <= 0).mean(axis=0)


def stock_curve(root: Path) -> StockCurve:
    """Rebuild daily store positions: opening snapshot + cumulative inventory deltas."""
    snap = read_master(root, "store_inventory_snapshots")
    txn = read_facts(root, "store_inventory_txn", ["EventTS", "StoreID", "ProductID", "QtyDelta"])
    s0, p0 = snap["StoreID"].to_numpy(), snap["ProductID"].to_numpy()
    width = int(max(p0.max(), 0)) + 1
    pair_key = s0 * width + p0
    order = np.argsort(pair_key)
    pair_key, opening, s0 = pair_key[order], snap["Qty"].to_numpy()[order], s0[order]
    if txn is None:
        return StockCurve(s0, np.empty(0, np.int64), opening[:, None][:, :0])
    ms = txn["EventTS"].cast(pa.int64()).to_numpy()
    day = _days(ms)
    days = np.arange(day.min(), day.max() + 1)
    key = txn["StoreID"].to_numpy() * width + txn["ProductID"].to_numpy()
    pos = np.searchsorted(pair_key, key)
    pos = np.minimum(pos, len(pair_key) - 1)
    carried = pair_key[pos] == key
    delta = np.zeros((len(pair_key), len(days)), dtype=np.int64)
    np.add.at(delta, (pos[carried], (day - days[0])[carried]), txn["QtyDelta"].to_numpy()[carried])
    return StockCurve(s0, days, opening[:, None] + np.cumsum(delta, axis=1))


def sales_by_channel(root: Path) -> dict[str, float]:
    """Dollar sales in stores (receipt lines) and online (allocated order lines)."""
    lines = read_facts(root, "receipt_lines", ["ExtPrice"])
    online = read_facts(root, "online_orders", ["Status", "ExtPrice"])
    store = float(pc.sum(lines["ExtPrice"]).as_py() or 0) if lines is not None else 0.0
    web = 0.0
    if online is not None:
        alloc = online.filter(pc.equal(online["Status"], "ALLOCATED"))
        web = float(pc.sum(alloc["ExtPrice"]).as_py() or 0)
    return {"store": store, "online": web}
