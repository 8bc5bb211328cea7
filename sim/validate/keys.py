"""Check 3: keys are unique: TraceId across all facts, and each table's own keys."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from sim.contract.schema import FACTS
from sim.validate.arrays import duplicates
from sim.validate.output import Output
from sim.validate.registry import Findings, check

# table -> key column sets that must be unique (nulls ignored)
KEYS: dict[str, tuple[tuple[str, ...], ...]] = {
    "master/geographies_master": (("ID",),),
    "master/distribution_centers": (("ID",), ("DCNumber",)),
    "master/stores": (("ID",), ("StoreNumber",)),
    "master/trucks": (("ID",), ("LicensePlate",)),
    "master/customers": (("ID",), ("BLEId",), ("AdId",), ("LoyaltyCard",)),
    "master/products_master": (("ID",),),
    "master/dc_inventory_snapshots": (("DCID", "ProductID"),),
    "master/store_inventory_snapshots": (("StoreID", "ProductID"),),
    "closing/dc_inventory_snapshots": (("DCID", "ProductID"),),
    "closing/store_inventory_snapshots": (("StoreID", "ProductID"),),
    "facts/receipts": (("ReceiptId",),),
    "facts/receipt_lines": (("ReceiptId", "Line"),),
    "facts/marketing": (("ImpressionId",),),
    "facts/foot_traffic": (("StoreID", "EventTS", "Zone"),),
}


@check(
    "unique_keys",
    "TraceId is unique across all fact tables; master ids, snapshot (place, product) pairs, "
    "ReceiptId, (ReceiptId, Line), ImpressionId, foot-traffic (StoreID, EventTS, Zone) "
    "and customers' BLEId/AdId/LoyaltyCard (when set) are unique",
)
def unique_keys(out: Output, f: Findings) -> None:
    _trace_ids(out, f)
    for key, sets in KEYS.items():
        if out.usable(key):
            f.examined(out[key].num_rows)
            for cols in sets:
                n, dup = duplicates(out[key], list(cols))
                f.add(n, _described(key, cols, dup))


def _trace_ids(out: Output, f: Findings) -> None:
    keys = [f"facts/{t.name}" for t in FACTS if out.usable(f"facts/{t.name}")]
    if not keys:
        return
    ids = pa.chunked_array([c for k in keys for c in out[k]["TraceId"].chunks], pa.string())
    f.examined(len(ids))
    n, dup = duplicates(pa.table({"TraceId": ids}), ["TraceId"])
    if not n:
        return
    shown = dup.slice(0, f.room())
    where = {
        k: set(out[k]["TraceId"].filter(pc.is_in(out[k]["TraceId"], shown["TraceId"])).to_pylist())
        for k in keys
    }
    f.add(
        n,
        (
            f"TraceId {v} appears {c} times (in {', '.join(k for k in keys if v in where[k])})"
            for v, c in zip(shown["TraceId"].to_pylist(), shown["n"].to_pylist(), strict=True)
        ),
    )


def _described(key: str, cols: tuple[str, ...], dup: pa.Table) -> list[str]:
    rows = dup.slice(0, 10).to_pylist()
    return [f"{key}: {', '.join(f'{c}={r[c]}' for c in cols)} appears {r['n']} times" for r in rows]
