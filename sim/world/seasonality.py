"""Demand factors: day of week, hour of day, month and holidays.

The defaults live in :class:`sim.config.scenario.Demand` with their sources; this module turns
them into one traffic multiplier per business day and an hourly profile.
"""

from __future__ import annotations

from datetime import date

import numpy as np

from sim.config.calendar import HOLIDAYS
from sim.config.demand import DOW, Demand


def _normalised(values: list[float]) -> np.ndarray:
    a = np.asarray(values, dtype=float)
    return a / a.mean() if a.mean() > 0 else a


def day_factor(d: date, demand: Demand) -> float:
    """Traffic multiplier of business day ``d`` (0 when the stores are closed)."""
    dow = _normalised([demand.day_of_week[k] for k in DOW])[d.weekday()]
    month = _normalised(demand.month)[d.month - 1]
    f = float(dow * month)
    for name, factor in demand.holidays.items():
        if HOLIDAYS[name](d):
            f *= factor
    return f


def hour_profile(demand: Demand, open_hour: int, close_hour: int) -> np.ndarray:
    """Arrival weights for each local hour, zero outside opening hours, summing to 1."""
    w = np.asarray(demand.hour_of_day, dtype=float).copy()
    w[:open_hour] = 0
    w[close_hour:] = 0
    total = w.sum()
    return w / total if total > 0 else w
