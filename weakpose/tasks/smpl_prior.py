"""Train an SMPL-parameter critic: the discriminator of HMR (Kanazawa et al. 2018), here a critic, against a small
generator, LSGAN.

In HMR the discriminator's negatives are the regressor's outputs. To train the critic on its own, a small
generator (:class:`weakpose.priors.generators.SMPLGenerator`) stands in for the regressor: Gaussian noise -> 6D
rotations of the 23 body joints (Zhou et al. 2019; continuous, so the generator can learn them) -> rotation
matrices, plus betas. Both are trained as a least-squares GAN (Mao et al. 2017) with Adam (lr 1e-4, beta1 0.5), one
critic and one generator step per batch. After training the critic is the prior
(:class:`weakpose.priors.smpl_critic.SMPLCritic`).

Batches: dicts of ``body_pose`` (B, 69) axis-angle and ``betas`` (B, num_betas)
(:class:`weakpose.data.datasets.pose_pool.SMPLParamDataset`). Validation compares held-out real samples with their
broken copies (:func:`weakpose.priors.corruptions.implausible_versions`).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping, Optional, Tuple

import torch

from weakpose.body.params import mirror_axis_angle
from weakpose.geometry.rotations import axis_angle_to_matrix
from weakpose.priors.corruptions import implausible_versions
from weakpose.priors.generators import SMPLGenerator
from weakpose.priors.smpl_critic import (
    NUM_BODY_JOINTS,
    SMPLCritic,
    lsgan_critic_loss,
    lsgan_generator_loss,
)
from weakpose.train import TrainTask

__all__ = ["AugmentConfig", "ModelConfig", "OptimConfig", "SMPLPriorTask"]


# The task's config sections (sample/train_smpl_prior.py's ``model``, ``optim`` and ``augment``): every default is
# written here once; SMPLPriorTask's keyword defaults and :meth:`SMPLPriorTask.from_config` read them.
@dataclasses.dataclass
class ModelConfig:
    joint_width: int = 32  # the critic's shared per-joint layers (HMR)
    full_width: int = 1024  # the all-joints head (HMR)
    noise_dim: int = 32  # the generator's input noise
    generator_width: int = 256
    generator_layers: int = 2


@dataclasses.dataclass
class OptimConfig:
    lr: float = 1e-4  # Adam step size (critic and generator)
    beta1: float = 0.5
    beta2: float = 0.999
    weight_decay: float = 0.0


@dataclasses.dataclass
class AugmentConfig:
    mirror: bool = True  # left/right mirror of real parameters


class SMPLPriorTask(TrainTask):
    """LSGAN of ``critic`` (the prior) against ``generator``: per batch one critic step
    (real -> 1, generated -> 0) then one generator step (generated -> 1, critic frozen).

    Augmentation of real samples: ``mirror`` flips half the batch left/right (:func:`mirror_axis_angle`);
    ``resample_betas_std`` > 0 replaces the real betas by fresh draws from N(0, std²) (for data whose shapes were
    sampled independently of the motion anyway, like the embedded default: otherwise the shape head only ever sees
    one shape per training sequence).
    Logged: ``d_real``/``d_fake`` (mean outputs), ``loss_d``, ``loss_g``. Validation: ``score_real``,
    ``score_fake`` (mean score of held-out real and of generated samples) and, per broken copy, the fraction of
    held-out real samples scored above their broken copy (``real_above_<name>``).
    """

    ddp_exclude = ("critic",)  # frozen during the generator step; its gradients are averaged by hand

    def __init__(
        self,
        critic: SMPLCritic,
        generator: SMPLGenerator,
        lr: float = OptimConfig.lr,
        betas=(OptimConfig.beta1, OptimConfig.beta2),
        generator_lr: Optional[float] = None,
        weight_decay: float = OptimConfig.weight_decay,
        mirror: bool = AugmentConfig.mirror,
        resample_betas_std: float = 0.0,
    ):
        self.critic = critic
        self.generator = generator
        self.critic_optimizer = torch.optim.Adam(
            critic.parameters(), lr=lr, betas=tuple(betas), weight_decay=weight_decay
        )
        self.generator_optimizer = torch.optim.Adam(generator.parameters(), lr=generator_lr or lr, betas=tuple(betas))
        self.mirror = bool(mirror)
        self.resample_betas_std = float(resample_betas_std)

    @classmethod
    def from_config(
        cls,
        critic: SMPLCritic,
        generator: SMPLGenerator,
        *,
        optim: Optional[OptimConfig] = None,
        augment: Optional[AugmentConfig] = None,
        **kwargs,
    ) -> "SMPLPriorTask":
        """The task from its config sections (a section left out: its defaults); ``kwargs`` are the constructor's
        settings no section holds (``generator_lr``, ``resample_betas_std``)."""
        optim, augment = optim or OptimConfig(), augment or AugmentConfig()
        return cls(
            critic,
            generator,
            lr=optim.lr,
            betas=(optim.beta1, optim.beta2),
            weight_decay=optim.weight_decay,
            mirror=augment.mirror,
            **kwargs,
        )

    #: component names of checkpoints written before the critic rename (v0.1) -> today's
    _V01_NAMES = {"discriminator": "critic", "discriminator_optimizer": "critic_optimizer"}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """:meth:`TrainTask.load_state_dict`, also reading checkpoints that call the critic ``discriminator``."""
        state = dict(state)
        for kind in ("modules", "optimizers"):
            if isinstance(state.get(kind), Mapping):
                state[kind] = {self._V01_NAMES.get(k, k): v for k, v in state[kind].items()}
        super().load_state_dict(state)

    @property
    def generator_module(self) -> SMPLGenerator:
        return getattr(self.generator, "module", self.generator)

    def augment(self, body_pose: torch.Tensor, betas: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """Real batch (axis-angle (B, 69), betas) -> (rotation matrices (B, 23, 3, 3), betas), augmented."""
        if self.mirror:
            half = len(body_pose) // 2
            body_pose = torch.cat([body_pose[:half], mirror_axis_angle(body_pose[half:])])
        if self.resample_betas_std > 0:
            betas = torch.randn_like(betas) * self.resample_betas_std
        return axis_angle_to_matrix(body_pose.reshape(-1, NUM_BODY_JOINTS, 3)), betas

    def _fake(self, n: int, device) -> Tuple[torch.Tensor, torch.Tensor]:
        return self.generator(torch.randn(n, self.generator_module.noise_dim, device=device))

    def training_step(self, batch: Mapping[str, torch.Tensor], step: int) -> Mapping[str, Any]:
        real_rot, real_betas = self.augment(batch["body_pose"], batch["betas"])
        n = len(real_rot)
        with torch.no_grad():
            fake_rot, fake_betas = self._fake(n, real_rot.device)
        d_real = self.critic(real_rot, real_betas)
        d_fake = self.critic(fake_rot, fake_betas)
        loss_d = lsgan_critic_loss(d_real, d_fake)
        self.optimizer_step(self.critic_optimizer, loss_d)

        self.critic.requires_grad_(False)  # the generator step must not touch the critic
        try:
            loss_g = lsgan_generator_loss(self.critic(*self._fake(n, real_rot.device)))
            self.optimizer_step(self.generator_optimizer, loss_g)
        finally:
            self.critic.requires_grad_(True)
        return {
            "loss_d": float(loss_d.detach()),
            "loss_g": float(loss_g.detach()),
            "d_real": float(d_real.detach().mean()),
            "d_fake": float(d_fake.detach().mean()),
        }

    def validation_step(self, batch: Mapping[str, torch.Tensor]) -> Mapping[str, Any]:
        """Held-out real vs generated (noise seeded by batch size: the same every validation) and vs broken
        copies of the same real samples."""
        rot = axis_angle_to_matrix(batch["body_pose"].reshape(-1, NUM_BODY_JOINTS, 3))
        betas = batch["betas"]
        g = torch.Generator().manual_seed(len(rot))
        fake_rot, fake_betas = self.generator_module.sample(len(rot), generator=g)
        d = self.critic
        real_out, fake_out = d(rot, betas), d(fake_rot, fake_betas)
        real_score = real_out.mean(1)
        out = {
            "score_real": float(real_score.mean()),
            "score_fake": float(fake_out.mean()),
            "loss_d": float(lsgan_critic_loss(real_out, fake_out)),
        }
        for name, (r, b) in implausible_versions(rot, betas, torch.Generator().manual_seed(len(rot) + 1)).items():
            key = "real_above_" + name.replace(" ", "_")
            out[key] = float((real_score > d(r, b).mean(1)).float().mean())
        return out
