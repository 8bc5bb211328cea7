"""Realism: the defaults reproduce the published figures of docs/realism.md.

Seasonality over a year is checked on the model (``sim.world.seasonality``) rather than by
simulating a year; everything else on a generated week of three stores with the
default demand, shopping, marketing and online settings.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from sim.config.demand import DOW, Demand
from sim.config.scenario import Scenario, load_scenario
from sim.report.metrics import read_master, sales_by_channel
from sim.world.model import Catalog, load_master
from sim.world.seasonality import day_factor, hour_profile
from sim.world.till import TENDERS, Promotions
from sim.world.visits import plan_visits
from tests.helpers import ROOT, cents, facts, generate, small_world, write_yaml

YEAR = [date(2024, 1, 1) + timedelta(days=i) for i in range(366)]
WEEK = [date(2024, 3, 11) + timedelta(days=i) for i in range(7)]  # Mon..Sun, no DST change
THANKSGIVING, BLACK_FRIDAY, CHRISTMAS = date(2024, 11, 28), date(2024, 11, 29), date(2024, 12, 25)


def write_scenario(folder: Path, name: str, **changes: Any) -> Path:
    data = small_world(
        3,
        WEEK[0].isoformat(),
        WEEK[-1].isoformat(),
        dcs=1,
        customers=6000,
        per_day=800,
        products=4000,  # big enough that merged repeat items barely cut lines
    )
    return write_yaml(folder, name, data, changes)


def local_times(root: Path, receipts: pa.Table) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per receipt: local hour, local date, and (open hour, close hour) of its store."""
    stores, geo = read_master(root, "stores"), read_master(root, "geographies_master")
    zone = dict(zip(geo["ID"].to_pylist(), geo["TimeZone"].to_pylist(), strict=True))
    info = {s["ID"]: (zone[s["GeographyID"]], s["OpenHour"], s["CloseHour"])
            for s in stores.to_pylist()}  # fmt: skip
    hour, day, hours = [], [], []
    for ts, store in zip(receipts["EventTS"].to_pylist(), receipts["StoreID"].to_pylist(),
                         strict=True):  # fmt: skip
        tz, open_h, close_h = info[store]
        local = ts.astimezone(ZoneInfo(tz))
        hour.append(local.hour)
        day.append(local.date())
        hours.append((open_h, close_h))
    return np.array(hour), np.array(day), np.array(hours)


@pytest.fixture(scope="module")
def week(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Monday-to-Sunday week of three stores with every default of the model."""
    folder = tmp_path_factory.mktemp("realism")
    return generate(write_scenario(folder, "week"), folder / "out")


@pytest.fixture(scope="module")
def scenario(week: Path) -> Scenario:
    return load_scenario(next(week.parent.glob("week.yaml")))


@pytest.fixture(scope="module")
def receipts(week: Path) -> pa.Table:
    return facts(week, "receipts")


# --- seasonality: the model over 2024 -------------------------------------------------


def monthly(demand: Demand) -> np.ndarray:
    factor = np.array([day_factor(d, demand) for d in YEAR])
    month = np.array([d.month for d in YEAR])
    return np.array([factor[month == m].sum() for m in range(1, 13)])


def test_december_is_busier_than_an_average_month() -> None:
    months = monthly(Demand())
    ratio = months[11] / months.mean()
    assert 1.2 <= ratio <= 1.5, ratio  # MRTS: 1.17 (all retail) .. 1.5 (general merch.)
    assert months[1] / months.mean() < 0.9  # February is the low month
    assert months.argmax() == 11


def test_november_and_december_hold_about_19_percent_of_the_year() -> None:
    months = monthly(Demand())
    share = 100 * months[10:].sum() / months.sum()
    assert abs(share - 19) <= 1.5, share  # NRF: ~19%


def test_stores_close_on_thanksgiving_and_christmas_and_black_friday_peaks() -> None:
    demand = Demand()
    factors = {d: day_factor(d, demand) for d in YEAR}
    assert factors[THANKSGIVING] == 0 and factors[CHRISTMAS] == 0
    fridays = {d: f for d, f in factors.items() if d.weekday() == 4}
    november = {d: f for d, f in fridays.items() if d.month == 11}
    assert max(november, key=lambda d: november[d]) == BLACK_FRIDAY  # (December run-up higher)
    others = [f for d, f in fridays.items() if d != BLACK_FRIDAY]
    # Placer.ai: retail visits on Black Friday 2024 were +40.4% on an average Friday
    assert 1.25 <= factors[BLACK_FRIDAY] / np.mean(others) <= 1.8


def test_weekend_days_are_busier_than_midweek_in_the_model() -> None:
    demand = Demand(holidays={})
    by_day = {k: np.mean([day_factor(d, demand) for d in YEAR if DOW[d.weekday()] == k])
              for k in DOW}  # fmt: skip
    assert min(by_day["sat"], by_day["sun"]) > max(by_day["tue"], by_day["wed"])
    assert max(by_day, key=lambda k: by_day[k]) == "sat"


def test_hour_profile_is_zero_when_closed_and_peaks_late_afternoon() -> None:
    profile = hour_profile(Demand(), 7, 21)
    assert profile[:7].sum() == 0 and profile[21:].sum() == 0
    assert profile[7:21].min() > 0
    assert profile.sum() == pytest.approx(1)
    assert 16 <= profile.argmax() <= 18


def test_a_closed_day_has_no_store_sales(tmp_path: Path) -> None:
    sc = write_scenario(
        tmp_path,
        "xmas",
        volume={"stores": 2, "total_products": 800, "customers_per_day": 300},
        calendar={"start": "2024-12-24", "end": "2024-12-25"},
    )
    root = generate(sc, tmp_path / "out")
    r = facts(root, "receipts", ["EventTS"])
    days = {(ts - timedelta(hours=10)).date() for ts in r["EventTS"].to_pylist()}
    assert days == {date(2024, 12, 24)}  # Christmas Eve sells, Christmas does not
    ft = facts(root, "foot_traffic", ["EventTS"])
    assert {(ts - timedelta(hours=10)).date() for ts in ft["EventTS"].to_pylist()} == days


# --- when people shop -----------------------------------------------------------------


def test_weekend_days_sell_more_than_midweek(week: Path, receipts: pa.Table) -> None:
    _, day, _ = local_times(week, receipts)
    count = {d: int((day == d).sum()) for d in WEEK}
    sat, sun, tue, wed = (count[WEEK[i]] for i in (5, 6, 1, 2))
    assert min(sat, sun) > max(tue, wed)
    assert (sat + sun) / (tue + wed) > 1.15  # Instacart order_dow: weekend peak


def test_receipts_peak_late_afternoon_and_only_in_opening_hours(
    week: Path, receipts: pa.Table
) -> None:
    hour, _, hours = local_times(week, receipts)
    late = np.where(hour < hours[:, 0], hour + 24, hour)  # past midnight after a late close
    assert (late >= hours[:, 0]).all()
    assert (late <= hours[:, 1]).all()  # at most the hour after closing (last customers)
    share = np.bincount(hour, minlength=24) / len(hour)
    assert 15 <= share.argmax() <= 18, share.round(3)
    assert share[9:16].sum() > 0.4  # Instacart: most orders 9:00-16:00


# --- what they buy and how they pay ---------------------------------------------------


def test_tender_mix_is_within_4_points_of_the_defaults(
    scenario: Scenario, receipts: pa.Table
) -> None:
    n = receipts.num_rows
    counts = dict.fromkeys(TENDERS, 0)
    for row in receipts.group_by("TenderType").aggregate([("TenderType", "count")]).to_pylist():
        counts[row["TenderType"]] = row["TenderType_count"]
    assert set(counts) == set(TENDERS)
    for tender, share in scenario.shopping.tender_mix.items():
        assert abs(counts[tender] / n - share) <= 0.04, (tender, counts[tender] / n)


def test_about_40_percent_of_entering_visitors_buy(week: Path, receipts: pa.Table) -> None:
    ft = facts(week, "foot_traffic", ["Zone", "Count"])
    entered = pc.sum(ft.filter(pc.equal(ft["Zone"], "ENTRANCE"))["Count"]).as_py()
    assert 0.36 <= receipts.num_rows / entered <= 0.44


def test_planned_visits_buy_at_the_conversion_rates(week: Path, scenario: Scenario) -> None:
    catalog = Catalog.from_master(load_master(week, "csv"))
    promos = Promotions.for_day(scenario, catalog, WEEK[0])
    n = 20_000
    rng = np.random.default_rng(1)
    arrive = np.sort(rng.uniform(0, 12 * 3600, n))
    ad = np.arange(n) % 4 == 0
    seq = np.where(ad, np.arange(n), -1)
    carried = np.arange(1, len(catalog.price))
    v = plan_visits(
        scenario, rng, catalog, promos, arrive, np.full(n, -1), seq, seq, carried, 14 * 3600.0
    )
    s = scenario.shopping
    assert abs(v.buys[~ad].mean() - s.conversion) <= 0.015
    assert abs(v.buys[ad].mean() - s.ad_conversion) <= 0.02
    lines = np.diff(v.line_off)
    assert (lines[~v.buys] == 0).all()
    plain, driven = lines[v.buys & ~ad].mean(), lines[v.buys & ad].mean()
    assert abs(plain - scenario.volume.items_per_ticket_mean) <= 1
    assert driven >= 1.15 * plain


def test_mean_lines_per_receipt_is_near_items_per_ticket(
    week: Path, scenario: Scenario, receipts: pa.Table
) -> None:
    lines = facts(week, "receipt_lines", ["ReceiptId"])
    mean = lines.num_rows / receipts.num_rows
    assert abs(mean - scenario.volume.items_per_ticket_mean) <= 1, mean


def test_small_baskets_are_as_common_as_published(week: Path) -> None:
    lines = facts(week, "receipt_lines", ["ReceiptId", "Qty"])
    units = lines.group_by("ReceiptId").aggregate([("Qty", "sum")])["Qty_sum"].to_numpy()
    assert 0.14 <= (units == 1).mean() <= 0.30  # Sorensen 2009: > 16% single-item trips
    assert 0.40 <= (units <= 5).mean() <= 0.60  # VideoMining 2022: half of visits <= 5 items
    assert 8.5 <= units.mean() <= 13  # VideoMining 10.7 units, Instacart 9-11 items


def test_the_customer_base_is_sized_from_1_6_trips_a_week(scenario: Scenario) -> None:
    default = load_scenario(ROOT / "scenarios" / "default.yaml")
    assert default.volume.total_customers == 110_250  # 42 x 2000 x 0.75 x 0.40 x 7 / 1.6
    assert scenario.volume.total_customers == 6000  # an explicit value is kept


def test_ad_driven_receipts_are_larger(receipts: pa.Table) -> None:
    total = cents(receipts["Total"])
    ad = pc.is_valid(receipts["ImpressionId"]).to_numpy(zero_copy_only=False)
    assert ad.sum() >= 100 and (~ad).sum() >= 1000
    assert total[ad].mean() >= 1.15 * total[~ad].mean()


def test_about_20_percent_of_products_are_promoted_each_week(
    week: Path, scenario: Scenario
) -> None:
    catalog = Catalog.from_master(load_master(week, "csv"))
    mondays = [date(2024, 1, 1) + timedelta(weeks=k) for k in range(8)]
    weeks = [Promotions.for_day(scenario, catalog, d) for d in mondays]
    shares = [(p.code[1:] >= 0).mean() for p in weeks]
    assert all(abs(s - 0.20) <= 0.04 for s in shares), shares
    assert abs(np.mean(shares) - scenario.shopping.promo_share) <= 0.015
    sunday = Promotions.for_day(scenario, catalog, mondays[0] + timedelta(days=6))
    assert np.array_equal(sunday.code, weeks[0].code)  # one promotion calendar per week
    a, b = weeks[0].code >= 0, weeks[1].code >= 0
    assert (a & b).sum() < 0.5 * a.sum()  # and a new one the next week
    for p in weeks:
        on = p.code[1:] >= 0  # id 0 is no product
        price, everyday = p.price[1:], catalog.price[1:]
        assert (price[on] < everyday[on]).all()
        assert np.array_equal(price[~on], everyday[~on])


def test_promoted_lines_carry_the_week_code_and_a_lower_price(week: Path) -> None:
    lines = facts(week, "receipt_lines", ["EventTS", "ProductID", "UnitPrice", "PromoCode"])
    products = read_master(week, "products_master")
    sale = dict(zip(products["ID"].to_pylist(), cents(products["SalePrice"]).tolist(),
                    strict=True))  # fmt: skip
    everyday = np.array([sale[p] for p in lines["ProductID"].to_pylist()])
    unit = cents(lines["UnitPrice"])
    promo = pc.is_valid(lines["PromoCode"]).to_numpy(zero_copy_only=False)
    assert 0.1 < promo.mean() < 0.6
    assert (unit[promo] < everyday[promo]).all()
    assert np.array_equal(unit[~promo], everyday[~promo])
    codes = lines["PromoCode"].to_pylist()
    for ts, code, on in zip(lines["EventTS"].to_pylist(), codes, promo, strict=True):
        if on:
            year, wk, _ = (ts - timedelta(hours=10)).date().isocalendar()
            assert code.startswith(f"PR{year}W{wk:02d}-"), (ts, code)


def test_online_is_about_16_percent_of_sales(week: Path) -> None:
    sales = sales_by_channel(week)
    share = sales["online"] / (sales["online"] + sales["store"])
    assert abs(share - 0.16) <= 0.03, share


# --- tax -------------------------------------------------------------------------------


def test_sales_tax_is_the_store_geography_rate(
    week: Path, receipts: pa.Table, tiny_output: Path
) -> None:
    rates_seen: set[float] = set()
    for root, r in ((week, receipts), (tiny_output, facts(tiny_output, "receipts"))):
        stores, geo = read_master(root, "stores"), read_master(root, "geographies_master")
        rate_of_geo = dict(zip(geo["ID"].to_pylist(), geo["TaxRate"].to_pylist(), strict=True))
        rate_of = {s["ID"]: rate_of_geo[s["GeographyID"]] for s in stores.to_pylist()}
        rate = np.array([rate_of[s] for s in r["StoreID"].to_pylist()])
        subtotal, tax = cents(r["Subtotal"]), cents(r["Tax"])
        assert np.array_equal(tax, np.floor(subtotal * rate + 0.5 + 1e-9).astype(np.int64))
        assert (np.abs(tax / subtotal - rate) <= 0.5 / subtotal + 1e-12).all()
        rates_seen |= set(rate.tolist())
    assert len(rates_seen) >= 2
    assert all(0 <= x <= 0.11 for x in rates_seen)  # Tax Foundation: combined max ~10.25%


def test_the_scenario_was_generated_with_the_defaults(scenario: Scenario) -> None:
    """The figures above are those of the model's defaults, not of tuned settings."""
    default = Scenario(seed=scenario.seed)
    for section in ("demand", "shopping", "marketing", "online", "supply"):
        assert getattr(scenario, section) == getattr(default, section), section
    assert scenario.volume.items_per_ticket_mean == default.volume.items_per_ticket_mean
    assert datetime.fromisoformat(str(scenario.calendar.start)).date() == WEEK[0]
