"""Pools of real samples a prior learns from (never paired with any 2D input).

* :func:`real_poses` gathers root-relative 3D poses (N, J, 3) metres from sequences, in the world frame or every
  camera's frame; :class:`RealPoseDataset` serves them one (J, 3) pose per item (the pose critic,
  :class:`weakpose.tasks.pose_prior.PosePriorTask`).
* :class:`SMPLParamDataset` serves SMPL body poses (69 axis-angle values) and betas of
  :class:`weakpose.data.smpl_params.SMPLParams` (the SMPL-parameter critic,
  :class:`weakpose.tasks.smpl_prior.SMPLPriorTask`).
"""

from __future__ import annotations

from typing import Dict, List

import numpy as np
import torch
from torch.utils.data import Dataset

from weakpose.body.params import SMPLParams

__all__ = ["real_poses", "RealPoseDataset", "SMPLParamDataset"]


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
        views = (
            [world]
            if frame == "world"
            else [np.asarray(cam.world_to_camera(world)) for _, cam in sorted(seq.cameras.items())]
        )
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

    def get_batch(self, indices) -> torch.Tensor:
        """The poses of ``indices`` as one (B, J, 3) tensor (the Trainer's batched path: no per-item collate)."""
        return self.poses[torch.as_tensor(indices, dtype=torch.long)]


class SMPLParamDataset(Dataset):
    """Map-style dataset over :class:`SMPLParams`; an item is ``{"body_pose": (69,), "betas": (k,)}`` float32."""

    def __init__(self, params: SMPLParams):
        if len(params) == 0:
            raise ValueError(f"SMPLParamDataset: no frames in {params.source!r}")
        self.body_pose = torch.from_numpy(np.ascontiguousarray(params.body_pose, dtype=np.float32))
        self.betas = torch.from_numpy(np.ascontiguousarray(params.betas, dtype=np.float32))

    def __len__(self) -> int:
        return len(self.body_pose)

    def __getitem__(self, index: int) -> Dict[str, torch.Tensor]:
        return {"body_pose": self.body_pose[index], "betas": self.betas[index]}
