"""Train a 3D pose prior: RepNet's critic (Wandt & Rosenhahn 2019) against a noise-to-pose generator, WGAN-GP.

A critic only learns what "real" means by being shown something that is not; here that is a small generator
mapping Gaussian noise to root-relative poses, trained adversarially (Gulrajani et al. 2017: λ = 10, per-sample
interpolation, Adam 1e-4, β = (0.5, 0.9), ``n_critic`` critic steps per generator step). After training the
critic is the prior (:class:`weakpose.priors.PoseDiscriminator`); the generator is a by-product whose samples show
what the critic accepts.

Poses everywhere: (B, J, 3) metres, root-relative, H36M-17 order by default.
"""
from __future__ import annotations

import math
from typing import Any, List, Mapping, Optional

import numpy as np
import torch
from torch import nn
from torch.utils.data import Dataset

from weakpose.priors import PoseDiscriminator, critic_loss, generator_loss, gradient_penalty, kcs_matrix
from weakpose.priors.wgan import BETAS, GP_WEIGHT, LEARNING_RATE, N_CRITIC, make_optimizer
from weakpose.skeleton import H36M17, JointOrder, flip_joints
from weakpose.train import TrainTask

__all__ = ["PoseGenerator", "RealPoseDataset", "PosePriorTask", "real_poses", "AXES"]

AXES = {"x": 0, "y": 1, "z": 2}


class PoseGenerator(nn.Module):
    """Noise (B, noise_dim) -> root-relative poses (B, J, 3) metres (the root joint is exactly 0).

    A residual MLP: linear -> leaky ReLU -> ``num_blocks`` residual blocks -> linear to J·3.
    """

    def __init__(self, num_joints: int = 17, noise_dim: int = 32, width: int = 256, num_blocks: int = 2):
        super().__init__()
        self.num_joints, self.noise_dim = int(num_joints), int(noise_dim)
        self.inp = nn.Sequential(nn.Linear(noise_dim, width), nn.LeakyReLU(0.2))
        self.blocks = nn.ModuleList(
            nn.Sequential(nn.Linear(width, width), nn.LeakyReLU(0.2), nn.Linear(width, width))
            for _ in range(num_blocks))
        self.out = nn.Linear(width, (num_joints - 1) * 3)  # the root is not generated: it is the origin

    def forward(self, noise: torch.Tensor) -> torch.Tensor:
        if noise.ndim != 2 or noise.shape[1] != self.noise_dim:
            raise ValueError(f"PoseGenerator expects noise (B, {self.noise_dim}), got {tuple(noise.shape)}")
        h = self.inp(noise)
        for block in self.blocks:
            h = nn.functional.leaky_relu(h + block(h), 0.2)
        rest = self.out(h).reshape(len(noise), self.num_joints - 1, 3)
        return torch.cat([rest.new_zeros(len(noise), 1, 3), rest], dim=1)

    def sample(self, n: int, generator: Optional[torch.Generator] = None) -> torch.Tensor:
        """``n`` poses from fresh noise (drawn from ``generator`` when given, on the module's device)."""
        device = next(self.parameters()).device
        noise = torch.randn(n, self.noise_dim, generator=generator).to(device)
        return self(noise)


def real_poses(sequences, frame: str = "world", stride: int = 1) -> np.ndarray:
    """Root-relative 3D poses (N, J, 3) float32 metres from sequences with ``positions_3d``.

    frame: 'world' (the dataset's world frame; Human3.6M's is z-up) or 'camera' (every camera of each sequence,
    x right, y down, z forward). stride: keep every ``stride``-th frame.
    """
    if frame not in ("world", "camera"):
        raise ValueError(f"frame must be 'world' or 'camera', got {frame!r}")
    chunks: List[np.ndarray] = []
    for seq in sequences:
        if seq.positions_3d is None:
            raise ValueError(f"sequence {seq.subject}/{seq.action} has no 3D positions to learn a prior from")
        world = np.asarray(seq.positions_3d)[::stride]
        views = [world] if frame == "world" else [np.asarray(cam.world_to_camera(world))
                                                  for _, cam in sorted(seq.cameras.items())]
        chunks.extend(v - v[:, :1] for v in views)
    if not chunks:
        raise ValueError("no sequences to take real poses from")
    return np.concatenate(chunks).astype(np.float32)


class RealPoseDataset(Dataset):
    """Map-style dataset of poses (N, J, 3) metres; an item is one (J, 3) float32 tensor."""

    def __init__(self, poses: np.ndarray):
        poses = np.asarray(poses, dtype=np.float32)
        if poses.ndim != 3 or poses.shape[-1] != 3:
            raise ValueError(f"RealPoseDataset needs poses (N, J, 3) in metres, got {poses.shape}")
        self.poses = torch.from_numpy(poses)

    def __len__(self) -> int:
        return len(self.poses)

    def __getitem__(self, index: int) -> torch.Tensor:
        return self.poses[index]


def _rotate_about(poses: torch.Tensor, angles: torch.Tensor, axis: int) -> torch.Tensor:
    """Rotate each pose (B, J, 3) by its angle (B,) about coordinate ``axis`` (right-handed)."""
    i, j = [a for a in range(3) if a != axis]
    c, s = torch.cos(angles)[:, None], torch.sin(angles)[:, None]
    out = poses.clone()
    out[..., i] = c * poses[..., i] - s * poses[..., j]
    out[..., j] = s * poses[..., i] + c * poses[..., j]
    return out


class PosePriorTask(TrainTask):
    """WGAN-GP of ``critic`` (the prior) against ``generator``; one critic step per batch, and a generator step
    after every ``n_critic``-th critic step.

    Augmentation of real poses: a uniform random rotation about ``up_axis`` (facing direction is arbitrary) and
    a left/right mirror of half the batch (flip along the axis ``mirror_axis``, joints swapped per ``order``).
    Logged: ``critic_gap`` = E[f(real)] − E[f(fake)] (the critic's Wasserstein estimate, before its update),
    ``gp`` (the penalty, λ included), ``loss_critic``, ``loss_generator``.
    """

    ddp_exclude = ("critic",)  # the gradient penalty uses autograd.grad; its gradients are averaged by hand

    def __init__(self, critic: PoseDiscriminator, generator: PoseGenerator, lr: float = LEARNING_RATE,
                 betas=BETAS, n_critic: int = N_CRITIC, gp_weight: float = GP_WEIGHT,
                 generator_lr: Optional[float] = None,
                 rotate: bool = True, up_axis: str = "z", mirror: bool = True, mirror_axis: str = "x",
                 order: JointOrder = H36M17):
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

    def augment(self, real: torch.Tensor) -> torch.Tensor:
        real = real - real[:, :1]
        if self.mirror:
            half = len(real) // 2
            real = torch.cat([real[:half], flip_joints(real[half:], self.order, axis=self.mirror_axis)])
        if self.rotate:
            angles = torch.rand(len(real), device=real.device, dtype=real.dtype) * (2 * math.pi)
            real = _rotate_about(real, angles, self.up_axis)
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
        return {"critic_gap": float(real_values.mean() - fake_values.mean()),
                "critic_loss": float(critic_loss(self.critic, real, fake)),
                "bone_length_error": float((lengths(real) - lengths(fake)).abs().mean())}
