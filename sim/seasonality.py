"""Demand factors: day of week, hour of day, month and holidays.

The defaults live in :class:`sim.scenario.Demand` with their sources; this module turns
them into one traffic multiplier per business day and an hourly profile.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

import numpy as np

from sim.scenario import DOW, Demand


def _easter(y: int) -> date:
    a, b, c = y % 19, y // 100, y % 100
    d, e = b // 4, b % 4
    g = (8 * b + 13) // 25
    h = (19 * a + b - d - g + 15) % 30
    i, k = c // 4, c % 4
    ll = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * ll) // 451
    month, day = divmod(h + ll - 7 * m + 114, 31)
    return date(y, month, day + 1)


def _nth_weekday(y: int, month: int, weekday: int, n: int) -> date:
    first = date(y, month, 1)
    return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))


def _last_weekday(y: int, month: int, weekday: int) -> date:
    last = date(y, month + 1, 1) - timedelta(days=1)
    return last - timedelta(days=(last.weekday() - weekday) % 7)


def _window(m1: int, d1: int, m2: int, d2: int) -> Callable[[date], bool]:
    return lambda d: (m1, d1) <= (d.month, d.day) <= (m2, d2)


def _on(rule: Callable[[int], date]) -> Callable[[date], bool]:
    return lambda d: d == rule(d.year)


HOLIDAYS: dict[str, Callable[[date], bool]] = {
    "new_years_day": _window(1, 1, 1, 1),
    "easter": _on(_easter),
    "memorial_day": _on(lambda y: _last_weekday(y, 5, 0)),
    "july_4": _window(7, 4, 7, 4),
    "back_to_school": _window(7, 25, 8, 25),
    "labor_day": _on(lambda y: _nth_weekday(y, 9, 0, 1)),
    "thanksgiving": _on(lambda y: _nth_weekday(y, 11, 3, 4)),
    "black_friday": _on(lambda y: _nth_weekday(y, 11, 3, 4) + timedelta(days=1)),
    "christmas_run_up": _window(12, 10, 12, 23),
    "christmas_eve": _window(12, 24, 12, 24),
    "christmas": _window(12, 25, 12, 25),
}


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
