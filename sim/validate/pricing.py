"""Check 6: product prices are positive and ordered Cost < SalePrice <= MSRP."""

from __future__ import annotations

import numpy as np

from sim.validate.arrays import cents, ints, money
from sim.validate.output import Output
from sim.validate.registry import Findings, check


@check(
    "pricing",
    "products_master: 0 < Cost < SalePrice <= MSRP",
    needs=("master/products_master",),
)
def pricing(out: Output, f: Findings) -> None:
    p = out["master/products_master"]
    f.examined(p.num_rows)
    ids = ints(p["ID"])
    cost, sale, msrp = (cents(p[c]) for c in ("Cost", "SalePrice", "MSRP"))
    bad = np.flatnonzero((cost <= 0) | (cost >= sale) | (sale > msrp))
    f.add(
        len(bad),
        (
            f"product {ids[i]}: Cost {money(cost[i])}, SalePrice {money(sale[i])}, "
            f"MSRP {money(msrp[i])}"
            for i in bad
        ),
    )
