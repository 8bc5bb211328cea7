"""Check 7: inventory ledgers of stores and DCs.

Per (place, product): the opening snapshot (missing = 0) plus the running sum of the
transactions in time order never goes below zero, and opening plus all deltas equals
the closing snapshot (missing = 0) when there is one. Transactions with the same
EventTS happened at once: the additions among them count first, so a violation is
one no order of simultaneous events explains.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from sim.validate.arrays import group_starts, ints, iso, ms, pair
from sim.validate.output import Output
from sim.validate.registry import Findings, check


@dataclass(frozen=True)
class Ledger:
    place: str  # StoreID or DCID
    opening: str
    txn: str
    closing: str


STORES = Ledger(
    "StoreID",
    "master/store_inventory_snapshots",
    "facts/store_inventory_txn",
    "closing/store_inventory_snapshots",
)
DCS = Ledger(
    "DCID",
    "master/dc_inventory_snapshots",
    "facts/dc_inventory_txn",
    "closing/dc_inventory_snapshots",
)
_DOC = (
    "per ({place}, ProductID): opening snapshot + running sum of QtyDelta in EventTS order "
    "(additions first at equal EventTS) never < 0; opening + sum = closing snapshot "
    "(missing = 0)"
)


@check("store_inventory", _DOC.format(place="StoreID"), needs=(STORES.opening, STORES.txn))
def store_inventory(out: Output, f: Findings) -> None:
    _ledger(out, STORES, f)


@check("dc_inventory", _DOC.format(place="DCID"), needs=(DCS.opening, DCS.txn))
def dc_inventory(out: Output, f: Findings) -> None:
    _ledger(out, DCS, f)


def _snapshot(t: pa.Table, place: str) -> tuple[np.ndarray, np.ndarray]:
    """(key, qty) of a snapshot, key = (place, product) packed."""
    return pair(ints(t[place]), ints(t["ProductID"])), ints(t["Qty"])


def _ledger(out: Output, led: Ledger, f: Findings) -> None:
    okey, oqty = _snapshot(out[led.opening], led.place)
    txn = out[led.txn]
    f.examined(len(okey) + txn.num_rows)
    _negative_snapshot(led.opening, okey, oqty, f)
    key = pair(ints(txn[led.place]), ints(txn["ProductID"]))
    delta = ints(txn["QtyDelta"])
    order = np.lexsort((-delta, ms(txn["EventTS"]), key))
    _running(out, led, key[order], delta[order], order, okey, oqty, f)
    if out.usable(led.closing):
        ckey, cqty = _snapshot(out[led.closing], led.place)
        f.examined(len(ckey))
        _negative_snapshot(led.closing, ckey, cqty, f)
        _balance(led, okey, oqty, key, delta, ckey, cqty, f)
    else:
        f.notes.append(f"no usable {led.closing}: balance not checked")


def _opening_of(keys: np.ndarray, okey: np.ndarray, oqty: np.ndarray) -> np.ndarray:
    """Opening quantity of each key (0 where the snapshot has none)."""
    if not len(okey):
        return np.zeros(len(keys), np.int64)
    order = np.argsort(okey, kind="stable")
    sk, sq = okey[order], oqty[order]
    pos = np.minimum(np.searchsorted(sk, keys), len(sk) - 1)
    return np.where(sk[pos] == keys, sq[pos], 0)


def _running(
    out: Output,
    led: Ledger,
    key: np.ndarray,
    delta: np.ndarray,
    order: np.ndarray,
    okey: np.ndarray,
    oqty: np.ndarray,
    f: Findings,
) -> None:
    """Groups whose on-hand goes below zero; ``key``/``delta`` sorted, ``order`` the rows."""
    if not len(key):
        return
    starts = group_starts(key)
    sizes = np.diff(np.r_[starts, len(key)])
    total = np.cumsum(delta)
    before = np.r_[0, total][starts]  # cumulative sum before each group
    opening = _opening_of(key[starts], okey, oqty)
    onhand = total + np.repeat(opening - before, sizes)
    low = np.minimum.reduceat(onhand, starts)
    bad = np.flatnonzero(low < 0)
    f.add(len(bad), (_below_zero(out, led, key, onhand, order, starts[g], sizes[g]) for g in bad))


def _below_zero(
    out: Output,
    led: Ledger,
    key: np.ndarray,
    onhand: np.ndarray,
    order: np.ndarray,
    start: int,
    size: int,
) -> str:
    first = start + int(np.argmax(onhand[start : start + size] < 0))
    at = int(order[first])
    row = out[led.txn].slice(at, 1)
    k, ts = int(key[first]), int(ms(row["EventTS"])[0])
    return (
        f"{led.place} {k >> 32} product {k & 0xFFFFFFFF}: on hand {onhand[first]} after "
        f"TraceId {row['TraceId'][0]} ({row['Reason'][0]} {row['QtyDelta'][0].as_py():+d} "
        f"at {iso(ts)}, {out.where(led.txn, at)})"
    )


def _balance(
    led: Ledger,
    okey: np.ndarray,
    oqty: np.ndarray,
    key: np.ndarray,
    delta: np.ndarray,
    ckey: np.ndarray,
    cqty: np.ndarray,
    f: Findings,
) -> None:
    """opening + sum of deltas = closing for every key any of the three mentions."""
    keys, inv = np.unique(np.r_[okey, key, ckey], return_inverse=True)
    n, a, b = len(keys), len(okey), len(okey) + len(key)
    opening = np.bincount(inv[:a], oqty, minlength=n)
    moved = np.bincount(inv[a:b], delta, minlength=n)
    closing = np.bincount(inv[b:], cqty, minlength=n)
    expect = np.rint(opening + moved).astype(np.int64)
    closing = np.rint(closing).astype(np.int64)
    bad = np.flatnonzero(expect != closing)
    f.add(
        len(bad),
        (
            f"{led.place} {keys[i] >> 32} product {keys[i] & 0xFFFFFFFF}: opening "
            f"{int(opening[i])} + deltas {int(moved[i]):+d} = {expect[i]}, closing {closing[i]}"
            for i in bad
        ),
    )


def _negative_snapshot(name: str, key: np.ndarray, qty: np.ndarray, f: Findings) -> None:
    bad = np.flatnonzero(qty < 0)
    f.add(
        len(bad),
        (f"{name}: place {key[i] >> 32} product {key[i] & 0xFFFFFFFF}: Qty {qty[i]}" for i in bad),
    )
