"""Mixed precision and memory layout for convolutional training steps.

bfloat16 autocast pays where the hardware multiplies bf16 natively: CPUs with AVX512-BF16 or AMX (oneDNN runs
the convolutions there) and CUDA GPUs with bf16. Elsewhere the CPU emulates it and float32 is faster, so
``precision="auto"`` picks bf16 only on such hardware. Losses are computed in float32 (callers cast the network's
output back); weights, gradients and optimiser state stay float32, so no loss scaling is needed (bf16 has
float32's exponent range).

One caution, measured on the encoder-decoder: at initialisation, batch norm in training mode normalises nearly
constant activations and so amplifies rounding, bf16's most (gradient cosine with float32 0.88 on the default
model's first real batch, 0.9998 with batch norm on its running statistics). Training at an equal wall-clock
budget still reached a lower validation L1 than float32 (bench/README.md); check the same for a new network.
"""

from __future__ import annotations

import contextlib
import dataclasses
from typing import Optional

import torch

__all__ = ["PRECISIONS", "ComputeConfig", "native_bf16", "resolve_precision", "autocast", "adam"]

PRECISIONS = ("auto", "float32", "bfloat16")


@dataclasses.dataclass
class ComputeConfig:
    """How a convolutional step runs (the numbers it computes do not depend on it beyond rounding): the ``compute``
    section of the scripts that train the image encoder. bf16 autocast and channels-last convolutions made the
    encoder-decoder step 1.7-1.9x faster on a CPU with native bf16 (bench/bench_enc_dec.py)."""

    precision: str = "auto"  # auto | float32 | bfloat16: auto = bf16 autocast where the hardware has bf16
    channels_last: bool = True  # NHWC memory format for the convolutions


def native_bf16(device: torch.device) -> bool:
    """Whether ``device`` multiplies bfloat16 in hardware (CPU: oneDNN reports bf16 support, i.e. AVX512-BF16
    or AMX; CUDA: ``torch.cuda.is_bf16_supported()``)."""
    device = torch.device(device)
    if device.type == "cuda":
        return bool(torch.cuda.is_bf16_supported())
    if device.type == "cpu":
        try:
            return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported()) and torch.backends.mkldnn.is_available()
        except (AttributeError, RuntimeError):
            return False
    return False


def resolve_precision(precision: str, device: torch.device) -> Optional[torch.dtype]:
    """The autocast dtype for ``precision`` on ``device``: ``torch.bfloat16``, or None for plain float32."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    if precision == "float32" or (precision == "auto" and not native_bf16(device)):
        return None
    return torch.bfloat16


def autocast(dtype: Optional[torch.dtype], device: torch.device):
    """An autocast context for ``dtype`` on ``device`` (a no-op for None)."""
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(torch.device(device).type, dtype=dtype)


def adam(
    params, lr: float = 1e-3, weight_decay: float = 0.0, decoupled: bool = False, **kwargs
) -> torch.optim.Optimizer:
    """Adam (AdamW with ``decoupled``) with the fused implementation where this torch has it for the parameters'
    device (one kernel over all tensors instead of ~10 per tensor: on a CPU it saves ~50 ms a step on a
    17 M-parameter network), else the default one; the arithmetic is the same. ``params``: tensors or groups."""
    params = list(params)
    cls = torch.optim.AdamW if decoupled else torch.optim.Adam
    try:
        return cls(params, lr=lr, weight_decay=weight_decay, fused=True, **kwargs)
    except (RuntimeError, TypeError, ValueError):  # torch < 2.4 on CPU, or a device without the fused kernel
        return cls(params, lr=lr, weight_decay=weight_decay, **kwargs)
