"""Train a single-frame lifter on the 3D labels of the labelled subjects (MPJPE loss, Adam, exponential decay)."""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping, Optional

import torch
from torch import nn

from weakpose.metrics import mpjpe, p_mpjpe
from weakpose.skeleton import H36M17, flip_joints
from weakpose.train import TrainTask


# The task's config sections (sample/train_lifter_baseline.py's ``model``, ``optim`` and ``augment``): every
# default is written here once; SupervisedLifterTask's keyword defaults and its from_config read them.
@dataclasses.dataclass
class ModelConfig:
    width: int = 1024  # units of each linear layer (Martinez et al.)
    num_blocks: int = 2  # residual blocks of two linear layers
    dropout: float = 0.5


@dataclasses.dataclass
class OptimConfig:
    lr: float = 1e-3  # Adam step size
    lr_decay: float = 0.96  # the learning rate is multiplied by this every decay_every steps
    decay_every: int = 100


@dataclasses.dataclass
class AugmentConfig:
    flip: bool = True  # left/right mirror of 2D input and 3D target


class SupervisedLifterTask(TrainTask):
    """``model`` maps ``(B, 17, 2)`` normalised keypoints to ``(B, 17, 3)`` root-relative camera metres.

    Step size, decay and ``flip_augmentation`` default to :class:`OptimConfig` and :class:`AugmentConfig`.

    flip_augmentation: mirror half of each batch (2D x -> -x and 3D x -> -x with left/right swapped), the
    VideoPose3D-style augmentation; the screen normalisation keeps the principal point near 0 so the mirror
    stays a plausible view.
    """

    def __init__(
        self,
        model: nn.Module,
        lr: float = OptimConfig.lr,
        lr_decay: float = OptimConfig.lr_decay,
        decay_every: int = OptimConfig.decay_every,
        weight_decay: float = 0.0,
        flip_augmentation: bool = AugmentConfig.flip,
    ):
        self.model = model
        self.optimizer = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
        self.scheduler = torch.optim.lr_scheduler.StepLR(self.optimizer, step_size=decay_every, gamma=lr_decay)
        self.flip_augmentation = flip_augmentation

    @classmethod
    def from_config(
        cls,
        model: nn.Module,
        *,
        optim: Optional[OptimConfig] = None,
        augment: Optional[AugmentConfig] = None,
        weight_decay: float = 0.0,
    ) -> "SupervisedLifterTask":
        """The task from its config sections (a section left out: its defaults)."""
        optim, augment = optim or OptimConfig(), augment or AugmentConfig()
        return cls(
            model,
            lr=optim.lr,
            lr_decay=optim.lr_decay,
            decay_every=optim.decay_every,
            weight_decay=weight_decay,
            flip_augmentation=augment.flip,
        )

    def _inputs(self, batch: Mapping[str, Any], augment: bool):
        kp, pose = batch["keypoints_2d"], batch["pose_3d"]
        if augment:
            half = kp.shape[0] // 2
            kp = torch.cat([kp[:half], flip_joints(kp[half:], H36M17)])
            pose = torch.cat([pose[:half], flip_joints(pose[half:], H36M17)])
        return kp, pose

    def training_step(self, batch, step):
        kp, target = self._inputs(batch, self.flip_augmentation)
        loss = mpjpe(self.model(kp), target)
        self.optimizer_step(self.optimizer, loss)
        self.scheduler.step()
        return {"loss_mpjpe": loss.detach()}

    @torch.no_grad()
    def validation_step(self, batch):
        pred = self.model(batch["keypoints_2d"])
        return {"mpjpe": mpjpe(pred, batch["pose_3d"]), "p_mpjpe": p_mpjpe(pred, batch["pose_3d"])}

    @torch.no_grad()
    def predict(self, batch) -> torch.Tensor:
        self.model.eval()
        return self.model(batch["keypoints_2d"])
