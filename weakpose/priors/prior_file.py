"""One file format for every prior (pose critic, temporal critic, SMPL-parameter critic): a dict of primitives and
tensors that ``torch.load(weights_only=True)`` reads, written atomically, with errors that name the file."""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Type, TypeVar

import numpy as np
import torch
from torch import nn

from weakpose.weight_files import load_state, read_weights, write_weights

M = TypeVar("M", bound=nn.Module)
__all__ = ["save_prior", "load_prior", "score_without_grad"]


def save_prior(module: nn.Module, path, file_format: str) -> Path:
    """Write ``module.config``, ``module.meta`` and its weights to ``path`` atomically (a weight file)."""
    return write_weights(path, file_format, module, module.config, module.meta)


def load_prior(cls: Type[M], path, file_format: str, what: str, map_location="cpu", trainable: bool = False) -> M:
    """Read a :func:`save_prior` file into ``cls(**config)``. ``what`` names the kind with its article for
    messages ("a PoseCritic"). Float64 files stay float64, float32 and half-precision (storage only) files
    load as float32; by default the prior comes back frozen (eval
    mode, no parameter gradients) so that adding its loss to an objective trains only the caller's model."""
    name = what.split(" ", 1)[-1]
    payload = read_weights(path, file_format, what, map_location)
    for key in ("config", "state_dict"):
        if not isinstance(payload.get(key), Mapping):
            raise ValueError(f"{path}: {name} file without {key!r}")
    model = cls(**payload["config"])
    state = payload["state_dict"]
    floats = [v.dtype for v in state.values() if v.is_floating_point()]
    if floats and floats[0] == torch.float64:
        model.to(torch.float64)  # a float64 critic stays float64; half-precision storage loads into float32
    load_state(model, state, path, name, dict(payload["config"]))
    model.meta = dict(payload.get("meta", {}))
    model.to(map_location if isinstance(map_location, (str, torch.device)) else "cpu")
    if not trainable:
        model.eval().requires_grad_(False)
    return model


def score_without_grad(module: nn.Module, inputs):
    """``module(inputs)`` without gradients, in the module's device and dtype; numpy in -> numpy out, torch in ->
    torch out on the input's device (what every prior's ``score`` promises)."""
    param = next(module.parameters())
    was_np = isinstance(inputs, np.ndarray)
    x = torch.as_tensor(inputs).to(device=param.device, dtype=param.dtype)
    with torch.no_grad():
        out = module(x)
    return out.cpu().numpy() if was_np else out.to(inputs.device)
