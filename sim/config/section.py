"""The base of every scenario section: unknown keys are errors, values are frozen, and
``.inf`` / ``.nan`` are refused wherever a number is expected."""

from pydantic import BaseModel, ConfigDict


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)
