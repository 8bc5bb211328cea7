"""The experiment view: an output against a baseline, and the disruption's own effect.

The disruptions come from the output's generation_state.json settings (what the run
really used). A DC outage shows the DC's stores: out-of-stock by day, truck arrivals and
sales (the lost sales are the baseline's minus the experiment's over the outage window
and after); a demand spike shows traffic and sales of the targeted stores.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np
import pyarrow.compute as pc

from sim.report.scan import Output, business_day, np_col, read_master
from sim.report.stock import out_of_stock_by_day

EPOCH = date(1970, 1, 1)


@dataclass
class Effect:
    """One disruption's effect: a title, daily series (this vs baseline) and figures."""

    title: str
    days: np.ndarray
    series: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)  # chart -> name -> y
    figures: dict[str, str] = field(default_factory=dict)


def _stores_of(out: Output, d: dict) -> np.ndarray:
    st = read_master(out.root, "stores")
    ids = np_col(st, "ID")
    if d.get("kind") == "dc_outage" or (d.get("dc") is not None and "store" not in d):
        return ids[np_col(st, "DCID") == int(d["dc"])] if d.get("dc") is not None else ids
    if d.get("store") is not None:
        return np.array([int(d["store"])])
    if d.get("region"):
        geo = read_master(out.root, "geographies_master")
        region = dict(zip(geo["ID"].to_pylist(), geo["Region"].to_pylist(), strict=True))
        return np.array(
            [
                s
                for s, g in zip(ids, np_col(st, "GeographyID"), strict=True)
                if region.get(int(g)) == d["region"]
            ]
        )
    return ids


def _daily(
    out: Output,
    span: np.ndarray,
    table: str,
    cols: list[str],
    stores: np.ndarray,
    value: str | None,
    where: tuple[str, str] | None = None,
) -> np.ndarray:
    t = out.facts(table, ["EventTS", "StoreID", *cols])
    if t is None:
        return np.zeros(len(span))
    keep = np.isin(np_col(t, "StoreID"), stores)
    if where is not None:
        keep &= pc.equal(t[where[0]], where[1]).to_numpy(zero_copy_only=False)
    day = business_day(np_col(t, "EventTS"))[keep] - span[0]
    inside = (day >= 0) & (day < len(span))
    w = np_col(t, value, float)[keep][inside] if value else None
    return np.bincount(day[inside], weights=w, minlength=len(span))[: len(span)]


def _day(v: object) -> int:
    text = str(v)[:10]
    return (date.fromisoformat(text) - EPOCH).days


def effects(out: Output, base: Output) -> list[Effect]:
    """The effect of every disruption recorded in ``out``'s settings."""
    span = np.arange(min(out.days[0], base.days[0]), max(out.days[-1], base.days[-1]) + 1)
    res = []
    for d in out.settings.get("disruptions", []):
        stores = _stores_of(out, d)
        kind = d.get("kind", "?")
        start = _day(d["start"])
        end = _day(d["end"]) if d.get("end") else start + 1
        label = d.get("name") or kind
        e = Effect(
            f"{label}: {kind} from {d['start']} to {d.get('end') or '-'} "
            f"({len(stores)} stores: {', '.join(map(str, stores[:12]))})",
            span,
        )
        sales = {
            o: _daily(x, span, "receipts", ["Subtotal"], stores, "Subtotal")
            for o, x in (("experiment", out), ("baseline", base))
        }
        e.series["sales of these stores ($ per day)"] = sales
        after = span >= start
        lost = float((sales["baseline"] - sales["experiment"])[after].sum())
        e.figures["sales change from the start ($)"] = f"{-lost:,.0f}"
        e.figures["sales change from the start (%)"] = (
            f"{-100 * lost / max(sales['baseline'][after].sum(), 1e-9):.1f}%"
        )
        if kind in ("dc_outage", "truck_delay", "supplier_shortage"):
            oos = {}
            for name, x in (("experiment", out), ("baseline", base)):
                days, curve = out_of_stock_by_day(x, stores)
                oos[name] = np.interp(span, days, 100 * curve, left=np.nan, right=np.nan)
            e.series["out of stock at these stores (% of items, end of day)"] = oos
            e.series["truck arrivals at these stores per day"] = {
                name: _daily(
                    x, span, "truck_moves", ["Status"], stores, None, ("Status", "ARRIVED")
                )
                for name, x in (("experiment", out), ("baseline", base))
            }
            peak = np.nanmax(oos["experiment"] - oos["baseline"])
            e.figures["largest out-of-stock rise (points)"] = f"{peak:.1f}"
            win = (span >= start) & (span < end)
            trucks = e.series["truck arrivals at these stores per day"]
            e.figures["truck arrivals during the window (exp. / base)"] = (
                f"{trucks['experiment'][win].sum():.0f} / {trucks['baseline'][win].sum():.0f}"
            )
        if kind in ("demand_spike", "store_closure", "sensor_outage"):
            e.series["entering visitors at these stores per day"] = {
                name: _daily(
                    x,
                    span,
                    "foot_traffic",
                    ["Zone", "Count"],
                    stores,
                    "Count",
                    ("Zone", "ENTRANCE"),
                )
                for name, x in (("experiment", out), ("baseline", base))
            }
            win = (span >= start) & (span < end)
            tr = e.series["entering visitors at these stores per day"]
            e.figures["traffic in the window (exp. / base)"] = (
                f"{tr['experiment'][win].sum() / max(tr['baseline'][win].sum(), 1):.2f}x"
            )
            e.figures["sales in the window (exp. / base)"] = (
                f"{sales['experiment'][win].sum() / max(sales['baseline'][win].sum(), 1):.2f}x"
            )
        res.append(e)
    return res


def day_labels(span: np.ndarray) -> list[date]:
    return [EPOCH + timedelta(days=int(d)) for d in span]
