"""Redaction: secrets (connection-string keys, signatures, registered values) never leave
the process in a message, a log line or a file."""

from __future__ import annotations

import logging
import re
import threading

MASK = "***"

_REDACTIONS = (
    # SharedAccessKey=<value> (not SharedAccessKeyName), in strings, dict reprs, URLs.
    re.compile(r"(SharedAccessKey(?!Name)[\"']?\s*[=:]\s*[\"']?)[^;\"'\s,}&]+", re.IGNORECASE),
    re.compile(r"(SharedAccessSignature[\"']?\s*[=:]\s*[\"']?)[^;\"'\s,}]+", re.IGNORECASE),
    re.compile(r"(SharedAccessSignature\s+)[^;\"'\s,}]+", re.IGNORECASE),
    re.compile(r"(\bsig=)[^&;\"'\s,}]+", re.IGNORECASE),
)
_known_secrets: set[str] = set()
_secrets_lock = threading.Lock()


def register_secret(value: str | None) -> None:
    """Make `redact` mask this exact value wherever it appears (keys shorter than 6
    characters are masked by pattern only)."""
    if value and len(value) >= 6:
        with _secrets_lock:
            _known_secrets.add(value)


def redact(text: str) -> str:
    """`text` with SharedAccessKey / SharedAccessSignature values and known secrets masked."""
    for pattern in _REDACTIONS:
        text = pattern.sub(rf"\1{MASK}", text)
    with _secrets_lock:
        secrets = sorted(_known_secrets, key=len, reverse=True)
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, MASK)
    return text


def describe_error(exc: BaseException) -> str:
    """A one-line, redacted description of an exception."""
    message = " ".join(str(exc).split())
    name = type(exc).__name__
    return redact(f"{name}: {message}" if message else name)


class RedactingFilter(logging.Filter):
    """A logging filter that redacts the formatted message of every record it sees."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken record: leave it to the handler
            return True
        cleaned = redact(message)
        if cleaned != message or record.args:
            record.msg, record.args = cleaned, None
        if record.exc_info and record.exc_info[1] is not None and not record.exc_text:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True


_FILTER = RedactingFilter()


def install_log_redaction() -> None:
    """Attach the redacting filter to `sim.sinks` and every `azure` logger that exists."""
    names = ["sim.sinks", "azure"] + [
        name for name in logging.root.manager.loggerDict if name.startswith("azure.")
    ]
    for name in names:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
