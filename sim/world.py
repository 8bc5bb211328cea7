"""The world a shard simulates, as plain arrays, and the state that crosses days.

A shard is one DC with the stores it supplies and the customers of those stores;
shards never interact, so each runs in its own SimPy environment and process.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sim.rng import Stream, stream
from sim.scenario import Scenario
from sim.schema import TABLES
from sim.writer import read_table

EPOCH = date(2000, 1, 1)
ZONES = ("ENTRANCE", "GROCERY", "HOME", "APPAREL", "ELECTRONICS", "HEALTH", "CHECKOUT")
DEPT_ZONE = {
    "Grocery": 1,
    "Home & Garden": 2,
    "Office Supplies": 2,
    "Clothing": 3,
    "Baby & Kids": 3,
    "Electronics": 4,
    "Automotive": 4,
    "Seasonal & Sports": 4,
    "Health & Beauty": 5,
    "Pet Supplies": 5,
}
ENTRANCE, CHECKOUT = 0, len(ZONES) - 1


def day_number(d: date) -> int:
    """Days since 2000-01-01: the day part of ids and random stream keys."""
    return (d - EPOCH).days


def load_master(root: Path, fmt: str) -> dict[str, pa.Table]:
    """Read the master tables written under ``root/master``."""
    return {
        name: read_table(root / "master" / f"{name}.{fmt}", t.arrow_schema())
        for name, t in TABLES.items()
        if t.kind == "master"
    }


@dataclass
class Catalog:
    """Products, shared by every shard."""

    price: np.ndarray  # everyday price, cents, index = product id (0 unused)
    cost: np.ndarray  # cents
    popularity: np.ndarray
    zone: np.ndarray  # store zone of the product's department
    substitute: np.ndarray  # a product of the same subcategory (itself if none)
    reefer: np.ndarray  # bool

    @classmethod
    def from_master(cls, m: dict[str, pa.Table]) -> Catalog:
        p = m["products_master"]
        n = p.num_rows + 1

        def dense(values: np.ndarray, dtype: type) -> np.ndarray:
            out = np.zeros(n, dtype=dtype)
            out[p["ID"].to_numpy()] = values
            return out

        cents = [
            np.round(p[c].cast(pa.float64()).to_numpy() * 100).astype(np.int64)
            for c in ("SalePrice", "Cost")
        ]
        dept = p["Department"].to_numpy(zero_copy_only=False)
        sub = pc.binary_join_element_wise(p["Department"], p["Category"], p["Subcategory"], "|")
        sub_codes = pc.dictionary_encode(sub).combine_chunks().indices.to_numpy()
        ids = p["ID"].to_numpy()
        order = np.lexsort((ids, sub_codes))
        nxt = np.roll(order, -1)
        same = sub_codes[nxt] == sub_codes[order]
        substitute = np.arange(n)
        substitute[ids[order]] = np.where(same, ids[nxt], ids[order])
        return cls(
            price=dense(cents[0], np.int64),
            cost=dense(cents[1], np.int64),
            popularity=dense(p["Popularity"].to_numpy(), np.float64),
            zone=dense(np.array([DEPT_ZONE.get(x, 1) for x in dept]), np.int64),
            substitute=substitute,
            reefer=dense(p["RequiresRefrigeration"].to_numpy(zero_copy_only=False), bool),
        )


@dataclass
class ShardMaster:
    """What one shard needs of the master data, as arrays (store index = row here)."""

    shard: int  # the DC id
    store_ids: np.ndarray
    time_zones: list[str]
    tax_rate: np.ndarray
    open_hour: np.ndarray
    close_hour: np.ndarray
    lanes: np.ndarray
    size: np.ndarray
    customers: list[np.ndarray]  # per store: customer ids whose home store it is
    loyalty: list[np.ndarray]  # per store: visit weight of each of those customers
    ble_ids: pa.Array  # BLE id by customer id (null where none, index 0 unused)
    ad_customers: np.ndarray  # customer ids with an AdId
    ad_ids: np.ndarray  # their AdIds (object array of str)
    ad_home: np.ndarray  # their home store index in the shard
    opening: np.ndarray  # (stores, products+1) opening store inventory

    @classmethod
    def from_master(cls, sc: Scenario, m: dict[str, pa.Table], shard: int) -> ShardMaster:
        st = m["stores"].filter(pc.equal(m["stores"]["DCID"], shard))
        geo = m["geographies_master"]
        g = geo.take(pc.subtract(st["GeographyID"], 1))
        ids = st["ID"].to_numpy()
        index = {int(s): i for i, s in enumerate(ids)}
        cu = m["customers"].filter(pc.is_in(m["customers"]["HomeStoreID"], pa.array(ids)))
        cid, home = cu["ID"].to_numpy(), cu["HomeStoreID"].to_numpy()
        rng = stream(sc.seed, Stream.SESSIONS, shard)
        weight = rng.gamma(0.6, 1.0, len(cid))  # a few loyal regulars, many occasional
        ad = cu["AdId"].to_numpy(zero_copy_only=False)
        has_ad = ~pc.is_null(cu["AdId"]).to_numpy(zero_copy_only=False)
        inv = m["store_inventory_snapshots"]
        inv = inv.filter(pc.is_in(inv["StoreID"], pa.array(ids)))
        opening = np.zeros((len(ids), m["products_master"].num_rows + 1), dtype=np.int64)
        rows = np.array([index[int(s)] for s in inv["StoreID"].to_numpy()], dtype=np.int64)
        opening[rows, inv["ProductID"].to_numpy()] = inv["Qty"].to_numpy()
        return cls(
            shard=shard,
            store_ids=ids,
            time_zones=g["TimeZone"].to_pylist(),
            tax_rate=g["TaxRate"].to_numpy(),
            open_hour=st["OpenHour"].to_numpy(),
            close_hour=st["CloseHour"].to_numpy(),
            lanes=st["Lanes"].to_numpy(),
            size=st["SizeFactor"].to_numpy(),
            customers=[cid[home == s] for s in ids],
            loyalty=[weight[home == s] for s in ids],
            ble_ids=pa.concat_arrays(
                [pa.nulls(1, pa.string()), m["customers"]["BLEId"].combine_chunks()]
            ),
            ad_customers=cid[has_ad],
            ad_ids=ad[has_ad],
            ad_home=np.array([index[int(h)] for h in home[has_ad]], dtype=np.int64),
            opening=opening,
        )


@dataclass
class WorldState:
    """What crosses a business-day boundary in one shard: the checkpoint."""

    inventory: np.ndarray  # (stores, products+1) on hand
    pending: dict[str, np.ndarray] = field(default_factory=dict)  # ad visits to come

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        with tmp.open("wb") as f:
            np.savez(
                f, inventory=self.inventory, **{f"pending_{k}": v for k, v in self.pending.items()}
            )
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path) -> WorldState:
        with np.load(path, allow_pickle=True) as z:
            pending = {
                k.removeprefix("pending_"): z[k] for k in z.files if k.startswith("pending_")
            }
            return cls(inventory=z["inventory"], pending=pending)
