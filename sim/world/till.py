"""The till: shelf prices, the promotion calendar, sales tax and tenders."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np

from sim.config.scenario import Scenario
from sim.contract import portable
from sim.contract.rng import Stream, stream
from sim.contract.vocab import TENDERS
from sim.world.model import Catalog


@dataclass(frozen=True)
class Promotions:
    """The chain-wide promotions of one ISO week."""

    week: tuple[int, int]
    price: np.ndarray  # unit price in cents this week, index = product id
    code: np.ndarray  # promo code index per product, -1 if not promoted
    codes: list[str]  # code strings
    lift: np.ndarray  # demand multiplier per product

    @classmethod
    def for_day(
        cls, sc: Scenario, catalog: Catalog, d: date, everyday: np.ndarray | None = None
    ) -> Promotions:
        """The week's promotions on ``everyday`` prices (the catalog's unless given: the
        prices of the day when master data changes)."""
        year, week, _ = d.isocalendar()
        base = catalog.price if everyday is None else everyday
        rng = stream(sc.seed, Stream.PROMOTIONS, year, week)
        n = len(catalog.price)
        w = portable.power(catalog.popularity[1:], sc.shopping.promo_popularity_bias)
        picked = rng.choice(n - 1, round(sc.shopping.promo_share * (n - 1)), False, w / w.sum())
        on = np.zeros(n, dtype=bool)
        on[picked + 1] = True
        pct = rng.choice(np.array([10, 15, 20, 25, 30]), n)
        price = np.where(on, np.round(base * (100 - pct) / 100), base)
        price = np.maximum(price, 1).astype(np.int64)
        codes = [f"PR{year}W{week:02d}-{p}" for p in (10, 15, 20, 25, 30)]
        code = np.where(on, pct // 5 - 2, -1)
        lift = np.where(on, sc.shopping.promo_lift, 1.0)
        return cls((year, week), price, code, codes, lift)


def tax_cents(subtotal: np.ndarray, rate: float) -> np.ndarray:
    """Sales tax in cents, rounded half up."""
    return np.floor(subtotal * rate + 0.5 + 1e-9).astype(np.int64)


def tender_codes(sc: Scenario, rng: np.random.Generator, n: int) -> np.ndarray:
    mix = sc.shopping.tender_mix
    return rng.choice(len(TENDERS), n, p=np.array([mix[t] for t in TENDERS]))
