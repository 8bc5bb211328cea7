"""``python -m sim report OUTPUT``: every target scored, the distributions, the plots.

:func:`build` measures an output (and a baseline with ``--against``); :func:`as_json`
gives the scores as data; :func:`sim.report.html.write_html` writes one self-contained HTML page.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from sim.errors import InputError
from sim.report.experiment import Effect, effects
from sim.report.measure import daily_sales, measure_all
from sim.report.scan import Output
from sim.report.shapes import Curve, measure_curves
from sim.report.targets import Scored, load_targets, score


@dataclass
class Measurement:
    """One output measured: scored targets, curves and its daily sales."""

    out: Output
    scored: list[Scored]
    curves: dict[str, Curve]
    sales: tuple
    seconds: float

    @property
    def counted(self) -> list[Scored]:
        return [s for s in self.scored if s.status != "not measurable"]

    @property
    def passed(self) -> int:
        return sum(s.status == "pass" for s in self.scored)


@dataclass
class Report:
    this: Measurement
    base: Measurement | None = None
    effects: list[Effect] = field(default_factory=list)

    def summary(self) -> str:
        m = self.this
        n, total = m.passed, len(m.counted)
        skipped = len(m.scored) - total
        pct = f" ({100 * n / total:.0f}%)" if total else ""
        text = f"{n} of {total} targets in band{pct}"
        if skipped:
            text += f"; {skipped} not measurable on {m.out.span_days} days"
        return text


def measure(root: Path) -> Measurement:
    t0 = time.perf_counter()
    out = Output.open(root)
    targets = load_targets()
    values = measure_all(out)
    curves, scores = measure_curves(out, targets)
    values.update(scores)
    return Measurement(
        out, score(targets, values), curves, daily_sales(out), time.perf_counter() - t0
    )


DEFAULT_HTML = Path("report") / "index.html"  # under the output folder, unless --html


def build(root: Path, against: Path | None = None) -> Report:
    """Score ``root`` (and what changed against ``against``); both must hold history."""
    for folder in (root, against):
        if folder is not None and not (folder / "facts").is_dir():
            raise InputError(
                f"{folder}: no facts/ folder (not an output folder?): generate history first"
            )
    r = Report(measure(root))
    if against is not None:
        r.base = measure(against)
        r.effects = effects(r.this.out, r.base.out)
    return r


def as_json(r: Report) -> dict:
    m = r.this
    data: dict = {
        "output": str(m.out.root),
        "days": m.out.span_days,
        "summary": r.summary(),
        "in_band": m.passed,
        "counted": len(m.counted),
        "targets": [s.as_dict() for s in m.scored],
    }
    if r.base is not None:
        base = {s.target.id: s for s in r.base.scored}
        data["against"] = str(r.base.out.root)
        for t in data["targets"]:
            b = base[t["id"]]
            t["baseline"] = b.measured.value
            t["baseline_status"] = b.status
            both = t["value"] is not None and b.measured.value is not None
            t["delta"] = t["value"] - b.measured.value if both else None
        data["effects"] = [{"title": e.title, **e.figures} for e in r.effects]
    return data
