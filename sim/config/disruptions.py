"""Disruption inputs: the models of the scenario's ``disruptions:`` list.

Each entry has a kind, a target, a period and parameters. The simulation resolves them
against a shard in :mod:`sim.world.disruptions`.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    BeforeValidator,
    Field,
    ValidationError,
    ValidatorFunctionWrapHandler,
    WrapValidator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from sim.config.calendar import day_start
from sim.config.limits import MAX_DAYS
from sim.config.section import Section


def _moment(v: object) -> object:
    """An ISO date stays a date (its business day); anything longer is a timestamp.

    Parsed here so that a timestamp at midnight is not taken for a date, and a bad
    value gets one message instead of one per member of ``date | datetime``.
    """
    if not isinstance(v, str):
        return v
    text = v.strip()
    try:
        if len(text) == 10:
            return date.fromisoformat(text)
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise PydanticCustomError(
            "moment", "expected an ISO date (2024-03-07) or an ISO timestamp (2024-03-07T14:00:00Z)"
        ) from None


Moment = Annotated[date | datetime, BeforeValidator(_moment)]


def _field_error(field: str, message: str) -> PydanticCustomError:
    """A whole-entry check that concerns one key (reported as ``disruptions.N.<field>``)."""
    return PydanticCustomError("disruption_field", message, {"field": field})


class _Base(Section):
    name: str | None = Field(None, description="Label used in docs and promo codes.")
    start: Moment = Field(description="When it starts (a date means its business day).")
    end: Moment | None = Field(None, description="When it ends (exclusive).")
    duration_hours: float | None = Field(
        None, gt=0, le=MAX_DAYS * 24, description="Or how long it lasts."
    )

    @model_validator(mode="after")
    def _period(self) -> _Base:
        if self.end is None and self.duration_hours is None:
            raise _field_error("end", "give end or duration_hours")
        if self.end is not None and self.duration_hours is not None:
            raise _field_error("duration_hours", "give end or duration_hours, not both")
        if self.end is not None and _instant(self.end) <= _instant(self.start):
            raise _field_error("end", f"end ({self.end}) must be after start ({self.start})")
        for one, other in (("store", "region"), ("supplier", "category")):
            if getattr(self, one, None) is not None and getattr(self, other, None) is not None:
                raise _field_error(other, f"give {one} or {other}, not both")
        return self

    def window(self) -> tuple[float, float]:
        """Start and end as UTC epoch seconds."""
        a = _instant(self.start)
        if self.end is not None:
            return a, _instant(self.end)
        assert self.duration_hours is not None  # _period: one of the two is given
        return a, a + self.duration_hours * 3600


def _instant(x: date | datetime) -> float:
    if isinstance(x, datetime):
        return (x if x.tzinfo else x.replace(tzinfo=UTC)).timestamp()
    return day_start(x).timestamp()


class DcOutage(_Base):
    kind: Literal["dc_outage"]
    dc: int = Field(description="distribution_centers.ID that ships nothing.")


class TruckDelay(_Base):
    kind: Literal["truck_delay"]
    dc: int | None = Field(None, description="Only this DC's trips (default: all).")
    factor: float = Field(gt=0, le=100, description="Transit times are multiplied by this.")


class SupplierShortage(_Base):
    kind: Literal["supplier_shortage"]
    supplier: str | None = Field(None, description="Company whose deliveries are cut.")
    category: str | None = Field(None, description="Or a Department/Category/Subcategory.")
    share: float = Field(gt=0, le=1, description="Share of each delivery that is missing.")


class DemandSpike(_Base):
    kind: Literal["demand_spike"]
    store: int | None = Field(None, description="One store (default: every store).")
    region: str | None = Field(None, description="Or the stores of a Census region.")
    factor: float = Field(gt=0, le=100, description="Store traffic is multiplied by this.")


class StoreClosure(_Base):
    kind: Literal["store_closure"]
    store: int | None = Field(None, description="The store that closes.")
    region: str | None = Field(None, description="Or every store of a region.")


class SensorOutage(_Base):
    kind: Literal["sensor_outage"]
    store: int | None = Field(None, description="The store whose sensors go silent.")
    region: str | None = Field(None, description="Or every store of a region.")


class PriceChange(_Base):
    kind: Literal["price_change"]
    category: str = Field(description="Department, Category or Subcategory.")
    factor: float = Field(gt=0, le=100, description="Shelf prices are multiplied by this.")


class Promotion(_Base):
    kind: Literal["promotion"]
    category: str = Field(description="Department, Category or Subcategory.")
    discount: float = Field(gt=0, lt=1, description="Share off the shelf price.")
    lift: float = Field(2.0, ge=1, le=100, description="Demand multiplier of promoted items.")


_KINDS = (
    DcOutage,
    TruckDelay,
    SupplierShortage,
    DemandSpike,
    StoreClosure,
    SensorOutage,
    PriceChange,
    Promotion,
)
KINDS = tuple(get_args(m.model_fields["kind"].annotation)[0] for m in _KINDS)


def _untagged(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
    """Report errors as ``disruptions.N.<key>``, without the kind pydantic puts in between."""
    try:
        return handler(value)
    except ValidationError as e:
        details: list[Any] = []
        for err in e.errors():
            loc, kind, ctx = err["loc"], err["type"], err.get("ctx") or {}
            if loc and loc[0] in KINDS:
                loc = loc[1:]
            message = err["msg"]
            if kind == "disruption_field":
                loc = (*loc, ctx["field"])
            elif kind == "union_tag_invalid":
                loc = (*loc, "kind")
                message = f"unknown kind {ctx['tag']!r}; expected one of: {', '.join(KINDS)}"
            elif kind == "union_tag_not_found":
                loc = (*loc, "kind")
                message = f"required key is missing (one of: {', '.join(KINDS)})"
            detail = {"type": kind, "loc": loc, "input": err["input"]}
            if kind in ("disruption_field", "union_tag_invalid", "union_tag_not_found", "moment"):
                template = message.replace("{", "(").replace("}", ")")  # no placeholders
                detail["type"] = PydanticCustomError(kind, template)
            elif ctx is not None:
                detail["ctx"] = ctx
            details.append(detail)
        raise ValidationError.from_exception_data(e.title, details) from None


Disruption = Annotated[
    DcOutage
    | TruckDelay
    | SupplierShortage
    | DemandSpike
    | StoreClosure
    | SensorOutage
    | PriceChange
    | Promotion,
    Field(discriminator="kind"),
    WrapValidator(_untagged),
]
