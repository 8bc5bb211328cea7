"""Check 8: what the people counters count covers what beacons and tills saw.

Per store and 15-minute interval (EventTS floored to 15 min; a foot-traffic row's
EventTS is its interval start, which must be on the 15-minute grid):

* per zone, foot_traffic Count >= distinct CustomerBLEId pinged in the zone;
* in CHECKOUT, Count >= receipts paid in the interval;
* distinct BLE ids pinged in CHECKOUT >= distinct receipt customers with a BLEId.

An interval/zone with pings but no foot-traffic row counts as Count 0. The till rules
apply to the intervals in which the store's counters reported at all: an interval with
no foot-traffic row in any zone is a sensor data gap (a ``sensor_outage``), not a
count of 0.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sim.validate.arrays import INTERVAL_MS, ints, iso, ms
from sim.validate.output import Output
from sim.validate.registry import Findings, check

CHECKOUT = "CHECKOUT"


@check(
    "sensors",
    "per store and 15-min interval: foot_traffic Count >= distinct BLE ids pinged in the zone; "
    "CHECKOUT Count >= receipts; distinct CHECKOUT BLE ids >= receipt customers with a BLEId",
    needs=("facts/foot_traffic", "facts/ble_pings"),
)
def sensors(out: Output, f: Findings) -> None:
    ft, ble = out["facts/foot_traffic"], out["facts/ble_pings"]
    f.examined(ft.num_rows + ble.num_rows)
    start = ms(ft["EventTS"])
    _off_grid(ft, start, f)
    counts = pa.table(
        {"s": ft["StoreID"], "iv": start // INTERVAL_MS, "z": ft["Zone"], "count": ft["Count"]}
    )
    seen = _distinct_ble(ble)
    _compare(f, seen, counts, ["s", "iv", "z"], "n", "count", "distinct BLE ids")
    if not out.usable("facts/receipts"):
        f.notes.append("receipt rules not checked: no usable facts/receipts")
        return
    r = out["facts/receipts"]
    f.examined(r.num_rows)
    live = pa.table({"s": counts["s"], "iv": counts["iv"]}).group_by(["s", "iv"]).aggregate([])
    till = _receipts(r).join(live, ["s", "iv"], join_type="left semi")
    at_checkout = counts.filter(pc.equal(counts["z"], CHECKOUT)).drop_columns(["z"])
    _compare(f, till, at_checkout, ["s", "iv"], "n", "count", "receipts")
    if out.usable("master/customers"):
        known = _receipt_ble_customers(r, out["master/customers"]).join(
            live, ["s", "iv"], join_type="left semi"
        )
        pinged = seen.filter(pc.equal(seen["z"], CHECKOUT)).drop_columns(["z"])
        _compare(
            f, known, pinged, ["s", "iv"], "n", "n", "receipt customers with a BLEId", "BLE ids"
        )


def _off_grid(ft: pa.Table, start: np.ndarray, f: Findings) -> None:
    bad = np.flatnonzero(start % INTERVAL_MS != 0)
    f.add(
        len(bad),
        (
            f"foot_traffic TraceId {ft['TraceId'][int(i)]}: EventTS {iso(int(start[i]))} "
            "is not on the 15-minute grid"
            for i in bad
        ),
    )


def _distinct_ble(ble: pa.Table) -> pa.Table:
    """(s, iv, z, n): distinct BLE ids pinged per store, interval and zone."""
    t = pa.table(
        {
            "s": ble["StoreID"],
            "iv": ms(ble["EventTS"]) // INTERVAL_MS,
            "z": ble["Zone"],
            "id": ble["CustomerBLEId"],
        }
    )
    g = t.group_by(["s", "iv", "z"]).aggregate([("id", "count_distinct")])
    return pa.table({"s": g["s"], "iv": g["iv"], "z": g["z"], "n": g["id_count_distinct"]})


def _receipts(r: pa.Table) -> pa.Table:
    """(s, iv, n): receipts per store and interval."""
    t = pa.table({"s": r["StoreID"], "iv": ms(r["EventTS"]) // INTERVAL_MS})
    g = t.group_by(["s", "iv"]).aggregate([([], "count_all")])
    return pa.table({"s": g["s"], "iv": g["iv"], "n": g["count_all"]})


def _receipt_ble_customers(r: pa.Table, customers: pa.Table) -> pa.Table:
    """(s, iv, n): distinct receipt customers whose customer record has a BLEId."""
    who = pc.index_in(r["CustomerID"], value_set=customers["ID"].combine_chunks())
    has_ble = pc.is_valid(customers["BLEId"].combine_chunks().take(who))
    t = pa.table(
        {"s": r["StoreID"], "iv": ms(r["EventTS"]) // INTERVAL_MS, "c": r["CustomerID"]}
    ).filter(pc.fill_null(has_ble, False))
    g = t.group_by(["s", "iv"]).aggregate([("c", "count_distinct")])
    return pa.table({"s": g["s"], "iv": g["iv"], "n": g["c_count_distinct"]})


def _compare(
    f: Findings,
    need: pa.Table,
    have: pa.Table,
    keys: list[str],
    need_col: str,
    have_col: str,
    need_name: str,
    have_name: str = "Count",
) -> None:
    """Violations where ``have[have_col]`` (0 when absent) < ``need[need_col]`` per key."""
    right = have.select([*keys, have_col]).rename_columns([*keys, "have"])
    left = need.select([*keys, need_col]).rename_columns([*keys, "need"])
    j = left.join(right, keys=keys, join_type="left outer")
    lacking, got = ints(j["need"]), ints(j["have"], null=0)
    bad = np.flatnonzero(got < lacking)
    shown = j.take(pa.array(bad[: f.room()])).to_pylist()
    f.add(
        len(bad),
        (
            f"store {row['s']} {iso(row['iv'] * INTERVAL_MS)} {row.get('z', CHECKOUT)}: "
            f"{have_name} {row['have'] or 0} < {row['need']} {need_name}"
            for row in shown
        ),
    )
