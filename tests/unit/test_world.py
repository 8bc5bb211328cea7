"""The world's processes on a DayContext and an in-memory recorder (no files): a truck
trip, an online order's lifecycle, a store review, a checkout with substitution, and a
delivery carried across the day boundary in the checkpoint."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from sim.config.scenario import Scenario
from sim.world.context import DayContext
from sim.world.day import Shard
from sim.world.deliveries import DcDelivery, StoreDelivery
from sim.world.logistics import STATUSES as TRUCK_STATUSES
from sim.world.logistics import Logistics, pack
from sim.world.online import TYPES, OnlineChannel
from sim.world.state import WorldState
from sim.world.store import SUBSTITUTE_SHARE, Store, StoreDay
from sim.world.supply import store_review
from sim.world.visits import Visits
from tests.helpers import MemoryRecorder, day_context, recorder, small_world, world

DAY = date(2024, 3, 4)


@pytest.fixture(scope="module")
def shard() -> Shard:
    data = small_world(9, DAY.isoformat(), DAY.isoformat(), stores=2, dcs=1, per_day=300)
    return world(Scenario.model_validate(data), DAY)


@pytest.fixture
def rec(shard: Shard) -> MemoryRecorder:
    return recorder(shard)


@pytest.fixture
def ctx(shard: Shard, rec: MemoryRecorder) -> DayContext:
    return day_context(shard, DAY, rec)


def dry_products(ctx: DayContext, n: int) -> np.ndarray:
    """``n`` products the DC has that travel on dry trucks."""
    ok = (ctx.dc_stock > 50) & ~ctx.catalog.reefer
    ok[0] = False
    return np.flatnonzero(ok)[:n]


def test_a_truck_trip_goes_through_its_statuses_and_delivers_at_the_end(
    ctx: DayContext, rec: MemoryRecorder
) -> None:
    prods = dry_products(ctx, 4)
    qty = np.full(len(prods), 12, dtype=np.int64)
    ctx.on_order[0, prods] += qty
    before, dc_before = ctx.inventory[0].copy(), ctx.dc_stock.copy()
    (load,) = pack(0, prods, qty, ctx.catalog.per_pallet, ctx.catalog.reefer)
    logistics = Logistics(ctx, np.random.default_rng(1))
    ctx.env.process(logistics.trip(load, ctx.end))
    ctx.env.run(until=ctx.start + 1)
    moves = rec.table("truck_moves")
    assert moves["Status"].to_pylist() == list(TRUCK_STATUSES)  # planned whole, in order
    t = moves["EventTS"].cast(pa.int64()).to_numpy()
    assert (np.diff(t) >= 0).all()
    assert (ctx.dc_stock[prods] == dc_before[prods] - qty).all()  # loaded at the DC
    done_s = (t[-1] - rec.t0_ms) / 1000
    ctx.env.run(until=done_s - 1)
    assert (ctx.inventory[0] == before).all()  # nothing on the shelf before unloading ends
    ctx.env.run(until=ctx.end)
    txn = rec.table("store_inventory_txn")
    receipt = txn.filter(pc.equal(txn["Reason"], "RECEIPT"))
    assert sorted(receipt["ProductID"].to_pylist()) == sorted(prods.tolist())
    assert set(receipt["EventTS"].cast(pa.int64()).to_pylist()) == {int(t[-1])}
    damaged = -pc.sum(txn.filter(pc.equal(txn["Reason"], "DAMAGE"))["QtyDelta"]).as_py() or 0
    assert ctx.inventory[0, prods].sum() == before[prods].sum() + qty.sum() - damaged
    assert (ctx.on_order[0, prods] == 0).all()


def test_a_delivery_after_the_day_travels_in_the_checkpoint(
    shard: Shard, ctx: DayContext, rec: MemoryRecorder, tmp_path: Path
) -> None:
    prods = dry_products(ctx, 3)
    qty = np.array([5, 6, 7])
    ctx.on_order[1, prods] += qty
    ctx.schedule(StoreDelivery(ctx.end + 3600, 1, prods, qty, "SH-001-X", ctx.day_no, 9))
    ctx.schedule(DcDelivery(ctx.end + 7200, prods, qty, qty - 1, "SP-001-X", ctx.day_no, 10))
    ctx.env.run(until=ctx.end)
    assert len(ctx.carried) == 2
    state = WorldState.after(ctx, {}, rec.deferred)
    state.save(tmp_path / "state.pkl")
    back = WorldState.load(tmp_path / "state.pkl")
    assert [type(d).__name__ for d in back.deliveries] == ["StoreDelivery", "DcDelivery"]
    assert back.deliveries[0].shipment == "SH-001-X"
    assert (back.deliveries[1].qty == qty - 1).all()
    assert (back.inventory == state.inventory).all() and back.truck_free == state.truck_free
    tomorrow = day_context(shard, date(2024, 3, 5), rec, back)
    inv, dc = tomorrow.inventory[1, prods].copy(), tomorrow.dc_stock[prods].copy()
    for d in back.deliveries:
        tomorrow.schedule(d)
    tomorrow.env.run(until=tomorrow.start + 7200 + 1)
    assert (tomorrow.dc_stock[prods] == dc + qty - 1).all()
    assert tomorrow.inventory[1, prods].sum() <= (inv + qty).sum()  # less what was damaged
    assert (tomorrow.on_order[1, prods] == ctx.on_order[1, prods] - qty).all()


def test_a_supplier_load_holding_a_product_twice_adds_both(
    ctx: DayContext, rec: MemoryRecorder
) -> None:
    """An order carried over from a day without a supplier truck is packed with today's
    order for the same product: the DC gets both, as its two RECEIPT rows say."""
    (p,) = dry_products(ctx, 1)
    prods, qty = np.array([p, p]), np.array([876, 687])
    ctx.dc_on_order[p] += qty.sum()
    stock = int(ctx.dc_stock[p])
    ctx.schedule(DcDelivery(ctx.start + 60, prods, qty, qty, "SP-001-Y", ctx.day_no, 11))
    ctx.env.run(until=ctx.start + 61)
    txn = rec.table("dc_inventory_txn")
    assert txn["QtyDelta"].to_pylist() == [876, 687]
    assert ctx.dc_stock[p] == stock + 876 + 687
    assert ctx.dc_on_order[p] == 0


def test_an_online_orders_lines_go_through_a_legal_lifecycle(
    ctx: DayContext, rec: MemoryRecorder
) -> None:
    rec.start_day(ctx.day, float("inf"), {})  # keep the later days' statuses here too
    channel = OnlineChannel(ctx, np.random.default_rng(3))
    dc_before = ctx.dc_stock.copy()
    ctx.env.run(until=ctx.end)
    channel.flush(ctx.end)
    rows = rec.table("online_orders").to_pylist()
    assert rows
    lives: dict[tuple[str, int], list[tuple[int, str, str]]] = {}
    for r in rows:
        lives.setdefault((r["OrderId"], r["Line"]), []).append(
            (r["EventTS"].timestamp(), r["Status"], r["FulfillmentType"])
        )
    home = {"SHIP_TO_HOME": ("SHIPPED", "DELIVERED"), "SHIP_FROM_STORE": ("SHIPPED", "DELIVERED")}
    for life in lives.values():
        statuses = [s for _, s, _ in life]
        kind = life[0][2]
        assert kind in TYPES
        ends = home.get(kind, ("READY", "PICKED_UP"))
        assert statuses in (["CREATED", "CANCELLED"], ["CREATED", "ALLOCATED", "PICKED", *ends])
        times = [t for t, _, _ in life]
        assert times == sorted(times)
    shipped = [r for r in rows if r["Status"] == "ALLOCATED" and r["NodeType"] == "DC"]
    taken = np.zeros_like(dc_before)
    np.add.at(taken, [r["ProductID"] for r in shipped], [r["Qty"] for r in shipped])
    assert (ctx.dc_stock == dc_before - taken).all()


def empty_store(ctx: DayContext, s: int, visits: Visits) -> Store:
    open_s, close_s = ctx.hours[s]
    day = StoreDay(
        s,
        int(ctx.m.store_ids[s]),
        20240304,
        float(ctx.m.tax_rate[s]),
        open_s,
        close_s,
        ctx.promos,
        np.zeros(len(visits), bool),
        ctx.m.ble_ids,
        ctx.m.shard,
        [],
    )
    return Store(
        ctx.env,
        day,
        2,
        visits,
        ctx.inventory[s],
        ctx.catalog,
        ctx.rec,
        np.random.default_rng(4),
        60,
    )


def baskets(at: float, lines: list[list[tuple[int, int]]]) -> Visits:
    """Visits arriving one minute apart from ``at``, each buying its (product, qty) lines."""
    n = len(lines)
    off = np.r_[0, np.cumsum([len(b) for b in lines])]
    flat = [x for b in lines for x in b]
    i64 = np.zeros(n, np.int64)
    return Visits(
        arrive=at + 60.0 * np.arange(n),
        customer=np.full(n, -1),
        imp_day=np.full(n, -1),
        imp_seq=np.full(n, -1),
        buys=np.ones(n, bool),
        shop=np.full(n, 300.0),
        service=np.full(n, 30.0),
        tender=i64,
        line_off=off,
        line_prod=np.array([p for p, _ in flat], np.int64),
        line_qty=np.array([q for _, q in flat], np.int64),
        stay_visit=i64[:0],
        stay_zone=i64[:0],
        stay_start=np.empty(0),
        stay_end=np.empty(0),
    )


def test_a_store_review_reorders_what_fell_to_the_reorder_point(
    ctx: DayContext, rec: MemoryRecorder
) -> None:
    carried = np.flatnonzero(ctx.m.opening[0] > 0)
    low, high = int(carried[0]), int(carried[1])
    ctx.inventory[0, low] = 0
    ctx.inventory[0, high] = 10_000
    store = empty_store(ctx, 0, baskets(ctx.hours[0][0], []))
    store_review(ctx, store, np.random.default_rng(5))
    rows = rec.table("reorder_triggered").to_pylist()
    ordered = {r["ProductID"]: r for r in rows}
    assert low in ordered and high not in ordered
    assert {r["NodeType"] for r in rows} == {"STORE"}
    qty = ordered[low]["OrderQty"]
    assert qty > 0 and ctx.on_order[0, low] == qty and ctx.backlog[0, low] == qty
    assert ordered[low]["OnHand"] == 0
    reordered = [p for p in carried if ctx.on_order[0, p] > 0]
    assert sorted(reordered) == sorted(ordered)


def test_a_checkout_substitutes_or_skips_an_out_of_stock_product(
    ctx: DayContext, rec: MemoryRecorder
) -> None:
    sub = ctx.catalog.substitute
    carried = np.flatnonzero(ctx.m.opening[0] > 0)
    gone = next(int(p) for p in carried if sub[p] != p)
    alt = int(sub[gone])
    other = next(int(p) for p in carried if p not in (gone, alt))
    stock = ctx.inventory[0]
    stock[gone], stock[alt], stock[other] = 0, 10_000, 10_000
    n = 400
    visits = baskets(ctx.hours[0][0], [[(gone, 1)]] * n + [[(other, 2), (gone, 1)]])
    store = empty_store(ctx, 0, visits)
    ctx.env.run(until=ctx.end)
    store.flush(ctx.end, final=True)
    lines = rec.table("receipt_lines")
    sold = lines["ProductID"].to_pylist()
    assert gone not in sold and set(sold) <= {alt, other}
    switched = sold.count(alt)
    assert 0.28 * n < switched <= 0.48 * n + 1, (switched, SUBSTITUTE_SHARE)
    assert stock[gone] == 0 and stock[alt] == 10_000 - switched
    assert stock[other] == 10_000 - 2  # the last basket pays for what the shelf has
    assert sold.count(other) == 1
    paid = set(lines["ReceiptId"].to_pylist())  # a basket whose lines all went unsold: none
    assert rec.table("receipts").num_rows == len(paid) >= switched
