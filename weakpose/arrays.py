"""NumPy <-> torch plumbing, written once: the functions of weakpose that take either array type compute with
torch and hand back the type they were given."""

from __future__ import annotations

from typing import Any, Tuple

import numpy as np
import torch

__all__ = ["is_torch", "to_torch", "from_torch", "to_numpy"]


def is_torch(x: Any) -> bool:
    """Whether ``x`` is a torch tensor (else it is treated as a NumPy array)."""
    return isinstance(x, torch.Tensor)


def to_torch(x: Any, name: str = "input") -> Tuple[torch.Tensor, bool]:
    """Return ``(tensor, was_numpy)``; integer/bool inputs become float64 (numpy) or the default float (torch).
    NumPy arrays are shared, not copied, where they are contiguous floats."""
    if isinstance(x, torch.Tensor):
        if not (x.is_floating_point() or x.is_complex()):
            x = x.to(torch.get_default_dtype())
        return x, False
    try:
        arr = np.asarray(x)
    except Exception as exc:  # pragma: no cover - exotic inputs
        raise TypeError(f"{name}: expected a numpy array or torch tensor, got {type(x).__name__}") from exc
    if arr.dtype == object:
        raise TypeError(f"{name}: expected a numeric array, got dtype=object")
    if not np.issubdtype(arr.dtype, np.floating):
        arr = arr.astype(np.float64)
    return torch.from_numpy(np.ascontiguousarray(arr)), True


def from_torch(x: torch.Tensor, as_numpy: bool) -> Any:
    """``x`` back in the caller's type: a NumPy array when ``as_numpy`` (detached, on the CPU), else the tensor."""
    return x.detach().cpu().numpy() if as_numpy else x


def to_numpy(x: Any) -> np.ndarray:
    """Any array-like (tensors included, detached to the CPU) as a NumPy array."""
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    return np.asarray(x)
