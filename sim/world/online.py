"""The online channel: orders placed on the web, fulfilled by the DC or a store.

An order is created, then allocated a few minutes later: each line takes stock from its
fulfilment node (the DC ships to home; the customer's home store prepares a pick-up or
ships from the store) or is cancelled when the node has none. Allocated lines are
picked, shipped (or made ready) and delivered (or picked up) over the next hours and
days; every status is a row of ``online_orders``, and every unit taken is an inventory
transaction with Source ONLINE.

The day's orders are drawn up front; a SimPy process allocates them one by one at their
allocation times (allocation competes with store sales for stock), and the rows are
recorded in batches when the day's processes flush.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import simpy

from sim.contract import keys
from sim.contract.columns import repeated
from sim.contract.ids import readable_ids
from sim.contract.vocab import FULFILLMENT_TYPES as TYPES
from sim.contract.vocab import ORDER_STATUSES as STATUSES
from sim.world.context import DayContext
from sim.world.inventory import record_dc_txn, record_store_txn
from sim.world.marketing import HOUR_WEIGHT
from sim.world.segments import members
from sim.world.visits import dedupe

HOUR = 3600.0
_TYPE_NAMES = pa.array(list(TYPES))
_NODE_TYPES = pa.array(["DC", "STORE"])  # by whether a store fulfils


@dataclass
class Orders:
    """The day's online orders of a shard, drawn up front (times in sim seconds)."""

    created: np.ndarray
    allocate: np.ndarray  # when the order is allocated
    store: np.ndarray  # home store index of the customer
    customer: np.ndarray
    kind: np.ndarray  # index into TYPES
    line_off: np.ndarray
    product: np.ndarray
    qty: np.ndarray
    steps: np.ndarray  # (orders, 3) hours from allocation to the next three statuses


def expected_orders(ctx: DayContext) -> float:
    """Orders per day so that online is ``online.share`` of retail sales (by value).

    In-store sales are receipts x lines per basket; online ones orders x lines per order.
    """
    sc = ctx.sc
    receipts = sc.volume.customers_per_day * ctx.m.size.sum() * sc.shopping.conversion
    store_lines = receipts * sc.volume.items_per_ticket_mean
    online_lines = store_lines * sc.online.share / (1 - sc.online.share)
    return online_lines / sc.online.lines_mean * ctx.factor


def draw_orders(ctx: DayContext, rng: np.random.Generator) -> Orders:
    sc, m = ctx.sc, ctx.m
    n = int(rng.poisson(expected_orders(ctx)))
    hour = rng.choice(24, n, p=HOUR_WEIGHT / HOUR_WEIGHT.sum())
    created = np.sort(ctx.start + (hour + rng.random(n)) * HOUR)
    n = int(np.searchsorted(created, ctx.end - 600))  # allocated before the day ends
    created = created[:n]
    store = rng.choice(len(m.store_ids), n, p=m.size / m.size.sum())
    customer = np.full(n, -1, dtype=np.int64)
    for s in np.unique(store):
        rows = np.flatnonzero(store == s)
        if len(m.customers[s]):
            customer[rows] = m.customers[s][rng.integers(0, len(m.customers[s]), len(rows))]
    mix = sc.online.fulfillment
    kind = rng.choice(len(TYPES), n, p=[mix[t] for t in TYPES])
    lines = np.minimum(1 + rng.poisson(sc.online.lines_mean - 1, n), 40)
    owner = np.repeat(np.arange(n), lines)
    product = np.empty(len(owner), dtype=np.int64)
    for s in np.unique(store):
        rows = np.flatnonzero(store[owner] == s)
        carried = ctx.assortment(s)
        w = ctx.catalog.popularity[carried] * ctx.promos.lift[carried]
        product[rows] = carried[rng.choice(len(carried), len(rows), p=w / w.sum())]
    off, product, qty = dedupe(owner, product, 1 + rng.poisson(0.4, len(product)), n)
    steps = np.column_stack(
        [rng.uniform(0.5, 6, n), rng.uniform(0.25, 4, n), rng.uniform(20, 72, n)]
    )
    allocate = created + rng.uniform(60, 600, n)
    return Orders(created, allocate, store, customer, kind, off, product, qty, steps)


class OnlineChannel:
    """Allocates the day's orders in time order and records their lifecycle."""

    def __init__(self, ctx: DayContext, rng: np.random.Generator) -> None:
        self.ctx = ctx
        self.orders = o = draw_orders(ctx, rng)
        n = len(o.created)
        self.ok = np.zeros(len(o.product), dtype=bool)  # line allocated
        self.at_store = np.zeros(n, dtype=bool)
        self.done = 0  # orders allocated so far
        self._created = self._allocated = 0  # orders recorded so far
        self.order_ids = readable_ids(
            "O", (ctx.m.shard, 3), (ctx.day_no, 5), (np.arange(n), 6), n=n
        )
        ctx.env.process(self.run())

    def run(self) -> Generator[simpy.Event, object, None]:
        env, o = self.ctx.env, self.orders
        allocate = o.allocate.tolist()  # Python floats and ints: no numpy scalar per order
        store, kind = o.store.tolist(), o.kind.tolist()
        off, prod, qty = o.line_off.tolist(), o.product.tolist(), o.qty.tolist()
        for i in np.argsort(o.allocate, kind="stable").tolist():
            yield env.timeout(max(allocate[i] - env.now, 0))
            lo, hi = off[i], off[i + 1]
            self._allocate(i, store[i], kind[i], prod[lo:hi], qty[lo:hi], lo)
            self.done += 1

    def _allocate(
        self, i: int, s: int, kind: int, prods: list[int], qtys: list[int], lo: int
    ) -> None:
        """Take order ``i``'s lines from its node where the stock covers them (each line
        against the stock before the order, as one vectorized take would)."""
        ctx = self.ctx
        now = ctx.env.now
        at_store = TYPES[kind] != "SHIP_TO_HOME" and not ctx.disruptions.store_closed(s, now)
        self.at_store[i] = at_store
        if not at_store and ctx.disruptions.dc_out(now):
            return
        stock = ctx.inventory[s] if at_store else ctx.dc_stock
        have = [stock.item(p) for p in prods]
        ok = [h >= q for h, q in zip(have, qtys, strict=True)]
        for p, h, q, taken in zip(prods, have, qtys, ok, strict=True):
            if taken:
                stock[p] = h - q
        self.ok[lo : lo + len(ok)] = ok

    # -- recording -----------------------------------------------------------------------
    def flush(self, now: float) -> None:
        """Record creations up to ``now`` and allocations done since the last flush."""
        o = self.orders
        upto = int(np.searchsorted(o.created, now, side="right"))
        if upto > self._created:
            idx = np.arange(self._created, upto)
            self._lines(idx, "CREATED", o.created[idx], None)
            self._created = upto
        order = np.argsort(o.allocate, kind="stable")
        idx = np.sort(order[self._allocated : self.done])
        self._allocated = self.done
        if len(idx):
            self._allocations(idx)

    def _allocations(self, idx: np.ndarray) -> None:
        o = self.orders
        t = o.allocate[idx]
        self._lines(idx, "CANCELLED", t, False)
        self._lines(idx, "ALLOCATED", t, True)
        self._inventory(idx)
        steps = o.steps[idx]
        pickup = np.asarray(TYPES)[o.kind[idx]] == "STORE_PICKUP"
        ship_home = np.asarray(TYPES)[o.kind[idx]] == "SHIP_TO_HOME"
        picked = np.where(
            ship_home,
            t + steps[:, 0] * HOUR,
            self._store_hours(o.store[idx], t + steps[:, 0] * HOUR),
        )
        nxt = picked + steps[:, 1] * HOUR
        last = np.where(
            pickup,
            self._store_hours(o.store[idx], nxt + steps[:, 2] / 3 * HOUR),
            nxt + steps[:, 2] * HOUR,
        )
        for status, when, sel in (
            ("PICKED", picked, None),
            ("READY", nxt, pickup),
            ("SHIPPED", nxt, ~pickup),
            ("PICKED_UP", last, pickup),
            ("DELIVERED", last, ~pickup),
        ):
            rows = np.ones(len(idx), bool) if sel is None else sel
            self._lines(idx[rows], status, when[rows], True)

    def _store_hours(self, s: np.ndarray, t: np.ndarray) -> np.ndarray:
        """``t`` moved into the stores' opening hours (the next morning if need be)."""
        hours = np.asarray(self.ctx.hours)[s]
        open_s, close_s = hours[:, 0], hours[:, 1]
        day = np.floor((t - open_s) / 86400.0)
        late = t >= close_s + day * 86400
        return np.where(late, open_s + (day + 1) * 86400 + (t - close_s) % 3600, t)

    def _node(self, idx: np.ndarray) -> tuple[pa.Array, pa.Array]:
        ctx = self.ctx
        store = self.at_store[idx]
        kind = _NODE_TYPES.take(pa.array(store.astype(np.int64)))
        return kind, pa.array(np.where(store, ctx.m.store_ids[self.orders.store[idx]], ctx.m.shard))

    def _lines(self, idx: np.ndarray, status: str, t: np.ndarray, allocated: bool | None) -> None:
        """Rows of ``status`` for the lines of orders ``idx`` (all, allocated or not)."""
        o, ctx = self.orders, self.ctx
        owner, line = members(o.line_off, idx)
        if allocated is not None:
            keep = self.ok[line] == allocated
            owner, line = owner[keep], line[keep]
        n = len(line)
        if not n:
            return
        order = idx[owner]
        prod, qty = o.product[line], o.qty[line]
        unit = ctx.promos.price[prod]
        number = line - o.line_off[order]
        key = keys.ONLINE_ORDER.key(
            day=ctx.day_no, order=order, line=number, status=STATUSES.index(status)
        )
        if status == "CREATED":
            node_type, node = pa.nulls(n, pa.string()), pa.nulls(n, pa.int64())
        else:
            node_type, node = (a.take(pa.array(owner)) for a in self._node(idx))
        ctx.rec.record(
            "online_orders",
            t[owner],
            key,
            {
                "OrderId": self.order_ids.take(pa.array(order)),
                "Line": number + 1,
                "CustomerID": o.customer[order],
                "ProductID": prod,
                "Qty": qty,
                "UnitPrice": unit,
                "ExtPrice": qty * unit,
                "Status": repeated(status, n),
                "FulfillmentType": _TYPE_NAMES.take(pa.array(o.kind[order])),
                "NodeType": node_type,
                "NodeID": node,
                "StoreID": ctx.m.store_ids[o.store[order]],
            },
        )

    def _inventory(self, idx: np.ndarray) -> None:
        """Inventory transactions of the allocated lines, at the nodes they came from."""
        o, ctx = self.orders, self.ctx
        for store_node in (True, False):
            sel = idx[self.at_store[idx] == store_node]
            owner, line = members(o.line_off, sel)
            keep = self.ok[line]
            owner, line = owner[keep], line[keep]
            if not len(line):
                continue
            order = sel[owner]
            t, prod, qty = o.allocate[order], o.product[line], o.qty[line]
            ref = self.order_ids.take(pa.array(order))
            layout = keys.STORE_ONLINE if store_node else keys.DC_ONLINE
            key = layout.key(day=ctx.day_no, order=order, line=line - o.line_off[order])
            if store_node:
                for s in np.unique(o.store[order]):
                    m = o.store[order] == s
                    record_store_txn(
                        ctx.rec,
                        int(ctx.m.store_ids[s]),
                        t[m],
                        prod[m],
                        -qty[m],
                        "SALE",
                        "ONLINE",
                        ref.filter(pa.array(m)),
                        key[m],
                    )
            else:
                record_dc_txn(ctx.rec, ctx.m.shard, t, prod, -qty, "SALE", "ONLINE", ref, key)
