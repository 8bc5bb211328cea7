"""The scalar figures of the report, measured on an output folder's files only.

Each function returns :class:`Measured` values keyed by the ``metric`` names of
targets.yaml; a figure the output cannot support (too short, a table missing) says why.
Reads are column-projected (:mod:`sim.report.scan`).
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sim.config.calendar import HOLIDAYS
from sim.report.scan import Output, business_day, local_parts, np_col, read_columns, read_master
from sim.report.targets import Measured

EPOCH = date(1970, 1, 1)
DWELL_SAMPLE_DAYS = 14  # BLE pings are the largest table: dwell is measured on the first 14 days
STEADY_DAYS = 56  # out-of-stock settles after about 7 weeks (docs/realism.md)
TRIP_DAYS = 28


def _is(t: pa.Table, column: str, value: str) -> np.ndarray:
    """Rows whose string ``column`` equals ``value``, as a numpy bool array."""
    return pc.equal(t[column], value).to_numpy(zero_copy_only=False)


def _day(n: int) -> date:
    return EPOCH + timedelta(days=int(n))


def daily_sales(out: Output) -> tuple[np.ndarray, np.ndarray]:
    """(business days, dollar sales per day): receipt Subtotals plus allocated online lines."""
    r = out.fact("receipts", ["EventTS", "Subtotal"])
    days = business_day(np_col(r, "EventTS"))
    sales = np_col(r, "Subtotal", float)
    o = out.facts("online_orders", ["EventTS", "Status", "ExtPrice"])
    if o is not None and o.num_rows:
        keep = pc.equal(o["Status"], "ALLOCATED").to_numpy(zero_copy_only=False)
        days = np.r_[days, business_day(np_col(o, "EventTS"))[keep]]
        sales = np.r_[sales, np_col(o, "ExtPrice", float)[keep]]
    span = np.arange(out.days[0], out.days[-1] + 1)
    return span, np.bincount(days - span[0], weights=sales, minlength=len(span))[: len(span)]


def _whole_year(span: np.ndarray) -> int | None:
    """The first calendar year the output covers from 1 January to 31 December."""
    first, last = _day(span[0]), _day(span[-1])
    year = first.year if first == date(first.year, 1, 1) else first.year + 1
    return year if date(year, 12, 31) <= last else None


def seasonality(out: Output) -> dict[str, Measured]:
    span, sales = daily_sales(out)
    res: dict[str, Measured] = {}
    year = _whole_year(span)
    if year is None:
        why = f"needs a whole calendar year (365 days); the output has {len(span)} days"
        for m in ("month_ratio_12", "month_ratio_2", "nov_dec_share"):
            res[m] = Measured.missing(why)
    else:
        dates = np.array([_day(d) for d in span])
        inyear = np.array([d.year == year for d in dates])
        months = np.array([d.month for d in dates])[inyear]
        by_month = np.bincount(months - 1, weights=sales[inyear], minlength=12)
        avg = by_month.mean()
        note = f"{year}: dollar sales (stores + online) by month / monthly mean"
        res["month_ratio_12"] = Measured(float(by_month[11] / avg), note)
        res["month_ratio_2"] = Measured(float(by_month[1] / avg), note)
        res["nov_dec_share"] = Measured(
            float(100 * by_month[10:].sum() / by_month.sum()), f"{year}: dollar sales"
        )
    res["black_friday_ratio"] = _black_friday(out, span)
    return res


def _black_friday(out: Output, span: np.ndarray) -> Measured:
    dates = [_day(d) for d in span]
    bf = [i for i, d in enumerate(dates) if HOLIDAYS["black_friday"](d)]
    fridays = [i for i, d in enumerate(dates) if d.weekday() == 4 and i not in bf]
    if not bf or len(fridays) < 8:
        return Measured.missing("needs Black Friday and 8 other Fridays (about 60 days)")
    ft = out.facts("foot_traffic", ["EventTS", "Zone", "Count"])
    if ft is None:
        return Measured.missing("no foot_traffic table")
    entrance = pc.equal(ft["Zone"], "ENTRANCE").to_numpy(zero_copy_only=False)
    days = business_day(np_col(ft, "EventTS"))[entrance] - span[0]
    visits = np.bincount(days, weights=np_col(ft, "Count", float)[entrance], minlength=len(span))
    ratio = visits[bf].mean() / visits[fridays].mean()
    return Measured(
        float(ratio), f"entering visitors on {dates[bf[-1]]} / mean of {len(fridays)} Fridays"
    )


def _local(out: Output) -> dict[str, np.ndarray]:
    r = out.fact("receipts", ["EventTS", "StoreID"])
    return local_parts(np_col(r, "EventTS"), np_col(r, "StoreID"), out.store_tz)


def weekday_means(out: Output) -> np.ndarray | None:
    """Mean receipts per local day of each weekday (Mon..Sun); None under a week."""
    lp = _local(out)
    days = np.unique(lp["day"])
    if len(days) < 7:
        return None
    per_day = np.bincount(lp["day"] - days[0])
    span = np.arange(days[0], days[-1] + 1)
    wd = (span + 3) % 7  # 1970-01-01 was a Thursday
    calendar = np.bincount(wd, minlength=7)
    return np.bincount(wd, weights=per_day[: len(span)], minlength=7) / np.maximum(calendar, 1)


def calendar_shape(out: Output) -> dict[str, Measured]:
    res: dict[str, Measured] = {}
    means = weekday_means(out)
    if means is None:
        res["weekend_share"] = Measured.missing("needs 7 days")
    else:
        res["weekend_share"] = Measured(
            float(100 * means[5:].sum() / means.sum()), "mean receipts per local weekday"
        )
    hour = _local(out)["hour"]
    res["share_9_16"] = Measured(float(100 * ((hour >= 9) & (hour < 16)).mean()), "local hour")
    return res


def basket_sizes(out: Output) -> tuple[np.ndarray, np.ndarray]:
    """(lines, units) of every receipt, from receipt_lines."""
    lines = out.fact("receipt_lines", ["Line", "Qty"])
    line = np_col(lines, "Line")
    qty = np_col(lines, "Qty")
    starts = np.flatnonzero(line == 1)
    ordered = len(starts) and starts[0] == 0
    if ordered:  # the writer keeps each receipt's lines together, Line = 1..n
        n = np.diff(np.r_[starts, len(line)])
        expect = np.arange(len(line)) - np.repeat(starts, n) + 1
        ordered = bool(np.array_equal(expect, line))
    if ordered:
        return n, np.add.reduceat(qty, starts)
    by_id = out.fact("receipt_lines", ["ReceiptId", "Qty"])  # read only when needed
    g = by_id.group_by("ReceiptId").aggregate([("Qty", "sum"), ("Qty", "count")])
    return np_col(g, "Qty_count"), np_col(g, "Qty_sum")


def baskets(out: Output) -> dict[str, Measured]:
    n_lines, units = basket_sizes(out)
    n = len(units)
    return {
        "lines_per_receipt": Measured(float(n_lines.mean()), f"{n:,} receipts"),
        "units_per_receipt": Measured(float(units.mean()), "sum of Qty per receipt"),
        "single_item_share": Measured(float(100 * (units == 1).mean()), "receipts with 1 unit"),
        "five_or_fewer_share": Measured(float(100 * (units <= 5).mean()), "units <= 5"),
        "six_or_fewer_share": Measured(float(100 * (units <= 6).mean()), "units <= 6"),
    }


def paying(out: Output) -> dict[str, Measured]:
    r = out.fact("receipts", ["TenderType", "Subtotal", "Tax"])
    counts = {c["values"]: c["counts"] for c in pc.value_counts(r["TenderType"]).to_pylist()}
    total = sum(counts.values())
    res = {
        f"tender_{k}": Measured(100 * counts.get(k, 0) / total, "receipts.TenderType")
        for k in ("CREDIT", "DEBIT", "CASH", "MOBILE")
    }
    sub = float(pc.sum(r["Subtotal"].cast(pa.float64())).as_py() or 0)
    tax = float(pc.sum(r["Tax"].cast(pa.float64())).as_py() or 0)
    res["tax_rate"] = Measured(100 * tax / sub if sub else None, "sum Tax / sum Subtotal")
    lines = out.fact("receipt_lines", ["Qty", "PromoCode"])
    qty = np_col(lines, "Qty")
    promo = pc.is_valid(lines["PromoCode"]).to_numpy(zero_copy_only=False)
    res["promo_unit_share"] = Measured(float(100 * qty[promo].sum() / qty.sum()), "PromoCode set")
    return res


def channels(out: Output) -> dict[str, Measured]:
    res: dict[str, Measured] = {}
    r = out.fact("receipts", ["Subtotal"])
    store = float(pc.sum(r["Subtotal"].cast(pa.float64())).as_py() or 0)
    o = out.facts("online_orders", ["Status", "ExtPrice"])
    web = 0.0
    if o is not None:
        alloc = o.filter(pc.equal(o["Status"], "ALLOCATED"))
        web = float(pc.sum(alloc["ExtPrice"].cast(pa.float64())).as_py() or 0)
    res["online_share"] = Measured(100 * web / (store + web), "allocated online lines vs receipts")
    ft = out.facts("foot_traffic", ["Zone", "Count"])
    if ft is None:
        res["store_conversion"] = Measured.missing("no foot_traffic table")
    else:
        entered = pc.sum(ft.filter(pc.equal(ft["Zone"], "ENTRANCE"))["Count"]).as_py() or 0
        res["store_conversion"] = Measured(
            100 * r.num_rows / entered if entered else None, "receipts / ENTRANCE Count"
        )
    res.update(_ads(out))
    return res


def _ads(out: Output) -> dict[str, Measured]:
    mk = out.facts("marketing", ["Channel", "ImpressionId"])
    names = ("SEARCH", "DISPLAY", "SOCIAL", "EMAIL")
    if mk is None:
        return {f"ad_conversion_{c}": Measured.missing("no marketing table") for c in names}
    r = out.fact("receipts", ["ImpressionId"])
    driven = pc.drop_null(r["ImpressionId"])
    hit = pc.is_in(mk["ImpressionId"], value_set=driven).to_numpy(zero_copy_only=False)
    res = {}
    for c in names:
        mine = _is(mk, "Channel", c)
        shown = int(mine.sum())
        res[f"ad_conversion_{c}"] = (
            Measured(100 * float(hit[mine].sum()) / shown, f"{shown:,} impressions")
            if shown
            else Measured.missing(f"no {c} impressions")
        )
    return res


def supply(out: Output) -> dict[str, Measured]:
    from sim.report.stock import out_of_stock_by_day

    res: dict[str, Measured] = {}
    txn = out.facts("store_inventory_txn", ["QtyDelta", "Reason", "Source"])
    if txn is None:
        return {
            m: Measured.missing("no store_inventory_txn") for m in ("shrink_share", "out_of_stock")
        }
    delta = np_col(txn, "QtyDelta")
    sale = _is(txn, "Reason", "SALE") & _is(txn, "Source", "STORE")
    sold = -delta[sale].sum()
    shrunk = -delta[_is(txn, "Reason", "SHRINK")].sum()
    res["shrink_share"] = Measured(
        100 * shrunk / sold if sold else None, "SHRINK / store SALE units"
    )
    if out.span_days < STEADY_DAYS:
        res["out_of_stock"] = Measured.missing(
            f"needs {STEADY_DAYS} days (warm-up from a full opening stock); has {out.span_days}"
        )
    else:
        _, oos = out_of_stock_by_day(out)
        res["out_of_stock"] = Measured(
            float(100 * oos[STEADY_DAYS:].mean()), f"mean of days {STEADY_DAYS + 1}..{len(oos)}"
        )
    return res


def customers(out: Output) -> dict[str, Measured]:
    res: dict[str, Measured] = {}
    if out.span_days < TRIP_DAYS:
        res["trips_per_week"] = Measured.missing(f"needs {TRIP_DAYS} days; has {out.span_days}")
    else:
        r = out.fact("receipts", ["CustomerID"])
        cid = np_col(r, "CustomerID")
        known = cid[cid >= 0]
        weeks = out.span_days / 7
        people = len(np.unique(known))
        res["trips_per_week"] = Measured(
            len(known) / people / weeks if people else None,
            f"{len(known):,} receipts of {people:,} customers over {weeks:.1f} weeks",
        )
    res["dwell_minutes"] = _dwell(out)
    lines = out.fact("receipt_lines", ["ProductID", "Qty"])
    units = np.sort(np.bincount(np_col(lines, "ProductID"), weights=np_col(lines, "Qty", float)))
    sold = units[units > 0][::-1]
    n_products = read_master(out.root, "products_master").num_rows
    top = max(int(round(0.2 * n_products)), 1)
    res["top20_share"] = Measured(
        float(100 * sold[:top].sum() / sold.sum()), f"top {top:,} of {n_products:,} products"
    )
    return res


def _dwell(out: Output) -> Measured:
    """First to last BLE ping of one customer in one store, gaps under 10 minutes."""
    days = sorted((out.root / "facts" / "ble_pings").glob("dt=*"))[:DWELL_SAMPLE_DAYS]
    files = [f for d in days for f in sorted(d.glob("part-*.*"))]
    if not files:
        return Measured.missing("no ble_pings table")
    pings = read_columns(out.root, "ble_pings", ["EventTS", "StoreID", "CustomerBLEId"], files)
    if pings is None:
        return Measured.missing("no ble_pings table")
    ms = np_col(pings, "EventTS")
    store = np_col(pings, "StoreID")
    who = pc.dictionary_encode(pings["CustomerBLEId"]).combine_chunks().indices.to_numpy()
    order = np.lexsort((ms, store, who))
    ms, store, who = ms[order], store[order], who[order]
    gap = np.diff(ms) > 600_000
    new = np.r_[True, (who[1:] != who[:-1]) | (store[1:] != store[:-1]) | gap]
    first = np.flatnonzero(new)
    if not len(first):
        return Measured.missing("no BLE visits")
    last = np.r_[first[1:], len(ms)] - 1
    minutes = (ms[last] - ms[first]) / 60_000
    return Measured(float(minutes.mean()), f"{len(first):,} BLE visits, first {len(days)} days")


def measure_all(out: Output) -> dict[str, Measured]:
    res: dict[str, Measured] = {}
    for part in (seasonality, calendar_shape, baskets, paying, channels, supply, customers):
        res.update(part(out))
    return res
