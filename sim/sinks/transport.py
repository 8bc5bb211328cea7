"""How the Event Hubs SDK connects: the producer client's options for `realtime.transport`,
`realtime.custom_endpoint_address` and `realtime.connection_verify`."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from sim.config.realtime import RealtimeSettings
from sim.errors import InputError
from sim.sinks.connection import MissingExtraError


def client_options(settings: RealtimeSettings) -> dict[str, Any]:
    """Keyword arguments of `EventHubProducerClient` for the transport settings.

    `transport: websocket` is AMQP over WebSockets (port 443 unless
    `custom_endpoint_address` names another), for networks that block 5671; the SDK's
    async websocket transport needs aiohttp (`pip install -e '.[eventhub]'`).
    `custom_endpoint_address` (sb://host[:port]) connects there instead of the namespace
    host, e.g. an application gateway or a private endpoint. `connection_verify` is a CA
    bundle (PEM) that verifies the endpoint's TLS certificate instead of the system's.
    """
    from azure.eventhub import TransportType

    options: dict[str, Any] = {}
    if settings.transport == "websocket":
        if importlib.util.find_spec("aiohttp") is None:
            raise MissingExtraError(
                "realtime.transport: websocket needs the aiohttp package: "
                "pip install -e '.[eventhub]'"
            )
        options["transport_type"] = TransportType.AmqpOverWebsocket
    else:
        options["transport_type"] = TransportType.Amqp
    if settings.custom_endpoint_address:
        options["custom_endpoint_address"] = settings.custom_endpoint_address
    if settings.connection_verify:
        if not Path(settings.connection_verify).is_file():
            raise InputError(
                f"realtime.connection_verify: {settings.connection_verify}: expected a PEM "
                "CA bundle file, found none"
            )
        options["connection_verify"] = settings.connection_verify
    return options
