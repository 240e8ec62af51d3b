"""Atomic file writing: a crash or a kill never leaves a half-written output in place of a good one."""
from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Iterator, Union

PathLike = Union[str, os.PathLike]


def _default_file_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


@contextlib.contextmanager
def atomic_write_path(path: PathLike) -> Iterator[str]:
    """Yield a temporary path in the same directory as ``path``; on success it replaces ``path``.

    The temporary file keeps ``path``'s suffix, so writers that append one (``np.savez`` adds ``.npz``) do not
    rename it behind our back. The rename is atomic on POSIX and Windows because both files share a directory.
    On any exception the temporary file is removed and ``path`` is left as it was.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = "".join(path.suffixes) or ".tmp"
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=suffix, dir=path.parent)
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
