"""People counters count a stay in the intervals of its times as recorded (whole ms)."""

from __future__ import annotations

import numpy as np

from sim.world.model import CHECKOUT
from sim.world.recorder import sim_ms
from sim.world.sensors import FT_INTERVAL, interval_of, occupancy

PAID = 14399.999580356312  # a payment of the lead's failing run: written 14:00:00.000


def test_a_payment_written_on_a_boundary_counts_in_the_interval_it_is_written_in() -> None:
    assert sim_ms(PAID) == 14_400_000  # the receipt's EventTS is the 14:00 boundary
    assert interval_of(np.array([PAID]))[0] == 16  # so it is counted from 14:00 too
    k, zone, count, dwell = occupancy(
        np.array([CHECKOUT]), np.array([PAID - 120.0]), np.array([PAID]), 16 * FT_INTERVAL + 900, 0
    )
    assert list(zip(k.tolist(), zone.tolist(), count.tolist(), strict=True)) == [
        (15 * FT_INTERVAL, CHECKOUT, 1),
        (16 * FT_INTERVAL, CHECKOUT, 1),
    ]
    assert dwell[1] == 0  # no time inside the 14:00 interval, but seen at its start
    assert abs(dwell[0] - 119.99958) < 1e-3


def test_times_inside_an_interval_are_bucketed_as_before() -> None:
    t = np.array([0.0, 899.9994, 899.9996, 900.0, 1799.2, 1800.0004])
    assert interval_of(t).tolist() == [0, 0, 1, 1, 1, 2]
