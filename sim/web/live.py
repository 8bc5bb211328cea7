"""The live stream the console drives: start, stop, pause, resume, speed, rate cap,
event types and live disruptions, on top of :class:`sim.web.backend.Stream` sessions.

A change to a running stream goes to the engine's live control
(:meth:`sim.web.backend.Stream.control`): the session keeps running (same session,
nothing re-sent), and a disruption takes effect at the first simulated instant the
engine has not simulated yet (``effective_in_s`` says how far ahead). Only a change of
sink or batching restarts the session. With no stream running, a disruption is recorded
in the folder's overlay and applies from the stream's saved position on the next start.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sim.config.clock import WallClock
from sim.config.secrets import redact
from sim.errors import InputError
from sim.web import backend
from sim.web.models import pace
from sim.web.observe import Watch

BREAKER = {"closed": 0, "half_open": 1, "half-open": 1, "open": 2}  # for the chart


def _iso(sim: float) -> str:
    moment = datetime.fromtimestamp(sim, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _shown(speed: float | None) -> float | str:
    return "max" if speed is None else speed


def _epoch(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


class Live:
    """One stream per output folder; survives page reloads; stopped on shutdown."""

    def __init__(self, output: Path, scenario: Path, wall: WallClock) -> None:
        self.output, self.scenario, self.wall = output, scenario, wall
        self.config: dict[str, Any] = {}  # realtime settings overrides for the next start
        self.cap: float | None = None
        self.stream: backend.Stream | None = None
        self.thread: threading.Thread | None = None
        self.state = "stopped"  # stopped | running | paused
        self.error: str | None = None
        self.deadline: float | None = None  # simulated epoch seconds, from duration
        self.timer: threading.Timer | None = None  # the wall deadline of a max-speed stream
        self.stops_at: float | None = None  # when that timer stops it (wall epoch s)
        self.started_at: str | None = None
        self.totals: dict[str, int] = {}
        self.sent_before = 0
        self.samples: deque[dict[str, Any]] = deque(maxlen=120)
        self.watch = Watch()  # sales per simulated minute, stores short of stock
        self.kept: list[dict[str, Any]] = []  # last events of ended sessions
        self._prev: tuple[float, dict[str, int]] = (time.monotonic(), {})
        self.lock = threading.RLock()
        self.sessions = 0  # sessions launched: a live change does not launch one
        self._lockctx: Any = None

    # -- sessions ------------------------------------------------------------------
    def _launch(self) -> None:
        sc, _ = backend.load(self.scenario, self.output, self.wall)
        settings = backend.realtime_settings(sc, self.config)
        duration = None
        if self.deadline is not None:
            pos = backend.stream_position(self.output) or self.wall.time()
            duration = max(0.001, self.deadline - pos)
        stream = backend.Stream(sc, settings, duration, self.wall, self.cap, self.watch)
        self.stream, self.error = stream, None
        self.sessions += 1
        self.thread = threading.Thread(target=self._run, args=(stream,), daemon=True)
        self.thread.start()

    def _run(self, stream: backend.Stream) -> None:
        try:
            stream.run()
        except InputError as e:
            self.error = redact(str(e))
        except Exception as e:  # noqa: BLE001 - shown on the page, never a traceback
            self.error = redact(f"{type(e).__name__}: {e}")
        if self.lock.acquire(blocking=False):  # else a stop/restart holds it and cleans up
            try:
                if self.stream is stream and self.state != "stopped":  # ended by itself
                    self._disarm()
                    self._retire()
                    self.state = "stopped"
                    self._release()
            finally:
                self.lock.release()

    def _halt(self) -> None:
        """Stop the running session and wait for it (its position is saved)."""
        stream, thread = self.stream, self.thread
        if stream is None or thread is None:
            return
        stream.stop()
        thread.join(timeout=120)
        self._retire()

    def _retire(self) -> None:
        if self.stream is not None:
            self.sent_before += self.stream.metrics()["sent"]
            for k, v in self.stream.obs.by_type.items():
                self.totals[k] = self.totals.get(k, 0) + v
            self.kept = [*self.kept, *self.stream.obs.recent][-100:]
            self.stream = None

    def _release(self) -> None:
        if self._lockctx is not None:
            self._lockctx.__exit__(None, None, None)
            self._lockctx = None

    def _disarm(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
        self.timer, self.stops_at = None, None

    def _expire(self, timer: threading.Timer) -> None:
        """The wall deadline passed: stop the stream, unless it was stopped meanwhile."""
        with self.lock:
            if self.timer is timer:
                self.stop()

    def start(
        self,
        update: dict[str, Any],
        cap: float | None,
        duration: float | None,
        blocker: str | None,
        wall_limit: float | None = None,
    ) -> dict[str, Any]:
        """Start a stream: ``duration`` simulated seconds (a paced stream's deadline), or
        ``wall_limit`` wall seconds (a timer stops it: at max speed), or until stopped."""
        with self.lock:
            if self.state != "stopped":
                raise backend.Busy(f"a stream is already {self.state}")
            if blocker:
                raise backend.Busy(blocker)
            sc, _ = backend.load(self.scenario, self.output, self.wall)
            backend.realtime_settings(sc, {**self.config, **update})  # 422-worthy errors first
            ctx = backend.output_lock(self.output, "sim serve: stream")
            ctx.__enter__()
            self._lockctx = ctx
            self.config.update(update)
            self.cap = cap
            pos = backend.stream_position(self.output) or self.wall.time()
            self.deadline = pos + duration if duration else None
            self.totals, self.sent_before, self.samples = {}, 0, deque(maxlen=120)
            self.watch = Watch()
            self.kept = []
            self.started_at = self.wall.now().isoformat()
            try:
                self._launch()
            except Exception:
                self._release()
                raise
            self.state = "running"
            if wall_limit:
                self.timer = timer = threading.Timer(wall_limit, lambda: self._expire(timer))
                timer.daemon = True
                self.stops_at = self.wall.now().timestamp() + wall_limit
                timer.start()
            return self.status()

    def stop(self) -> dict[str, Any]:
        with self.lock:
            self._disarm()
            if self.state != "stopped":
                self._halt()
            self.state = "stopped"
            self._release()
            return self.status()

    def _session(self) -> backend.Stream:
        if self.stream is None:
            raise backend.Busy(f"the stream is {self.state}")
        return self.stream

    def pause(self) -> dict[str, Any]:
        with self.lock:
            if self.state != "running":
                raise backend.Busy(f"the stream is {self.state}, not running")
            s = self._session()
            s.control(lambda c: c.pause())
            s.obs.paused = True
            self.state = "paused"
            return self.status()

    def resume(self) -> dict[str, Any]:
        with self.lock:
            if self.state != "paused":
                raise backend.Busy(f"the stream is {self.state}, not paused")
            s = self._session()
            s.control(lambda c: c.resume())
            s.obs.paused, s.obs.anchor = False, None  # the clock is rebased on resume
            self.state = "running"
            return self.status()

    def apply(self, update: dict[str, Any] | None = None, cap: Any = ...) -> None:
        """New settings: speed, rate cap and event types go to the running session's
        control; a sink or batching change restarts it; stopped: for the next start."""
        update = {k: v for k, v in (update or {}).items() if v is not None}
        with self.lock:
            if update:
                sc, _ = backend.load(self.scenario, self.output, self.wall)
                backend.realtime_settings(sc, {**self.config, **update})
                self.config.update(update)
            if cap is not ...:
                self.cap = cap
            s = self.stream
            if s is None or self.state == "stopped":
                return
            if set(update) - {"speed", "event_types"}:
                self._halt()
                self._launch()
                return
            if "speed" in update:
                speed = pace(update["speed"])  # None: max
                s.control(lambda c: c.set_speed(speed))
                s.obs.speed, s.obs.anchor = speed, None  # the clock is rebased
            if "event_types" in update:
                s.control(lambda c: c.set_event_types(list(update["event_types"])))
            if cap is not ...:
                s.control(lambda c: c.set_rate(cap))

    # -- disruptions -----------------------------------------------------------------
    def position(self) -> float:
        """Simulated epoch seconds of the stream (saved position, else the wall clock)."""
        s = self.stream
        pos = s.position() if s is not None else None
        return pos or backend.stream_position(self.output) or self.wall.time()

    def inject(self, entry: dict[str, Any], hours: float) -> dict[str, Any]:
        """Running: the engine's ``inject``; stopped: recorded for the next run."""
        entry = {**entry, "duration_hours": hours}
        with self.lock:
            s = self.stream
            if s is not None and self.state != "stopped":
                rec = s.control(lambda c: c.inject(entry), steering=True)
                return self._describe(rec, self.position())
            start = self.position()
            sc, _ = backend.load(self.scenario, self.output, self.wall)
            d = backend.check_disruption(sc, self.output, {**entry, "start": _iso(start)})
            rec = {"id": backend.next_id(self.output), **d, "status": "live", "source": "web"}
            rec["injected_at"] = self.wall.now().isoformat(timespec="seconds")
            backend.write_overlay(self.output, [*backend.raw_overlay(self.output), rec])
            return self._describe(rec, start)

    def cancel(self, did: str) -> dict[str, Any] | None:
        """End ``did`` at once (running: the engine's ``cancel``). None: no such id;
        :class:`InputError`: it is not live any more."""
        with self.lock:
            overlay = backend.raw_overlay(self.output)
            d = next((x for x in overlay if x.get("id") == did), None)
            if d is None:
                return None
            s = self.stream
            if s is not None and self.state != "stopped":
                rec = s.control(lambda c: c.cancel(did), steering=True)
                return self._describe(rec, self.position())
            if d.get("status") != "live":
                raise InputError(f"cancel: {did} is already {d.get('status')}")
            now = self.position()
            a, b = self._window(d)
            d["cancelled_at"] = self.wall.now().isoformat(timespec="seconds")
            d["cancelled_at_simulated"] = _iso(now)
            if now <= a:
                d["status"] = backend.no_effect()
            elif now < b:
                d.pop("duration_hours", None)
                d["end"] = _iso(now)
                d["status"] = "cancelled"
            else:
                d["status"] = "ended"
            backend.write_overlay(self.output, overlay)
            return self._describe(d, now)

    def clear_all(self) -> int:
        n = 0
        for d in self.disruptions(active_only=True):
            try:
                n += self.cancel(d["id"]) is not None
            except InputError:
                continue
        return n

    @staticmethod
    def _window(d: dict[str, Any]) -> tuple[float, float]:
        a = _epoch(d["start"])
        b = _epoch(d["end"]) if "end" in d else a + d["duration_hours"] * 3600
        return a, b

    def _describe(self, d: dict[str, Any], now: float) -> dict[str, Any]:
        a, b = self._window(d)
        live = d.get("status", "live") in ("live", "cancelled")
        return {**d, "starts": _iso(a), "ends": _iso(b), "active": live and now < b}

    def disruptions(self, active_only: bool = False) -> list[dict[str, Any]]:
        now = self.position()
        out = [self._describe(d, now) for d in backend.load_overlay(self.output)]
        return [d for d in out if d["active"]] if active_only else out

    def _ended(self, thread: threading.Thread) -> None:
        """The session ended by itself (duration, error): the stream is stopped. Never
        while a restart holds the lock (its old thread is dead for a moment)."""
        if not self.lock.acquire(blocking=False):
            return
        try:
            if self.thread is thread and self.state != "stopped" and not thread.is_alive():
                self._disarm()
                self._retire()
                self.state = "stopped"
                self._release()
        finally:
            self.lock.release()

    # -- what is happening ---------------------------------------------------------------
    def by_type(self) -> dict[str, int]:
        out = dict(self.totals)
        if self.stream is not None:
            for k, v in self.stream.obs.by_type.items():
                out[k] = out.get(k, 0) + v
        return out

    def sample(self) -> dict[str, Any]:
        """Events/s by type since the last sample, lag and dead letters (chart points)."""
        now, counts = time.monotonic(), self.by_type()
        t, prev = self._prev
        dt = max(now - t, 1e-6)
        point = {
            "t": round(now, 3),
            "rates": {k: round((v - prev.get(k, 0)) / dt, 2) for k, v in counts.items()},
            **self.metrics(),
        }
        point["breaker"] = BREAKER.get(point.get("breaker_state", "closed"), 0)
        self._prev = (now, counts)
        self.samples.append(point)
        return point

    def metrics(self) -> dict[str, Any]:
        if self.stream is not None:
            m = self.stream.metrics()
            m["sent"] += self.sent_before
            return m
        return {"sent": self.sent_before, "lag_seconds": 0.0, "dead_lettered": 0}

    def recent(self, limit: int) -> list[dict[str, Any]]:
        s = self.stream
        events = [*self.kept, *(s.obs.recent if s is not None else [])]
        return events[-limit:][::-1]

    def status(self) -> dict[str, Any]:
        thread = self.thread
        if self.state != "stopped" and thread is not None and not thread.is_alive():
            self._ended(thread)
        s = self.stream
        settings = {**self.config}
        return {
            "state": self.state,
            "is_streaming": self.state == "running",
            "started_at": self.started_at,
            "error": self.error,
            "settings": settings,
            "max_events_per_second": self.cap,
            "position": _iso(self.position()),
            "deadline": _iso(self.deadline) if self.deadline else None,
            "stops_at": _iso(self.stops_at) if self.stops_at else None,
            "events_sent": self.metrics()["sent"],
            "speed": _shown(s.obs.speed) if s is not None else settings.get("speed"),
            "session": self.sessions,
            "released": s.released() if s is not None else 0,
            "sink": s.settings.sink if s is not None else settings.get("sink"),
        }
