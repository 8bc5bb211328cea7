"""Live terminal view of a sink's metrics (a rich renderable, refreshed by the caller)."""

from __future__ import annotations

import time
from collections.abc import Callable

from rich.console import RenderableType
from rich.panel import Panel
from rich.table import Table

from sim.sinks.base import SinkMetrics

_BREAKER_STYLE = {"closed": "green", "half-open": "yellow", "open": "bold red"}


def _bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1024
    return f"{n:,.1f} GiB"


def render_metrics(
    metrics: SinkMetrics,
    lag_s: float,
    *,
    events_per_s: float = 0.0,
    bytes_per_s: float = 0.0,
    title: str = "real-time sink",
) -> RenderableType:
    """A panel with throughput, counters, breaker state, dead letters and lag."""
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold")
    table.add_column(justify="right")
    table.add_column(style="bold")
    table.add_column(justify="right")
    breaker = metrics.breaker_state
    lag_style = "green" if lag_s < 1 else ("yellow" if lag_s < 10 else "bold red")
    table.add_row("events/s", f"{events_per_s:,.0f}", "throughput", f"{_bytes(bytes_per_s)}/s")
    table.add_row("sent", f"{metrics.events_sent:,}", "bytes", _bytes(metrics.bytes_sent))
    table.add_row("batches", f"{metrics.batches:,}", "buffered", f"{metrics.buffered:,}")
    table.add_row("retries", f"{metrics.retries:,}", "failures", f"{metrics.failures:,}")
    table.add_row(
        "breaker",
        f"[{_BREAKER_STYLE.get(breaker, 'white')}]{breaker}[/]",
        "dead-lettered",
        f"[{'red' if metrics.dead_lettered else 'green'}]{metrics.dead_lettered:,}[/]",
    )
    table.add_row("lag", f"[{lag_style}]{lag_s:,.1f} s[/]", "dropped", f"{metrics.dropped:,}")
    if metrics.last_error:
        table.add_row("last error", "", "", "")
        table.add_row(f"[dim]{metrics.last_error[:120]}[/]", "", "", "")
    return Panel(table, title=title, expand=False)


class MetricsView:
    """Keeps the previous sample so each `render` shows rates since the last call."""

    def __init__(self, title: str = "real-time sink", clock: Callable[[], float] = time.monotonic):
        self.title = title
        self._clock = clock
        self._last: tuple[float, int, int] | None = None
        self.events_per_s = 0.0
        self.bytes_per_s = 0.0

    def render(self, metrics: SinkMetrics, lag_s: float) -> RenderableType:
        now = self._clock()
        if self._last is not None and now > self._last[0]:
            dt = now - self._last[0]
            self.events_per_s = (metrics.events_sent - self._last[1]) / dt
            self.bytes_per_s = (metrics.bytes_sent - self._last[2]) / dt
        self._last = (now, metrics.events_sent, metrics.bytes_sent)
        return render_metrics(
            metrics,
            lag_s,
            events_per_s=self.events_per_s,
            bytes_per_s=self.bytes_per_s,
            title=self.title,
        )
