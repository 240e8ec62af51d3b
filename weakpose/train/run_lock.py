"""One writer per run folder: a second process (or an orphaned ``torchrun`` worker) must not overwrite ``last.pt``.

:class:`RunFolderLock` takes an exclusive, non-blocking lock on ``<run folder>/.run.lock`` — ``fcntl.flock`` on
POSIX, ``msvcrt.locking`` on Windows — and writes the holder's pid, host, start time and command line into it, so
a refused process can say who is in the way. The operating system drops the lock when the holder exits, however
it exits (SIGKILL included), so a stale lock file never blocks anyone: only a live holder does. The file itself is
never deleted (deleting a lock file races with a process that has just opened it). Where no lock can be taken
(no fcntl/msvcrt, or a filesystem that refuses locks) the run goes on with a warning.

The lock belongs to the open file: child processes forked while it is held (``DataLoader`` workers) hold it too
until they exit.
"""

from __future__ import annotations

import contextlib
import datetime
import errno
import json
import os
import shlex
import socket
import sys
import time
import warnings
from pathlib import Path
from types import TracebackType
from typing import Any, Union

from weakpose.io_utils import _pid_alive, writer_tag

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]
try:
    import msvcrt
except ImportError:  # POSIX
    msvcrt = None  # type: ignore[assignment]

__all__ = ["LOCK_FILE_NAME", "RunFolderLock", "RunFolderLockedError"]

LOCK_FILE_NAME = ".run.lock"
_WIN_LOCK_OFFSET = 1 << 20  # msvcrt locks a byte range that others cannot read: lock one byte past the holder text
_MAX_HOLDER_BYTES = 64 * 1024


class RunFolderLockedError(RuntimeError):
    """Another live process holds the run folder; the message names it (pid, host, start) and says what to do."""

    def __init__(self, message: str, folder: Path | None = None, holder: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.folder = folder
        self.holder = dict(holder or {})


def _holder_info() -> dict[str, Any]:
    return {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "tag": writer_tag(),
        "started": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "command": " ".join(shlex.quote(a) for a in [sys.executable, *sys.argv]),
    }


def _try_lock(fd: int) -> bool | None:
    """True: locked; False: another process holds it; None: no locking on this platform or filesystem."""
    try:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        elif msvcrt is not None:
            os.lseek(fd, _WIN_LOCK_OFFSET, os.SEEK_SET)
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        else:
            return None
    except BlockingIOError:
        return False
    except OSError as exc:
        if exc.errno in (errno.EACCES, errno.EAGAIN, errno.EDEADLK):
            return False
        return None  # ENOLCK, EOPNOTSUPP, ENOSYS...: a filesystem without locks
    return True


def _unlock(fd: int) -> None:
    if fcntl is not None:
        fcntl.flock(fd, fcntl.LOCK_UN)
    elif msvcrt is not None:
        os.lseek(fd, _WIN_LOCK_OFFSET, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)


def _read_holder(fd: int) -> dict[str, Any]:
    """The holder's details; retried briefly, since a holder writes them just after taking the lock."""
    for _ in range(10):
        os.lseek(fd, 0, os.SEEK_SET)
        raw = os.read(fd, _MAX_HOLDER_BYTES)
        with contextlib.suppress(ValueError):
            info = json.loads(raw.decode("utf-8"))
            if isinstance(info, dict):
                return info
        time.sleep(0.05)
    return {}


def _short(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def locked_message(folder: Path, holder: dict[str, Any]) -> str:
    """One sentence: which folder, who holds it, and how to proceed."""
    if "pid" not in holder:
        who = f"another process (its details in {folder / LOCK_FILE_NAME} are unreadable)"
    else:
        who = f"pid {holder['pid']} on {holder.get('host', '?')} (started {holder.get('started', '?')}"
        if holder.get("command"):
            who += f", running {_short(str(holder['command']))}"
        who += ")"
        if holder.get("tag") == writer_tag() and _pid_alive(int(holder["pid"])) is False:
            who += ", which has exited but left a child process (e.g. a data-loader worker) holding the lock"
    return f"run folder {folder} is in use by {who}; wait for it to finish, kill it, or choose another train.out_dir"


class RunFolderLock:
    """Exclusive lock on a run folder for as long as it is held (``with RunFolderLock(folder): ...``).

    ``acquire`` raises :class:`RunFolderLockedError` at once when a live process holds the folder (no waiting:
    two trainers of one folder are a mistake to report, not a queue).
    """

    def __init__(self, folder: Union[str, os.PathLike]) -> None:
        self.folder = Path(folder)
        self.path = self.folder / LOCK_FILE_NAME
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> "RunFolderLock":
        if self._fd is not None:
            return self
        self.folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o644)
        try:
            got = _try_lock(fd)
            if got is False:
                holder = _read_holder(fd)
                raise RunFolderLockedError(locked_message(self.folder, holder), self.folder, holder)
            if got is None:
                warnings.warn(
                    f"cannot lock run folder {self.folder} on this platform or filesystem; make sure no other "
                    "process trains into it",
                    stacklevel=2,
                )
                os.close(fd)
                return self
            data = json.dumps(_holder_info()).encode("utf-8") + b"\n"
            os.ftruncate(fd, 0)
            os.lseek(fd, 0, os.SEEK_SET)
            os.write(fd, data)
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        return self

    def release(self) -> None:
        """Clear the holder's details and drop the lock (idempotent)."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
            with contextlib.suppress(OSError):
                _unlock(fd)
        finally:
            os.close(fd)

    def __enter__(self) -> "RunFolderLock":
        return self.acquire()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()
