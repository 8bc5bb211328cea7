"""The change generator: what happens to the master data on each business day.

Pure numpy, no SimPy: :class:`ChangeState` holds the changeable attributes of customers,
products and stores (indexed by ``ID - 1``) and :meth:`ChangeState.step` applies one
business day's changes, drawn from ``stream(seed, Stream.CHANGES, dim, 1, day)``; what
is held back at the start (products not yet launched, stores not yet open) is drawn from
``stream(seed, Stream.CHANGES, dim, 0, 0)``. The state on a day is therefore a function
of the seed, the master data and the first day only, whichever process replays it.

Daily probabilities are the yearly rates of ``master_changes`` divided by 365. A change
takes effect at the start of its business day. Stores ``1..dcs`` (each DC's first store)
are never held back nor closed, so every shard always has a store that trades.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sim.config.changes import MasterChanges
from sim.contract.ids import keyed_hex
from sim.contract.rng import Stream, stream

DIMS = ("customers", "products_master", "stores")
PIPELINE, LIVE, GONE = 0, 1, 2
YEAR = 365.0
LOYALTY_SALT = 1  # the salt of LoyaltyCard numbers in sim.master.build


@dataclass
class Change:
    """One dimension's changes of one day: rows in a fixed order (by status, then ID)."""

    dim: str
    op: np.ndarray  # "c", "u", "d" (object)
    status: np.ndarray  # the Status code (object)
    ids: np.ndarray  # int64 IDs
    before: dict[str, np.ndarray]  # changeable columns before (rows of op "c": unused)
    after: dict[str, np.ndarray]  # and after (rows of op "d": unused)

    def __len__(self) -> int:
        return len(self.ids)


def _cents(t: pa.Table, col: str) -> np.ndarray:
    return np.round(t[col].cast(pa.float64()).to_numpy() * 100).astype(np.int64)


def shelf_price(cents: np.ndarray) -> np.ndarray:
    """Shelf endings as the master data has them: $x.99 from $5, else $x.y9 (>= $0.19)."""
    return np.where(cents >= 500, cents // 100 * 100 + 99, np.maximum(cents // 10 * 10 + 9, 19))


@dataclass
class ChangeState:
    """The changeable attributes of the three dimensions on one day."""

    seed: int
    rates: MasterChanges
    # customers
    address: np.ndarray  # object
    geography: np.ndarray
    card: np.ndarray  # object, None for non-members
    member: np.ndarray  # bool: has a card
    dc_of_customer: np.ndarray  # the DC of the customer's home store
    streets: np.ndarray  # object: street + suffix parts of the master addresses
    dc_geographies: dict[int, np.ndarray]  # DC -> geographies of its stores
    # products
    cost: np.ndarray
    msrp: np.ndarray
    sale: np.ndarray
    launch: np.ndarray  # LaunchDate, days since 1970
    product: np.ndarray  # PIPELINE, LIVE or GONE
    # stores
    store: np.ndarray  # PIPELINE, LIVE or GONE
    anchors: int  # stores 1..anchors are always live
    day: int = -1  # the last day applied (days since 2000), -1 before the first
    columns: dict[str, tuple[str, ...]] = field(
        default_factory=lambda: {
            "customers": ("Address", "GeographyID", "LoyaltyCard"),
            "products_master": ("Cost", "MSRP", "SalePrice", "LaunchDate"),
            "stores": (),
        }
    )

    @classmethod
    def start(cls, seed: int, rates: MasterChanges, master: dict[str, pa.Table]) -> ChangeState:
        """The state at the start of the first day: the master data, less what is held back."""
        cu, pr, st = master["customers"], master["products_master"], master["stores"]
        for name in DIMS:
            ids = master[name]["ID"].to_numpy()
            if not np.array_equal(ids, np.arange(1, len(ids) + 1)):
                raise ValueError(f"{name}: IDs must be 1..n in order for master_changes")
        store_dc, store_geo = st["DCID"].to_numpy(), st["GeographyID"].to_numpy()
        home = cu["HomeStoreID"].to_numpy()
        anchors = int(store_dc.max(initial=0))
        held = stream(seed, Stream.CHANGES, 2, 0, 0).random(pr.num_rows) < rates.product_pipeline
        shut = stream(seed, Stream.CHANGES, 3, 0, 0).random(st.num_rows) < rates.store_pipeline
        shut[:anchors] = False
        streets = pc.replace_substring_regex(cu["Address"], r"^\d+ ", "")
        return cls(
            seed=seed,
            rates=rates,
            address=cu["Address"].to_numpy(zero_copy_only=False).astype(object),
            geography=cu["GeographyID"].to_numpy().astype(np.int64),
            card=np.array(cu["LoyaltyCard"].to_pylist(), dtype=object),
            member=~pc.is_null(cu["LoyaltyCard"]).to_numpy(zero_copy_only=False),
            dc_of_customer=store_dc[home - 1],
            streets=streets.to_numpy(zero_copy_only=False).astype(object),
            dc_geographies={int(d): store_geo[store_dc == d] for d in np.unique(store_dc)},
            cost=_cents(pr, "Cost"),
            msrp=_cents(pr, "MSRP"),
            sale=_cents(pr, "SalePrice"),
            launch=pr["LaunchDate"].cast(pa.int32()).to_numpy().astype(np.int64),
            product=np.where(held, PIPELINE, LIVE).astype(np.int8),
            store=np.where(shut, PIPELINE, LIVE).astype(np.int8),
            anchors=anchors,
        )

    # -- what the world reads -----------------------------------------------------------
    def price(self) -> np.ndarray:
        """Everyday price in cents by product ID (index 0 unused), as the catalog has it."""
        return np.r_[0, self.sale].astype(np.int64)

    def sellable(self) -> np.ndarray:
        """Whether each product ID (index 0 unused) is on sale: launched, not discontinued."""
        return np.r_[False, self.product == LIVE]

    def trading(self) -> np.ndarray:
        """Whether each store ID (index 0 unused) is open for business."""
        return np.r_[False, self.store == LIVE]

    def values(self, dim: str, ids: np.ndarray) -> dict[str, np.ndarray]:
        """The changeable columns of rows ``ids`` now (copies)."""
        i = ids - 1
        if dim == "customers":
            return {"Address": self.address[i], "GeographyID": self.geography[i],
                    "LoyaltyCard": self.card[i]}  # fmt: skip
        if dim == "products_master":
            return {"Cost": self.cost[i], "MSRP": self.msrp[i], "SalePrice": self.sale[i],
                    "LaunchDate": self.launch[i]}  # fmt: skip
        return {}

    # -- one day ------------------------------------------------------------------------
    def step(self, day: int, epoch_day: int) -> list[Change]:
        """Apply business day ``day``'s changes (``day`` in days since 2000, ``epoch_day``
        the same day since 1970); return them, one :class:`Change` per dimension."""
        if day <= self.day:
            raise ValueError(f"day {day} already applied (at {self.day})")
        self.day = day
        return [self._customers(day), self._products(day, epoch_day), self._stores(day)]

    def _rng(self, dim: int, day: int) -> np.random.Generator:
        return stream(self.seed, Stream.CHANGES, dim, 1, day)

    def _customers(self, day: int) -> Change:
        r, n = self.rates, len(self.geography)
        rng = self._rng(1, day)
        move = rng.random(n) < r.customer_move_rate / YEAR
        join = (rng.random(n) < r.loyalty_join_rate / YEAR) & ~self.member
        join &= ~move  # one change per customer and day: one version per day
        movers = np.flatnonzero(move)
        pick, number = rng.random(len(movers)), rng.integers(10, 9990, len(movers))
        street = rng.integers(0, n, len(movers))
        before_m = self.values("customers", movers + 1)
        for k, dc in enumerate(self.dc_of_customer[movers]):  # a move near the home store
            geos = self.dc_geographies[int(dc)]
            self.geography[movers[k]] = geos[int(pick[k] * len(geos))]
        self.address[movers] = [
            f"{a} {s}" for a, s in zip(number, self.streets[street], strict=True)
        ]
        after_m = self.values("customers", movers + 1)
        joiners = np.flatnonzero(join)
        before_j = self.values("customers", joiners + 1)
        cards = keyed_hex(self.seed, LOYALTY_SALT, joiners + 1, 16).to_pylist()
        self.card[joiners] = np.array(["LC" + c for c in cards], dtype=object)
        self.member[joiners] = True
        after_j = self.values("customers", joiners + 1)
        return _change(
            "customers",
            [("u", "MOVED", movers, before_m, after_m), ("u", "JOINED_LOYALTY", joiners,
             before_j, after_j)],
        )  # fmt: skip

    def _products(self, day: int, epoch_day: int) -> Change:
        r, n = self.rates, len(self.sale)
        rng = self._rng(2, day)
        u_price, u_gone, u_new = rng.random(n), rng.random(n), rng.random(n)
        live, held = self.product == LIVE, self.product == PIPELINE
        gone = np.flatnonzero(live & (u_gone < r.product_discontinue_rate / YEAR))
        p_new = r.product_launch_rate * live.sum() / YEAR / max(int(held.sum()), 1)
        new = np.flatnonzero(held & (u_new < p_new))
        price = live & (u_price < r.price_change_rate / YEAR)
        price[gone] = False
        changed = np.flatnonzero(price)
        size = rng.exponential(r.price_change_size, len(changed))
        sign = np.where(rng.random(len(changed)) < r.price_decrease_share, -1.0, 1.0)
        before_p = self.values("products_master", changed + 1)
        old = self.msrp[changed]
        msrp = shelf_price(np.round(old * np.clip(1 + sign * size, 0.5, 2.0)).astype(np.int64))
        sale = np.minimum(np.round(self.sale[changed] * msrp / old).astype(np.int64), msrp)
        sale = np.maximum(sale, 2)
        cost = np.clip(np.round(self.cost[changed] * msrp / old).astype(np.int64), 1, sale - 1)
        self.msrp[changed], self.sale[changed], self.cost[changed] = msrp, sale, cost
        after_p = self.values("products_master", changed + 1)
        self.launch[new] = epoch_day
        self.product[new] = LIVE
        before_g = self.values("products_master", gone + 1)
        self.product[gone] = GONE
        now_new = self.values("products_master", new + 1)
        return _change(
            "products_master",
            [("u", "PRICE_CHANGED", changed, before_p, after_p),
             ("c", "LAUNCHED", new, now_new, now_new),
             ("d", "DISCONTINUED", gone, before_g, before_g)],
        )  # fmt: skip

    def _stores(self, day: int) -> Change:
        r, n = self.rates, len(self.store)
        rng = self._rng(3, day)
        u_close, u_open = rng.random(n), rng.random(n)
        live, held = self.store == LIVE, self.store == PIPELINE
        live[: self.anchors] = False  # each DC's first store never closes
        closing = np.flatnonzero(live & (u_close < r.store_close_rate / YEAR))
        p_open = r.store_open_rate * (self.store == LIVE).sum() / YEAR / max(int(held.sum()), 1)
        opening = np.flatnonzero(held & (u_open < p_open))
        self.store[closing], self.store[opening] = GONE, LIVE
        return _change(
            "stores", [("c", "OPENED", opening, {}, {}), ("d", "CLOSED", closing, {}, {})]
        )


def _change(
    dim: str,
    parts: list[tuple[str, str, np.ndarray, dict[str, np.ndarray], dict[str, np.ndarray]]],
) -> Change:
    """One :class:`Change` from its parts, each (op, status, row indexes, before, after)."""
    names = list(parts[0][3]) if parts and parts[0][3] else []
    names = names or next((list(p[3]) for p in parts if p[3]), [])
    return Change(
        dim,
        np.concatenate([np.full(len(p[2]), p[0], dtype=object) for p in parts]),
        np.concatenate([np.full(len(p[2]), p[1], dtype=object) for p in parts]),
        np.concatenate([p[2] + 1 for p in parts]).astype(np.int64),
        {c: np.concatenate([p[3][c] for p in parts]) for c in names},
        {c: np.concatenate([p[4][c] for p in parts]) for c in names},
    )
