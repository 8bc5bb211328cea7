"""Marketing: ad impressions per channel, and the store visits some of them cause.

Impressions reach customers who have an advertising id. Each turns into a visit to
the customer's home store with its channel's ``visit_rate``, 1 to 48 hours later; the
visit carries the ``ImpressionId`` onto its receipt (see ``docs/attribution.md``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from sim.config.scenario import Scenario
from sim.contract import keys
from sim.contract.ids import readable_ids
from sim.contract.vocab import AD_CHANNELS as CHANNELS
from sim.contract.vocab import AD_DEVICES as DEVICES
from sim.world.model import ShardMaster
from sim.world.recorder import Recorder

DEVICE_MIX = (0.60, 0.32, 0.08)
CREATIVES = 4
# online activity by UTC hour of the business day (which starts 10:00 UTC): US evenings
HOUR_WEIGHT = np.array(
    [3, 4, 5, 5, 5, 5, 5, 6, 7, 8, 9, 10, 10, 9, 7, 4, 2, 1, 1, 1, 1, 1, 1, 2], dtype=float
)


@dataclass
class Conversions:
    """Ad-driven visits still to come (sim seconds), part of the checkpoint."""

    t: np.ndarray
    customer: np.ndarray
    store: np.ndarray
    imp_day: np.ndarray
    imp_seq: np.ndarray

    @classmethod
    def empty(cls) -> Conversions:
        return cls(np.empty(0), *(np.empty(0, np.int64) for _ in range(4)))

    @classmethod
    def from_state(cls, d: dict[str, np.ndarray]) -> Conversions:
        return cls(**d) if d else cls.empty()

    def as_state(self) -> dict[str, np.ndarray]:
        return dict(
            t=self.t,
            customer=self.customer,
            store=self.store,
            imp_day=self.imp_day,
            imp_seq=self.imp_seq,
        )

    def take(self, mask: np.ndarray) -> Conversions:
        return Conversions(
            self.t[mask],
            self.customer[mask],
            self.store[mask],
            self.imp_day[mask],
            self.imp_seq[mask],
        )

    def __add__(self, other: Conversions) -> Conversions:
        return Conversions(
            *(
                np.r_[a, b]
                for a, b in zip(self.as_state().values(), other.as_state().values(), strict=True)
            )
        )


def impressions(
    sc: Scenario,
    rng: np.random.Generator,
    m: ShardMaster,
    rec: Recorder,
    day_start: float,
    day_no: int,
    yyyymm: int,
    factor: float,
) -> Conversions:
    """Record the shard's impressions of one day; return the visits they will cause."""
    n = int(rng.poisson(sc.marketing.impressions_per_store_per_day * factor * m.size.sum()))
    if n == 0 or len(m.ad_customers) == 0:
        return Conversions.empty()
    chans = sc.marketing.channels
    shares = np.array([chans[c].share if c in chans else 0.0 for c in CHANNELS])
    ch = rng.choice(len(CHANNELS), n, p=shares / shares.sum())
    hour = rng.choice(24, n, p=HOUR_WEIGHT / HOUR_WEIGHT.sum())
    t = np.sort(day_start + (hour + rng.random(n)) * 3600)
    who = rng.integers(0, len(m.ad_customers), n)
    cost = np.array([chans[c].cost_per_impression if c in chans else 0.0 for c in CHANNELS])
    rate = np.array([chans[c].visit_rate if c in chans else 0.0 for c in CHANNELS])
    seq = np.arange(n)
    creative = rng.integers(1, CREATIVES + 1, n)
    names = pa.array(list(CHANNELS)).take(pa.array(ch))
    campaign = readable_ids("C", (yyyymm, 6), (ch + 1, 2), n=n)
    rec.record(
        "marketing",
        t,
        keys.IMPRESSION.key(seq=seq),
        {
            "Channel": names,
            "CampaignId": campaign,
            "CreativeId": readable_ids("CR", (yyyymm, 6), (ch + 1, 2), (creative, 2), n=n),
            "CustomerAdId": m.ad_ids.take(pa.array(who)),
            "ImpressionId": readable_ids("I", (m.shard, 3), (day_no, 5), (seq, 7), n=n),
            "Cost": np.round(cost[ch] * rng.lognormal(-0.08, 0.4, n), 6),
            "Device": pa.array(list(DEVICES)).take(pa.array(rng.choice(3, n, p=DEVICE_MIX))),
            "StoreID": m.store_ids[m.ad_home[who]],
        },
    )
    hit = rng.random(n) < rate[ch]
    lag = rng.uniform(3600, 48 * 3600, int(hit.sum()))
    return Conversions(
        t[hit] + lag,
        m.ad_customers[who[hit]],
        m.ad_home[who[hit]],
        np.full(int(hit.sum()), day_no),
        seq[hit],
    )
