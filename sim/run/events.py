"""Real-time events, built in bulk from the recorded Arrow columns.

The envelope is ``{event_id, event_type, payload, trace_id, ingest_timestamp,
schema_version, source}``. The payload is the row (every column of the table's schema in
:mod:`sim.contract.schema` but ``TraceId``); ``trace_id`` is the row's ``TraceId``, so an
event joins to the file row that records the same fact. ``event_id`` is the event's own
id: a keyed mix of the ``TraceId`` and the event type (:func:`event_ids`), unique over
the stream (a promoted receipt line gives a ``receipt_line_added`` and a
``promotion_applied`` event: one ``trace_id``, two ``event_id``\\ s) and the same in
every run. The partition key is the store or DC the event concerns (``store-12``, ``dc-3``).

Nothing here makes a Python object per event: the JSON of a whole batch is assembled
with Arrow string kernels (:func:`build_events`); only the sink's hand-over
(:func:`out_events`) makes one :class:`OutEvent` per event, because that is the sink API.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sim.contract.columns import iso_strings
from sim.contract.ids import _hex_strings, _mix, _seed_keys
from sim.contract.schema import TABLES, Table
from sim.sinks.base import OutEvent

SCHEMA_VERSION = 1
SOURCE = "retail-sim"
TRUCK_EVENTS = {"IN_TRANSIT": "truck_departed", "ARRIVED": "truck_arrived"}


ARRAY_FIELDS = ("key", "event_type", "trace_id", "event_id", "head", "tail")


@dataclass(frozen=True)
class EventBatch:
    """Events as columns: time (epoch ms), partition key, type, ids, and the envelope's
    JSON before (``head``) and after (``tail``) the ``ingest_timestamp`` value."""

    ms: np.ndarray
    key: pa.Array
    event_type: pa.Array
    trace_id: pa.Array
    event_id: pa.Array
    head: pa.Array
    tail: pa.Array

    def __len__(self) -> int:
        return len(self.ms)

    @property
    def arrays(self) -> tuple[pa.Array, ...]:
        """The Arrow columns, in field order after ``ms``."""
        return tuple(getattr(self, name) for name in ARRAY_FIELDS)

    @property
    def nbytes(self) -> int:
        return int(self.ms.nbytes + sum(a.nbytes for a in self.arrays))

    def slice(self, lo: int, hi: int) -> EventBatch:
        """Events ``lo`` .. ``hi`` - 1 (zero-copy)."""
        return EventBatch(self.ms[lo:hi], *(a.slice(lo, hi - lo) for a in self.arrays))

    def take(self, index: np.ndarray) -> EventBatch:
        idx = pa.array(index, pa.int64())
        return EventBatch(self.ms[index], *(a.take(idx) for a in self.arrays))

    @staticmethod
    def concat(batches: list[EventBatch]) -> EventBatch:
        return EventBatch(
            np.concatenate([b.ms for b in batches]),
            *(pa.concat_arrays([getattr(b, n) for b in batches]) for n in ARRAY_FIELDS),
        )


def event_types(table: Table, rows: pa.Table) -> pa.Array:
    """The event type of each row (some tables name it after the row's status)."""
    if table.name in ("online_orders", "truck_moves", "store_status"):
        status = pc.utf8_lower(rows["Status"].combine_chunks())
        prefix = {
            "online_orders": "online_order_",
            "truck_moves": "truck_",
            "store_status": "store_",
        }
        out = pc.binary_join_element_wise(prefix[table.name], status, "")
        if table.name == "truck_moves":
            for status_, name in TRUCK_EVENTS.items():
                out = pc.if_else(pc.equal(rows["Status"].combine_chunks(), status_), name, out)
        return out
    if table.status_events:  # e.g. the change feeds: the event each Status names
        status = rows["Status"].combine_chunks()
        named = pa.nulls(rows.num_rows, pa.string())
        for value, name in table.status_events:
            named = pc.if_else(pc.equal(status, value), pa.scalar(name), named)
        return named
    return pa.array(
        np.full(rows.num_rows, table.event_type or table.name, dtype=object), pa.string()
    )


def partition_keys(table: Table, rows: pa.Table) -> pa.Array:
    """``store-<id>`` or ``dc-<id>`` for each row."""
    if table.key == "NodeID":
        kind = pc.utf8_lower(rows["NodeType"].combine_chunks())
        return pc.binary_join_element_wise(kind, _text(rows["NodeID"]), "-")
    prefix = "dc-" if table.key == "DCID" else "store-"
    return pc.binary_join_element_wise(prefix, _text(rows[table.key or "StoreID"]), "")


def event_ids(seed: int, trace_id: pa.Array, event_type: pa.Array) -> pa.Array:
    """32 hex digits per event: the ``TraceId``'s two 64-bit words, each mixed (the
    splitmix64 finaliser keyed by the seed, as in :mod:`sim.contract.ids`) with a word
    of the event type's name; distinct event types of one row get distinct ids."""
    n = len(trace_id)
    if not n:
        return pa.array([], pa.string())
    raw = _hex_words(trace_id)
    types = pc.dictionary_encode(event_type)
    names = types.dictionary.to_pylist()
    words = np.array([_name_word(s) for s in names], dtype=np.uint64)
    t = words[types.indices.to_numpy(zero_copy_only=False)]
    k1, k2 = _seed_keys(seed * 104729 + 17)
    with np.errstate(over="ignore"):
        hi = _mix(raw[:, 0].astype(np.uint64) ^ _mix(t ^ k1))
        lo = _mix(raw[:, 1].astype(np.uint64) + _mix(t ^ k2))
    return _hex_strings(np.column_stack([hi, lo]))


_NIBBLE = np.zeros(256, np.uint64)
_NIBBLE[np.frombuffer(b"0123456789abcdef", np.uint8)] = np.arange(16, dtype=np.uint64)


def _hex_words(ids: pa.Array) -> np.ndarray:
    """32-hex-digit ids as an (n, 2) array of their two big-endian 64-bit words."""
    n = len(ids)
    ids = pc.cast(ids, pa.string())
    offsets = np.frombuffer(ids.buffers()[1], np.int32)[ids.offset : ids.offset + n + 1]
    if not (np.diff(offsets) == 32).all():
        raise ValueError("trace ids must be 32 hex digits")
    data = np.frombuffer(ids.buffers()[2], np.uint8)[offsets[0] : offsets[0] + 32 * n]
    nib = _NIBBLE[data.reshape(n, 2, 16)]
    shifts = np.arange(60, -4, -4, dtype=np.uint64)
    return np.bitwise_or.reduce(nib << shifts, axis=2)


def _name_word(name: str) -> np.uint64:
    """A 64-bit word from an event type's name (FNV-1a; never Python's salted hash)."""
    h = 0xCBF29CE484222325
    for b in name.encode():
        h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return np.uint64(h)


def _text(col: pa.ChunkedArray | pa.Array) -> pa.Array:
    col = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    return pc.cast(col, pa.string())


def _quoted(strings: pa.Array) -> pa.Array:
    """JSON string literals (escaping backslashes, quotes and control characters)."""
    s = pc.replace_substring(strings, "\\", "\\\\")
    s = pc.replace_substring(s, '"', '\\"')
    if pc.any(pc.match_substring_regex(s, r"[\x00-\x1f]")).as_py():
        for ch, esc in (("\n", "\\n"), ("\r", "\\r"), ("\t", "\\t")):
            s = pc.replace_substring(s, ch, esc)
        for c in range(32):
            s = pc.replace_substring(s, chr(c), f"\\u{c:04x}")
    return pc.binary_join_element_wise('"', s, '"', "")


def _number(col: pa.Array, decimal: bool) -> pa.Array:
    """Floats as JSON numbers written like ``orjson``: ``1.39``, ``100.0``, ``1e-07``."""
    text = pc.cast(col, pa.string())
    if decimal:  # 10.00 -> 10.0, 1.30 -> 1.3 (the value a float of the decimal prints as)
        text = pc.replace_substring_regex(text, r"0+$", "")
        return pc.replace_substring_regex(text, r"\.$", ".0")
    return pc.replace_substring_regex(text, r"^(-?[0-9]+)$", r"\1.0")


def _json_values(field: pa.Field, col: pa.ChunkedArray) -> pa.Array:
    """Each value of a column as JSON text; nulls as ``null``."""
    col = col.combine_chunks()
    t = field.type
    if pa.types.is_decimal(t):
        out = _number(col, decimal=True)
    elif pa.types.is_floating(t):
        out = _number(col, decimal=False)
    elif pa.types.is_integer(t):
        out = pc.cast(col, pa.string())
    elif pa.types.is_boolean(t):
        out = pc.if_else(col, "true", "false")
    elif pa.types.is_timestamp(t):
        ms = col.cast(pa.int64()).to_numpy(zero_copy_only=False)
        out = pc.binary_join_element_wise(
            '"', iso_strings(np.nan_to_num(ms).astype(np.int64)), '"', ""
        )
        if col.null_count:
            out = pc.if_else(col.is_valid(), out, pa.nulls(len(col), pa.string()))
    elif pa.types.is_date(t):
        out = _quoted(pc.cast(col, pa.string()))
    else:
        out = _quoted(pc.cast(col, pa.string()))
    return pc.fill_null(out, "null") if out.null_count else out


def payload_json(rows: pa.Table) -> pa.Array:
    """``{"Col":value,...}`` for every row, in the schema's column order."""
    parts: list[pa.Array | str] = []
    for i, (f, col) in enumerate(zip(rows.schema, rows.columns, strict=True)):
        parts += [("{" if i == 0 else ",") + f'"{f.name}":', _json_values(f, col)]
    parts.append("}")
    return pc.binary_join_element_wise(*parts, "")


def build_events(seed: int, table_name: str, rows: pa.Table) -> EventBatch:
    """Rows of a table (with their ``TraceId``) as a batch of events."""
    table = TABLES[table_name]
    ms = rows["EventTS"].combine_chunks().cast(pa.int64()).to_numpy(zero_copy_only=False)
    types, keys = event_types(table, rows), partition_keys(table, rows)
    trace = rows["TraceId"].combine_chunks()
    payload = payload_json(rows.drop_columns(["TraceId"]))
    batch = _envelopes(seed, ms, keys, types, trace, payload)
    for event_type, column in table.also_events:  # e.g. a promoted line: promotion_applied
        extra = np.flatnonzero(rows[column].combine_chunks().is_valid().to_numpy(False))
        if len(extra):
            idx = pa.array(extra, pa.int64())
            name = pa.array(np.full(len(extra), event_type, dtype=object), pa.string())
            more = _envelopes(
                seed, ms[extra], keys.take(idx), name, trace.take(idx), payload.take(idx)
            )
            batch = EventBatch.concat([batch, more])
    return batch


def _envelopes(
    seed: int,
    ms: np.ndarray,
    keys: pa.Array,
    types: pa.Array,
    trace: pa.Array,
    payload: pa.Array,
) -> EventBatch:
    ids = event_ids(seed, trace, types)
    head = pc.binary_join_element_wise(
        '{"event_id":"', ids, '","event_type":"', types, '","payload":', payload,
        ',"trace_id":"', trace, '","ingest_timestamp":"', "",
    )  # fmt: skip
    tail = pc.binary_join_element_wise(
        f'","schema_version":{SCHEMA_VERSION},"source":"{SOURCE}/', keys, '"}', ""
    )
    return EventBatch(ms, keys, types, trace, ids, head, tail)


def ingest_text(ingest: datetime) -> str:
    return ingest.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def bodies(batch: EventBatch, ingest: datetime) -> list[bytes]:
    """The envelopes of a batch as bytes, stamped with one ingest time."""
    body = pc.binary_join_element_wise(batch.head, ingest_text(ingest), batch.tail, "")
    return pc.cast(body, pa.binary()).to_pylist()


def out_events(batch: EventBatch, ingest: datetime) -> list[OutEvent]:
    """The sink's hand-over: one :class:`OutEvent` per event, in batch order."""
    return [
        OutEvent(k, b, t, e, event_id=i)
        for k, b, t, e, i in zip(
            batch.key.to_pylist(),
            bodies(batch, ingest),
            batch.trace_id.to_pylist(),
            batch.event_type.to_pylist(),
            batch.event_id.to_pylist(),
            strict=True,
        )
    ]
