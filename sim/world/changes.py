"""The change feed in the world: a shard records the master-data changes of its day.

Changes take effect at the start of the business day (:mod:`sim.master.versions`). A
shard records the ``<dim>_cdc`` rows that concern it: its customers' (by home store),
its stores', and, in the reporting DC's shard only, the chain-wide product changes. The
row key is the row's place in the chain's feed of the day, so TraceIds are unique.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pyarrow as pa

from sim.contract.schema import TABLES
from sim.master.versions import REPORTING_DC, DayView
from sim.world.context import DayContext
from sim.world.model import Catalog


def day_catalog(catalog: Catalog, sellable: np.ndarray) -> Catalog:
    """The catalog of a day: a shopper never switches to a product that is not on sale
    (its substitute becomes the product itself, which the substitution skips)."""
    sub = catalog.substitute
    own = np.arange(len(sub))
    return replace(catalog, substitute=np.where(sellable[sub], sub, own))


def record_changes(ctx: DayContext, view: DayView) -> None:
    """Record today's change-feed rows of this shard at the start of the day."""
    for name, cols in view.feeds.items():
        n = len(cols["ID"])
        if not n:
            continue
        key = TABLES[name].key or "StoreID"
        if key == "DCID":
            mine = np.full(n, ctx.m.shard == REPORTING_DC)
        else:
            where = cols[key].fill_null(0).to_numpy(zero_copy_only=False)
            mine = np.isin(where, ctx.m.store_ids)
        rows = np.flatnonzero(mine)
        if len(rows):
            take = pa.array(rows, pa.int64())
            ctx.rec.record(
                name,
                np.full(len(rows), ctx.start),
                rows.astype(np.int64),
                {c: v.take(take) for c, v in cols.items()},
            )
