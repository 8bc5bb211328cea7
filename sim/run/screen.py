"""What the operator sees of a real-time session: its status and the live panel.

The status is a plain mapping (the control interface and the web console return it);
the panel shows the phase (rebuilding today, catching up to the wall clock, streaming),
simulated time against the wall clock, the outbox, the release lag (p50/p99 of the
wall seconds between when an event was due and when it was handed to the sink), the
rate cap (and whether it is holding events back) and the fault counts.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Protocol

from rich.console import Group
from rich.text import Text

from sim.config.clock import WallClock
from sim.run.control import Control
from sim.run.feeder import AnyFeeder
from sim.run.outbox import Outbox
from sim.run.pacing import Lag
from sim.sinks import Sink
from sim.sinks.metrics_view import MetricsView


class _Counts(Protocol):
    @property
    def released(self) -> int: ...


class Session(Protocol):
    """What the screen reads of a running session (:class:`sim.run.realtime.RealtimeRun`)."""

    lag: Lag
    released_ms: int
    phase: str
    control: Control
    wall: WallClock

    @property
    def report(self) -> _Counts: ...

    outbox: Outbox | None
    feeder: AnyFeeder | None


def status(run: Session) -> dict[str, Any]:
    """Position, speed, lag and counters of a session."""
    p50, p99 = run.lag.quantiles()
    sim = run.released_ms / 1000
    return {
        "phase": run.phase,
        "paused": run.control.paused,
        "speed": "max" if run.control.speed is None else run.control.speed,
        "simulated": iso(sim) if sim else None,
        "ahead_of_wall_s": round(sim - run.wall.time(), 3) if sim else None,
        "released": run.report.released,
        "outbox_events": run.outbox.events if run.outbox else 0,
        "late_events": run.outbox.late if run.outbox else 0,
        "simulated_to": iso(run.feeder.frontier) if run.feeder else None,
        "lag_p50_s": p50,
        "lag_p99_s": p99,
    }


def view_of(run: Session, view: MetricsView, sink: Sink) -> Group:
    st = run.control.status()
    ahead = st["ahead_of_wall_s"]
    rel = (
        ""
        if ahead is None
        else f"{'ahead of' if ahead >= 0 else 'behind'} the wall clock by {span(abs(ahead))}"
    )
    lines = [
        Text(f"{run.phase}{'  (paused)' if run.control.paused else ''}"),
        Text(
            f"simulated {st['simulated'] or '-'}  {rel}  released {run.report.released:,} "
            f"events  outbox {st['outbox_events']:,}"
        ),
        Text(f"release lag p50 {st['lag_p50_s']:.3f} s  p99 {st['lag_p99_s']:.3f} s"),
    ]
    if st.get("rate_cap"):
        held = "  holding events back: the lag grows" if st.get("capped") else ""
        lines.append(Text(f"rate cap {st['rate_cap']:g} events/s{held}"))
    if st.get("faults"):
        lines.append(Text("faults " + ", ".join(f"{k} {v:,}" for k, v in st["faults"].items())))
    return Group(*lines, view.render(sink.metrics, float(st["lag_p99_s"])))


def iso(sim: float) -> str:
    return datetime.fromtimestamp(sim, UTC).isoformat(timespec="seconds")


def hm(sim: float) -> str:
    return datetime.fromtimestamp(sim, UTC).strftime("%H:%M UTC")


def span(seconds: float) -> str:
    h, rest = divmod(int(seconds), 3600)
    return f"{h} h {rest // 60:02d} min" if h else f"{rest // 60} min {rest % 60:02d} s"
