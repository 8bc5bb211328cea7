"""The base of every scenario section: unknown keys are errors, values are frozen, and
``.inf`` / ``.nan`` are refused wherever a number is expected; :func:`check_shares`
checks shares of a whole."""

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


def check_shares(name: str, shares: Mapping[Any, float]) -> None:
    """Shares of a whole: each >= 0, together 1."""
    negative = sorted(k for k, v in shares.items() if v < 0)
    if negative:
        raise ValueError(f"{name}: {negative[0]} is {shares[negative[0]]}, expected a share >= 0")
    total = sum(shares.values())
    if abs(total - 1) > 1e-6:
        raise ValueError(f"{name} shares must add up to 1 (they add up to {total:g})")
