"""The realism report (:mod:`sim.report`) from the console.

Built on request, as ``python -m sim report OUTPUT`` builds it, and written where that
command writes it (``OUTPUT/report/index.html``); the page links to it and the app
serves it from there. It is one self-contained file (its plots are inline SVG), so it
needs no network either.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def build_report(output: Path) -> dict[str, Any]:
    """Score the output folder against ``sim/report/targets.yaml``; write the HTML."""
    from sim.report.html import write_html
    from sim.report.report import DEFAULT_HTML, as_json, build

    report = build(output, None)
    write_html(report, output / DEFAULT_HTML)
    return {**as_json(report), "output": output.name, "html": "/report"}


def report_file(output: Path) -> Path | None:
    """The last report built for ``output``, if any."""
    from sim.report.report import DEFAULT_HTML  # the report's modules only when asked

    path = output / DEFAULT_HTML
    return path if path.is_file() else None
