"""Calendar values in scenario files: ISO dates and timestamps, ``now``, ``-14d``.

A business day ``D`` runs from ``D 10:00 UTC`` to ``D+1 10:00 UTC`` (05:00 US Eastern
standard time): every US store is closed at that instant, so the world can be
checkpointed there with no customer in a store. Fact partitions ``dt=D`` hold the
business day ``D``.
"""

from __future__ import annotations

import re
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
        return now + timedelta(**{_UNITS[m.group(2)]: float(m.group(1))})
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
