"""Pieces of the Event Hubs sink that need no sink: the SDK check, retry timing, limits."""

from __future__ import annotations

import importlib.util
import zlib

from sim.sinks.connection import MissingExtraError

# Until a link reports its limit, stay within the smallest tier's (Basic: 256 KiB).
SAFE_MAX_MESSAGE_BYTES = 256 * 1024
# Opening a producer (connection, CBS token, link) must not be cut short by a small
# send timeout: a cancelled open starts from scratch on the next attempt.
OPEN_TIMEOUT_S = 5.0
# A stop waits for the batches in flight at most send_timeout_s plus this, then
# dead-letters what is left; closing each producer connection waits at most this too.
CLOSE_GRACE_S = 3.0


def require_eventhub_sdk() -> None:
    """Raise `MissingExtraError` with the install command when azure-eventhub is absent."""
    if (
        importlib.util.find_spec("azure") is None
        or importlib.util.find_spec("azure.eventhub") is None
    ):
        raise MissingExtraError(
            "the eventhub sink needs the azure-eventhub package: pip install -e '.[eventhub]'"
        )


def backoff_delay(attempt: int, base_s: float, max_s: float, seed: str) -> float:
    """Delay before retry number `attempt` (1-based): base * 2**(attempt-1), capped, times a
    jitter factor in [0.5, 1.0] derived from `seed` (deterministic, no global RNG)."""
    raw = min(max_s, base_s * (2 ** (attempt - 1)))
    jitter = zlib.crc32(f"{seed}:{attempt}".encode()) / 0xFFFFFFFF
    return raw * (0.5 + 0.5 * jitter)


def retryable(exc: BaseException) -> bool:
    try:
        from azure.eventhub.exceptions import EventDataError
    except ImportError:  # pragma: no cover - the sink cannot run without it
        return True
    return not isinstance(exc, EventDataError | ValueError | TypeError)
