"""One business day of one shard: a SimPy environment built from the checkpoint.

Every day is built from the state the previous day left (:class:`WorldState`), so a
period simulated in one run and in several runs goes through exactly the same steps.
The clock is in seconds since the start of the scenario's first business day.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import simpy

from sim.config.calendar import day_start
from sim.config.scenario import Scenario
from sim.contract import keys
from sim.contract.rng import Stream, stream
from sim.world.disruptions import Disruptions
from sim.world.inventory import record_dc_txn, record_store_txn
from sim.world.logistics import Logistics
from sim.world.marketing import Conversions, impressions
from sim.world.model import Catalog, ShardMaster, day_number
from sim.world.online import OnlineChannel
from sim.world.recorder import Recorder
from sim.world.seasonality import day_factor, hour_profile
from sim.world.state import WorldState
from sim.world.store import Store, StoreDay
from sim.world.supply import dc_review, store_review
from sim.world.till import Promotions
from sim.world.visits import arrival_times, plan_visits

DAY = 86400.0
REVIEW_AFTER_CLOSE = 1800.0  # stores review stock half an hour after closing
DC_REVIEW_HOUR = 22


@dataclass
class Shard:
    """What stays the same for a shard from day to day."""

    sc: Scenario
    m: ShardMaster
    catalog: Catalog
    disruptions: Disruptions
    first_day: date


class ShardDay:
    """Business day ``day`` of a shard, ready to run."""

    def __init__(self, shard: Shard, state: WorldState, day: date, rec: Recorder) -> None:
        sc, m = shard.sc, shard.m
        self.sc, self.m, self.catalog, self.day, self.rec = sc, m, shard.catalog, day, rec
        self.disruptions = shard.disruptions
        self.t0 = day_start(shard.first_day).timestamp()
        self.start = (day - shard.first_day).days * DAY
        self.end = self.start + DAY
        self.day_no = day_number(day)
        self.env = simpy.Environment(initial_time=self.start)
        self._restore(state)
        rec.start_day(day, self.end, state.deferred)
        key = (m.shard, self.day_no)
        self.factor = day_factor(day, sc.demand)
        self.demand_today = m.demand * max(self.factor, 0.3)
        self.promos = self._promotions(Promotions.for_day(sc, self.catalog, day))
        self.hours = [self._hours(s) for s in range(len(m.store_ids))]
        for t, kind, payload in state.effects:
            self.schedule(t, kind, payload)
        self.logistics = Logistics(self, stream(sc.seed, Stream.LOGISTICS, *key))
        self.logistics.inbound()
        self.env.process(
            self.logistics.dispatch(
                self._dc_local(sc.supply.dispatch_hour),
                self._dc_local(sc.supply.dispatch_cutoff_hour),
            )
        )
        pending = Conversions.from_state(state.pending) + impressions(
            sc,
            stream(sc.seed, Stream.MARKETING, *key),
            m,
            rec,
            self.start,
            self.day_no,
            day.year * 100 + day.month,
            self.factor,
        )
        self.stores: list[Store] = []
        self.stores_by_index: dict[int, Store] = {}
        rng = stream(sc.seed, Stream.ARRIVALS, *key)
        today = np.zeros(len(pending.t), bool)
        for s in range(len(m.store_ids)):
            today |= self._open_store(s, rng, pending, key)
        self.pending = pending.take(~today)
        self.online = OnlineChannel(self, stream(sc.seed, Stream.ONLINE, *key))
        self.env.process(self._dc_review(stream(sc.seed, Stream.REVIEW, *key)))
        self.env.process(self._ticker())

    # -- state -------------------------------------------------------------------------
    def _restore(self, state: WorldState) -> None:
        self.inventory = state.inventory.copy()
        self.dc_stock = state.dc_stock.copy()
        self.on_order = state.on_order.copy()
        self.backlog = state.backlog.copy()
        self.dc_on_order = state.dc_on_order.copy()
        self.purchase_orders = {k: v.copy() for k, v in state.purchase_orders.items()}
        self.truck_free = dict(state.truck_free)
        self.effects: list[tuple[float, str, dict[str, Any]]] = []

    def state(self) -> WorldState:
        return WorldState(
            self.inventory,
            self.dc_stock,
            self.on_order,
            self.backlog,
            self.dc_on_order,
            self.purchase_orders,
            self.pending.as_state(),
            self.rec.deferred,
            self.effects,
            self.truck_free,
        )

    def schedule(self, t: float, kind: str, payload: dict[str, Any]) -> None:
        """Apply an effect (a delivery) at sim time ``t``, today or on a later day."""
        if t < self.end:
            self.env.process(self._effect(t, kind, payload))
        else:
            self.effects.append((t, kind, payload))

    def _effect(
        self, t: float, kind: str, p: dict[str, Any]
    ) -> Generator[simpy.Event, object, None]:
        yield self.env.timeout(max(t - self.env.now, 0))
        now = np.full(len(p["products"]), self.env.now)
        ref = pa.array([p["shipment"]] * len(now))
        if kind == "store_receipt":
            s = p["store"]
            self.inventory[s, p["products"]] += p["qty"]
            self.on_order[s, p["products"]] -= p["qty"]
            sid = int(self.m.store_ids[s])
            local = np.arange(len(now))
            record_store_txn(
                self.rec,
                sid,
                now,
                p["products"],
                p["qty"],
                "RECEIPT",
                "TRUCK",
                ref,
                keys.STORE_RECEIPT.key(day=p["day_no"], seq=p["seq"], local=local),
            )
            damaged = np.minimum(
                stream(self.sc.seed, Stream.DAMAGE, self.m.shard, p["day_no"], p["seq"]).binomial(
                    p["qty"], self.sc.supply.damage_rate
                ),
                self.inventory[s, p["products"]],
            )
            hit = np.flatnonzero(damaged)
            self.inventory[s, p["products"][hit]] -= damaged[hit]
            record_store_txn(
                self.rec,
                sid,
                now[hit],
                p["products"][hit],
                -damaged[hit],
                "DAMAGE",
                "TRUCK",
                ref.take(pa.array(hit)),
                keys.STORE_DAMAGE.key(day=p["day_no"], seq=p["seq"], local=hit),
            )
        else:
            self.dc_stock[p["products"]] += p["qty"]
            self.dc_on_order[p["products"]] -= p["ordered"]
            record_dc_txn(
                self.rec,
                self.m.shard,
                now,
                p["products"],
                p["qty"],
                "RECEIPT",
                "SUPPLIER",
                ref,
                keys.DC_RECEIPT.key(day=p["day_no"], seq=p["seq"], local=np.arange(len(now))),
            )

    # -- clocks ------------------------------------------------------------------------
    def _local(self, tz: str, hour: int) -> float:
        d = self.day
        return (
            datetime(d.year, d.month, d.day, hour, tzinfo=ZoneInfo(tz)).astimezone(UTC).timestamp()
            - self.t0
        )

    def _hours(self, s: int) -> tuple[float, float]:
        tz = self.m.time_zones[s]
        return self._local(tz, int(self.m.open_hour[s])), self._local(tz, int(self.m.close_hour[s]))

    def _dc_local(self, hour: int) -> float:
        return self._local(self.m.dc_time_zone, hour)

    # -- stores ------------------------------------------------------------------------
    def _promotions(self, promos: Promotions) -> Promotions:
        """The week's promotions with the scenario's price changes and promotions."""
        noon = self.start + DAY / 2
        price = self.disruptions.prices(promos.price, noon)
        code, codes, lift = promos.code.copy(), list(promos.codes), promos.lift.copy()
        changed = price != promos.price  # a price change moves demand by the elasticity
        lift[changed] *= (
            price[changed] / promos.price[changed]
        ) ** self.sc.shopping.price_elasticity
        for name, discount, up, prods in self.disruptions.promotions(noon):
            hit = prods[: len(price)]
            price = np.where(hit, np.maximum(np.round(price * (1 - discount)), 1), price)
            code = np.where(hit, len(codes), code)
            codes.append(f"DSR-{name}")
            lift = np.where(hit, up, lift)
        return Promotions(promos.week, price.astype(np.int64), code, codes, lift)

    def _open_store(
        self, s: int, rng: np.random.Generator, pending: Conversions, key: tuple[int, int]
    ) -> np.ndarray:
        """Plan store ``s``'s visits; return which pending ad visits it takes today."""
        m, sc = self.m, self.sc
        open_s, close_s = self.hours[s]
        # an ad visit due after today's last entry waits for the next opening
        mine = (pending.store == s) & (pending.t < close_s - 1800)
        if self.factor <= 0:
            return np.zeros(len(pending.t), bool)
        hour_starts = np.array([self._local(m.time_zones[s], h) for h in range(24)])
        traffic = self.factor * self.disruptions.traffic(s, (open_s + close_s) / 2)
        n = int(rng.poisson(sc.volume.customers_per_day * m.size[s] * traffic))
        profile = hour_profile(sc.demand, int(m.open_hour[s]), int(m.close_hour[s]))
        base_t = arrival_times(rng, n, self.start, hour_starts, profile)
        anon = rng.random(n) < sc.shopping.anonymous_share
        pool, w = m.customers[s], m.loyalty[s]
        who = pool[rng.choice(len(pool), n, p=w / w.sum())] if len(pool) else np.full(n, -1)
        who = np.where(anon | (len(pool) == 0), -1, who)
        ad = pending.take(mine)
        inside = (ad.t >= open_s) & (ad.t < close_s - 1800)
        ad_t = np.where(inside, ad.t, rng.uniform(open_s, close_s - 1800, len(ad.t)))
        ad_t = np.maximum(ad_t, ad.t)
        t = np.r_[base_t, ad_t]
        keep = np.ones(len(t), dtype=bool)
        for a, b in self.disruptions.closed_spans(s):
            keep &= (t < a) | (t >= b)
        order = np.flatnonzero(keep)[np.argsort(t[keep], kind="stable")]
        customer = np.r_[who, ad.customer][order]
        imp_day = np.r_[np.full(n, -1), ad.imp_day][order]
        imp_seq = np.r_[np.full(n, -1), ad.imp_seq][order]
        carried = np.flatnonzero(m.opening[s] > 0)
        srng = stream(sc.seed, Stream.SESSIONS, *key, s)
        visits = plan_visits(
            sc,
            srng,
            self.catalog,
            self.promos,
            t[order],
            customer,
            imp_day,
            imp_seq,
            carried,
            close_s,
        )
        ble = ~pc.is_null(m.ble_ids.take(np.maximum(customer, 0))).to_numpy(zero_copy_only=False)
        day = StoreDay(
            s,
            int(m.store_ids[s]),
            int(self.day.strftime("%Y%m%d")),
            float(m.tax_rate[s]),
            open_s,
            close_s,
            self.promos,
            ble & (customer >= 0),
            m.ble_ids,
            m.shard,
            self.disruptions.sensor_spans(s),
        )
        store = Store(
            self.env,
            day,
            int(m.lanes[s]),
            visits,
            self.inventory[s],
            self.catalog,
            self.rec,
            stream(sc.seed, Stream.TILL, *key, s),
            sc.shopping.ble_ping_interval_s,
        )
        self.stores.append(store)
        self.stores_by_index[s] = store
        self.env.process(
            self._store_review(
                store, close_s + REVIEW_AFTER_CLOSE, stream(sc.seed, Stream.REVIEW, *key, s)
            )
        )
        if self.rec.wants("store_status"):
            self.rec.record(
                "store_status",
                np.array([open_s, close_s]),
                keys.STORE_STATUS.key(store=s, status=np.arange(2)),
                {"StoreID": np.full(2, day.store_id), "Status": ["OPENED", "CLOSED"]},
            )
        return mine

    def _store_review(
        self, store: Store, at: float, rng: np.random.Generator
    ) -> Generator[simpy.Event, object, None]:
        yield self.env.timeout(max(at - self.env.now, 0))
        store.flush(self.env.now)
        store_review(self, store, rng)

    def _dc_review(self, rng: np.random.Generator) -> Generator[simpy.Event, object, None]:
        yield self.env.timeout(max(self._dc_local(DC_REVIEW_HOUR) - self.env.now, 0))
        dc_review(self, rng)

    def _ticker(self) -> Generator[simpy.Event, object, None]:
        while True:
            yield self.env.timeout(self.rec.flush_every)
            for store in self.stores:
                store.flush(self.env.now)
            self.online.flush(self.env.now)

    # -- running -----------------------------------------------------------------------
    def run(self, until: float) -> None:
        """Advance the clock to ``until`` (sim seconds), at most to the end of the day."""
        until = min(until, self.end)
        if until > self.env.now:
            self.env.run(until=until)

    def finish(self) -> WorldState:
        """Run to the end of the day, record the rest, and return tomorrow's state."""
        self.run(self.end)
        for store in self.stores:
            store.flush(self.end, final=True)
        self.online.flush(self.end)
        return self.state()
