"""Read ``.npz`` files, pickled object arrays included, without letting the file run code.

VideoPose3D's exchange format stores nested dicts (``positions_3d``, ``positions_2d``, ``metadata``) as 0-d object
arrays, which NumPy writes with :mod:`pickle`. ``np.load(..., allow_pickle=True)`` would unpickle them with every
global importable, so a downloaded file could call ``os.system`` on load. Here object arrays are read by
:class:`RestrictedUnpickler`, which rebuilds only NumPy arrays, dtypes and scalars, plain containers (dict, list,
tuple, set), numbers and strings, and refuses anything else by name. Plain arrays go through
``np.lib.format.read_array(allow_pickle=False)``. A file that is not a zip archive (a raw pickle renamed ``.npz``,
a ``.npy``) is refused before anything is parsed.
"""

from __future__ import annotations

import io
import os
import pickle
import zipfile
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Union

import numpy as np

__all__ = ["NpzFileError", "RefusedPickleError", "RestrictedUnpickler", "SafeNpz", "load_npz", "npz_value"]

PathLike = Union[str, os.PathLike]

_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")  # a local file header, or the end record of an empty archive
_NPY_MAGIC = b"\x93NUMPY"


class NpzFileError(ValueError):
    """An ``.npz`` file that cannot be read as one: its message names the file (and key)."""


class RefusedPickleError(NpzFileError):
    """A pickled entry asked for a Python object outside the data-only allow-list (and nothing was run)."""

    def __init__(self, message: str, global_name: str = ""):
        super().__init__(message)
        self.global_name = global_name  # 'module.name' the pickle asked for


# What NumPy's own pickles of arrays, dtypes and scalars use (NumPy 1.x and 2.x module paths).
_NUMPY_MODULES = {
    "numpy",
    "numpy.core.multiarray",
    "numpy._core.multiarray",
    "numpy.core.numeric",
    "numpy._core.numeric",
}
_NUMPY_NAMES = {"_reconstruct", "ndarray", "dtype", "scalar", "_frombuffer"}
_BUILTIN_NAMES = {
    "dict",
    "list",
    "tuple",
    "set",
    "frozenset",
    "str",
    "bytes",
    "bytearray",
    "int",
    "float",
    "complex",
    "bool",
}


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that rebuilds data (NumPy arrays/dtypes/scalars, containers, numbers, strings) and nothing else.

    ``find_class`` is where a pickle names the callables it will invoke; allowing only constructors of inert data
    means no payload can reach ``os.system``, ``eval`` or an import. Subclasses extend :meth:`find_extra` (the
    SMPL reader adds stubs for chumpy and scipy sparse classes). ``encoding="latin1"`` reads Python-2 pickles,
    whose NumPy buffers are ``str``.
    """

    def __init__(self, file, source: str):
        super().__init__(file, encoding="latin1")
        self.source = source

    def find_class(self, module: str, name: str):
        if module in _NUMPY_MODULES and name in _NUMPY_NAMES:
            if module.startswith("numpy.core"):  # NumPy 2 renamed numpy.core; old pickles name the former
                module = "numpy._core" + module[len("numpy.core") :]
            return super().find_class(module, name)
        if module == "numpy.dtypes" and name.endswith("DType"):  # NumPy 2 dtype classes (pickled by some dtypes)
            return super().find_class(module, name)
        if module in ("builtins", "__builtin__") and name in _BUILTIN_NAMES:
            return super().find_class("builtins", name)
        if module == "_codecs" and name == "encode":  # how Python 3 writes bytes at pickle protocol 2
            return super().find_class(module, name)
        if module == "collections" and name == "OrderedDict":
            return super().find_class(module, name)
        found = self.find_extra(module, name)
        if found is not None:
            return found
        raise RefusedPickleError(
            f"{self.source}: refused to load '{module}.{name}' from a pickled entry; weakpose reads only NumPy "
            f"arrays, numbers, strings and lists/dicts/tuples of them from data files (nothing was run)",
            global_name=f"{module}.{name}",
        )

    def find_extra(self, module: str, name: str) -> Optional[Any]:
        """Hook for subclasses: return a class to allow ``module.name``, or None to refuse it."""
        return None


def _read_header(fp, version) -> tuple:
    if version == (1, 0):
        return np.lib.format.read_array_header_1_0(fp)
    if version == (2, 0):
        return np.lib.format.read_array_header_2_0(fp)
    return np.lib.format._read_array_header(fp, version)  # 3.0 (UTF-8 field names): no public reader


def _check_zip(path: Path) -> None:
    if not path.is_file():
        raise FileNotFoundError(f"{str(path)!r} does not exist or is not a file")
    with open(path, "rb") as fh:
        head = fh.read(6)
    if head.startswith(_NPY_MAGIC):
        raise NpzFileError(
            f"{path}: is a .npy file (one array); an .npz archive with named keys is expected here "
            f"(write it with np.savez)"
        )
    if not head.startswith(_ZIP_MAGIC):
        kind = "a Python pickle" if head[:1] == b"\x80" else "not a zip archive"
        raise NpzFileError(
            f"{path}: not an .npz file ({kind}; its first bytes are {head[:4]!r}); weakpose only "
            f"reads .npz archives, and never unpickles a bare file"
        )


class SafeNpz:
    """A read-only view of an ``.npz`` like ``np.load``'s ``NpzFile``, with object arrays read safely.

    ``npz[key]`` returns the stored array; a 0-d object array (how VideoPose3D stores a dict) is returned as the
    object itself. Use as a context manager or call :meth:`close`.
    """

    def __init__(self, path: PathLike):
        self.path = Path(path)
        _check_zip(self.path)
        try:
            self._zip = zipfile.ZipFile(self.path)
            names = self._zip.namelist()
        except (zipfile.BadZipFile, OSError, EOFError) as exc:
            raise NpzFileError(f"{self.path}: not a readable .npz (truncated or corrupt?): {exc}") from None
        self._members = {n[:-4] if n.endswith(".npy") else n: n for n in names}
        self.files: List[str] = list(self._members)

    def __enter__(self) -> "SafeNpz":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self._zip.close()

    def __contains__(self, key: str) -> bool:
        return key in self._members

    def __iter__(self) -> Iterator[str]:
        return iter(self.files)

    def __getitem__(self, key: str) -> Any:
        if key not in self._members:
            raise KeyError(f"{self.path}: no key {key!r} in the npz (keys: {sorted(self.files)})")
        where = f"{self.path} [key {key!r}]"
        try:
            with self._zip.open(self._members[key]) as member:
                # zip members are not seekable for read_array's fromfile path: read the bytes once.
                fp = io.BytesIO(member.read())
            version = np.lib.format.read_magic(fp)
            shape, fortran_order, dtype = _read_header(fp, version)
            if dtype.hasobject:
                value = RestrictedUnpickler(fp, where).load()
            else:
                fp.seek(0)
                value = np.lib.format.read_array(fp, allow_pickle=False)
        except RefusedPickleError:
            raise
        except (
            zipfile.BadZipFile,
            OSError,
            EOFError,
            ValueError,
            pickle.UnpicklingError,
            TypeError,
            AttributeError,
            IndexError,
            UnicodeDecodeError,
        ) as exc:
            raise NpzFileError(
                f"{where}: cannot read the entry (truncated or corrupt?): {type(exc).__name__}: {exc}"
            ) from None
        if isinstance(value, np.ndarray) and value.dtype == object and value.shape == ():
            value = value.item()
        return value


def load_npz(path: PathLike) -> Dict[str, Any]:
    """Every entry of an ``.npz`` as a dict (object entries unpickled with :class:`RestrictedUnpickler`)."""
    with SafeNpz(path) as npz:
        return {key: npz[key] for key in npz.files}


def npz_value(path: PathLike, key: str) -> Any:
    """One entry of an ``.npz`` (a 0-d object array comes back as the object it holds)."""
    with SafeNpz(path) as npz:
        return npz[key]
