"""Cheap construction of `azure.eventhub.EventDataBatch` objects from serialized bodies.

`EventDataBatch.add` wraps each body in an `EventData`, re-encodes the whole AMQP message
twice (once to measure it, once to append it) and costs tens of microseconds per event.
Our events are plain bytes with one partition key per batch, so their encoding is a
constant prefix (header + the `x-opt-partition-key` annotation, produced once per key by
the SDK's own encoder), the properties section (`message_id`, `content_type`: two strings
in a fixed 13-field list, encoded here), the application properties (`event_type`,
`schema_version`: produced once per pair by the SDK's encoder) and one AMQP data section.
`BatchBuilder` appends that encoding to the batch directly and keeps the batch's size
accounting exactly as `add` does.

This touches three private attributes of `EventDataBatch` (`_message`, `_size`,
`_count`). `fast_path_available()` checks once per process, against the SDK in use, that
the result is byte-identical to the public `add`; if not (another SDK version, tracing
enabled), the builder falls back to `EventDataBatch.add`. Either way the batch is sent with
the SDK's public `send_batch`.
"""

from __future__ import annotations

import logging
import struct
from functools import lru_cache
from typing import Any

from sim.sinks.base import OutEvent

_LOG = logging.getLogger("sim.sinks.amqp_batch")

_DATA_SMALL = b"\x00\x53\x75\xa0"  # described(0x75 data) + vbin8
_DATA_LARGE = b"\x00\x53\x75\xb0"  # described(0x75 data) + vbin32
_PACK_U32 = struct.Struct(">I").pack
_PROPERTIES = b"\x00\x53\x73"  # described(0x73 properties)
_PROPERTY_FIELDS = 13
# Between message_id (field 0) and content_type (field 6): user_id .. correlation_id;
# after content_type: content_encoding .. reply_to_group_id. All null.
_NULLS_BEFORE_TYPE, _NULLS_AFTER_TYPE = b"\x40" * 5, b"\x40" * 6
# Bytes a message adds to a batch besides its own encoding (see EventDataBatch.add).
_OVERHEAD_SMALL, _OVERHEAD_LARGE = 5, 8


def _sdk() -> Any:
    from azure.eventhub import EventData, EventDataBatch
    from azure.eventhub._pyamqp._encode import encode_payload
    from azure.eventhub._pyamqp.message import Message
    from azure.eventhub._transport._pyamqp_transport import PyamqpTransport

    return EventData, EventDataBatch, encode_payload, Message, PyamqpTransport


@lru_cache(maxsize=4096)
def _prefix(partition_key: str) -> bytes:
    """Encoded header + message annotations of one event with this partition key."""
    _, _, encode_payload, message_cls, transport = _sdk()
    message = transport.set_message_partition_key(message_cls(), partition_key)
    out = bytearray()
    encode_payload(out, message)
    return bytes(out)


def _variable(small: int, large: int, raw: bytes) -> bytes:
    n = len(raw)
    return bytes((small, n)) + raw if n <= 255 else bytes((large,)) + _PACK_U32(n) + raw


def _properties(message_id: str, content_type: str) -> bytes:
    """The properties section: message_id (str), content_type (symbol), the rest null."""
    items = (
        _variable(0xA1, 0xB1, message_id.encode())
        + _NULLS_BEFORE_TYPE
        + _variable(0xA3, 0xB3, content_type.encode("ascii"))
        + _NULLS_AFTER_TYPE
    )
    n = len(items)
    if n < 255:
        return _PROPERTIES + bytes((0xC0, n + 1, _PROPERTY_FIELDS)) + items
    return _PROPERTIES + b"\xd0" + _PACK_U32(n + 4) + _PACK_U32(_PROPERTY_FIELDS) + items


@lru_cache(maxsize=1024)
def _application_properties(event_type: str, schema_version: int) -> bytes:
    """The application-properties section, by the SDK's own encoder."""
    _, _, encode_payload, message_cls, _ = _sdk()
    out = bytearray()
    encode_payload(
        out,
        message_cls(
            application_properties={"event_type": event_type, "schema_version": schema_version}
        ),
    )
    return bytes(out)


@lru_cache(maxsize=1024)
def _after_id(content_type: str, event_type: str, schema_version: int) -> tuple[bytes, int]:
    """What follows a short message id: the rest of the properties list, then the
    application properties; and the list items' size without the id."""
    ct = _variable(0xA3, 0xB3, content_type.encode("ascii"))
    rest = _NULLS_BEFORE_TYPE + ct + _NULLS_AFTER_TYPE
    return rest + _application_properties(event_type, schema_version), len(rest)


def _data(body: bytes) -> bytes:
    n = len(body)
    if n <= 255:
        return _DATA_SMALL + bytes((n,)) + body
    return _DATA_LARGE + _PACK_U32(n) + body


def encode_event(event: OutEvent) -> bytes:
    """The AMQP encoding of one event message, as the SDK would produce it."""
    return (
        _prefix(event.partition_key)
        + _properties(event.message_id, event.content_type)
        + _application_properties(event.event_type, event.schema_version)
        + _data(event.body)
    )


def to_event_data(event: OutEvent) -> Any:
    """The SDK's `EventData` of an event, with its message properties (the public path)."""
    event_data = _sdk()[0](event.body)
    event_data.message_id = event.message_id
    event_data.content_type = event.content_type
    event_data.properties = event.application_properties()
    return event_data


class BatchBuilder:
    """Fills one `EventDataBatch` for one partition key, up to its byte limit."""

    __slots__ = ("batch", "_fast", "_key", "_prefix", "_data", "_limit")

    def __init__(self, partition_key: str, max_size_in_bytes: int, fast: bool) -> None:
        _, batch_cls, _, _, transport = _sdk()
        self.batch = batch_cls(
            max_size_in_bytes=max_size_in_bytes,
            partition_key=partition_key,
            amqp_transport=transport,
        )
        self._fast = fast
        self._key = partition_key
        self._prefix = _prefix(partition_key)
        self._data: list[Any] = self.batch._message[5]
        self._limit = max_size_in_bytes

    def __len__(self) -> int:
        return len(self.batch)

    def try_add(self, event: OutEvent) -> bool:
        """Append one event (of this builder's key); False (batch unchanged) when it
        would exceed the limit."""
        if not self._fast:
            try:
                self.batch.add(to_event_data(event))
            except ValueError:
                return False
            return True
        body = event.body
        n = len(body)
        data = _DATA_SMALL + bytes((n,)) if n <= 255 else _DATA_LARGE + _PACK_U32(n)
        mid = (event.event_id or f"{event.trace_id}:{event.event_type}").encode()
        tail, rest = _after_id(event.content_type, event.event_type, event.schema_version)
        size = len(mid) + 2 + rest  # the properties list's items, id as str8
        if size < 255:  # the common case: list8, str8 id
            head = bytes((0xC0, size + 1, _PROPERTY_FIELDS, 0xA1, len(mid)))
            encoded = b"".join((self._prefix, _PROPERTIES, head, mid, tail, data, body))
        else:
            encoded = (
                self._prefix
                + _properties(event.message_id, event.content_type)
                + _application_properties(event.event_type, event.schema_version)
                + data
                + body
            )
        size = len(encoded)
        batch = self.batch
        after = batch._size + size + (_OVERHEAD_SMALL if size < 256 else _OVERHEAD_LARGE)
        if after > self._limit:
            return False
        self._data.append(encoded)
        batch._size = after
        batch._count += 1
        return True


@lru_cache(maxsize=1)
def fast_path_available() -> bool:
    """True when `BatchBuilder`'s direct encoding matches `EventDataBatch.add` exactly."""
    try:
        _, batch_cls, encode_payload, _, transport = _sdk()
        key = "store-\u00e9-1"
        events = [
            OutEvent(key, b'{"k":"short"}', "t-1", "receipt_created"),
            OutEvent(key, b'{"k":"' + b"x" * 400 + b'"}', "t-2", "inventory_updated", "e-2", 7),
            OutEvent(key, b"{}", "t-\u00e9" * 90, "ble_ping_detected", "", 300, "text/plain"),
            OutEvent(key, b"{}", "t-4", "x" * 300, "i" * 300, -2),
        ]
        reference = batch_cls(max_size_in_bytes=65536, partition_key=key, amqp_transport=transport)
        for event in events:
            reference.add(to_event_data(event))
        builder = BatchBuilder(key, 65536, fast=True)
        for event in events:
            if not builder.try_add(event):
                return False
        ref_bytes, fast_bytes = bytearray(), bytearray()
        encode_payload(ref_bytes, reference._message)
        encode_payload(fast_bytes, builder.batch._message)
        same = (
            ref_bytes == fast_bytes
            and reference.size_in_bytes == builder.batch.size_in_bytes
            and len(reference) == len(builder.batch)
        )
    except Exception as exc:  # any SDK change: use the public path
        _LOG.warning("fast batch encoding unavailable (%s); using EventDataBatch.add", type(exc))
        return False
    if not same:
        _LOG.warning("fast batch encoding differs from this SDK's; using EventDataBatch.add")
    return same
