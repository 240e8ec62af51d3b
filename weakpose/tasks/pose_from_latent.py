"""3D pose from the encoder's geometry latent, with the 3D labels of one subject (Rhodin et al., ECCV 2018, §4).

The regressor (:class:`weakpose.models.latent_pose.LatentPoseRegressor`) is deliberately shallow (two fully
connected layers of 2048 with batch norm and dropout 0.5): if the latent learnt by novel-view synthesis already
encodes the pose, a small network and few labels suffice. Predictions and labels are root-relative H36M-17 joints in
metres in the crop's *virtual* camera frame (the latent's frame).

Encoder modes (the ablation of the method's point): ``frozen`` (the novel-view-synthesis encoder, or a randomly
initialised one, kept fixed: its latents are computed once and cached by
:func:`weakpose.data.datasets.latents.encode_views`), or ``finetune`` (trained end to end with the regressor on the
labelled subject).

Turn augmentation (``turn_augment``): one subject's frames show the body in few orientations. The latent is a
point cloud in the crop's camera frame that novel-view synthesis trains to rotate with the viewpoint, so turning
the latent and the target pose together by a random angle about the world's vertical axis (expressed in the
crop's virtual camera frame) shows the regressor that subject's poses facing every way
(:func:`weakpose.geometry.rotations.random_turns`). This is our addition, not part of Rhodin et al.; it is applied
to every encoder alike.
"""

from __future__ import annotations

import dataclasses
from typing import Any, List, Mapping, Optional

import torch
import torch.nn.functional as F

from weakpose.geometry.rotations import random_turns
from weakpose.metrics import pose_errors
from weakpose.models.encoder_decoder import EncoderDecoder
from weakpose.models.latent_pose import LatentPoseRegressor
from weakpose.train import TrainTask
from weakpose.train.precision import ComputeConfig, adam, autocast, resolve_precision

__all__ = ["OptimConfig", "PoseFromLatentTask"]


# The task's optimiser section (sample/train_3d_pose_from_enc.py's ``optim``): every default is written here once;
# PoseFromLatentTask's keyword defaults and :meth:`PoseFromLatentTask.from_config` read it.
@dataclasses.dataclass
class OptimConfig:
    lr: float = 1e-3  # the regressor's step size
    encoder_lr: float = 1e-4  # end-to-end: the encoder's step size
    # the regressor is trained once per value (AdamW's decoupled decay; 0 = Adam) and the one with the lowest MPJPE
    # on the labelled subject's held-out sequences is kept, for each encoder alike
    weight_decays: List[float] = dataclasses.field(default_factory=lambda: [0.0, 1.0, 10.0])  # AdamW; best kept
    end_to_end_steps: int = 800  # end-to-end trains on images: fewer, slower steps


class PoseFromLatentTask(TrainTask):
    """Batches hold ``latent`` (frozen encoder, cached) or ``image`` (``encoder`` given: trained end to end),
    ``pose_3d``, ``has_3d`` and (for ``turn_augment``) ``world_up``; the loss is the mean squared joint error (m²)
    of the labelled items. Step sizes default to :class:`OptimConfig` (``encoder_lr=None``: the regressor's)."""

    def __init__(
        self,
        regressor: LatentPoseRegressor,
        encoder: Optional[EncoderDecoder] = None,
        lr: float = OptimConfig.lr,
        encoder_lr: Optional[float] = OptimConfig.encoder_lr,
        weight_decay: float = 0.0,
        turn_augment: bool = False,
        generator: Optional[torch.Generator] = None,
        compute: Optional[ComputeConfig] = None,
    ):
        # decoupled weight decay (AdamW; 0 is plain Adam) on the regressor only: with one subject's labels it keeps
        # the regressor off latent directions that only that subject's frames span
        self.regressor = regressor
        self.turn_augment, self.generator = turn_augment, generator
        groups = [{"params": regressor.parameters(), "lr": lr, "weight_decay": weight_decay}]
        self.compute = compute or ComputeConfig()
        resolve_precision(self.compute.precision, torch.device("cpu"))  # checks the name now
        if encoder is not None:  # trained end to end: the encoder's step runs like the encoder-decoder's
            self.encoder = encoder.to(memory_format=torch.channels_last) if self.compute.channels_last else encoder
            groups.append({"params": encoder.parameters(), "lr": encoder_lr or lr, "weight_decay": 0.0})
        self.optimizer = adam(groups, decoupled=True)

    @classmethod
    def from_config(
        cls,
        regressor: LatentPoseRegressor,
        encoder: Optional[EncoderDecoder] = None,
        *,
        optim: Optional[OptimConfig] = None,
        weight_decay: float = 0.0,
        turn_augment: bool = False,
        generator: Optional[torch.Generator] = None,
        compute: Optional[ComputeConfig] = None,
    ) -> "PoseFromLatentTask":
        """The task from its optimiser section (left out: its defaults). ``weight_decay`` is one value of
        ``optim.weight_decays`` (the caller trains once per value); ``encoder_lr`` is used with an encoder only."""
        optim = optim or OptimConfig()
        return cls(
            regressor,
            encoder=encoder,
            lr=optim.lr,
            encoder_lr=optim.encoder_lr,
            weight_decay=weight_decay,
            turn_augment=turn_augment,
            generator=generator,
            compute=compute,
        )

    def latent(self, batch: Mapping[str, Any]) -> torch.Tensor:
        if "latent" in batch:
            return batch["latent"]
        with autocast(resolve_precision(self.compute.precision, self.device), self.device):
            points = self.encoder.encode(batch["image"]).points
        return points.float()

    def predict(self, batch: Mapping[str, Any]) -> torch.Tensor:
        return self.regressor(self.latent(batch))

    def training_step(self, batch: Any, step: int) -> Mapping[str, Any]:
        self.regressor.train()
        if hasattr(self, "encoder"):
            self.encoder.train()
        has = torch.as_tensor(batch["has_3d"], device=self.device)
        latent, target = self.latent(batch), batch["pose_3d"]
        if self.turn_augment:  # the same turn of latent and pose (both root-centred in the crop's camera frame)
            turn_t = random_turns(batch["world_up"].cpu(), self.generator).to(latent).transpose(1, 2)
            latent, target = latent @ turn_t, target @ turn_t
        pred = self.regressor(latent)
        if not bool(has.any()):
            return {"loss": 0.0}
        err = (pred - target) ** 2
        loss = err[has].sum(dim=-1).mean()
        self.optimizer_step(self.optimizer, loss)
        return {"loss": loss.item(), "mpjpe_mm": 1000 * float(err[has].detach().sum(-1).sqrt().mean())}

    @torch.no_grad()
    def validation_step(self, batch: Any) -> Mapping[str, Any]:
        self.regressor.eval()
        if hasattr(self, "encoder"):
            self.encoder.eval()
        pred = self.predict(batch)
        return {"loss": F.mse_loss(pred, batch["pose_3d"]).item() * 3, **pose_errors(pred, batch["pose_3d"])}
