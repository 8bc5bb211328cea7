"""Distributions of the report: measured curves, reference shapes and their distances.

Distances (documented in docs/report.md), each turned into a score = 1 - distance:
``ks`` the largest gap between two cumulative distributions (Kolmogorov-Smirnov, as
RetailSynth scores its simulated distributions); ``tv`` total variation, half the sum
of absolute differences of two profiles (for the weekday, whose order is circular);
``ks_points`` the largest CDF gap at the few points a source publishes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from sim.report.measure import _local, basket_sizes, weekday_means
from sim.report.scan import Output, np_col
from sim.report.targets import Measured, Target

MAX_GAP_DAYS = 60


@dataclass
class Curve:
    """A measured distribution (x, y) and the reference it is scored against."""

    x: np.ndarray
    y: np.ndarray  # a profile (shares) or a CDF, as ``cumulative`` says
    cumulative: bool
    ref_x: np.ndarray | None = None
    ref_y: np.ndarray | None = None
    xlabel: str = ""
    ylabel: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def ref(self) -> tuple[np.ndarray, np.ndarray] | None:
        """The reference shape (x, y); None when the curve has none."""
        if self.ref_x is None or self.ref_y is None:
            return None
        return self.ref_x, self.ref_y


def ks(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.abs(np.asarray(a) - np.asarray(b))))


def tv(a: np.ndarray, b: np.ndarray) -> float:
    return float(0.5 * np.abs(a / a.sum() - b / b.sum()).sum())


def _shape(t: Target) -> np.ndarray:
    """The target's published profile as shares; targets.yaml must give one."""
    if t.shape is None:
        raise ValueError(f"targets.yaml: {t.id}: {t.metric} needs a 'shape'")
    return np.asarray(t.shape, float) / sum(t.shape)


def hour_curve(out: Output, t: Target) -> tuple[Curve, Measured]:
    hours = _local(out)["hour"]
    share = np.bincount(hours, minlength=24)[:24] / len(hours)
    ref = _shape(t)
    c = Curve(np.arange(24), share, False, np.arange(24), ref, "local hour", "share of receipts")
    return c, Measured(1 - ks(np.cumsum(share), np.cumsum(ref)), "KS of the hourly CDFs")


def weekday_curve(out: Output, t: Target) -> tuple[Curve, Measured]:
    means = weekday_means(out)
    ref = _shape(t)
    if means is None:
        return Curve(np.arange(7), np.zeros(7), False), Measured.missing("needs 7 days")
    share = means / means.sum()
    c = Curve(np.arange(7), share, False, np.arange(7), ref, "weekday", "share of a week")
    return c, Measured(1 - tv(share, ref), "1 - total variation")


def basket_curve(out: Output, t: Target) -> tuple[Curve, Measured]:
    _, units = basket_sizes(out)
    top = int(min(units.max(), 40))
    cdf = np.cumsum(np.bincount(np.minimum(units, top), minlength=top + 1))[1:] / len(units)
    points = t.points or {}
    px = np.array(sorted(points))
    py = np.array([points[k] for k in px])
    c = Curve(np.arange(1, top + 1), cdf, True, px, py, "items (units) per receipt", "CDF")
    hist = np.bincount(np.minimum(units, top), minlength=top + 1)[1:] / len(units)
    c.extra["hist"] = hist
    return c, Measured(1 - ks(cdf[px - 1], py), "largest gap at the published points")


def inter_purchase_curve(out: Output, t: Target) -> tuple[Curve, Measured]:
    r = out.fact("receipts", ["EventTS", "CustomerID"])
    cid, ms = np_col(r, "CustomerID"), np_col(r, "EventTS")
    known = cid >= 0
    cid, ms = cid[known], ms[known]
    order = np.lexsort((ms, cid))
    cid, ms = cid[order], ms[order]
    same = cid[1:] == cid[:-1]
    gaps = (np.diff(ms)[same]) / 86_400_000
    if len(gaps) < 100 or out.span_days < 28:
        return Curve(np.zeros(1), np.zeros(1), True), Measured.missing("needs 28 days")
    # per customer: each customer's gaps weigh 1 in all (else heavy shoppers dominate)
    _, inv, n = np.unique(cid[1:][same], return_inverse=True, return_counts=True)
    w = 1 / n[inv]
    order = np.argsort(gaps)
    x = np.linspace(0, min(MAX_GAP_DAYS, out.span_days), 121)
    cdf = np.interp(x, gaps[order], np.cumsum(w[order]) / w.sum(), left=0.0)
    ref = 1 - np.exp(-x / (t.mean_days or 1))
    c = Curve(x, cdf, True, x, ref, "days since the customer's previous purchase", "CDF")
    mean = float((gaps * w).sum() / w.sum())
    note = (
        f"per customer: mean gap {mean:.1f} days ({len(n):,} customers); all "
        f"{len(gaps):,} gaps pooled: mean {gaps.mean():.1f} days"
    )
    return c, Measured(1 - ks(cdf, ref), note)


def popularity_curve(out: Output, t: Target) -> tuple[Curve, Measured]:
    lines = out.fact("receipt_lines", ["ProductID", "Qty"])
    units = np.bincount(np_col(lines, "ProductID"), weights=np_col(lines, "Qty", float))
    from sim.report.scan import read_master

    n = read_master(out.root, "products_master").num_rows
    sold = np.sort(units)[::-1][:n]
    cum = np.r_[0, np.cumsum(sold) / sold.sum()]
    x = np.linspace(0, 1, len(cum))
    ref = x ** (np.log(0.8) / np.log(0.2))
    c = Curve(x, cum, True, x, ref, "share of products (by rank)", "share of units")
    return c, Measured(1 - ks(cum, ref), "KS of the Lorenz-type curves")


CURVES = {
    "hour_curve": hour_curve,
    "weekday_curve": weekday_curve,
    "basket_curve": basket_curve,
    "inter_purchase_curve": inter_purchase_curve,
    "popularity_curve": popularity_curve,
}


def measure_curves(out: Output, targets: tuple[Target, ...]) -> tuple[dict, dict]:
    curves: dict[str, Curve] = {}
    scores: dict[str, Measured] = {}
    for t in targets:
        if t.kind == "distribution":
            curves[t.id], scores[t.metric] = CURVES[t.metric](out, t)
    return curves, scores
