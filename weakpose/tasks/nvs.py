"""Training the multi-view encoder-decoder by novel-view synthesis (Rhodin et al., ECCV 2018).

One step: encode the source views of ``2B`` frames (pairs of same-subject frames, see
:mod:`weakpose.data.datasets.nvs_pairs`), rotate each 3D latent into its target view (``R_target · R_sourceᵀ``), swap
the appearance latents within each pair, decode over the target views' backgrounds, and compare with the target
views: L1 on pixels plus ``feature_weight`` × a feature loss (:class:`weakpose.losses.FeatureLoss`).

``foreground_weight`` (λ) optionally re-weights the L1 by ``1 + λ·a``, where ``a`` in [0, 1] is how far each target
pixel is from the known empty background (:func:`weakpose.losses.background_attention`). The person covers a small
part of a crop, so with plain L1 the decoder first learns the (given) room; the weights move the gradient onto the
person without any mask or label: only the background the decoder already receives is used. The re-rendering itself
is :func:`weakpose.models.encoder_decoder.reconstruct`.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping, Optional

import torch
import torch.nn.functional as F

from weakpose.data.datasets.nvs_pairs import flatten_pairs
from weakpose.losses import FeatureLoss, background_attention, ssim, weighted_l1
from weakpose.models.encoder_decoder import EncoderDecoder, reconstruct
from weakpose.train import TrainTask
from weakpose.train.precision import ComputeConfig, adam, autocast, resolve_precision

__all__ = ["ComputeConfig", "LossConfig", "NVSTask", "OptimConfig"]


# The task's config sections (sample/train_enc_dec.py's ``loss`` and ``optim``): every default is written here
# once; NVSTask's keyword defaults and :meth:`NVSTask.from_config` read them.
@dataclasses.dataclass
class LossConfig:
    """feature_loss: 'ssim' (default), 'random', 'none' or 'imagenet:<torchvision ResNet weights>'.
    foreground_weight: the L1 is weighted 1 + this x the target's difference from the known background
    (weakpose.losses.background_attention). The defaults reconstructed the person best in
    bench/bench_nvs_feature_loss.py."""

    feature_loss: str = "ssim"  # ssim | random | none | imagenet:<torchvision ResNet weights>
    weight_feature: float = 1.0  # the feature (or 1 - SSIM) term next to the L1
    foreground_weight: float = 4.0  # L1 weighted 1 + this x the target's difference from the background


@dataclasses.dataclass
class OptimConfig:
    lr: float = 1e-3  # Adam step size


class NVSTask(TrainTask):
    """Novel-view synthesis training of ``model`` (see the module docstring); the loss settings and the step size
    default to :class:`LossConfig` and :class:`OptimConfig`."""

    def __init__(
        self,
        model: EncoderDecoder,
        feature_loss: str = LossConfig.feature_loss,
        feature_weight: float = LossConfig.weight_feature,
        lr: float = OptimConfig.lr,
        weight_decay: float = 0.0,
        foreground_weight: float = LossConfig.foreground_weight,
        precision: str = ComputeConfig.precision,
        channels_last: bool = ComputeConfig.channels_last,
    ):
        resolve_precision(precision, torch.device("cpu"))  # checks the name now, not at the first step
        self.model = model.to(memory_format=torch.channels_last) if channels_last else model
        self.foreground_weight = float(foreground_weight)
        self.feature_loss = FeatureLoss(feature_loss)
        self.feature_weight = float(feature_weight)
        self.precision = precision
        self.optimizer = adam(model.parameters(), lr=lr, weight_decay=weight_decay)

    @classmethod
    def from_config(
        cls,
        model: EncoderDecoder,
        *,
        loss: Optional[LossConfig] = None,
        optim: Optional[OptimConfig] = None,
        compute: Optional[ComputeConfig] = None,
        weight_decay: float = 0.0,
    ) -> "NVSTask":
        """The task from its config sections (a section left out: its defaults)."""
        loss, optim, compute = loss or LossConfig(), optim or OptimConfig(), compute or ComputeConfig()
        return cls(
            model,
            feature_loss=loss.feature_loss,
            feature_weight=loss.weight_feature,
            lr=optim.lr,
            weight_decay=weight_decay,
            foreground_weight=loss.foreground_weight,
            precision=compute.precision,
            channels_last=compute.channels_last,
        )

    def _losses(self, batch: Mapping[str, Any]) -> dict:
        batch = flatten_pairs(batch)
        with autocast(resolve_precision(self.precision, self.device), self.device):
            pred = reconstruct(self.model, batch)
        pred = pred.float()  # the losses in float32
        target = batch["target"]
        l1 = F.l1_loss(pred, target)
        pixel = l1
        if self.foreground_weight > 0:
            attention = background_attention(target, batch["target_background"])
            pixel = weighted_l1(pred, target, 1.0 + self.foreground_weight * attention)
        feat = self.feature_loss(pred, target)
        return {"loss": pixel + self.feature_weight * feat, "l1": l1, "feature": feat, "pred": pred, "target": target}

    def training_step(self, batch: Any, step: int) -> Mapping[str, Any]:
        self.model.train()
        out = self._losses(batch)
        self.optimizer_step(self.optimizer, out["loss"])
        return {"loss": out["loss"].item(), "l1": out["l1"].item(), "feature": float(out["feature"].detach())}

    @torch.no_grad()
    def validation_step(self, batch: Any) -> Mapping[str, Any]:
        self.model.eval()
        out = self._losses(batch)
        return {"loss": out["loss"].item(), "l1": out["l1"].item(), "ssim": ssim(out["pred"], out["target"]).item()}
