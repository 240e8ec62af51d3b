"""One file format for every network weakpose saves: lifters, critics, the encoder-decoder, the SMPL regressor.

A weight file is a ``torch.save``'d dict of plain types and tensors, so ``torch.load(weights_only=True)`` reads it
and nothing in it can run code::

    {"format": "<tag>", "config": {...constructor arguments...}, "meta": {...free text...},
     "state_dict": {...}, ...extra entries a kind adds (e.g. a lifter's trajectory)...}

Files are written atomically (a Ctrl-C never leaves half a file behind a good name), and every error names the file.
Training checkpoints (``last.pt``) are another thing: whole tasks with optimisers, :mod:`weakpose.train.checkpoint`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Dict, Iterable, Mapping, Optional, Union

import torch
from torch import nn

from weakpose.io_utils import atomic_write_path

PathLike = Union[str, os.PathLike]

__all__ = ["write_weights", "read_weights", "load_state", "cpu_state"]


def cpu_state(module: nn.Module) -> Dict[str, torch.Tensor]:
    """The module's weights, detached and on the CPU (what a file stores)."""
    return {k: v.detach().cpu() for k, v in module.state_dict().items()}


def write_weights(
    path: PathLike,
    file_format: str,
    module: nn.Module,
    config: Mapping[str, Any],
    meta: Optional[Mapping[str, Any]] = None,
    **extra: Any,
) -> Path:
    """Write ``module``'s weights with the ``config`` that rebuilds it, ``meta`` and any ``extra`` entries."""
    path = Path(path)
    payload = {
        "format": file_format,
        "config": dict(config),
        "meta": dict(meta or {}),
        "state_dict": cpu_state(module),
        **extra,
    }
    with atomic_write_path(path) as tmp:
        torch.save(payload, tmp)
    return path


def read_weights(
    path: PathLike,
    formats: Union[str, Iterable[str]],
    what: str,
    map_location="cpu",
    required: Iterable[str] = ("config", "state_dict"),
    hint: str = "",
) -> Dict[str, Any]:
    """The payload of a weight file whose ``format`` is one of ``formats``; ``what`` names the kind with its article
    in messages ("a weakpose lifter", "an SMPLCritic"), ``hint`` is added to the missing-file message (how to make
    one)."""
    path = Path(path)
    article, _, name = what.partition(" ")
    what, kind = (what, name) if article in ("a", "an") else (f"a {what}", what)
    accepted = (formats,) if isinstance(formats, str) else tuple(formats)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such {kind} file{'; ' + hint if hint else ''}")
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # noqa: BLE001 - truncated, foreign or pickled-object files all end here
        raise ValueError(f"{path}: not a readable {kind} file ({type(exc).__name__}: {exc})") from None
    found = payload.get("format") if isinstance(payload, Mapping) else type(payload).__name__
    if not isinstance(payload, Mapping) or found not in accepted:
        raise ValueError(
            f"{path}: not {what} file (format {found!r}, expected {' or '.join(map(repr, accepted))};"
            f" training checkpoints such as last.pt hold whole tasks)"
        )
    for key in required:
        if key not in payload:
            raise ValueError(f"{path}: {kind} file without {key!r}")
    return dict(payload)


def load_state(
    module: nn.Module, state: Mapping[str, torch.Tensor], path: PathLike, what: str, config: Any = None
) -> nn.Module:
    """``module.load_state_dict(state)`` with an error that names the file and the config when they disagree."""
    try:
        module.load_state_dict(state)
    except RuntimeError as exc:
        raise ValueError(f"{path}: {what} weights do not fit its saved config {config}: {exc}") from None
    return module
