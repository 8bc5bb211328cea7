"""The building blocks of the schema: column kinds, :class:`Column` and :class:`Table`.

Column kinds map to Arrow types:

=========  ==============================  =====================================
kind       Arrow type                      written in CSV as
=========  ==============================  =====================================
``int``    int64                           ``42``
``str``    string                          text
``bool``   bool                            ``true`` / ``false``
``money``  decimal128(12, 2)               ``12.34`` (exact cents)
``float``  float64                         ``0.25``
``ts``     timestamp[ms, UTC]              ``2024-01-01T08:15:30.250Z``
``date``   date32                          ``2024-01-01``
=========  ==============================  =====================================

The tables themselves are declared in :mod:`sim.contract.schema`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import pyarrow as pa

Kind = Literal["int", "str", "bool", "money", "float", "ts", "date"]
TableKind = Literal["master", "fact", "event", "scd2"]

ARROW_TYPES: dict[str, pa.DataType] = {
    "int": pa.int64(),
    "str": pa.string(),
    "bool": pa.bool_(),
    "money": pa.decimal128(12, 2),
    "float": pa.float64(),
    "ts": pa.timestamp("ms", tz="UTC"),
    "date": pa.date32(),
}


@dataclass(frozen=True)
class Column:
    """One column: name, kind, what it means, and for a coded column its codes."""

    name: str
    kind: Kind
    doc: str
    nullable: bool = False
    values: tuple[str, ...] = ()  # the codes a coded column may hold, in a fixed order


@dataclass(frozen=True)
class Table:
    """One table or event stream.

    Its rows are reported in real time as ``event_type``, or, when ``status_events`` is
    given, as the event its ``Status`` names; a row with a value in the column of an
    ``also_events`` entry is reported once more as that entry's event.
    """

    name: str
    kind: TableKind
    doc: str
    columns: tuple[Column, ...]
    event_type: str | None = None  # the real-time event that reports one row
    key: str | None = None  # the column whose value is the event's partition key
    status_events: tuple[tuple[str, str], ...] = ()  # Status value -> event type
    also_events: tuple[tuple[str, str], ...] = ()  # (event type, column that triggers it)

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def event_types(self) -> tuple[str, ...]:
        """Every event type the rows of this table are reported as."""
        if self.kind in ("master", "scd2"):
            return ()
        main = tuple(e for _, e in self.status_events) or (self.event_type or self.name,)
        return tuple(dict.fromkeys(main + tuple(e for e, _ in self.also_events)))

    def arrow_schema(self) -> pa.Schema:
        return pa.schema(
            [pa.field(c.name, ARROW_TYPES[c.kind], nullable=c.nullable) for c in self.columns]
        )

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)


def coded(name: str, doc: str, values: tuple[str, ...], nullable: bool = False) -> Column:
    """A text column that holds one of ``values``."""
    return Column(name, "str", doc, nullable, values)


def table(
    name: str,
    kind: TableKind,
    doc: str,
    *cols: tuple | Column,
    event_type: str | None = None,
    key: str | None = None,
    status_events: Mapping[str, str] | None = None,
    also_events: Mapping[str, str] | None = None,
) -> Table:
    """A :class:`Table`; columns given as ``Column`` or ``(name, kind, doc[, nullable])``."""
    return Table(
        name,
        kind,
        doc,
        tuple(c if isinstance(c, Column) else Column(*c) for c in cols),
        event_type,
        key,
        tuple((status_events or {}).items()),
        tuple((also_events or {}).items()),
    )
