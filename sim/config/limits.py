"""What one machine can simulate: the bounds a scenario is checked against up front.

A count beyond these would not fail politely later: it would exhaust memory (a table of
10^12 customers), or plan centuries of history. Each limit is stated in the message
that refuses it, and in docs/scenario.md. The memory figures are measured on the tiny
test scenario scaled up (a shard-day of 40,000 visits peaked at ~0.75 GB resident).
"""

from __future__ import annotations

from datetime import date

MAX_STORES = 5_000
MAX_DCS = 200
MAX_CUSTOMERS = 2_000_000  # master build ~0.5 GB per million; every worker reads it
MAX_PRODUCTS = 1_000_000
MAX_VISITS_PER_STORE_DAY = 50_000.0
MAX_VISITS_PER_SHARD_DAY = 100_000.0  # stores per DC x visits: one worker's day in memory
MAX_IMPRESSIONS_PER_STORE_DAY = 1_000_000.0
MAX_IMPRESSIONS_PER_SHARD_DAY = 2_000_000.0
FIRST_DATE = date(2000, 1, 1)  # ids and random streams count from 1970; keep well after
LAST_DATE = date(2099, 12, 31)
MAX_DAYS = 3_660  # ten years of business days in one output folder


def calendar_problem(first: date, last: date) -> tuple[str, str] | None:
    """``(key, message)`` when the period ``first`` .. ``last`` is out of bounds."""
    if first < FIRST_DATE:
        return "start", f"the first business day {first} is before {FIRST_DATE}, the earliest"
    if last > LAST_DATE:
        return "end", f"the last business day {last} is after {LAST_DATE}, the latest"
    days = (last - first).days + 1
    if days > MAX_DAYS:
        return "end", (
            f"the period {first} .. {last} has {days:,} days, more than the limit of "
            f"{MAX_DAYS:,} (ten years); generate it in several output folders"
        )
    return None


def load_problems(
    stores: int, dcs: int, visits: float, impressions: float
) -> list[tuple[tuple[str, str], str]]:
    """Per-shard loads over their limits, as ``((section, key), message)``."""
    per_dc = -(-stores // dcs)  # the largest shard has at least this many stores
    out = []
    if per_dc * visits > MAX_VISITS_PER_SHARD_DAY:
        out.append(
            (
                ("volume", "customers_per_day"),
                f"{per_dc} stores per DC x {visits:,.0f} visits = {per_dc * visits:,.0f} "
                f"visits per shard-day, more than the limit of {MAX_VISITS_PER_SHARD_DAY:,.0f} "
                "(one worker holds a shard-day in memory); add DCs or lower customers_per_day",
            )
        )
    if per_dc * impressions > MAX_IMPRESSIONS_PER_SHARD_DAY:
        out.append(
            (
                ("marketing", "impressions_per_store_per_day"),
                f"{per_dc} stores per DC x {impressions:,.0f} impressions = "
                f"{per_dc * impressions:,.0f} per shard-day, more than the limit of "
                f"{MAX_IMPRESSIONS_PER_SHARD_DAY:,.0f}; add DCs or lower it",
            )
        )
    return out
