"""One writer per output folder: an OS lock on ``OUTPUT/.lock``.

Every command that writes into an output folder (``run``, ``master``, ``clear``, real
time, ``replay-dlq``, the web console's jobs) holds :func:`output_lock` while it writes.
The lock is ``flock(2)`` on ``OUTPUT/.lock``: the kernel releases it when its process
ends, however it ends, so a crash never leaves a stale lock behind. The file holds who
has it (pid, command, since when) so a second writer can say so; it exits at once with
:class:`OutputLocked` (an input error: exit 2) rather than waiting.

Read-only commands (``validate``, ``stats``, ``report``, ``check``) do not take it.

    with output_lock(root, "python -m sim run default.yaml"):
        ...  # write into root
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sim.config.clock import WallClock
from sim.errors import InputError

LOCK_FILE = ".lock"


@dataclass(frozen=True)
class Holder:
    """Who holds an output folder's lock."""

    pid: int | None
    command: str
    since: str

    def describe(self) -> str:
        pid = f"pid {self.pid}" if self.pid else "an unknown process"
        return f"{pid} ({self.command or 'command unknown'}, since {self.since or 'unknown'})"


class OutputLocked(InputError):
    """Another process writes into this output folder."""

    def __init__(self, root: Path, holder: Holder) -> None:
        self.root, self.holder = root, holder
        super().__init__(
            f"{root}: another writer holds this output folder: {holder.describe()}; "
            f"wait for it to finish, stop it, or use another --output folder"
        )


def read_holder(root: Path) -> Holder | None:
    """The holder recorded in ``root/.lock`` (None when there is no lock file)."""
    try:
        text = (Path(root) / LOCK_FILE).read_text(encoding="utf-8")
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError:
        text = ""
    try:
        data = json.loads(text) if text.strip() else {}
    except ValueError:
        data = {}
    pid = data.get("pid")
    return Holder(
        pid if isinstance(pid, int) else None,
        str(data.get("command", "")),
        str(data.get("since", "")),
    )


def is_locked(root: Path) -> bool:
    """Whether some process holds ``root``'s lock now (probes without keeping it)."""
    path = Path(root) / LOCK_FILE
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def _acquire(root: Path, path: Path) -> int:
    """An fd holding the lock on ``path``, or :class:`OutputLocked`.

    The file is unlinked on release, so after locking it must still be the file at
    ``path`` (a releaser may have removed it meanwhile); if not, try again.
    """
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise OutputLocked(root, read_holder(root) or Holder(None, "", "")) from None
        try:
            same = os.stat(path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            return fd
        os.close(fd)


@contextmanager
def output_lock(root: Path, command: str, wall: WallClock | None = None) -> Iterator[Holder]:
    """Hold the exclusive writer lock of ``root`` within the block.

    Creates ``root`` if needed (and removes it again if the block left it empty).
    Raises :class:`OutputLocked` naming the holder when another process has it.
    """
    root = Path(root)
    created = not root.exists()
    root.mkdir(parents=True, exist_ok=True)  # a file in the way: OSError, a run failure
    path = root / LOCK_FILE
    fd = _acquire(root, path)
    since = (wall or WallClock.from_env()).now().isoformat(timespec="seconds")
    holder = Holder(os.getpid(), command, since)
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps(holder.__dict__) + "\n").encode(), 0)
        yield holder
    finally:
        path.unlink(missing_ok=True)  # still ours: unlink before letting go
        os.close(fd)
        if created:
            try:
                root.rmdir()  # only if the block wrote nothing
            except OSError:
                pass
