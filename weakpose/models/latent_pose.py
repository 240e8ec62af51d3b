"""A shallow 3D pose regressor on the encoder-decoder's geometry latent (Rhodin et al., ECCV 2018, §4).

Two fully connected layers of 2048 with batch norm and dropout 0.5: if the latent learnt by novel-view synthesis
already encodes the pose, a small network and few labels suffice. Input: the 3D latent ``(B, num_points, 3)`` in
the crop's virtual camera frame; output: root-relative H36M-17 joints ``(B, num_joints, 3)`` in metres, in the
same frame. Trained by :class:`weakpose.tasks.pose_from_latent.PoseFromLatentTask`.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["LatentPoseRegressor"]


class LatentPoseRegressor(nn.Module):
    """``(B, num_points, 3)`` latent -> ``(B, num_joints, 3)`` root-relative pose (metres)."""

    def __init__(
        self,
        in_features: int = 600,
        hidden: int = 2048,
        num_layers: int = 2,
        dropout: float = 0.5,
        num_joints: int = 17,
    ):
        super().__init__()
        layers, width = [], in_features
        for _ in range(num_layers):
            layers += [nn.Linear(width, hidden), nn.BatchNorm1d(hidden), nn.ReLU(inplace=True), nn.Dropout(dropout)]
            width = hidden
        self.body = nn.Sequential(*layers)
        self.out = nn.Linear(width, num_joints * 3)
        self.num_joints = num_joints

    def forward(self, latent: torch.Tensor) -> torch.Tensor:
        return self.out(self.body(latent.flatten(1))).view(-1, self.num_joints, 3)
