"""Building Arrow columns from numpy arrays without per-row Python."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from sim.schema import ARROW_TYPES, Table


def money(cents: np.ndarray) -> pa.Array:
    """Exact decimal(12, 2) dollars from integer cents."""
    c = np.ascontiguousarray(cents, dtype=np.int64)
    wide = np.empty((len(c), 2), dtype=np.int64)
    wide[:, 0] = c
    wide[:, 1] = c >> 63
    return pa.Array.from_buffers(ARROW_TYPES["money"], len(c), [None, pa.py_buffer(wide)])


_TWO = np.array([list(f"{i:02d}".encode()) for i in range(100)], dtype=np.uint8)
_THREE = np.array([list(f"{i:03d}".encode()) for i in range(1000)], dtype=np.uint8)


def iso_strings(ms: np.ndarray) -> pa.StringArray:
    """``2024-01-01T08:15:30.250Z`` for epoch milliseconds, built with numpy lookups."""
    ms = np.asarray(ms, dtype=np.int64)
    n = len(ms)
    day, rest = np.divmod(ms, 86_400_000)
    first = int(day.min(initial=0))
    span = np.arange(first, int(day.max(initial=0)) + 1)
    if len(span) > len(day):  # far-apart days: only the ones present
        span, inv = np.unique(day, return_inverse=True)
    else:
        inv = day - first
    prefix = np.frombuffer(
        b"".join(str(np.datetime64(int(x), "D")).encode() + b"T" for x in span), np.uint8
    ).reshape(-1, 11)
    rest = rest.astype(np.int32)
    sec, milli = np.divmod(rest, 1000)
    mins, sec = np.divmod(sec, 60)
    hours, mins = np.divmod(mins, 60)
    out = np.empty((n, 24), dtype=np.uint8)
    out[:, :11] = prefix[inv]
    out[:, 11:13] = _TWO[hours]
    out[:, 14:16] = _TWO[mins]
    out[:, 17:19] = _TWO[sec]
    out[:, 20:23] = _THREE[milli]
    out[:, [13, 16]] = ord(":")
    out[:, 19] = ord(".")
    out[:, 23] = ord("Z")
    offsets = np.arange(0, n * 24 + 1, 24, dtype=np.int32)
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(out))


def timestamps(ms: np.ndarray) -> pa.Array:
    """UTC timestamps from epoch milliseconds."""
    return pa.array(np.asarray(ms, dtype=np.int64), type=pa.int64()).cast(ARROW_TYPES["ts"])


def to_arrow(table: Table, cols: dict[str, object]) -> pa.Table:
    """An Arrow table of ``table``'s schema; money columns are given in cents, ts in ms."""
    arrays = []
    for c in table.columns:
        v = cols[c.name]
        if isinstance(v, pa.Array | pa.ChunkedArray):
            arrays.append(v if v.type == ARROW_TYPES[c.kind] else v.cast(ARROW_TYPES[c.kind]))
        elif c.kind == "money":
            arrays.append(money(v))
        elif c.kind == "ts":
            arrays.append(timestamps(v))
        else:
            arrays.append(pa.array(v, type=ARROW_TYPES[c.kind]))
    return pa.Table.from_arrays(arrays, schema=table.arrow_schema())
