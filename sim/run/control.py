"""The control interface of a running real-time session.

Plain methods, called from the asyncio loop that runs the session (the CLI's signal
handlers, and the web console or a control channel later): :meth:`Control.pause`,
:meth:`Control.resume`, :meth:`Control.set_speed`, :meth:`Control.stop` and
:meth:`Control.status`. A command takes effect at the loop's next tick (``TICK``
seconds); nothing already released is re-sent and simulated time never moves backward.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

SpeedValue = float | None  # None: as fast as the sink accepts (``--speed max``)


@dataclass
class Control:
    """What the operator asked for; the run applies it at its next tick."""

    speed: SpeedValue
    paused: bool = False
    stopping: asyncio.Event = field(default_factory=asyncio.Event)
    changed: bool = False
    status_of: Any = None  # set by the run: a callable returning its status

    def pause(self) -> None:
        """Stop the simulated clock; nothing is lost or re-sent."""
        if not self.paused:
            self.paused, self.changed = True, True

    def resume(self) -> None:
        """Restart the simulated clock from where it was paused."""
        if self.paused:
            self.paused, self.changed = False, True

    def set_speed(self, speed: SpeedValue) -> None:
        """Simulated seconds per wall second (> 0), or ``None`` for max."""
        if speed is not None and not speed > 0:
            raise ValueError(f"speed: expected a number > 0 or max, got {speed}")
        self.speed, self.changed = speed, True

    def stop(self) -> None:
        """End the session: in-flight events are delivered or dead-lettered, the position
        is saved."""
        self.stopping.set()

    def status(self) -> dict[str, Any]:
        """Position, speed, lag and counters of the session."""
        return self.status_of() if self.status_of else {"speed": self.speed}


def parse_speed(text: str) -> SpeedValue:
    """``max`` or a number > 0, as given on the command line."""
    if text.strip().lower() == "max":
        return None
    value = float(text)
    if not value > 0:
        raise ValueError(text)
    return value
