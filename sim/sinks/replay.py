"""`replay-dlq`: resend dead-lettered events; keep only those that fail again.

Each dead-letter file is first claimed (renamed to `.<name>.replaying` under its lock) so
a simulation still appending dead letters writes to a fresh file meanwhile. After the
sink's flush, the file is rewritten atomically (temporary file + rename, under its lock)
with whatever was appended meanwhile plus the events that failed again (reason, attempts
and time updated); then the claim is removed. A replay that crashes leaves the claim
behind, and the next replay picks it up: events may be resent, never lost.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sim.sinks.base import OutEvent, Sink
from sim.sinks.deadletter import (
    DeadLetterRecord,
    DeadLetterStore,
    encode_record,
    iso_utc,
    locked,
    read_lines,
    utc_now,
)

_LOG = logging.getLogger("sim.sinks.replay")
_CLAIM_SUFFIX = ".replaying"


@dataclass(frozen=True, slots=True)
class ReplayReport:
    """What a replay did. `still_failed` events remain in the dead-letter store."""

    files: int
    replayed: int
    delivered: int
    still_failed: int
    unreadable: int


class _FailureCollector:
    """Stands in for a sink's dead-letter writer during a replay."""

    def __init__(self) -> None:
        self.failed: dict[int, tuple[str, int]] = {}

    def write(self, events: Sequence[OutEvent], reason: str, attempts: int) -> None:
        for event in events:
            self.failed[id(event)] = (reason, attempts)


def _innermost(sink: Any) -> Any:
    while hasattr(sink, "inner"):  # e.g. EventTypeFilter: replay everything, unfiltered
        sink = sink.inner
    return sink


def _claim_name(path: Path) -> Path:
    return path.with_name(f".{path.name}{_CLAIM_SUFFIX}")


def _original_name(claim: Path) -> Path:
    return claim.with_name(claim.name[1 : -len(_CLAIM_SUFFIX)])


def _claim(path: Path) -> Path:
    claim = _claim_name(path)
    with locked(path):
        if claim.exists():  # an earlier replay crashed: merge its claim with this file
            data = claim.read_bytes() + path.read_bytes()
            tmp = claim.with_name(claim.name + ".tmp")
            tmp.write_bytes(data)
            os.replace(tmp, claim)
            path.unlink()
        else:
            os.replace(path, claim)
    return claim


def _put_back(path: Path, lines: list[bytes], claim: Path) -> None:
    """Atomically set `path` to its current content plus `lines`, then drop the claim."""
    with locked(path) as handle:
        current = path.read_bytes()
        if lines:
            tmp = path.with_name(f".{path.name}.tmp")
            tmp.write_bytes(current + b"".join(lines))
            os.replace(tmp, path)
        elif not current:
            path.unlink()
        handle.flush()
    claim.unlink(missing_ok=True)


async def replay_dead_letters(output_dir: Path, sink: Sink) -> ReplayReport:
    """Resend every dead-lettered event under `output_dir` through `sink`.

    The sink is started if needed and flushed, not closed. Delivered events leave the
    store; events the sink dead-letters again stay, with their new reason.
    """
    store = DeadLetterStore(Path(output_dir))
    target = _innermost(sink)
    await target.start()
    claims = sorted(store.directory.glob(f".*{_CLAIM_SUFFIX}")) if store.directory.is_dir() else []
    paths = sorted(set(store.files()) | {_original_name(c) for c in claims})
    files = replayed = failed_total = unreadable = 0
    for path in paths:
        claim = _claim(path) if path.exists() else _claim_name(path)
        entries = read_lines(claim)
        records: list[DeadLetterRecord] = [r for _, r in entries if r is not None]
        collector = _FailureCollector()
        has_writer = hasattr(target, "dead_letter")
        original = getattr(target, "dead_letter", None)
        if has_writer:
            target.dead_letter = collector
        try:
            if records:
                await target.send([r.event for r in records])
            await target.flush()
        except BaseException:
            _put_back(path, [line for line, _ in entries], claim)
            raise
        finally:
            if has_writer:
                target.dead_letter = original
        now = iso_utc(utc_now())
        keep = [line + b"\n" for line, record in entries if record is None]
        for record in records:
            outcome = collector.failed.get(id(record.event))
            if outcome is not None:
                reason, attempts = outcome
                keep.append(encode_record(record.event, reason, record.attempts + attempts, now))
        _put_back(path, keep, claim)
        files += 1
        replayed += len(records)
        failed_total += len(keep) - (len(entries) - len(records))
        unreadable += len(entries) - len(records)
    report = ReplayReport(
        files=files,
        replayed=replayed,
        delivered=replayed - failed_total,
        still_failed=failed_total,
        unreadable=unreadable,
    )
    _LOG.info(
        "replayed %d dead-lettered event(s) from %d file(s): %d delivered, %d still failing",
        report.replayed,
        report.files,
        report.delivered,
        report.still_failed,
    )
    return report
