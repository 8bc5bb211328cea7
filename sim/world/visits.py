"""Customer sessions: the day's visits to a store, drawn in a few vectorized steps,
and the SimPy process that walks one visit through the store.

Everything a visit decides for itself (who, when, where it walks, whether it buys,
what is in the basket) is drawn up front for the whole day; what depends on other
visits (the checkout queue, the stock left on the shelf) happens in the process.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np

from sim.config.scenario import Scenario
from sim.contract import portable
from sim.world.model import CHECKOUT, ENTRANCE, ZONES, Catalog
from sim.world.till import Promotions, tender_codes

MAX_STOPS = 4  # department zones a visit walks through at most
AFFINITY = 0.4  # share of basket lines from the visit's main zone
SHOP_SIGMA = 0.5  # lognormal spread of shopping time
LAST_EXIT_S = 20 * 60  # shopping ends at the latest this long after closing


@dataclass
class Visits:
    """The visits of one store on one day, sorted by arrival (sim seconds)."""

    arrive: np.ndarray  # arrival time
    customer: np.ndarray  # customer id, -1 for an anonymous walk-in
    imp_day: np.ndarray  # impression that caused the visit (day, seq), -1 if none
    imp_seq: np.ndarray
    buys: np.ndarray  # bool
    shop: np.ndarray  # seconds from arrival to the checkout queue (or exit)
    service: np.ndarray  # seconds at the till
    tender: np.ndarray  # index into TENDERS
    line_off: np.ndarray  # basket of visit i: lines line_off[i]:line_off[i+1]
    line_prod: np.ndarray
    line_qty: np.ndarray
    stay_visit: np.ndarray  # zone stays before checkout: visit, zone, start, end (sim s)
    stay_zone: np.ndarray
    stay_start: np.ndarray
    stay_end: np.ndarray

    def __len__(self) -> int:
        return len(self.arrive)


def arrival_times(
    rng: np.random.Generator, n: int, day_start: float, hour_starts: np.ndarray, profile: np.ndarray
) -> np.ndarray:
    """``n`` arrivals of a non-homogeneous Poisson day: hour by ``profile``, uniform within.

    ``hour_starts`` are the sim times of the 24 local hours (so daylight-saving days are
    right); ``profile`` has their weights.
    """
    hours = rng.choice(24, n, p=profile)
    return np.sort(hour_starts[hours] + rng.random(n) * 3600.0).clip(min=day_start)


BASKET_SHAPE = 0.5  # negative-binomial shape of basket sizes (docs/realism.md, "basket size")
MAX_LINES = 60


@cache
def _capped_extra_mean(mean_extra: float) -> float:
    """The uncapped negative-binomial mean whose draws, capped at MAX_LINES - 1, average
    ``mean_extra`` (a few bisection steps on the exact capped mean)."""
    r, cap = BASKET_SHAPE, MAX_LINES - 1
    k = np.arange(cap)

    def capped(m: float) -> float:  # pmf(k + 1) = pmf(k) (k + r) / (k + 1) (1 - p)
        p = r / (r + m)
        step = (k[:-1] + r) / (k[:-1] + 1) * (1 - p)
        pmf = float(portable.power(p, r)) * np.cumprod(np.r_[1.0, step])
        return float((k * pmf).sum() + cap * max(1 - pmf.sum(), 0.0))

    lo, hi = mean_extra, 2 * mean_extra + 1
    for _ in range(40):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if capped(mid) < mean_extra else (lo, mid)
    return (lo + hi) / 2


def _basket_sizes(rng: np.random.Generator, mean: np.ndarray) -> np.ndarray:
    """Lines per basket: 1 + a negative binomial of shape 0.5, so that small baskets are
    as common as published (about 1 in 6 receipts holds a single item, half hold 5 items
    or fewer) while the mean stays ``mean`` (the cap at 60 lines is compensated)."""
    r = BASKET_SHAPE
    extra = np.maximum(mean - 1, 1e-6)
    values, inverse = np.unique(extra, return_inverse=True)
    m = np.array([_capped_extra_mean(float(v)) for v in values])[inverse]
    return np.minimum(1 + rng.negative_binomial(r, r / (r + m)), MAX_LINES)


def _draw_products(
    rng: np.random.Generator,
    carried: np.ndarray,
    weight: np.ndarray,
    zone_of: np.ndarray,
    main_zone: np.ndarray,
) -> np.ndarray:
    """One product per line: by popularity, a share from the visit's main zone."""
    out = carried[rng.choice(len(carried), len(main_zone), p=weight / weight.sum())]
    affine = rng.random(len(main_zone)) < AFFINITY
    for z in np.unique(main_zone[affine]):
        rows = np.flatnonzero(affine & (main_zone == z))
        pool = np.flatnonzero(zone_of == z)
        if len(pool):
            w = weight[pool]
            out[rows] = carried[pool[rng.choice(len(pool), len(rows), p=w / w.sum())]]
    return out


def dedupe(
    visit: np.ndarray, prod: np.ndarray, qty: np.ndarray, n_visits: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Merge repeated products within a basket, keeping first-scan order."""
    key = visit.astype(np.int64) * (int(prod.max(initial=0)) + 1) + prod
    uniq, first, inv = np.unique(key, return_index=True, return_inverse=True)
    total = np.bincount(inv, weights=qty).astype(np.int64)
    order = np.lexsort((first, visit[first]))
    v, p, q = visit[first][order], prod[first][order], total[order]
    off = np.zeros(n_visits + 1, dtype=np.int64)
    off[1:] = np.cumsum(np.bincount(v, minlength=n_visits))
    return off, p, q


def _stays(
    rng: np.random.Generator, arrive: np.ndarray, shop: np.ndarray, main_zone: np.ndarray
) -> tuple[np.ndarray, ...]:
    n = len(arrive)
    k = 1 + rng.binomial(MAX_STOPS - 1, 0.45, n)
    others = np.argsort(rng.random((n, CHECKOUT - 1)), axis=1, kind="stable") + 1
    zones = np.where(others == main_zone[:, None], others[:, :1], others)
    zones[:, 0] = main_zone
    zones = zones[:, :MAX_STOPS]
    entrance = np.minimum(rng.uniform(15, 60, n), shop * 0.2)
    share = rng.exponential(1.0, (n, MAX_STOPS)) * (np.arange(MAX_STOPS) < k[:, None])
    share /= share.sum(axis=1, keepdims=True)
    ends = entrance[:, None] + np.cumsum(share, axis=1) * (shop - entrance)[:, None]
    starts = np.hstack([entrance[:, None], ends[:, :-1]])
    used = np.arange(MAX_STOPS) < k[:, None]
    vis = np.repeat(np.arange(n), 1 + k)
    zone = np.column_stack([np.full(n, ENTRANCE), zones])[np.column_stack([np.ones(n, bool), used])]
    a = arrive[:, None]
    start = np.column_stack([a[:, 0], a + starts])[np.column_stack([np.ones(n, bool), used])]
    end = np.column_stack([a[:, 0] + entrance, a + ends])[np.column_stack([np.ones(n, bool), used])]
    return vis, zone, start, end


def plan_visits(
    sc: Scenario,
    rng: np.random.Generator,
    catalog: Catalog,
    promos: Promotions,
    arrive: np.ndarray,
    customer: np.ndarray,
    imp_day: np.ndarray,
    imp_seq: np.ndarray,
    carried: np.ndarray,
    close_s: float,
) -> Visits:
    """Draw everything the given arrivals decide for themselves."""
    s = sc.shopping
    n = len(arrive)
    ad = imp_seq >= 0
    buys = rng.random(n) < np.where(ad, s.ad_conversion, s.conversion)
    mean_shop = s.dwell_minutes_mean * 60 * np.where(buys, 1.0, 0.6)
    shop = mean_shop * rng.lognormal(-(SHOP_SIGMA**2) / 2, SHOP_SIGMA, n)
    shop = np.clip(shop, 60, np.maximum(close_s + LAST_EXIT_S - arrive, 60))
    weight = catalog.popularity[carried] * promos.lift[carried]
    zone_of = catalog.zone[carried]
    zone_w = np.bincount(zone_of, weights=weight, minlength=len(ZONES))
    main_zone = rng.choice(len(ZONES), n, p=zone_w / zone_w.sum())
    sizes = (
        _basket_sizes(
            rng, sc.volume.items_per_ticket_mean * np.where(ad, 1 + s.ad_basket_uplift, 1.0)
        )
        * buys
    )
    visit = np.repeat(np.arange(n), sizes)
    prod = _draw_products(rng, carried, weight, zone_of, main_zone[visit])
    grocery = catalog.zone[prod] == 1
    qty = 1 + rng.poisson(np.where(grocery, 0.45, 0.2))
    # the spend uplift beyond the larger basket comes as extra units
    extra = ((1 + s.ad_spend_uplift) / (1 + s.ad_basket_uplift) - 1) * (
        qty.mean() if len(qty) else 1
    )
    qty += (rng.random(len(qty)) < extra * ad[visit]).astype(np.int64)
    off, prod, qty = dedupe(visit, prod, qty, n)
    items = np.diff(off)
    service = (40 + 4 * items) * rng.lognormal(0, 0.25, n)
    sv, sz, ss, se = _stays(rng, arrive, shop, main_zone)
    return Visits(
        arrive,
        customer,
        imp_day,
        imp_seq,
        buys,
        shop,
        service,
        tender_codes(sc, rng, n),
        off,
        prod,
        qty,
        sv,
        sz,
        ss,
        se,
    )
