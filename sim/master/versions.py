"""Master data through time: the day's view the world reads, the change feed, SCD2 versions.

A :class:`Timeline` replays :class:`~sim.master.changes.ChangeState` from the output's
first day (which has no changes: the master data is its first version). For a business
day it gives a :class:`DayView`: the everyday prices, which products are on sale, which
stores trade, and the day's change-feed rows (``<dim>_cdc``, every column but
``TraceId`` and ``EventTS``). :meth:`Timeline.scd2` builds the ``<dim>_scd2`` tables.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sim.config.calendar import day_start
from sim.config.scenario import Scenario
from sim.contract.columns import money, timestamps
from sim.contract.scd import KEYS, cdc_name, scd2_name
from sim.contract.schema import TABLES
from sim.master.changes import DIMS, LIVE, Change, ChangeState

_EPOCH = date(1970, 1, 1)
_Y2K = date(2000, 1, 1)
REPORTING_DC = 1  # chain-wide changes (products) are reported by the first DC's shard


def day_ms(d: date) -> int:
    """Epoch ms of the start of business day ``d``: when its changes take effect."""
    return int(day_start(d).timestamp() * 1000)


@dataclass(frozen=True)
class DayView:
    """The master data of one business day, as the world reads it."""

    day: date
    price: np.ndarray  # everyday price in cents by product ID
    sellable: np.ndarray  # bool by product ID
    trading: np.ndarray  # bool by store ID
    feeds: dict[str, dict[str, pa.Array]]  # <dim>_cdc -> the day's rows, by column


def _arrow(col: str, v: np.ndarray) -> pa.Array:
    """A changeable column's values as the dimension's Arrow type."""
    if col in ("Cost", "MSRP", "SalePrice"):
        return money(v.astype(np.int64))
    if col == "LaunchDate":
        return pa.array(v.astype(np.int32), pa.int32()).cast(pa.date32())
    if col == "GeographyID":
        return pa.array(v.astype(np.int64), pa.int64())
    return pa.array(list(v), pa.string())


class Timeline:
    """The changing master data of an output folder, replayed from its first day."""

    def __init__(self, sc: Scenario, master: dict[str, pa.Table], first_day: date) -> None:
        if sc.master_changes is None:
            raise ValueError("master_changes is off")
        self.seed, self.rates = sc.seed, sc.master_changes
        self.base = {d: master[d].combine_chunks() for d in DIMS}
        self.master = master
        self.first_day = first_day
        self._reset()

    def _reset(self) -> None:
        self.state = ChangeState.start(self.seed, self.rates, self.master)
        self.next = self.first_day + timedelta(days=1)
        ms = day_ms(self.first_day)
        live = {
            "customers": np.ones(len(self.state.geography), bool),
            "products_master": self.state.product == LIVE,
            "stores": self.state.store == LIVE,
        }
        self.versions: dict[str, list[tuple[np.ndarray, int, dict[str, np.ndarray]]]] = {}
        self.deleted: dict[str, list[tuple[np.ndarray, int]]] = {d: [] for d in DIMS}
        for d in DIMS:
            ids = np.flatnonzero(live[d]) + 1
            self.versions[d] = [(ids, ms, self.state.values(d, ids))]
        self.today: list[Change] = []

    def day(self, d: date) -> DayView:
        """Business day ``d`` after its changes (replayed from the first day as needed)."""
        if d < self.first_day:
            raise ValueError(f"{d} is before the first day {self.first_day}")
        if d < self.next - timedelta(days=1):
            self._reset()
        if d == self.first_day:
            self.today = []
        while self.next <= d:
            self.today = self._apply(self.next)
            self.next += timedelta(days=1)
        s = self.state
        feeds = {cdc_name(c.dim): self._feed(c) for c in self.today}
        return DayView(d, s.price(), s.sellable(), s.trading(), feeds)

    def _apply(self, d: date) -> list[Change]:
        changes = self.state.step((d - _Y2K).days, (d - _EPOCH).days)
        ms = day_ms(d)
        for c in changes:
            made = c.op != "d"
            if made.any():
                ids = c.ids[made]
                self.versions[c.dim].append((ids, ms, {k: v[made] for k, v in c.after.items()}))
            if (~made).any():
                self.deleted[c.dim].append((c.ids[~made], ms))
        return changes

    # -- tables -------------------------------------------------------------------------
    def image(self, dim: str, ids: np.ndarray, values: dict[str, np.ndarray]) -> pa.Table:
        """Rows ``ids`` of dimension ``dim`` with the changeable columns set to ``values``."""
        t = self.base[dim].take(pa.array(ids - 1, pa.int64()))
        for col, v in values.items():
            t = t.set_column(t.schema.get_field_index(col), col, _arrow(col, v))
        return t

    def _feed(self, c: Change) -> dict[str, pa.Array]:
        """The change-feed columns of ``c``'s rows (all but TraceId and EventTS)."""
        after, before = self.image(c.dim, c.ids, c.after), self.image(c.dim, c.ids, c.before)
        created, deleted = pa.array(c.op == "c"), pa.array(c.op == "d")
        cols: dict[str, pa.Array] = {
            "Op": pa.array(list(c.op), pa.string()),
            "Status": pa.array(list(c.status), pa.string()),
            "ID": pa.array(c.ids, pa.int64()),
        }
        names = [n for n in TABLES[c.dim].names if n != "ID"]
        for n in names:
            a = after[n].combine_chunks()
            cols[n] = pc.if_else(deleted, pa.nulls(len(a), a.type), a)
        for n in names:
            b = before[n].combine_chunks()
            cols["Before" + n] = pc.if_else(created, pa.nulls(len(b), b.type), b)
        if KEYS[c.dim] == "DCID":
            cols["DCID"] = pa.array(np.full(len(c), REPORTING_DC, np.int64))
        return cols

    def scd2(self) -> dict[str, pa.Table]:
        """``<dim>_scd2`` for the days replayed so far: one row per version."""
        out = {}
        for d in DIMS:
            parts = self.versions[d]
            ids = np.concatenate([p[0] for p in parts])
            start = np.concatenate([np.full(len(p[0]), p[1], np.int64) for p in parts])
            names = list(parts[0][2])
            values = {k: np.concatenate([p[2][k] for p in parts]) for k in names}
            order = np.lexsort((start, ids))
            ids, start = ids[order], start[order]
            gone = np.full(len(self.base[d]) + 1, -1, np.int64)
            for g, ms in self.deleted[d]:
                gone[g] = ms
            last = np.r_[ids[1:] != ids[:-1], True]
            end = np.where(last, gone[ids], np.r_[start[1:], 0])
            t = self.image(d, ids, {k: v[order] for k, v in values.items()})
            spec = TABLES[scd2_name(d)]
            valid_to = timestamps(np.maximum(end, 0))
            valid_to = pc.if_else(pa.array(end < 0), pa.nulls(len(end), valid_to.type), valid_to)
            t = t.append_column("ValidFrom", timestamps(start))
            t = t.append_column("ValidTo", valid_to).append_column("IsCurrent", pa.array(end < 0))
            out[spec.name] = t.cast(spec.arrow_schema())
        return out


def timeline_for(sc: Scenario, master: dict[str, pa.Table], first_day: date) -> Timeline | None:
    """The scenario's :class:`Timeline`, or None when its master data does not change."""
    return Timeline(sc, master, first_day) if sc.master_changes is not None else None
