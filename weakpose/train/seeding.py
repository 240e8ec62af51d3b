"""Seeding and random-number-generator state, saved in checkpoints so a resumed run draws the same numbers.

The state covers Python's ``random``, NumPy's legacy global generator, torch's CPU generator and, when CUDA has
been initialised, every CUDA generator. It is stored as tensors and primitive containers only, so checkpoints
holding it load with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import os
import random
import warnings
from typing import Any

import numpy as np
import torch

__all__ = ["seed_everything", "derive_seed", "set_deterministic", "get_rng_state", "set_rng_state"]


def derive_seed(*keys: int) -> int:
    """A 63-bit seed that depends on all ``keys`` (e.g. ``(seed, epoch)`` or ``(seed, rank)``), well mixed.

    Uses NumPy's SeedSequence hashing, so nearby keys give unrelated streams.
    """
    if not keys or any(int(k) < 0 for k in keys):
        raise ValueError(f"derive_seed needs non-negative integer keys, got {keys}")
    state = np.random.SeedSequence([int(k) for k in keys]).generate_state(2, dtype=np.uint32)
    return int((int(state[0]) << 31) ^ int(state[1])) & (2**63 - 1)


def set_deterministic(enabled: bool = True) -> None:
    """Ask torch for deterministic kernels (slower on GPU); warns instead of failing on ops that have none."""
    if enabled:
        # cuBLAS needs a fixed workspace to be reproducible; must be set before the first cuBLAS call.
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(enabled, warn_only=True)
    torch.backends.cudnn.deterministic = enabled
    torch.backends.cudnn.benchmark = not enabled and torch.backends.cudnn.benchmark


def seed_everything(seed: int, deterministic: bool | None = None) -> None:
    """Seed Python, NumPy (global) and torch (CPU and all CUDA devices); optionally switch determinism on/off."""
    seed = int(seed)
    if not 0 <= seed < 2**63:
        raise ValueError(f"seed must be in [0, 2**63), got {seed}")
    random.seed(seed)
    np.random.seed(seed % 2**32)  # the legacy global generator takes 32-bit seeds
    torch.manual_seed(seed)  # also seeds every CUDA device
    if deterministic is not None:
        set_deterministic(deterministic)


def get_rng_state() -> dict[str, Any]:
    """Snapshot of all global generators as tensors/primitives (``weights_only``-loadable)."""
    version, internal, gauss = random.getstate()
    name, keys, pos, has_gauss, cached = np.random.get_state(legacy=True)
    state: dict[str, Any] = {
        "python": {"version": int(version), "internal": torch.tensor(internal, dtype=torch.int64), "gauss": gauss},
        "numpy": {
            "name": str(name),
            "keys": torch.from_numpy(np.asarray(keys, dtype=np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached_gaussian": float(cached),
        },
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = list(torch.cuda.get_rng_state_all())
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore a snapshot taken by :func:`get_rng_state`."""
    missing = {"python", "numpy", "torch"} - set(state)
    if missing:
        raise KeyError(f"RNG state lacks {sorted(missing)}; has {sorted(state)}")
    py = state["python"]
    random.setstate((py["version"], tuple(int(v) for v in py["internal"].tolist()), py["gauss"]))
    npst = state["numpy"]
    np.random.set_state(
        (npst["name"], npst["keys"].numpy().astype(np.uint32), npst["pos"], npst["has_gauss"], npst["cached_gaussian"])
    )
    torch.set_rng_state(state["torch"].cpu())
    if "cuda" in state:
        if not torch.cuda.is_available():
            warnings.warn(
                "checkpoint holds CUDA RNG state but CUDA is unavailable; CUDA draws will differ", stacklevel=2
            )
        elif len(state["cuda"]) != torch.cuda.device_count():
            warnings.warn(
                f"checkpoint holds {len(state['cuda'])} CUDA RNG states but {torch.cuda.device_count()} devices "
                "are visible; CUDA draws will differ",
                stacklevel=2,
            )
        else:
            torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda"]])
