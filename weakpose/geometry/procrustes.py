"""Similarity Procrustes alignment (rotation without reflection, uniform scale, translation), batched.

Used by P-MPJPE (Protocol #2): each frame's prediction is aligned to the ground truth before measuring the error.
Closed form of Umeyama 1991 ("Least-squares estimation of transformation parameters between two point patterns"),
whose sign correction keeps ``det R = +1``: a mirrored pose is never "explained" by a reflection.
"""

from __future__ import annotations

from typing import Tuple

import torch

from weakpose.arrays import from_torch, to_torch

__all__ = ["similarity_procrustes", "procrustes_align"]


def _inputs(pred, target):
    p, p_np = to_torch(pred, "pred")
    q, q_np = to_torch(target, "target")
    if p.dim() < 2 or p.shape[-1] != 3 or q.dim() < 2 or q.shape[-1] != 3 or p.shape[-2] != q.shape[-2]:
        raise ValueError(
            f"procrustes: pred and target must be (..., J, 3) with the same J, got {tuple(p.shape)} and "
            f"{tuple(q.shape)}"
        )
    dtype = torch.promote_types(p.dtype, q.dtype)
    return p.to(dtype), q.to(dtype=dtype, device=p.device), p_np


def _fit(p: torch.Tensor, q: torch.Tensor):
    mu_p, mu_q = p.mean(-2, keepdim=True), q.mean(-2, keepdim=True)
    pc, qc = p - mu_p, q - mu_q
    cov = qc.mT @ pc  # (..., 3, 3) = Σ_j q_j p_jᵀ (the 1/J cancels against the variance below)
    U, S, Vh = torch.linalg.svd(cov)
    # Flip the weakest singular direction when the best orthogonal map would be a reflection.
    d = torch.sign(torch.linalg.det(U @ Vh))
    d = torch.where(d == 0, torch.ones_like(d), d)
    signs = torch.ones_like(S)
    signs[..., -1] = d
    R = (U * signs[..., None, :]) @ Vh
    var_p = (pc * pc).sum((-2, -1))
    # A degenerate prediction (all joints at one point) gets scale 0 and lands on the target's centroid.
    s = (S * signs).sum(-1) / var_p.clamp_min(torch.finfo(p.dtype).tiny)
    t = mu_q[..., 0, :] - s[..., None] * (R @ mu_p[..., 0, :, None])[..., 0]
    return R, s, t


def similarity_procrustes(pred, target) -> Tuple:
    """Best ``(R, s, t)`` with ``s · R @ pred_j + t ≈ target_j`` in least squares, per leading index.

    Args: ``pred``, ``target`` of shape ``(..., J, 3)`` (numpy or torch; any unit, same for both).
    Returns: ``R (..., 3, 3)`` proper rotation (det +1), ``s (...,)``, ``t (..., 3)``, in the input's type.
    The aligned prediction is ``s[..., None, None] * pred @ R.mT + t[..., None, :]``.
    """
    p, q, was_np = _inputs(pred, target)
    R, s, t = _fit(p, q)
    return from_torch(R, was_np), from_torch(s, was_np), from_torch(t, was_np)


def procrustes_align(pred, target):
    """``pred`` ``(..., J, 3)`` after the similarity transform that best fits it to ``target`` (same type)."""
    p, q, was_np = _inputs(pred, target)
    R, s, t = _fit(p, q)
    aligned = s[..., None, None] * (p @ R.mT) + t[..., None, :]
    return from_torch(aligned, was_np)
