"""Event Hubs connection strings: resolution, validation and redaction of secrets.

Credential sources, first found wins:

1. Azure Key Vault, when `keyvault_url` (or env `AZURE_KEYVAULT_URL`) is set: secret
   `keyvault_secret`, read with `DefaultAzureCredential` (extra `keyvault`);
2. env `AZURE_EVENTHUB_CONNECTION_STRING`;
3. the same variable in a `.env` file in the current directory;
4. `connection_string` in the scenario's `realtime:` section.

Nothing here ever puts a key or signature into a message: use `redact()` on any text
that may contain one.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

from sim.config.secrets import describe_error, register_secret
from sim.errors import InputError, RunError

ENV_CONNECTION_STRING = "AZURE_EVENTHUB_CONNECTION_STRING"
ENV_KEYVAULT_URL = "AZURE_KEYVAULT_URL"

_FABRIC_ENTITY = re.compile(
    r"^es_[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.IGNORECASE
)


class ConnectionStringError(InputError):
    """A missing or malformed connection string; the message never contains a secret."""


class MissingExtraError(RunError):
    """An optional dependency is not installed."""


@dataclass(frozen=True, slots=True)
class ConnectionInfo:
    """The parts of a validated connection string. Secrets are excluded from repr."""

    endpoint: str
    host: str
    entity_path: str | None
    key_name: str | None
    key: str | None = field(repr=False)
    signature: str | None = field(repr=False)
    use_emulator: bool

    @property
    def is_fabric(self) -> bool:
        """A Microsoft Fabric eventstream custom endpoint (same protocol as Event Hubs)."""
        host = self.host.lower()
        return host.endswith(".servicebus.windows.net") and (
            host.startswith("eventstream-") or bool(_FABRIC_ENTITY.match(self.entity_path or ""))
        )

    @property
    def kind(self) -> str:
        if self.use_emulator:
            return "Event Hubs emulator"
        return "Microsoft Fabric eventstream" if self.is_fabric else "Azure Event Hubs"


def _split(conn_str: str) -> dict[str, str]:
    parts: dict[str, str] = {}
    for position, segment in enumerate(conn_str.strip().split(";"), start=1):
        if not segment.strip():
            continue
        name, sep, value = segment.partition("=")
        if not sep:  # a pasted bare key: name its place, never its text
            raise ConnectionStringError(
                f"connection string segment {position} (of {conn_str.strip().count(';') + 1}, "
                "separated by ';') is not Key=Value; expected Endpoint=..., "
                "SharedAccessKeyName=..., SharedAccessKey=..., EntityPath=..."
            )
        parts[name.strip().lower()] = value.strip()
    return parts


def parse_connection_string(conn_str: str, hub_name: str | None = None) -> ConnectionInfo:
    """Parse and validate an Event Hubs / Fabric connection string.

    `hub_name` overrides `EntityPath`. Raises `ConnectionStringError` naming what is
    missing or malformed.
    """
    if not conn_str or not conn_str.strip():
        raise ConnectionStringError("the Event Hubs connection string is empty")
    parts = _split(conn_str)
    key, signature = parts.get("sharedaccesskey"), parts.get("sharedaccesssignature")
    register_secret(key)
    register_secret(signature)
    missing: list[str] = []
    endpoint = parts.get("endpoint", "")
    if not endpoint:
        missing.append("Endpoint")
    if signature is None:
        if not parts.get("sharedaccesskeyname"):
            missing.append("SharedAccessKeyName")
        if not key:
            missing.append("SharedAccessKey")
    entity = hub_name or parts.get("entitypath") or None
    if not entity:
        missing.append("EntityPath (or realtime.hub_name)")
    if missing:
        raise ConnectionStringError(
            "the Event Hubs connection string lacks "
            + ", ".join(missing)
            + " (expected Endpoint=sb://<namespace>.servicebus.windows.net/;"
            "SharedAccessKeyName=<name>;SharedAccessKey=<key>;EntityPath=<hub>)"
        )
    if key and signature:
        raise ConnectionStringError(
            "the connection string has both SharedAccessKey and SharedAccessSignature; keep one"
        )
    parsed = urlparse(endpoint)
    if parsed.scheme.lower() not in ("sb", "amqps", "amqp") or not parsed.hostname:
        raise ConnectionStringError(
            f"Endpoint {endpoint!r} is not of the form sb://<namespace>.servicebus.windows.net/"
        )
    emulator_flag = parts.get("usedevelopmentemulator")
    if emulator_flag is not None and emulator_flag.lower() not in ("true", "false"):
        raise ConnectionStringError("UseDevelopmentEmulator must be true or false")
    return ConnectionInfo(
        endpoint=endpoint,
        host=parsed.hostname,
        entity_path=entity,
        key_name=parts.get("sharedaccesskeyname"),
        key=key,
        signature=signature,
        use_emulator=emulator_flag is not None and emulator_flag.lower() == "true",
    )


def sdk_connection_string(conn_str: str) -> str:
    """The string handed to the SDK: `UseDevelopmentEmulator` normalised to exactly `true`
    (the SDK compares it case-sensitively)."""
    out = []
    for segment in conn_str.strip().split(";"):
        name, sep, value = segment.partition("=")
        if name.strip().lower() == "usedevelopmentemulator":
            segment = f"UseDevelopmentEmulator={value.strip().lower()}"
        if segment.strip():
            out.append(segment.strip())
    return ";".join(out)


def read_dotenv(path: Path, name: str) -> str | None:
    """The value of `name` in a simple KEY=VALUE `.env` file, or None."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (FileNotFoundError, IsADirectoryError, PermissionError):
        return None
    for raw in lines:
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[len("export ") :].lstrip()
        key, sep, value = line.partition("=")
        if not sep or key.strip() != name:
            continue
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        return value or None
    return None


@dataclass(frozen=True, slots=True)
class ResolvedCredential:
    """A connection string and where it came from (the source names no secret)."""

    value: str = field(repr=False)
    source: str


def _from_keyvault(url: str, secret_name: str) -> str:
    try:
        from azure.identity import DefaultAzureCredential
        from azure.keyvault.secrets import SecretClient
    except ImportError as exc:
        raise MissingExtraError(
            "reading the connection string from Key Vault needs azure-keyvault-secrets and "
            "azure-identity: pip install -e '.[keyvault]'"
        ) from exc
    try:
        secret = SecretClient(vault_url=url, credential=DefaultAzureCredential()).get_secret(
            secret_name
        )
    except Exception as exc:
        raise ConnectionStringError(
            f"could not read secret {secret_name!r} from Key Vault {url}: {describe_error(exc)}"
        ) from None
    if not secret.value:
        raise ConnectionStringError(f"Key Vault secret {secret_name!r} at {url} is empty")
    register_secret(secret.value)
    return secret.value


def resolve_connection_string(
    *,
    keyvault_url: str | None,
    keyvault_secret: str,
    configured: str | None,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> ResolvedCredential:
    """Find the connection string (Key Vault, env, `.env`, settings — in that order)."""
    env = os.environ if env is None else env
    vault = keyvault_url or env.get(ENV_KEYVAULT_URL)
    if vault:
        return ResolvedCredential(_from_keyvault(vault, keyvault_secret), f"Key Vault {vault}")
    value = env.get(ENV_CONNECTION_STRING)
    if value and value.strip():
        register_secret(value)
        return ResolvedCredential(value, f"environment variable {ENV_CONNECTION_STRING}")
    dotenv = (cwd or Path.cwd()) / ".env"
    value = read_dotenv(dotenv, ENV_CONNECTION_STRING)
    if value:
        register_secret(value)
        return ResolvedCredential(value, f"{ENV_CONNECTION_STRING} in {dotenv}")
    if configured and configured.strip():
        register_secret(configured)
        return ResolvedCredential(configured, "realtime.connection_string in the scenario")
    raise ConnectionStringError(
        "no Event Hubs connection string: set realtime.keyvault_url (or AZURE_KEYVAULT_URL), "
        f"or {ENV_CONNECTION_STRING} in the environment or in ./.env, "
        "or realtime.connection_string in the scenario"
    )
