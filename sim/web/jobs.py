"""Generation jobs: master data then history in a background thread, with the progress
fields the console shows (and the old generator's API reported)."""

from __future__ import annotations

import contextlib
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sim.config.clock import WallClock
from sim.config.secrets import redact
from sim.contract.schema import CHANGE_FEEDS, TABLES
from sim.errors import InputError
from sim.web import backend

FEEDS = {t.name for t in CHANGE_FEEDS}  # written only with master_changes
FACT_TABLES = sorted(n for n, t in TABLES.items() if t.kind == "fact" and n not in FEEDS)


class Cancelled(Exception):
    """Raised from the progress callback to stop a generation job."""


@dataclass
class Job:
    id: str
    kind: str
    status: str = "running"  # running | done | failed | cancelled
    started: float = field(default_factory=time.monotonic)
    started_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())
    shards: int = 0
    days_total: int = 0
    shard_days_done: int = 0
    first_day: str | None = None
    last_day: str | None = None
    master_written: bool = False
    rows: dict[str, int] = field(default_factory=dict)
    message: str = ""
    finished: float | None = None
    last_update: float = field(default_factory=time.time)
    cancel: threading.Event = field(default_factory=threading.Event)
    per_shard: dict[int, int] = field(default_factory=dict)

    def progress(self, shard: int, day: date, counts: dict[str, int]) -> None:
        if self.cancel.is_set():
            raise Cancelled()
        self.per_shard[shard] = self.per_shard.get(shard, 0) + 1
        self.shard_days_done += 1
        for k, v in counts.items():
            self.rows[k] = self.rows.get(k, 0) + v
        self.last_update = time.time()

    def view(self) -> dict[str, Any]:
        elapsed = (self.finished or time.monotonic()) - self.started
        total = self.shards * self.days_total
        done = self.shard_days_done
        rate = done / elapsed if elapsed > 0 else 0.0
        rows = sum(self.rows.values())
        remaining = (total - done) / rate if rate > 0 and self.status == "running" else None
        every_shard_done = total > 0 and done >= total
        tables = sorted(set(FACT_TABLES) | (FEEDS & set(self.rows)))  # feeds: if any rows
        return {
            "id": self.id,
            "kind": self.kind,
            "status": self.status,
            "message": self.message,
            "started_at": self.started_at,
            "elapsed_seconds": round(elapsed, 2),
            "first_day": self.first_day,
            "last_day": self.last_day,
            "master_written": self.master_written,
            "days_total": self.days_total,
            "days_done": min(self.per_shard.values(), default=0)
            if len(self.per_shard) == self.shards
            else 0,
            "shards": self.shards,
            "shard_days_done": done,
            "shard_days_total": total,
            "tables_total": len(tables),
            "tables_done": len(tables) if every_shard_done else 0,
            "tables_in_progress": [] if every_shard_done else sorted(self.rows),
            "rows": rows,
            "rows_by_table": dict(sorted(self.rows.items())),
            "rows_per_second": round(rows / elapsed, 1) if elapsed > 0 else 0.0,
            "progress_rate": round(rate, 3),
            "progress": round(done / total, 4) if total else (1.0 if self.finished else 0.0),
            "estimated_seconds_remaining": round(remaining, 1) if remaining is not None else None,
            "last_update_timestamp": datetime.fromtimestamp(self.last_update, UTC).isoformat(),
        }


class Jobs:
    """One job per output folder at a time; jobs run on after the page that started them."""

    def __init__(self, output: Path, scenario: Path, wall: WallClock) -> None:
        self.output, self.scenario, self.wall = output, scenario, wall
        self.current: Job | None = None
        self.history: list[Job] = []
        self.lock = threading.Lock()
        self.count = 0

    def busy(self) -> Job | None:
        with self.lock:
            return self.current if self.current and self.current.status == "running" else None

    def start(self, workers: int | None, master_only: bool, blocker: str | None) -> Job:
        """Start a generation job; raises backend.Busy naming what is running."""
        with self.lock:
            if self.current and self.current.status == "running":
                raise backend.Busy(f"job {self.current.id} ({self.current.kind}) is running")
            if blocker:
                raise backend.Busy(blocker)
            stack = contextlib.ExitStack()
            stack.enter_context(backend.output_lock(self.output, "sim serve: generate"))
            self.count += 1
            job = Job(f"job-{self.count}", "master" if master_only else "history")
            self.current = job
            self.history.append(job)
        args = (job, workers, master_only, stack)
        threading.Thread(target=self._run, args=args, daemon=True, name=job.id).start()
        return job

    def _run(
        self, job: Job, workers: int | None, master_only: bool, stack: contextlib.ExitStack
    ) -> None:
        with stack:
            try:
                sc, period = backend.load(self.scenario, self.output, self.wall)
                prepared = backend.prepare(sc, period, str(self.scenario))
                job.master_written, job.shards = prepared.master_written, prepared.shards
                job.days_total = 0 if master_only else len(prepared.days)
                if prepared.days and not master_only:
                    job.first_day, job.last_day = str(prepared.days[0]), str(prepared.days[-1])
                    backend.generate(
                        sc, prepared, workers or backend.default_workers(), job.progress
                    )
                    job.message = f"generated {job.first_day} .. {job.last_day}"
                else:
                    job.message = "master data " + (
                        "written" if job.master_written else "already present"
                    )
                    if not master_only:
                        job.message += "; history up to date"
                job.status = "done"
            except Cancelled:
                job.status, job.message = "cancelled", "cancelled; a later run redoes those days"
            except InputError as e:
                job.status, job.message = "failed", redact(str(e))
            except Exception as e:  # noqa: BLE001 - reported to the page, never a traceback
                job.status, job.message = "failed", redact(f"{type(e).__name__}: {e}")
            finally:
                job.finished = time.monotonic()
                job.last_update = time.time()

    def get(self, job_id: str) -> Job | None:
        return next((j for j in self.history if j.id == job_id), None)
