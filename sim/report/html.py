"""The report as one self-contained HTML page: inline CSS, inline SVG plots, no script,
no font, no link to anything outside the file (it opens offline, on a projector)."""

from __future__ import annotations

from datetime import date, timedelta
from html import escape
from pathlib import Path

import numpy as np

from sim.report.experiment import day_labels
from sim.report.plots import curve_svg, series_svg
from sim.report.report import Report
from sim.report.targets import Scored, fmt

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif;margin:2rem;
  font-size:18px;color:#1b1b1b;max-width:1400px}
h1{font-size:2rem} h2{font-size:1.5rem;margin-top:2.2rem;border-bottom:2px solid #ddd}
table{border-collapse:collapse;width:100%;font-size:16px}
th,td{padding:.35rem .6rem;border-bottom:1px solid #e3e3e3;text-align:left;vertical-align:top}
td.num{text-align:right;white-space:nowrap;font-variant-numeric:tabular-nums}
.pass{color:#fff;background:#2e7d32} .fail{color:#fff;background:#c62828}
.na{color:#333;background:#e0e0e0} .tag{padding:.1rem .45rem;border-radius:4px;font-weight:600;
  white-space:nowrap}
.small{color:#555;font-size:14px} .grid{display:flex;flex-wrap:wrap;gap:1rem}
.grid figure{margin:0;flex:1 1 600px} svg{max-width:100%;height:auto}
.summary{font-size:1.4rem;font-weight:600}
"""

_TAG = {"pass": "pass", "fail": "fail", "not measurable": "na"}


def _tag(status: str) -> str:
    return f'<span class="tag {_TAG[status]}">{escape(status)}</span>'


def _row(s: Scored, base: Scored | None) -> str:
    t, v = s.target, s.measured.value
    band = f"{fmt(t.unit, t.band[0])} .. {fmt(t.unit, t.band[1])}"
    cells = [
        f"<td>{escape(t.title)}<div class='small'>{escape(t.group)}</div></td>",
        f"<td class='num'>{fmt(t.unit, v) if v is not None else escape(s.measured.note)}</td>",
    ]
    if base is not None:
        b = base.measured.value
        d = fmt(t.unit, v - b) if v is not None and b is not None else "-"
        cells += [f"<td class='num'>{fmt(t.unit, b)}</td>", f"<td class='num'>{d}</td>"]
    ref = fmt(t.unit, t.reference) if t.reference is not None else (t.distance or "")
    cells += [
        f"<td class='num'>{ref}</td>",
        f"<td class='num'>{band}</td>",
        f"<td>{_tag(s.status)}</td>",
        f"<td class='small'>{escape(t.published)}<br>{escape(t.source)}"
        f"{'<br>' + escape(s.measured.note) if v is not None and s.measured.note else ''}</td>",
    ]
    return "<tr>" + "".join(cells) + "</tr>"


def _table(r: Report) -> str:
    base = {s.target.id: s for s in r.base.scored} if r.base else None
    head = ["figure", "measured"] + (["baseline", "delta"] if base else [])
    head += ["published", "band", "status", "source"]
    rows = [_row(s, base[s.target.id] if base else None) for s in r.this.scored]
    th = "".join(f"<th>{h}</th>" for h in head)
    return f"<table><thead><tr>{th}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _monthly(r: Report) -> str:
    def by_month(sales: tuple) -> tuple[list[str], np.ndarray]:
        span, values = sales
        labels = [date(1970, 1, 1) + timedelta(days=int(d)) for d in span]
        keys = sorted({(d.year, d.month) for d in labels})
        idx = {k: i for i, k in enumerate(keys)}
        per = np.zeros(len(keys))
        days = np.zeros(len(keys))
        for d, v in zip(labels, values, strict=True):
            per[idx[(d.year, d.month)]] += v
            days[idx[(d.year, d.month)]] += 1
        return [f"{y}-{m:02d}" for y, m in keys], per / np.maximum(days, 1)

    labels, mine = by_month(r.this.sales)
    x = np.arange(len(labels))
    series = {"sales per day, this output": mine / max(mine.mean(), 1e-9)}
    svg = series_svg("Sales per day by month (mean = 1)", x, series, "index")
    return (
        f"<figure>{svg}<figcaption class='small'>months: {', '.join(labels)}</figcaption></figure>"
    )


def _curves(r: Report) -> str:
    parts = []
    targets = {s.target.id: s for s in r.this.scored}
    for tid, c in r.this.curves.items():
        s = targets[tid]
        if s.measured.value is None:
            continue
        base = r.base.curves.get(tid) if r.base else None
        title = f"{s.target.title} (score {s.measured.value:.3f})"
        parts.append(f"<figure>{curve_svg(title, c, base)}</figure>")
    return "<div class='grid'>" + "".join(parts) + "</div>"


def _effects(r: Report) -> str:
    if not r.effects:
        return (
            "<p>No disruption is recorded in this output's generation_state.json.</p>"
            if r.base
            else ""
        )
    parts = []
    for e in r.effects:
        x = np.array(day_labels(e.days), dtype="datetime64[D]")
        figs = "".join(
            f"<tr><td>{escape(k)}</td><td class='num'>{escape(v)}</td></tr>"
            for k, v in e.figures.items()
        )
        charts = "".join(
            f"<figure>{series_svg(name, x, ys, '')}</figure>" for name, ys in e.series.items()
        )
        parts.append(
            f"<h3>{escape(e.title)}</h3><table>{figs}</table><div class='grid'>{charts}</div>"
        )
    return "".join(parts)


def render(r: Report) -> str:
    m = r.this
    title = f"Realism report: {m.out.root}"
    against = f" against {escape(str(r.base.out.root))}" if r.base else ""
    body = [
        f"<h1>{escape(title)}</h1>",
        f"<p class='summary'>{escape(r.summary())}</p>",
        f"<p class='small'>{m.out.span_days} days{against}; measured in {m.seconds:.1f} s. "
        "Targets, sources and bands: sim/report/targets.yaml (docs/report.md).</p>",
        "<h2>Targets</h2>",
        _table(r),
        "<h2>Distributions</h2>",
        _curves(r),
        "<h2>Seasonality</h2>",
        _monthly(r),
    ]
    if r.base is not None:
        body += ["<h2>The disruption's effect</h2>", _effects(r)]
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{escape(title)}</title><style>{CSS}</style></head><body>"
        + "".join(body)
        + "</body></html>\n"
    )


def write_html(r: Report, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(render(r), encoding="utf-8")
    tmp.replace(path)
    return path
