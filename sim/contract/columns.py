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


def iso_strings(ms: np.ndarray) -> pa.StringArray:
    """``2024-01-01T08:15:30.250Z`` for epoch milliseconds, by table look-ups."""
    ms = np.asarray(ms, dtype=np.int64)
    n = len(ms)
    day, rest = np.divmod(ms, 86_400_000)
    days, inv = np.unique(day, return_inverse=True) if n else (np.empty(0, np.int64), day)
    out = np.empty(n, dtype=_ISO)
    sec, milli = np.divmod(rest, 1000)
    if len(days) == 1:
        out["head"] = _seconds_of(int(days[0]))[sec]
    else:
        for k, d in enumerate(days):
            rows = inv == k
            out["head"][rows] = _seconds_of(int(d))[sec[rows]]
    out["tail"] = _TAILS[milli]
    offsets = np.arange(0, n * 24 + 1, 24, dtype=np.int32)
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(out))


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
