"""The checkout queue: a store's lanes and the SimPy process of a visit that buys.

Kept apart from :mod:`sim.world.store` (which owns the stock and the recording) so that
the event-level part of a visit reads in one place: :class:`Arrival` starts the process
at the visit's queue time, :class:`Lanes` hands out lanes in arrival order, and
:func:`visit` waits, pays at the till and leaves.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Generator
from typing import Protocol

import simpy


class Till(Protocol):
    """What a visit needs of its store."""

    lanes: Lanes
    service: list[float]

    def checkout(self, i: int, now: float) -> None: ...

    def exit(self, i: int, now: float) -> None: ...


class Lanes:
    """A store's checkout lanes: how many are free, and the visits waiting for one.

    What ``simpy.Resource`` does for a queue of requests, for the one pattern visits
    use (take a lane, hold it, release it), without an event for a request that finds a
    free lane or for a release: the first waiting visit gets the lane being released.
    """

    def __init__(self, env: simpy.Environment, capacity: int) -> None:
        self.env, self.free = env, capacity
        self.waiting: deque[simpy.Event] = deque()

    def take(self) -> simpy.Event | None:
        """A free lane now (``None``), or the event of the lane this visit waits for."""
        if self.free:
            self.free -= 1
            return None
        ev = simpy.Event(self.env)
        self.waiting.append(ev)
        return ev

    def release(self) -> None:
        if self.waiting:
            self.waiting.popleft().succeed()  # the lane passes to the first in the queue
        else:
            self.free += 1


class Arrival(simpy.Process):
    """A SimPy process whose generator starts ``delay`` seconds from now.

    ``env.process`` starts a generator through an ``Initialize`` event and a visit's
    first step would be a timeout to its queue time: here one timeout starts it. When
    the generator ends and nothing waits for the process (nothing waits for a visit),
    the process is done at once instead of through one more event that has no callback:
    the events that do something happen in the same order.
    """

    def __init__(
        self, env: simpy.Environment, generator: Generator[simpy.Event, object, None], delay: float
    ) -> None:
        self.env = env
        self.callbacks = []
        self._generator = generator
        self._target = simpy.Timeout(env, delay)
        self._target.callbacks.append(self._resume)

    def _resume(self, event: simpy.Event) -> None:
        """``simpy.Process._resume`` for what a visit waits on: events that succeeded and
        have not been processed yet (anything else takes SimPy's own path)."""
        if not event._ok:
            simpy.Process._resume(self, event)
            return
        env = self.env
        env._active_proc = self
        try:
            event = self._generator.send(event._value)
        except StopIteration as e:
            self._ok, self._value = True, e.args[0] if e.args else None
            self._target = None  # type: ignore[assignment]
            env._active_proc = None
            if self.callbacks:
                env.schedule(self)  # someone waits for it: as SimPy does
            else:
                self.callbacks = None  # type: ignore[assignment]  # processed: nothing to call
            return
        if event.callbacks is None:  # already processed: SimPy's loop resumes at once
            env._active_proc = None
            simpy.Process._resume(self, event)
            return
        event.callbacks.append(self._resume)
        self._target = event
        env._active_proc = None


def visit(env: simpy.Environment, store: Till, i: int) -> Generator[simpy.Event, object, None]:
    """A visit that buys, from the moment it joins the checkout queue: wait for a lane,
    pay, leave (started by :class:`Arrival` at the end of its shopping).

    Visits that leave without buying share nothing with others (no lane, no stock),
    so their walk is fully drawn in :func:`plan_visits` and needs no process.
    """
    lanes = store.lanes
    wait = lanes.take()
    if wait is not None:
        yield wait
    yield env.timeout(store.service[i])
    store.checkout(i, env.now)
    lanes.release()
    store.exit(i, env.now)
