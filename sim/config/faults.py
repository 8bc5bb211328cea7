"""The `realtime.faults:` section: dirty-data faults injected into the stream for testing
pipelines (late, duplicate, out-of-order, malformed events). Off by default.

Each fault applies to a share of events; at most one fault applies to an event, so the
shares must add up to at most 1. Which events are faulted, and how, is drawn from the
scenario seed and the event id (see `sim.run.faults`), so a rerun faults the same events.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

DelayDistribution = Literal["fixed", "uniform", "exponential", "lognormal"]
MalformedKind = Literal["missing_field", "wrong_type", "truncated"]
MALFORMED_KINDS: tuple[MalformedKind, ...] = ("missing_field", "wrong_type", "truncated")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DelaySettings(_Strict):
    """A delay distribution in wall-clock seconds, clipped to [`min_s`, `max_s`]."""

    distribution: DelayDistribution = Field(
        "exponential", description="fixed, uniform, exponential or lognormal"
    )
    mean_s: float = Field(
        30.0, gt=0, description="fixed: the delay; exponential: its mean; lognormal: its median"
    )
    min_s: float = Field(0.0, ge=0, description="lower clip; uniform: lower bound")
    max_s: float = Field(600.0, gt=0, description="upper clip; uniform: upper bound")
    sigma: float = Field(1.0, gt=0, description="lognormal shape")

    @model_validator(mode="after")
    def _ordered(self) -> DelaySettings:
        if self.max_s < self.min_s:
            raise ValueError(f"max_s ({self.max_s}) must be >= min_s ({self.min_s})")
        return self


class DuplicateDelay(DelaySettings):
    """When the second copy goes, in wall-clock seconds, clipped to [`min_s`, `max_s`]."""

    distribution: DelayDistribution = Field(
        "fixed", description="fixed, uniform, exponential or lognormal"
    )
    mean_s: float = Field(
        5.0, gt=0, description="fixed: the delay; exponential: its mean; lognormal: its median"
    )


class LateFault(_Strict):
    """Released after a delay; the event (and its EventTS) is unchanged."""

    share: float = Field(0.0, ge=0, le=1, description="share of events made late")
    delay: DelaySettings = Field(DelaySettings(), description="how late")


class DuplicateFault(_Strict):
    """Sent once on time and once more (same message id, same body) after a delay."""

    share: float = Field(0.0, ge=0, le=1, description="share of events sent twice")
    delay: DuplicateDelay = Field(DuplicateDelay(), description="of the second copy")


class OutOfOrderFault(_Strict):
    """Held back behind 1..`window` later events of its partition key (or `max_hold_s`)."""

    share: float = Field(0.0, ge=0, le=1, description="share of events displaced")
    window: int = Field(10, ge=1, le=10_000, description="max events it is displaced by")
    max_hold_s: float = Field(30.0, gt=0, description="released anyway after this")


class MalformedFault(_Strict):
    """The payload breaks the schema in one of `kinds` (documented in docs/realtime.md)."""

    share: float = Field(0.0, ge=0, le=0.05, description="share of events broken (<= 0.05)")
    kinds: list[MalformedKind] = Field(
        default_factory=lambda: list(MALFORMED_KINDS), description="breaks drawn from, evenly"
    )

    @model_validator(mode="after")
    def _some_kind(self) -> MalformedFault:
        if not self.kinds:
            raise ValueError("kinds must list at least one of " + ", ".join(MALFORMED_KINDS))
        return self


class FaultSettings(_Strict):
    """`realtime.faults`: every share is 0 (off) unless set."""

    late: LateFault = Field(LateFault(), description="delayed events")
    duplicate: DuplicateFault = Field(DuplicateFault(), description="events sent twice")
    out_of_order: OutOfOrderFault = Field(OutOfOrderFault(), description="displaced events")
    malformed: MalformedFault = Field(MalformedFault(), description="schema breaks")

    @model_validator(mode="after")
    def _shares(self) -> FaultSettings:
        total = self.late.share + self.duplicate.share + self.out_of_order.share
        total += self.malformed.share
        if total > 1:
            raise ValueError(f"the fault shares add up to {total:g}; at most 1 is possible")
        return self

    @property
    def enabled(self) -> bool:
        return any(
            f.share > 0 for f in (self.late, self.duplicate, self.out_of_order, self.malformed)
        )
