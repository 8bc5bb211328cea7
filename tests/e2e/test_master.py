"""Master data: schema, determinism, pricing, keys, placement, fleets, customers,
products, opening inventory, and that nothing real slips into the synthetic names."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections import Counter
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from sim.config.calendar import day_start
from sim.config.scenario import Scenario, load_scenario
from sim.contract.schema import MASTER, TABLES
from sim.errors import InputError
from sim.master import build as master_module
from sim.master.build import build_master, check_volumes
from sim.master.dictionaries import load_dictionaries
from sim.master.write import write_master
from tests.helpers import ROOT, cents

FIRST_DAY = date(2024, 3, 4)

# The contract in ARCHITECTURE.md: these columns come first, in this order.
CONTRACT = {
    "geographies_master": ["ID", "City", "State", "ZipCode", "District", "Region"],
    "stores": ["ID", "StoreNumber", "Address", "GeographyID"],
    "distribution_centers": ["ID", "DCNumber", "Address", "GeographyID"],
    "trucks": ["ID", "LicensePlate", "Refrigeration", "DCID"],
    "customers": [
        "ID",
        "FirstName",
        "LastName",
        "Address",
        "GeographyID",
        "LoyaltyCard",
        "Phone",
        "BLEId",
        "AdId",
    ],
    "products_master": [
        "ID",
        "ProductName",
        "Brand",
        "Company",
        "Department",
        "Category",
        "Subcategory",
        "Cost",
        "MSRP",
        "SalePrice",
        "RequiresRefrigeration",
        "LaunchDate",
    ],
    "dc_inventory_snapshots": ["DCID", "ProductID", "Qty"],
    "store_inventory_snapshots": ["StoreID", "ProductID", "Qty"],
}

# Well-known real brands and companies; none may appear as a whole word in a generated
# Brand, Company or ProductName.
REAL_NAMES = [
    "Coca-Cola", "Coke", "Pepsi", "Nike", "Apple", "Samsung", "Sony", "Tide", "Dove",
    "Nestle", "Nestlé", "Kellogg", "Kellogg's", "Heinz", "Procter & Gamble", "P&G",
    "Unilever", "Kraft", "General Mills", "Colgate", "Gillette", "Pampers", "Huggies",
    "Purina", "Adidas", "Levi's", "Lego", "Mattel", "Hasbro", "Duracell", "Energizer", "3M",
    "Clorox", "Lysol", "Campbell's", "Oreo", "Doritos", "Cheerios", "Starbucks", "Red Bull",
    "Michelin", "Goodyear", "Bose", "Microsoft", "Hershey", "Nabisco", "Gatorade", "Kleenex",
    "Frito-Lay", "Sharpie", "Walmart", "Costco", "Kroger", "Amazon", "Contoso", "Northwind",
]  # fmt: skip
# Ordinary words a generic base product may use ("Apple Juice", "Apple Pie"): still
# forbidden in brands and companies, and in the brand part of a product name.
GENERIC_WORDS = {"Apple", "Dove", "Tide"}

SMALL = {
    "seed": 11,
    "volume": {
        "stores": 12,
        "dcs": 3,
        "total_geographies": 40,
        "total_customers": 2000,
        "total_products": 300,
    },
    "calendar": {"start": "2024-03-04", "end": "2024-03-05"},
}


def ints(col: pa.ChunkedArray) -> np.ndarray:
    return col.to_numpy()


@pytest.fixture(scope="module")
def dicts() -> dict[str, pa.Table]:
    return load_dictionaries(ROOT / "dictionaries")


@pytest.fixture(scope="module")
def sc() -> Scenario:
    return load_scenario(ROOT / "scenarios" / "default.yaml")


@pytest.fixture(scope="module")
def m(sc: Scenario, dicts: dict[str, pa.Table]) -> dict[str, pa.Table]:
    """The default scenario's master data (42 stores, 110,250 customers, 10,000 SKUs)."""
    return build_master(sc, dicts, FIRST_DAY)


def small(**volume: int) -> Scenario:
    return Scenario.model_validate({**SMALL, "volume": {**SMALL["volume"], **volume}})


# --- schema ----------------------------------------------------------------------------


def test_every_master_table_is_built(m: dict[str, pa.Table]) -> None:
    assert set(m) == {t.name for t in MASTER}


@pytest.mark.parametrize("name", [t.name for t in MASTER])
def test_columns_equal_schema_and_keep_the_contract(m: dict[str, pa.Table], name: str) -> None:
    table = m[name]
    assert table.column_names == TABLES[name].names
    assert table.schema.equals(TABLES[name].arrow_schema())
    assert table.column_names[: len(CONTRACT[name])] == CONTRACT[name]
    assert table.num_rows > 0
    for f in TABLES[name].columns:
        if not f.nullable:
            assert table[f.name].null_count == 0, f.name


def test_sizes_follow_the_volumes(sc: Scenario, m: dict[str, pa.Table]) -> None:
    v = sc.volume
    assert m["geographies_master"].num_rows == v.total_geographies
    assert m["distribution_centers"].num_rows == v.dcs
    assert m["stores"].num_rows == v.stores
    assert m["customers"].num_rows == v.total_customers
    assert m["products_master"].num_rows == v.total_products
    assert m["dc_inventory_snapshots"].num_rows == v.dcs * v.total_products


def test_ids_are_one_to_n(m: dict[str, pa.Table]) -> None:
    for name in ("geographies_master", "distribution_centers", "stores", "trucks", "customers",
                 "products_master"):  # fmt: skip
        ids = ints(m[name]["ID"])
        assert np.array_equal(ids, np.arange(1, len(ids) + 1)), name


def test_written_files_have_the_schema_header(tmp_path: Path, m: dict[str, pa.Table]) -> None:
    paths = write_master(m, tmp_path, "csv")
    assert sorted(p.name for p in (tmp_path / "master").iterdir()) == sorted(
        f"{t.name}.csv" for t in MASTER
    )
    for p in paths:
        with p.open(encoding="utf-8") as f:
            header = f.readline().rstrip("\n")
            first = f.readline()
        assert header == ",".join(TABLES[p.stem].names)
        assert first.strip()  # data follows
    stores = (tmp_path / "master" / "stores.csv").read_text().splitlines()
    assert len(stores) == m["stores"].num_rows + 1


def test_parquet_files_have_the_schema(tmp_path: Path) -> None:
    sc = small()
    tables = build_master(sc, load_dictionaries(ROOT / "dictionaries"), FIRST_DAY)
    for p in write_master(tables, tmp_path, "parquet"):
        assert p.suffix == ".parquet"
        assert pq.read_schema(p).names == TABLES[p.stem].names
        assert pq.read_table(p).num_rows == tables[p.stem].num_rows


# --- determinism -------------------------------------------------------------------------


def _bytes(root: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((root / "master").iterdir())}


def test_same_scenario_same_bytes_other_seed_other_data(
    tmp_path: Path, sc: Scenario, dicts: dict[str, pa.Table], m: dict[str, pa.Table]
) -> None:
    write_master(m, tmp_path / "a", "csv")
    write_master(build_master(sc, dicts, FIRST_DAY), tmp_path / "b", "csv")
    a, b = _bytes(tmp_path / "a"), _bytes(tmp_path / "b")
    assert len(a) == len(MASTER) and a == b

    other = sc.model_copy(update={"seed": sc.seed + 1})
    write_master(build_master(other, dicts, FIRST_DAY), tmp_path / "c", "csv")
    c = _bytes(tmp_path / "c")
    assert sorted(c) == sorted(a)
    for name in a:  # every table is drawn from the seed
        assert a[name] != c[name], name


def test_same_bytes_across_processes(tmp_path: Path) -> None:
    """Nothing may depend on str hashing or other per-process state."""
    scenario = tmp_path / "s.yaml"
    scenario.write_text(
        "seed: 5\nvolume:\n  stores: 6\n  dcs: 2\n  total_geographies: 15\n"
        "  total_customers: 500\n  total_products: 200\n"
        "calendar:\n  start: 2024-03-04\n  end: 2024-03-05\n"
    )
    outs = []
    for hashseed in ("1", "2"):
        out = tmp_path / f"out{hashseed}"
        env = {**os.environ, "PYTHONHASHSEED": hashseed, "PYTHONPATH": str(ROOT)}
        cmd = [sys.executable, "-m", "sim", "master", str(scenario), "--output", str(out)]
        subprocess.run(cmd, cwd=ROOT, env=env, check=True, capture_output=True, timeout=120)
        outs.append(_bytes(out))
    assert len(outs[0]) == len(MASTER) and outs[0] == outs[1]


# --- pricing ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def prices(m: dict[str, pa.Table], dicts: dict[str, pa.Table]) -> dict[str, np.ndarray]:
    p = m["products_master"]
    base = dict(
        zip(
            dicts["products"]["ProductName"].to_pylist(),
            dicts["products"]["BasePrice"].to_pylist(),
            strict=True,
        )
    )
    base_cents = [
        round(base[name[len(brand) + 1 :]] * 100)
        for name, brand in zip(p["ProductName"].to_pylist(), p["Brand"].to_pylist(), strict=True)
    ]
    return {
        "cost": cents(p["Cost"]),
        "sale": cents(p["SalePrice"]),
        "msrp": cents(p["MSRP"]),
        "base": np.array(base_cents),
    }


def test_cost_below_sale_price_at_most_msrp(prices: dict[str, np.ndarray]) -> None:
    assert (prices["cost"] > 0).all()
    assert (prices["cost"] < prices["sale"]).all()
    assert (prices["sale"] <= prices["msrp"]).all()


def test_msrp_is_base_price_plus_minus_15_percent(prices: dict[str, np.ndarray]) -> None:
    msrp, base = prices["msrp"], prices["base"]
    # shelf endings: .99 from $5 up (adds < $1), .x9 below (adds < 10 cents), at least 19 cents
    slack = np.where(msrp >= 500, 100, 10)
    assert (msrp >= np.floor(base * 0.85) - 1).all()
    assert (msrp <= np.ceil(base * 1.15) + slack).all()
    assert (msrp >= 19).all()
    assert (msrp[msrp >= 500] % 100 == 99).all()
    assert (msrp[msrp < 500] % 10 == 9).all()
    ratio = msrp / base  # the spread really uses the +-15 % band
    assert ratio.min() < 0.9 and ratio.max() > 1.1


def test_about_40_percent_are_discounted(prices: dict[str, np.ndarray]) -> None:
    share = (prices["sale"] < prices["msrp"]).mean()
    assert share == pytest.approx(master_module.DISCOUNT_SHARE, abs=0.05)
    assert share == pytest.approx(0.40, abs=0.05)
    disc = prices["sale"] < prices["msrp"]
    depth = prices["sale"][disc] / prices["msrp"][disc]
    assert depth.min() >= 0.74 and depth.max() < 1


def test_cost_is_50_to_85_percent_of_sale_price(prices: dict[str, np.ndarray]) -> None:
    cost, sale = prices["cost"], prices["sale"]
    assert (cost >= np.floor(sale * 0.50) - 1).all()  # a cent of rounding
    assert (cost <= np.ceil(sale * 0.85)).all()
    margin = cost / sale
    assert margin.min() < 0.55 and margin.max() > 0.80  # the whole band is used


# --- keys and placement -----------------------------------------------------------------


def _resolves(values: np.ndarray, ids: np.ndarray) -> bool:
    return bool(np.isin(values, ids).all())


def test_foreign_keys_resolve(m: dict[str, pa.Table]) -> None:
    geo = ints(m["geographies_master"]["ID"])
    dcs = ints(m["distribution_centers"]["ID"])
    stores = ints(m["stores"]["ID"])
    products = ints(m["products_master"]["ID"])
    assert _resolves(ints(m["distribution_centers"]["GeographyID"]), geo)
    assert _resolves(ints(m["stores"]["GeographyID"]), geo)
    assert _resolves(ints(m["stores"]["DCID"]), dcs)
    assert _resolves(ints(m["trucks"]["DCID"]), dcs)
    assert _resolves(ints(m["customers"]["GeographyID"]), geo)
    assert _resolves(ints(m["customers"]["HomeStoreID"]), stores)
    assert _resolves(ints(m["dc_inventory_snapshots"]["DCID"]), dcs)
    assert _resolves(ints(m["dc_inventory_snapshots"]["ProductID"]), products)
    assert _resolves(ints(m["store_inventory_snapshots"]["StoreID"]), stores)
    assert _resolves(ints(m["store_inventory_snapshots"]["ProductID"]), products)


def test_geographies_come_from_the_dictionary(
    m: dict[str, pa.Table], dicts: dict[str, pa.Table]
) -> None:
    g, d, st = m["geographies_master"], dicts["geographies"], dicts["states"]
    known = set(
        zip(*(d[c].to_pylist() for c in ("City", "State", "Zip", "District", "Region")),
            strict=True)
    )  # fmt: skip
    rows = zip(*(g[c].to_pylist() for c in ("City", "State", "ZipCode", "District", "Region")),
               strict=True)  # fmt: skip
    assert all(r in known for r in rows)
    assert len(set(g["ZipCode"].to_pylist())) == g.num_rows  # no geography twice
    rate = dict(zip(st["State"].to_pylist(), st["TaxRate"].to_pylist(), strict=True))
    zone = dict(zip(st["State"].to_pylist(), st["TimeZone"].to_pylist(), strict=True))
    for s, r, z in zip(*(g[c].to_pylist() for c in ("State", "TaxRate", "TimeZone")),
                       strict=True):  # fmt: skip
        assert (r, z) == (rate[s], zone[s])


def _placement(tables: dict[str, pa.Table]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """State of each store, of its DC, and of each DC."""
    state = np.array(tables["geographies_master"]["State"].to_pylist())
    dc_state = state[ints(tables["distribution_centers"]["GeographyID"]) - 1]
    store_state = state[ints(tables["stores"]["GeographyID"]) - 1]
    return store_state, dc_state[ints(tables["stores"]["DCID"]) - 1], dc_state


def test_stores_are_supplied_by_a_dc_in_their_state(m: dict[str, pa.Table]) -> None:
    store_state, their_dc_state, dc_state = _placement(m)
    assert (store_state == their_dc_state).all()
    assert set(store_state) <= set(dc_state)  # stores only where there is a DC
    assert set(ints(m["stores"]["DCID"])) == set(ints(m["distribution_centers"]["ID"]))
    assert len(set(dc_state)) == len(dc_state)  # 5 DCs: one per state while states last


@pytest.mark.parametrize(
    ("stores", "dcs", "geos"), [(1, 1, 1), (4, 4, 4), (9, 3, 40), (60, 40, 50), (30, 8, 8)]
)
def test_placement_holds_for_other_volumes(
    dicts: dict[str, pa.Table], stores: int, dcs: int, geos: int
) -> None:
    tables = build_master(
        small(stores=stores, dcs=dcs, total_geographies=geos, total_customers=50,
              total_products=20),
        dicts,
        FIRST_DAY,
    )  # fmt: skip
    store_state, their_dc_state, _ = _placement(tables)
    assert (store_state == their_dc_state).all()
    per_dc = Counter(ints(tables["stores"]["DCID"]).tolist())
    assert sorted(per_dc) == list(range(1, dcs + 1))  # every DC has a store


# --- trucks -----------------------------------------------------------------------------


def test_trucks(m: dict[str, pa.Table]) -> None:
    t = m["trucks"]
    dcid = ints(t["DCID"])
    fleet = np.array(t["Fleet"].to_pylist())
    reefer = np.array(t["Refrigeration"].to_pylist())
    assert set(fleet) == {"DC", "SUPPLIER"}
    for d in ints(m["distribution_centers"]["ID"]):
        for kind in ("DC", "SUPPLIER"):
            mine = (dcid == d) & (fleet == kind)
            assert mine.any(), (d, kind)
            assert reefer[mine].any(), (d, kind)  # some refrigerated trucks for each DC
    assert 0.2 < reefer.mean() < 0.7  # but not all
    assert len(set(t["LicensePlate"].to_pylist())) == t.num_rows
    assert (ints(t["CapacityPallets"]) > 0).all()


# --- customers ----------------------------------------------------------------------------


def test_phone_numbers_are_fictional(m: dict[str, pa.Table]) -> None:
    phone = m["customers"]["Phone"]
    assert pc.all(pc.match_substring_regex(phone, r"^[2-9]\d\d-555-01\d\d$")).as_py()
    lines = {int(p[-2:]) for p in phone.to_pylist()}
    assert len(lines) > 90  # the whole 555-0100..555-0199 block is used


def test_customer_id_shares_and_uniqueness(
    sc: Scenario, m: dict[str, pa.Table], dicts: dict[str, pa.Table]
) -> None:
    c = m["customers"]
    n = c.num_rows
    assert n == sc.volume.total_customers
    assert len(set(ints(c["ID"]).tolist())) == n
    for col, share in (
        ("LoyaltyCard", master_module.LOYALTY_SHARE),
        ("BLEId", master_module.BLE_SHARE),
        ("AdId", master_module.AD_ID_SHARE),
    ):
        present = c[col].drop_null()
        assert len(present) / n == pytest.approx(share, abs=0.02), col
        assert len(set(present.to_pylist())) == len(present), col  # unique when present
    assert set(c["FirstName"].to_pylist()) <= set(dicts["first_names"]["FirstName"].to_pylist())
    assert set(c["LastName"].to_pylist()) <= set(dicts["last_names"]["LastName"].to_pylist())
    assert len(set(c["FirstName"].to_pylist())) > 200  # drawn from the whole pool
    assert all(re.match(r"^\d+ \S", a) for a in c["Address"].to_pylist()[:1000])


def test_customers_spread_over_all_stores(m: dict[str, pa.Table]) -> None:
    home = Counter(ints(m["customers"]["HomeStoreID"]).tolist())
    assert set(home) == set(ints(m["stores"]["ID"]).tolist())


# --- products --------------------------------------------------------------------------


def test_products_are_brand_plus_base_product(
    sc: Scenario, m: dict[str, pa.Table], dicts: dict[str, pa.Table]
) -> None:
    p = m["products_master"]
    assert p.num_rows == sc.volume.total_products
    names = p["ProductName"].to_pylist()
    assert len(set(names)) == len(names)
    base = {r["ProductName"]: r for r in dicts["products"].to_pylist()}
    brand = {r["Brand"]: r for r in dicts["brands"].to_pylist()}
    for row in p.select(
        ["ProductName", "Brand", "Company", "Department", "Category", "Subcategory",
         "RequiresRefrigeration"]
    ).to_pylist():  # fmt: skip
        b = brand[row["Brand"]]
        assert row["ProductName"].startswith(row["Brand"] + " ")
        generic = base[row["ProductName"][len(row["Brand"]) + 1 :]]
        assert row["Company"] == b["Company"]
        assert row["Department"] == b["Department"] == generic["Department"]
        assert (row["Category"], row["Subcategory"]) == (generic["Category"],
                                                         generic["Subcategory"])  # fmt: skip
        assert row["RequiresRefrigeration"] == generic["RequiresRefrigeration"]
    assert len(set(p["Brand"].to_pylist())) > 500  # 10,000 SKUs use most brands
    assert set(p["Department"].to_pylist()) == set(dicts["brands"]["Department"].to_pylist())


@pytest.mark.parametrize("n", [1, 50, 816, 2000])
def test_product_count_is_total_products(dicts: dict[str, pa.Table], n: int) -> None:
    p = build_master(small(total_products=n, total_customers=20), dicts, FIRST_DAY)[
        "products_master"
    ]
    assert p.num_rows == n
    assert len(set(p["ProductName"].to_pylist())) == n


def test_volumes_beyond_the_dictionaries_are_refused(dicts: dict[str, pa.Table]) -> None:
    with pytest.raises(InputError, match="volume.total_geographies"):
        check_volumes(small(total_geographies=dicts["geographies"].num_rows + 1), dicts)
    with pytest.raises(InputError, match="volume.total_products"):
        build_master(small(total_products=500_000), dicts, FIRST_DAY)


# --- opening inventory -----------------------------------------------------------------


def test_dc_inventory_snapshot(m: dict[str, pa.Table]) -> None:
    inv = m["dc_inventory_snapshots"]
    n_products = m["products_master"].num_rows
    pairs = set(zip(ints(inv["DCID"]).tolist(), ints(inv["ProductID"]).tolist(), strict=True))
    assert len(pairs) == inv.num_rows == n_products * m["distribution_centers"].num_rows
    qty = ints(inv["Qty"])
    assert qty.min() >= 500 and qty.max() <= 5000
    assert qty.min() < 1000 and qty.max() > 4500


def test_store_inventory_snapshot(m: dict[str, pa.Table]) -> None:
    inv = m["store_inventory_snapshots"]
    n_products = m["products_master"].num_rows
    sid, pid = ints(inv["StoreID"]), ints(inv["ProductID"])
    assert len(set(zip(sid.tolist(), pid.tolist(), strict=True))) == inv.num_rows
    qty = ints(inv["Qty"])
    assert qty.min() >= 20 and qty.max() <= 200
    carried = Counter(sid.tolist())
    assert set(carried) == set(ints(m["stores"]["ID"]).tolist())
    assert all(0 < k < n_products for k in carried.values())  # a subset, never empty
    assert len(set(pid.tolist())) > n_products // 2


def test_snapshots_are_taken_when_the_first_day_starts(m: dict[str, pa.Table]) -> None:
    start = pa.scalar(day_start(FIRST_DAY), type=pa.timestamp("ms", tz="UTC"))
    for name in ("dc_inventory_snapshots", "store_inventory_snapshots"):
        ts = m[name]["SnapshotTS"].unique()
        assert ts.to_pylist() == [start.as_py()], name


# --- synthetic safety ---------------------------------------------------------------------


def _word(name: str) -> re.Pattern[str]:
    return re.compile(r"(?<![\w'])" + re.escape(name) + r"(?![\w'])", re.IGNORECASE)


def test_the_real_name_check_catches_real_names() -> None:
    assert _word("Coca-Cola").search("Classic coca-cola Zero")
    assert _word("3M").search("3M Tape")
    assert _word("Levi's").search("Levi's Jeans")
    assert not _word("Tide").search("Tidewater Foods")
    assert not _word("Sony").search("Sonyx Audio")


@pytest.mark.parametrize("real", REAL_NAMES)
def test_no_real_brand_or_company(
    m: dict[str, pa.Table], dicts: dict[str, pa.Table], real: str
) -> None:
    rx = _word(real)
    p = m["products_master"]
    brands = set(p["Brand"].to_pylist()) | set(dicts["brands"]["Brand"].to_pylist())
    companies = set(p["Company"].to_pylist()) | set(dicts["companies"]["Company"].to_pylist())
    assert not [b for b in brands if rx.search(b)]
    assert not [c for c in companies if rx.search(c)]
    if real in GENERIC_WORDS:  # "Apple Juice" is a product, not the brand
        return
    assert not [n for n in p["ProductName"].to_pylist() if rx.search(n)]
