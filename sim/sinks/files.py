"""Sinks that write one event per line: to a JSON-lines file, or to standard output."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO

from sim.sinks.base import OutEvent, SinkMetrics

_BUFFER = 1 << 20


class _LineSink:
    """Writes each event body followed by a newline; bodies are written unchanged."""

    def __init__(self) -> None:
        self.metrics = SinkMetrics()
        self._out: BinaryIO | None = None

    async def start(self) -> None:
        if self._out is None:
            self._out = self._open()

    def _open(self) -> BinaryIO:
        raise NotImplementedError

    async def send(self, events: Sequence[OutEvent]) -> None:
        if self._out is None:
            raise RuntimeError(f"{type(self).__name__}.send() needs start() and precedes close()")
        if not events:
            return
        data = b"\n".join(e.body for e in events) + b"\n"
        self._out.write(data)
        m = self.metrics
        m.events_sent += len(events)
        m.bytes_sent += len(data) - len(events)
        m.batches += 1

    async def flush(self) -> None:
        if self._out is not None:
            self._out.flush()

    async def close(self) -> None:
        if self._out is not None:
            self._out.flush()
            self._release(self._out)
            self._out = None

    def stop(self, now: bool = False) -> None:
        """Writes never wait on a remote: nothing to stop."""

    def _release(self, out: BinaryIO) -> None:
        out.close()


class JsonlSink(_LineSink):
    """Appends events to a JSON-lines file (created with its directory if needed)."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = Path(path)

    def _open(self) -> BinaryIO:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        _drop_partial_line(self.path)
        return open(self.path, "ab", buffering=_BUFFER)  # noqa: SIM115 - closed by close()


def _drop_partial_line(path: Path) -> None:
    """A killed run can leave half a line at the end of the file: cut it off, so the
    next run's first event starts a line of its own (that event is re-sent anyway)."""
    if not path.exists() or path.stat().st_size == 0:
        return
    with open(path, "rb+") as f:
        f.seek(-1, 2)
        if f.read(1) == b"\n":
            return
        size = f.seek(0, 2)
        step = 1 << 16
        pos = size
        while pos > 0:
            pos = max(0, pos - step)
            f.seek(pos)
            chunk = f.read(min(step, size - pos))
            cut = chunk.rfind(b"\n")
            if cut >= 0:
                f.truncate(pos + cut + 1)
                return
        f.truncate(0)


class StdoutSink(_LineSink):
    """Writes events to `sys.stdout.buffer` (or the binary stream given)."""

    def __init__(self, stream: BinaryIO | None = None) -> None:
        super().__init__()
        self._stream = stream

    def _open(self) -> BinaryIO:
        return self._stream if self._stream is not None else sys.stdout.buffer

    def _release(self, out: BinaryIO) -> None:
        """Standard output stays open."""
