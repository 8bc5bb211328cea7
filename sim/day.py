"""One business day of one shard: a SimPy environment built from the checkpoint.

Every day is built from the state the previous day left (:class:`WorldState`), so a
period simulated in one run and in several runs goes through exactly the same steps.
The clock is in seconds since the start of the scenario's first business day.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow.compute as pc
import simpy

from sim.marketing import Conversions, impressions
from sim.recorder import Recorder
from sim.rng import Stream, stream
from sim.scenario import Scenario
from sim.seasonality import day_factor, hour_profile
from sim.session import arrival_times, plan_visits
from sim.store import Store, StoreDay
from sim.till import Promotions
from sim.timeparse import day_start
from sim.world import Catalog, ShardMaster, WorldState, day_number

DAY = 86400.0


class ShardDay:
    """Business day ``day`` of shard ``m.shard``, ready to run."""

    def __init__(
        self,
        sc: Scenario,
        m: ShardMaster,
        catalog: Catalog,
        state: WorldState,
        day: date,
        first_day: date,
        rec: Recorder,
    ) -> None:
        self.sc, self.m, self.day, self.rec = sc, m, day, rec
        self.t0 = day_start(first_day).timestamp()
        self.start = (day - first_day).days * DAY
        self.end = self.start + DAY
        self.env = simpy.Environment(initial_time=self.start)
        self.inventory = state.inventory.copy()
        rec.start_day(day)
        key = (m.shard, day_number(day))
        self.factor = day_factor(day, sc.demand)
        promos = Promotions.for_day(sc, catalog, day)
        pending = Conversions.from_state(state.pending)
        new = impressions(
            sc,
            stream(sc.seed, Stream.MARKETING, *key),
            m,
            rec,
            self.start,
            day_number(day),
            day.year * 100 + day.month,
            self.factor,
        )
        pending = pending + new
        self.stores: list[Store] = []
        rng = stream(sc.seed, Stream.ARRIVALS, *key)
        today = np.zeros(len(pending.t), bool)
        for s in range(len(m.store_ids)):
            today |= self._open_store(s, rng, catalog, promos, pending, key)
        self.pending = pending.take(~today)
        self.env.process(self._ticker())

    def _local(self, s: int, hour: int) -> float:
        tz = ZoneInfo(self.m.time_zones[s])
        d = self.day
        return (
            datetime(d.year, d.month, d.day, hour, tzinfo=tz).astimezone(UTC).timestamp() - self.t0
        )

    def _open_store(
        self,
        s: int,
        rng: np.random.Generator,
        catalog: Catalog,
        promos: Promotions,
        pending: Conversions,
        key: tuple[int, int],
    ) -> np.ndarray:
        """Plan store ``s``'s visits; return which pending ad visits it takes today."""
        m, sc = self.m, self.sc
        mine = (pending.store == s) & (pending.t < self.end)
        if self.factor <= 0:
            return np.zeros(len(pending.t), bool)
        midnight = self._local(s, 0)
        open_s = midnight + m.open_hour[s] * 3600
        close_s = midnight + m.close_hour[s] * 3600
        n = int(rng.poisson(sc.volume.customers_per_day * m.size[s] * self.factor))
        profile = hour_profile(sc.demand, int(m.open_hour[s]), int(m.close_hour[s]))
        base_t = arrival_times(rng, n, self.start, midnight, profile)
        anon = rng.random(n) < sc.shopping.anonymous_share
        pool, w = m.customers[s], m.loyalty[s]
        who = pool[rng.choice(len(pool), n, p=w / w.sum())] if len(pool) else np.full(n, -1)
        who = np.where(anon | (len(pool) == 0), -1, who)
        ad = pending.take(mine)
        ad_t = np.where(
            (ad.t >= open_s) & (ad.t < close_s - 1800),
            ad.t,
            rng.uniform(open_s, close_s - 1800, len(ad.t)),
        )
        t = np.r_[base_t, ad_t]
        order = np.argsort(t, kind="stable")
        customer = np.r_[who, ad.customer][order]
        imp_day = np.r_[np.full(n, -1), ad.imp_day][order]
        imp_seq = np.r_[np.full(n, -1), ad.imp_seq][order]
        carried = np.flatnonzero(m.opening[s] > 0)
        srng = stream(sc.seed, Stream.SESSIONS, *key, s)
        visits = plan_visits(
            sc, srng, catalog, promos, t[order], customer, imp_day, imp_seq, carried, close_s
        )
        ble = ~pc.is_null(m.ble_ids.take(np.maximum(customer, 0))).to_numpy(zero_copy_only=False)
        sd = StoreDay(
            s,
            int(m.store_ids[s]),
            int(self.day.strftime("%Y%m%d")),
            float(m.tax_rate[s]),
            open_s,
            close_s,
            promos,
            ble,
            m.ble_ids,
            m.shard,
        )
        self.stores.append(
            Store(
                self.env,
                sd,
                int(m.lanes[s]),
                visits,
                self.inventory[s],
                catalog,
                self.rec,
                stream(sc.seed, Stream.TILL, *key, s),
                sc.shopping.ble_ping_interval_s,
            )
        )
        if self.rec.wants("store_status"):
            self.rec.record(
                "store_status",
                np.array([open_s, close_s]),
                np.array([2 * s, 2 * s + 1]),
                {"StoreID": np.full(2, sd.store_id), "Status": ["OPENED", "CLOSED"]},
            )
        return mine

    def _ticker(self):  # noqa: ANN202 (SimPy process)
        while True:
            yield self.env.timeout(self.rec.flush_every)
            for store in self.stores:
                store.flush(self.env.now)

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
        return WorldState(self.inventory, self.pending.as_state())
