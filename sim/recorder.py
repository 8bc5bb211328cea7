"""The one interface every process reports through, and the fast-forward recorder.

A process calls :meth:`Recorder.record` with a table name, event times, natural keys
and columns; it never knows whether the rows go to files or to a stream. The recorder
gives each row its ``TraceId`` from (table, shard, business day, key) and the seed, so
the same fact has the same id in files and in events.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sim.columns import to_arrow
from sim.ids import trace_ids
from sim.schema import TABLES
from sim.world import day_number
from sim.writer import partition_path, write_table

TABLE_CODES = {name: i for i, name in enumerate(TABLES)}


class Recorder:
    """Base recorder: turns recorded columns into Arrow tables with trace ids.

    ``flush_every`` is how often (sim seconds) processes hand over what is complete:
    a stream wants rows soon after they happen, files only once a day.
    """

    flush_every: float = 900.0

    def __init__(self, seed: int, shard: int, t0_ms: int) -> None:
        self.seed, self.shard, self.t0_ms = seed, shard, t0_ms
        self.day = date(2000, 1, 1)

    def start_day(self, day: date) -> None:
        self.day = day

    def wants(self, table: str) -> bool:
        """Whether rows of ``table`` are kept; processes may skip building the others."""
        return True

    def ms(self, t: np.ndarray | float) -> np.ndarray:
        """Sim seconds to epoch milliseconds."""
        return self.t0_ms + np.round(np.asarray(t, dtype=np.float64) * 1000).astype(np.int64)

    def record(self, table: str, t: np.ndarray, key: np.ndarray, cols: dict[str, Any]) -> None:
        """Rows of ``table`` that happened at sim times ``t``.

        ``key`` identifies each row within (table, shard, business day).
        """
        if len(t) == 0 or not self.wants(table):
            return
        ids = trace_ids(self.seed, TABLE_CODES[table], self.shard, day_number(self.day), key)
        self.emit(table, to_arrow(TABLES[table], {"TraceId": ids, "EventTS": self.ms(t), **cols}))

    def emit(self, table: str, rows: pa.Table) -> None:
        raise NotImplementedError


class FileRecorder(Recorder):
    """Fast-forward: columnar buffers per table, one partition file per table and day."""

    def __init__(self, seed: int, shard: int, t0_ms: int, root: Path, fmt: str) -> None:
        super().__init__(seed, shard, t0_ms)
        self.root, self.fmt = root, fmt
        self._chunks: dict[str, list[pa.Table]] = {}

    flush_every = 86400.0

    def wants(self, table: str) -> bool:
        return TABLES[table].kind == "fact"

    def emit(self, table: str, rows: pa.Table) -> None:
        self._chunks.setdefault(table, []).append(rows)

    def end_day(self) -> dict[str, int]:
        """Write the day's partitions (by time, ties by TraceId); return rows per table."""
        counts = {}
        for table, chunks in sorted(self._chunks.items()):
            t = pa.concat_tables(chunks)
            t = t.take(pc.sort_indices(t, [("EventTS", "ascending"), ("TraceId", "ascending")]))
            write_table(t, partition_path(self.root, table, self.day, self.shard), self.fmt)
            counts[table] = t.num_rows
        self._chunks = {}
        return counts
