"""The world a shard simulates, as plain arrays, and the state that crosses days.

A shard is one DC with the stores it supplies and the customers of those stores;
shards never interact, so each runs in its own SimPy environment and process.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sim.config.scenario import Scenario
from sim.contract.rng import Stream, stream
from sim.contract.schema import TABLES
from sim.contract.vocab import ZONES
from sim.contract.writer import read_table

EPOCH = date(2000, 1, 1)
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
    per_pallet: np.ndarray  # units per pallet
    lead_days: np.ndarray  # supplier lead time

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
            per_pallet=np.maximum(dense(p["UnitsPerPallet"].to_numpy(), np.int64), 1),
            lead_days=dense(p["SupplierLeadDays"].to_numpy(), np.int64),
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
    has_ble: np.ndarray  # whether each of them is there
    ad_customers: np.ndarray  # customer ids with an AdId
    ad_ids: pa.Array  # their AdIds (strings)
    ad_home: np.ndarray  # their home store index in the shard
    opening: np.ndarray  # (stores, products+1) opening store inventory
    dc_opening: np.ndarray  # (products+1) opening DC inventory
    dc_time_zone: str
    distance_km: np.ndarray  # per store, from the DC
    trucks: np.ndarray  # DC fleet truck ids
    truck_reefer: np.ndarray
    supplier_trucks: np.ndarray
    supplier_reefer: np.ndarray
    demand: np.ndarray  # (stores, products+1) expected units sold per day

    @classmethod
    def from_master(cls, sc: Scenario, m: dict[str, pa.Table], shard: int) -> ShardMaster:
        st = m["stores"].filter(pc.equal(m["stores"]["DCID"], shard))
        geo = m["geographies_master"]
        g = geo.take(pc.subtract(st["GeographyID"], 1))
        ids = st["ID"].to_numpy()
        cu = m["customers"].filter(pc.is_in(m["customers"]["HomeStoreID"], pa.array(ids)))
        cid, home = cu["ID"].to_numpy(), cu["HomeStoreID"].to_numpy()
        rng = stream(sc.seed, Stream.SESSIONS, shard)
        weight = rng.gamma(0.6, 1.0, len(cid))  # a few loyal regulars, many occasional
        has_ad = ~pc.is_null(cu["AdId"]).to_numpy(zero_copy_only=False)
        ble = pa.concat_arrays([pa.nulls(1, pa.string()), m["customers"]["BLEId"].combine_chunks()])
        inv = m["store_inventory_snapshots"]
        inv = inv.filter(pc.is_in(inv["StoreID"], pa.array(ids)))
        opening = np.zeros((len(ids), m["products_master"].num_rows + 1), dtype=np.int64)
        rows = np.searchsorted(ids, inv["StoreID"].to_numpy())  # ids are ascending
        opening[rows, inv["ProductID"].to_numpy()] = inv["Qty"].to_numpy()
        dc_inv = m["dc_inventory_snapshots"].filter(
            pc.equal(m["dc_inventory_snapshots"]["DCID"], shard)
        )
        dc_opening = np.zeros(opening.shape[1], dtype=np.int64)
        dc_opening[dc_inv["ProductID"].to_numpy()] = dc_inv["Qty"].to_numpy()
        dc_geo = m["distribution_centers"].filter(pc.equal(m["distribution_centers"]["ID"], shard))
        dc_tz = geo.take(pc.subtract(dc_geo["GeographyID"], 1))["TimeZone"][0].as_py()
        tr = m["trucks"].filter(pc.equal(m["trucks"]["DCID"], shard))
        fleet = pc.equal(tr["Fleet"], "DC").to_numpy(zero_copy_only=False)
        tid, reefer = tr["ID"].to_numpy(), tr["Refrigeration"].to_numpy(zero_copy_only=False)
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
            ble_ids=ble,
            has_ble=ble.is_valid().to_numpy(zero_copy_only=False),
            ad_customers=cid[has_ad],
            ad_ids=cu["AdId"].filter(pa.array(has_ad)).combine_chunks().cast(pa.string()),
            ad_home=np.searchsorted(ids, home[has_ad]).astype(np.int64),
            opening=opening,
            dc_opening=dc_opening,
            dc_time_zone=dc_tz,
            distance_km=st["DistanceKm"].to_numpy(),
            trucks=tid[fleet],
            truck_reefer=reefer[fleet],
            supplier_trucks=tid[~fleet],
            supplier_reefer=reefer[~fleet],
            demand=_expected_demand(sc, m, opening, st["SizeFactor"].to_numpy()),
        )


def _expected_demand(
    sc: Scenario, m: dict[str, pa.Table], opening: np.ndarray, size: np.ndarray
) -> np.ndarray:
    """Units per day each store expects to sell of each product it carries.

    Visits x conversion x lines per basket x mean quantity, shared by popularity: the
    basis of the replenishment policy (docs/supply-chain.md).
    """
    p = m["products_master"]
    pop = np.zeros(opening.shape[1])
    pop[p["ID"].to_numpy()] = p["Popularity"].to_numpy()
    grocery = np.zeros(opening.shape[1], dtype=bool)
    grocery[p["ID"].to_numpy()] = pc.equal(p["Department"], "Grocery").to_numpy(
        zero_copy_only=False
    )
    qty = np.where(grocery, 1.45, 1.2)
    w = pop * (opening > 0)
    share = w / np.maximum(w.sum(axis=1, keepdims=True), 1e-12)
    lines = (
        sc.volume.customers_per_day
        * size
        * sc.shopping.conversion
        * sc.volume.items_per_ticket_mean
    )
    return share * lines[:, None] * qty
