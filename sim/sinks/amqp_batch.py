"""Cheap construction of `azure.eventhub.EventDataBatch` objects from serialized bodies.

`EventDataBatch.add` wraps each body in an `EventData`, re-encodes the whole AMQP message
twice (once to measure it, once to append it) and costs tens of microseconds per event.
Our events are plain bytes with one partition key per batch, so their encoding is a
constant prefix (header + the `x-opt-partition-key` annotation, produced once per key by
the SDK's own encoder) followed by one AMQP data section. `BatchBuilder` appends that
encoding to the batch directly and keeps the batch's size accounting exactly as `add` does.

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

_LOG = logging.getLogger("sim.sinks.amqp_batch")

_DATA_SMALL = b"\x00\x53\x75\xa0"  # described(0x75 data) + vbin8
_DATA_LARGE = b"\x00\x53\x75\xb0"  # described(0x75 data) + vbin32
_PACK_U32 = struct.Struct(">I").pack
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


def encode_event(partition_key: str, body: bytes) -> bytes:
    """The AMQP encoding of one event message, as the SDK would produce it."""
    n = len(body)
    if n <= 255:
        return _prefix(partition_key) + _DATA_SMALL + bytes((n,)) + body
    return _prefix(partition_key) + _DATA_LARGE + _PACK_U32(n) + body


class BatchBuilder:
    """Fills one `EventDataBatch` for one partition key, up to its byte limit."""

    __slots__ = ("batch", "_fast", "_key", "_prefix", "_data", "_limit", "_event_data")

    def __init__(self, partition_key: str, max_size_in_bytes: int, fast: bool) -> None:
        event_data, batch_cls, _, _, transport = _sdk()
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
        self._event_data = event_data

    def __len__(self) -> int:
        return len(self.batch)

    def try_add(self, body: bytes) -> bool:
        """Append one event; False (batch unchanged) when it would exceed the limit."""
        if not self._fast:
            try:
                self.batch.add(self._event_data(body))
            except ValueError:
                return False
            return True
        n = len(body)
        if n <= 255:
            encoded = self._prefix + _DATA_SMALL + bytes((n,)) + body
        else:
            encoded = self._prefix + _DATA_LARGE + _PACK_U32(n) + body
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
        event_data, batch_cls, encode_payload, _, transport = _sdk()
        bodies = [b'{"k":"short"}', b'{"k":"' + b"x" * 400 + b'"}', b"{}"]
        key = "store-\u00e9-1"
        reference = batch_cls(max_size_in_bytes=65536, partition_key=key, amqp_transport=transport)
        for body in bodies:
            reference.add(event_data(body))
        builder = BatchBuilder(key, 65536, fast=True)
        for body in bodies:
            if not builder.try_add(body):
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
