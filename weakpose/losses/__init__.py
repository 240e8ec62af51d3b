"""Losses shared by tasks: image reconstruction of the encoder-decoder (:mod:`.image`: SSIM, feature losses, the
foreground-weighted L1) and losses on a regressed body (:mod:`.body`: 3D joints, silhouettes)."""

from weakpose.losses.body import joint_loss, silhouette_loss
from weakpose.losses.image import FEATURE_LOSSES, FeatureLoss, background_attention, ssim, weighted_l1

__all__ = [
    "FEATURE_LOSSES",
    "FeatureLoss",
    "ssim",
    "background_attention",
    "weighted_l1",
    "joint_loss",
    "silhouette_loss",
]
