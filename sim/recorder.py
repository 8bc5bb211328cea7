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

WRITER_THREADS = 2
TABLE_CODES = {name: i for i, name in enumerate(TABLES)}
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

    def ms(self, t: np.ndarray | float) -> np.ndarray:
        """Sim seconds to epoch milliseconds."""
        return self.t0_ms + np.round(np.asarray(t, dtype=np.float64) * 1000).astype(np.int64)

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
                (t[late], key[late], {c: _take(v, late) for c, v in cols.items()})
            )
            keep = ~late
            t, key, cols = t[keep], key[keep], {c: _take(v, keep) for c, v in cols.items()}
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


class FileRecorder(Recorder):
    """Fast-forward: buffers per table, one partition file per table and day.

    A day's files are built and written by background threads (one table each) while the
    next day simulates (pyarrow and numpy release the GIL for most of it); at most one
    day waits, so memory stays bounded. :meth:`close` waits for the last one.
    """

    flush_every = 86400.0

    def __init__(self, seed: int, shard: int, t0_ms: int, root: Path, fmt: str) -> None:
        super().__init__(seed, shard, t0_ms)
        self.root, self.fmt = root, fmt
        self._chunks: dict[str, list[Chunk]] = {}
        self._pool = ThreadPoolExecutor(WRITER_THREADS, thread_name_prefix="partition-writer")
        self._pending: list[Future[None]] = []

    def wants(self, table: str) -> bool:
        return TABLES[table].kind == "fact"

    def emit(self, table: str, ms: np.ndarray, key: np.ndarray, cols: dict[str, Any]) -> None:
        self._chunks.setdefault(table, []).append((ms, key, cols))

    def end_day(self) -> dict[str, int]:
        """Hand the day's rows to the writer thread; return rows per table."""
        chunks, self._chunks = self._chunks, {}
        self.wait()
        by_size = sorted(chunks.items(), key=lambda kv: -sum(len(c[0]) for c in kv[1]))
        self._pending = [
            self._pool.submit(self._write_table, self.day, table, parts) for table, parts in by_size
        ]
        return {t: sum(len(c[0]) for c in cs) for t, cs in sorted(chunks.items())}

    def _write_table(self, day: date, table: str, parts: list[Chunk]) -> None:
        """Write one table's partition: rows by time, ties by key."""
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
        pending, self._pending = self._pending, []
        for f in pending:
            f.result()

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


def _take(v: Any, index: np.ndarray) -> Any:
    """Rows ``index`` (positions or a mask) of a column given as Arrow or numpy."""
    if isinstance(v, pa.ChunkedArray):
        v = v.combine_chunks()
    if isinstance(v, pa.Array):
        return v.filter(pa.array(index)) if index.dtype == bool else v.take(pa.array(index))
    return np.asarray(v, dtype=object if isinstance(v, list) else None)[index]
