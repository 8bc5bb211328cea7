"""``python -m sim stats OUTPUT``: realism figures of an output next to published ones.

Every figure is measured on the written files (:mod:`sim.report.metrics`); the published
figures and their sources are those of docs/realism.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from rich.console import Console
from rich.table import Table

from sim.errors import InputError
from sim.report.metrics import read_facts, sales_by_channel, stock_curve


@dataclass(frozen=True)
class Figure:
    name: str
    measured: str
    published: str


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def _tenders(receipts: pa.Table) -> list[Figure]:
    counts = pc.value_counts(receipts["TenderType"]).to_pylist()
    total = sum(c["counts"] for c in counts)
    share = {c["values"]: c["counts"] / total for c in counts}
    published = {"CREDIT": "≈35%", "DEBIT": "≈30%", "CASH": "14-25%", "MOBILE": "growing"}
    return [
        Figure(f"tender {k.lower()} (share of payments)", _pct(share.get(k, 0.0)), v)
        for k, v in published.items()
    ]


def _baskets(receipts: pa.Table, lines: pa.Table) -> list[Figure]:
    n = receipts.num_rows
    units = pc.sum(lines["Qty"]).as_py() or 0
    ad = pc.is_valid(receipts["ImpressionId"])
    total = receipts["Total"].cast(pa.float64())
    ad_mean = pc.mean(total.filter(ad)).as_py()
    other = pc.mean(total.filter(pc.invert(ad))).as_py()
    uplift = f"{ad_mean / other:.2f}x" if ad_mean and other else "n/a"
    return [
        Figure("lines per receipt", f"{lines.num_rows / n:.2f}", "9.4 (Complete Journey)"),
        Figure("units per receipt", f"{units / n:.2f}", "9-11 items (Instacart)"),
        Figure("ad-driven receipts: Total vs others", uplift, "spend +30% (scenario)"),
    ]


def _weekdays(receipts: pa.Table) -> Figure:
    ms = receipts["EventTS"].cast(pa.int64()).to_numpy()
    days = (ms - 36_000_000) // 86_400_000
    span = np.arange(days.min(), days.max() + 1)
    weekday = (days + 3) % 7  # 1970-01-01 was a Thursday; 0 = Monday
    calendar = np.bincount((span + 3) % 7, minlength=7)  # days of each weekday in the output
    mean = np.bincount(weekday, minlength=7) / np.maximum(calendar, 1)
    index = mean / mean[mean > 0].mean() if (mean > 0).any() else mean
    names = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
    return Figure(
        "receipts by weekday (mean = 1)",
        " ".join(f"{d} {v:.2f}" for d, v in zip(names, index, strict=True)),
        "weekend busiest (Instacart)",
    )


def _shrink(root: Path) -> Figure:
    txn = read_facts(root, "store_inventory_txn", ["QtyDelta", "Reason", "Source"])
    if txn is None:
        return Figure("shrink (share of units sold)", "n/a", "1.4-1.6% of sales (NRF)")
    store = pc.equal(txn["Source"], "STORE")
    sold = -(
        pc.sum(txn.filter(pc.and_(store, pc.equal(txn["Reason"], "SALE")))["QtyDelta"]).as_py() or 0
    )
    shrunk = -(pc.sum(txn.filter(pc.equal(txn["Reason"], "SHRINK"))["QtyDelta"]).as_py() or 0)
    return Figure(
        "shrink (share of units sold)",
        _pct(shrunk / sold) if sold else "n/a",
        "1.4-1.6% of sales (NRF 2023)",
    )


def _stockouts(root: Path) -> Figure:
    curve = stock_curve(root)
    oos = curve.out_of_stock()
    if not len(oos):
        return Figure("out of stock, end of day", "n/a", "≈8.3% (Gruen et al. 2002)")
    last = date(1970, 1, 1) + timedelta(days=int(curve.days[-1]))
    week = oos[-7:].mean()
    return Figure(
        "out of stock, end of day",
        f"{_pct(float(oos[-1]))} on {last}, {_pct(float(week))} last 7 days",
        "≈8.3% (Gruen et al. 2002); settles after ~6 weeks",
    )


def figures(root: Path) -> list[Figure]:
    receipts = read_facts(root, "receipts")
    lines = read_facts(root, "receipt_lines", ["Qty"])
    if receipts is None or lines is None or receipts.num_rows == 0:
        raise InputError(f"{root}: no receipts to measure (generate history first)")
    sales = sales_by_channel(root)
    online = sales["online"] / max(sales["store"] + sales["online"], 1e-9)
    return [
        *_tenders(receipts),
        *_baskets(receipts, lines),
        _weekdays(receipts),
        Figure("online share of sales", _pct(online), "≈16% (Census, Q2 2025)"),
        _shrink(root),
        _stockouts(root),
    ]


def print_stats(root: Path, console: Console) -> None:
    t = Table(title=f"{root}: measured vs published (docs/realism.md)")
    t.add_column("figure")
    t.add_column("measured", justify="right")
    t.add_column("published")
    for f in figures(root):
        t.add_row(f.name, f.measured, f.published)
    console.print(t)
