"""The wall clock, injected: no logic reads the machine's time directly.

A :class:`WallClock` is the machine's clock shifted by a fixed offset. The front end
builds one with :meth:`WallClock.from_env`: when ``RETAIL_SIM_NOW`` holds an ISO
timestamp, the clock reads that moment when it is built and runs on at the real rate
from there, so a test, the byte oracle or a rehearsal of a demo runs at the hour it
chooses. Without it the clock is the machine's.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

from sim.errors import InputError

ENV_NOW = "RETAIL_SIM_NOW"


@dataclass(frozen=True)
class WallClock:
    """Wall time in epoch seconds: the machine's, plus ``offset``."""

    offset: float = 0.0

    def time(self) -> float:
        return time.time() + self.offset

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.time(), UTC)

    @classmethod
    def starting_at(cls, moment: datetime) -> WallClock:
        """A clock that reads ``moment`` now and runs on at the real rate."""
        return cls(moment.timestamp() - time.time())

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> WallClock:
        value = environ.get(ENV_NOW)
        if not value:
            return cls()
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise InputError(
                f"{ENV_NOW}: expected an ISO timestamp such as 2024-03-06T16:00:00Z, got {value!r}"
            ) from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return cls.starting_at(moment)


@contextmanager
def fixed_wall_clock(iso: str) -> Iterator[None]:
    """Within the block, commands (and the processes they start) begin at ``iso``."""
    old = os.environ.get(ENV_NOW)
    os.environ[ENV_NOW] = iso
    try:
        yield
    finally:
        if old is None:
            os.environ.pop(ENV_NOW, None)
        else:
            os.environ[ENV_NOW] = old
