"""Pool worker processes that die with their parent and stop when it stops.

* :func:`worker_init` runs first in every worker: on Linux it asks the kernel to kill the
  worker the moment its parent dies (``prctl(PR_SET_PDEATHSIG, SIGKILL)``), so a
  ``kill -9`` of the main process leaves no worker writing partitions; it also ignores
  SIGINT (a Ctrl-C reaches the whole process group: the parent alone decides, and stops
  the workers itself).
* :class:`ParentQueue` forwards a shard's day reports to the parent and, before each,
  checks that the parent is still the one that started the worker (``os.getppid()``):
  where the kernel offers no parent-death signal, a worker still stops between days.
* :func:`stop_pool` ends the workers of a pool at once (SIGTERM, then SIGKILL) so an
  interrupted run does not finish the remaining shards only to discard them.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import sys
from concurrent.futures import ProcessPoolExecutor
from typing import Any

PR_SET_PDEATHSIG = 1
EXIT_ORPHANED = 70  # a worker whose parent is gone exits with this, writing nothing more

_parent_pid: int | None = None
_queue: Any = None


def set_parent_death_signal(sig: int = signal.SIGKILL) -> bool:
    """Have the kernel send ``sig`` to this process when its parent dies (Linux only)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        return libc.prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def parent_alive() -> bool:
    """Whether the process that started this worker is still its parent."""
    return _parent_pid is None or os.getppid() == _parent_pid


def exit_if_orphaned() -> None:
    """End this worker at once, writing nothing more, when its parent is gone."""
    if not parent_alive():
        os._exit(EXIT_ORPHANED)


def worker_init(parent_pid: int, queue: Any) -> None:
    """Pool initializer: die with the parent, leave SIGINT to it, keep the day queue."""
    global _parent_pid, _queue
    _parent_pid, _queue = parent_pid, queue
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    set_parent_death_signal()
    exit_if_orphaned()  # the parent may have died before the signal was armed


def pool_queue() -> Any:
    """The queue :func:`worker_init` received (in a worker)."""
    return _queue


class ParentQueue:
    """A worker's day reports; each first checks that the parent is still there."""

    def __init__(self, queue: Any) -> None:
        self.queue = queue

    def put(self, item: object) -> None:
        exit_if_orphaned()
        self.queue.put(item)


def stop_pool(pool: ProcessPoolExecutor, grace_s: float = 2.0) -> None:
    """Cancel what has not started and end the running workers now."""
    for f in list(getattr(pool, "_pending_work_items", {}).values()):
        f.future.cancel()
    processes = list((getattr(pool, "_processes", None) or {}).values())
    for p in processes:
        if p.is_alive():
            p.terminate()
    for p in processes:
        p.join(grace_s)
        if p.is_alive():
            p.kill()
            p.join(grace_s)
