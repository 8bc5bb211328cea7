"""``python -m sim validate DIR``: check every invariant an output folder can show.

:func:`validate_output` reads each table once (:mod:`sim.validate.output`), runs the
registered checks in order (:mod:`sim.validate.registry`) and returns a
:class:`Report`; :func:`print_report` prints it. A check module registers its checks
on import: to add one, write a module with ``@check(...)`` functions and add it to
:data:`MODULES`. ``docs/validation.md`` lists the rules.
"""

from __future__ import annotations

import importlib
import time
from pathlib import Path

from sim.validate.output import Output
from sim.validate.registry import CHECKS, CheckResult, run_check
from sim.validate.report import Report, print_report

__all__ = ["CheckResult", "Report", "print_report", "validate_output"]

# the check modules, imported for their registrations, in report order
MODULES = (
    "schema",
    "partitions",
    "keys",
    "references",
    "values",
    "lines",
    "money",
    "pricing",
    "receipts",
    "inventory",
    "sensors",
    "attribution",
    "trucks",
    "online",
    "changes",
)
for _name in MODULES:
    importlib.import_module(f"sim.validate.{_name}")


def validate_output(root: Path, examples: int = 3) -> Report:
    """Check the output folder ``root``; :class:`sim.errors.InputError` if it is none."""
    started = time.perf_counter()
    out = Output.open(Path(root))
    out.load()
    results = [run_check(c, out, max(examples, 0)) for c in CHECKS]
    return Report(
        root=str(root),
        ok=not any(r.status == "FAIL" for r in results),
        checks=results,
        rows=out.rows(),
        seconds=time.perf_counter() - started,
    )
