"""Implausible copies of real samples, to check that a prior prefers the real ones: 3D joint positions for the
pose critic, SMPL body-joint rotations and shapes for the SMPL-parameter critic.

3D poses (H36M-17 joints, metres, any frame; NumPy). Each corruption keeps everything but one thing a human body
cannot do:

* :func:`bend_backwards` — a knee or elbow bent the wrong way: the distal bone turned 180° about the proximal
  bone's axis, so a joint flexed by θ becomes hyperextended by θ (only poses flexed by ≥ ``min_flexion_deg`` count);
* :func:`turn_head` — neck and head turned 180° about the spine;
* :func:`scale_bone` — one limb bone longer or shorter, its subtree carried along (broken bone lengths).

:func:`corrupted_versions` applies each to a batch; the pretrained pose prior's model card reports how often the
prior scores the real pose above each corrupted copy.

SMPL parameters (body-joint rotation matrices (B, 23, 3, 3) and betas (B, k); torch): :func:`reverse_knees` (both
knees bent backwards) and :func:`implausible_versions` (every joint random, knees backwards, one joint random,
betas ×5); the pretrained SMPL prior's model card reports the same fraction for each.
"""

from __future__ import annotations

import math
from typing import Dict, Optional, Tuple

import numpy as np
import torch

from weakpose.geometry.rotations import axis_angle_to_matrix, random_rotations
from weakpose.priors.smpl_critic import NUM_BODY_JOINTS
from weakpose.skeleton import H36M17, SMPL24

__all__ = [
    "LIMB_BONES",
    "bend_backwards",
    "turn_head",
    "scale_bone",
    "descendants",
    "corrupted_versions",
    "KNEE_JOINTS",
    "reverse_knees",
    "implausible_versions",
]

#: Child joints of the thigh, shin, upper-arm and forearm bones of H36M-17 (both sides).
LIMB_BONES: Tuple[int, ...] = tuple(
    H36M17.index(j) for j in ("RKnee", "RFoot", "LKnee", "LFoot", "LElbow", "LWrist", "RElbow", "RWrist")
)

_CHAINS = {  # (proximal, joint, distal)
    "knee": (
        (H36M17.index("RHip"), H36M17.index("RKnee"), H36M17.index("RFoot")),
        (H36M17.index("LHip"), H36M17.index("LKnee"), H36M17.index("LFoot")),
    ),
    "elbow": (
        (H36M17.index("RShoulder"), H36M17.index("RElbow"), H36M17.index("RWrist")),
        (H36M17.index("LShoulder"), H36M17.index("LElbow"), H36M17.index("LWrist")),
    ),
}


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-12)


def _check(poses) -> np.ndarray:
    p = np.asarray(poses, dtype=np.float64)
    if p.ndim != 3 or p.shape[1:] != (H36M17.num_joints, 3):
        raise ValueError(f"pose corruptions expect H36M-17 poses (B, 17, 3); got {p.shape}")
    return p


def descendants(joint: int) -> list:
    """``joint`` and every joint below it in the H36M-17 tree."""
    out = [joint]
    for child, parent in enumerate(H36M17.parents):  # parents precede children
        if parent in out and child not in out:
            out.append(child)
    return out


def bend_backwards(poses, joint: str = "knee", min_flexion_deg: float = 25.0) -> Tuple[np.ndarray, np.ndarray]:
    """Per pose, the more flexed ``joint`` ("knee" or "elbow") bent the wrong way; returns ``(corrupted, valid)``
    with ``valid`` the poses flexed by at least ``min_flexion_deg`` (the others barely change)."""
    p = _check(poses)
    if joint not in _CHAINS:
        raise ValueError(f"bend_backwards: joint must be one of {sorted(_CHAINS)}; got {joint!r}")
    flexions = []
    for a, b, c in _CHAINS[joint]:
        cos = np.sum(_unit(p[:, b] - p[:, a]) * _unit(p[:, c] - p[:, b]), axis=-1)
        flexions.append(np.degrees(np.arccos(np.clip(cos, -1.0, 1.0))))
    pick = np.argmax(np.stack(flexions, 1), axis=1)
    out = p.copy()
    for side, (a, b, c) in enumerate(_CHAINS[joint]):
        rows = pick == side
        axis = _unit(p[rows, b] - p[rows, a])
        distal = p[rows, c] - p[rows, b]
        # rotating by 180 degrees about the axis reflects the distal bone through it: 2 (d·a) a - d
        out[rows, c] = p[rows, b] + 2 * np.sum(distal * axis, -1, keepdims=True) * axis - distal
    valid = np.max(np.stack(flexions, 1), axis=1) >= min_flexion_deg
    return out, valid


def turn_head(poses, degrees: float = 180.0) -> np.ndarray:
    """Neck/Nose and Head rotated by ``degrees`` about the Spine->Thorax axis through the thorax."""
    p = _check(poses)
    spine, thorax = H36M17.index("Spine"), H36M17.index("Thorax")
    k = _unit(p[:, thorax] - p[:, spine])[:, None, :]
    t = np.radians(degrees)
    out = p.copy()
    for j in (H36M17.index("Neck/Nose"), H36M17.index("Head")):
        v = (p[:, j] - p[:, thorax])[:, None, :]
        # Rodrigues: v cos t + (k x v) sin t + k (k·v)(1 - cos t)
        r = v * np.cos(t) + np.cross(k, v) * np.sin(t) + k * np.sum(k * v, -1, keepdims=True) * (1 - np.cos(t))
        out[:, j] = p[:, thorax] + r[:, 0]
    return out


def scale_bone(poses, child: np.ndarray, factor: float) -> np.ndarray:
    """Each pose's bone ending at ``child[i]`` scaled by ``factor``, the joints below it moved with it."""
    p = _check(poses)
    child = np.broadcast_to(np.asarray(child, dtype=int), (len(p),))
    out = p.copy()
    for j in np.unique(child):
        rows = child == j
        parent = H36M17.parents[j]
        shift = (factor - 1.0) * (p[rows, j] - p[rows, parent])
        out[np.ix_(rows, descendants(int(j)))] += shift[:, None, :]
    return out


def corrupted_versions(poses, rng: np.random.Generator) -> Dict[str, Tuple[np.ndarray, np.ndarray]]:
    """``name -> (corrupted poses, valid mask)`` for knees and elbows bent backwards, the head turned round and
    a random limb bone at 1.4x or 0.6x its length (one bone per pose drawn from :data:`LIMB_BONES`)."""
    p = _check(poses)
    everyone = np.ones(len(p), dtype=bool)
    bones = rng.choice(np.array(LIMB_BONES), size=len(p))
    return {
        "knee bent backwards": bend_backwards(p, "knee"),
        "elbow bent backwards": bend_backwards(p, "elbow"),
        "head turned 180 deg": (turn_head(p), everyone),
        "limb bone x1.4": (scale_bone(p, bones, 1.4), everyone),
        "limb bone x0.6": (scale_bone(p, bones, 0.6), everyone),
    }


# ---------------------------------------------------------------------------------------------------------------
# SMPL parameters

#: body_pose indices (SMPL joint - 1) of the knees
KNEE_JOINTS = (SMPL24.index("l_knee") - 1, SMPL24.index("r_knee") - 1)


def reverse_knees(rotmats: torch.Tensor, degrees: float = 90.0) -> torch.Tensor:
    """Copies of (B, 23, 3, 3) body poses with both knees bent BACKWARDS by ``degrees``.

    SMPL's knee flexes about its +x axis (the shin swings back, R_x(+θ) takes the down-pointing shin towards -z,
    behind the body); R_x(-θ) bends it the way no knee goes.
    """
    out = rotmats.clone()
    a = math.radians(degrees)
    aa = torch.tensor([-a, 0.0, 0.0], dtype=rotmats.dtype, device=rotmats.device)
    out[:, list(KNEE_JOINTS)] = axis_angle_to_matrix(aa).expand(len(rotmats), 2, 3, 3)
    return out


def implausible_versions(
    rotmats: torch.Tensor, betas: torch.Tensor, generator: Optional[torch.Generator] = None
) -> Dict[str, Tuple[torch.Tensor, torch.Tensor]]:
    """Broken copies of real (rotmats (B, 23, 3, 3), betas (B, k)): name -> (rotmats, betas).

    'random rotations': every joint a uniformly random rotation; 'knees backwards': both knees hyper-extended by
    90°; 'one joint random': one random joint per sample replaced by a random rotation; 'betas x5': shape
    coefficients five times as far from the mean (an implausible body).
    """
    n = len(rotmats)
    rand = random_rotations((n, NUM_BODY_JOINTS), generator).to(rotmats)
    one = rotmats.clone()
    pick = torch.randint(0, NUM_BODY_JOINTS, (n,), generator=generator).to(rotmats.device)
    one[torch.arange(n, device=rotmats.device), pick] = rand[:, 0]
    return {
        "random rotations": (rand, betas),
        "knees backwards": (reverse_knees(rotmats), betas),
        "one joint random": (one, betas),
        "betas x5": (rotmats, 5.0 * betas),
    }
