"""Atomic file writing: a crash or a kill never leaves a half-written output in place of a good one.

A write goes to a temporary file beside the target, named ``.<stem>.wptmp-<tag>-<pid>-<random><suffix>``, which
is renamed over the target once complete. A process killed mid-write (SIGKILL, OOM killer, a node lost) leaves
that temporary behind; the name says who wrote it, so :func:`remove_stale_temporaries` can later delete the
orphans without touching a write still in progress.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import hashlib
import logging
import os
import re
import socket
import sys
import tempfile
import time
from pathlib import Path
from typing import Iterator, Union

PathLike = Union[str, os.PathLike]
log = logging.getLogger(__name__)

__all__ = [
    "atomic_write_path",
    "atomic_write_text",
    "remove_stale_temporaries",
    "clean_output_folder",
    "StaleTemporary",
    "TEMP_MARKER",
    "writer_tag",
]

TEMP_MARKER = ".wptmp-"
DEFAULT_UNKNOWN_WRITER_MAX_AGE_S = 24 * 3600.0
_PID_REUSE_SLACK_S = 60.0  # clock adjustments and /proc's whole-second boot time stay well below this

# .<stem>.wptmp-<tag>-<pid>-<random><suffix>; <suffix> always starts with a dot (".tmp" when the target has none)
_TEMP_RE = re.compile(r"^\.(?P<stem>.*)\.wptmp-(?P<tag>[0-9a-f]{8})-(?P<pid>\d+)-(?P<rand>[a-z0-9_]+)(?P<suffix>\..*)$")
_LEGACY_RAND_RE = re.compile(r"^[a-z0-9_]{8}$")  # mkstemp's random part in names written before the marker


def _default_file_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def _temp_suffix(path: Path) -> str:
    return "".join(path.suffixes) or ".tmp"


_writer_tag: str | None = None


def writer_tag() -> str:
    """8 hex digits naming this host and PID namespace: process ids are comparable only between equal tags.

    The PID namespace matters in containers, where two writers on one host (and one shared volume) may carry
    the same pid; a restarted container gets a new namespace and so a new tag.
    """
    global _writer_tag
    if _writer_tag is None:
        ident = socket.gethostname()
        with contextlib.suppress(OSError):
            ident += "|" + os.readlink("/proc/self/ns/pid")
        _writer_tag = hashlib.sha1(ident.encode("utf-8", "replace")).hexdigest()[:8]
    return _writer_tag


@contextlib.contextmanager
def atomic_write_path(path: PathLike) -> Iterator[str]:
    """Yield a temporary path in the same directory as ``path``; on success it replaces ``path``.

    The temporary file keeps ``path``'s suffix, so writers that append one (``np.savez`` adds ``.npz``) do not
    rename it behind our back. The rename is atomic on POSIX and Windows because both files share a directory.
    On any exception the temporary file is removed and ``path`` is left as it was; if the process is killed it
    stays, under a name that :func:`remove_stale_temporaries` recognises (writer's host tag and pid).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    prefix = f".{path.stem[:100]}{TEMP_MARKER}{writer_tag()}-{os.getpid()}-"  # [:100]: room for the marker
    fd, tmp = tempfile.mkstemp(prefix=prefix, suffix=_temp_suffix(path), dir=path.parent)
    os.close(fd)
    os.chmod(tmp, _default_file_mode())  # mkstemp makes 0600 files; outputs should get the usual permissions
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)
        raise


def atomic_write_text(path: PathLike, text: str) -> None:
    """Write ``text`` to ``path`` atomically (UTF-8)."""
    with atomic_write_path(path) as tmp:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)


# ------------------------------------------------------------------------------------------ stale temporaries


@dataclasses.dataclass(frozen=True)
class StaleTemporary:
    """A removed temporary: its path, its size in bytes, and why it counted as stale."""

    path: Path
    size: int
    reason: str


def _pid_alive(pid: int) -> bool | None:
    """True/False whether ``pid`` runs in this PID namespace; None where that cannot be asked safely."""
    if sys.platform == "win32" or not hasattr(os, "kill"):
        return None  # os.kill(pid, 0) on Windows TERMINATES the process
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by another user
    except OSError as exc:
        return False if exc.errno == errno.ESRCH else None
    return True


def _process_start_time(pid: int) -> float | None:
    """Start of process ``pid`` in seconds since the epoch (Linux /proc); None elsewhere or when unreadable."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
        start_ticks = int(fields[19])  # field 22 of stat(5); fields[0] is field 3
        with open("/proc/stat", "rb") as f:
            btime = next(int(line.split()[1]) for line in f if line.startswith(b"btime "))
        return btime + start_ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError, StopIteration):
        return None


def _stale_reason(name: str, mtime: float, now: float, targets: set[str], max_age_s: float) -> str | None:
    """Why temporary ``name`` is an orphan, or None (not a temporary of ours, or possibly still being written)."""
    m = _TEMP_RE.match(name)
    if m is not None:
        pid = int(m["pid"])
        if m["tag"] == writer_tag():
            alive = _pid_alive(pid)
            if alive is False:
                return f"writer pid {pid} is not running"
            if alive:
                started = _process_start_time(pid)
                if started is not None and mtime < started - _PID_REUSE_SLACK_S:
                    return f"pid {pid} now belongs to a process started after the file was last written"
                return None
        if now - mtime > max_age_s:
            return f"written elsewhere (pid {pid}) and untouched for {(now - mtime) / 3600:.1f} h"
        return None
    # Names written before the marker: .<stem>.<8 random chars><suffixes>, beside an existing <stem><suffix>.
    for target in targets:
        t = Path(target)
        head, tail = f".{t.stem}.", _temp_suffix(t)
        if name.startswith(head) and name.endswith(tail) and len(name) > len(head) + len(tail):
            if _LEGACY_RAND_RE.match(name[len(head) : len(name) - len(tail)]) and now - mtime > max_age_s:
                return f"unmarked temporary of {target}, untouched for {(now - mtime) / 3600:.1f} h"
    return None


def remove_stale_temporaries(
    directory: PathLike, max_age_s: float = DEFAULT_UNKNOWN_WRITER_MAX_AGE_S
) -> list[StaleTemporary]:
    """Delete the temporaries that killed :func:`atomic_write_path` writers left in ``directory`` (not recursive).

    The rule, in order:

    * only files named like our temporaries are considered (``.<stem>.wptmp-<tag>-<pid>-<random><suffix>``, or
      the unmarked ``.<stem>.<8 chars><suffix>`` of older versions when ``<stem><suffix>`` exists beside it);
    * written on this host and PID namespace (same tag): removed when the pid is not running, or when it now
      belongs to a process started after the file was last modified (the pid was reused); a file whose writer is
      alive is always kept;
    * otherwise (another host or container, Windows, unmarked names): the writer cannot be asked, so the file
      is removed only when unmodified for ``max_age_s`` (default 24 h) — no atomic write idles that long.

    Returns what was removed (path, bytes, reason). Errors on single files (vanished, no permission) are skipped.
    """
    directory = Path(directory)
    try:
        entries = list(os.scandir(directory))
    except FileNotFoundError:
        return []
    targets = {e.name for e in entries if not e.name.startswith(".")}
    now = time.time()
    removed: list[StaleTemporary] = []
    for entry in entries:
        if not entry.name.startswith(".") or not entry.is_file(follow_symlinks=False):
            continue
        try:
            st = entry.stat(follow_symlinks=False)
            reason = _stale_reason(entry.name, st.st_mtime, now, targets, max_age_s)
            if reason is None:
                continue
            os.remove(entry.path)
        except OSError:
            continue
        removed.append(StaleTemporary(Path(entry.path), int(st.st_size), reason))
    return removed


def clean_output_folder(root: PathLike, recursive: bool = False) -> list[StaleTemporary]:
    """What a writer (converter, generator) calls on its output folder before writing: remove the temporaries
    killed runs left there (``recursive``: in every sub-folder too) and log what was freed."""
    root = Path(root)
    if not root.is_dir():
        return []
    folders = [root] + ([Path(d) for d, _, _ in os.walk(root) if Path(d) != root] if recursive else [])
    removed = [r for folder in folders for r in remove_stale_temporaries(folder)]
    if removed:
        shown = "; ".join(f"{r.path.relative_to(root)} ({r.reason})" for r in removed[:5])
        log.warning(
            "removed %d temporary file(s) that killed writes left in %s, freeing %.1f MB: %s%s",
            len(removed),
            root,
            sum(r.size for r in removed) / 1e6,
            shown,
            f"; and {len(removed) - 5} more" if len(removed) > 5 else "",
        )
    return removed
