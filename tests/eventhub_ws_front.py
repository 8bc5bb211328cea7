"""A WebSocket front for the local Event Hubs endpoint: AMQP over WebSockets on 127.0.0.1.

An aiohttp server (in its own thread and event loop) accepts WebSocket upgrades on
`/$servicebus/websocket` with the `AMQPWSB10` subprotocol, as Event Hubs does on port
443, opens one TCP connection to the AMQP endpoint per WebSocket and copies bytes both
ways: each binary frame from the client goes to the TCP port, and whatever the endpoint
writes goes back as a binary frame. Without `ssl_context` it serves `ws://` (what the
SDK speaks in development-emulator mode); with one, `wss://` (the SDK verifies it with
`connection_verify`, a CA bundle).

    with EventHubEndpoint() as ep, WebSocketFront(ep.port) as ws:
        conn = ep.connection_string()          # + custom_endpoint_address=ws.address
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import threading

from aiohttp import WSMsgType, web

PATH = "/$servicebus/websocket"
SUBPROTOCOL = "AMQPWSB10"


class WebSocketFront:
    """Bridges WebSocket binary frames to the AMQP endpoint at 127.0.0.1:`amqp_port`."""

    def __init__(
        self, amqp_port: int, *, port: int = 0, ssl_context: ssl.SSLContext | None = None
    ) -> None:
        self.amqp_port = amqp_port
        self._ssl = ssl_context
        self._want_port = port
        self.port = 0
        self.upgrades = 0  # WebSocket sessions accepted
        self.frames_in = 0  # binary frames received from clients
        self.bytes_in = 0
        self.bytes_out = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="ws-front", daemon=True)
        self._runner: web.AppRunner | None = None
        self._error: BaseException | None = None

    @property
    def address(self) -> str:
        """The `custom_endpoint_address` to give the SDK."""
        return f"sb://127.0.0.1:{self.port}"

    def start(self) -> WebSocketFront:
        self._thread.start()
        if not self._ready.wait(10) or self._error is not None:
            raise RuntimeError(f"websocket front did not start: {self._error!r}")
        return self

    def stop(self) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)

    def __enter__(self) -> WebSocketFront:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- server ------------------------------------------------------------------------

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._open())
        except BaseException as exc:  # reported by start()
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        self._loop.run_forever()
        self._loop.close()

    async def _open(self) -> None:
        app = web.Application()
        app.router.add_get(PATH, self._session)
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self._want_port, ssl_context=self._ssl)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def _session(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(protocols=(SUBPROTOCOL,), autoping=True)
        await ws.prepare(request)
        if ws.ws_protocol != SUBPROTOCOL:
            await ws.close(code=1002, message=b"subprotocol AMQPWSB10 required")
            return ws
        self.upgrades += 1
        reader, writer = await asyncio.open_connection("127.0.0.1", self.amqp_port)

        async def upstream() -> None:
            async for msg in ws:
                if msg.type == WSMsgType.BINARY:
                    self.frames_in += 1
                    self.bytes_in += len(msg.data)
                    writer.write(msg.data)
                    await writer.drain()
                elif msg.type in (WSMsgType.CLOSE, WSMsgType.ERROR):
                    break

        async def downstream() -> None:
            while data := await reader.read(1 << 16):
                self.bytes_out += len(data)
                await ws.send_bytes(data)

        tasks = [asyncio.ensure_future(upstream()), asyncio.ensure_future(downstream())]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
            with contextlib.suppress(Exception):
                await ws.close()
        return ws
