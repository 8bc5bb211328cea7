"""Check 9: each shipment's truck statuses follow the lifecycle, in order, once each.

Statuses are ordered by EventTS; statuses with the same EventTS happened at once, so
among them the lifecycle order is taken (a truck may be SCHEDULED and start LOADING
in the same millisecond). A shipment passes when, in that order, its statuses are the
first k of :data:`LIFECYCLE`: no status missing in between, none repeated, none going
back in time.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sim.validate.arrays import group_starts, ints, ms
from sim.validate.output import Output
from sim.validate.registry import Findings, check

LIFECYCLE = ("SCHEDULED", "LOADING", "IN_TRANSIT", "ARRIVED", "UNLOADING", "COMPLETED")


@check(
    "truck_status",
    "per ShipmentId, Status in EventTS order (simultaneous ones in lifecycle order) is a "
    "prefix of " + " -> ".join(LIFECYCLE) + " with no repeats",
    needs=("facts/truck_moves",),
)
def truck_status(out: Output, f: Findings) -> None:
    t = out["facts/truck_moves"]
    f.examined(t.num_rows)
    if not t.num_rows:
        return
    shipment = ints(pc.dictionary_encode(t["ShipmentId"].combine_chunks()).indices)
    rank = ints(pc.index_in(t["Status"], value_set=pa.array(LIFECYCLE)))
    order = np.lexsort((rank, ms(t["EventTS"]), shipment))
    sh, rank = shipment[order], rank[order]
    starts = group_starts(sh)
    sizes = np.diff(np.r_[starts, len(sh)])
    position = np.arange(len(sh)) - np.repeat(starts, sizes)
    wrong = rank != position
    groups = np.flatnonzero(np.add.reduceat(wrong.astype(np.int64), starts) > 0)
    status = t["Status"].take(pa.array(order))
    ids = t["ShipmentId"].take(pa.array(order))
    f.add(
        len(groups),
        (
            f"shipment {ids[int(starts[g])]}: "
            + " -> ".join(map(str, status.slice(int(starts[g]), int(sizes[g])).to_pylist()))
            for g in groups
        ),
    )


def _loads(out: Output) -> pa.Table | None:
    """Units per (ShipmentId, ProductID): DC shipments out and supplier receipts in."""
    if not out.usable("facts/dc_inventory_txn"):
        return None
    t = out["facts/dc_inventory_txn"]
    keep = pc.or_(
        pc.equal(t["Reason"], "SHIPMENT"),
        pc.and_(pc.equal(t["Reason"], "RECEIPT"), pc.equal(t["Source"], "SUPPLIER")),
    )
    t = t.filter(keep).select(["Reference", "ProductID", "QtyDelta"])
    return t.set_column(2, "Qty", pc.abs(t["QtyDelta"]))


def _trips(out: Output) -> pa.Table:
    """One row per shipment: its truck, first status time and completion time."""
    t = out["facts/truck_moves"]
    first = t.group_by(["ShipmentId", "TruckId"]).aggregate([("EventTS", "min")])
    done = t.filter(pc.equal(t["Status"], "COMPLETED")).select(["ShipmentId", "EventTS"])
    return first.join(done, "ShipmentId", join_type="left outer")


@check(
    "truck_loads",
    "a shipment's pallets (units / products_master.UnitsPerPallet) fit its truck's "
    "CapacityPallets, and refrigerated products ride only on refrigerated trucks",
    needs=(
        "facts/truck_moves",
        "facts/dc_inventory_txn",
        "master/trucks",
        "master/products_master",
    ),
)
def truck_loads(out: Output, f: Findings) -> None:
    loads = _loads(out)
    if loads is None or not loads.num_rows:
        return
    products = out["master/products_master"].select(
        ["ID", "UnitsPerPallet", "RequiresRefrigeration"]
    )
    lines = loads.join(products, "ProductID", "ID")
    pallets = pc.divide(lines["Qty"].cast(pa.float64()), lines["UnitsPerPallet"].cast(pa.float64()))
    lines = lines.append_column("Pallets", pallets)
    per = lines.group_by("Reference").aggregate(
        [("Pallets", "sum"), ("RequiresRefrigeration", "any")]
    )
    trucks = out["master/trucks"].select(["ID", "Refrigeration", "CapacityPallets"])
    trip = _trips(out).select(["ShipmentId", "TruckId"])
    per = per.join(trip, "Reference", "ShipmentId").join(trucks, "TruckId", "ID")
    f.examined(per.num_rows)
    over = pc.greater(per["Pallets_sum"], pc.add(per["CapacityPallets"].cast(pa.float64()), 1e-6))
    warm = pc.and_(per["RequiresRefrigeration_any"], pc.invert(per["Refrigeration"]))
    bad = per.filter(pc.or_(over, warm))
    f.add(
        bad.num_rows,
        (
            f"shipment {r['Reference']} on truck {r['TruckId']}: {r['Pallets_sum']:.2f} pallets "
            f"(capacity {r['CapacityPallets']}), refrigerated goods "
            f"{'yes' if r['RequiresRefrigeration_any'] else 'no'}, refrigerated truck "
            f"{'yes' if r['Refrigeration'] else 'no'}"
            for r in bad.to_pylist()
        ),
    )


@check(
    "truck_place",
    "a truck is in one place at a time: its next trip starts after the previous one completed",
    needs=("facts/truck_moves",),
)
def truck_place(out: Output, f: Findings) -> None:
    trips = _trips(out)
    f.examined(trips.num_rows)
    if not trips.num_rows:
        return
    truck = ints(trips["TruckId"])
    start = ms(trips["EventTS_min"])
    end = ms(pc.fill_null(trips["EventTS"], pa.scalar(2**62, pa.timestamp("ms", tz="UTC"))))
    order = np.lexsort((start, truck))
    truck, start, end = truck[order], start[order], end[order]
    same = truck[1:] == truck[:-1]
    clash = np.flatnonzero(same & (start[1:] < end[:-1]))
    ids = trips["ShipmentId"].take(pa.array(order))
    f.add(
        len(clash),
        (
            f"truck {truck[i]}: {ids[int(i) + 1]} starts before {ids[int(i)]} completed"
            for i in clash
        ),
    )
