"""Disruptions: each kind's effect, measured against the same scenario without it.

Every run below is the same small world (same seed); a disrupted run differs from the
baseline only by its ``disruptions:`` list. Shards (one per DC) never interact, so a
run may disrupt DC 1's stores and DC 2 at once. Invalid entries must stop a run before
it writes anything, naming the file and ``disruptions.N.<key>``. docs/disruptions.md
shows the same effects at default size.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from sim.cli import main
from sim.report.metrics import read_facts, read_master, stock_curve
from sim.validate import validate_output
from tests.helpers import ROOT, generate, ms

# DC 1 supplies stores 1, 3, 4, 5 and 6; DC 2 supplies store 2. The DCs reorder from
# suppliers early (large reorder points) so that supplier deliveries happen in 10 days.
BASE = """\
seed: 11
volume:
  stores: 6
  dcs: 2
  total_geographies: 20
  total_customers: 4000
  total_products: 600
  customers_per_day: 500
calendar:
  start: 2024-03-04
  end: 2024-03-13
paths:
  dictionaries: {dictionaries}
supply:
  dc_reorder_point_days: 10
  dc_order_up_to_days: 14
"""
DC1_STORES = np.array([1, 3, 4, 5, 6])
WINDOW = ("2024-03-07", "2024-03-10")  # business days 7, 8 and 9 March
SENSORS_OFF = ("2024-03-07T14:00:00Z", "2024-03-09T02:00:00Z")

RUNS = {
    "base": "",
    "logistics": """
disruptions:
  - kind: dc_outage
    dc: 1
    start: 2024-03-07
    end: 2024-03-10
  - kind: truck_delay
    dc: 2
    factor: 3
    start: 2024-03-07
    end: 2024-03-10
""",
    "stores": """
disruptions:
  - kind: demand_spike
    store: 3
    factor: 2
    start: 2024-03-07
    end: 2024-03-10
  - kind: store_closure
    store: 4
    start: 2024-03-07
    duration_hours: 72
  - kind: sensor_outage
    store: 5
    start: 2024-03-07T14:00:00Z
    end: 2024-03-09T02:00:00Z
""",
    "catalog": """
disruptions:
  - kind: supplier_shortage
    category: Grocery
    share: 0.5
    start: 2024-03-04
    end: 2024-03-14
  - kind: price_change
    category: Kitchen & Dining
    factor: 1.1
    start: 2024-03-07
    end: 2024-03-10
  - kind: promotion
    name: SPRING
    category: Personal Care
    discount: 0.25
    lift: 2
    start: 2024-03-07
    end: 2024-03-10
""",
    "late_outage": """
disruptions:
  - kind: dc_outage
    dc: 1
    start: 2024-03-07T11:00:00Z
    duration_hours: 24
""",
}


def _scenario(folder: Path, extra: str) -> Path:
    path = folder / "scenario.yaml"
    path.write_text(BASE.format(dictionaries=ROOT / "dictionaries") + extra, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = {}
    for name, extra in RUNS.items():
        folder = tmp_path_factory.mktemp(name)
        out[name] = generate(_scenario(folder, extra), folder / "output")
    return out


# -- helpers ------------------------------------------------------------------------------
def at(text: str) -> int:
    """Epoch ms of a date (its business-day start, 10:00 UTC) or a UTC timestamp."""
    if len(text) == 10:
        text += "T10:00:00Z"
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)


def rows(root: Path, table: str, span: tuple[str, str] | None = None, **equal: object) -> pa.Table:
    """Rows of a fact table with EventTS in ``span`` and the given column values."""
    t = read_facts(root, table)
    assert t is not None, table
    keep = np.ones(t.num_rows, dtype=bool)
    if span is not None:
        ts = ms(t["EventTS"])
        keep &= (ts >= at(span[0])) & (ts < at(span[1]))
    for column, value in equal.items():
        keep &= pc.fill_null(pc.equal(t[column], value), False).to_numpy(zero_copy_only=False)
    return t.filter(pa.array(keep))


def products_of(root: Path, category: str) -> pa.Array:
    p = read_master(root, "products_master")
    hit = pc.or_(
        pc.or_(pc.equal(p["Department"], category), pc.equal(p["Category"], category)),
        pc.equal(p["Subcategory"], category),
    )
    return p.filter(hit)["ID"].combine_chunks()


def of(t: pa.Table, products: pa.Array) -> pa.Table:
    return t.filter(pc.is_in(t["ProductID"], products))


def day_index(curve_days: np.ndarray, day: str) -> int:
    return int(np.flatnonzero(curve_days == at(day) // 86_400_000)[0])


# -- logistics -----------------------------------------------------------------------------
def test_dc_outage_ships_nothing_and_its_stores_run_out(runs: dict[str, Path]) -> None:
    base, hit = runs["base"], runs["logistics"]
    for table, where in (
        ("dc_inventory_txn", {"DCID": 1, "Reason": "SHIPMENT"}),
        ("dc_inventory_txn", {"DCID": 1, "Source": "ONLINE"}),
    ):
        assert rows(base, table, WINDOW, **where).num_rows > 10, (table, where)
        assert rows(hit, table, WINDOW, **where).num_rows == 0, (table, where)
    # no truck leaves for a store; suppliers still deliver to the DC
    for root, stores in ((base, True), (hit, False)):
        trips = rows(root, "truck_moves", WINDOW, DCID=1, Status="SCHEDULED")
        kinds = {s[:2] for s in trips["ShipmentId"].to_pylist()}
        assert kinds == ({"SH", "SP"} if stores else {"SP"}), kinds
    assert rows(hit, "dc_inventory_txn", WINDOW, DCID=1, Reason="RECEIPT").num_rows > 0
    # ship-to-home lines at the DC are cancelled while it is out
    online = rows(hit, "online_orders", WINDOW, NodeType="DC", NodeID=1)
    status = set(online["Status"].to_pylist())
    assert "CANCELLED" in status and "ALLOCATED" not in status
    # the DC's stores: same stock before, more stockouts during and just after, then recover
    before = stock_curve(base)
    after = stock_curve(hit)
    oos_base, oos_hit = before.out_of_stock(DC1_STORES), after.out_of_stock(DC1_STORES)
    first, last = day_index(before.days, WINDOW[0]), day_index(before.days, WINDOW[1])
    assert (oos_hit[:first] == oos_base[:first]).all()
    during_base, during_hit = oos_base[first:last], oos_hit[first:last]
    assert (during_hit > during_base).all()
    assert during_hit.mean() > 3 * during_base.mean()
    assert oos_hit[last] > oos_base[last]  # the first deliveries arrive during the day
    assert abs(oos_hit[-2:].mean() - oos_base[-2:].mean()) < 0.02  # recovered


def test_dc_outage_that_starts_after_dispatch_ships_nothing(runs: dict[str, Path]) -> None:
    span = ("2024-03-07T11:00:00Z", "2024-03-08T11:00:00Z")
    base, hit = runs["base"], runs["late_outage"]
    assert rows(base, "dc_inventory_txn", span, DCID=1, Reason="SHIPMENT").num_rows > 10
    assert rows(hit, "dc_inventory_txn", span, DCID=1, Source="ONLINE").num_rows == 0
    assert rows(hit, "dc_inventory_txn", span, DCID=1, Reason="SHIPMENT").num_rows == 0


def _transit_hours(root: Path, span: tuple[str, str]) -> dict[str, float]:
    """Hours from IN_TRANSIT to ARRIVED of DC 2's trips that left in ``span``."""
    left = rows(root, "truck_moves", span, DCID=2, Status="IN_TRANSIT")
    came = rows(root, "truck_moves", None, DCID=2, Status="ARRIVED")
    arrive = dict(zip(came["ShipmentId"].to_pylist(), ms(came["EventTS"]), strict=True))
    return {
        k: (arrive[k] - t) / 3.6e6
        for k, t in zip(left["ShipmentId"].to_pylist(), ms(left["EventTS"]), strict=True)
        if k in arrive
    }


def test_truck_delay_multiplies_transit_times(runs: dict[str, Path]) -> None:
    base, hit = runs["base"], runs["logistics"]
    before = ("2024-03-04", WINDOW[0])
    assert _transit_hours(base, before) == _transit_hours(hit, before)
    slow, normal = _transit_hours(hit, WINDOW), _transit_hours(base, WINDOW)
    assert len(slow) >= 5 and len(normal) >= 5
    ratio = np.mean(list(slow.values())) / np.mean(list(normal.values()))
    assert 2.7 < ratio < 3.3, ratio  # factor 3
    # the planned ETA does not know about the delay: delayed trucks arrive late
    arrived = rows(hit, "truck_moves", None, DCID=2, Status="ARRIVED")
    late = {
        k: (t - eta) / 3.6e6
        for k, t, eta in zip(
            arrived["ShipmentId"].to_pylist(),
            ms(arrived["EventTS"]),
            ms(arrived["ETA"]),
            strict=True,
        )
        if k in slow
    }
    assert min(late.values()) > 0


def test_supplier_shortage_cuts_deliveries_of_the_category(runs: dict[str, Path]) -> None:
    base, hit = runs["base"], runs["catalog"]
    grocery = products_of(base, "Grocery")
    got = {}
    for name, root in (("base", base), ("hit", hit)):
        rec = rows(root, "dc_inventory_txn", None, Reason="RECEIPT")
        mine = of(rec, grocery)
        other = rec.filter(pc.invert(pc.is_in(rec["ProductID"], grocery)))
        got[name] = (pc.sum(mine["QtyDelta"]).as_py(), pc.sum(other["QtyDelta"]).as_py())
        assert mine.num_rows >= 10 and other.num_rows >= 5
    share = got["hit"][0] / got["base"][0]
    assert 0.4 < share < 0.62, share  # share: 0.5 missing
    assert 0.9 < got["hit"][1] / got["base"][1] < 1.1  # other departments: delivered in full
    # per delivery: what arrived vs what the supplier truck was loaded for (its Pallets)
    assert _fill_rate(base, grocery) == pytest.approx(1.0, abs=0.01)
    assert _fill_rate(hit, grocery) == pytest.approx(0.5, abs=0.03)


def _fill_rate(root: Path, products: pa.Array) -> float:
    """Pallets of ``products`` received / ordered, over the supplier trips that carry them.

    A trip's ``Pallets`` is what was ordered; the other products arrive in full, so the
    ordered pallets of ``products`` are the trip's Pallets minus the others received.
    """
    master = read_master(root, "products_master")
    per = dict(zip(master["ID"].to_pylist(), master["UnitsPerPallet"].to_pylist(), strict=True))
    wanted = set(products.to_pylist())
    ordered = rows(root, "truck_moves", None, Status="SCHEDULED")
    loaded = dict(
        zip(ordered["ShipmentId"].to_pylist(), ordered["Pallets"].to_pylist(), strict=True)
    )
    mine: dict[str, float] = {}
    others: dict[str, float] = {}
    rec = rows(root, "dc_inventory_txn", None, Reason="RECEIPT")
    for ref, prod, qty in zip(
        rec["Reference"].to_pylist(),
        rec["ProductID"].to_pylist(),
        rec["QtyDelta"].to_pylist(),
        strict=True,
    ):
        into = mine if prod in wanted else others
        into[ref] = into.get(ref, 0.0) + qty / per[prod]
    return sum(mine.values()) / sum(loaded[k] - others.get(k, 0.0) for k in mine)


# -- stores --------------------------------------------------------------------------------
def _walk_ins(root: Path, store: int, span: tuple[str, str]) -> tuple[int, int]:
    r = rows(root, "receipts", span, StoreID=store)
    return r.num_rows, pc.sum(pc.is_null(r["ImpressionId"])).as_py()


def test_demand_spike_multiplies_store_traffic(runs: dict[str, Path]) -> None:
    base, hit = runs["base"], runs["stores"]
    before = ("2024-03-04", WINDOW[0])
    assert _walk_ins(hit, 3, before) == _walk_ins(base, 3, before)
    (total_b, walk_b), (total_h, walk_h) = _walk_ins(base, 3, WINDOW), _walk_ins(hit, 3, WINDOW)
    assert 1.8 < walk_h / walk_b < 2.2, walk_h / walk_b  # factor 2 on walk-in traffic
    assert 1.5 < total_h / total_b < 2.1  # ad-driven visits are not multiplied
    for store in (1, 6):  # other stores of the DC: unchanged
        ratio = _walk_ins(hit, store, WINDOW)[0] / _walk_ins(base, store, WINDOW)[0]
        assert 0.8 < ratio < 1.2, (store, ratio)


def test_store_closure_stops_sales_and_deliveries(runs: dict[str, Path]) -> None:
    base, hit = runs["base"], runs["stores"]
    for table, where in (
        ("receipts", {"StoreID": 4}),
        ("store_inventory_txn", {"StoreID": 4, "Source": "STORE", "Reason": "SALE"}),
        ("store_inventory_txn", {"StoreID": 4, "Reason": "RECEIPT"}),
        ("online_orders", {"NodeType": "STORE", "NodeID": 4, "Status": "ALLOCATED"}),
    ):
        assert rows(base, table, WINDOW, **where).num_rows > 0, (table, where)
        assert rows(hit, table, WINDOW, **where).num_rows == 0, (table, where)
    # the store's pick-up and ship-from-store orders go to the DC meanwhile
    online = rows(hit, "online_orders", WINDOW, StoreID=4, Status="ALLOCATED")
    assert online.num_rows > 0 and set(online["NodeType"].to_pylist()) == {"DC"}
    # and it reopens
    assert rows(hit, "receipts", (WINDOW[1], "2024-03-11"), StoreID=4).num_rows > 100


def test_sensor_outage_leaves_a_gap_while_sales_go_on(runs: dict[str, Path]) -> None:
    base, hit = runs["base"], runs["stores"]
    for table in ("foot_traffic", "ble_pings"):
        assert rows(base, table, SENSORS_OFF, StoreID=5).num_rows > 100
        assert rows(hit, table, SENSORS_OFF, StoreID=5).num_rows == 0
        # sensors work right before and after
        assert rows(hit, table, ("2024-03-07", SENSORS_OFF[0]), StoreID=5).num_rows > 0
        assert rows(hit, table, (SENSORS_OFF[1], "2024-03-10"), StoreID=5).num_rows > 0
    sales_b = rows(base, "receipts", SENSORS_OFF, StoreID=5).num_rows
    sales_h = rows(hit, "receipts", SENSORS_OFF, StoreID=5).num_rows
    assert sales_b > 100 and 0.85 < sales_h / sales_b < 1.15


def test_validate_accepts_a_sensor_outage(runs: dict[str, Path]) -> None:
    assert validate_output(runs["base"]).check("sensors").status == "PASS"
    assert validate_output(runs["stores"]).check("sensors").status == "PASS"


# -- prices --------------------------------------------------------------------------------
def _prices(
    root: Path, products: pa.Array, span: tuple[str, str]
) -> dict[tuple[int, int], set[int]]:
    """Cents paid per (product, business day) in ``span`` (receipt lines)."""
    lines = of(rows(root, "receipt_lines", span), products)
    day = (ms(lines["EventTS"]) - at("1970-01-01")) // 86_400_000
    cents = np.round(lines["UnitPrice"].cast(pa.float64()).to_numpy() * 100).astype(np.int64)
    out: dict[tuple[int, int], set[int]] = {}
    for key, c in zip(
        zip(lines["ProductID"].to_pylist(), day.tolist(), strict=True), cents.tolist(), strict=True
    ):
        out.setdefault(key, set()).add(c)
    return out


def _compare(
    base: dict[tuple[int, int], set[int]],
    hit: dict[tuple[int, int], set[int]],
    change: Callable[[int], int],
) -> int:
    """Products sold in both runs; each price paid in ``hit`` is ``change`` of the base one."""
    both = sorted(set(base) & set(hit))
    for key in both:
        assert len(base[key]) == 1 and hit[key] == {change(next(iter(base[key])))}, key
    return len({p for p, _ in both})


def test_price_change_multiplies_shelf_prices(runs: dict[str, Path]) -> None:
    base, hit = runs["base"], runs["catalog"]
    kitchen = products_of(base, "Kitchen & Dining")
    changed = _compare(
        _prices(base, kitchen, WINDOW),
        _prices(hit, kitchen, WINDOW),
        lambda c: int(np.round(c * 1.1)),
    )
    assert changed >= 10
    after = (WINDOW[1], "2024-03-14")
    assert _compare(_prices(base, kitchen, after), _prices(hit, kitchen, after), int) >= 10


def test_price_change_moves_demand_by_the_elasticity(runs: dict[str, Path]) -> None:
    """x1.1 on Kitchen & Dining: its share of units falls by about 1.1 ** -2.6 = 0.78."""
    base, hit = runs["base"], runs["catalog"]
    kitchen = products_of(base, "Kitchen & Dining")
    shares = []
    for root in (base, hit):
        window = rows(root, "receipt_lines", WINDOW)
        shares.append(pc.sum(of(window, kitchen)["Qty"]).as_py() / pc.sum(window["Qty"]).as_py())
    assert 0.6 < shares[1] / shares[0] < 0.92, shares


def test_promotion_discounts_codes_and_lifts_the_category(runs: dict[str, Path]) -> None:
    base, hit = runs["base"], runs["catalog"]
    care = products_of(base, "Personal Care")
    changed = _compare(
        _prices(base, care, WINDOW),
        _prices(hit, care, WINDOW),
        lambda c: max(int(np.round(c * 0.75)), 1),
    )
    assert changed > 10
    lines = of(rows(hit, "receipt_lines", WINDOW), care)
    assert set(lines["PromoCode"].to_pylist()) == {"DSR-SPRING"}
    outside = of(rows(hit, "receipt_lines", (WINDOW[1], "2024-03-14")), care)
    assert "DSR-SPRING" not in set(outside["PromoCode"].to_pylist())
    shares = []
    for root in (base, hit):
        window = rows(root, "receipt_lines", WINDOW)
        shares.append(pc.sum(of(window, care)["Qty"]).as_py() / pc.sum(window["Qty"]).as_py())
    assert 1.6 < shares[1] / shares[0] < 2.4, shares  # lift 2


# -- invalid entries -------------------------------------------------------------------------
GOOD = "  - kind: demand_spike\n    factor: 1.5\n    start: 2024-03-05\n    end: 2024-03-06\n"
INVALID = {
    "unknown DC": ("kind: dc_outage|dc: 9|start: 2024-03-05|end: 2024-03-06", "dc", "9"),
    "unknown store": (
        "kind: store_closure|store: 99|start: 2024-03-05|end: 2024-03-06",
        "store",
        "99",
    ),
    "unknown category": (
        "kind: price_change|category: Caviar|factor: 1.1|start: 2024-03-05|end: 2024-03-06",
        "category",
        "'Caviar'",
    ),
    "unknown supplier": (
        "kind: supplier_shortage|supplier: Nobody Inc|share: 0.3|start: 2024-03-05|end: 2024-03-06",
        "supplier",
        "'Nobody Inc'",
    ),
    "end before start": (
        "kind: dc_outage|dc: 1|start: 2024-03-06|end: 2024-03-05",
        "end",
        "must be after start",
    ),
    "end and duration": (
        "kind: dc_outage|dc: 1|start: 2024-03-05|end: 2024-03-06|duration_hours: 5",
        "duration_hours",
        "not both",
    ),
    "no end": ("kind: dc_outage|dc: 1|start: 2024-03-05", "end", "duration_hours"),
    "unknown kind": ("kind: meteor|start: 2024-03-05|end: 2024-03-06", "kind", "'meteor'"),
    "negative factor": (
        "kind: truck_delay|factor: -2|start: 2024-03-05|end: 2024-03-06",
        "factor",
        "greater than 0",
    ),
    "bad date": (
        "kind: dc_outage|dc: 1|start: 2024-02-30|end: 2024-03-06",
        "start",
        "ISO date",
    ),
    "store and region": (
        "kind: demand_spike|store: 2|region: South|factor: 2|start: 2024-03-05|end: 2024-03-06",
        "region",
        "not both",
    ),
}


@pytest.mark.parametrize("case", INVALID, ids=list(INVALID))
def test_invalid_entry_is_an_input_error_and_writes_nothing(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    entry, field, words = INVALID[case]
    extra = "disruptions:\n" + GOOD + "  - " + entry.replace("|", "\n    ") + "\n"
    scenario = _scenario(tmp_path, extra)
    out = tmp_path / "output"
    assert main(["run", str(scenario), "--output", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert str(scenario) in err and f"disruptions.1.{field}:" in err, err
    assert words in err, err
    assert not out.exists()
    assert main(["check", str(scenario)]) == 2


def test_timestamp_at_midnight_is_not_a_business_day() -> None:
    from sim.config.disruptions import DcOutage

    d = DcOutage.model_validate(
        {"kind": "dc_outage", "dc": 1, "start": "2024-03-07T00:00:00Z", "end": "2024-03-08"}
    )
    start, end = d.window()
    assert start == at("2024-03-07T00:00:00Z") / 1000
    assert end == at("2024-03-08") / 1000


# -- shipped scenarios -------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["dc_outage", "holiday_rush"])
def test_shipped_scenarios_are_valid(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    path = ROOT / "scenarios" / f"{name}.yaml"
    assert main(["check", str(path)]) == 0
    assert "valid" in capsys.readouterr().out
