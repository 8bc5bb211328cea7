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
