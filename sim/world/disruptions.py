"""Disruptions at run time: what applies to a shard at a given moment.

The simulation asks the :class:`Disruptions` of a shard what applies at a given moment
(a DC that ships nothing, slower trucks, short supplier deliveries, more or less
traffic, a closed store, silent sensors, a price change or a promotion). The inputs are
:mod:`sim.config.disruptions`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sim.config.disruptions import (
    DcOutage,
    DemandSpike,
    Disruption,
    PriceChange,
    Promotion,
    StoreClosure,
    SupplierShortage,
    TruckDelay,
)
from sim.errors import InputError

if TYPE_CHECKING:
    from sim.config.scenario import Scenario

D = TypeVar("D", bound=Disruption)
# One disruption of the shard: the input, its window in sim seconds (a, b), and masks of
# the shard's stores and of the products (by product id) it touches.
Entry = tuple[Disruption, float, float, np.ndarray, np.ndarray]


def check_targets(sc: Scenario, master: dict[str, pa.Table], source: str) -> None:
    """Every DC, store, region, category and supplier named must exist."""
    dcs = set(master["distribution_centers"]["ID"].to_pylist())
    stores = set(master["stores"]["ID"].to_pylist())
    regions = set(master["geographies_master"]["Region"].to_pylist())
    p = master["products_master"]
    cats = (
        set(p["Department"].to_pylist())
        | set(p["Category"].to_pylist())
        | set(p["Subcategory"].to_pylist())
    )
    companies = set(p["Company"].to_pylist())
    for i, d in enumerate(sc.disruptions):
        for field, known, what in (
            ("dc", dcs, "DC ids"),
            ("store", stores, "store ids"),
            ("region", regions, "regions"),
            ("category", cats, "departments/categories"),
            ("supplier", companies, "companies"),
        ):
            value = getattr(d, field, None)
            if value is not None and value not in known:
                sample = ", ".join(map(str, sorted(known)[:6]))
                sample += ", ..." if len(known) > 6 else ""
                raise InputError(
                    f"{source}: disruptions.{i}.{field}: {value!r} is not one of "
                    f"the {what} in the master data ({sample})"
                )


@dataclass
class Disruptions:
    """The disruptions that touch one shard, resolved to its stores and products."""

    t0: float  # epoch seconds of sim time 0
    shard: int
    entries: list[Entry]

    @classmethod
    def build(
        cls, sc: Scenario, master: dict[str, pa.Table], shard: int, t0: float, store_ids: np.ndarray
    ) -> Disruptions:
        st = master["stores"]
        geo = master["geographies_master"]
        region = dict(zip(geo["ID"].to_pylist(), geo["Region"].to_pylist(), strict=True))
        store_region = np.array(
            [
                region[g]
                for g in st.filter(pc.is_in(st["ID"], pa.array(store_ids)))[
                    "GeographyID"
                ].to_pylist()
            ]
        )
        p = master["products_master"]
        n_p = p.num_rows + 1
        entries: list[Entry] = []
        for d in sc.disruptions:
            a, b = d.window()
            stores: np.ndarray = np.ones(len(store_ids), dtype=bool)
            store, reg = getattr(d, "store", None), getattr(d, "region", None)
            if store is not None:
                stores = np.asarray(store_ids == store)
            elif reg is not None:
                stores = np.asarray(store_region == reg)
            prods = np.ones(n_p, dtype=bool)
            cat, sup = getattr(d, "category", None), getattr(d, "supplier", None)
            if cat is not None or sup is not None:
                prods = np.zeros(n_p, dtype=bool)
                hit = (
                    pc.equal(p["Company"], sup)
                    if sup is not None
                    else pc.or_(
                        pc.or_(pc.equal(p["Department"], cat), pc.equal(p["Category"], cat)),
                        pc.equal(p["Subcategory"], cat),
                    )
                )
                prods[p["ID"].to_numpy()[hit.to_numpy(zero_copy_only=False)]] = True
            if getattr(d, "dc", None) not in (None, shard):
                continue
            entries.append((d, a - t0, b - t0, stores, prods))
        return cls(t0, shard, entries)

    def _active(
        self, kind: type[D], t: float
    ) -> list[tuple[D, float, float, np.ndarray, np.ndarray]]:
        """The entries of one kind (one model of :mod:`sim.config.disruptions`) at ``t``."""
        return [
            (d, a, b, stores, prods)
            for d, a, b, stores, prods in self.entries
            if isinstance(d, kind) and a <= t < b
        ]

    def dc_out(self, t: float) -> bool:
        return bool(self._active(DcOutage, t))

    def delay(self, t: float) -> float:
        return float(np.prod([e[0].factor for e in self._active(TruckDelay, t)] or [1.0]))

    def supplied(self, products: np.ndarray, qty: np.ndarray, t: float) -> np.ndarray:
        """Units the suppliers actually deliver of an order."""
        out = qty.astype(np.float64)
        for d, _, _, _, prods in self._active(SupplierShortage, t):
            out = np.where(prods[products], out * (1 - d.share), out)
        return np.floor(out).astype(np.int64)

    def traffic(self, s: int, t: float) -> float:
        spikes = [e[0].factor for e in self._active(DemandSpike, t) if e[3][s]]
        return float(np.prod(spikes or [1.0]))

    def store_closed(self, s: int, t: float) -> bool:
        return any(e[3][s] for e in self._active(StoreClosure, t))

    def closed_spans(self, s: int) -> list[tuple[float, float]]:
        return [(e[1], e[2]) for e in self.entries if e[0].kind == "store_closure" and e[3][s]]

    def sensor_spans(self, s: int) -> list[tuple[float, float]]:
        """Outages widened to whole 15-minute sensor intervals."""
        q = 900.0
        return [
            (np.floor(e[1] / q) * q, np.ceil(e[2] / q) * q)
            for e in self.entries
            if e[0].kind == "sensor_outage" and e[3][s]
        ]

    def prices(self, price: np.ndarray, t: float) -> np.ndarray:
        for d, _, _, _, prods in self._active(PriceChange, t):
            price = np.where(prods[: len(price)], np.round(price * d.factor), price)
        return price.astype(np.int64)

    def promotions(self, t: float) -> list[tuple[str, float, float, np.ndarray]]:
        """(code, discount, lift, products) of the scenario promotions running at ``t``."""
        return [
            (d.name or f"{d.category}"[:12].upper().replace(" ", ""), d.discount, d.lift, prods)
            for d, _, _, _, prods in self._active(Promotion, t)
        ]
