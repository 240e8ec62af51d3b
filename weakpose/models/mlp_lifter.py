"""Single-frame 2D -> 3D lifter: the fully-connected residual baseline of Martinez et al.

Martinez, Hossain, Romero, Little, *A simple yet effective baseline for 3d human pose estimation*, ICCV 2017:
linear layers of width 1024 with batch norm, ReLU and dropout, grouped in residual blocks of two.
"""

from __future__ import annotations

import torch
from torch import nn


class _ResidualBlock(nn.Module):
    def __init__(self, width: int, dropout: float):
        super().__init__()
        self.body = nn.Sequential(
            nn.Linear(width, width),
            nn.BatchNorm1d(width),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            nn.Linear(width, width),
            nn.BatchNorm1d(width),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
        )

    def forward(self, x):
        return x + self.body(x)


class MLPLifter(nn.Module):
    """Lift ``(B, J, 2)`` normalised screen keypoints to ``(B, J, 3)`` root-relative camera-frame metres."""

    def __init__(self, num_joints: int = 17, width: int = 1024, num_blocks: int = 2, dropout: float = 0.5):
        super().__init__()
        self.num_joints = num_joints
        self.inp = nn.Sequential(
            nn.Linear(num_joints * 2, width), nn.BatchNorm1d(width), nn.ReLU(inplace=True), nn.Dropout(dropout)
        )
        self.blocks = nn.Sequential(*[_ResidualBlock(width, dropout) for _ in range(num_blocks)])
        self.out = nn.Linear(width, num_joints * 3)

    def forward(self, keypoints_2d: torch.Tensor) -> torch.Tensor:
        if keypoints_2d.ndim != 3 or keypoints_2d.shape[1:] != (self.num_joints, 2):
            raise ValueError(f"MLPLifter expects (B, {self.num_joints}, 2) keypoints; got {tuple(keypoints_2d.shape)}")
        b = keypoints_2d.shape[0]
        x = self.blocks(self.inp(keypoints_2d.reshape(b, -1)))
        pose = self.out(x).reshape(b, self.num_joints, 3)
        return pose - pose[:, :1]  # root-relative by construction: the root carries no information
