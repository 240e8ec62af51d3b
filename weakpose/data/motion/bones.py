"""Bone lengths of H36M-17 skeletons: Human3.6M S1's proportions, a symmetric random body, and re-proportioning
poses to given lengths. Used by the synthetic data (one body per subject) and the motion augmentation (one per
sample); kept apart from both so neither imports the other.

Lengths are metres, indexed by the child joint of each H36M-17 bone (entry 0, the root, is 0).
"""

from __future__ import annotations

import math
from typing import Dict, Tuple

import numpy as np

from weakpose.skeleton import H36M17

__all__ = ["H36M_S1_BONE_LENGTHS", "h36m_like_bone_lengths", "rescale_bones"]

#: Bone lengths (metres) of Human3.6M subject S1, keyed by the child joint of each H36M-17 bone. From the rest
#: offsets of the H36M skeleton (e.g. thigh 442.9 mm, shin 454.2 mm, Hip->Thorax 233.4 + 257.1 mm).
H36M_S1_BONE_LENGTHS: Dict[int, float] = {
    1: 0.1329,
    2: 0.4429,
    3: 0.4542,  # right hip, thigh, shin
    4: 0.1329,
    5: 0.4429,
    6: 0.4542,  # left
    7: 0.2334,
    8: 0.2571,
    9: 0.1211,
    10: 0.1150,  # Hip->Spine, Spine->Thorax, Thorax->Neck/Nose, ->Head
    11: 0.1510,
    12: 0.2789,
    13: 0.2517,  # left shoulder, upper arm, forearm
    14: 0.1510,
    15: 0.2789,
    16: 0.2517,  # right
}


def h36m_like_bone_lengths(
    rng: np.random.Generator, scale_range: Tuple[float, float] = (0.88, 1.12), jitter: float = 0.05
) -> np.ndarray:
    """(17,) bone length per child joint (entry 0 = 0), metres: Human3.6M S1's lengths times an overall size
    factor ``U(scale_range)`` times a per-bone factor ``exp(jitter · N(0, 1))`` shared by left and right."""
    scale = rng.uniform(*scale_range)
    lengths = np.zeros(H36M17.num_joints)
    mirror = H36M17.flip_permutation
    for child in range(1, H36M17.num_joints):
        if mirror[child] < child:  # the left/right partner was drawn first: same length (people are symmetric)
            lengths[child] = lengths[mirror[child]]
        else:
            lengths[child] = H36M_S1_BONE_LENGTHS[child] * scale * math.exp(jitter * rng.standard_normal())
    return lengths


def rescale_bones(poses: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """H36M-17 poses (..., 17, 3) with every bone set to ``lengths[child]``, bone directions and root kept."""
    poses = np.asarray(poses, dtype=np.float64)
    out = np.empty_like(poses)
    out[..., 0, :] = poses[..., 0, :]
    for child, parent in enumerate(H36M17.parents):  # parents precede children in H36M-17
        if parent < 0:
            continue
        bone = poses[..., child, :] - poses[..., parent, :]
        norm = np.linalg.norm(bone, axis=-1, keepdims=True)
        out[..., child, :] = out[..., parent, :] + bone / np.maximum(norm, 1e-12) * lengths[child]
    return out
