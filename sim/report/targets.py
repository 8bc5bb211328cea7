"""The report's scored targets: loaded from targets.yaml (package data) and scored.

A target is a published figure with a tolerance band; a measured value inside the band
(inclusive) passes. A value that the output is too short (or lacks the tables) to
measure is "not measurable" with the reason, and is not counted either way.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

Status = Literal["pass", "fail", "not measurable"]


class Target(BaseModel):
    """One published figure and its band."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    group: str
    title: str
    metric: str
    unit: Literal["pct", "ratio", "number", "minutes", "score"] = "score"
    reference: float | None = None
    published: str = ""
    band: tuple[float, float]
    source: str
    why: str = ""
    kind: Literal["figure", "distribution"] = "figure"
    distance: Literal["ks", "tv", "ks_points"] | None = None
    shape: list[float] | None = None
    points: dict[int, float] | None = None
    mean_days: float | None = Field(None, gt=0)

    @model_validator(mode="after")
    def _band(self) -> Target:
        if self.band[0] > self.band[1]:
            raise ValueError(f"{self.id}: band low {self.band[0]} above high {self.band[1]}")
        return self


class TargetFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    targets: list[Target]
    distributions: list[Target]


@cache
def load_targets() -> tuple[Target, ...]:
    """Every target of sim/report/targets.yaml, figures first, then distributions."""
    text = files("sim.report").joinpath("targets.yaml").read_text()
    data = TargetFile.model_validate(yaml.safe_load(text))
    dists = [
        t.model_copy(update={"kind": "distribution", "unit": "score"}) for t in data.distributions
    ]
    out = (*data.targets, *dists)
    ids = [t.id for t in out]
    if len(set(ids)) != len(ids):
        raise ValueError("targets.yaml: duplicate target id")
    return out


@dataclass(frozen=True)
class Measured:
    """What a metric gave: a value (in the target's unit) or why there is none."""

    value: float | None
    note: str = ""  # how it was measured, or why it is not measurable

    def __post_init__(self) -> None:  # numpy scalars become plain floats (JSON, YAML)
        if self.value is not None:
            object.__setattr__(self, "value", float(self.value))

    @classmethod
    def missing(cls, why: str) -> Measured:
        return cls(None, why)


@dataclass(frozen=True)
class Scored:
    target: Target
    measured: Measured

    @property
    def status(self) -> Status:
        v = self.measured.value
        if v is None:
            return "not measurable"
        lo, hi = self.target.band
        return "pass" if lo <= v <= hi else "fail"

    def as_dict(self) -> dict:
        t = self.target
        return {
            "id": t.id,
            "group": t.group,
            "title": t.title,
            "kind": t.kind,
            "unit": t.unit,
            "source": t.source,
            "published": t.published,
            "reference": t.reference,
            "band": list(t.band),
            "distance": t.distance,
            "value": self.measured.value,
            "note": self.measured.note,
            "status": self.status,
        }


def score(targets: tuple[Target, ...], measured: dict[str, Measured]) -> list[Scored]:
    return [
        Scored(t, measured.get(t.metric, Measured.missing(f"metric {t.metric} not computed")))
        for t in targets
    ]


def fmt(unit: str, v: float | None) -> str:
    """A value in its unit, for tables."""
    if v is None:
        return "-"
    if unit == "pct":
        return f"{v:.2f}%"
    if unit == "ratio":
        return f"{v:.2f}x"
    if unit == "minutes":
        return f"{v:.1f} min"
    return f"{v:.3f}" if unit == "score" else f"{v:.2f}"
