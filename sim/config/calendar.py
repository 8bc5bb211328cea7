"""Calendar values in scenario files: ISO dates and timestamps, ``now``, ``-14d``.

A business day ``D`` runs from ``D 10:00 UTC`` to ``D+1 10:00 UTC`` (05:00 US Eastern
standard time): every US store is closed at that instant, so the world can be
checkpointed there with no customer in a store. Fact partitions ``dt=D`` hold the
business day ``D``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

DAY_START = timedelta(hours=10)
_RELATIVE = re.compile(r"^([+-]?\d+(?:\.\d+)?)\s*([dhm])$")
_UNITS = {"d": "days", "h": "hours", "m": "minutes"}


def parse_moment(value: object, now: datetime) -> datetime | date:
    """Resolve a calendar value against ``now``.

    Returns a ``date`` for a plain ISO date, an aware UTC ``datetime`` otherwise.
    Raises ``ValueError`` with the accepted forms when the value is none of them.
    """
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return value
    text = str(value).strip()
    if text == "now":
        return now
    m = _RELATIVE.match(text)
    if m:
        try:
            return now + timedelta(**{_UNITS[m.group(2)]: float(m.group(1))})
        except OverflowError:
            raise ValueError(f"{text!r} is further from now than any calendar goes") from None
    try:
        if len(text) == 10:
            return date.fromisoformat(text)
        ts = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"expected an ISO date (2024-01-31), an ISO timestamp, 'now' or a relative "
            f"time like '-14d' / '-6h', got {text!r}"
        ) from None
    return ts if ts.tzinfo else ts.replace(tzinfo=UTC)


def day_start(d: date) -> datetime:
    """The UTC instant at which business day ``d`` starts."""
    return datetime(d.year, d.month, d.day, tzinfo=UTC) + DAY_START


def sim_origin(first_day: date) -> float:
    """Epoch seconds of simulated time 0: the start of an output folder's first business
    day (its ``generation_state.json`` ``first_day``). Every shard's clock counts from it."""
    return day_start(first_day).timestamp()


def sim_origin_ms(first_day: date) -> int:
    """:func:`sim_origin` in epoch milliseconds, as recorders and snapshots stamp it."""
    return int(sim_origin(first_day) * 1000)


def business_date(ts: datetime) -> date:
    """The business day that contains the instant ``ts``."""
    return (ts.astimezone(UTC) - DAY_START).date()


def first_day(start: datetime | date) -> date:
    """The first business day of a period that starts at ``start``."""
    return (
        start
        if isinstance(start, date) and not isinstance(start, datetime)
        else business_date(start)
    )


def last_day(end: datetime | date) -> date:
    """The last whole business day of a period that ends at ``end``.

    A plain date is inclusive; an instant includes only days that ended by then.
    """
    if isinstance(end, date) and not isinstance(end, datetime):
        return end
    return business_date(end) - timedelta(days=1)


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
