"""Building Arrow columns from numpy arrays without per-row Python."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np
import pyarrow as pa

from sim.contract.schema import ARROW_TYPES, Table


def money(cents: np.ndarray) -> pa.Array:
    """Exact decimal(12, 2) dollars from integer cents."""
    c = np.ascontiguousarray(cents, dtype=np.int64)
    wide = np.empty((len(c), 2), dtype=np.int64)
    wide[:, 0] = c
    wide[:, 1] = c >> 63
    return pa.Array.from_buffers(ARROW_TYPES["money"], len(c), [None, pa.py_buffer(wide)])


_TAILS = np.array([f".{i:03d}Z".encode() for i in range(1000)], dtype="S5")
_ISO = np.dtype([("head", "S19"), ("tail", "S5")])


@lru_cache(maxsize=64)
def _seconds_of(day: int) -> np.ndarray:
    """``YYYY-MM-DDTHH:MM:SS`` for every second of epoch day ``day``."""
    s = np.arange(86400)
    prefix = str(np.datetime64(day, "D")).encode() + b"T"
    two = np.array([f"{i:02d}".encode() for i in range(60)], dtype="S2")
    out = np.empty(
        86400,
        dtype=[("d", "S11"), ("h", "S2"), ("c1", "S1"), ("m", "S2"), ("c2", "S1"), ("s", "S2")],
    )
    out["d"], out["c1"], out["c2"] = prefix, b":", b":"
    out["h"], out["m"], out["s"] = two[s // 3600], two[s // 60 % 60], two[s % 60]
    return out.view("S19")


@lru_cache(maxsize=16)
def _seconds_from(first: int, last: int) -> np.ndarray:
    """:func:`_seconds_of` for the epoch days ``first`` .. ``last``, one after the other."""
    return np.concatenate([_seconds_of(d) for d in range(first, last + 1)])


SPAN_DAYS = 8  # up to this many epoch days in one look-up table


def iso_strings(ms: np.ndarray) -> pa.StringArray:
    """``2024-01-01T08:15:30.250Z`` for epoch milliseconds, by table look-ups."""
    ms = np.asarray(ms, dtype=np.int64)
    n = len(ms)
    out = np.empty(n, dtype=_ISO)
    if n:
        sec, milli = ms // 1000, ms % 1000
        first, last = int(sec.min()) // 86400, int(sec.max()) // 86400
        if last - first < SPAN_DAYS:  # one table of the days' seconds: one look-up
            out["head"] = _seconds_from(first, last).take(sec - first * 86400)
        else:
            day, rest = np.divmod(sec, 86400)
            days, inv = np.unique(day, return_inverse=True)
            for k, d in enumerate(days):
                rows = inv == k
                out["head"][rows] = _seconds_of(int(d))[rest[rows]]
        out["tail"] = _TAILS.take(milli)
    offsets = np.arange(0, n * 24 + 1, 24, dtype=np.int32)
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(out))


def repeated(value: str, n: int) -> pa.StringArray:
    """``pa.array([value] * n)`` without the Python list: one buffer of ``n`` copies."""
    data = value.encode()
    offsets = np.arange(n + 1, dtype=np.int32) * len(data)
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(data * n))


def nullable_ids(ids: np.ndarray) -> pa.Array:
    """Int64 ids, null where negative."""
    return pa.array(ids, type=pa.int64(), mask=ids < 0)


def timestamps(ms: np.ndarray) -> pa.Array:
    """UTC timestamps from epoch milliseconds."""
    return pa.array(np.asarray(ms, dtype=np.int64), type=pa.int64()).cast(ARROW_TYPES["ts"])


def to_arrow(table: Table, cols: dict[str, Any]) -> pa.Table:
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
