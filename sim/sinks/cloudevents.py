"""CloudEvents 1.0 structured JSON envelopes (`realtime.envelope: cloudevents`).

A pure function over the native envelope: the event becomes

    {"specversion": "1.0", "id": <event id>, "source": "retail-sim/store-12",
     "type": "receipt_created", "time": <payload EventTS>, "subject": "store-12",
     "datacontenttype": "application/json", "data": <payload>,
     "traceid": <TraceId>, "schemaversion": 1, "ingesttime": <ingest_timestamp>,
     "partitionkey": "store-12"}

`type` is the native `event_type` as is (the same value as the `event_type` application
property, so one routing rule serves both envelopes); `time` is the event's own time
(EventTS), not the time it was sent. `traceid`, `schemaversion`, `ingesttime` and
`partitionkey` are CloudEvents extension attributes (lower-case alphanumeric names, as
the spec requires; `partitionkey` is the spec's Partitioning extension). Over AMQP the
structured mode's media type is `application/cloudevents+json` (CloudEvents AMQP
binding, 3.2): that is the `content_type` of these messages.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import orjson

from sim.sinks.base import OutEvent

SPEC_VERSION = "1.0"
CONTENT_TYPE = "application/cloudevents+json"
DATA_CONTENT_TYPE = "application/json"


def cloudevent(
    *,
    event_id: str,
    event_type: str,
    source: str,
    payload: dict,
    trace_id: str,
    schema_version: int,
    ingest_timestamp: str | None,
    partition_key: str | None,
) -> dict:
    """The CloudEvents 1.0 structured form of one event (see the module docstring)."""
    event: dict = {
        "specversion": SPEC_VERSION,
        "id": event_id,
        "source": source,
        "type": event_type,
    }
    if payload.get("EventTS"):
        event["time"] = payload["EventTS"]
    if partition_key:
        event["subject"] = partition_key
    event["datacontenttype"] = DATA_CONTENT_TYPE
    event["data"] = payload
    event["traceid"] = trace_id
    event["schemaversion"] = schema_version
    if ingest_timestamp:
        event["ingesttime"] = ingest_timestamp
    if partition_key:
        event["partitionkey"] = partition_key
    return event


def from_native(body: bytes, event_id: str, partition_key: str | None = None) -> bytes:
    """The CloudEvents JSON of a native envelope's bytes."""
    native = orjson.loads(body)
    source = str(native.get("source") or "retail-sim")
    if partition_key is None and "/" in source:
        partition_key = source.rsplit("/", 1)[1]
    return orjson.dumps(
        cloudevent(
            event_id=event_id,
            event_type=native["event_type"],
            source=source,
            payload=native["payload"],
            trace_id=native["trace_id"],
            schema_version=int(native.get("schema_version", 1)),
            ingest_timestamp=native.get("ingest_timestamp"),
            partition_key=partition_key,
        )
    )


def to_cloudevents(event: OutEvent) -> OutEvent:
    """The same event with a CloudEvents body and content type (id and properties kept).

    A body that is not JSON (a `truncated` malformed fault) is sent as it is."""
    try:
        body = from_native(event.body, event.message_id, event.partition_key)
    except (orjson.JSONDecodeError, KeyError, TypeError):
        body = event.body
    return dataclasses.replace(
        event,
        body=body,
        event_id=event.message_id,
        content_type=CONTENT_TYPE,
    )


def _native(events: list[OutEvent]) -> list[OutEvent]:
    return events


def _cloudevents(events: list[OutEvent]) -> list[OutEvent]:
    return [to_cloudevents(e) for e in events]


def envelope_stage(kind: str) -> Callable[[list[OutEvent]], list[OutEvent]]:
    """The per-batch envelope step of `realtime.envelope`: identity for `native`."""
    if kind == "native":
        return _native
    if kind == "cloudevents":
        return _cloudevents
    raise ValueError(f"unknown envelope {kind!r}; expected native or cloudevents")
