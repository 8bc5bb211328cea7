"""Master data: the chain's dimension tables, built from the dictionaries with numpy.

Everything is drawn from seeded streams (:mod:`sim.contract.rng`), so the same scenario gives
the same bytes. Shares that make the data realistic are named constants here and
documented in ``docs/master-data.md``.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sim.config.calendar import sim_origin_ms
from sim.config.scenario import Scenario
from sim.contract import portable
from sim.contract.columns import to_arrow
from sim.contract.ids import keyed_hex_digits, uniform
from sim.contract.rng import Stream, stream
from sim.contract.schema import TABLES
from sim.errors import InputError

LOYALTY_SHARE = 0.62  # share of customers in the loyalty programme
BLE_SHARE = 0.30  # customers whose app advertises a Bluetooth id
AD_ID_SHARE = 0.75  # customers reachable by an advertising id
REEFER_SHARE = 0.45  # refrigerated share of a fleet (a reefer and a dry run per store)
TRUCK_PALLETS = 26  # 53-ft trailer, straight-loaded
DISCOUNT_SHARE = 0.40  # SKUs whose everyday price is below MSRP
MAX_DC_KM = 420  # stores are within a day's round trip of their DC
UNITS_PER_PALLET = {  # sellable units per pallet, by department (typical case packs)
    "Grocery": 480,
    "Electronics": 60,
    "Clothing": 240,
    "Health & Beauty": 720,
    "Home & Garden": 120,
    "Baby & Kids": 160,
    "Pet Supplies": 200,
    "Automotive": 90,
    "Office Supplies": 400,
    "Seasonal & Sports": 100,
}
STREET_SUFFIXES = np.array(["St", "Ave", "Rd", "Blvd", "Ln", "Dr", "Way", "Ct", "Pl", "Pkwy"])


def _capacity(d: dict[str, pa.Table]) -> int:
    """How many distinct brand x base-product SKUs the dictionaries allow."""
    per_dept = pc.value_counts(d["brands"]["Department"]).to_pylist()
    brands = {x["values"]: x["counts"] for x in per_dept}
    return sum(brands.get(k, 0) for k in d["products"]["Department"].to_pylist())


def check_volumes(sc: Scenario, d: dict[str, pa.Table]) -> None:
    """Volumes the dictionaries cannot satisfy, as :class:`InputError`."""
    v, geo = sc.volume, d["geographies"].num_rows
    if v.total_geographies > geo:
        raise InputError(
            f"volume.total_geographies: {v.total_geographies} is more than the "
            f"{geo} geographies in the dictionary"
        )
    if v.dcs > v.total_geographies:
        raise InputError(
            f"volume.dcs: {v.dcs} DCs need at least as many geographies "
            f"(volume.total_geographies is {v.total_geographies})"
        )
    if v.total_products > _capacity(d):
        raise InputError(
            f"volume.total_products: {v.total_products} is more than the "
            f"{_capacity(d)} brand x product combinations the dictionaries allow"
        )


def _pick(rng: np.random.Generator, n: int, weights: np.ndarray, replace: bool) -> np.ndarray:
    p = weights / weights.sum()
    return rng.choice(len(weights), size=n, replace=replace, p=p)


def _address(rng: np.random.Generator, streets: pa.Array, n: int) -> pa.Array:
    number = pa.array(rng.integers(10, 9990, n)).cast(pa.string())
    street = streets.take(pa.array(rng.integers(0, len(streets), n)))
    suffix = pa.array(STREET_SUFFIXES.tolist()).take(rng.integers(0, len(STREET_SUFFIXES), n))
    return pc.binary_join_element_wise(number, street, suffix, " ")


def _geographies(sc: Scenario, d: dict[str, pa.Table]) -> pa.Table:
    geo, states = d["geographies"], d["states"]
    n = sc.volume.total_geographies
    rng = stream(sc.seed, Stream.MASTER_GEO)
    idx = np.sort(_pick(rng, n, np.sqrt(geo["Population"].to_numpy().astype(float)), False))
    g = geo.take(pa.array(idx))
    st = states.take(pc.index_in(g["State"], states["State"]))
    return to_arrow(
        TABLES["geographies_master"],
        {
            "ID": np.arange(1, n + 1),
            "City": g["City"],
            "State": g["State"],
            "ZipCode": g["Zip"],
            "District": g["District"],
            "Region": g["Region"],
            "TaxRate": st["TaxRate"],
            "TimeZone": st["TimeZone"],
        },
    )


def _dcs(sc: Scenario, geo: pa.Table, pop: np.ndarray, streets: pa.Array) -> pa.Table:
    rng = stream(sc.seed, Stream.MASTER_DC)
    n = sc.volume.dcs
    states = geo["State"].to_numpy(zero_copy_only=False)
    # one DC per state while states last, the most populous geographies first
    order = np.argsort(-pop * rng.uniform(0.5, 1.5, len(pop)), kind="stable")
    _, first = np.unique(states[order], return_index=True)
    chosen = list(order[np.sort(first)])
    chosen += [i for i in order if i not in set(chosen)][: max(0, n - len(chosen))]
    ids = np.array(chosen[:n])
    return to_arrow(
        TABLES["distribution_centers"],
        {
            "ID": np.arange(1, n + 1),
            "DCNumber": [f"DC-{i:03d}" for i in range(1, n + 1)],
            "Address": _address(rng, streets, n),
            "GeographyID": ids + 1,
        },
    )


def _stores(
    sc: Scenario, geo: pa.Table, pop: np.ndarray, dcs: pa.Table, streets: pa.Array
) -> pa.Table:
    rng = stream(sc.seed, Stream.MASTER_STORE)
    n = sc.volume.stores
    states = geo["State"].to_numpy(zero_copy_only=False)
    dc_geo = dcs["GeographyID"].to_numpy() - 1
    dc_state = states[dc_geo]
    eligible = np.flatnonzero(np.isin(states, dc_state))
    # every DC gets a store in its own geography, the rest follow population
    g = np.concatenate([dc_geo, eligible[_pick(rng, n - len(dc_geo), pop[eligible], True)]])
    dc = np.empty(n, dtype=np.int64)
    dc[: len(dc_geo)] = np.arange(1, len(dc_geo) + 1)
    for i in range(len(dc_geo), n):
        same = np.flatnonzero(dc_state == states[g[i]]) + 1
        dc[i] = same[i % len(same)]
    size = np.clip(rng.lognormal(0, 0.35, n), 0.4, 2.5)
    size /= size.mean()
    open_hour = rng.choice([6, 7, 8], n, p=[0.3, 0.5, 0.2])
    close_hour = rng.choice([21, 22, 23], n, p=[0.3, 0.5, 0.2])
    near = g == dc_geo[dc - 1]
    distance = np.where(near, rng.uniform(3, 25, n), rng.uniform(40, MAX_DC_KM, n))
    return to_arrow(
        TABLES["stores"],
        {
            "ID": np.arange(1, n + 1),
            "StoreNumber": [f"S-{i:04d}" for i in range(1, n + 1)],
            "Address": _address(rng, streets, n),
            "GeographyID": g + 1,
            "DCID": dc,
            "OpenHour": open_hour,
            "CloseHour": close_hour,
            "Lanes": np.clip(np.round(6 * size), 3, 16).astype(np.int64),
            "SizeFactor": np.round(size, 3),
            "DistanceKm": np.round(distance, 1),
        },
    )


def _trucks(sc: Scenario, dcs: pa.Table, stores: pa.Table, geo: pa.Table) -> pa.Table:
    rng = stream(sc.seed, Stream.MASTER_TRUCK)
    per_dc = np.bincount(stores["DCID"].to_numpy(), minlength=dcs.num_rows + 1)[1:]
    fleet = np.maximum(2, np.ceil(per_dc * 1.1)).astype(int)  # a reefer and a dry run a store
    supplier = np.maximum(3, np.ceil(per_dc / 3)).astype(int)
    dcid = np.concatenate(
        [np.repeat(dcs["ID"].to_numpy(), fleet), np.repeat(dcs["ID"].to_numpy(), supplier)]
    )
    kind = np.array(["DC"] * fleet.sum() + ["SUPPLIER"] * supplier.sum())
    n = len(dcid)
    reefer = np.zeros(n, bool)
    for d in dcs["ID"].to_numpy():  # at least one refrigerated truck per fleet
        for k in ("DC", "SUPPLIER"):
            m = np.flatnonzero((dcid == d) & (kind == k))
            reefer[m] = rng.random(len(m)) < REEFER_SHARE
            reefer[m[0]] = True
    state = geo["State"].to_numpy(zero_copy_only=False)[dcs["GeographyID"].to_numpy() - 1]
    letters = rng.integers(0, 26, (n, 3)) + 65
    plates = [
        f"{state[d - 1]}-{''.join(map(chr, letters[i]))}{rng.integers(1000, 9999)}"
        for i, d in enumerate(dcid)
    ]
    return to_arrow(
        TABLES["trucks"],
        {
            "ID": np.arange(1, n + 1),
            "LicensePlate": plates,
            "Refrigeration": reefer,
            "DCID": dcid,
            "Fleet": kind,
            "CapacityPallets": np.full(n, TRUCK_PALLETS),
        },
    )


def _ids(seed: int, salt: int, prefix: str, mask: np.ndarray) -> pa.Array:
    """Unique ids ``PREFIX`` + 16 hex digits for the customers in ``mask``, else null."""
    rows = np.flatnonzero(mask)
    head = np.frombuffer(prefix.encode(), np.uint8)
    width = len(head) + 16
    chars = np.empty((len(rows), width), np.uint8)
    chars[:, : len(head)] = head
    chars[:, len(head) :] = keyed_hex_digits(seed, salt, rows + 1)
    offsets = np.zeros(len(mask) + 1, np.int32)  # a null row holds no characters
    offsets[1:] = np.cumsum(mask, dtype=np.int32) * width
    valid = np.packbits(np.asarray(mask, bool), bitorder="little")
    return pa.StringArray.from_buffers(
        len(mask),
        pa.py_buffer(offsets),
        pa.py_buffer(chars.tobytes()),
        pa.py_buffer(valid),
        null_count=len(mask) - len(rows),
    )


def _customers(
    sc: Scenario, d: dict[str, pa.Table], stores: pa.Table, streets: pa.Array
) -> pa.Table:
    rng = stream(sc.seed, Stream.MASTER_CUSTOMER)
    n = sc.volume.total_customers
    if n is None:  # Scenario's validator sizes the customer base when the file leaves it out
        raise ValueError("volume.total_customers is unset: build master data from a Scenario")
    first, last = d["first_names"]["FirstName"], d["last_names"]["LastName"]
    home = _pick(rng, n, stores["SizeFactor"].to_numpy(), True)
    area = pa.array(rng.integers(201, 990, n)).cast(pa.string())
    line = pc.utf8_lpad(pa.array(rng.integers(0, 100, n)).cast(pa.string()), 2, "0")
    loyal = rng.random(n) < LOYALTY_SHARE
    return to_arrow(
        TABLES["customers"],
        {
            "ID": np.arange(1, n + 1),
            "FirstName": first.take(pa.array(rng.integers(0, len(first), n))),
            "LastName": last.take(pa.array(rng.integers(0, len(last), n))),
            "Address": _address(rng, streets, n),
            "GeographyID": stores["GeographyID"].take(pa.array(home)),
            "LoyaltyCard": _ids(sc.seed, 1, "LC", loyal),
            "Phone": pc.binary_join_element_wise(
                area, "555", pc.binary_join_element_wise("01", line, ""), "-"
            ),
            "BLEId": _ids(sc.seed, 2, "BLE-", rng.random(n) < BLE_SHARE),
            "AdId": _ids(sc.seed, 3, "AD-", rng.random(n) < AD_ID_SHARE),
            "HomeStoreID": home + 1,
        },
    )


def _lead_days(seed: int, company: pa.Array) -> np.ndarray:
    """Supplier lead time, 2-6 days, fixed per company."""
    enc = pc.dictionary_encode(company).combine_chunks()
    codes = enc.indices.to_numpy().astype(np.int64)
    names = enc.dictionary.to_pylist()
    salt = np.array([sum(ord(c) * 31**i for i, c in enumerate(x)) % 2**40 for x in names])
    return 2 + np.floor(uniform(seed, 9, salt[codes]) * 5).astype(np.int64)


def _round_price(x: np.ndarray) -> np.ndarray:
    """Cents, with shelf-price endings (.99 above $5, .x9 below)."""
    cents = np.round(x * 100).astype(np.int64)
    return np.where(cents >= 500, cents // 100 * 100 + 99, np.maximum(cents // 10 * 10 + 9, 19))


def _products(sc: Scenario, d: dict[str, pa.Table]) -> pa.Table:
    rng = stream(sc.seed, Stream.MASTER_PRODUCT)
    base, brands = d["products"], d["brands"]
    n = sc.volume.total_products
    base_dept = base["Department"].to_numpy(zero_copy_only=False)
    brand_dept = brands["Department"].to_numpy(zero_copy_only=False)
    by_dept = {k: np.flatnonzero(brand_dept == k) for k in np.unique(base_dept)}
    reps = np.full(len(base), n // len(base))
    reps[rng.permutation(len(base))[: n % len(base)]] += 1
    pairs: list[tuple[int, int]] = []
    for b in range(len(base)):
        pool = by_dept.get(base_dept[b], np.array([], int))
        k = min(reps[b], len(pool))
        pairs += [(b, int(x)) for x in rng.choice(pool, k, replace=False)]
    while len(pairs) < n:  # top up base products whose department has brands left
        b = int(rng.integers(len(base)))
        used = {x for bb, x in pairs if bb == b}
        free = [x for x in by_dept.get(base_dept[b], ()) if x not in used]
        if free:
            pairs.append((b, int(free[rng.integers(len(free))])))
    bi, ri = (np.array(v) for v in zip(*sorted(pairs), strict=True))
    msrp = _round_price(base["BasePrice"].to_numpy()[bi] * rng.uniform(0.85, 1.15, n))
    disc = rng.random(n) < DISCOUNT_SHARE
    sale = np.where(disc, np.maximum(np.round(msrp * rng.uniform(0.75, 0.95, n)), 2), msrp)
    sale = np.minimum(sale, msrp).astype(np.int64)
    cost = np.minimum(np.floor(sale * rng.uniform(0.50, 0.85, n)), sale - 1).astype(np.int64)
    cost = np.maximum(cost, 1)
    launch = np.datetime64("2014-01-01") + rng.integers(0, 3650, n).astype("timedelta64[D]")
    dept_weight = np.where(base_dept[bi] == "Grocery", 3.0, 1.0)
    popularity = dept_weight / portable.power(1 + rng.permutation(n), 0.75)
    brand = brands["Brand"].take(pa.array(ri))
    name = pc.binary_join_element_wise(brand, base["ProductName"].take(pa.array(bi)), " ")
    return to_arrow(
        TABLES["products_master"],
        {
            "ID": np.arange(1, n + 1),
            "ProductName": name,
            "Brand": brand,
            "Company": brands["Company"].take(pa.array(ri)),
            "Department": base["Department"].take(pa.array(bi)),
            "Category": base["Category"].take(pa.array(bi)),
            "Subcategory": base["Subcategory"].take(pa.array(bi)),
            "Cost": cost,
            "MSRP": msrp,
            "SalePrice": sale,
            "RequiresRefrigeration": base["RequiresRefrigeration"].take(pa.array(bi)),
            "LaunchDate": pa.array(launch),
            "Popularity": np.round(popularity / popularity.max(), 6),
            "UnitsPerPallet": np.array([UNITS_PER_PALLET[k] for k in base_dept[bi]]),
            "SupplierLeadDays": _lead_days(sc.seed, brands["Company"].take(pa.array(ri))),
        },
    )


def _inventory(
    sc: Scenario, first_day: date, dcs: pa.Table, stores: pa.Table, products: pa.Table
) -> tuple[pa.Table, pa.Table]:
    rng = stream(sc.seed, Stream.MASTER_INVENTORY)
    ts = sim_origin_ms(first_day)  # the opening snapshot is taken at simulated time 0
    n_p = products.num_rows
    pop = products["Popularity"].to_numpy()
    dc_ids = np.repeat(dcs["ID"].to_numpy(), n_p)
    dc = to_arrow(
        TABLES["dc_inventory_snapshots"],
        {
            "DCID": dc_ids,
            "ProductID": np.tile(np.arange(1, n_p + 1), dcs.num_rows),
            "Qty": rng.integers(500, 5001, len(dc_ids)),
            "SnapshotTS": np.full(len(dc_ids), ts),
        },
    )
    rank = np.argsort(np.argsort(-pop, kind="stable"), kind="stable") / max(n_p - 1, 1)
    store_rows, prod_rows, qty = [], [], []
    for sid, size in zip(stores["ID"].to_numpy(), stores["SizeFactor"].to_numpy(), strict=True):
        share = np.clip(0.35 + 0.2 * size, 0.3, 0.9)
        carry = np.flatnonzero(rng.random(n_p) < np.clip(share * 1.6 * (1 - rank), 0.05, 1))
        store_rows.append(np.full(len(carry), sid))
        prod_rows.append(carry + 1)
        q = 20 + 180 * np.sqrt(pop[carry] / pop.max()) * rng.uniform(0.6, 1.0, len(carry))
        qty.append(np.clip(np.round(q), 20, 200).astype(np.int64))
    s_ids = np.concatenate(store_rows)
    st = to_arrow(
        TABLES["store_inventory_snapshots"],
        {
            "StoreID": s_ids,
            "ProductID": np.concatenate(prod_rows),
            "Qty": np.concatenate(qty),
            "SnapshotTS": np.full(len(s_ids), ts),
        },
    )
    return dc, st


def build_master(sc: Scenario, d: dict[str, pa.Table], first_day: date) -> dict[str, pa.Table]:
    """All master tables for ``sc``; inventory snapshots are taken at ``first_day``'s start."""
    check_volumes(sc, d)
    streets = d["street_names"]["StreetName"].combine_chunks()
    geo = _geographies(sc, d)
    pop = (
        d["geographies"]["Population"]
        .take(pc.index_in(geo["ZipCode"], d["geographies"]["Zip"]))
        .to_numpy()
        .astype(float)
    )
    dcs = _dcs(sc, geo, pop, streets)
    stores = _stores(sc, geo, pop, dcs, streets)
    products = _products(sc, d)
    dc_inv, st_inv = _inventory(sc, first_day, dcs, stores, products)
    return {
        "geographies_master": geo,
        "distribution_centers": dcs,
        "stores": stores,
        "trucks": _trucks(sc, dcs, stores, geo),
        "customers": _customers(sc, d, stores, streets),
        "products_master": products,
        "dc_inventory_snapshots": dc_inv,
        "store_inventory_snapshots": st_inv,
    }
