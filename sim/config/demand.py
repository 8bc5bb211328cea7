"""The ``demand:`` section: traffic factors by day of week, hour, month and holiday.

The defaults come with their sources (docs/realism.md); :mod:`sim.world.seasonality`
turns them into one multiplier per business day and an hourly profile.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from sim.config.section import Section

DOW = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class Demand(Section):
    """Multiplicative traffic factors; each list is normalised to mean 1 where it matters."""

    day_of_week: dict[Literal[DOW], float] = Field(  # type: ignore[valid-type]
        default_factory=lambda: dict(
            mon=0.93, tue=0.88, wed=0.90, thu=0.94, fri=1.05, sat=1.22, sun=1.08
        ),
        description="Traffic by local day of week (Instacart order_dow; weekend peak).",
    )
    hour_of_day: list[float] = Field(
        default_factory=lambda: [
            0,
            0,
            0,
            0,
            0,
            0,
            0.25,
            0.45,
            0.70,
            0.90,
            1.05,
            1.15,
            1.15,
            1.10,
            1.08,
            1.12,
            1.22,
            1.30,
            1.20,
            0.95,
            0.70,
            0.45,
            0.25,
            0.10,
        ],
        min_length=24,
        max_length=24,
        description="Relative arrival rate by local hour (busy 10-16h, late-afternoon peak).",
    )
    month: list[float] = Field(
        default_factory=lambda: [
            0.92,
            0.86,
            0.98,
            0.97,
            1.02,
            1.00,
            1.00,
            1.03,
            0.95,
            0.98,
            1.03,
            1.24,
        ],
        min_length=12,
        max_length=12,
        description="Traffic by month (Census MRTS, not seasonally adjusted).",
    )
    holidays: dict[str, float] = Field(
        default_factory=lambda: {
            "new_years_day": 0.55,
            "easter": 0.0,
            "thanksgiving": 0.0,
            "black_friday": 1.4,
            "christmas_run_up": 1.22,
            "christmas_eve": 1.35,
            "christmas": 0.0,
            "back_to_school": 1.08,
            "july_4": 0.75,
            "memorial_day": 1.1,
            "labor_day": 1.1,
        },
        description="Factor per named holiday; 0 closes the stores that day.",
    )

    @model_validator(mode="after")
    def _check(self) -> Demand:
        from sim.config.calendar import HOLIDAYS

        unknown = sorted(set(self.holidays) - set(HOLIDAYS))
        if unknown:
            raise ValueError(f"unknown holiday {unknown[0]!r}; known: {', '.join(HOLIDAYS)}")
        for name, values in (
            ("hour_of_day", self.hour_of_day),
            ("month", self.month),
            ("day_of_week", list(self.day_of_week.values())),
            ("holidays", list(self.holidays.values())),
        ):
            if any(v < 0 for v in values):
                raise ValueError(f"{name} factors must be >= 0")
        for name, values in (
            ("hour_of_day", self.hour_of_day),
            ("month", self.month),
            ("day_of_week", [self.day_of_week.get(d, 1.0) for d in DOW]),
        ):
            if not any(v > 0 for v in values):
                raise ValueError(f"{name}: expected at least one factor > 0 (all zero: no traffic)")
        return self
