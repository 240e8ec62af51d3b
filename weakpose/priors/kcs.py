"""Kinematic chain space (KCS) of a 3D pose: bone vectors B and the matrix Ψ = BᵀB.

Wandt & Rosenhahn, "RepNet: Weakly Supervised Training of an Adversarial Reprojection Network for 3D Human Pose
Estimation", CVPR 2019. A pose X (3 × J) maps to its bone matrix B = X C (3 × b), where column k of the incidence
matrix C has +1 at the bone's child joint and −1 at its parent, so column k of B is ``child − parent``. Ψ = BᵀB
holds squared bone lengths on its diagonal and the dot products of bone pairs (angles scaled by lengths)
elsewhere; it is invariant to rotations and translations of the pose, which is what makes it a good critic input.

H36M-17 bones (:data:`H36M17_BONES`, in this column order):

* columns 0..15: the kinematic tree of :data:`weakpose.skeleton.H36M17`, one bone per non-root joint in joint
  order, ``(child, parent)`` = (1,0) (2,1) (3,2) (4,0) (5,4) (6,5) (7,0) (8,7) (9,8) (10,9) (11,8) (12,11) (13,12)
  (14,8) (15,14) (16,15);
* column 16: the hip-to-hip bone ``RHip − LHip`` (joints 1 and 4), which RepNet adds so the pelvis width and
  orientation enter Ψ. One widely copied implementation builds this column as RHip + LHip (a sign slip: that
  column is then not a bone and Ψ is no longer translation invariant); here it is the difference.
"""

from __future__ import annotations

from typing import Sequence, Tuple

import numpy as np
import torch

from weakpose.skeleton import H36M17

__all__ = ["H36M17_BONES", "bones_from_parents", "incidence_matrix", "bone_vectors", "kcs_matrix"]

Bones = Sequence[Tuple[int, int]]


def bones_from_parents(parents: Sequence[int]) -> Tuple[Tuple[int, int], ...]:
    """(child, parent) pairs of a kinematic tree given each joint's parent (negative for the root)."""
    return tuple((j, int(p)) for j, p in enumerate(parents) if p >= 0)


H36M17_BONES: Tuple[Tuple[int, int], ...] = bones_from_parents(H36M17.parents) + (
    (H36M17.index("RHip"), H36M17.index("LHip")),  # hip-to-hip bone RHip − LHip (RepNet's extra KCS column)
)


def _check_bones(bones: Bones, num_joints: int) -> np.ndarray:
    arr = np.asarray(bones, dtype=np.int64)
    if arr.ndim != 2 or arr.shape[1] != 2 or len(arr) == 0:
        raise ValueError(f"bones must be a non-empty sequence of (child, parent) pairs, got shape {arr.shape}")
    if arr.min() < 0 or arr.max() >= num_joints:
        raise ValueError(
            f"bone joint indices must lie in 0..{num_joints - 1} for poses of {num_joints} joints, "
            f"got indices {arr.min()}..{arr.max()}"
        )
    if np.any(arr[:, 0] == arr[:, 1]):
        raise ValueError("a bone joins a joint to itself")
    return arr


def incidence_matrix(bones: Bones, num_joints: int) -> np.ndarray:
    """RepNet's C (J × b): +1 at each bone's child, −1 at its parent, so that B = X C for X of shape (3, J)."""
    arr = _check_bones(bones, num_joints)
    c = np.zeros((num_joints, len(arr)), dtype=np.float64)
    cols = np.arange(len(arr))
    c[arr[:, 0], cols] = 1.0
    c[arr[:, 1], cols] = -1.0
    return c


def _check_poses(poses, what: str):
    if not isinstance(poses, (np.ndarray, torch.Tensor)):
        raise TypeError(f"{what}: poses must be a numpy array or torch tensor, got {type(poses).__name__}")
    if poses.ndim < 2 or poses.shape[-1] != 3:
        raise ValueError(f"{what}: poses must have shape (..., J, 3) in metres, got {tuple(poses.shape)}")


def bone_vectors(poses, bones: Bones = H36M17_BONES):
    """Bone matrix B of ``poses`` (..., J, 3) -> (..., 3, num_bones); column k = joint child_k − joint parent_k.

    Units follow the input (metres inside weakpose). Accepts numpy or torch and returns the same type.
    """
    _check_poses(poses, "bone_vectors")
    arr = _check_bones(bones, poses.shape[-2])
    child, parent = arr[:, 0], arr[:, 1]
    if isinstance(poses, torch.Tensor):
        child_t = torch.as_tensor(child, device=poses.device)
        parent_t = torch.as_tensor(parent, device=poses.device)
        diff = poses.index_select(-2, child_t) - poses.index_select(-2, parent_t)
    else:
        diff = poses[..., child, :] - poses[..., parent, :]
    return diff.swapaxes(-1, -2)  # (..., b, 3) -> (..., 3, b)


def kcs_matrix(poses, bones: Bones = H36M17_BONES):
    """KCS matrix Ψ = BᵀB of ``poses`` (..., J, 3) -> (..., b, b) (Wandt & Rosenhahn 2019); units metres².

    Ψ[k, k] is the squared length of bone k and Ψ[k, l] the dot product of bones k and l, in the order of
    ``bones`` (:data:`H36M17_BONES` by default). Numpy or torch in, same type out.
    """
    b = bone_vectors(poses, bones)
    return b.swapaxes(-1, -2) @ b
