"""Trucks: DC-to-store deliveries and supplier-to-DC deliveries.

A load fills at most one trailer (``TRUCK_PALLETS`` pallets; units convert to pallets by
the product's ``UnitsPerPallet``), and refrigerated products travel only on
refrigerated trucks. A trip's whole timeline is fixed when a truck is assigned, so a
trip that runs past the end of a business day continues from the checkpoint: its late
rows are dated into the next day and its delivery (:mod:`sim.world.deliveries`) travels
in the checkpoint.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from typing import cast

import numpy as np
import pyarrow as pa
import simpy
from simpy.events import ConditionValue

from sim.contract import keys
from sim.contract.vocab import TRUCK_STATUSES as STATUSES
from sim.world.context import DayContext
from sim.world.deliveries import DcDelivery, StoreDelivery
from sim.world.inventory import record_dc_txn

TRUCK_PALLETS = 26.0
SUPPLIER_KM = (120.0, 380.0)  # suppliers are a few hours' drive from the DC


@dataclass(frozen=True)
class Truck:
    id: int
    reefer: bool


@dataclass
class Load:
    """Goods for one trip: to store ``store`` (index), or to the DC when it is -1."""

    store: int
    products: np.ndarray
    qty: np.ndarray
    pallets: float
    reefer: bool


def pack(
    store: int, products: np.ndarray, qty: np.ndarray, per_pallet: np.ndarray, reefer: np.ndarray
) -> list[Load]:
    """Split an order into trailer loads: refrigerated goods first, next-fit by pallets.

    A product line bigger than a trailer is split into full-trailer parts first.
    """
    products, qty = _split_full_trailers(products, qty, per_pallet)
    loads: list[Load] = []
    for cold in (True, False):
        sel = reefer[products] == cold
        prods, units = products[sel], qty[sel]
        pallets = units / per_pallet[prods]
        start, used = 0, 0.0
        for i, p in enumerate(pallets.tolist()):
            if used + p > TRUCK_PALLETS + 1e-9 and i > start:
                loads.append(Load(store, prods[start:i], units[start:i], used, cold))
                start, used = i, 0.0
            used += p
        if len(prods) > start:
            loads.append(Load(store, prods[start:], units[start:], used, cold))
    return loads


def _split_full_trailers(
    products: np.ndarray, qty: np.ndarray, per_pallet: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    full = (TRUCK_PALLETS * per_pallet[products]).astype(np.int64)  # units in a full trailer
    parts = -(-qty // full)
    if (parts <= 1).all():
        return products, qty
    rep = np.repeat(np.arange(len(qty)), parts)
    k = np.arange(len(rep)) - np.repeat(np.cumsum(parts) - parts, parts)
    units = np.minimum(full[rep], qty[rep] - k * full[rep])
    return products[rep], units


def allocate(backlog: np.ndarray, stock: np.ndarray) -> np.ndarray:
    """What the DC ships of the stores' open orders: all of it, or a fair share when short."""
    total = backlog.sum(axis=0)
    short = total > stock
    ship = backlog.copy()
    if short.any():
        ship[:, short] = np.floor(backlog[:, short] * (stock[short] / total[short]))
    return ship


class Fleet:
    """Trucks of one fleet as a SimPy FilterStore; trucks still out rejoin when free."""

    def __init__(self, ctx: DayContext, ids: np.ndarray, reefer: np.ndarray) -> None:
        self.ctx = ctx
        self.store = simpy.FilterStore(ctx.env, capacity=max(len(ids), 1))
        order = np.lexsort((ids, reefer))  # dry trucks first: dry loads take them first
        for i in order.tolist():
            truck = Truck(int(ids[i]), bool(reefer[i]))
            back = ctx.truck_free.get(truck.id, ctx.env.now)
            if back >= ctx.end:  # still out all day: stays in the checkpoint
                continue
            ctx.truck_free.pop(truck.id, None)
            if back <= ctx.env.now:
                self.store.items.append(truck)
            else:
                ctx.env.process(self.rejoin(truck, back))

    def rejoin(self, truck: Truck, at: float) -> Generator[simpy.Event, object, None]:
        yield self.ctx.env.timeout(at - self.ctx.env.now)
        yield self.store.put(truck)

    def release(self, truck: Truck, at: float) -> None:
        if at < self.ctx.end:
            self.ctx.env.process(self.rejoin(truck, at))
        else:
            self.ctx.truck_free[truck.id] = at


class Logistics:
    """The DC's trucks and the suppliers' trucks for one business day."""

    def __init__(self, ctx: DayContext, rng: np.random.Generator) -> None:
        self.ctx, self.rng = ctx, rng
        m = ctx.m
        self.fleet = Fleet(ctx, m.trucks, m.truck_reefer)
        self.suppliers = Fleet(ctx, m.supplier_trucks, m.supplier_reefer)
        self.seq = 0
        self.yyyymmdd = int(ctx.day.strftime("%Y%m%d"))

    # -- DC to stores ---------------------------------------------------------------
    def dispatch(self, at: float, cutoff: float) -> Generator[simpy.Event, object, None]:
        """At the DC's dispatch hour: allocate open store orders and send the loads."""
        ctx = self.ctx
        yield ctx.env.timeout(max(at - ctx.env.now, 0))
        if ctx.disruptions.dc_out(ctx.env.now):
            return
        open_ = np.array(
            [not ctx.disruptions.store_closed(s, ctx.env.now) for s in range(len(ctx.m.store_ids))]
        )
        ship = allocate(ctx.backlog * open_[:, None], ctx.dc_stock)
        ctx.backlog -= ship
        cat = ctx.catalog
        for s in range(len(ship)):
            prods = np.flatnonzero(ship[s])
            for load in pack(s, prods, ship[s, prods], cat.per_pallet, cat.reefer):
                ctx.env.process(self.trip(load, cutoff))

    def trip(self, load: Load, cutoff: float) -> Generator[simpy.Event, object, None]:
        ctx = self.ctx
        env = ctx.env
        get = self.fleet.store.get(lambda t: t.reefer or not load.reefer)
        # a condition event's value is the ConditionValue of the events that fired
        got = cast(ConditionValue, (yield get | env.timeout(max(cutoff - env.now, 0))))
        if get not in got:  # no truck before the cut-off: the goods wait for tomorrow
            get.cancel()
            ctx.backlog[load.store, load.products] += load.qty
            return
        truck: Truck = got[get]
        taken = self._take_stock(load)
        if taken is None:  # the DC went down, or online orders took the goods meanwhile
            self.fleet.release(truck, env.now)
            return
        seq = self._next()
        km = float(ctx.m.distance_km[taken.store])
        times = self._timeline(env.now, km, taken.pallets, ctx.disruptions.delay(env.now))
        ship_id = self._shipment_id("SH", seq)
        self._record_trip(
            truck, seq, ship_id, int(ctx.m.store_ids[taken.store]), times, taken.pallets
        )
        n = len(taken.products)
        record_dc_txn(
            ctx.rec,
            ctx.m.shard,
            np.full(n, env.now),
            taken.products,
            -taken.qty,
            "SHIPMENT",
            "TRUCK",
            pa.array([ship_id] * n),
            keys.DC_SHIPMENT.key(day=ctx.day_no, seq=seq, local=taken.products),
        )
        ctx.schedule(
            StoreDelivery(
                times[5], taken.store, taken.products, taken.qty, ship_id, ctx.day_no, seq
            )
        )
        self.fleet.release(truck, times[6])

    def _take_stock(self, load: Load) -> Load | None:
        """Take the load's units out of DC stock as the truck is loaded.

        What the DC no longer has (online orders since dispatch) goes back to the store's
        open order, as does everything when the DC is down.
        """
        ctx = self.ctx
        take = np.minimum(load.qty, ctx.dc_stock[load.products])
        if ctx.disruptions.dc_out(ctx.env.now):
            take[:] = 0
        ctx.backlog[load.store, load.products] += load.qty - take
        keep = take > 0
        if not keep.any():
            return None
        products, qty = load.products[keep], take[keep]
        ctx.dc_stock[products] -= qty
        pallets = float((qty / ctx.catalog.per_pallet[products]).sum())
        return Load(load.store, products, qty, pallets, load.reefer)

    def _timeline(self, t0: float, km: float, pallets: float, delay: float) -> list[float]:
        """Times of SCHEDULED .. COMPLETED, the planned ETD and ETA, and the truck's return."""
        speed = self.ctx.sc.supply.truck_speed_kmh
        drive = km / speed * 3600
        go, back = drive * self.rng.lognormal(0, 0.15, 2) * delay
        dock = float(self.rng.uniform(300, 1200))
        loading = 900 + 120 * pallets
        unloading = 600 + 120 * pallets
        etd = t0 + dock + loading
        arrive = etd + go
        done = arrive + unloading
        return [t0, t0 + dock, etd, arrive, arrive, done, done + back, etd, etd + drive]

    def _record_trip(
        self,
        truck: Truck,
        seq: int,
        ship_id: str,
        store_id: int | None,
        times: list[float],
        pallets: float,
    ) -> None:
        ctx = self.ctx
        n = len(STATUSES)
        ctx.rec.record(
            "truck_moves",
            np.array(times[:n]),
            keys.TRUCK_STATUS.key(day=ctx.day_no, seq=seq, local=np.arange(n)),
            {
                "TruckId": np.full(n, truck.id),
                "DCID": np.full(n, ctx.m.shard),
                "StoreID": pa.array([store_id] * n, type=pa.int64()),
                "ShipmentId": pa.array([ship_id] * n),
                "Status": pa.array(list(STATUSES)),
                "ETA": ctx.rec.ms(np.full(n, times[8])),
                "ETD": ctx.rec.ms(np.full(n, times[7])),
                "Pallets": np.full(n, round(pallets, 2)),
            },
        )

    # -- suppliers to the DC ---------------------------------------------------------
    def inbound(self) -> None:
        """Send today's due purchase orders from the suppliers to the DC."""
        ctx = self.ctx
        po = ctx.purchase_orders
        if not po or not len(po["due"]):
            return
        due = po["due"] <= ctx.day_no
        prods, qty = po["product"][due], po["qty"][due]
        for k in po:
            po[k] = po[k][~due]
        order = np.argsort(prods, kind="stable")
        for load in pack(-1, prods[order], qty[order], ctx.catalog.per_pallet, ctx.catalog.reefer):
            start = ctx.start + float(self.rng.uniform(0, 10 * 3600))
            ctx.env.process(self.supplier_trip(load, start))

    def supplier_trip(self, load: Load, start: float) -> Generator[simpy.Event, object, None]:
        ctx = self.ctx
        env = ctx.env
        yield env.timeout(max(start - env.now, 0))
        get = self.suppliers.store.get(lambda t: t.reefer or not load.reefer)
        got = cast(ConditionValue, (yield get | env.timeout(max(ctx.end - 1.0 - env.now, 0))))
        if get not in got:  # no supplier truck today: the order is due again tomorrow
            get.cancel()
            po = ctx.purchase_orders
            for k, v in (
                ("due", np.full(len(load.qty), ctx.day_no + 1)),
                ("product", load.products),
                ("qty", load.qty),
            ):
                po[k] = np.r_[po.get(k, np.empty(0, np.int64)), v]
            return
        truck: Truck = got[get]
        seq = self._next()
        km = float(self.rng.uniform(*SUPPLIER_KM))
        times = self._timeline(env.now, km, load.pallets, ctx.disruptions.delay(env.now))
        ship_id = self._shipment_id("SP", seq)
        self._record_trip(truck, seq, ship_id, None, times, load.pallets)
        delivered = ctx.disruptions.supplied(load.products, load.qty, env.now)
        ctx.schedule(
            DcDelivery(times[5], load.products, load.qty, delivered, ship_id, ctx.day_no, seq)
        )
        self.suppliers.release(truck, times[6])

    def _next(self) -> int:
        self.seq += 1
        return self.seq

    def _shipment_id(self, prefix: str, seq: int) -> str:
        return f"{prefix}-{self.ctx.m.shard:03d}-{self.yyyymmdd}-{seq:05d}"
