"""Train a 3D pose prior: RepNet's critic (Wandt & Rosenhahn 2019) against a noise-to-pose generator, WGAN-GP.

A critic only learns what "real" means by being shown something that is not; here that is a small generator
mapping Gaussian noise to root-relative poses (:class:`weakpose.priors.generators.PoseGenerator`), trained
adversarially (Gulrajani et al. 2017: λ = 10, per-sample
interpolation, Adam 1e-4, β = (0.5, 0.9), ``n_critic`` critic steps per generator step). After training the
critic is the prior (:class:`weakpose.priors.PoseCritic`); the generator is a by-product whose samples show
what the critic accepts.

Poses everywhere: (B, J, 3) metres, root-relative, H36M-17 order by default; real ones come from
:mod:`weakpose.data.datasets.pose_pool` (:func:`~weakpose.data.datasets.pose_pool.real_poses`,
:class:`~weakpose.data.datasets.pose_pool.RealPoseDataset`).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Mapping, Optional

import torch

from weakpose.geometry.rotations import rotate_about_axis
from weakpose.priors import PoseCritic, critic_loss, generator_loss, gradient_penalty, kcs_matrix
from weakpose.priors.generators import PoseGenerator
from weakpose.priors.wgan import BETAS, GP_WEIGHT, LEARNING_RATE, N_CRITIC, make_optimizer
from weakpose.skeleton import H36M17, JointOrder, flip_joints
from weakpose.train import TrainTask

__all__ = ["PosePriorTask", "AXES", "AugmentConfig", "LossConfig", "OptimConfig"]

AXES = {"x": 0, "y": 1, "z": 2}


# The task's config sections (sample/train_pose_prior.py's ``optim``, ``loss`` and ``augment``). The WGAN-GP
# numbers are weakpose.priors.wgan's (the constructor's defaults too); the rest is written here once.
@dataclasses.dataclass
class OptimConfig:
    lr: float = LEARNING_RATE  # Adam step size (critic and generator)
    beta1: float = BETAS[0]
    beta2: float = BETAS[1]
    n_critic: int = N_CRITIC  # critic steps per generator step


@dataclasses.dataclass
class LossConfig:
    weight_gradient_penalty: float = GP_WEIGHT  # WGAN-GP's lambda


@dataclasses.dataclass
class AugmentConfig:
    rotate: bool = True  # real poses turned by a random angle about the up axis
    mirror: bool = True  # left/right mirror of real poses


class PosePriorTask(TrainTask):
    """WGAN-GP of ``critic`` (the prior) against ``generator``; one critic step per batch, and a generator step
    after every ``n_critic``-th critic step.

    Augmentation of real poses: a uniform random rotation about ``up_axis`` (facing direction is arbitrary) and
    a left/right mirror of half the batch (flip along the axis ``mirror_axis``, joints swapped per ``order``).
    Logged: ``critic_gap`` = E[f(real)] − E[f(fake)] (the critic's Wasserstein estimate, before its update),
    ``gp`` (the penalty, λ included), ``loss_critic``, ``loss_generator``.
    """

    ddp_exclude = ("critic",)  # the gradient penalty uses autograd.grad; its gradients are averaged by hand

    def __init__(
        self,
        critic: PoseCritic,
        generator: PoseGenerator,
        lr: float = LEARNING_RATE,
        betas=BETAS,
        n_critic: int = N_CRITIC,
        gp_weight: float = GP_WEIGHT,
        generator_lr: Optional[float] = None,
        rotate: bool = AugmentConfig.rotate,
        up_axis: str = "z",
        mirror: bool = AugmentConfig.mirror,
        mirror_axis: str = "x",
        order: JointOrder = H36M17,
    ):
        if n_critic < 1:
            raise ValueError(f"n_critic must be >= 1, got {n_critic}")
        for name, ax in (("up_axis", up_axis), ("mirror_axis", mirror_axis)):
            if ax not in AXES:
                raise ValueError(f"{name} must be one of {sorted(AXES)}, got {ax!r}")
        self.critic = critic
        self.generator = generator
        self.critic_optimizer = make_optimizer(critic.parameters(), lr=lr, betas=betas)
        self.generator_optimizer = make_optimizer(generator.parameters(), lr=generator_lr or lr, betas=betas)
        self.n_critic, self.gp_weight = int(n_critic), float(gp_weight)
        self.rotate, self.up_axis = bool(rotate), AXES[up_axis]
        self.mirror, self.mirror_axis, self.order = bool(mirror), AXES[mirror_axis], order

    @classmethod
    def from_config(
        cls,
        critic: PoseCritic,
        generator: PoseGenerator,
        *,
        optim: Optional[OptimConfig] = None,
        loss: Optional[LossConfig] = None,
        augment: Optional[AugmentConfig] = None,
        **kwargs,
    ) -> "PosePriorTask":
        """The task from its config sections (a section left out: its defaults); ``kwargs`` are the constructor's
        settings no section holds (``generator_lr``, ``up_axis``, ``mirror_axis``, ``order``)."""
        optim, loss, augment = optim or OptimConfig(), loss or LossConfig(), augment or AugmentConfig()
        return cls(
            critic,
            generator,
            lr=optim.lr,
            betas=(optim.beta1, optim.beta2),
            n_critic=optim.n_critic,
            gp_weight=loss.weight_gradient_penalty,
            rotate=augment.rotate,
            mirror=augment.mirror,
            **kwargs,
        )

    def augment(self, real: torch.Tensor) -> torch.Tensor:
        real = real - real[:, :1]
        if self.mirror:
            half = len(real) // 2
            real = torch.cat([real[:half], flip_joints(real[half:], self.order, axis=self.mirror_axis)])
        if self.rotate:
            angles = torch.rand(len(real), device=real.device, dtype=real.dtype) * (2 * math.pi)
            real = rotate_about_axis(real, angles, self.up_axis)
        return real

    def _noise(self, n: int, device) -> torch.Tensor:
        return torch.randn(n, self.generator_module.noise_dim, device=device)

    @property
    def generator_module(self) -> PoseGenerator:
        return getattr(self.generator, "module", self.generator)

    def training_step(self, batch: torch.Tensor, step: int) -> Mapping[str, Any]:
        real = self.augment(batch)
        n = len(real)
        with torch.no_grad():
            fake = self.generator(self._noise(n, real.device))
        real_values, fake_values = self.critic(real), self.critic(fake)
        gp = gradient_penalty(self.critic, real, fake, weight=self.gp_weight)
        loss_c = fake_values.mean() - real_values.mean() + gp
        self.optimizer_step(self.critic_optimizer, loss_c)
        gap = real_values.detach().mean() - fake_values.detach().mean()
        out = {"critic_gap": float(gap), "gp": float(gp.detach()), "loss_critic": float(loss_c.detach())}
        if (step + 1) % self.n_critic == 0:
            self.critic.requires_grad_(False)  # the generator step must not touch the critic
            try:
                loss_g = generator_loss(self.critic, self.generator(self._noise(n, real.device)))
                self.optimizer_step(self.generator_optimizer, loss_g)
            finally:
                self.critic.requires_grad_(True)
            out["loss_generator"] = float(loss_g.detach())
        return out

    def validation_step(self, batch: torch.Tensor) -> Mapping[str, Any]:
        """Held-out real poses vs generator samples (noise seeded by batch size: the same every validation)."""
        real = batch - batch[:, :1]
        g = torch.Generator().manual_seed(len(real))
        fake = self.generator_module.sample(len(real), generator=g)
        real_values, fake_values = self.critic(real), self.critic(fake)
        # Generator sanity in metres: how far its mean bone lengths are from the real ones.
        bones = self.critic.bones if hasattr(self.critic, "bones") else None
        lengths = lambda x: kcs_matrix(x, bones).diagonal(dim1=-2, dim2=-1).clamp_min(0).sqrt().mean(0)  # noqa: E731
        return {
            "critic_gap": float(real_values.mean() - fake_values.mean()),
            "critic_loss": float(critic_loss(self.critic, real, fake)),
            "bone_length_error": float((lengths(real) - lengths(fake)).abs().mean()),
        }
