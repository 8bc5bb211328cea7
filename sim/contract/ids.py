"""Deterministic ids, built vectorized.

A ``TraceId`` is 32 hex digits: two 64-bit mixes (splitmix64's finaliser, a bijection)
of ``(table, shard, day, sequence)`` packed into 64 bits and keyed by the seed, so ids
are unique within a seed and reproducible. Readable ids (receipts, impressions) are
fixed-width decimal fields joined by ``-``.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

_M1, _M2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)


def _mix(x: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        x = (x ^ (x >> np.uint64(30))) * _M1
        x = (x ^ (x >> np.uint64(27))) * _M2
        return x ^ (x >> np.uint64(31))


def _seed_keys(seed: int) -> tuple[np.uint64, np.uint64]:
    s = _mix(
        np.array([seed & 0xFFFFFFFFFFFFFFFF, (seed * 3 + 1) & 0xFFFFFFFFFFFFFFFF], dtype=np.uint64)
    )
    return s[0], s[1]


def _strings(chars: np.ndarray) -> pa.StringArray:
    """An (n, w) uint8 array of ASCII as an Arrow string array."""
    n, w = chars.shape
    offsets = np.arange(0, n * w + 1, w, dtype=np.int32)
    data = pa.py_buffer(np.ascontiguousarray(chars))  # no copy: the buffer keeps the array
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), data)


def _hex(x: np.ndarray) -> np.ndarray:
    """An (n, 16) uint8 array: each uint64 as 16 lower-case hex digits (big-endian)."""
    text = np.ascontiguousarray(x, dtype=">u8").tobytes().hex().encode()
    return np.frombuffer(text, np.uint8).reshape(len(x), 16)


def _hex_strings(words: np.ndarray) -> pa.StringArray:
    """Each row of an (n, k) uint64 array as 16k lower-case hex digits (big-endian)."""
    n, k = words.shape
    data = np.ascontiguousarray(words, dtype=">u8").tobytes().hex().encode()
    offsets = np.arange(0, n * 16 * k + 1, 16 * k, dtype=np.int32)
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(data))


def trace_ids(seed: int, table: int, shard: int, day: int, key: np.ndarray) -> pa.StringArray:
    """TraceIds of rows of ``table`` in ``shard`` on ``day`` with natural keys ``key``.

    ``key`` must be unique per (table, shard, day); it is built from what identifies the
    fact (store, receipt, line, ...), never from the order rows are recorded in, so a
    stream and a file give a fact the same id.
    """
    group = np.uint64((table & 0xFF) << 56 | (shard & 0xFFFF) << 40 | (day & 0xFFFFF) << 20)
    k1, k2 = _seed_keys(seed)
    key = np.asarray(key, dtype=np.int64).astype(np.uint64)
    with np.errstate(over="ignore"):
        hi = _mix(_mix(np.array([group ^ k1]))[0] ^ key)
        lo = _mix(_mix(np.array([group ^ k2]))[0] + key * _M1)
    return _hex_strings(np.column_stack([hi, lo]))


def uniform(seed: int, salt: int, key: np.ndarray) -> np.ndarray:
    """Counter-based uniforms in [0, 1): the same key always gives the same number."""
    k, _ = _seed_keys(seed * 31 + salt)
    x = _mix(np.asarray(key, dtype=np.int64).astype(np.uint64) ^ k)
    return (x >> np.uint64(11)).astype(np.float64) / float(1 << 53)


def keyed_hex(seed: int, salt: int, values: np.ndarray, digits: int) -> pa.StringArray:
    """``digits`` hex digits of a keyed bijective mix of ``values``: unique when they are
    (for ``digits`` = 16), random-looking, reproducible."""
    return _strings(keyed_hex_digits(seed, salt, values)[:, 16 - digits :])


def keyed_hex_digits(seed: int, salt: int, values: np.ndarray) -> np.ndarray:
    """The 16 hex digits of :func:`keyed_hex` as an (n, 16) uint8 array."""
    k1, _ = _seed_keys(seed * 7919 + salt)
    return _hex(_mix(values.astype(np.uint64) ^ k1))


_GROUP = 10_000  # four digits per table look-up
# "0000" .. "9999" as one little uint32 word each (the four ASCII bytes in memory order)
_WORDS = np.array([f"{i:04d}".encode() for i in range(_GROUP)], dtype="S4").view(np.uint32)


def _digits(x: np.ndarray, width: int) -> np.ndarray:
    """An (n, width) uint8 array: the last ``width`` decimal digits of each value (of its
    floor remainder by ``10**width``), four digits per table look-up."""
    if width > 18:  # 10**width no longer fits an int64
        p = 10 ** np.arange(width - 1, -1, -1, dtype=np.int64)
        return (x.astype(np.int64)[:, None] // p % 10 + 48).astype(np.uint8)
    rest = x.astype(np.int64) % (10**width)
    k = -(-width // 4)
    words = np.empty((len(rest), k), np.uint32)
    for j in range(k - 1, -1, -1):
        words[:, j] = _WORDS.take(rest % _GROUP)
        rest //= _GROUP
    return words.view(np.uint8)[:, 4 * k - width :]


def readable_ids(prefix: str, *fields: tuple[np.ndarray | int, int], n: int) -> pa.StringArray:
    """``PREFIX-f1-f2...`` with each field zero-padded to its width."""
    head = prefix.encode()
    width = len(head) + sum(1 + w for _, w in fields)
    out = np.empty((n, width), np.uint8)
    out[:, : len(head)] = np.frombuffer(head, np.uint8)
    at = len(head)
    for values, w in fields:
        out[:, at] = ord("-")
        v = np.asarray(values, dtype=np.int64)
        if v.ndim == 0:  # one value for every row: its digits once
            out[:, at + 1 : at + 1 + w] = _digits(v.reshape(1), w)
        else:
            out[:, at + 1 : at + 1 + w] = _digits(np.broadcast_to(v, (n,)), w)
        at += 1 + w
    return _strings(out if n else np.zeros((0, 1), np.uint8))
