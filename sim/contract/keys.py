"""Row keys: the natural keys a TraceId is derived from, one bit layout per kind of row."""

from __future__ import annotations

import numpy as np


def trip_key(kind: int, day_no: int, seq: int, local: np.ndarray) -> np.ndarray:
    """Row keys of trip ``seq`` started on ``day_no``: unique across the days it spans."""
    return kind << 56 | (day_no % 256) << 48 | seq << 24 | np.asarray(local, dtype=np.int64)
