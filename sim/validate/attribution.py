"""Ad impressions reach the right people and precede the visits they cause.

* a marketing row's StoreID is the HomeStoreID of the customer whose AdId it reached;
* a receipt whose ImpressionId resolves belongs to a known customer whose AdId the
  impression reached, in that customer's home store, at least 1 hour after the
  impression (visits follow an ad by 1 to 48 hours).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sim.validate.arrays import index_in, ints, iso, ms, strings
from sim.validate.output import Output
from sim.validate.registry import Findings, check

MIN_LAG_MS = 3_600_000


@check(
    "attribution",
    "marketing.StoreID = home store of the customer reached; a receipt's impression reached "
    "that receipt's customer (by AdId), in their home store, >= 1 h before the receipt",
    needs=("facts/marketing", "master/customers"),
)
def attribution(out: Output, f: Findings) -> None:
    m, cu = out["facts/marketing"], out["master/customers"]
    f.examined(m.num_rows)
    reached = index_in(m["CustomerAdId"], cu["AdId"])
    home = ints(cu["HomeStoreID"])
    store = ints(m["StoreID"])
    bad = np.flatnonzero((reached >= 0) & (store != home[np.maximum(reached, 0)]))
    ids = strings(m["ImpressionId"].take(pa.array(bad[: f.room()])))
    f.add(
        len(bad),
        (
            f"impression {ids[k]}: StoreID {store[i]}, customer's home store {home[reached[i]]}"
            for k, i in enumerate(bad[: len(ids)])
        ),
    )
    if out.usable("facts/receipts"):
        _visits(out["facts/receipts"], m, cu, f)


def _visits(r: pa.Table, m: pa.Table, cu: pa.Table, f: Findings) -> None:
    r = r.filter(pc.is_valid(r["ImpressionId"]))
    imp = index_in(r["ImpressionId"], m["ImpressionId"])
    r, imp = r.filter(pa.array(imp >= 0)), imp[imp >= 0]
    f.examined(r.num_rows)
    who = index_in(r["CustomerID"], cu["ID"])
    known = who >= 0
    their_ad = np.full(len(who), None, dtype=object)
    their_ad[known] = strings(cu["AdId"].take(pa.array(who[known])))
    home = np.full(len(who), -1, dtype=np.int64)
    home[known] = ints(cu["HomeStoreID"].take(pa.array(who[known])))
    reached = strings(m["CustomerAdId"].take(pa.array(imp)))
    ts, shown_at = ms(r["EventTS"]), ms(m["EventTS"])[imp]
    store = ints(r["StoreID"])
    problems = [
        (their_ad != reached, "reached AdId {reached}, the receipt's customer has {their}"),
        (store != home, "receipt in store {store}, the customer's home store is {home}"),
        (ts - shown_at < MIN_LAG_MS, "impression at {shown}, receipt at {at}"),
    ]
    rid, iid = strings(r["ReceiptId"]), strings(r["ImpressionId"])
    for bad, text in problems:
        rows = np.flatnonzero(bad)
        f.add(
            len(rows),
            (
                f"receipt {rid[i]} (impression {iid[i]}): "
                + text.format(
                    reached=reached[i],
                    their=their_ad[i],
                    store=store[i],
                    home=home[i],
                    shown=iso(int(shown_at[i])),
                    at=iso(int(ts[i])),
                )
                for i in rows
            ),
        )
