"""Check 5: receipt arithmetic, exact to the cent.

Money columns are compared as integer cents. Tax is recomputed from the store's
geography ``TaxRate`` read as an exact decimal (to 1e-8), rounded half up.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pyarrow as pa

from sim.validate.arrays import cents, index_in, money, strings
from sim.validate.output import Output
from sim.validate.registry import Findings, check

RATE_SCALE = 10**8


@check(
    "money",
    "per receipt Subtotal = sum of its lines' ExtPrice, "
    "Tax = round-half-up(Subtotal x TaxRate of the store's geography), Total = Subtotal + "
    "Tax, all to the cent; every receipt has a line",
    needs=("facts/receipts", "facts/receipt_lines"),
)
def receipt_money(out: Output, f: Findings) -> None:
    r, lines = out["facts/receipts"], out["facts/receipt_lines"]
    f.examined(r.num_rows + lines.num_rows)
    ext = cents(lines["ExtPrice"])
    owner = index_in(lines["ReceiptId"], r["ReceiptId"])
    known = owner >= 0
    n = r.num_rows
    line_sum = np.rint(np.bincount(owner[known], ext[known], minlength=n)).astype(np.int64)
    has_line = np.bincount(owner[known], minlength=n) > 0
    sub, tax, total = (cents(r[c]) for c in ("Subtotal", "Tax", "Total"))
    rid = r["ReceiptId"]
    _report(f, rid, ~has_line, lambda i: "has no line")
    _report(
        f,
        rid,
        has_line & (sub != line_sum),
        lambda i: f"Subtotal {money(sub[i])} != sum of ExtPrice {money(line_sum[i])}",
    )
    _report(
        f,
        rid,
        total != sub + tax,
        lambda i: f"Total {money(total[i])} != Subtotal {money(sub[i])} + Tax {money(tax[i])}",
    )
    rate = _tax_rates(out, r)
    if rate is None:
        f.notes.append("Tax not checked: stores or geographies_master unusable")
        return
    want = (sub * rate + RATE_SCALE // 2) // RATE_SCALE
    _report(
        f,
        rid,
        (rate >= 0) & (tax != want),
        lambda i: (
            f"Tax {money(tax[i])} != {money(want[i])} "
            f"(Subtotal {money(sub[i])} x rate {rate[i] / RATE_SCALE:g})"
        ),
    )


def _tax_rates(out: Output, r: pa.Table) -> np.ndarray | None:
    """Per receipt the store's tax rate in units of 1e-8, or -1 where it does not resolve."""
    if not (out.usable("master/stores") and out.usable("master/geographies_master")):
        return None
    stores, geo = out["master/stores"], out["master/geographies_master"]
    store = index_in(r["StoreID"], stores["ID"])
    geo_of_store = index_in(stores["GeographyID"], geo["ID"])
    scaled = np.rint(geo["TaxRate"].to_numpy() * RATE_SCALE).astype(np.int64)
    g = np.where(store >= 0, geo_of_store[np.maximum(store, 0)], -1)
    return np.where(g >= 0, scaled[np.maximum(g, 0)], -1)


def _report(f: Findings, rid: pa.ChunkedArray, bad: np.ndarray, what: Callable[[int], str]) -> None:
    """Violations at the receipts where ``bad``; ``what(i)`` describes receipt ``i``."""
    rows = np.flatnonzero(bad)
    shown = rows[: f.room()]
    ids = strings(rid.take(pa.array(shown)))
    f.add(len(rows), (f"receipt {ids[k]}: {what(int(i))}" for k, i in enumerate(shown)))
