"""Random streams.

Every draw comes from a ``numpy.random.Generator`` keyed by the scenario seed and a
stable tuple of small integers (a stream name, the shard, the business day, ...), so a
stream is the same whatever ran before it, in whichever process.
"""

from __future__ import annotations

from enum import IntEnum

import numpy as np


class Stream(IntEnum):
    """Named random streams; values are part of the output contract, never renumber."""

    MASTER_GEO = 1
    MASTER_DC = 2
    MASTER_STORE = 3
    MASTER_TRUCK = 4
    MASTER_CUSTOMER = 5
    MASTER_PRODUCT = 6
    MASTER_INVENTORY = 7
    ARRIVALS = 20
    SESSIONS = 21
    PROMOTIONS = 22
    MARKETING = 23
    TILL = 25
    LOGISTICS = 26
    ONLINE = 27
    REVIEW = 28
    DAMAGE = 29
    CHANGES = 30  # master data that changes (sim.master.changes)


def stream(seed: int, name: Stream, *key: int) -> np.random.Generator:
    """The generator for ``name`` under ``key`` (non-negative ints)."""
    return np.random.Generator(
        np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(int(name), *key)))
    )
