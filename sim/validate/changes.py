"""Checks of master data that changes (``master_changes``): SCD2 versions and the feed.

* ``scd2_versions``: per ID, versions follow each other without overlap or gap
  (``ValidTo`` = the next ``ValidFrom``), each is non-empty, and ``IsCurrent`` holds
  exactly for the open (``ValidTo`` empty) last version;
* ``scd2_facts``: every fact joins to the version valid at its ``EventTS``: receipt
  lines and placed online orders to their product (and a line without a promotion is
  sold at that version's ``SalePrice``), receipts to their customer, in-store facts
  (receipts, foot traffic, BLE pings) to their store;
* ``cdc_replay``: the change feed, applied to the first versions in ``EventTS`` order
  (each before image equal to the row it changes), gives the current versions, and each
  created or updated row is the version that starts at its ``EventTS``.
"""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sim.contract.scd import VERSIONED, cdc_name, scd2_name
from sim.contract.schema import TABLES
from sim.validate.arrays import cents, ints, iso, money, ms
from sim.validate.output import Output
from sim.validate.registry import Findings, check

DIMS = tuple(VERSIONED)
_V = tuple(f"dimensions/{scd2_name(d)}" for d in DIMS)


class Versions:
    """The versions of one dimension sorted by (ID, ValidFrom), for as-of look-ups."""

    def __init__(self, t: pa.Table) -> None:
        order = np.lexsort((ms(t["ValidFrom"]), ints(t["ID"])))
        self.t = t.take(pa.array(order))
        self.ids, self.start = ints(self.t["ID"]), ms(self.t["ValidFrom"])
        self.end = ints(pc.cast(self.t["ValidTo"], pa.int64()), np.iinfo(np.int64).max)

    def at(self, ids: np.ndarray, ts: np.ndarray) -> np.ndarray:
        """The row of the version of each ID valid at ``ts``, or -1."""
        if not len(ids) or not len(self.ids):
            return np.full(len(ids), -1, np.int64)
        t0 = min(int(self.start.min()), int(ts.min()))
        span = max(int(self.start.max()), int(ts.max())) - t0 + 1
        idx = np.searchsorted(self.ids * span + (self.start - t0), ids * span + (ts - t0), "right")
        idx -= 1
        safe = np.maximum(idx, 0)
        ok = (idx >= 0) & (self.ids[safe] == ids) & (ts < self.end[safe])
        return np.where(ok, idx, -1)

    def rows(self, where: np.ndarray, names: list[str]) -> dict[tuple[int, int], tuple]:
        """(ID, ValidFrom) -> the row's dimension columns, for the rows ``where``."""
        sel = np.flatnonzero(where)
        data = self.t.select(names).take(pa.array(sel)).to_pylist()
        return {
            (int(self.ids[i]), int(self.start[i])): tuple(r[n] for n in names)
            for i, r in zip(sel, data, strict=True)
        }


@check(
    "scd2_versions",
    "dimensions/*_scd2: per ID, versions follow without overlap or gap; IsCurrent = open",
    needs=_V,
)
def scd2_versions(out: Output, f: Findings) -> None:
    for key in _V:
        v = Versions(out[key])
        f.examined(len(v.ids))
        same = np.r_[v.ids[1:] == v.ids[:-1], False]
        nxt = np.r_[v.start[1:], 0]
        current = v.t["IsCurrent"].to_numpy(zero_copy_only=False)
        open_ = v.end == np.iinfo(np.int64).max
        bad = (same & (v.end != nxt)) | (v.end <= v.start) | (current != open_) | (same & open_)
        rows = np.flatnonzero(bad)
        f.add(
            len(rows),
            (
                f"{key} ID {v.ids[i]}: version from {iso(int(v.start[i]))} "
                f"to {'open' if open_[i] else iso(int(v.end[i]))}, IsCurrent {current[i]}, "
                f"next from {iso(int(nxt[i])) if same[i] else '-'}"
                for i in rows
            ),
        )


_JOINS = (  # (fact, column, dimension, only rows where)
    ("receipt_lines", "ProductID", "products_master", None),
    ("online_orders", "ProductID", "products_master", ("Status", "CREATED")),
    ("online_orders", "CustomerID", "customers", ("Status", "CREATED")),
    ("receipts", "CustomerID", "customers", None),
    ("receipts", "StoreID", "stores", None),
    ("foot_traffic", "StoreID", "stores", None),
    ("ble_pings", "StoreID", "stores", None),
)


@check(
    "scd2_facts",
    "facts join to the dimension version valid at their EventTS; lines sell at its price",
    needs=_V,
)
def scd2_facts(out: Output, f: Findings) -> None:
    versions = {d: Versions(out[f"dimensions/{scd2_name(d)}"]) for d in DIMS}
    price_changes = _has_price_disruptions(out)
    for fact, col, dim, when in _JOINS:
        key = f"facts/{fact}"
        if not out.usable(key):
            continue
        t = out[key]
        if when is not None:
            t = t.filter(pc.equal(t[when[0]], when[1]))
        t = t.filter(pc.is_valid(t[col]))
        ids, ts = ints(t[col]), ms(t["EventTS"])
        v = versions[dim]
        pos = v.at(ids, ts)
        f.examined(len(ids))
        bad = np.flatnonzero(pos < 0)
        f.add(
            len(bad),
            (f"{fact}.{col} {ids[i]} at {iso(int(ts[i]))}: no {dim} version valid" for i in bad),
        )
        if fact == "receipt_lines" and not price_changes:
            full = pc.is_null(t["PromoCode"]).to_numpy(zero_copy_only=False) & (pos >= 0)
            paid, listed = cents(t["UnitPrice"]), cents(v.t["SalePrice"])[np.maximum(pos, 0)]
            wrong = np.flatnonzero(full & (paid != listed))
            f.add(
                len(wrong),
                (
                    f"receipt_lines ProductID {ids[i]} at {iso(int(ts[i]))}: UnitPrice "
                    f"{money(int(paid[i]))}, the version's SalePrice {money(int(listed[i]))}"
                    for i in wrong
                ),
            )
    if price_changes:
        f.notes.append("prices not compared: the scenario has price_change disruptions")


def _has_price_disruptions(out: Output) -> bool:
    try:
        state = json.loads((out.root / "generation_state.json").read_text())
    except (OSError, ValueError):
        return False
    kinds = {d.get("kind") for d in state.get("settings", {}).get("disruptions", [])}
    return "price_change" in kinds


@check(
    "cdc_replay",
    "facts/*_cdc replayed on the first versions gives every version and the current rows",
    needs=_V,
)
def cdc_replay(out: Output, f: Findings) -> None:
    for dim in DIMS:
        feed_key = f"facts/{cdc_name(dim)}"
        if not out.usable(feed_key) or out[feed_key].num_rows == 0:
            continue
        feed = out[feed_key]
        feed = feed.take(pa.array(np.lexsort((ints(feed["ID"]), ms(feed["EventTS"])))))
        f.examined(feed.num_rows)
        v = Versions(out[f"dimensions/{scd2_name(dim)}"])
        names = TABLES[dim].names
        touched = np.isin(v.ids, ints(feed["ID"]))
        versions = v.rows(touched, names)
        rows = {k[0]: r for k, r in v.rows(touched & (v.start == v.start.min()), names).items()}
        problems = _replay(feed_key, feed, names, rows, versions)
        current = v.t["IsCurrent"].to_numpy(zero_copy_only=False)
        final = {k[0]: r for k, r in v.rows(touched & current, names).items()}
        if final != rows:
            diff = {k for k in set(final) | set(rows) if final.get(k) != rows.get(k)}
            problems.append(f"{dim}: the replay differs from the current versions of IDs "
                            f"{sorted(diff)[:5]}")  # fmt: skip
        counts = np.bincount(v.ids[~touched])
        if (counts > 1).any():
            problems.append(f"{dim}: IDs {np.flatnonzero(counts > 1)[:5].tolist()} have "
                            "several versions but no change in the feed")  # fmt: skip
        f.add(len(problems), problems)


def _replay(
    key: str,
    feed: pa.Table,
    names: list[str],
    rows: dict[int, tuple],
    versions: dict[tuple[int, int], tuple],
) -> list[str]:
    """Apply ``feed`` to ``rows`` (ID -> row) in place; what does not fit."""
    problems: list[str] = []
    ts = ms(feed["EventTS"])
    after = feed.select(names).to_pylist()
    before = feed.select(["Before" + n for n in names[1:]]).to_pylist()
    for k, op in enumerate(feed["Op"].to_pylist()):
        i = after[k]["ID"]
        img = (i, *(after[k][n] for n in names[1:]))
        was = (i, *(before[k]["Before" + n] for n in names[1:]))
        when = iso(int(ts[k]))
        if op == "c" and i in rows:
            problems.append(f"{key}: c of ID {i} at {when}, which exists")
        elif op != "c" and i not in rows:
            problems.append(f"{key}: {op} of ID {i} at {when}, which does not exist")
        elif op != "c" and rows[i] != was:
            problems.append(f"{key}: the before image of ID {i} at {when} is not its row")
        if op == "d":
            rows.pop(i, None)
        else:
            rows[i] = img
            if versions.get((i, int(ts[k]))) != img:
                problems.append(f"{key}: ID {i} at {when} is not the version from then")
    return problems
