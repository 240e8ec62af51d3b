"""Losses on a regressed body: 3D joints against labels in the crop's virtual camera frame, and rendered
silhouettes against masks (the weak, multi-view supervision of an SMPL regressor; Rhodin et al. 2018 for the
virtual frame, SoftRas — Liu et al. 2019 — for the soft silhouettes these losses compare).

Joints: ``(B, J, 3)`` metres, H36M-17 order (joint 0 = pelvis). Silhouettes and masks: ``(..., H, W)`` in [0, 1].
"""

from __future__ import annotations

import torch

__all__ = ["joint_loss", "silhouette_loss"]


def joint_loss(
    pred_h36m17_v: torch.Tensor, target_pose_cam: torch.Tensor, R_look: torch.Tensor, has_3d: torch.Tensor
) -> torch.Tensor:
    """Root-relative 3D joint loss in the virtual frame, over the labelled samples only.

    ``pred_h36m17_v (B, 17, 3)`` metres in the virtual frame; ``target_pose_cam (B, 17, 3)`` metres in the REAL
    camera frame (root-relative or not); ``R_look (B, 3, 3) = R_v Rᵀ`` takes the real camera frame to the virtual
    one; ``has_3d (B,)`` bool (or 0/1) marks samples whose labels may be used. Both poses are made relative to
    joint 0; the loss is the mean over labelled samples and joints of the SQUARED Euclidean distance (m²).
    Exactly 0 (still attached to the graph) when no sample is labelled.
    """
    if pred_h36m17_v.shape != target_pose_cam.shape or pred_h36m17_v.ndim != 3 or pred_h36m17_v.shape[-1] != 3:
        raise ValueError(
            f"joint_loss: pred {tuple(pred_h36m17_v.shape)} and target {tuple(target_pose_cam.shape)} "
            "must both be (B, J, 3)"
        )
    b = pred_h36m17_v.shape[0]
    if R_look.shape != (b, 3, 3) or has_3d.shape != (b,):
        raise ValueError(
            f"joint_loss: R_look must be ({b}, 3, 3) and has_3d ({b},); got {tuple(R_look.shape)} and "
            f"{tuple(has_3d.shape)}"
        )
    pred = pred_h36m17_v - pred_h36m17_v[:, :1]
    target = (target_pose_cam - target_pose_cam[:, :1]) @ R_look.transpose(-1, -2)
    per_sample = ((pred - target.to(pred.dtype)) ** 2).sum(-1).mean(-1)
    mask = has_3d.to(torch.bool)
    if not bool(mask.any()):
        return per_sample.sum() * 0.0
    return per_sample[mask].mean()


def silhouette_loss(rendered: torch.Tensor, masks: torch.Tensor, kind: str = "mse") -> torch.Tensor:
    """Soft silhouettes ``rendered (..., H, W)`` in [0, 1] against mask coverage ``masks`` (same shape, in [0, 1]).

    kind ``'mse'``: mean squared difference over every pixel (the fraction of wrongly covered pixels for binary
    images). ``'iou'``: ``1 − soft IoU`` averaged over the images, soft IoU = Σ r·m / Σ (r + m − r·m) (an empty
    union counts as IoU 1). MSE weighs each image by its body size in pixels; IoU weighs every image alike.
    """
    if rendered.shape != masks.shape or rendered.ndim < 2:
        raise ValueError(
            f"silhouette_loss: rendered {tuple(rendered.shape)} and masks {tuple(masks.shape)} must be "
            "the same (..., H, W)"
        )
    masks = masks.to(rendered.dtype)
    if kind == "mse":
        return ((rendered - masks) ** 2).mean()
    if kind == "iou":
        inter = (rendered * masks).sum((-2, -1))
        union = (rendered + masks - rendered * masks).sum((-2, -1))
        iou = torch.where(union > 0, inter / union.clamp_min(1e-12), torch.ones_like(union))
        return (1.0 - iou).mean()
    raise ValueError(f"silhouette_loss: kind must be 'mse' or 'iou', got {kind!r}")
