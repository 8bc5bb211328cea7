"""The one interface every process reports through, and the fast-forward recorder.

A process calls :meth:`Recorder.record` with a table name, event times, natural keys
and columns; it never knows whether the rows go to files or to a stream. The recorder
gives each row its ``TraceId`` from (table, shard, business day, key) and the seed, so
the same fact has the same id in files and in events.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

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
        self.emit(table, self.ms(t), np.asarray(key, dtype=np.int64), cols)

    def emit(self, table: str, ms: np.ndarray, key: np.ndarray, cols: dict[str, Any]) -> None:
        """Take rows: times in epoch ms, keys, and the other columns."""
        raise NotImplementedError

    def build(
        self, day: date, table: str, ms: np.ndarray, key: np.ndarray, cols: dict[str, Any]
    ) -> pa.Table:
        """Rows of business day ``day`` as an Arrow table of the schema, with TraceIds."""
        ids = trace_ids(self.seed, TABLE_CODES[table], self.shard, day_number(day), key)
        return to_arrow(TABLES[table], {"TraceId": ids, "EventTS": ms, **cols})


Chunk = tuple[np.ndarray, np.ndarray, dict[str, Any]]


class FileRecorder(Recorder):
    """Fast-forward: buffers per table, one partition file per table and day.

    A day's files are built and written by one background thread while the next day
    simulates (pyarrow and numpy release the GIL for most of it); at most one day waits,
    so memory stays bounded. :meth:`close` waits for the last one.
    """

    flush_every = 86400.0

    def __init__(self, seed: int, shard: int, t0_ms: int, root: Path, fmt: str) -> None:
        super().__init__(seed, shard, t0_ms)
        self.root, self.fmt = root, fmt
        self._chunks: dict[str, list[Chunk]] = {}
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="partition-writer")
        self._pending: Future[None] | None = None

    def wants(self, table: str) -> bool:
        return TABLES[table].kind == "fact"

    def emit(self, table: str, ms: np.ndarray, key: np.ndarray, cols: dict[str, Any]) -> None:
        self._chunks.setdefault(table, []).append((ms, key, cols))

    def end_day(self) -> dict[str, int]:
        """Hand the day's rows to the writer thread; return rows per table."""
        chunks, self._chunks = self._chunks, {}
        self.wait()
        self._pending = self._pool.submit(self._write_day, self.day, chunks)
        return {t: sum(len(c[0]) for c in cs) for t, cs in sorted(chunks.items())}

    def _write_day(self, day: date, chunks: dict[str, list[Chunk]]) -> None:
        """Write each table's partition: rows by time, ties by key."""
        for table, parts in sorted(chunks.items()):
            ms = np.concatenate([p[0] for p in parts])
            key = np.concatenate([p[1] for p in parts])
            cols = {c: _concat([p[2][c] for p in parts]) for c in parts[0][2]}
            order = np.lexsort((key, ms))
            rows = self.build(
                day, table, ms[order], key[order], {c: _take(v, order) for c, v in cols.items()}
            )
            write_table(rows, partition_path(self.root, table, day, self.shard), self.fmt)

    def wait(self) -> None:
        """Block until the day being written is on disk (re-raising its error)."""
        if self._pending is not None:
            self._pending.result()
            self._pending = None

    def close(self) -> None:
        self.wait()
        self._pool.shutdown()


def _concat(values: list[Any]) -> Any:
    if isinstance(values[0], pa.Array | pa.ChunkedArray):
        return pa.chunked_array(
            [v if isinstance(v, pa.Array) else v.combine_chunks() for v in values]
        ).combine_chunks()
    if isinstance(values[0], np.ndarray):
        return np.concatenate(values)
    return np.concatenate([np.asarray(v, dtype=object) for v in values])


def _take(v: Any, order: np.ndarray) -> Any:
    return v.take(pa.array(order)) if isinstance(v, pa.Array) else np.asarray(v)[order]
