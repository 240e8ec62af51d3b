"""Train RepNet (Wandt & Rosenhahn, CVPR 2019) from 2D keypoints and a pool of UNPAIRED 3D poses.

Each training step: ``n_critic`` WGAN-GP critic steps (Gulrajani et al. 2017) on real poses drawn at random from
the pool vs the lifter's current 3D, then one lifter step on

    w_adv * (-E[critic(X)]) + w_rep * ||W - K X||_F + w_cam * ||2/tr(KK^T) KK^T - I||_F.

The 2D batch never comes with its own 3D: the pool is a separate array (other subjects, or frames drawn
independently at random), so no 2D/3D correspondence is ever used for training.

Evaluation (``predict``/``validation_step``): the lifter's 3D is in the canonical frame of the pool's poses, so
it is rotated into the camera frame with the estimated camera (``R`` from orthonormalising K, third row
r1 x r2) and, because a weak-perspective camera leaves the 3D scale to the prior, each pose is rescaled to the
mean bone length of the pool (``target_bone_length``, from training 3D only). MPJPE is therefore "MPJPE after
rotation by the estimated camera and bone-length scale"; P-MPJPE (Procrustes) and N-MPJPE do not depend on these
choices except for the rotation's sign ambiguities that Procrustes removes.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping, Optional, Sequence

import numpy as np
import torch
from torch import nn

from weakpose.geometry.rotations import random_yaw
from weakpose.metrics import mpjpe, n_mpjpe, p_mpjpe
from weakpose.models.repnet import (
    RepNetLifter,
    camera_loss,
    mean_bone_length,
    reprojection_loss,
    rescale_to_bone_length,
    to_camera_frame,
)
from weakpose.priors.wgan import critic_loss, generator_loss, gradient_penalty
from weakpose.skeleton import H36M17
from weakpose.train import TrainTask

__all__ = ["AugmentConfig", "LossConfig", "ModelConfig", "OptimConfig", "RepNetTask"]


# The task's config sections (sample/train_repnet.py's ``model``, ``optim``, ``loss`` and ``augment``): every
# default is written here once; RepNetTask's keyword defaults and :meth:`RepNetTask.from_config` read them.
@dataclasses.dataclass
class ModelConfig:
    width: int = 256  # RepNet: 1000 (smaller here so the default run fits a few CPU minutes)
    num_blocks: int = 2
    normalize_scale: bool = True  # divide the root-centred 2D by its RMS joint distance
    critic_pose_width: int = 100
    critic_kcs_width: int = 256  # RepNet: 1000
    critic_blocks: int = 1


@dataclasses.dataclass
class OptimConfig:
    lr: float = 1e-3  # the lifter's Adam step size
    critic_lr: float = 1e-4  # the critic's Adam step size
    n_critic: int = 5  # critic steps per lifter step
    lr_decay: float = 0.95  # the lifter's learning rate (not the critic's) x this every decay_every steps
    decay_every: int = 200


@dataclasses.dataclass
class LossConfig:
    weight_adversarial: float = 1.0  # the critic's Wasserstein term
    weight_reprojection: float = 1.0  # ||W - KX||_F through the estimated camera
    weight_camera: float = 1.0  # camera orthogonality ||2/tr(KK^T) KK^T - I||_F


@dataclasses.dataclass
class AugmentConfig:
    yaw: bool = True  # rotate the 3D pool about the vertical by a random angle


class RepNetTask(TrainTask):
    """RepNet's adversarial reprojection training as a :class:`weakpose.train.TrainTask`.

    lifter: :class:`RepNetLifter`. critic: a module mapping (B, J, 3) metres to (B,) values, e.g.
    :class:`weakpose.priors.PoseCritic`. real_poses: (N, J, 3) root-relative metres, H36M-17 order, in the
    canonical frame the lifter should learn (weakpose: world frame, z up); never paired with the 2D batches.
    yaw_augment: rotate every drawn real pose about ``up_axis`` by a random angle
    (:func:`weakpose.geometry.rotations.random_yaw`; the pool of a few subjects
    then covers all headings; the camera branch absorbs the heading).
    Optimisers: Adam for both, betas (0.5, 0.9) as in WGAN-GP; step sizes, decay, loss weights and
    ``yaw_augment`` default to :class:`OptimConfig`, :class:`LossConfig` and :class:`AugmentConfig`
    (:meth:`from_config` takes those sections whole).
    Batches: ``keypoints_2d`` (B, J, 2) (any 2D unit; centred inside the lifter); validation batches also need
    ``pose_3d`` (B, J, 3) root-relative camera metres.
    """

    ddp_exclude = ("critic",)  # the gradient penalty differentiates the critic twice (autograd.grad)

    def __init__(
        self,
        lifter: RepNetLifter,
        critic: nn.Module,
        real_poses,
        *,
        lr: float = OptimConfig.lr,
        lifter_betas: Sequence[float] = (0.5, 0.9),
        critic_lr: float = OptimConfig.critic_lr,
        critic_betas: Sequence[float] = (0.5, 0.9),
        n_critic: int = OptimConfig.n_critic,
        gp_weight: float = 10.0,
        weight_adversarial: float = LossConfig.weight_adversarial,
        weight_reprojection: float = LossConfig.weight_reprojection,
        weight_camera: float = LossConfig.weight_camera,
        yaw_augment: bool = AugmentConfig.yaw,
        up_axis: int = 2,
        lr_decay: float = OptimConfig.lr_decay,
        decay_every: int = OptimConfig.decay_every,
        parents: Sequence[int] = H36M17.parents,
    ):
        real = torch.as_tensor(
            np.asarray(real_poses) if not isinstance(real_poses, torch.Tensor) else real_poses, dtype=torch.float32
        )
        if real.ndim != 3 or real.shape[1:] != (lifter.num_joints, 3) or len(real) == 0:
            raise ValueError(
                f"real_poses must be (N, {lifter.num_joints}, 3) metres with N > 0; got {tuple(real.shape)}"
            )
        if not torch.isfinite(real).all():
            raise ValueError("real_poses contain NaN or inf")
        if n_critic < 1:
            raise ValueError(f"n_critic must be >= 1; got {n_critic}")
        self.lifter = lifter
        self.critic = critic
        self.lifter_optimizer = torch.optim.Adam(lifter.parameters(), lr=lr, betas=tuple(lifter_betas))
        self.critic_optimizer = torch.optim.Adam(critic.parameters(), lr=critic_lr, betas=tuple(critic_betas))
        self.lifter_scheduler = torch.optim.lr_scheduler.StepLR(self.lifter_optimizer, decay_every, lr_decay)
        self.n_critic, self.gp_weight = int(n_critic), float(gp_weight)
        self.weights = dict(
            adversarial=float(weight_adversarial), reprojection=float(weight_reprojection), camera=float(weight_camera)
        )
        self.yaw_augment, self.up_axis = yaw_augment, up_axis
        self.parents = tuple(parents)
        self._real = real - real[:, :1]  # root-relative; kept out of checkpoints (the script rebuilds it)
        # The prior's scale: predictions are rescaled to it for MPJPE (a weak-perspective camera cannot fix it).
        self.target_bone_length = float(mean_bone_length(self._real, self.parents).mean())
        if self.target_bone_length > 2.0:
            raise ValueError(
                f"real_poses {tuple(real.shape)} have a mean bone length of "
                f"{self.target_bone_length:.3g}, over 2 m -- are they in millimetres? Pass metres."
            )

    @classmethod
    def from_config(
        cls,
        lifter: RepNetLifter,
        critic: nn.Module,
        real_poses,
        *,
        optim: Optional[OptimConfig] = None,
        loss: Optional[LossConfig] = None,
        augment: Optional[AugmentConfig] = None,
        **kwargs,
    ) -> "RepNetTask":
        """The task from its config sections (a section left out: its defaults); ``kwargs`` are the constructor's
        settings no section holds (``lifter_betas``, ``critic_betas``, ``gp_weight``, ``up_axis``, ``parents``)."""
        optim, loss, augment = optim or OptimConfig(), loss or LossConfig(), augment or AugmentConfig()
        return cls(
            lifter,
            critic,
            real_poses,
            lr=optim.lr,
            critic_lr=optim.critic_lr,
            n_critic=optim.n_critic,
            weight_adversarial=loss.weight_adversarial,
            weight_reprojection=loss.weight_reprojection,
            weight_camera=loss.weight_camera,
            yaw_augment=augment.yaw,
            lr_decay=optim.lr_decay,
            decay_every=optim.decay_every,
            **kwargs,
        )

    # -- data --------------------------------------------------------------------------------------
    def sample_real(self, n: int) -> torch.Tensor:
        """``n`` poses drawn uniformly with replacement from the pool (global torch RNG: resumes exactly)."""
        idx = torch.randint(len(self._real), (n,))
        poses = self._real[idx]
        if self.yaw_augment:
            poses = random_yaw(poses, self.up_axis)
        return poses.to(self.device)

    # -- training ----------------------------------------------------------------------------------
    def training_step(self, batch: Mapping[str, Any], step: int) -> Mapping[str, Any]:
        out = self.lifter(batch["keypoints_2d"])
        fake = out.pose_3d.detach()  # the lifter is fixed during the critic steps

        self.critic.requires_grad_(True)
        for _ in range(self.n_critic):
            real = self.sample_real(fake.shape[0])
            wasserstein = critic_loss(self.critic, real, fake)
            penalty = gradient_penalty(self.critic, real, fake, weight=self.gp_weight)
            self.optimizer_step(self.critic_optimizer, wasserstein + penalty)

        self.critic.requires_grad_(False)  # the lifter step must not touch the critic's gradients
        try:
            adversarial = generator_loss(self.critic, out.pose_3d)
        finally:
            self.critic.requires_grad_(True)
        reprojection = reprojection_loss(out.camera, out.pose_3d, out.keypoints_2d)
        camera = camera_loss(out.camera)
        w = self.weights
        loss = w["adversarial"] * adversarial + w["reprojection"] * reprojection + w["camera"] * camera
        self.optimizer_step(self.lifter_optimizer, loss)
        self.lifter_scheduler.step()
        return {
            "loss": loss.detach(),
            "loss_adversarial": adversarial.detach(),
            "loss_reprojection": reprojection.detach(),
            "loss_camera": camera.detach(),
            "critic_gap": -wasserstein.detach(),
            "gradient_penalty": penalty.detach(),
        }

    # -- evaluation --------------------------------------------------------------------------------
    def lift(self, keypoints_2d: torch.Tensor) -> torch.Tensor:
        """(B, J, 2) keypoints -> (B, J, 3) root-relative camera-frame metres (estimated rotation, prior's scale)."""
        out = self.lifter(keypoints_2d)
        pose = to_camera_frame(out.pose_3d, out.camera)
        return rescale_to_bone_length(pose, self.target_bone_length, self.parents)

    @torch.no_grad()
    def validation_step(self, batch: Mapping[str, Any]) -> Mapping[str, Any]:
        out = self.lifter(batch["keypoints_2d"])
        pred = rescale_to_bone_length(to_camera_frame(out.pose_3d, out.camera), self.target_bone_length, self.parents)
        target = batch["pose_3d"]
        return {
            "mpjpe": mpjpe(pred, target),
            "p_mpjpe": p_mpjpe(pred, target),
            "n_mpjpe": n_mpjpe(pred, target),
            "reprojection": reprojection_loss(out.camera, out.pose_3d, out.keypoints_2d),
        }

    @torch.no_grad()
    def predict(self, batch: Mapping[str, Any]) -> torch.Tensor:
        """For :func:`weakpose.evaluation.predict_views`: camera-frame poses as :meth:`lift` gives them."""
        self.lifter.eval()
        return self.lift(batch["keypoints_2d"])

    def extra_state(self) -> dict[str, Any]:
        return {"target_bone_length": self.target_bone_length}

    def load_extra_state(self, state: Mapping[str, Any]) -> None:
        if "target_bone_length" in state:
            self.target_bone_length = float(state["target_bone_length"])
