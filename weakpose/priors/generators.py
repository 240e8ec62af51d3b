"""The generators a prior is trained against: a critic only learns what "real" means by being shown something that
is not. After training the critic is the prior; a generator is a by-product whose samples show
what the critic accepts.

* :class:`PoseGenerator` — Gaussian noise -> root-relative 3D poses (B, J, 3) metres, H36M-17 order by default;
  the opponent of RepNet's pose critic (:class:`weakpose.priors.PoseCritic`, WGAN-GP), trained by
  :class:`weakpose.tasks.pose_prior.PosePriorTask`.
* :class:`SMPLGenerator` — Gaussian noise -> 6D rotations of the 23 SMPL body joints (Zhou et al. 2019;
  continuous, so the generator can learn them) -> rotation matrices, plus betas; it stands in for HMR's regressor
  as the opponent of the SMPL-parameter critic (:class:`weakpose.priors.SMPLCritic`, LSGAN), trained
  by :class:`weakpose.tasks.smpl_prior.SMPLPriorTask`.
"""

from __future__ import annotations

from typing import Optional, Tuple

import torch
from torch import nn

from weakpose.geometry.rotations import rot6d_to_matrix
from weakpose.priors.smpl_critic import NUM_BODY_JOINTS

__all__ = ["PoseGenerator", "SMPLGenerator"]


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
            for _ in range(num_blocks)
        )
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


class SMPLGenerator(nn.Module):
    """Noise (B, noise_dim) -> (body-joint rotation matrices (B, 23, 3, 3), betas (B, num_betas)).

    An MLP with leaky ReLU; the 6D output's bias starts at the identity rotation, so the generator begins at the
    rest pose and the mean shape.
    """

    def __init__(self, noise_dim: int = 32, width: int = 256, num_layers: int = 2, num_betas: int = 10):
        super().__init__()
        self.noise_dim, self.num_betas = int(noise_dim), int(num_betas)
        layers, d = [], noise_dim
        for _ in range(num_layers):
            layers += [nn.Linear(d, width), nn.LeakyReLU(0.2)]
            d = width
        self.body = nn.Sequential(*layers)
        self.rot_out = nn.Linear(d, NUM_BODY_JOINTS * 6)
        self.beta_out = nn.Linear(d, num_betas)
        with torch.no_grad():
            self.rot_out.weight.mul_(0.1)
            self.rot_out.bias.copy_(torch.tensor([1.0, 0.0, 0.0, 1.0, 0.0, 0.0]).repeat(NUM_BODY_JOINTS))

    def forward(self, noise: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        if noise.ndim != 2 or noise.shape[1] != self.noise_dim:
            raise ValueError(f"SMPLGenerator expects noise (B, {self.noise_dim}), got {tuple(noise.shape)}")
        h = self.body(noise)
        rot = rot6d_to_matrix(self.rot_out(h).reshape(len(noise), NUM_BODY_JOINTS, 6))
        return rot, self.beta_out(h)

    def sample(self, n: int, generator: Optional[torch.Generator] = None):
        """``n`` samples from fresh noise (drawn from ``generator`` when given)."""
        device = next(self.parameters()).device
        return self(torch.randn(n, self.noise_dim, generator=generator).to(device))
