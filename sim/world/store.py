"""The store: opening hours, checkout lanes, on-hand stock, and what its sensors see."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import simpy

from sim.contract import keys
from sim.contract.columns import nullable_ids, repeated
from sim.contract.ids import readable_ids, uniform
from sim.world.lanes import Arrival, Lanes, visit
from sim.world.model import CHECKOUT, ZONES, Catalog
from sim.world.recorder import Recorder
from sim.world.segments import members
from sim.world.sensors import FT_INTERVAL, interval_of, occupancy, pings, rssi, sensing
from sim.world.till import TENDERS, Promotions, tax_cents
from sim.world.visits import Visits

CHECKOUT_STAY = 15  # stay number of the checkout in ping keys
SUBSTITUTE_SHARE = 0.38  # on a stockout: 20% switch brand + 18% switch variety (Gruen 2002)


@dataclass
class StoreDay:
    """What a store is on a given day (ids, hours in sim seconds, prices)."""

    index: int
    store_id: int
    yyyymmdd: int
    tax_rate: float
    open_s: float
    close_s: float
    promos: Promotions
    ble: np.ndarray  # per visit: whether the visitor's app has a BLE id
    ble_ids: pa.Array  # BLE id by customer id
    imp_shard: int
    sensor_off: list[tuple[float, float]]  # spans (sim s) when the sensors are down


class Store:
    """A store's day on the SimPy clock; visits are processes, lanes a Resource."""

    def __init__(
        self,
        env: simpy.Environment,
        day: StoreDay,
        lanes: int,
        visits: Visits,
        stock: np.ndarray,
        catalog: Catalog,
        recorder: Recorder,
        rng: np.random.Generator,
        ping_interval: float,
    ) -> None:
        self.env, self.day, self.visits, self.stock = env, day, visits, stock
        self.catalog, self.rec, self.rng = catalog, recorder, rng
        self.ping_interval = ping_interval
        self.lanes = Lanes(env, int(lanes))
        n = len(visits)
        self.sold = np.zeros(len(visits.line_prod), dtype=np.int64)
        self.paid_at = np.zeros(n)
        # a visit that does not buy meets nothing shared: its exit is known on arrival
        self.exit_at = np.where(visits.buys, np.nan, visits.arrive + visits.shop)
        self._sensed = ~visits.buys  # a buyer's checkout stay recorded (others have none)
        self._walked = 0  # visits entered so far: their zone stays are recorded
        self._off = visits.line_off.tolist()
        self._prod = visits.line_prod.tolist()  # the baskets as Python ints, for checkout
        self._qty = visits.line_qty.tolist()
        self.queue_at = (visits.arrive + visits.shop).tolist()  # Python floats: a faster heap
        self.service = visits.service.tolist()
        self._paid: list[int] = []  # visits that paid, in order, and when
        self._paid_t: list[float] = []
        self._whole: list[int] = []  # of them, baskets sold whole, not yet in ``sold``
        self._stockouts: list[tuple[float, int, int]] = []
        self._stockout_count: dict[int, int] = {}
        self._receipts = self._paid_done = self._entered = self._settled = 0
        self._ft_from = env.now
        self._stays: tuple[np.ndarray, ...] = (np.empty(0, np.int64),) + (np.empty(0),) * 2
        order = np.argsort(visits.stay_visit, kind="stable")
        self._stay_order = order
        self._stay_off = np.searchsorted(visits.stay_visit[order], np.arange(n + 1))
        self._beacons = pa.array([f"B-{day.store_id:04d}-{z}" for z in ZONES])
        self._sensors = pa.array([f"FT-{day.store_id:04d}-{z}" for z in ZONES])
        self._zones = pa.array(list(ZONES))
        self.start_visits()

    def start_visits(self) -> None:
        """A process for each visit that buys, from the time it joins the checkout queue."""
        env, now = self.env, self.env.now
        for i in np.flatnonzero(self.visits.buys).tolist():
            Arrival(env, visit(env, self, i), self.queue_at[i] - now)

    # -- what visits do -----------------------------------------------------------
    def checkout(self, i: int, now: float) -> None:
        """Scan the basket of visit ``i``: sell what is on the shelf, never below zero.

        Baskets are a few lines: plain Python on lists beats numpy's per-call cost here;
        a short shelf takes the path below; :meth:`settle` records whole baskets in bulk.
        """
        lo, hi = self._off[i], self._off[i + 1]
        prods = self._prod[lo:hi]
        stock = self.stock
        left = list(map(int.__sub__, map(stock.item, prods), self._qty[lo:hi]))
        if min(left) < 0:
            self._checkout_short(i, now, lo, hi)
            return
        for p, n in zip(prods, left, strict=True):
            stock[p] = n
        self._whole.append(i)
        self._paid.append(i)
        self._paid_t.append(now)
        if 0 in left:
            for p, n in zip(prods, left, strict=True):
                if n == 0:  # every line sold here (sold = qty > 0)
                    k = self._stockout_count[p] = self._stockout_count.get(p, -1) + 1
                    self._stockouts.append((now, p, k))

    def settle(self) -> None:
        """Baskets sold whole to :attr:`sold` (each line its qty), times to :attr:`paid_at`."""
        if self._whole:
            _, line = members(self.visits.line_off, np.asarray(self._whole, dtype=np.int64))
            self.sold[line] = self.visits.line_qty[line]
            self._whole = []
        if len(self._paid_t) > self._settled:
            idx = np.asarray(self._paid[self._settled :], dtype=np.int64)
            self.paid_at[idx] = self._paid_t[self._settled :]
            self._settled = len(self._paid_t)

    def _checkout_short(self, i: int, now: float, lo: int, hi: int) -> None:
        """A basket with a line the shelf cannot fill: short lines switch to a
        same-subcategory product in stock at the published rate; sell what is there."""
        prods, qtys = list(self._prod[lo:hi]), self._qty[lo:hi]
        stock = self.stock
        have = stock.item
        short = [j for j, (p, q) in enumerate(zip(prods, qtys, strict=True)) if have(p) < q]
        draws = self.rng.random(len(short)).tolist()
        basket = set(prods)
        alt_of = self.catalog.substitute.item
        for j, u in zip(short, draws, strict=True):
            alt = alt_of(prods[j])
            if u < SUBSTITUTE_SHARE and alt not in basket and have(alt) >= qtys[j]:
                prods[j] = alt
                basket.add(alt)
        self.visits.line_prod[lo:hi] = prods
        self._prod[lo:hi] = prods
        on_hand = [have(p) for p in prods]
        sold = [min(q, h) for q, h in zip(qtys, on_hand, strict=True)]
        if not any(sold):
            return
        left = [h - n for h, n in zip(on_hand, sold, strict=True)]
        for p, n in zip(prods, left, strict=True):
            stock[p] = n
        self.sold[lo:hi] = sold
        self._paid.append(i)
        self._paid_t.append(now)
        for p, n, k in zip(prods, sold, left, strict=True):
            if n > 0 and k == 0:
                c = self._stockout_count[p] = self._stockout_count.get(p, -1) + 1
                self._stockouts.append((now, p, c))

    def exit(self, i: int, now: float) -> None:
        self.exit_at[i] = now

    # -- what gets recorded ----------------------------------------------------------
    def flush(self, now: float, final: bool = False) -> None:
        """Record everything that is complete at ``now``."""
        self.settle()
        self._record_entries(now)
        self._record_receipts()
        self._record_stockouts()
        self._record_sensors(now, final)

    def _record_entries(self, now: float) -> None:
        v = self.visits
        upto = int(np.searchsorted(v.arrive, now, side="right"))
        if upto > self._entered and self.rec.wants("customer_entered"):
            idx = np.arange(self._entered, upto)
            self.rec.record(
                "customer_entered",
                v.arrive[idx],
                keys.CUSTOMER_ENTERED.key(store=self.day.index, visit=idx),
                {
                    "StoreID": np.full(len(idx), self.day.store_id),
                    "CustomerID": nullable_ids(v.customer[idx]),
                    "VisitId": readable_ids(
                        "V", (self.day.store_id, 5), (self.day.yyyymmdd, 8), (idx, 6), n=len(idx)
                    ),
                },
            )
        self._entered = upto

    def _record_receipts(self) -> None:
        idx = np.asarray(self._paid[self._paid_done :], dtype=np.int64)
        self._paid_done = len(self._paid)
        if not len(idx):
            return
        v, d = self.visits, self.day
        seq = np.arange(self._receipts, self._receipts + len(idx))
        self._receipts += len(idx)
        receipt_ids = readable_ids("R", (d.store_id, 5), (d.yyyymmdd, 8), (seq, 6), n=len(idx))
        owner, line = members(v.line_off, idx)
        keep = self.sold[line] > 0
        owner, line = owner[keep], line[keep]
        prod, qty = v.line_prod[line], self.sold[line]
        unit = d.promos.price[prod]
        ext = qty * unit
        subtotal = np.bincount(owner, weights=ext, minlength=len(idx)).astype(np.int64)
        tax = tax_cents(subtotal, d.tax_rate)
        t = self.paid_at[idx]
        tender = pa.array(list(TENDERS)).take(pa.array(v.tender[idx]))
        store = np.full(len(idx), d.store_id)
        imp = v.imp_seq[idx] >= 0
        impression = readable_ids(
            "I", (d.imp_shard, 3), (v.imp_day[idx], 5), (v.imp_seq[idx], 7), n=len(idx)
        )
        rid = receipt_ids.take(pa.array(owner))
        first = np.r_[True, owner[1:] != owner[:-1]]
        line_no = (
            np.arange(len(owner))
            - np.maximum.accumulate(np.where(first, np.arange(len(owner)), 0))
            + 1
        )
        code = d.promos.code[prod]
        promo = pa.array(d.promos.codes + [None]).take(
            pa.array(np.where(code < 0, len(d.promos.codes), code))
        )
        self.rec.record(
            "receipts",
            t,
            keys.RECEIPT.key(store=d.index, receipt=seq),
            {
                "StoreID": store,
                "CustomerID": nullable_ids(v.customer[idx]),
                "ReceiptId": receipt_ids,
                "Subtotal": subtotal,
                "Tax": tax,
                "Total": subtotal + tax,
                "TenderType": tender,
                "ImpressionId": pa.array(
                    np.where(imp, impression.to_numpy(zero_copy_only=False), None), type=pa.string()
                ),
            },
        )
        lt = t[owner]
        self.rec.record(
            "receipt_lines",
            lt,
            keys.RECEIPT_LINE.key(store=d.index, line=line),
            {
                "ReceiptId": rid,
                "Line": line_no,
                "ProductID": prod,
                "Qty": qty,
                "UnitPrice": unit,
                "ExtPrice": ext,
                "PromoCode": promo,
                "StoreID": np.full(len(owner), d.store_id),
            },
        )
        self.rec.record(
            "store_inventory_txn",
            lt,
            keys.STORE_SALE.key(store=d.index, line=line),
            {
                "StoreID": np.full(len(owner), d.store_id),
                "ProductID": prod,
                "QtyDelta": -qty,
                "Reason": repeated("SALE", len(owner)),
                "Source": repeated("STORE", len(owner)),
                "Reference": rid,
            },
        )
        if self.rec.wants("payment_processed"):
            self.rec.record(
                "payment_processed",
                t,
                keys.PAYMENT.key(store=d.index, receipt=seq),
                {
                    "StoreID": store,
                    "ReceiptId": receipt_ids,
                    "TenderType": tender,
                    "Amount": subtotal + tax,
                },
            )

    def units_sold(self) -> np.ndarray:
        """Units sold today per product id."""
        self.settle()
        v = self.visits
        return np.bincount(v.line_prod, weights=self.sold, minlength=len(self.stock)).astype(
            np.int64
        )

    def _record_stockouts(self) -> None:
        if not self._stockouts:
            return
        t, p, k = (np.array(x) for x in zip(*self._stockouts, strict=True))
        self._stockouts = []
        self.rec.record(
            "stockout_detected",
            t,
            keys.STOCKOUT.key(store=self.day.index, product=p, count=k),
            {"StoreID": np.full(len(t), self.day.store_id), "ProductID": p},
        )

    def _record_sensors(self, now: float, final: bool) -> None:
        """Pings and people counts of the stays known at ``now``: a visit's walk through
        the zones is planned, so known when it enters; its checkout stay once it pays."""
        v = self.visits
        arrived = int(np.searchsorted(v.arrive, now, side="right"))
        entered = np.arange(self._walked, arrived)
        self._walked = arrived
        owner, pos = members(self._stay_off, entered)
        s = self._stay_order[pos]
        number = pos - self._stay_off[entered][owner]
        paid = np.flatnonzero(~self._sensed & (self.exit_at <= now))
        self._sensed[paid] = True
        visit_ = np.r_[v.stay_visit[s], paid]
        number = np.r_[number, np.full(len(paid), CHECKOUT_STAY)]
        zone = np.r_[v.stay_zone[s], np.full(len(paid), CHECKOUT)]
        start = np.r_[v.stay_start[s], v.arrive[paid] + v.shop[paid]]
        end = np.r_[v.stay_end[s], self.exit_at[paid]]
        self._record_pings(visit_, number, zone, start, end)
        self._record_traffic(zone, start, end, now, arrived, final)

    def _record_pings(
        self,
        visit_: np.ndarray,
        number: np.ndarray,
        zone: np.ndarray,
        start: np.ndarray,
        end: np.ndarray,
    ) -> None:
        seen = self.day.ble[visit_]
        if not seen.any():
            return
        stay, k, t = pings(start[seen], end[seen], self.ping_interval)
        key = keys.BLE_PING.key(
            store=self.day.index, visit=visit_[seen][stay], stay=number[seen][stay], ping=k
        )
        seed = self.rec.seed
        t = np.minimum(t + 2.0 * uniform(seed, 1, key), end[seen][stay])
        z = zone[seen][stay]
        on = sensing(t, self.day.sensor_off)
        if not on.all():
            t, key, z, stay = t[on], key[on], z[on], stay[on]
        self.rec.record(
            "ble_pings",
            t,
            key,
            {
                "StoreID": np.full(len(t), self.day.store_id),
                "BeaconId": self._beacons.take(pa.array(z)),
                "CustomerBLEId": self.day.ble_ids.take(self.visits.customer[visit_[seen][stay]]),
                "RSSI": rssi(uniform(seed, 2, key), uniform(seed, 3, key)),
                "Zone": self._zones.take(pa.array(z)),
            },
        )

    def _record_traffic(
        self,
        zone: np.ndarray,
        start: np.ndarray,
        end: np.ndarray,
        now: float,
        arrived: int,
        final: bool,
    ) -> None:
        z0, s0, e0 = self._stays
        zone, start, end = np.r_[z0, zone], np.r_[s0, start], np.r_[e0, end]
        v = self.visits
        paying = np.flatnonzero(np.isnan(self.exit_at[:arrived]))  # checkout stays unknown
        queued = v.arrive[paying] + v.shop[paying]
        upto = now if final or not len(paying) else min(now, float(queued.min()))
        upto = np.floor(upto / FT_INTERVAL) * FT_INTERVAL
        if upto > self._ft_from:
            k, z, count, dwell = occupancy(zone, start, end, upto, self._ft_from)
            on = sensing(k, self.day.sensor_off)
            k, z, count, dwell = k[on], z[on], count[on], dwell[on]
            interval = (k / FT_INTERVAL).astype(np.int64)
            key = keys.FOOT_TRAFFIC.key(store=self.day.index, interval=interval, zone=z)
            self.rec.record(
                "foot_traffic",
                k,
                key,
                {
                    "StoreID": np.full(len(k), self.day.store_id),
                    "SensorId": self._sensors.take(pa.array(z)),
                    "Zone": self._zones.take(pa.array(z)),
                    "Dwell": np.round(dwell, 1),
                    "Count": count,
                },
            )
            self._ft_from = upto
        keep = interval_of(end) * FT_INTERVAL >= self._ft_from  # may count in later rows
        self._stays = (zone[keep], start[keep], end[keep])
