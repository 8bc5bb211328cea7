"""The control interface of a running real-time session.

Plain methods, called from the asyncio loop that runs the session (the CLI's signal
handlers, the web console, the local control channel of :mod:`sim.run.channel`):
:meth:`Control.pause`, :meth:`Control.resume`, :meth:`Control.set_speed`,
:meth:`Control.stop` and :meth:`Control.status`, plus the steering of
:mod:`sim.run.steer` and :mod:`sim.run.release`: :meth:`Control.inject`,
:meth:`Control.disruptions`, :meth:`Control.cancel`, :meth:`Control.set_rate` and
:meth:`Control.set_event_types`. A command takes effect at the loop's next tick
(``TICK`` seconds; a disruption at the first simulated instant not yet simulated);
nothing already released is re-sent and simulated time never moves backward.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from sim.errors import InputError

SpeedValue = float | None  # None: as fast as the sink accepts (``--speed max``)


@dataclass
class Control:
    """What the operator asked for; the run applies it at its next tick."""

    speed: SpeedValue
    paused: bool = False
    stopping: asyncio.Event = field(default_factory=asyncio.Event)
    changed: bool = False
    status_of: Any = None  # set by the run: a callable returning its status
    steering: Any = None  # set by the run once today's world is set up (sim.run.steer)
    releaser: Any = None  # set by the run (sim.run.release)

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

    def inject(self, disruption: dict[str, Any]) -> dict[str, Any]:
        """Add a disruption (a scenario ``disruptions:`` entry) to the running world;
        returns its record with the resolved start and end. Bad input raises
        :class:`InputError` (the scenario file's message) and changes nothing."""
        return self._steering().inject(disruption)

    def disruptions(self) -> list[dict[str, Any]]:
        """The disruptions active or scheduled at the stream's position."""
        return self._steering().active()

    def cancel(self, disruption_id: str) -> dict[str, Any]:
        """End a live disruption at the first simulated instant not yet simulated."""
        return self._steering().cancel(disruption_id)

    def set_rate(self, rate: float | None, burst: int | None = None) -> None:
        """Cap releases at ``rate`` events per second (None: no cap), from the next tick."""
        if rate is not None and not rate > 0:
            raise ValueError(f"rate: expected events per second > 0 or none, got {rate}")
        self._releaser().set_rate(rate, burst)

    def set_event_types(self, types: list[str] | None) -> None:
        """Send only these event types (None: all), from the next tick."""
        from sim.contract.event_types import EVENT_TYPES

        unknown = sorted(set(types or ()) - set(EVENT_TYPES))
        if unknown:
            raise ValueError(f"event_types: unknown {', '.join(map(repr, unknown))}")
        self._releaser().set_event_types(types)

    def _steering(self) -> Any:
        if self.steering is None:
            raise InputError("the session is still setting up today's world; try again")
        return self.steering

    def _releaser(self) -> Any:
        if self.releaser is None:
            raise InputError("the session is still starting; try again")
        return self.releaser


def parse_speed(text: str) -> SpeedValue:
    """``max`` or a number > 0, as given on the command line."""
    if text.strip().lower() == "max":
        return None
    value = float(text)
    if not value > 0:
        raise ValueError(text)
    return value
