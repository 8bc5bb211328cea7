"""The fast-forward recorder: columnar buffers per table, one partition file per table and day."""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from sim.contract.schema import TABLES
from sim.contract.writer import partition_path, write_table
from sim.run.lake import fact_target
from sim.world.recorder import Chunk, Recorder, take

WRITER_THREADS = 2


class FileRecorder(Recorder):
    """Fast-forward: buffers per table, one partition file per table and day.

    A day's files are built and written by background threads (one table each) while the
    next day simulates (pyarrow and numpy release the GIL for most of it); at most one
    day waits, so memory stays bounded. :meth:`close` waits for the last one.
    """

    flush_every = 86400.0

    def __init__(self, seed: int, shard: int, t0_ms: int, root: Path, fmt: str) -> None:
        super().__init__(seed, shard, t0_ms)
        self.root, self.fmt = fact_target(root, fmt)  # Delta: staged, see sim.run.lake
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
        rows = self.day_rows(day, table, parts)
        write_table(rows, partition_path(self.root, table, day, self.shard), self.fmt)

    def day_rows(self, day: date, table: str, parts: list[Chunk]) -> pa.Table:
        """One table's rows of ``day``, as its partition file holds them."""
        ms, key, cols = merge(parts)
        order = np.lexsort((key, ms))
        return self.build(
            day, table, ms[order], key[order], {c: take(v, order) for c, v in cols.items()}
        )

    def wait(self) -> None:
        """Block until the day being written is on disk (re-raising its error)."""
        pending, self._pending = self._pending, []
        for f in pending:
            f.result()

    def close(self) -> None:
        self.wait()
        self._pool.shutdown()


def merge(parts: list[Chunk]) -> Chunk:
    """Chunks of one table's rows as one chunk, in the order given."""
    if len(parts) == 1:
        return parts[0]
    ms = np.concatenate([p[0] for p in parts])
    key = np.concatenate([p[1] for p in parts])
    return ms, key, {c: _concat([p[2][c] for p in parts]) for c in parts[0][2]}


def _concat(values: list[Any]) -> Any:
    if isinstance(values[0], pa.Array | pa.ChunkedArray):
        return pa.chunked_array(
            [v if isinstance(v, pa.Array) else v.combine_chunks() for v in values]
        ).combine_chunks()
    if isinstance(values[0], np.ndarray):
        return np.concatenate(values)
    return np.concatenate([np.asarray(v, dtype=object) for v in values])
