"""The Azure Event Hubs sink (also Microsoft Fabric eventstream custom endpoints).

Design:

* Events are spread over `producers` lanes by a stable hash of their partition key; each
  lane owns one `EventHubProducerClient` (one AMQP connection) and sends one batch at a
  time, so the batches of a key leave in order and a failed batch is retried (or
  dead-lettered) before the next batch of that key is attempted.
* Within a lane, events wait in one queue per partition key. A key's batch is sent when it
  holds `batch_size` events, when its oldest event has waited `batch_timeout_ms`, or at
  flush. Batches are built by `amqp_batch.BatchBuilder` (same bytes as the SDK's
  `EventDataBatch.add`, a fraction of the cost) and sent with the SDK's `send_batch`.
  Every message carries `message_id`, `content_type` and the `event_type` /
  `schema_version` application properties (see `OutEvent`).
* At most `max_buffer` events are held; `send()` awaits while the buffer is full.
* The SDK's own retries are off (`retry_total=0`); each failed attempt counts towards the
  shared `CircuitBreaker` and is retried after an exponential, deterministically jittered
  backoff. After `retry_attempts` retries, or when a flush/close finds the breaker open,
  the batch goes to the dead-letter writer with a redacted reason. A failed attempt may
  still have reached the hub, so a retry can duplicate events; it never loses any.
"""

from __future__ import annotations

import asyncio
import logging
import time
import zlib
from collections import deque
from collections.abc import Sequence

from sim.config.realtime import RealtimeSettings
from sim.config.secrets import describe_error, install_log_redaction, redact
from sim.sinks.amqp_batch import BatchBuilder, fast_path_available
from sim.sinks.base import DeadLetterWriter, OutEvent, SinkMetrics
from sim.sinks.breaker import BreakerState, CircuitBreaker
from sim.sinks.connection import parse_connection_string, sdk_connection_string
from sim.sinks.eventhub_stop import Lane, StoppableSink
from sim.sinks.eventhub_util import (
    CLOSE_GRACE_S,
    OPEN_TIMEOUT_S,
    backoff_delay,
    require_eventhub_sdk,
    retryable,
)
from sim.sinks.transport import client_options

_LOG = logging.getLogger("sim.sinks.eventhub")


class EventHubSink(StoppableSink):
    """Publishes `OutEvent`s to one event hub; see the module docstring for the design."""

    def __init__(
        self,
        settings: RealtimeSettings,
        connection_string: str,
        dead_letter: DeadLetterWriter | None,
    ) -> None:
        require_eventhub_sdk()
        info = parse_connection_string(connection_string, settings.hub_name)
        self.settings = settings
        self.hub: str = info.entity_path or ""
        self.endpoint_kind = info.kind
        self.dead_letter = dead_letter
        self.metrics = SinkMetrics()
        self.breaker = CircuitBreaker(
            settings.breaker_failure_threshold,
            settings.breaker_reset_s,
            on_change=self._on_breaker_change,
        )
        self._conn_str = sdk_connection_string(connection_string)
        self._lanes = [Lane(i) for i in range(settings.producers)]
        self._lane_of: dict[str, Lane] = {}
        self._buffered = 0
        self._space = asyncio.Event()
        self._space.set()
        self._idle = asyncio.Event()
        self._idle.set()
        self._flushing = 0
        self._closing = False
        self._started = False
        self._closed = False
        self._fast = False
        self._last_send_error: str | None = None
        self._drain_mark = 0
        self._stop_requested = False
        self._abort = asyncio.Event()
        self._stop_reason: str | None = None

    # -- Sink protocol -----------------------------------------------------------------

    async def start(self) -> None:
        if self._started:
            return
        from azure.eventhub.aio import EventHubProducerClient

        install_log_redaction()
        self._fast = fast_path_available()
        for lane in self._lanes:
            lane.client = EventHubProducerClient.from_connection_string(
                self._conn_str,
                eventhub_name=self.hub,
                retry_total=0,
                **client_options(self.settings),
            )
        install_log_redaction()
        await asyncio.gather(*(self._learn_limit(lane, at_start=True) for lane in self._lanes))
        for lane in self._lanes:
            lane.task = asyncio.create_task(
                self._run_lane(lane), name=f"eventhub-lane-{lane.index}"
            )
        self._started = True
        _LOG.info(
            "eventhub sink started: hub %r (%s, %s), %d producer(s), fast batches: %s",
            self.hub,
            self.endpoint_kind,
            self.settings.transport,
            len(self._lanes),
            self._fast,
        )

    async def send(self, events: Sequence[OutEvent]) -> None:
        if not self._started or self._closing:
            raise RuntimeError("EventHubSink.send() needs start() and must precede close()")
        batch_size = self.settings.batch_size
        cap = self.settings.max_buffer
        i, n = 0, len(events)
        while i < n:
            room = cap - self._buffered
            if room <= 0:
                if self._stop_requested:  # stopping: no more waiting for room
                    self._give_up(events[i:], "stopped while the buffer was full", 0)
                    return
                self._space.clear()
                await self._space.wait()
                continue
            chunk = events[i : i + room]
            i += len(chunk)
            now = time.monotonic()
            lane_of = self._lane_of
            for event in chunk:
                key = event.partition_key
                lane = lane_of.get(key)
                if lane is None:
                    lane = self._lanes[zlib.crc32(key.encode()) % len(self._lanes)]
                    lane_of[key] = lane
                queue = lane.queues.get(key)
                if queue is None:
                    queue = lane.queues[key] = deque()
                    lane.since[key] = now
                    if lane.count == 0:
                        lane.wakeup.set()
                queue.append(event)
                lane.count += 1
                if len(queue) == batch_size:
                    lane.wakeup.set()
            self._buffered += len(chunk)
            self.metrics.buffered = self._buffered
            self._idle.clear()

    async def flush(self) -> None:
        if not self._started:
            return
        if self._flushing == 0:
            self._drain_mark = self.breaker.failed_probes
        self._flushing += 1
        self._wake_all()
        try:
            while self._buffered > 0:
                self._check_lanes()
                self._idle.clear()
                try:
                    await asyncio.wait_for(self._idle.wait(), 1.0)
                except TimeoutError:
                    pass
        finally:
            self._flushing -= 1

    async def close(self) -> None:
        """Deliver what is buffered, within a bound: the batches in flight get
        ``send_timeout_s`` + ``CLOSE_GRACE_S`` (or less after ``stop(now=True)``), then
        every event not delivered is dead-lettered and the connections are closed."""
        if self._closed:
            return
        if self._started:
            self._closing = True
            self._wake_all()
            bound = self.settings.send_timeout_s + CLOSE_GRACE_S
            if not await self._drained_within(bound):
                why = "a second stop signal" if self._abort.is_set() else f"{bound:g} s"
                await self._abandon(f"stopped before the hub acknowledged ({why})")
        self._closed = True
        grace = 0.5 if self._abort.is_set() else CLOSE_GRACE_S
        for lane in self._lanes:
            if lane.client is not None:
                try:
                    await asyncio.wait_for(lane.client.close(), grace)
                except Exception as exc:  # closing a broken connection, or a silent hub
                    _LOG.debug("closing producer %d: %s", lane.index, describe_error(exc))
        _LOG.info(
            "eventhub sink closed: %d sent, %d dead-lettered, %d dropped",
            self.metrics.events_sent,
            self.metrics.dead_lettered,
            self.metrics.dropped,
        )

    # -- lanes -------------------------------------------------------------------------

    def _draining(self) -> bool:
        return self._flushing > 0 or self._closing

    def _give_up_waiting(self) -> bool:
        """While draining, stop waiting for the breaker once a probe failed meanwhile."""
        return self._draining() and self.breaker.failed_probes > self._drain_mark

    def _wake_all(self) -> None:
        for lane in self._lanes:
            lane.wakeup.set()
        self.breaker.wake()

    def _check_lanes(self) -> None:
        for lane in self._lanes:
            if lane.task is not None and lane.task.done() and not lane.task.cancelled():
                exc = lane.task.exception()
                if exc is not None:
                    raise RuntimeError(f"eventhub lane {lane.index} died") from exc

    def _ready_key(self, lane: Lane) -> str | None:
        if not lane.queues:
            return None
        drain = self._draining()
        limit = self.settings.batch_size
        oldest = time.monotonic() - self.settings.batch_timeout_ms / 1000
        best, best_since = None, float("inf")
        for key, queue in lane.queues.items():
            since = lane.since[key]
            if (drain or len(queue) >= limit or since <= oldest) and since < best_since:
                best, best_since = key, since
        return best

    def _next_timeout(self, lane: Lane) -> float | None:
        if not lane.since:
            return None
        due = min(lane.since.values()) + self.settings.batch_timeout_ms / 1000
        return max(0.0, due - time.monotonic())

    async def _run_lane(self, lane: Lane) -> None:
        while True:
            key = self._ready_key(lane)
            if key is None:
                if self._closing and lane.count == 0:
                    return
                lane.wakeup.clear()
                try:
                    await asyncio.wait_for(lane.wakeup.wait(), self._next_timeout(lane))
                except TimeoutError:
                    pass
                continue
            events, oversized, builder = self._take(lane, key)
            try:
                if oversized:
                    self._give_up(
                        oversized,
                        f"event larger than the hub's max message size ({lane.max_size} bytes)",
                        0,
                    )
                if events:
                    await self._deliver(lane, builder, events)
            except asyncio.CancelledError:
                self._give_up(events, self._stop_reason or "sink cancelled before delivery", 0)
                raise
            except Exception as exc:  # a bug must not lose the batch
                _LOG.exception("unexpected error in eventhub lane %d", lane.index)
                self._give_up(events, f"internal error: {describe_error(exc)}", 0)
            finally:
                self._release(lane, len(events) + len(oversized))

    def _take(self, lane: Lane, key: str) -> tuple[list[OutEvent], list[OutEvent], BatchBuilder]:
        queue = lane.queues[key]
        builder = BatchBuilder(key, lane.max_size, self._fast)
        events: list[OutEvent] = []
        oversized: list[OutEvent] = []
        limit = self.settings.batch_size
        while queue and len(events) < limit:
            event = queue[0]
            if builder.try_add(event):
                events.append(queue.popleft())
            elif not events:
                oversized.append(queue.popleft())
            else:
                break
        if not queue:
            del lane.queues[key]
            del lane.since[key]
        return events, oversized, builder

    def _release(self, lane: Lane, count: int) -> None:
        lane.count -= count
        self._buffered -= count
        self.metrics.buffered = self._buffered
        if self._buffered < self.settings.max_buffer:
            self._space.set()
        if self._buffered == 0:
            self._idle.set()

    async def _deliver(self, lane: Lane, builder: BatchBuilder, events: list[OutEvent]) -> None:
        settings = self.settings
        attempts = 0
        while True:
            if not await self.breaker.acquire(self._give_up_waiting):
                when = "shutdown" if self._closing else "flush"
                last = self._last_send_error or "none"
                reason = f"circuit breaker open at {when}; last error: {last}"
                self._give_up(events, reason, attempts)
                return
            attempts += 1
            try:
                await lane.client.send_batch(builder.batch, timeout=settings.send_timeout_s)
            except asyncio.CancelledError:
                self.breaker.release_probe()
                raise
            except Exception as exc:
                reason = describe_error(exc)
                self.metrics.failures += 1
                self.metrics.last_error = self._last_send_error = reason
                self.breaker.record_failure()
                if not retryable(exc):
                    self._give_up(events, f"not retryable: {reason}", attempts)
                    return
                if attempts > settings.retry_attempts:
                    self._give_up(events, f"gave up after {attempts} attempts: {reason}", attempts)
                    return
                self.metrics.retries += 1
                delay = backoff_delay(
                    attempts,
                    settings.retry_backoff_s,
                    settings.retry_backoff_max_s,
                    events[0].trace_id,
                )
                _LOG.info(
                    "batch of %d for %s failed (attempt %d): %s; retrying in %.2fs",
                    len(events),
                    events[0].partition_key,
                    attempts,
                    reason,
                    delay,
                )
                await asyncio.sleep(delay)
                continue
            self.breaker.record_success()
            metrics = self.metrics
            metrics.events_sent += len(events)
            metrics.bytes_sent += sum(len(e.body) for e in events)
            metrics.batches += 1
            if not lane.limit_known:
                await self._learn_limit(lane, at_start=False)
            return

    async def _learn_limit(self, lane: Lane, *, at_start: bool) -> None:
        """Ask the producer for the link's max message size (opens the link)."""
        try:
            batch = await asyncio.wait_for(
                lane.client.create_batch(), max(self.settings.send_timeout_s, OPEN_TIMEOUT_S)
            )
        except Exception as exc:
            reason = describe_error(exc)
            self.metrics.last_error = reason
            if at_start:
                _LOG.error(
                    "cannot open the Event Hubs producer yet (%s); events are buffered and "
                    "retried. `python -m sim check-connection` diagnoses the connection.",
                    reason,
                )
            return
        lane.max_size = int(batch.max_size_in_bytes)
        lane.limit_known = True

    def _give_up(self, events: Sequence[OutEvent], reason: str, attempts: int) -> None:
        if not events:
            return
        reason = redact(reason)
        self.metrics.last_error = reason
        if self.dead_letter is None:
            self.metrics.dropped += len(events)
            _LOG.error("dropped %d event(s) (dead_letter is off): %s", len(events), reason)
            return
        self.dead_letter.write(events, reason, attempts)
        self.metrics.dead_lettered += len(events)

    def _on_breaker_change(self, state: BreakerState) -> None:
        self.metrics.breaker_state = state.value
