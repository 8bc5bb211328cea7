"""A local AMQP 1.0 endpoint that acts as an Azure Event Hub toward the official SDK.

The AMQP state machine (SASL, sessions, links, flow control, settlement) is the real
Qpid Proton engine (`proton.Transport` / `proton.Connection`), driven by a socket loop in a
background thread on 127.0.0.1. Two things are added on top of proton:

* the Event Hubs service nodes the SDK needs: the `$cbs` put-token exchange, the
  `$management` READ of `com.microsoft:eventhub` / `com.microsoft:partition`, and sender
  links to `<hub>` and `<hub>/Partitions/<id>`;
* a frame rewriter: proton omits trailing null fields of a performative (legal AMQP), but
  the SDK's `_pyamqp` stack reads performative fields by position, so every frame the
  endpoint sends is re-encoded with all its fields present (padded with nulls).

Received events are decoded (batch messages are split into their inner messages) and kept
with their partition key, message properties (`message_id`, `content_type`), application
properties and arrival order. Faults can be switched at runtime.

Run `python tests/eventhub_endpoint.py` to serve until interrupted (used by the bench).
"""

from __future__ import annotations

import enum
import itertools
import selectors
import socket
import struct
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import urlparse

from proton import (
    Collector,
    Condition,
    Connection,
    Data,
    Delivery,
    Endpoint,
    Event,
    Link,
    Message,
    Transport,
)

PARTITION_KEY_ANNOTATION = "x-opt-partition-key"
TEST_KEY_NAME = "RootManageSharedAccessKey"

# Field count of every performative the endpoint may send (AMQP 1.0, part 2.7 and 5.3).
_FIELD_COUNTS = {
    0x10: 10,  # open
    0x11: 8,  # begin
    0x12: 14,  # attach
    0x13: 11,  # flow
    0x14: 11,  # transfer
    0x15: 6,  # disposition
    0x16: 3,  # detach
    0x17: 1,  # end
    0x18: 1,  # close
    0x40: 1,  # sasl-mechanisms
    0x44: 2,  # sasl-outcome
}
_SECTION_CODES = frozenset(range(0x70, 0x79))
_INFO = {"source": "local-eventhub-endpoint"}


class Fault(enum.Enum):
    """Faults the endpoint can inject on deliveries to the hub."""

    SERVER_BUSY = "server-busy"  # reject with com.microsoft:server-busy
    UNAUTHORIZED = "unauthorized"  # reject with amqp:unauthorized-access
    DETACH = "detach"  # detach the sender's link with an error
    CLOSE_CONNECTION = "close-connection"  # close the connection with an error
    RESET = "reset"  # abort the TCP connection (RST)
    NEVER_SETTLE = "never-settle"  # keep the delivery unsettled forever
    ACCEPT_THEN_RESET = "accept-then-reset"  # store the events, then RST before settling


@dataclass(frozen=True, slots=True)
class ReceivedEvent:
    """One event message as the endpoint received it."""

    seq: int
    body: bytes
    partition_key: str | None
    partition_id: str | None
    message_id: object = None
    content_type: str | None = None
    application_properties: dict | None = None


@dataclass(frozen=True, slots=True)
class DecodedMessage:
    """One message of a transfer: body, partition key and properties."""

    body: bytes
    partition_key: str | None
    message_id: object = None
    content_type: str | None = None
    application_properties: dict | None = None


def pad_frame(frame: bytes) -> bytes:
    """Return `frame` with its performative carrying all of its fields (nulls appended)."""
    doff = frame[4] * 4
    body = frame[doff:]
    if len(body) < 4 or body[0] != 0:
        return frame
    if body[1] == 0x53:
        code, pos = body[2], 3
    elif body[1] == 0x80:
        code, pos = int.from_bytes(body[2:10], "big"), 10
    else:
        return frame
    want = _FIELD_COUNTS.get(code)
    ctor = body[pos]
    if ctor == 0x45:
        count, items, end = 0, b"", pos + 1
    elif ctor == 0xC0:
        size, count = body[pos + 1], body[pos + 2]
        items, end = body[pos + 3 : pos + 2 + size], pos + 2 + size
    elif ctor == 0xD0:
        size, count = struct.unpack(">II", body[pos + 1 : pos + 9])
        items, end = body[pos + 9 : pos + 5 + size], pos + 5 + size
    else:
        return frame
    if want is None or count >= want:
        return frame
    items += b"\x40" * (want - count)
    new_body = body[:pos] + b"\xd0" + struct.pack(">II", len(items) + 4, want) + items + body[end:]
    head = frame[:doff]
    return struct.pack(">I", doff + len(new_body)) + head[4:] + new_body


class _FramePadder:
    """Splits proton's output byte stream into frames and pads each performative."""

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, data: bytes) -> bytes:
        self._buf += data
        out = bytearray()
        buf = self._buf
        pos = 0
        while len(buf) - pos >= 8:
            if buf[pos : pos + 4] == b"AMQP":
                out += buf[pos : pos + 8]
                pos += 8
                continue
            size = struct.unpack_from(">I", buf, pos)[0]
            if len(buf) - pos < size:
                break
            out += pad_frame(bytes(buf[pos : pos + size]))
            pos += size
        del buf[:pos]
        return bytes(out)


def _iter_sections(payload: bytes) -> Iterator[tuple[int, object]]:
    """Yield (section descriptor code, value) for every section of an encoded message."""
    data = Data()
    view = memoryview(payload)
    while view:
        data.clear()
        used = data.decode(bytes(view))
        view = view[used:]
        data.rewind()
        data.next()
        described = data.get_object()
        yield int(described.descriptor), described.value


def _decode_message(payload: bytes, outer_key: str | None = None) -> DecodedMessage:
    key, body, message_id, content_type, app = outer_key, b"", None, None, None
    for code, value in _iter_sections(payload):
        if code == 0x72 and isinstance(value, dict) and PARTITION_KEY_ANNOTATION in value:
            key = str(value[PARTITION_KEY_ANNOTATION])
        elif code == 0x73 and isinstance(value, list | tuple):
            message_id = value[0] if value else None
            if len(value) > 6 and value[6] is not None:
                content_type = str(value[6])
        elif code == 0x74 and isinstance(value, dict):
            app = {str(k): v for k, v in value.items()}
        elif code == 0x75:
            body += bytes(value)
    return DecodedMessage(body, key, message_id, content_type, app)


def count_events(payload: bytes) -> int:
    """The number of event messages in one transfer (data sections of a batch)."""
    data = sum(1 for code, _ in _iter_sections(payload) if code == 0x75)
    return max(1, data)


def decode_events(payload: bytes) -> list[DecodedMessage]:
    """Decode one transfer: a batch message gives its inner messages, else the message."""
    outer_key: str | None = None
    bodies: list[bytes] = []
    for code, value in _iter_sections(payload):
        if code == 0x72 and isinstance(value, dict):
            key = value.get(PARTITION_KEY_ANNOTATION)
            outer_key = None if key is None else str(key)
        elif code == 0x75:
            bodies.append(bytes(value))
    is_batch = bool(bodies) and all(
        len(b) > 3 and b[0] == 0 and b[1] == 0x53 and b[2] in _SECTION_CODES for b in bodies
    )
    if not is_batch:
        return [_decode_message(payload)]
    return [_decode_message(inner, outer_key) for inner in bodies]


@dataclass
class _Conn:
    sock: socket.socket
    transport: Transport
    connection: Connection
    collector: Collector
    padder: _FramePadder = field(default_factory=_FramePadder)
    dead: bool = False


class EventHubEndpoint:
    """An Event Hub on 127.0.0.1 that the `azure-eventhub` SDK can send to.

    Use as a context manager, or call `start()` / `stop()`.
    """

    def __init__(
        self,
        hub: str = "hub",
        partitions: int = 4,
        *,
        port: int = 0,
        credit: int = 200,
        max_message_size: int = 1024 * 1024,
        keep_events: bool = True,
        keep_payload_bytes: int = 0,
    ) -> None:
        """``keep_events=False`` counts events without decoding them (the benches); it
        still keeps the first ``keep_payload_bytes`` bytes of raw transfer payloads,
        undecoded (:meth:`payloads`, decode later with :func:`decode_events`)."""
        self.hub = hub
        self.partition_ids = [str(i) for i in range(partitions)]
        self._credit = credit
        self._max_message_size = max_message_size
        self._keep_events = keep_events
        self._keep_payload_bytes = keep_payload_bytes
        self._payloads: list[bytes] = []
        self._payload_bytes = 0
        self._lock = threading.Condition()
        self._events: list[ReceivedEvent] = []
        self._count = 0
        self._deliveries = 0
        self._fault: Fault | None = None
        self._fault_remaining: int | None = None
        self._listener = socket.create_server(("127.0.0.1", port))
        self._listener.setblocking(False)
        self.port: int = self._listener.getsockname()[1]
        self._selector = selectors.DefaultSelector()
        self._conns: dict[int, _Conn] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="eventhub-endpoint", daemon=True)
        self._tags = itertools.count()
        self.connections_accepted = 0
        self.management_requests: list[str] = []

    # -- public API -------------------------------------------------------------------

    def connection_string(
        self, key: str = "local-test-key", *, key_name: str = TEST_KEY_NAME, entity: bool = True
    ) -> str:
        """A connection string for this endpoint (development-emulator mode, no TLS)."""
        parts = [
            f"Endpoint=sb://127.0.0.1:{self.port}/",
            f"SharedAccessKeyName={key_name}",
            f"SharedAccessKey={key}",
        ]
        if entity:
            parts.append(f"EntityPath={self.hub}")
        parts.append("UseDevelopmentEmulator=true")
        return ";".join(parts)

    def start(self) -> EventHubEndpoint:
        self._selector.register(self._listener, selectors.EVENT_READ, None)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def __enter__(self) -> EventHubEndpoint:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def set_fault(self, fault: Fault | None, count: int | None = None) -> None:
        """Apply `fault` to the next `count` hub deliveries (all of them when None)."""
        with self._lock:
            self._fault = fault
            self._fault_remaining = count

    def clear_fault(self) -> None:
        self.set_fault(None)

    def received(self) -> list[ReceivedEvent]:
        """A snapshot of the events received so far, in arrival order."""
        with self._lock:
            return list(self._events)

    def payloads(self) -> list[bytes]:
        """The raw payloads kept in count-only mode (``keep_payload_bytes``), in order."""
        with self._lock:
            return list(self._payloads)

    @property
    def received_count(self) -> int:
        with self._lock:
            return self._count

    @property
    def deliveries(self) -> int:
        """Hub deliveries seen (accepted or not)."""
        with self._lock:
            return self._deliveries

    def wait_for(self, count: int, timeout: float = 10.0) -> bool:
        """Wait until at least `count` events were received; False on timeout."""
        with self._lock:
            return self._lock.wait_for(lambda: self._count >= count, timeout)

    # -- socket loop -------------------------------------------------------------------

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                for key, _ in self._selector.select(timeout=0.05):
                    if key.data is None:
                        self._accept()
                    else:
                        self._read(key.data)
                now = time.monotonic()
                for conn in list(self._conns.values()):
                    if not conn.dead:
                        conn.transport.tick(now)
                        self._pump(conn)
        finally:
            for conn in list(self._conns.values()):
                self._drop(conn, reset=False)
            self._selector.close()
            self._listener.close()

    def _accept(self) -> None:
        try:
            sock, _ = self._listener.accept()
        except BlockingIOError:
            return
        sock.setblocking(True)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        transport = Transport(Transport.SERVER)
        sasl = transport.sasl()
        sasl.allowed_mechs("ANONYMOUS PLAIN")
        sasl.done(sasl.OK)
        connection = Connection()
        collector = Collector()
        connection.collect(collector)
        transport.bind(connection)
        conn = _Conn(sock, transport, connection, collector)
        self._conns[sock.fileno()] = conn
        self._selector.register(sock, selectors.EVENT_READ, conn)
        with self._lock:
            self.connections_accepted += 1

    def _read(self, conn: _Conn) -> None:
        try:
            data = conn.sock.recv(1 << 20)
        except OSError:
            data = b""
        if not data:
            self._drop(conn, reset=False)
            return
        view = memoryview(data)
        while view and not conn.dead:
            cap = conn.transport.capacity()
            if cap <= 0:
                break
            conn.transport.push(bytes(view[:cap]))
            view = view[cap:]
            self._pump(conn)
        self._pump(conn)

    def _pump(self, conn: _Conn) -> None:
        while not conn.dead:
            event = conn.collector.peek()
            if event is not None:
                self._dispatch(conn, event)
                conn.collector.pop()
                continue
            pending = conn.transport.pending()
            if pending > 0:
                out = conn.transport.peek(pending)
                conn.transport.pop(pending)
                try:
                    conn.sock.sendall(conn.padder.feed(out))
                except OSError:
                    self._drop(conn, reset=False)
                continue
            if pending < 0:
                self._drop(conn, reset=False)
            return

    def _drop(self, conn: _Conn, *, reset: bool) -> None:
        if conn.dead:
            return
        conn.dead = True
        self._conns.pop(conn.sock.fileno(), None)
        try:
            self._selector.unregister(conn.sock)
        except (KeyError, ValueError):
            pass
        if reset:
            conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        conn.sock.close()
        conn.transport.unbind()

    # -- AMQP events -------------------------------------------------------------------

    def _dispatch(self, conn: _Conn, event: Event) -> None:
        etype = event.type
        if etype == Event.CONNECTION_REMOTE_OPEN:
            event.connection.container = "local-eventhub"
            event.connection.open()
        elif etype == Event.SESSION_REMOTE_OPEN:
            event.session.open()
        elif etype == Event.LINK_REMOTE_OPEN:
            self._on_attach(event.link)
        elif etype == Event.DELIVERY:
            self._on_delivery(conn, event.delivery)
        elif etype == Event.LINK_REMOTE_CLOSE:
            event.link.close()
        elif etype == Event.SESSION_REMOTE_CLOSE:
            event.session.close()
        elif etype == Event.CONNECTION_REMOTE_CLOSE:
            event.connection.close()

    def _classify(self, address: str | None) -> tuple[str | None, str | None]:
        """('hub'|'cbs'|'management'|None, partition id or None) for a link address."""
        if not address:
            return None, None
        path = urlparse(address).path if "://" in address else address
        path = path.strip("/")
        if path in ("$cbs", "$management"):
            return path[1:], None
        if path == self.hub:
            return "hub", None
        prefix = f"{self.hub}/Partitions/"
        if path.startswith(prefix) and path[len(prefix) :] in self.partition_ids:
            return "hub", path[len(prefix) :]
        return None, None

    def _on_attach(self, link: Link) -> None:
        link.source.copy(link.remote_source)
        link.target.copy(link.remote_target)
        if link.is_sender:
            link.open()
            return
        kind, _ = self._classify(link.remote_target.address)
        if kind is None:
            link.open()
            link.condition = Condition(
                "amqp:not-found", f"entity not found: {link.remote_target.address}", _INFO
            )
            link.close()
            return
        link.max_message_size = self._max_message_size
        link.open()
        link.flow(self._credit)

    def _on_delivery(self, conn: _Conn, dlv: Delivery) -> None:
        link = dlv.link
        if link.is_sender:
            if dlv.updated and not dlv.settled:
                dlv.settle()
            return
        if not dlv.readable or dlv.partial:
            return
        payload = link.recv(dlv.pending) or b""
        link.advance()
        if link.credit < self._credit // 2:
            link.flow(self._credit - link.credit)
        kind, partition = self._classify(link.target.address)
        if kind in ("cbs", "management"):
            dlv.update(Delivery.ACCEPTED)
            dlv.settle()
            self._answer(conn, kind, payload)
        elif kind == "hub":
            self._on_hub_delivery(conn, dlv, payload, partition)

    def _take_fault(self) -> Fault | None:
        with self._lock:
            self._deliveries += 1
            fault = self._fault
            if fault is not None and self._fault_remaining is not None:
                self._fault_remaining -= 1
                if self._fault_remaining <= 0:
                    self._fault, self._fault_remaining = None, None
            return fault

    def _store(self, payload: bytes, partition: str | None) -> None:
        if not self._keep_events:  # count only (the bench): no per-message decoding
            with self._lock:
                self._count += count_events(payload)
                if self._payload_bytes < self._keep_payload_bytes:
                    self._payloads.append(bytes(payload))
                    self._payload_bytes += len(payload)
                self._lock.notify_all()
            return
        decoded = decode_events(payload)
        with self._lock:
            if self._keep_events:
                for m in decoded:
                    self._events.append(
                        ReceivedEvent(
                            len(self._events),
                            m.body,
                            m.partition_key,
                            partition,
                            m.message_id,
                            m.content_type,
                            m.application_properties,
                        )
                    )
            self._count += len(decoded)
            self._lock.notify_all()

    def _on_hub_delivery(
        self, conn: _Conn, dlv: Delivery, payload: bytes, partition: str | None
    ) -> None:
        fault = self._take_fault()
        if fault is None:
            self._store(payload, partition)
            dlv.update(Delivery.ACCEPTED)
            dlv.settle()
        elif fault in (Fault.SERVER_BUSY, Fault.UNAUTHORIZED):
            name = (
                "com.microsoft:server-busy"
                if fault is Fault.SERVER_BUSY
                else "amqp:unauthorized-access"
            )
            dlv.local.condition = Condition(name, f"injected fault: {fault.value}", _INFO)
            dlv.update(Delivery.REJECTED)
            dlv.settle()
        elif fault is Fault.DETACH:
            dlv.link.condition = Condition("amqp:link:detach-forced", "injected detach", _INFO)
            dlv.link.close()
        elif fault is Fault.CLOSE_CONNECTION:
            conn.connection.condition = Condition(
                "amqp:connection:forced", "injected connection close", _INFO
            )
            conn.connection.close()
        elif fault is Fault.RESET:
            self._drop(conn, reset=True)
        elif fault is Fault.ACCEPT_THEN_RESET:
            self._store(payload, partition)
            self._drop(conn, reset=True)
        # Fault.NEVER_SETTLE: leave the delivery unsettled.

    def _reply_link(self, conn: _Conn, node: str, reply_to: str | None) -> Link | None:
        mask = Endpoint.LOCAL_ACTIVE | Endpoint.REMOTE_ACTIVE
        fallback = None
        link = conn.connection.link_head(mask)
        while link is not None:
            if link.is_sender and self._classify(link.source.address)[0] == node:
                if reply_to is None or link.target.address == reply_to:
                    return link
                fallback = link
            link = link.next(mask)
        return fallback

    def _answer(self, conn: _Conn, node: str, payload: bytes) -> None:
        request = Message()
        request.decode(payload)
        props = request.properties or {}
        reply = Message(correlation_id=request.id)
        if node == "cbs":
            reply.properties = {"status-code": 202, "status-description": "Accepted"}
        else:
            operation = str(props.get("operation"))
            rtype = str(props.get("type"))
            name = str(props.get("name"))
            with self._lock:
                self.management_requests.append(f"{operation} {rtype}")
            reply.properties, reply.body = self._management(operation, rtype, name, props)
        link = self._reply_link(conn, node, request.reply_to)
        if link is None:
            return
        link.delivery(str(next(self._tags)))
        link.send(reply.encode())
        link.advance()

    def _management(
        self, operation: str, rtype: str, name: str, props: dict
    ) -> tuple[dict, object]:
        now_ms = int(time.time() * 1000)
        if operation != "READ" or name != self.hub:
            return {"status-code": 404, "status-description": f"not found: {name}"}, None
        if rtype == "com.microsoft:eventhub":
            body = {
                "name": self.hub,
                "type": rtype,
                "created_at": now_ms,
                "partition_count": len(self.partition_ids),
                "partition_ids": list(self.partition_ids),
            }
            return {"status-code": 200, "status-description": "OK"}, body
        if rtype == "com.microsoft:partition":
            body = {
                "name": self.hub,
                "type": rtype,
                "partition": str(props.get("partition")),
                "begin_sequence_number": 0,
                "last_enqueued_sequence_number": -1,
                "last_enqueued_offset": "-1",
                "last_enqueued_time_utc": now_ms,
                "is_partition_empty": True,
            }
            return {"status-code": 200, "status-description": "OK"}, body
        return {"status-code": 400, "status-description": f"unknown type {rtype}"}, None


def main() -> None:
    """Serve an endpoint on a free port until interrupted (prints its connection string)."""
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--discard", action="store_true", help="count events, do not keep them")
    args = parser.parse_args()
    endpoint = EventHubEndpoint(
        partitions=args.partitions, port=args.port, keep_events=not args.discard
    )
    with endpoint:
        print(endpoint.connection_string(key=uuid.uuid4().hex), flush=True)
        try:
            while True:
                time.sleep(1.0)
                print(f"received {endpoint.received_count}", flush=True)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
