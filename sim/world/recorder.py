"""The one interface every process reports through.

A process calls :meth:`Recorder.record` with a table name, event times, natural keys
and columns; it never knows whether the rows go to files or to a stream. The recorder
gives each row its ``TraceId`` from (table, shard, business day, key) and the seed, so
the same fact has the same id in files and in events.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import numpy as np
import pyarrow as pa

from sim.contract.columns import to_arrow
from sim.contract.ids import trace_ids
from sim.contract.schema import TABLES, TableCode
from sim.world.model import day_number

TABLE_CODES = {c.name: int(c) for c in TableCode}  # explicit, never renumbered
Chunk = tuple[np.ndarray, np.ndarray, dict[str, Any]]


class Recorder:
    """Base recorder: turns recorded columns into Arrow tables with trace ids.

    ``flush_every`` is how often (sim seconds) processes hand over what is complete:
    a stream wants rows soon after they happen, files only once a day.
    """

    flush_every: float = 900.0

    def __init__(self, seed: int, shard: int, t0_ms: int) -> None:
        self.seed, self.shard, self.t0_ms = seed, shard, t0_ms
        self.day = date(2000, 1, 1)
        self.day_end = float("inf")
        self.deferred: dict[str, list[Chunk]] = {}

    def start_day(self, day: date, day_end: float, deferred: dict[str, list[Chunk]]) -> None:
        """Begin business day ``day`` (ending at sim time ``day_end``); record the rows
        of earlier days that were dated into it."""
        self.day, self.day_end = day, day_end
        self.deferred = {}
        for table, chunks in sorted(deferred.items()):
            for t, key, cols in chunks:
                self.record(table, t, key, cols)

    def wants(self, table: str) -> bool:
        """Whether rows of ``table`` are kept; processes may skip building the others."""
        return True

    def next_flush(self, now: float) -> float:
        """The sim time after ``now`` at which processes next hand over their rows."""
        return now + self.flush_every

    def ms(self, t: np.ndarray | float) -> np.ndarray:
        """Sim seconds to epoch milliseconds."""
        return self.t0_ms + sim_ms(t)

    def record(self, table: str, t: np.ndarray, key: np.ndarray, cols: dict[str, Any]) -> None:
        """Rows of ``table`` that happened at sim times ``t``.

        ``key`` identifies each row within (table, shard, business day).
        """
        if len(t) == 0 or not self.wants(table):
            return
        t, key = np.asarray(t, dtype=np.float64), np.asarray(key, dtype=np.int64)
        late = t >= self.day_end
        if late.any():  # belongs to a later business day: keep it for then
            self.deferred.setdefault(table, []).append(
                (t[late], key[late], {c: take(v, late) for c, v in cols.items()})
            )
            keep = ~late
            t, key, cols = t[keep], key[keep], {c: take(v, keep) for c, v in cols.items()}
            if not len(t):
                return
        self.emit(table, self.ms(t), key, cols)

    def emit(self, table: str, ms: np.ndarray, key: np.ndarray, cols: dict[str, Any]) -> None:
        """Take rows: times in epoch ms, keys, and the other columns."""
        raise NotImplementedError

    def build(
        self, day: date, table: str, ms: np.ndarray, key: np.ndarray, cols: dict[str, Any]
    ) -> pa.Table:
        """Rows of business day ``day`` as an Arrow table of the schema, with TraceIds."""
        ids = trace_ids(self.seed, TABLE_CODES[table], self.shard, day_number(day), key)
        return to_arrow(TABLES[table], {"TraceId": ids, "EventTS": ms, **cols})


def sim_ms(t: np.ndarray | float) -> np.ndarray:
    """Sim seconds to the whole milliseconds every recorded time is written with."""
    return np.round(np.asarray(t, dtype=np.float64) * 1000).astype(np.int64)


def take(v: Any, index: np.ndarray) -> Any:
    """Rows ``index`` (positions or a mask) of a column given as Arrow or numpy."""
    if isinstance(v, pa.ChunkedArray):
        v = v.combine_chunks()
    if isinstance(v, pa.Array):
        return v.filter(pa.array(index)) if index.dtype == bool else v.take(pa.array(index))
    return np.asarray(v, dtype=object if isinstance(v, list) else None)[index]
