"""The report's plots: matplotlib (Agg backend) rendered to SVG text, inlined in the HTML.

Large fonts and thick lines so that a plot reads on a projector; no fonts or scripts are
loaded from anywhere (SVG text is drawn as paths).
"""

from __future__ import annotations

import io
import textwrap
from typing import TYPE_CHECKING, Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from sim.report.shapes import Curve  # noqa: E402

if TYPE_CHECKING:
    from matplotlib.typing import RcKeyType

STYLE: dict[RcKeyType, Any] = {
    "font.size": 15,
    "axes.titlesize": 17,
    "axes.labelsize": 15,
    "legend.fontsize": 13,
    "lines.linewidth": 3,
    "svg.fonttype": "path",  # glyphs as paths: no font needed to view the file
    "svg.hashsalt": "retail-sim",  # stable ids: the same data gives the same SVG
    "axes.spines.top": False,
    "axes.spines.right": False,
}
MEASURED, REFERENCE, BASE = "#1f5fa8", "#d9822b", "#7a7a7a"
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def _svg(fig: plt.Figure) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(fig)
    text = buf.getvalue()
    return text[text.index("<svg") :]


def curve_svg(title: str, c: Curve, base: Curve | None = None, ref_label: str = "published") -> str:
    """One distribution: measured (and the baseline's) against the reference shape."""
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(8, 4.2))
        bar = not c.cumulative and len(c.x) <= 24
        ref = c.ref
        if bar:
            w = 0.4 if ref is not None else 0.8
            ax.bar(
                c.x - (w / 2 if ref is not None else 0),
                c.y,
                w,
                color=MEASURED,
                label="measured",
            )
            if ref is not None:
                ax.bar(ref[0] + w / 2, ref[1], w, color=REFERENCE, label=ref_label)
            if base is not None:
                ax.plot(base.x, base.y, "o-", color=BASE, lw=2, label="baseline")
        else:
            ax.plot(c.x, c.y, color=MEASURED, label="measured")
            if base is not None:
                ax.plot(base.x, base.y, color=BASE, lw=2, ls="--", label="baseline")
            if ref is not None:
                style = "o" if len(ref[0]) < 10 else "-"
                ax.plot(ref[0], ref[1], style, color=REFERENCE, ms=11, label=ref_label)
        if len(c.x) == 7:
            ax.set_xticks(range(7), WEEKDAYS)
        ax.set_title("\n".join(textwrap.wrap(title, 60)))
        ax.set_xlabel(c.xlabel)
        ax.set_ylabel(c.ylabel)
        ax.legend(frameon=False)
        ax.grid(axis="y", alpha=0.3)
        return _svg(fig)


def series_svg(
    title: str, x: np.ndarray, series: dict[str, np.ndarray], ylabel: str, xlabel: str = ""
) -> str:
    """Lines over days (or months): one per named series."""
    colors = [MEASURED, BASE, REFERENCE, "#3a9b5c", "#a23b72"]
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(8, 4.2))
        for (name, y), col in zip(series.items(), colors, strict=False):
            ax.plot(x, y, color=col, label=name, ls="--" if name == "baseline" else "-")
        ax.set_title("\n".join(textwrap.wrap(title, 60)))
        ax.set_ylabel(ylabel)
        ax.set_xlabel(xlabel)
        ax.legend(frameon=False)
        ax.grid(axis="y", alpha=0.3)
        fig.autofmt_xdate()
        return _svg(fig)
