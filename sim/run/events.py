"""Real-time events: one envelope per recorded row.

The envelope is ``{event_type, payload, trace_id, ingest_timestamp, schema_version,
source}``; the payload is the row (every column of the table's schema in
:mod:`sim.contract.schema` but ``TraceId``, which is the ``trace_id``), so an event and the file
row that records the same fact carry the same values and the same id. The partition
key is the store or DC the event concerns (``store-12``, ``dc-3``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from sim.contract.columns import iso_strings
from sim.contract.schema import TABLES, Table

SCHEMA_VERSION = 1
SOURCE = "retail-sim"


@dataclass(frozen=True, slots=True)
class Pending:
    """A row waiting for its time: the envelope minus ``ingest_timestamp``."""

    ms: int
    event_type: str
    partition_key: str
    trace_id: str
    payload: dict


def event_types(table: Table, rows: pa.Table) -> list[str]:
    """The event type of each row (some tables name it after the row's status)."""
    if table.status_events:
        by_status = dict(table.status_events)
        return [by_status[s] for s in rows["Status"].to_pylist()]
    return [table.event_type or table.name] * rows.num_rows


def partition_keys(table: Table, rows: pa.Table) -> list[str]:
    """``store-<id>`` or ``dc-<id>`` for each row."""
    if table.key == "NodeID":
        return [
            f"{t.lower()}-{i}"
            for t, i in zip(rows["NodeType"].to_pylist(), rows["NodeID"].to_pylist(), strict=True)
        ]
    prefix = "dc-" if table.key == "DCID" else "store-"
    return [prefix + str(v) for v in rows[table.key or "StoreID"].to_pylist()]


def _jsonable(rows: pa.Table) -> pa.Table:
    """Money as numbers, times as ISO strings, dates as ISO dates."""
    cols = []
    for f, col in zip(rows.schema, rows.columns, strict=True):
        if pa.types.is_decimal(f.type):  # via text: 1.39, not 1.3900000000000001
            col = col.cast(pa.string()).cast(pa.float64())
        elif pa.types.is_timestamp(f.type):
            ms = col.cast(pa.int64()).to_numpy(zero_copy_only=False)
            strings = iso_strings(np.nan_to_num(ms).astype(np.int64))
            col = (
                pc.if_else(col.is_valid(), strings, pa.nulls(len(col), pa.string()))
                if col.null_count
                else strings
            )
        elif pa.types.is_date(f.type):
            col = col.cast(pa.string())
        cols.append(col)
    return pa.Table.from_arrays(cols, names=rows.column_names)


def pending_events(table_name: str, rows: pa.Table) -> list[Pending]:
    """Rows of a table as events waiting for their time."""
    table = TABLES[table_name]
    ms = rows["EventTS"].cast(pa.int64()).to_pylist()
    types, keys = event_types(table, rows), partition_keys(table, rows)
    ids = rows["TraceId"].to_pylist()
    payloads = _jsonable(rows.drop_columns(["TraceId"])).to_pylist()
    out = [
        Pending(m, t, k, i, p) for m, t, k, i, p in zip(ms, types, keys, ids, payloads, strict=True)
    ]
    for event_type, column in table.also_events:  # a promoted line is also promotion_applied
        out += [
            Pending(e.ms, event_type, e.partition_key, e.trace_id, e.payload)
            for e in out
            if e.payload.get(column)
        ]
    return out


def envelope(e: Pending, ingest: datetime) -> bytes:
    """The JSON envelope of an event, stamped with its ingest time."""
    return orjson.dumps(
        {
            "event_type": e.event_type,
            "payload": e.payload,
            "trace_id": e.trace_id,
            "ingest_timestamp": ingest.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "schema_version": SCHEMA_VERSION,
            "source": f"{SOURCE}/{e.partition_key}",
        }
    )
