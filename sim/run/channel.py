"""The local control channel of a real-time session (``python -m sim control OUTPUT ...``).

While a session runs, it listens on ``127.0.0.1`` at a random port and writes
``OUTPUT/realtime/control.json`` (``{"port", "token", "pid"}``, file mode 0600; removed
at stop). The protocol is one JSON line per request and one per answer::

    -> {"token": "...", "command": "speed", "args": {"value": 60}}
    <- {"ok": true, "result": {...}}            or {"ok": false, "error": "..."}

Commands: ``status``, ``pause``, ``resume``, ``speed`` (``value``: a number or
``"max"``), ``inject`` (``disruption``: a scenario ``disruptions:`` entry),
``disruptions``, ``cancel`` (``id``), ``rate`` (``value``: events/s or null),
``event_types`` (``value``: a list or null), ``stop``. A request without the token gets
``{"ok": false, "error": "bad token"}``; the token is never printed or logged.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import os
import secrets
import socket
from pathlib import Path
from typing import Any

from sim.errors import InputError
from sim.run.control import Control, parse_speed

CHANNEL = Path("realtime") / "control.json"
MAX_LINE = 1 << 16


class ControlChannel:
    """The session's side: a line-protocol server over :class:`Control`."""

    def __init__(self, root: Path, control: Control) -> None:
        self.path = root / CHANNEL
        self.control = control
        self.token = secrets.token_hex(16)
        self.server: asyncio.base_events.Server | None = None

    async def open(self) -> ControlChannel:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0, limit=MAX_LINE)
        port = self.server.sockets[0].getsockname()[1]
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.unlink(missing_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump({"port": port, "token": self.token, "pid": os.getpid()}, f)
        os.replace(tmp, self.path)
        return self

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
            self.server = None
        try:
            if json.loads(self.path.read_text()).get("pid") == os.getpid():
                self.path.unlink()
        except (OSError, ValueError):
            pass

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            line = await asyncio.wait_for(reader.readline(), 10)
            answer = self.answer(line)
            writer.write(json.dumps(answer, default=str).encode() + b"\n")
            await writer.drain()
        except (TimeoutError, OSError, ValueError):
            pass
        finally:
            writer.close()

    def answer(self, line: bytes) -> dict[str, Any]:
        try:
            req = json.loads(line)
        except ValueError:
            return {"ok": False, "error": "expected one JSON object per line"}
        if not isinstance(req, dict):
            return {"ok": False, "error": "expected one JSON object per line"}
        if not hmac.compare_digest(str(req.get("token", "")), self.token):
            return {"ok": False, "error": "bad token"}
        try:
            return {"ok": True, "result": self.run(str(req.get("command")), req.get("args") or {})}
        except (InputError, ValueError, TypeError) as e:
            return {"ok": False, "error": str(e)}

    def run(self, command: str, args: dict[str, Any]) -> Any:
        c = self.control
        if command == "status":
            return c.status()
        if command == "pause":
            c.pause()
        elif command == "resume":
            c.resume()
        elif command == "speed":
            c.set_speed(parse_speed(str(args.get("value"))))
        elif command == "inject":
            return c.inject(dict(args.get("disruption") or {}))
        elif command == "disruptions":
            return c.disruptions()
        elif command == "cancel":
            return c.cancel(str(args.get("id")))
        elif command == "rate":
            value = args.get("value")
            c.set_rate(None if value is None else float(value))
        elif command == "event_types":
            c.set_event_types(args.get("value"))
        elif command == "stop":
            c.stop()
        else:
            raise InputError(
                f"unknown command {command!r}; expected one of: status, pause, resume, "
                "speed, inject, disruptions, cancel, rate, event_types, stop"
            )
        return c.status()


def request(root: Path, command: str, args: dict[str, Any], timeout: float = 10.0) -> Any:
    """Send one command to the session running on ``root``; its result, or InputError
    with the session's message."""
    path = root / CHANNEL
    try:
        info = json.loads(path.read_text())
    except (OSError, ValueError):
        raise InputError(
            f"{root}: no real-time session is running there (no {path}); "
            f"start one with python -m sim run SCENARIO --realtime"
        ) from None
    msg = {"token": info["token"], "command": command, "args": args}
    try:
        with socket.create_connection(("127.0.0.1", int(info["port"])), timeout=timeout) as s:
            s.sendall(json.dumps(msg).encode() + b"\n")
            data = b""
            while not data.endswith(b"\n"):
                chunk = s.recv(MAX_LINE)
                if not chunk:
                    break
                data += chunk
    except OSError as e:
        raise InputError(
            f"{root}: the real-time session does not answer on 127.0.0.1:{info['port']} "
            f"({e.strerror or e}); it may have stopped (see {path})"
        ) from None
    try:
        answer = json.loads(data)
    except ValueError:
        raise InputError(f"{root}: the session closed the connection without an answer") from None
    if not answer.get("ok"):
        raise InputError(str(answer.get("error")))
    return answer.get("result")
