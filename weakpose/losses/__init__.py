"""Losses shared by several tasks (image reconstruction losses of the encoder-decoder)."""
from weakpose.losses.image import FEATURE_LOSSES, FeatureLoss, ssim

__all__ = ["FEATURE_LOSSES", "FeatureLoss", "ssim"]
