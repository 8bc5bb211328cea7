"""The byte-level id builders against the plain versions they replace: hex digits from
``bytes.hex`` equal the nibble-by-nibble look-up, and null-masked master ids built from
buffers equal the ones built from a Python object array."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from sim.contract.ids import _mix, _seed_keys, keyed_hex
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
