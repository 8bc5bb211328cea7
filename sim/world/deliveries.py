"""Deliveries: goods a truck brings, as typed values applied when the truck arrives.

:mod:`sim.world.logistics` creates them when a trip is planned (its whole timeline is
known then) and hands them to :meth:`DayContext.schedule`; one that arrives after the
business day travels in the checkpoint (:class:`sim.world.state.WorldState`) and is
applied on the day it arrives. Rows are keyed by the trip (its start day and number),
so they keep their TraceIds whichever day records them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from sim.contract import keys
from sim.contract.rng import Stream, stream
from sim.world.context import DayContext, Delivery
from sim.world.inventory import record_dc_txn, record_store_txn


@dataclass(frozen=True)
class StoreDelivery(Delivery):
    """A DC truck's load arriving at store index ``store``; some units arrive damaged."""

    at: float
    store: int
    products: np.ndarray
    qty: np.ndarray
    shipment: str
    day_no: int  # the trip's start day and number: its rows' keys
    seq: int

    def apply(self, ctx: DayContext) -> None:
        s, prods, qty = self.store, self.products, self.qty
        ctx.inventory[s, prods] += qty
        ctx.on_order[s, prods] -= qty
        now = np.full(len(prods), ctx.env.now)
        ref = pa.array([self.shipment] * len(now))
        sid = int(ctx.m.store_ids[s])
        trip = dict(day=self.day_no, seq=self.seq)
        lines = np.arange(len(now))
        key = keys.STORE_RECEIPT.key(**trip, local=lines)
        record_store_txn(ctx.rec, sid, now, prods, qty, "RECEIPT", "TRUCK", ref, key)
        rng = stream(ctx.sc.seed, Stream.DAMAGE, ctx.m.shard, self.day_no, self.seq)
        damaged = np.minimum(rng.binomial(qty, ctx.sc.supply.damage_rate), ctx.inventory[s, prods])
        hit = np.flatnonzero(damaged)
        ctx.inventory[s, prods[hit]] -= damaged[hit]
        record_store_txn(
            ctx.rec,
            sid,
            now[hit],
            prods[hit],
            -damaged[hit],
            "DAMAGE",
            "TRUCK",
            ref.take(pa.array(hit)),
            keys.STORE_DAMAGE.key(**trip, local=hit),
        )


@dataclass(frozen=True)
class DcDelivery(Delivery):
    """A supplier truck arriving at the DC with ``qty`` of the ``ordered`` units."""

    at: float
    products: np.ndarray
    ordered: np.ndarray
    qty: np.ndarray
    shipment: str
    day_no: int
    seq: int

    def apply(self, ctx: DayContext) -> None:
        # A load can hold a product twice (an order carried over from a day without a
        # supplier truck, packed with today's): ``+=`` on a fancy index would add once.
        np.add.at(ctx.dc_stock, self.products, self.qty)
        np.subtract.at(ctx.dc_on_order, self.products, self.ordered)
        n = len(self.products)
        record_dc_txn(
            ctx.rec,
            ctx.m.shard,
            np.full(n, ctx.env.now),
            self.products,
            self.qty,
            "RECEIPT",
            "SUPPLIER",
            pa.array([self.shipment] * n),
            keys.DC_RECEIPT.key(day=self.day_no, seq=self.seq, local=np.arange(n)),
        )
