"""Train an SMPL-parameter prior: HMR's discriminator (Kanazawa et al. 2018) against a small generator, LSGAN.

In HMR the discriminator's negatives are the regressor's outputs. To train the prior on its own, a small
generator (:class:`weakpose.priors.generators.SMPLGenerator`) stands in for the regressor: Gaussian noise -> 6D
rotations of the 23 body joints (Zhou et al. 2019; continuous, so the generator can learn them) -> rotation
matrices, plus betas. Both are trained as a least-squares GAN (Mao et al. 2017) with Adam (lr 1e-4, beta1 0.5), one
discriminator and one generator step per batch. After training the discriminator is the prior
(:class:`weakpose.priors.smpl_discriminator.SMPLDiscriminator`).

Batches: dicts of ``body_pose`` (B, 69) axis-angle and ``betas`` (B, num_betas)
(:class:`weakpose.data.datasets.pose_pool.SMPLParamDataset`). Validation compares held-out real samples with their
broken copies (:func:`weakpose.priors.corruptions.implausible_versions`).
"""
from __future__ import annotations

from typing import Any, Mapping, Optional, Tuple

import torch

from weakpose.data.smpl_params import mirror_axis_angle
from weakpose.geometry.rotations import axis_angle_to_matrix
from weakpose.priors.corruptions import implausible_versions
from weakpose.priors.generators import SMPLGenerator
from weakpose.priors.smpl_discriminator import (
    NUM_BODY_JOINTS,
    SMPLDiscriminator,
    lsgan_discriminator_loss,
    lsgan_generator_loss,
)
from weakpose.train import TrainTask

__all__ = ["SMPLPriorTask"]


class SMPLPriorTask(TrainTask):
    """LSGAN of ``discriminator`` (the prior) against ``generator``: per batch one discriminator step
    (real -> 1, generated -> 0) then one generator step (generated -> 1, discriminator frozen).

    Augmentation of real samples: ``mirror`` flips half the batch left/right (:func:`mirror_axis_angle`);
    ``resample_betas_std`` > 0 replaces the real betas by fresh draws from N(0, std²) (for data whose shapes were
    sampled independently of the motion anyway, like the embedded default: otherwise the shape head only ever sees
    one shape per training sequence).
    Logged: ``d_real``/``d_fake`` (mean outputs), ``loss_d``, ``loss_g``. Validation: ``score_real``,
    ``score_fake`` (mean score of held-out real and of generated samples) and, per broken copy, the fraction of
    held-out real samples scored above their broken copy (``real_above_<name>``).
    """

    ddp_exclude = ("discriminator",)  # frozen during the generator step; its gradients are averaged by hand

    def __init__(self, discriminator: SMPLDiscriminator, generator: SMPLGenerator, lr: float = 1e-4,
                 betas=(0.5, 0.999), generator_lr: Optional[float] = None, weight_decay: float = 0.0,
                 mirror: bool = True, resample_betas_std: float = 0.0):
        self.discriminator = discriminator
        self.generator = generator
        self.discriminator_optimizer = torch.optim.Adam(discriminator.parameters(), lr=lr, betas=tuple(betas),
                                                        weight_decay=weight_decay)
        self.generator_optimizer = torch.optim.Adam(generator.parameters(), lr=generator_lr or lr,
                                                    betas=tuple(betas))
        self.mirror = bool(mirror)
        self.resample_betas_std = float(resample_betas_std)

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
        d_real = self.discriminator(real_rot, real_betas)
        d_fake = self.discriminator(fake_rot, fake_betas)
        loss_d = lsgan_discriminator_loss(d_real, d_fake)
        self.optimizer_step(self.discriminator_optimizer, loss_d)

        self.discriminator.requires_grad_(False)  # the generator step must not touch the discriminator
        try:
            loss_g = lsgan_generator_loss(self.discriminator(*self._fake(n, real_rot.device)))
            self.optimizer_step(self.generator_optimizer, loss_g)
        finally:
            self.discriminator.requires_grad_(True)
        return {"loss_d": float(loss_d.detach()), "loss_g": float(loss_g.detach()),
                "d_real": float(d_real.detach().mean()), "d_fake": float(d_fake.detach().mean())}

    def validation_step(self, batch: Mapping[str, torch.Tensor]) -> Mapping[str, Any]:
        """Held-out real vs generated (noise seeded by batch size: the same every validation) and vs broken
        copies of the same real samples."""
        rot = axis_angle_to_matrix(batch["body_pose"].reshape(-1, NUM_BODY_JOINTS, 3))
        betas = batch["betas"]
        g = torch.Generator().manual_seed(len(rot))
        fake_rot, fake_betas = self.generator_module.sample(len(rot), generator=g)
        d = self.discriminator
        real_out, fake_out = d(rot, betas), d(fake_rot, fake_betas)
        real_score = real_out.mean(1)
        out = {"score_real": float(real_score.mean()), "score_fake": float(fake_out.mean()),
               "loss_d": float(lsgan_discriminator_loss(real_out, fake_out))}
        for name, (r, b) in implausible_versions(rot, betas, torch.Generator().manual_seed(len(rot) + 1)).items():
            key = "real_above_" + name.replace(" ", "_")
            out[key] = float((real_score > d(r, b).mean(1)).float().mean())
        return out
