"""Value domains: coded columns hold one of their documented codes; quantities have
the sign they must have.

A coded column of :mod:`sim.contract.schema` (one with ``Column.values``, the
vocabularies of :mod:`sim.contract.vocab`) must hold one of its codes; :data:`RANGES`
bounds numbers.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sim.contract.schema import TABLES
from sim.validate.output import Output
from sim.validate.registry import Findings, check

OPS: dict[str, Callable] = {
    ">": pc.greater,
    ">=": pc.greater_equal,
    "<": pc.less,
    "<=": pc.less_equal,
    "!=": pc.not_equal,
}
RANGES: dict[str, tuple[tuple[str, str, int], ...]] = {
    "receipt_lines": (("Line", ">=", 1), ("Qty", ">=", 1), ("UnitPrice", ">", 0)),
    "store_inventory_txn": (("QtyDelta", "!=", 0),),
    "dc_inventory_txn": (("QtyDelta", "!=", 0),),
    "foot_traffic": (("Count", ">=", 1), ("Dwell", ">=", 0), ("Dwell", "<=", 900)),
    "ble_pings": (("RSSI", "<", 0),),
    "marketing": (("Cost", ">=", 0),),
    "online_orders": (("Line", ">=", 1), ("Qty", ">=", 1), ("UnitPrice", ">", 0)),
}


def codes() -> dict[tuple[str, str], tuple[str, ...]]:
    """(table, column) -> allowed codes, from the schema."""
    return {(t.name, c.name): c.values for t in TABLES.values() for c in t.columns if c.values}


@check(
    "values",
    "coded columns (TenderType, Reason, Source, Status, Channel, Device, Zone, ...) hold a "
    "documented code; line Qty >= 1, UnitPrice > 0, QtyDelta != 0, foot-traffic Count >= 1 "
    "and 0 <= Dwell <= 900 s, RSSI < 0, ad Cost >= 0",
)
def values(out: Output, f: Findings) -> None:
    coded = codes()
    for key, t in out.tables.items():
        name = key.split("/", 1)[1]
        f.examined(t.num_rows)
        for (table, column), allowed in coded.items():
            if table == name:
                ok = pc.is_in(t[column], value_set=pa.array(allowed))
                _flag(out, key, column, pc.invert(ok), f"not one of {', '.join(allowed)}", f)
        for column, op, bound in RANGES.get(name, ()):
            col = t[column]
            ok = OPS[op](col, _scalar(bound, col.type))
            _flag(out, key, column, pc.invert(ok), f"not {op} {bound}", f)


def _scalar(value: int, type_: pa.DataType) -> pa.Scalar:
    if pa.types.is_decimal(type_):
        return pa.scalar(Decimal(value), type=type_)
    return pa.scalar(value).cast(type_)


def _flag(out: Output, key: str, column: str, bad: pa.ChunkedArray, rule: str, f: Findings) -> None:
    """Violations where ``bad`` is true (nulls are allowed values)."""
    rows = np.flatnonzero(pc.fill_null(bad, False).to_numpy(zero_copy_only=False))
    shown = out[key][column].take(pa.array(rows[: f.room()])).to_pylist()
    f.add(
        len(rows),
        (
            f"{out.where(key, int(r))}: {column} {v!r} {rule}"
            for r, v in zip(rows, shown, strict=False)
        ),
    )
