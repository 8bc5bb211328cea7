"""Request bodies of the console's REST API (bad input: 422 naming the field)."""

from __future__ import annotations

import math
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainValidator, WithJsonSchema

from sim.config.disruptions import KINDS

Kind = Literal[
    "dc_outage",
    "truck_delay",
    "supplier_shortage",
    "demand_spike",
    "store_closure",
    "sensor_outage",
    "price_change",
    "promotion",
]
assert set(KINDS) == set(Kind.__args__)  # type: ignore[attr-defined]

# The old generator's disruption types, onto this project's kinds (docs/web.md).
OLD_TYPES: dict[str, tuple[Kind, dict[str, float]]] = {
    "truck_breakdown": ("truck_delay", {"factor": 3.0}),
    "inventory_shortage": ("supplier_shortage", {"share": 0.8}),
    "weather_delay": ("truck_delay", {"factor": 1.5}),
    "dc_outage": ("dc_outage", {}),
}


MAX_SPEED = 1_000_000


def _speed(value: object) -> float | Literal["max"]:
    """A number in (0, 1e6], or ``"max"`` (unpaced: as fast as the sink accepts)."""
    if isinstance(value, str) and value.strip().lower() == "max":
        return "max"
    try:
        number = float(value) if isinstance(value, int | float | str) else math.nan
    except ValueError:
        number = math.nan
    if isinstance(value, bool) or not 0 < number <= MAX_SPEED:
        raise ValueError(f'expected a number > 0 and <= {MAX_SPEED:,}, or "max"')
    return number


SPEED_DOC = (
    'simulated seconds per wall second (a number > 0), or "max": unpaced, as fast as the '
    "sink accepts (the CLI's --speed max)"
)
Speed = Annotated[
    float | Literal["max"],
    PlainValidator(_speed),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "number", "exclusiveMinimum": 0, "maximum": MAX_SPEED},
                {"type": "string", "enum": ["max"]},
            ]
        }
    ),
]


def pace(speed: float | str | None) -> float | None:
    """The engine's speed of a request's: None for ``"max"``."""
    return None if speed is None or speed == "max" else float(speed)


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class GenerateRequest(_Body):
    workers: int | None = Field(None, ge=1, le=64, description="worker processes")
    master_only: bool = Field(False, description="only write master data")


class StreamStart(_Body):
    """Start the stream. ``emit_interval_ms`` + ``burst`` (the old API) cap the rate at
    ``burst`` events per ``emit_interval_ms``; ``max_events_per_second`` says it directly."""

    sink: Literal["eventhub", "jsonl", "stdout"] | None = None
    speed: Speed | None = Field(None, description=SPEED_DOC)
    event_types: list[str] | None = Field(None, min_length=1)
    duration_minutes: float | None = Field(
        None,
        gt=0,
        le=525_600,
        description="wall minutes: with a number speed, minutes x 60 x speed simulated "
        "seconds; with max, the stream stops after that much wall time",
    )
    emit_interval_ms: int | None = Field(None, ge=1, le=3_600_000)
    burst: int | None = Field(None, ge=1, le=1_000_000)
    max_events_per_second: float | None = Field(None, gt=0, le=10_000_000)

    def cap(self) -> float | None:
        if self.max_events_per_second is not None:
            return self.max_events_per_second
        if self.emit_interval_ms is not None:
            return (self.burst or 1) * 1000.0 / self.emit_interval_ms
        return None


class StreamConfig(_Body):
    """Settings for the running stream (applied at once) or the next start."""

    sink: Literal["eventhub", "jsonl", "stdout"] | None = None
    speed: Speed | None = Field(None, description=SPEED_DOC)
    event_types: list[str] | None = Field(None, min_length=1)
    batch_size: int | None = Field(None, ge=1, le=100_000)
    batch_timeout_ms: int | None = Field(None, ge=1, le=600_000)
    max_events_per_second: float | None = Field(None, gt=0, le=10_000_000)


class SpeedRequest(_Body):
    speed: Speed = Field(description=SPEED_DOC)


class DisruptionCreate(_Body):
    """A live disruption: one of the 8 kinds (or an old type), its target and duration."""

    kind: Kind | None = None
    type: Literal["truck_breakdown", "inventory_shortage", "weather_delay", "dc_outage"] | None = (
        Field(None, description="the old generator's disruption type (mapped onto a kind)")
    )
    duration_hours: float = Field(4.0, gt=0, le=24 * 365)
    duration_minutes: float | None = Field(None, gt=0, le=60 * 24 * 365)
    dc: int | None = Field(None, ge=1, le=1_000_000)
    store: int | None = Field(None, ge=1, le=100_000_000)
    region: str | None = Field(None, min_length=1, max_length=100)
    category: str | None = Field(None, min_length=1, max_length=200)
    supplier: str | None = Field(None, min_length=1, max_length=200)
    factor: float | None = Field(None, gt=0, le=1000)
    share: float | None = Field(None, gt=0, le=1)
    discount: float | None = Field(None, gt=0, lt=1)
    lift: float | None = Field(None, ge=1, le=1000)
    name: str | None = Field(None, max_length=100)

    def entry(self) -> dict[str, object]:
        """The scenario-style entry (kind, target, parameters) without its period."""
        data = self.model_dump(
            exclude_none=True, exclude={"type", "duration_hours", "duration_minutes", "kind"}
        )
        kind = self.kind
        if self.type is not None:
            mapped, defaults = OLD_TYPES[self.type]
            kind = kind or mapped
            data = {**defaults, **data}
        return {"kind": kind or "dc_outage", **data}

    def hours(self) -> float:
        return self.duration_minutes / 60 if self.duration_minutes else self.duration_hours


class ScenarioText(_Body):
    text: str = Field(max_length=1_000_000)
    name: str = Field("scenario.yaml", max_length=100)


class ScenarioSave(_Body):
    text: str = Field(max_length=1_000_000)
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,80}\.ya?ml$")
    overwrite: bool = False


class ScenarioUse(_Body):
    """Switch the scenario the next generate and stream use to a file of scenarios/."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,80}\.ya?ml$")


class ClearRequest(_Body):
    confirm: str = Field(description="the output folder's name, typed")
