"""Line amounts: ExtPrice = Qty x UnitPrice to the cent, in every fact table with the
three columns (receipt_lines, online_orders, and any later one)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from sim.contract.schema import FACTS
from sim.validate.arrays import cents, ints, money
from sim.validate.output import Output
from sim.validate.registry import Findings, check

COLUMNS = {"Qty", "UnitPrice", "ExtPrice"}


@check("ext_price", "ExtPrice = Qty x UnitPrice, exact to the cent, on every line table")
def ext_price(out: Output, f: Findings) -> None:
    for spec in FACTS:
        key = f"facts/{spec.name}"
        if COLUMNS <= set(spec.names) and out.usable(key):
            _table(out, key, f)


def _table(out: Output, key: str, f: Findings) -> None:
    t = out[key]
    f.examined(t.num_rows)
    qty, unit, ext = ints(t["Qty"]), cents(t["UnitPrice"]), cents(t["ExtPrice"])
    bad = np.flatnonzero(ext != qty * unit)
    shown = t.select(["TraceId"]).take(pa.array(bad[: f.room()]))["TraceId"].to_pylist()
    f.add(
        len(bad),
        (
            f"{out.where(key, int(i))}: TraceId {trace} ExtPrice {money(ext[i])} != "
            f"Qty {qty[i]} x UnitPrice {money(unit[i])}"
            for trace, i in zip(shown, bad, strict=False)
        ),
    )
