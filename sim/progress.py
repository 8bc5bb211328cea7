"""The progress display of a fast-forward run, and its closing summary table."""

from __future__ import annotations

import time
from datetime import date
from types import TracebackType

from rich.console import Console, Group
from rich.live import Live
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table


class RunProgress:
    """Simulated date, rows per table, rows/s and ETA while shards advance day by day."""

    def __init__(self, console: Console, shards: int, days: int, quiet: bool) -> None:
        self.console, self.quiet = console, quiet
        self.rows: dict[str, int] = {}
        self.done: dict[int, date] = {}
        self.started = time.perf_counter()
        self.bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("shard-days"),
            TimeRemainingColumn(),
            console=console,
        )
        self.task = self.bar.add_task("starting", total=shards * days)
        self.live = Live(self._render(), console=console, refresh_per_second=4, transient=True)

    def __enter__(self) -> RunProgress:
        if not self.quiet:
            self.live.__enter__()
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        if not self.quiet:
            self.live.__exit__(t, e, tb)

    def update(self, shard: int, day: date, counts: dict[str, int]) -> None:
        self.done[shard] = day
        for k, v in counts.items():
            self.rows[k] = self.rows.get(k, 0) + v
        rate = sum(self.rows.values()) / max(time.perf_counter() - self.started, 1e-9)
        self.bar.update(
            self.task,
            advance=1,
            description=(
                f"simulated {min(self.done.values())}  {sum(self.rows.values()):,} rows  "
                f"{rate:,.0f} rows/s"
            ),
        )
        if not self.quiet:
            self.live.update(self._render())

    def _render(self) -> Group:
        t = Table(box=None, show_header=False, padding=(0, 2))
        for name, n in sorted(self.rows.items()):
            t.add_row(name, f"{n:,}")
        return Group(self.bar, t)


def summary_table(rows: dict[str, int], seconds: float, days: int, shards: int) -> Table:
    t = Table(title=f"{days} business day(s) x {shards} shard(s) in {seconds:.1f} s")
    t.add_column("table")
    t.add_column("rows", justify="right")
    t.add_column("rows/s", justify="right")
    for name, n in sorted(rows.items()):
        t.add_row(name, f"{n:,}", f"{n / max(seconds, 1e-9):,.0f}")
    total = sum(rows.values())
    t.add_row("[bold]total", f"[bold]{total:,}", f"[bold]{total / max(seconds, 1e-9):,.0f}")
    return t
