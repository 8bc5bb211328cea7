"""One business day of one shard: wiring of its processes around a :class:`DayContext`.

Every day is built from the state the previous day left (:class:`WorldState`), so a
period simulated in one run and in several runs goes through exactly the same steps.
The clock is in seconds since the start of the scenario's first business day. The
processes live in their own modules (logistics, online, supply, store) and see only
the context; this module creates them in a fixed order (SimPy breaks ties between
events by creation order, so the order is part of the output).
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from datetime import date

import numpy as np
import simpy

from sim.config.calendar import day_start
from sim.config.scenario import Scenario
from sim.contract import keys, portable
from sim.contract.rng import Stream, stream
from sim.master.versions import Timeline
from sim.world.changes import day_catalog, record_changes
from sim.world.context import DAY, DayContext
from sim.world.disruptions import Disruptions
from sim.world.logistics import Logistics
from sim.world.marketing import Conversions, impressions
from sim.world.model import Catalog, ShardMaster, day_number
from sim.world.online import OnlineChannel
from sim.world.recorder import Recorder
from sim.world.seasonality import day_factor, hour_profile
from sim.world.state import WorldState
from sim.world.store import Store, StoreDay
from sim.world.supply import review_dc, review_store
from sim.world.till import Promotions
from sim.world.visits import arrival_times, plan_visits

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
    changes: Timeline | None = None  # master data that changes (None: it never does)


class ShardDay:
    """Business day ``day`` of a shard, ready to run: wiring of the day's processes."""

    def __init__(self, shard: Shard, state: WorldState, day: date, rec: Recorder) -> None:
        sc, m = shard.sc, shard.m
        start = (day - shard.first_day).days * DAY
        factor = day_factor(day, sc.demand)
        view = shard.changes.day(day) if shard.changes is not None else None
        everyday = None if view is None else view.price
        catalog = shard.catalog if view is None else day_catalog(shard.catalog, view.sellable)
        ctx = DayContext(
            sc=sc,
            m=m,
            catalog=catalog,
            disruptions=shard.disruptions,
            env=simpy.Environment(initial_time=start),
            rec=rec,
            day=day,
            day_no=day_number(day),
            start=start,
            end=start + DAY,
            t0=day_start(shard.first_day).timestamp(),
            factor=factor,
            promos=_promotions(shard, Promotions.for_day(sc, shard.catalog, day, everyday), start),
            **state.stocks(),
        )
        self.ctx = ctx
        rec.start_day(day, ctx.end, state.deferred)
        if view is not None:
            ctx.sellable, ctx.trading = view.sellable, view.trading[m.store_ids]
            record_changes(ctx, view)
        key = (m.shard, ctx.day_no)
        for delivery in state.deliveries:
            ctx.schedule(delivery)
        self.logistics = Logistics(ctx, stream(sc.seed, Stream.LOGISTICS, *key))
        self.logistics.inbound()
        ctx.env.process(
            self.logistics.dispatch(
                ctx.dc_local(sc.supply.dispatch_hour), ctx.dc_local(sc.supply.dispatch_cutoff_hour)
            )
        )
        pending = Conversions.from_state(state.pending) + impressions(
            sc,
            stream(sc.seed, Stream.MARKETING, *key),
            m,
            rec,
            ctx.start,
            ctx.day_no,
            day.year * 100 + day.month,
            factor,
        )
        self.stores: list[Store] = []
        rng = stream(sc.seed, Stream.ARRIVALS, *key)
        today = np.zeros(len(pending.t), bool)
        for s in range(len(m.store_ids)):
            today |= self._open_store(s, rng, pending, key)
        self.pending = pending.take(~today)
        self.online = OnlineChannel(ctx, stream(sc.seed, Stream.ONLINE, *key))
        ctx.env.process(
            review_dc(ctx, ctx.dc_local(DC_REVIEW_HOUR), stream(sc.seed, Stream.REVIEW, *key))
        )
        ctx.env.process(self._ticker())

    @property
    def env(self) -> simpy.Environment:
        return self.ctx.env

    @property
    def day(self) -> date:
        return self.ctx.day

    @property
    def m(self) -> ShardMaster:
        return self.ctx.m

    @property
    def start(self) -> float:
        return self.ctx.start

    @property
    def end(self) -> float:
        return self.ctx.end

    def state(self) -> WorldState:
        """Tomorrow's checkpoint: the context's stocks, and what is still to come."""
        return WorldState.after(self.ctx, self.pending.as_state(), self.ctx.rec.deferred)

    # -- stores ------------------------------------------------------------------------
    def _open_store(
        self, s: int, rng: np.random.Generator, pending: Conversions, key: tuple[int, int]
    ) -> np.ndarray:
        """Plan store ``s``'s visits; return which pending ad visits it takes today."""
        ctx = self.ctx
        m, sc = ctx.m, ctx.sc
        open_s, close_s = ctx.hours[s]
        # an ad visit due after today's last entry waits for the next opening
        mine = (pending.store == s) & (pending.t < close_s - 1800)
        if ctx.factor <= 0:
            return np.zeros(len(pending.t), bool)
        if not ctx.trades(s):  # not open yet, or closed for good: its ad visits are lost
            return mine
        hour_starts = np.array([ctx.local(m.time_zones[s], h) for h in range(24)])
        traffic = ctx.factor * ctx.disruptions.traffic(s, (open_s + close_s) / 2)
        n = int(rng.poisson(sc.volume.customers_per_day * m.size[s] * traffic))
        profile = hour_profile(sc.demand, int(m.open_hour[s]), int(m.close_hour[s]))
        base_t = arrival_times(rng, n, ctx.start, hour_starts, profile)
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
        for a, b in ctx.disruptions.closed_spans(s):
            keep &= (t < a) | (t >= b)
        order = np.flatnonzero(keep)[np.argsort(t[keep], kind="stable")]
        customer = np.r_[who, ad.customer][order]
        imp_day = np.r_[np.full(n, -1), ad.imp_day][order]
        imp_seq = np.r_[np.full(n, -1), ad.imp_seq][order]
        carried = ctx.assortment(s)
        srng = stream(sc.seed, Stream.SESSIONS, *key, s)
        visits = plan_visits(
            sc,
            srng,
            ctx.catalog,
            ctx.promos,
            t[order],
            customer,
            imp_day,
            imp_seq,
            carried,
            close_s,
        )
        ble = m.has_ble[np.maximum(customer, 0)]
        day = StoreDay(
            s,
            int(m.store_ids[s]),
            int(ctx.day.strftime("%Y%m%d")),
            float(m.tax_rate[s]),
            open_s,
            close_s,
            ctx.promos,
            ble & (customer >= 0),
            m.ble_ids,
            m.shard,
            ctx.disruptions.sensor_spans(s),
        )
        store = Store(
            ctx.env,
            day,
            int(m.lanes[s]),
            visits,
            ctx.inventory[s],
            ctx.catalog,
            ctx.rec,
            stream(sc.seed, Stream.TILL, *key, s),
            sc.shopping.ble_ping_interval_s,
        )
        self.stores.append(store)
        review = stream(sc.seed, Stream.REVIEW, *key, s)
        ctx.env.process(review_store(ctx, store, close_s + REVIEW_AFTER_CLOSE, review))
        if ctx.rec.wants("store_status"):
            ctx.rec.record(
                "store_status",
                np.array([open_s, close_s]),
                keys.STORE_STATUS.key(store=s, status=np.arange(2)),
                {"StoreID": np.full(2, day.store_id), "Status": ["OPENED", "CLOSED"]},
            )
        return mine

    def _ticker(self) -> Generator[simpy.Event, object, None]:
        while True:
            yield self.env.timeout(self.ctx.rec.next_flush(self.env.now) - self.env.now)
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


def _promotions(shard: Shard, promos: Promotions, start: float) -> Promotions:
    """The week's promotions with the scenario's price changes and promotions."""
    noon = start + DAY / 2
    price = shard.disruptions.prices(promos.price, noon)
    code, codes, lift = promos.code.copy(), list(promos.codes), promos.lift.copy()
    changed = price != promos.price  # a price change moves demand by the elasticity
    ratio = price[changed] / promos.price[changed]
    lift[changed] *= portable.power(ratio, shard.sc.shopping.price_elasticity)
    for name, discount, up, prods in shard.disruptions.promotions(noon):
        hit = prods[: len(price)]
        price = np.where(hit, np.maximum(np.round(price * (1 - discount)), 1), price)
        code = np.where(hit, len(codes), code)
        codes.append(f"DSR-{name}")
        lift = np.where(hit, up, lift)
    return Promotions(promos.week, price.astype(np.int64), code, codes, lift)
