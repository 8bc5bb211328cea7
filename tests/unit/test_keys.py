"""Row-key layouts: none overlaps itself, no two of one table can meet, none has moved."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import numpy as np
import pytest

from sim.contract import keys
from sim.contract.keys import LAYOUTS, Layout, StoreTxnKind, TripKind
from sim.contract.schema import TABLES

WORLD = Path(__file__).resolve().parents[2] / "sim" / "world"


def fixed_bits(layout: Layout) -> int:
    """The bits no field of ``layout`` can set: they hold its tag."""
    used = 0
    for f in layout.fields:
        used |= f.mask
    return ((1 << 63) - 1) & ~used


def test_every_layout_names_a_table_and_every_kind_has_a_layout() -> None:
    assert {lay.table for lay in LAYOUTS} <= set(TABLES)
    assert len({lay.name for lay in LAYOUTS}) == len(LAYOUTS)
    names = {lay.name for lay in LAYOUTS}
    assert {k.name for k in TripKind} <= names
    assert {f"STORE_{k.name}" for k in StoreTxnKind} <= names


@pytest.mark.parametrize("layout", LAYOUTS, ids=lambda lay: lay.name)
def test_a_layouts_fields_are_disjoint_positive_and_clear_of_its_tag(layout: Layout) -> None:
    used = 0
    for f in layout.fields:
        assert f.bits > 0 and f.shift >= 0 and f.shift + f.bits <= 63, f  # keys stay >= 0
        assert used & f.mask == 0, f"{layout.name}: {f.name} overlaps another field"
        used |= f.mask
    assert layout.tag & used == 0, f"{layout.name}: a field overlaps the tag"
    assert 0 <= layout.tag < 1 << 63


TABLE_PAIRS = [(a, b) for a, b in itertools.combinations(LAYOUTS, 2) if a.table == b.table]


@pytest.mark.parametrize("a,b", TABLE_PAIRS, ids=lambda lay: lay.name)
def test_two_layouts_of_a_table_differ_in_a_bit_both_hold_fixed(a: Layout, b: Layout) -> None:
    """Exhaustive: every key of ``a`` and every key of ``b`` differ in that bit."""
    both = fixed_bits(a) & fixed_bits(b)
    assert (a.tag ^ b.tag) & both, f"{a.name} and {b.name} of {a.table} can collide"


def sample(layout: Layout, rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` random field tuples within the fields' ranges (extremes included), and keys."""
    values = {}
    for f in layout.fields:
        v = rng.integers(0, 1 << f.bits, n, dtype=np.int64)
        v[:2] = (0, (1 << f.bits) - 1)
        values[f.name] = v
    fields = np.column_stack([values[f.name] for f in layout.fields])
    return fields, layout.key(**values)


def test_random_keys_within_the_ranges_never_meet_across_or_within_layouts() -> None:
    rng = np.random.default_rng(5)
    by_table: dict[str, list[np.ndarray]] = {}
    for layout in LAYOUTS:
        fields, k = sample(layout, rng, 4000)
        assert (k >= 0).all()
        n_tuples = len(np.unique(fields, axis=0))
        assert len(np.unique(k)) == n_tuples, layout.name  # injective within the layout
        for f in layout.fields:  # every field reads back from its bits
            back = (k >> f.shift) & ((1 << f.bits) - 1)
            assert (back == fields[:, layout.fields.index(f)]).all(), (layout.name, f.name)
        by_table.setdefault(layout.table, []).append(np.unique(k))
    for table, sets in by_table.items():
        everything = np.concatenate(sets)
        assert len(np.unique(everything)) == len(everything), table


def test_the_layouts_give_the_keys_the_world_has_always_written() -> None:
    """TraceIds are hashed from these keys: the values are pinned, not just unique."""
    day, seq, local = np.int64(8926), 17, np.array([0, 5, 123456])
    trip = lambda kind: kind << 56 | (day % 256) << 48 | seq << 24 | local  # noqa: E731
    assert (keys.TRUCK_STATUS.key(day=day, seq=seq, local=local) == trip(0)).all()
    for layout, kind in ((keys.DC_SHIPMENT, 1), (keys.DC_RECEIPT, 2)):
        assert (layout.key(day=day, seq=seq, local=local) == trip(kind)).all()
    for layout, kind in ((keys.STORE_RECEIPT, 4), (keys.STORE_DAMAGE, 5)):
        assert (layout.key(day=day, seq=seq, local=local) == trip(kind)).all()
    order, line = np.array([3, 9000]), np.array([1, 39])
    for layout, kind in ((keys.DC_ONLINE, 3), (keys.STORE_ONLINE, 6)):
        want = kind << 56 | (day % 256) << 48 | (order << 12 | line)
        assert (layout.key(day=day, order=order, line=line) == want).all()
    s, n = 3, np.array([0, 77, 2**31])
    assert (keys.STORE_SALE.key(store=s, line=n) == (1 << 56 | s << 32 | n)).all()
    assert (keys.STORE_SHRINK.key(store=s, product=n) == (2 << 52 | s << 32 | n)).all()
    assert (keys.STORE_RETURN.key(store=s, product=n) == (3 << 52 | s << 32 | n)).all()
    for layout in (keys.CUSTOMER_ENTERED, keys.RECEIPT, keys.PAYMENT, keys.RECEIPT_LINE):
        (local_name,) = [f.name for f in layout.fields if f.name != "store"]
        assert (layout.key(store=s, **{local_name: n}) == (s << 32 | n)).all()
    p, k = np.array([1, 600]), np.array([0, 2])
    assert (keys.STOCKOUT.key(store=s, product=p, count=k) == (s << 32 | p << 8 | k)).all()
    v, st, pg = np.array([4, 70000]), np.array([1, 15]), np.array([0, 9])
    want = s << 48 | v << 24 | st << 20 | pg
    assert (keys.BLE_PING.key(store=s, visit=v, stay=st, ping=pg) == want).all()
    iv, z = np.array([40, 96 * 366]), np.array([0, 6])
    assert (keys.FOOT_TRAFFIC.key(store=s, interval=iv, zone=z) == (s << 36 | iv << 4 | z)).all()
    assert keys.STORE_STATUS.key(store=s, status=np.array([0, 1])).tolist() == [6, 7]
    assert (keys.IMPRESSION.key(seq=n) == n).all()
    assert (keys.REORDER.key(node=s + 1, product=p) == ((s + 1) << 32 | p)).all()
    assert (keys.REORDER.key(node=0, product=p) == p).all()
    o, ln, status = np.array([2, 5000]), np.array([0, 3]), np.array([0, 7])
    want = (day % 256) << 48 | o << 20 | ln << 4 | status
    assert (keys.ONLINE_ORDER.key(day=day, order=o, line=ln, status=status) == want).all()


def test_wrong_fields_are_refused() -> None:
    with pytest.raises(TypeError, match="RECEIPT key takes"):
        keys.RECEIPT.key(store=1, line=2)


def test_the_world_builds_no_key_bits_of_its_own() -> None:
    """Every key layout lives in contract/keys.py: no shifts by key positions elsewhere."""
    for path in sorted(WORLD.glob("*.py")):
        text = path.read_text()
        assert not re.search(r"<<\s*(12|20|24|32|36|48|52|56)\b", text), path.name
