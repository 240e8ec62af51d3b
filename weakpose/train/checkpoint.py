"""Checkpoints: written atomically, holding only tensors and primitive containers.

``torch.load(path, weights_only=True)`` refuses arbitrary pickled objects (the safe default since torch 2.6), so a
checkpoint may hold tensors, numbers, strings, None, and dicts/lists/tuples of those — module and optimiser
``state_dict()``s qualify. :func:`save_checkpoint` checks this before writing and names the offending entry.
The file appears under its final name only once complete (temporary file + ``os.replace``), so a kill during a
save leaves the previous checkpoint readable.
"""

from __future__ import annotations

import collections
import os
from pathlib import Path
from typing import Any, Mapping

import torch

from weakpose.io_utils import atomic_write_path

__all__ = [
    "CHECKPOINT_FORMAT",
    "CheckpointMismatchError",
    "save_checkpoint",
    "load_checkpoint",
    "check_weights_only_safe",
]

CHECKPOINT_FORMAT = "weakpose.train/1"


class CheckpointMismatchError(ValueError):
    """A checkpoint does not fit the task resuming from it (another script, or another model config); the message
    names the file and what differs, so a script can print it instead of torch's shape errors."""

    def __init__(self, message: str, path: Path | None = None) -> None:
        super().__init__(message)
        self.path = path


_LEAF_TYPES = (str, bytes, int, float, bool, complex, type(None), torch.dtype, torch.device, torch.Size)
_CONTAINERS = (dict, collections.OrderedDict, list, tuple)


def check_weights_only_safe(obj: Any, where: str = "checkpoint") -> None:
    """Raise TypeError naming the first entry of ``obj`` that ``torch.load(weights_only=True)`` would refuse."""
    if isinstance(obj, torch.Tensor):
        if type(obj) not in (torch.Tensor, torch.nn.Parameter):
            raise TypeError(f"{where}: tensor subclass {type(obj).__name__} is not weights_only-loadable")
        return
    if type(obj) in _LEAF_TYPES:
        return
    if type(obj) in (dict, collections.OrderedDict):
        for k, v in obj.items():
            if type(k) not in (str, int, float, bool, type(None)):
                raise TypeError(f"{where}: dict key {k!r} of type {type(k).__name__} is not weights_only-loadable")
            check_weights_only_safe(v, f"{where}[{k!r}]")
        return
    if type(obj) in (list, tuple):
        for i, v in enumerate(obj):
            check_weights_only_safe(v, f"{where}[{i}]")
        return
    hint = ""
    if type(obj).__module__.startswith("numpy"):
        hint = " (convert NumPy values with torch.from_numpy(...) or float(...))"
    elif hasattr(obj, "__dataclass_fields__"):
        hint = " (store configs as plain dicts: weakpose.train.config_to_dict(cfg))"
    elif isinstance(obj, tuple):
        hint = " (namedtuples are refused: use a dict or a plain tuple)"
    kind = f"{type(obj).__module__}.{type(obj).__name__}"
    raise TypeError(f"{where}: value of type {kind} is not weights_only-loadable{hint}")


def save_checkpoint(state: Mapping[str, Any], path: str | os.PathLike) -> Path:
    """Atomically write ``state`` (checked with :func:`check_weights_only_safe`) to ``path``; returns the path."""
    path = Path(path)
    state = dict(state)
    state.setdefault("format", CHECKPOINT_FORMAT)
    check_weights_only_safe(state, where=f"checkpoint {path.name}")
    with atomic_write_path(path) as tmp:
        torch.save(state, tmp)
    return path


def load_checkpoint(path: str | os.PathLike, map_location: Any = "cpu") -> dict[str, Any]:
    """Load a checkpoint with ``weights_only=True`` (no code runs from the file); clear errors for bad files."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:
        raise ValueError(f"cannot read checkpoint {path}: {exc}") from exc
    if not isinstance(state, dict):
        raise ValueError(f"checkpoint {path} holds a {type(state).__name__}, expected a dict")
    return state
