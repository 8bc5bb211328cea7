"""Column conversions and lookups the checks share, all vectorized."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

DAY_MS = 86_400_000
DAY_START_MS = 10 * 3_600_000  # sim.config.calendar.DAY_START
INTERVAL_MS = 900_000  # foot-traffic interval (sim.world.sensors.FT_INTERVAL)


def ints(col: pa.ChunkedArray | pa.Array, null: int = -1) -> np.ndarray:
    """An integer column as int64, nulls as ``null``."""
    return np.asarray(pc.fill_null(col, null).to_numpy(), dtype=np.int64)


def ms(col: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """A timestamp[ms] column as epoch milliseconds."""
    return ints(pc.cast(col, pa.int64()))


def business_day(ts_ms: np.ndarray) -> np.ndarray:
    """Business day (days since 1970) of epoch milliseconds: the UTC date of ts - 10 h."""
    return (ts_ms - DAY_START_MS) // DAY_MS


def cents(col: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """A decimal128(12, 2) column as exact integer cents (nulls as 0)."""
    if isinstance(col, pa.ChunkedArray):
        chunks = [cents(c) for c in col.chunks]
        return np.concatenate(chunks) if chunks else np.empty(0, np.int64)
    words = np.frombuffer(col.buffers()[1], dtype=np.int64).reshape(-1, 2)
    out = words[col.offset : col.offset + len(col), 0].copy()
    if col.null_count:
        out[~col.is_valid().to_numpy(zero_copy_only=False)] = 0
    return out


def strings(col: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """A string column as a numpy object array (for the few rows of examples only)."""
    return np.asarray(col.to_numpy(zero_copy_only=False), dtype=object)


def index_in(values: pa.ChunkedArray | pa.Array, keys: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """For each value, the position of the first equal key, or -1 (also for nulls)."""
    if isinstance(keys, pa.ChunkedArray):
        keys = keys.combine_chunks()
    return ints(pc.index_in(values, value_set=keys))


def money(c: int) -> str:
    """Cents as ``12.34``."""
    sign = "-" if c < 0 else ""
    return f"{sign}{abs(c) // 100}.{abs(c) % 100:02d}"


def iso(ts_ms: int) -> str:
    """Epoch milliseconds as ``2024-01-01T08:15:30.250Z``."""
    t = datetime.fromtimestamp(ts_ms / 1000, UTC)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts_ms % 1000:03d}Z"


def day_text(day: int) -> str:
    """Days since 1970 as ``2024-01-01``."""
    return str(np.datetime64(int(day), "D"))


def group_starts(sorted_keys: np.ndarray) -> np.ndarray:
    """Start positions of the runs of equal values in ``sorted_keys``."""
    if not len(sorted_keys):
        return np.empty(0, np.int64)
    return np.flatnonzero(np.r_[True, sorted_keys[1:] != sorted_keys[:-1]])


def pair(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Two non-negative ids below 2**31 packed into one int64 key."""
    return (a.astype(np.int64) << 32) | b.astype(np.int64)


def duplicates(t: pa.Table, keys: list[str]) -> tuple[int, pa.Table]:
    """Rows beyond the first per value of ``keys`` (nulls excluded), and the repeated
    values with their count (column ``n``)."""
    t = t.select(keys)
    for k in keys:
        if t[k].null_count:
            t = t.filter(pc.is_valid(t[k]))
    if len(keys) == 1 and (fixed := _fixed_width(t[keys[0]])) is not None:
        return _sorted_duplicates(keys[0], fixed)
    g = t.group_by(keys).aggregate([([], "count_all")])
    g = pa.table({**{k: g[k] for k in keys}, "n": g["count_all"]})
    dup = g.filter(pc.greater(g["n"], 1))
    return int(pc.sum(dup["n"]).as_py() or 0) - dup.num_rows, dup


def _fixed_width(col: pa.ChunkedArray) -> list[np.ndarray] | None:
    """The chunks of a string column whose values all have one length, as numpy bytes
    arrays (no copy), else None. Sorting those beats hashing millions of TraceIds."""
    if not pa.types.is_string(col.type) or col.null_count:
        return None
    parts, width = [], None
    for chunk in col.chunks:
        if not len(chunk):
            continue
        start = chunk.offset
        off = np.frombuffer(chunk.buffers()[1], np.int32)[start : start + len(chunk) + 1]
        steps = np.diff(off)
        step = int(steps.min())
        if step == 0 or step != steps.max() or width not in (None, step):
            return None
        width = step
        data = np.frombuffer(chunk.buffers()[2], np.uint8)[off[0] : off[-1]]
        parts.append(data.view(f"S{width}"))
    return parts or None


def _sorted_duplicates(name: str, parts: list[np.ndarray]) -> tuple[int, pa.Table]:
    """Duplicates of fixed-width byte strings: 64-bit fingerprints sorted first, then
    the few rows whose fingerprint repeats compared exactly."""
    prints = [_fingerprint(p) for p in parts]
    s = np.sort(np.concatenate(prints))
    again = s[1:][s[1:] == s[:-1]]
    suspects = np.concatenate([p[np.isin(h, again)] for p, h in zip(parts, prints, strict=True)])
    exact = np.sort(suspects)
    same = exact[1:][exact[1:] == exact[:-1]]
    repeated, extra = np.unique(same, return_counts=True)
    text = pa.array([v.decode() for v in repeated.tolist()], pa.string())
    return len(same), pa.table({name: text, "n": extra.astype(np.int64) + 1})


def _fingerprint(values: np.ndarray) -> np.ndarray:
    """A 64-bit mix of each fixed-width byte string (equal strings, equal fingerprints)."""
    width = values.dtype.itemsize
    raw = values.view(np.uint8).reshape(-1, width)
    if width % 8:
        raw = np.pad(raw, ((0, 0), (0, 8 - width % 8)))
    words = np.ascontiguousarray(raw).view(np.uint64)
    h = np.zeros(len(values), np.uint64)
    with np.errstate(over="ignore"):
        for j in range(words.shape[1]):
            h = (h ^ words[:, j]) * np.uint64(0x9E3779B97F4A7C15)
            h ^= h >> np.uint64(29)
    return h


def unequal_sums(
    keys_a: dict[str, pa.ChunkedArray],
    qty_a: pa.ChunkedArray,
    keys_b: dict[str, pa.ChunkedArray],
    qty_b: pa.ChunkedArray,
) -> pa.Table:
    """The keys (same names on both sides) whose sum of ``qty_a`` differs from that of
    ``qty_b`` (a missing side sums to 0), with the sums as columns ``a`` and ``b``.

    String keys are encoded to integers first: grouping integers is much faster.
    """
    na, nb = len(qty_a), len(qty_b)
    cols, words = {}, {}
    for k in keys_a:
        both = pa.chunked_array([*_chunks(keys_a[k]), *_chunks(keys_b[k])], keys_a[k].type)
        if pa.types.is_string(both.type):
            enc = pc.dictionary_encode(both.combine_chunks())
            words[k], both = enc.dictionary, enc.indices
        cols[k] = both
    zeros = (pa.array(np.zeros(nb, np.int64)), pa.array(np.zeros(na, np.int64)))
    cols["a"] = pa.chunked_array([*_chunks(pc.cast(qty_a, pa.int64())), zeros[0]], pa.int64())
    cols["b"] = pa.chunked_array([zeros[1], *_chunks(pc.cast(qty_b, pa.int64()))], pa.int64())
    g = pa.table(cols).group_by(list(keys_a)).aggregate([("a", "sum"), ("b", "sum")])
    bad = g.filter(pc.not_equal(g["a_sum"], g["b_sum"]))
    out = {k: words[k].take(bad[k]) if k in words else bad[k] for k in keys_a}
    return pa.table({**out, "a": bad["a_sum"], "b": bad["b_sum"]})


def _chunks(col: pa.ChunkedArray | pa.Array) -> list[pa.Array]:
    return col.chunks if isinstance(col, pa.ChunkedArray) else [col]
