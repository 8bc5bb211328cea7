"""The dead-letter store: events a sink could not deliver, kept for `replay-dlq`.

Layout: `<output_dir>/dead_letter/<UTC date>.jsonl`, append-only, one JSON object a line:
`{"reason", "failed_at", "attempts", "event_type", "partition_key", "trace_id", "message_id",
"schema_version", "content_type", "body"}` (lines without `message_id`,
`schema_version`, `content_type` are read with the defaults of `OutEvent`)
where `body` is the event envelope as a JSON object (`body_base64` replaces it when the
body is not JSON). Appends and the replay rewrite take an exclusive `flock` on the file
(on POSIX), so a replay may run while a simulation is still writing.
"""

from __future__ import annotations

import base64
import contextlib
import logging
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import orjson

from sim.config.secrets import redact
from sim.sinks.base import JSON_CONTENT_TYPE, OutEvent

try:
    import fcntl
except ImportError:  # Windows: no cross-process locking
    fcntl = None  # type: ignore[assignment]

_LOG = logging.getLogger("sim.sinks.deadletter")
DIRNAME = "dead_letter"


def utc_now() -> datetime:
    return datetime.now(UTC)


def iso_utc(ts: datetime) -> str:
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}Z"


@dataclass(frozen=True, slots=True)
class DeadLetterRecord:
    """One dead-lettered event as stored (`raw` is the line as read)."""

    reason: str
    failed_at: str
    attempts: int
    event: OutEvent
    raw: dict[str, Any]


def encode_record(event: OutEvent, reason: str, attempts: int, failed_at: str) -> bytes:
    """One dead-letter line (with its newline)."""
    record: dict[str, Any] = {
        "reason": redact(reason),
        "failed_at": failed_at,
        "attempts": attempts,
        "event_type": event.event_type,
        "partition_key": event.partition_key,
        "trace_id": event.trace_id,
        "message_id": event.message_id,
        "schema_version": event.schema_version,
        "content_type": event.content_type,
    }
    try:
        record["body"] = orjson.loads(event.body)
    except orjson.JSONDecodeError:
        record["body_base64"] = base64.b64encode(event.body).decode("ascii")
    return orjson.dumps(record) + b"\n"


def decode_record(line: bytes) -> DeadLetterRecord:
    """Parse one dead-letter line back into its event (body re-encoded compactly)."""
    raw = orjson.loads(line)
    if "body" in raw:
        body = orjson.dumps(raw["body"])
    else:
        body = base64.b64decode(raw["body_base64"])
    trace_id, event_type = str(raw["trace_id"]), str(raw["event_type"])
    message_id = str(raw.get("message_id", ""))
    event = OutEvent(
        partition_key=str(raw["partition_key"]),
        body=body,
        trace_id=trace_id,
        event_type=event_type,
        event_id="" if message_id == f"{trace_id}:{event_type}" else message_id,
        schema_version=int(raw.get("schema_version", 1)),
        content_type=str(raw.get("content_type", JSON_CONTENT_TYPE)),
    )
    return DeadLetterRecord(
        reason=str(raw.get("reason", "")),
        failed_at=str(raw.get("failed_at", "")),
        attempts=int(raw.get("attempts", 0)),
        event=event,
        raw=raw,
    )


@contextlib.contextmanager
def locked(path: Path, mode: str = "ab") -> Iterator[IO[bytes]]:
    """Open `path` with an exclusive lock on the very file the path names when locked."""
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        handle = open(path, mode)  # noqa: SIM115 - closed below
        if fcntl is None:
            break
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            same = os.fstat(handle.fileno()).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        handle.close()  # replaced while we waited for the lock: open the new file
    try:
        yield handle
    finally:
        handle.close()


class DeadLetterStore:
    """Append-only dead-letter files under `<output_dir>/dead_letter/`."""

    def __init__(self, output_dir: Path, clock: Callable[[], datetime] = utc_now) -> None:
        self.directory = Path(output_dir) / DIRNAME
        self._clock = clock
        self._lock = threading.Lock()

    def write(self, events: Sequence[OutEvent], reason: str, attempts: int) -> None:
        """Append `events` with a (redacted) reason; flushed to the OS before returning."""
        if not events:
            return
        now = self._clock()
        failed_at = iso_utc(now)
        data = b"".join(encode_record(e, reason, attempts, failed_at) for e in events)
        path = self.directory / f"{now.astimezone(UTC).date().isoformat()}.jsonl"
        with self._lock, locked(path) as handle:
            handle.write(data)
            handle.flush()
        _LOG.warning("dead-lettered %d event(s) to %s: %s", len(events), path.name, redact(reason))

    def files(self) -> list[Path]:
        """The dead-letter files, oldest first."""
        if not self.directory.is_dir():
            return []
        return sorted(p for p in self.directory.glob("*.jsonl") if p.is_file())

    def count(self) -> int:
        """Number of dead-lettered events currently stored."""
        total = 0
        for path in self.files():
            with open(path, "rb") as handle:
                total += sum(1 for line in handle if line.strip())
        return total


def read_lines(path: Path) -> list[tuple[bytes, DeadLetterRecord | None]]:
    """Every non-blank line of a dead-letter file with its record (None if unreadable)."""
    out: list[tuple[bytes, DeadLetterRecord | None]] = []
    for number, line in enumerate(path.read_bytes().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            out.append((line, decode_record(line)))
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            _LOG.error("%s line %d is not a dead-letter record (%s)", path.name, number, exc)
            out.append((line, None))
    return out
