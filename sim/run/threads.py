"""Blocking work off the event loop: a daemon thread whose result the loop awaits, given
up when the session is asked to stop first."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


async def in_thread(fn: Callable[[], T], stopping: asyncio.Event) -> T | None:
    """``fn()`` in a daemon thread; None if ``stopping`` is set before it returns."""
    loop = asyncio.get_running_loop()
    fut: asyncio.Future[T] = loop.create_future()

    def work() -> None:
        try:
            value, exc = fn(), None
        except BaseException as e:  # handed to the loop
            value, exc = None, e
        try:
            loop.call_soon_threadsafe(_settle, fut, value, exc)
        except RuntimeError:  # the loop closed: the session gave this work up and ended
            pass

    threading.Thread(target=work, name="prepare", daemon=True).start()
    stop: asyncio.Future[Any] = asyncio.ensure_future(stopping.wait())
    await asyncio.wait([fut, stop], return_when=asyncio.FIRST_COMPLETED)
    stop.cancel()
    return fut.result() if fut.done() else None


def _settle(fut: asyncio.Future[Any], value: Any, exc: BaseException | None) -> None:
    if fut.done():
        return
    if exc is not None:
        fut.set_exception(exc)
    else:
        fut.set_result(value)
