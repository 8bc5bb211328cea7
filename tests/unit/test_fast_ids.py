"""The byte-level id builders against the plain versions they replace: hex digits from
``bytes.hex`` equal the nibble-by-nibble look-up, and null-masked master ids built from
buffers equal the ones built from a Python object array; readable ids (four digits per
table look-up), ISO timestamps (one table of the days' seconds) and repeated strings
equal Python's own formatting."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from sim.contract.columns import iso_strings, repeated
from sim.contract.ids import _mix, _seed_keys, keyed_hex, readable_ids
from sim.master.build import _ids

HEX = np.frombuffer(b"0123456789abcdef", np.uint8)


def reference_keyed_hex(seed: int, salt: int, values: np.ndarray, digits: int) -> list[str]:
    k1, _ = _seed_keys(seed * 7919 + salt)
    x = _mix(values.astype(np.uint64) ^ k1)
    shifts = np.arange(60, -4, -4, dtype=np.uint64)
    chars = HEX[((x[:, None] >> shifts) & np.uint64(0xF)).astype(np.intp)][:, 16 - digits :]
    return [bytes(row).decode() for row in chars]


def reference_ids(seed: int, salt: int, prefix: str, mask: np.ndarray) -> pa.Array:
    body = keyed_hex(seed, salt, np.flatnonzero(mask) + 1, 16)
    vals = pc.binary_join_element_wise(prefix, body, "").to_numpy(zero_copy_only=False)
    out = np.full(len(mask), None, dtype=object)
    out[mask] = vals
    return pa.array(out, type=pa.string())


@pytest.mark.parametrize("digits", [16, 12, 5])
def test_keyed_hex_equals_the_nibble_lookup(digits: int) -> None:
    values = np.r_[0, 1, 2**63 - 1, np.random.default_rng(1).integers(0, 2**62, 500)]
    got = keyed_hex(20240101, 3, values, digits).to_pylist()
    assert got == reference_keyed_hex(20240101, 3, values, digits)
    assert all(len(v) == digits for v in got)


@pytest.mark.parametrize("share", [0.0, 0.3, 1.0])
def test_master_ids_equal_the_object_array_build(share: float) -> None:
    mask = np.random.default_rng(2).random(1000) < share
    got = _ids(7, 2, "BLE-", mask)
    want = reference_ids(7, 2, "BLE-", mask)
    got.validate(full=True)
    assert got.equals(want) and got.null_count == (~mask).sum()


def reference_readable(prefix: str, *fields: tuple[np.ndarray | int, int], n: int) -> list[str]:
    """The plain build: each field as Python's zero-padded decimal of its floor remainder."""
    cols = [np.broadcast_to(np.asarray(v, dtype=np.int64), (n,)).tolist() for v, _ in fields]
    widths = [w for _, w in fields]
    return [
        "-".join([prefix] + [f"{x % 10**w:0{w}d}" for x, w in zip(row, widths, strict=True)])
        for row in zip(*cols, strict=True)
    ] if n else []  # fmt: skip


def test_readable_ids_equal_the_plain_format() -> None:
    rng = np.random.default_rng(7)
    n = 400
    big = rng.integers(-(10**12), 10**12, n)  # wider than the field, and negative
    for prefix, fields in (
        ("I", ((3, 3), (101, 5), (np.arange(n), 7))),
        ("CR", ((202403, 6), (rng.integers(1, 6, n), 2), (rng.integers(1, 30, n), 2))),
        ("R", ((big, 5), (20240304, 8), (big, 11))),
        ("", ((rng.integers(0, 10**18, n), 18),)),
    ):
        got = readable_ids(prefix, *fields, n=n)
        assert got.to_pylist() == reference_readable(prefix, *fields, n=n)
    assert readable_ids("V", (1, 5), n=0).to_pylist() == []


def test_iso_strings_equal_python_formatting() -> None:
    rng = np.random.default_rng(8)
    day = 86_400_000
    for span in (1000, day, 3 * day, 40 * day):  # one table, a few days, the per-day path
        ms = 1_709_510_400_000 - day + rng.integers(0, span, 300)
        want = [
            datetime.fromtimestamp(x // 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S")
            + f".{x % 1000:03d}Z"
            for x in ms.tolist()
        ]
        assert iso_strings(ms).to_pylist() == want


def test_repeated_equals_a_list_of_the_value() -> None:
    for value, n in (("SALE", 7), ("", 3), ("ÄÖ", 2), ("X", 0)):
        assert repeated(value, n).equals(pa.array([value] * n, type=pa.string()))
