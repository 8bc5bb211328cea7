"""The fast visit path against the plain SimPy one it replaces: visits started by one
timeout with lanes handed over without Request/Release events, and the till on Python
lists, must sell the same units at the same times in the same order as visits run by
``env.process`` on a ``simpy.Resource`` with the vectorized checkout."""

from __future__ import annotations

from collections.abc import Generator
from datetime import date

import numpy as np
import pytest
import simpy

from sim.config.scenario import Scenario
from sim.world.day import Shard
from sim.world.online import TYPES, OnlineChannel
from sim.world.store import SUBSTITUTE_SHARE, Store, StoreDay
from sim.world.visits import Visits
from tests.helpers import day_context, recorder, small_world, world

DAY = date(2024, 3, 4)


class ReferenceStore(Store):
    """The store as it was: ``simpy.Resource`` lanes, one ``env.process`` per visit and a
    numpy checkout."""

    def start_visits(self) -> None:
        self.lanes = simpy.Resource(self.env, capacity=2)  # type: ignore[assignment]
        for i in np.flatnonzero(self.visits.buys).tolist():
            self.env.process(reference_visit(self.env, self, i))

    def checkout(self, i: int, now: float) -> None:
        v = self.visits
        lo, hi = self._off[i], self._off[i + 1]
        prod, qty = v.line_prod[lo:hi], v.line_qty[lo:hi]
        have = self.stock[prod]
        left = have - qty
        if left.min() < 0:
            short = np.flatnonzero(have < qty).tolist()
            draws = self.rng.random(len(short)).tolist()
            prod = prod.copy()
            basket = set(prod.tolist())
            for j, u in zip(short, draws, strict=True):
                alt = int(self.catalog.substitute[prod[j]])
                if u < SUBSTITUTE_SHARE and alt not in basket and self.stock[alt] >= qty[j]:
                    prod[j] = alt
                    basket.add(alt)
            v.line_prod[lo:hi] = prod
            have = self.stock[prod]
            sold = np.minimum(qty, have)
            left = have - sold
            if not sold.any():
                return
        else:
            sold = qty
        self.stock[prod] = left
        self.sold[lo:hi] = sold
        self.paid_at[i] = now
        self._paid.append(i)
        if left.min() == 0:
            for p in prod[(sold > 0) & (left == 0)].tolist():
                k = self._stockout_count[p] = self._stockout_count.get(p, -1) + 1
                self._stockouts.append((now, p, k))


def reference_visit(
    env: simpy.Environment, store: Store, i: int
) -> Generator[simpy.Event, object, None]:
    yield env.timeout(store.queue_at[i] - env.now)
    lane = store.lanes.request()  # type: ignore[attr-defined]
    yield lane
    yield env.timeout(store.service[i])
    store.checkout(i, env.now)
    store.lanes.release(lane)  # type: ignore[attr-defined]
    store.exit(i, env.now)


@pytest.fixture(scope="module")
def shard() -> Shard:
    data = small_world(9, DAY.isoformat(), DAY.isoformat(), stores=2, dcs=1, per_day=300)
    return world(Scenario.model_validate(data), DAY)


def crowded_visits(open_s: float, carried: np.ndarray, n: int = 600) -> Visits:
    """Visits a few seconds apart (the two lanes queue), some joining the queue at the
    same instant, baskets drawn from a few products so that shelves run short."""
    rng = np.random.default_rng(11)
    sizes = rng.integers(1, 9, n)
    off = np.r_[0, np.cumsum(sizes)]
    few = carried[::7][:40]  # spread out: their substitutes are mostly other products
    prod = np.concatenate([rng.choice(few, k, replace=False) for k in sizes]).astype(np.int64)
    qty = rng.integers(1, 4, off[-1]).astype(np.int64)
    arrive = open_s + np.sort(rng.uniform(0, 8 * n, n))
    shop = rng.uniform(60, 600, n)
    tie = rng.random(n) < 0.1  # these join the queue together
    shop[tie] = (open_s + 8 * n + 900) - arrive[tie]
    z = np.zeros(n, np.int64)
    return Visits(
        arrive=arrive, customer=np.full(n, -1), imp_day=np.full(n, -1), imp_seq=np.full(n, -1),
        buys=rng.random(n) < 0.9, shop=shop, service=rng.uniform(20, 90, n), tender=z,
        line_off=off, line_prod=prod, line_qty=qty, stay_visit=z[:0], stay_zone=z[:0],
        stay_start=np.empty(0), stay_end=np.empty(0),
    )  # fmt: skip


def build(shard: Shard, cls: type[Store]) -> Store:
    """A store of ``cls`` on a fresh day, its shelves low on the baskets' products."""
    ctx = day_context(shard, DAY, recorder(shard))
    carried = np.flatnonzero(ctx.m.opening[0] > 0)
    ctx.inventory[0, carried[::7][:40]] = np.arange(40) % 7 * 6  # some empty, most short
    open_s, close_s = ctx.hours[0]
    day = StoreDay(
        0, int(ctx.m.store_ids[0]), 20240304, float(ctx.m.tax_rate[0]), open_s, close_s,
        ctx.promos, np.zeros(600, bool), ctx.m.ble_ids, ctx.m.shard, [],
    )  # fmt: skip
    visits = crowded_visits(open_s, carried)
    store = cls(
        ctx.env, day, 2, visits, ctx.inventory[0], ctx.catalog, ctx.rec,
        np.random.default_rng(4), 60,
    )  # fmt: skip
    ctx.env.run(until=ctx.end)
    store.settle()  # baskets sold whole: their lines and payment times, in bulk
    return store


def test_fast_visits_and_till_match_the_plain_simpy_reference(shard: Shard) -> None:
    fast, ref = build(shard, Store), build(shard, ReferenceStore)
    assert isinstance(ref.lanes, simpy.Resource) and not isinstance(fast.lanes, simpy.Resource)
    assert len(fast._paid) > 100 and fast._stockouts and fast._paid != sorted(fast._paid)
    assert (fast.sold < fast.visits.line_qty).any()  # short shelves sold less
    assert len(np.setdiff1d(fast.visits.line_prod, fast.visits.line_prod[:0])) > 40  # substitutes
    assert fast._paid == ref._paid
    np.testing.assert_array_equal(fast.paid_at, ref.paid_at)
    np.testing.assert_array_equal(fast.exit_at, ref.exit_at)
    np.testing.assert_array_equal(fast.sold, ref.sold)
    np.testing.assert_array_equal(fast.visits.line_prod, ref.visits.line_prod)
    np.testing.assert_array_equal(fast.stock, ref.stock)
    assert fast._stockouts == ref._stockouts
    assert fast.rng.random() == ref.rng.random()  # as many substitution draws


def test_online_allocation_equals_the_vectorized_take(shard: Shard) -> None:
    """Lines (repeated products too) are checked against the stock before the order and
    taken like ``stock[prod[ok]] -= qty[ok]``."""
    ctx = day_context(shard, DAY, recorder(shard))
    channel = OnlineChannel(ctx, np.random.default_rng(3))
    rng = np.random.default_rng(8)
    carried = np.flatnonzero(ctx.m.opening[0] > 0)[:6]
    for i in range(200):
        prod = rng.choice(carried, rng.integers(1, 6))  # with repeats
        qty = rng.integers(1, 5, len(prod))
        ctx.inventory[0, carried] = rng.integers(0, 6, len(carried))
        want = ctx.inventory[0].copy()
        ok = want[prod] >= qty
        want[prod[ok]] -= qty[ok]
        kind = TYPES.index("STORE_PICKUP")
        channel._allocate(i % len(channel.at_store), 0, kind, prod.tolist(), qty.tolist(), 0)
        np.testing.assert_array_equal(ctx.inventory[0], want)
        np.testing.assert_array_equal(channel.ok[: len(prod)], ok)
