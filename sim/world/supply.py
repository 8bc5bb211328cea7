"""Replenishment decisions: stores and DCs review their stock once a day.

Both use a periodic-review (s, S) policy on expected demand (``ShardMaster.demand``):
when on hand + on order falls to the reorder point ``s`` an order brings the position
up to ``S``. A store orders from its DC (delivered by the DC's trucks, usually the next
morning); a DC orders from suppliers (delivered after the product's supplier lead
time). See ``docs/supply-chain.md``.
"""

from __future__ import annotations

from collections.abc import Generator

import numpy as np
import simpy

from sim.contract import keys
from sim.contract.columns import repeated
from sim.world.context import DayContext
from sim.world.inventory import record_store_txn
from sim.world.store import Store

MIN_SHELF_UNITS = 3  # a carried product is kept at a few facings at least


def review_store(
    ctx: DayContext, store: Store, at: float, rng: np.random.Generator
) -> Generator[simpy.Event, object, None]:
    """The process of a store's review at ``at``: what the store sold is recorded first."""
    yield ctx.env.timeout(max(at - ctx.env.now, 0))
    store.flush(ctx.env.now)
    store_review(ctx, store, rng)


def review_dc(
    ctx: DayContext, at: float, rng: np.random.Generator
) -> Generator[simpy.Event, object, None]:
    """The process of the DC's review at ``at``."""
    yield ctx.env.timeout(max(at - ctx.env.now, 0))
    dc_review(ctx, rng)


def store_review(ctx: DayContext, store: Store, rng: np.random.Generator) -> None:
    """End-of-day review of one store: shrink and returns, then the order to the DC."""
    sc, s, now = ctx.sc, store.day.index, ctx.env.now
    sold = store.units_sold()
    _adjust(ctx, store, rng, sold, now)
    d = ctx.demand_today[s]
    carried = ctx.m.opening[s] > 0
    stock, on_order = ctx.inventory[s], ctx.on_order[s]
    position = stock + on_order
    point = np.maximum(np.ceil(d * sc.supply.reorder_point_days), 1)
    upto = np.maximum(np.ceil(d * sc.supply.order_up_to_days), MIN_SHELF_UNITS)
    qty = np.where(carried & (position <= point), upto - position, 0).astype(np.int64)
    qty = np.maximum(qty, 0)
    prods = np.flatnonzero(qty)
    on_order[prods] += qty[prods]
    ctx.backlog[s, prods] += qty[prods]
    if ctx.rec.wants("reorder_triggered") and len(prods):
        ctx.rec.record(
            "reorder_triggered",
            np.full(len(prods), now),
            keys.REORDER.key(node=s + 1, product=prods),
            {
                "NodeType": repeated("STORE", len(prods)),
                "NodeID": np.full(len(prods), store.day.store_id),
                "ProductID": prods,
                "OnHand": stock[prods],
                "OnOrder": on_order[prods] - qty[prods],
                "OrderQty": qty[prods],
            },
        )


def _adjust(
    ctx: DayContext, store: Store, rng: np.random.Generator, sold: np.ndarray, now: float
) -> None:
    """Shrink (theft, spoilage) takes units away; customer returns bring some back."""
    sup = ctx.sc.supply
    stock = ctx.inventory[store.day.index]
    shrink = np.minimum(rng.poisson(sold * sup.shrink_rate), stock)
    returns = rng.binomial(sold, sup.return_rate)
    stock -= shrink
    stock += returns
    for reason, qty, sign, layout in (
        ("SHRINK", shrink, -1, keys.STORE_SHRINK),
        ("RETURN", returns, 1, keys.STORE_RETURN),
    ):
        prods = np.flatnonzero(qty)
        record_store_txn(
            ctx.rec,
            store.day.store_id,
            np.full(len(prods), now),
            prods,
            sign * qty[prods],
            reason,
            "STORE",
            None,
            layout.key(store=store.day.index, product=prods),
        )


def dc_review(ctx: DayContext, rng: np.random.Generator) -> None:
    """End-of-day review of the DC: purchase orders to suppliers."""
    sup, cat = ctx.sc.supply, ctx.catalog
    demand = ctx.demand_today.sum(axis=0)
    lead = cat.lead_days
    position = ctx.dc_stock + ctx.dc_on_order - ctx.backlog.sum(axis=0)
    point = np.ceil(demand * (lead + sup.dc_reorder_point_days))
    upto = np.ceil(demand * (lead + sup.dc_order_up_to_days))
    qty = np.where((demand > 0) & (position <= point), upto - position, 0).astype(np.int64)
    prods = np.flatnonzero(qty > 0)
    if not len(prods):
        return
    due = ctx.day_no + lead[prods]
    ctx.dc_on_order[prods] += qty[prods]
    po = ctx.purchase_orders
    for k, v in (("due", due), ("product", prods), ("qty", qty[prods])):
        po[k] = np.r_[po.get(k, np.empty(0, np.int64)), v]
    if ctx.rec.wants("reorder_triggered"):
        ctx.rec.record(
            "reorder_triggered",
            np.full(len(prods), ctx.env.now),
            keys.REORDER.key(node=0, product=prods),
            {
                "NodeType": repeated("DC", len(prods)),
                "NodeID": np.full(len(prods), ctx.m.shard),
                "ProductID": prods,
                "OnHand": ctx.dc_stock[prods],
                "OnOrder": ctx.dc_on_order[prods] - qty[prods],
                "OrderQty": qty[prods],
            },
        )
