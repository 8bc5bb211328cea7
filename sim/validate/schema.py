"""Check 1: every file has exactly its table's columns, in order, and its values parse."""

from __future__ import annotations

from sim.validate.output import Output
from sim.validate.registry import Findings, check


@check(
    "schema",
    "every master/fact/closing file has its table's columns from sim.contract.schema, in order; "
    "values parse as their types; non-nullable columns have no empty values",
)
def schema(out: Output, f: Findings) -> None:
    f.examined(sum(p.rows for parts in out.parts.values() for p in parts))
    for p in out.problems:
        f.add(p.count, [f"{p.path.relative_to(out.root)}: {p.message}"])
