"""`check-connection`: resolve and validate the credential, then reach the hub."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import TextIO

from sim.config.realtime import RealtimeSettings
from sim.config.secrets import describe_error, install_log_redaction
from sim.sinks.connection import (
    ConnectionInfo,
    ConnectionStringError,
    MissingExtraError,
    parse_connection_string,
    resolve_connection_string,
    sdk_connection_string,
)
from sim.sinks.deadletter import DeadLetterStore

EXIT_OK, EXIT_FAILED, EXIT_BAD_STRING = 0, 1, 2


async def _read_partitions(
    conn_str: str, info: ConnectionInfo, settings: RealtimeSettings
) -> list[str]:
    from azure.eventhub.aio import EventHubProducerClient

    from sim.sinks.transport import client_options

    client = EventHubProducerClient.from_connection_string(
        sdk_connection_string(conn_str),
        eventhub_name=info.entity_path,
        retry_total=0,
        **client_options(settings),
    )
    timeout_s = settings.send_timeout_s
    install_log_redaction()
    try:
        props = await asyncio.wait_for(client.get_eventhub_properties(), timeout_s)
    finally:
        await client.close()
    return list(props["partition_ids"])


def check_connection(
    settings: RealtimeSettings,
    output_dir: Path,
    *,
    connection_string: str | None = None,
    out: TextIO | None = None,
) -> int:
    """Print one line per step and return 0 (reachable), 1 (unreachable), 2 (bad string).

    `connection_string`, when given, is used instead of resolving one.
    """
    out = out or sys.stdout
    install_log_redaction()
    try:
        if connection_string is None:
            resolved = resolve_connection_string(
                keyvault_url=settings.keyvault_url,
                keyvault_secret=settings.keyvault_secret,
                configured=settings.configured_connection_string(),
            )
            conn_str, source = resolved.value, resolved.source
        else:
            conn_str, source = connection_string, "the command line"
        info = parse_connection_string(conn_str, settings.hub_name)
    except ConnectionStringError as exc:
        print(f"check-connection: FAILED: {exc}", file=out)
        return EXIT_BAD_STRING
    except MissingExtraError as exc:
        print(f"check-connection: FAILED: {exc}", file=out)
        return EXIT_FAILED
    print(
        f"check-connection: {info.kind} at {info.host}, hub {info.entity_path!r}, "
        f"credential from {source}, transport {settings.transport}",
        file=out,
    )
    try:
        partitions = asyncio.run(_read_partitions(conn_str, info, settings))
    except MissingExtraError as exc:
        print(f"check-connection: FAILED: {exc}", file=out)
        return EXIT_FAILED
    except ImportError:
        print(
            "check-connection: FAILED: the azure-eventhub package is missing: "
            "pip install -e '.[eventhub]'",
            file=out,
        )
        return EXIT_FAILED
    except TimeoutError:
        print(
            f"check-connection: FAILED: no answer from {info.host} within "
            f"{settings.send_timeout_s:g}s",
            file=out,
        )
        return EXIT_FAILED
    except Exception as exc:
        print(f"check-connection: FAILED: {describe_error(exc)}", file=out)
        return EXIT_FAILED
    pending = DeadLetterStore(Path(output_dir)).count()
    note = f"; {pending} event(s) waiting in the dead-letter store" if pending else ""
    print(
        f"check-connection: OK: {len(partitions)} partition(s) [{', '.join(partitions)}]{note}",
        file=out,
    )
    return EXIT_OK
