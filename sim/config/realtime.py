"""The `realtime:` section of a scenario: pacing speed, sink choice and sink tuning, the
message envelope and transport, the release rate cap and the test faults."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from sim.config.faults import FaultSettings
from sim.contract.event_types import EVENT_TYPES
from sim.errors import InputError

SinkKind = Literal["eventhub", "jsonl", "stdout"]
Envelope = Literal["native", "cloudevents"]
Transport = Literal["amqp", "websocket"]
DEFAULT_JSONL_PATH = Path("realtime") / "events.jsonl"


class RealtimeSettings(BaseModel):
    """Settings of real-time mode. Unknown keys are rejected; secrets are never echoed."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, hide_input_in_errors=True, allow_inf_nan=False
    )

    speed: float | Literal["max"] = Field(
        1.0, description="simulated seconds per wall-clock second, or max (as fast as the sink)"
    )
    sink: SinkKind = "eventhub"
    workers: int | Literal["auto"] = Field(
        "auto",
        description="processes simulating today's shards; 1 = a thread of the session's "
        "process; auto = one per core but one (the sink's), at least 2, on 2 cores or more",
    )
    jsonl_path: str | None = Field(
        None, description="jsonl sink file; relative paths are under the output directory"
    )
    event_types: list[str] | None = Field(None, description="only these event types; None = all")
    batch_size: int = Field(500, ge=1, le=100_000, description="max events per batch")
    batch_timeout_ms: int = Field(200, ge=1, description="send a partial batch after this")
    retry_attempts: int = Field(5, ge=0, le=100, description="retries after the first attempt")
    retry_backoff_s: float = Field(0.5, ge=0, description="first retry delay, doubled each time")
    retry_backoff_max_s: float = Field(30.0, ge=0, description="cap of the retry delay")
    breaker_failure_threshold: int = Field(5, ge=1, description="consecutive failures to open")
    breaker_reset_s: float = Field(10.0, gt=0, description="open -> half-open after this")
    max_buffer: int = Field(50_000, ge=1, description="events buffered before send() waits")
    dead_letter: bool = True
    send_timeout_s: float = Field(30.0, gt=0, description="per-attempt wait for the service")
    producers: int = Field(2, ge=1, le=16, description="concurrent producer connections")
    hub_name: str | None = Field(None, min_length=1, description="overrides EntityPath")
    connection_string: SecretStr | None = Field(
        None, description="lowest-priority credential source"
    )
    keyvault_url: str | None = None
    keyvault_secret: str = Field("eventhub-connection-string", min_length=1)
    envelope: Envelope = Field("native", description="native JSON or CloudEvents 1.0 structured")
    transport: Transport = Field("amqp", description="AMQP on 5671, or AMQP over WebSockets/443")
    custom_endpoint_address: str | None = Field(
        None, description="connect here instead of the namespace host (sb://host[:port])"
    )
    connection_verify: str | None = Field(
        None, description="CA bundle (PEM) to verify the endpoint's TLS certificate with"
    )
    max_events_per_second: float | None = Field(
        None, gt=0, description="hard cap on released events; None = no cap"
    )
    burst: int | None = Field(None, ge=1, description="token-bucket size (default: 1 s of rate)")
    emit_interval_ms: float | None = Field(
        None, gt=0, description="alias of the cap: `burst` events every `emit_interval_ms`"
    )
    faults: FaultSettings = Field(
        FaultSettings(), description="dirty-data faults for testing pipelines (off)"
    )

    @field_validator("event_types")
    @classmethod
    def _non_empty_types(cls, value: list[str] | None) -> list[str] | None:
        if value is not None:
            if not value:
                raise ValueError("event_types must list at least one type, or be omitted")
            if any(not t.strip() for t in value):
                raise ValueError("event_types must not contain empty names")
            unknown = [t for t in value if t not in EVENT_TYPES]
            if unknown:
                raise ValueError(
                    f"{unknown[0]!r} is not an event type; expected some of "
                    f"{', '.join(EVENT_TYPES)} (docs/events.md)"
                )
        return value

    @field_validator("speed")
    @classmethod
    def _positive_speed(cls, value: float | str) -> float | str:
        if value != "max" and not float(value) > 0:
            raise ValueError("speed must be a number > 0, or max")
        return value

    @field_validator("workers")
    @classmethod
    def _some_workers(cls, value: int | str) -> int | str:
        if value != "auto" and not int(value) >= 1:
            raise ValueError("workers must be a whole number >= 1, or auto")
        return value

    @property
    def pace(self) -> float | None:
        """The speed as a number, None for max."""
        return None if self.speed == "max" else float(self.speed)

    @field_validator("keyvault_url")
    @classmethod
    def _https_vault(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith("https://"):
            raise ValueError("keyvault_url must be https://<vault-name>.vault.azure.net/")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> RealtimeSettings:
        if self.retry_backoff_max_s < self.retry_backoff_s:
            raise ValueError(
                f"retry_backoff_max_s ({self.retry_backoff_max_s}) must be >= "
                f"retry_backoff_s ({self.retry_backoff_s})"
            )
        if self.emit_interval_ms is not None and self.max_events_per_second is not None:
            raise ValueError(
                "give either max_events_per_second or emit_interval_ms (+ burst), not both"
            )
        if self.custom_endpoint_address is not None and "://" not in self.custom_endpoint_address:
            raise ValueError("custom_endpoint_address must look like sb://<host>[:<port>]")
        if self.max_buffer < self.batch_size:
            raise ValueError(
                f"max_buffer ({self.max_buffer}) must be >= batch_size ({self.batch_size})"
            )
        return self

    def shard_workers(self, shards: int) -> int:
        """How many worker processes simulate ``shards`` shards (1: a thread instead)."""
        cores = os.cpu_count() or 1
        auto = 1 if cores < 2 else max(2, cores - 1)
        n = auto if self.workers == "auto" else self.workers
        return max(1, min(n, shards))

    @property
    def rate_cap(self) -> float | None:
        """Released events per second: `max_events_per_second`, or `burst` (default 1)
        per `emit_interval_ms`; None = no cap."""
        if self.emit_interval_ms is not None:
            return (self.burst or 1) * 1000.0 / self.emit_interval_ms
        return self.max_events_per_second

    def jsonl_file(self, output_dir: Path) -> Path:
        """The jsonl sink's file: `jsonl_path` (relative to `output_dir`) or the default."""
        path = Path(self.jsonl_path) if self.jsonl_path else DEFAULT_JSONL_PATH
        return path if path.is_absolute() else output_dir / path

    def configured_connection_string(self) -> str | None:
        return self.connection_string.get_secret_value() if self.connection_string else None


def load_realtime_settings(data: object) -> RealtimeSettings:
    """Validate a `realtime:` mapping; errors become one `InputError` naming each field.

    Input values are left out of the message (they may hold a connection string).
    """
    try:
        return RealtimeSettings.model_validate({} if data is None else data)
    except ValidationError as exc:
        problems = "; ".join(
            f"realtime.{'.'.join(str(p) for p in err['loc']) or '<section>'}: {err['msg']}"
            for err in exc.errors(include_input=False, include_url=False)
        )
        raise InputError(f"invalid realtime settings: {problems}") from None
