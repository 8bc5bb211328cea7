"""Check 4: every foreign key resolves.

The references are read from the schema: a column whose doc starts with
``<table>.<Column>`` refers to that column (``customers.ID; empty for ...``), plus the
few :data:`EXTRA` ones whose doc says it in words or names two tables (those apply to
the rows whose discriminating column has a given value). Closing snapshots refer like the
opening ones. A receipt's ``ImpressionId`` may point before the first ``marketing``
partition (ads are shown 1-48 h before the visit), so on the first two days of the
output an unresolved one whose embedded day precedes that partition is excused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sim.contract.schema import TABLES
from sim.validate.arrays import business_day, ms, strings
from sim.validate.output import SECTIONS, Output
from sim.validate.registry import Findings, check

_DOC_REF = re.compile(r"^(\w+)\.(\w+)\b(?!.* or \w+\.\w+)")
IMPRESSION_DAY = slice(6, 11)  # I-<shard 3>-<day 5>-<seq 7>: days since 2000-01-01
_DAY_2000 = 10957  # 2000-01-01 in days since 1970


@dataclass(frozen=True)
class Ref:
    """``child.column`` must be a value of ``parent.key`` (nulls allowed if nullable)."""

    child: str
    column: str
    parent: str
    key: str
    when: tuple[str, str] | None = None  # (column, value): only the rows where it holds

    def __str__(self) -> str:
        text = f"{self.child.split('/')[1]}.{self.column} -> {self.parent.split('/')[1]}.{self.key}"
        return f"{text} where {self.when[0]}={self.when[1]}" if self.when else text


EXTRA: tuple[tuple[str, str, str, str, tuple[str, str] | None], ...] = (
    ("trucks", "DCID", "distribution_centers", "ID", None),
    ("marketing", "StoreID", "stores", "ID", None),
    ("online_orders", "NodeID", "distribution_centers", "ID", ("NodeType", "DC")),
    ("online_orders", "NodeID", "stores", "ID", ("NodeType", "STORE")),
)


def references() -> list[Ref]:
    """Every reference the schema documents, for each section a table can appear in."""
    pairs: list[tuple[str, str, str, str, tuple[str, str] | None]] = [
        (t.name, c.name, m.group(1), m.group(2), None)
        for t in TABLES.values()
        for c in t.columns
        if (m := _DOC_REF.match(c.doc))
    ]
    out = []
    for child, column, parent, key, when in [*pairs, *EXTRA]:
        target = TABLES.get(parent)
        if child not in TABLES or target is None or key not in target.names:
            continue
        if TABLES[child].kind == "event":
            continue
        p = f"{'facts' if target.kind == 'fact' else 'master'}/{parent}"
        out += [
            Ref(f"{s}/{child}", column, p, key, when)
            for s, kind in SECTIONS.items()
            if kind == TABLES[child].kind
        ]
    return out


@check(
    "foreign_keys",
    "every reference documented in sim.contract.schema resolves (StoreID, DCID, GeographyID, "
    "HomeStoreID, CustomerID, ProductID, TruckId, ReceiptId, CustomerBLEId, CustomerAdId, "
    "ImpressionId); nullable ones may be empty",
)
def foreign_keys(out: Output, f: Findings) -> None:
    unread = 0
    for ref in references():
        if out.usable(ref.child) and out.usable(ref.parent):
            _resolve(out, ref, f)
        elif out.present(ref.child) and out.present(ref.parent):
            unread += 1
    if unread:
        f.notes.append(f"{unread} references not checked: unreadable tables")


def _resolve(out: Output, ref: Ref, f: Findings) -> None:
    values = out[ref.child][ref.column]
    f.examined(len(values) - values.null_count)
    parent = pc.unique(out[ref.parent][ref.key].combine_chunks())
    found = pc.or_(pc.is_in(values, value_set=parent), pc.is_null(values))
    bad = pc.invert(found).to_numpy(zero_copy_only=False)
    if ref.when:
        bad &= (
            pc.equal(out[ref.child][ref.when[0]], ref.when[1])
            .fill_null(False)
            .to_numpy(zero_copy_only=False)
        )
    if ref.column == "ImpressionId" and ref.child == "facts/receipts":
        bad &= ~_before_first_impressions(out, ref.parent)
    rows = np.flatnonzero(bad)
    shown = strings(values.take(pa.array(rows[: f.room()])))
    f.add(
        len(rows),
        (
            f"{out.where(ref.child, int(r))}: {ref.column} {v} has no {ref.parent}.{ref.key}"
            for r, v in zip(rows, shown, strict=False)
        ),
    )


def _before_first_impressions(out: Output, marketing: str) -> np.ndarray:
    """Receipts of the output's first two days whose impression predates ``marketing``."""
    first = out.first_day(marketing)
    r = out["facts/receipts"]
    if first is None:
        return np.zeros(r.num_rows, dtype=bool)
    ids = pc.fill_null(r["ImpressionId"], "")
    digits = pc.utf8_slice_codeunits(ids, IMPRESSION_DAY.start, IMPRESSION_DAY.stop)
    digits = pc.if_else(pc.match_substring_regex(digits, r"^\d{5}$"), digits, "99999")
    day = pc.cast(digits, pa.int64())
    early = business_day(ms(r["EventTS"])) <= first + 1
    return early & (day.to_numpy() + _DAY_2000 < first)
