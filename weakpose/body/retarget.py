"""Retarget H36M-17 joint tracks onto an SMPL-24 skeleton: joint rotations whose bones point where the track's do.

Motion capture given as joint positions (the CMU motion shipped with weakpose) has no rotations and its own bone
lengths. To pose a body model with it, each SMPL joint is turned, from the root outwards, so that the bone it
drives points along the matching H36M-17 bone: a Kabsch fit of two direction pairs where twist is observable
(pelvis from hips + spine, upper torso from shoulders + spine), and the minimal swing rotation elsewhere (limbs,
spine, neck). Bone *lengths* stay the body's own, so the posed body's joints differ from the track by the length
differences only; its bone *directions* equal the track's. Twist about a limb's own axis is not observable from
positions and is left at zero.

Everything is NumPy, vectorised over frames.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from weakpose.skeleton import H36M17, SMPL24

_S = SMPL24.index
_H = H36M17.index

# SMPL joint turned -> (its SMPL child defining the bone, H36M-17 bone (from, to) it must point along)
SWING_BONES = (
    (_S("spine1"), _S("spine3"), (_H("Spine"), _H("Thorax"))),
    (_S("neck"), _S("head"), (_H("Thorax"), _H("Head"))),
    (_S("l_hip"), _S("l_knee"), (_H("LHip"), _H("LKnee"))),
    (_S("l_knee"), _S("l_ankle"), (_H("LKnee"), _H("LFoot"))),
    (_S("r_hip"), _S("r_knee"), (_H("RHip"), _H("RKnee"))),
    (_S("r_knee"), _S("r_ankle"), (_H("RKnee"), _H("RFoot"))),
    (_S("l_shoulder"), _S("l_elbow"), (_H("LShoulder"), _H("LElbow"))),
    (_S("l_elbow"), _S("l_wrist"), (_H("LElbow"), _H("LWrist"))),
    (_S("r_shoulder"), _S("r_elbow"), (_H("RShoulder"), _H("RElbow"))),
    (_S("r_elbow"), _S("r_wrist"), (_H("RElbow"), _H("RWrist"))),
)
# Joints whose full orientation is fitted from two direction pairs: (SMPL a, SMPL b) -> (H36M a, H36M b) each.
FRAME_BONES = {
    _S("pelvis"): (
        ((_S("r_hip"), _S("l_hip")), (_H("RHip"), _H("LHip"))),
        ((_S("pelvis"), _S("spine1")), (_H("Hip"), _H("Spine"))),
    ),
    _S("spine3"): (
        ((_S("r_shoulder"), _S("l_shoulder")), (_H("RShoulder"), _H("LShoulder"))),
        ((_S("spine3"), _S("neck")), (_H("Spine"), _H("Thorax"))),
    ),
}


@dataclass
class RetargetResult:
    """Local joint rotations (N, 24, 3, 3), global rotations (N, 24, 3, 3), posed joints (N, 24, 3) and the
    SMPL-convention translation (N, 3) (posed pelvis = rest pelvis + transl) that puts the pelvis on the track's
    Hip joint."""

    local_rotations: np.ndarray
    global_rotations: np.ndarray
    joints: np.ndarray
    transl: np.ndarray


def _unit(v: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(v, axis=-1, keepdims=True)
    return v / np.maximum(n, 1e-12)


def swing_rotation(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The smallest rotation taking direction ``a`` to direction ``b``: ``(..., 3), (..., 3) -> (..., 3, 3)``."""
    a, b = np.broadcast_arrays(_unit(a), _unit(b))
    axis = np.cross(a, b)
    sin = np.linalg.norm(axis, axis=-1)
    cos = np.clip(np.sum(a * b, axis=-1), -1.0, 1.0)
    # Opposite directions: any axis perpendicular to a works; pick the one least aligned with a.
    opposite = (sin < 1e-9) & (cos < 0)
    if np.any(opposite):
        helper = np.where(np.abs(a[..., :1]) < 0.9, [1.0, 0.0, 0.0], [0.0, 1.0, 0.0])
        axis = np.where(opposite[..., None], np.cross(a, helper), axis)
        sin = np.where(opposite, 0.0, sin)
    k = _unit(axis)
    K = np.zeros(k.shape[:-1] + (3, 3))
    K[..., 0, 1], K[..., 0, 2], K[..., 1, 2] = -k[..., 2], k[..., 1], -k[..., 0]
    K[..., 1, 0], K[..., 2, 0], K[..., 2, 1] = k[..., 2], -k[..., 1], k[..., 0]
    angle = np.arctan2(sin, cos)[..., None, None]
    eye = np.broadcast_to(np.eye(3), K.shape)
    return eye + np.sin(angle) * K + (1 - np.cos(angle)) * (K @ K)


def kabsch_rotation(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Proper rotation R minimising sum |R src_i - dst_i|² over directions: ``(..., K, 3) x2 -> (..., 3, 3)``."""
    H = np.swapaxes(_unit(src), -1, -2) @ _unit(dst)  # (..., 3, 3) = sum_i src_i dst_iᵀ
    U, _, Vt = np.linalg.svd(H)
    d = np.sign(np.linalg.det(np.swapaxes(Vt, -1, -2) @ np.swapaxes(U, -1, -2)))
    D = np.zeros(H.shape)
    D[..., 0, 0] = D[..., 1, 1] = 1.0
    D[..., 2, 2] = d
    return np.swapaxes(Vt, -1, -2) @ D @ np.swapaxes(U, -1, -2)


def retarget_h36m17(rest_joints: np.ndarray, targets: np.ndarray, parents=SMPL24.parents) -> RetargetResult:
    """Pose an SMPL-24 skeleton with rest joints ``(24, 3)`` so its bones follow H36M-17 tracks ``(N, 17, 3)``.

    Both in metres, in any one frame (the root rotation absorbs the axis change, e.g. Y-up body -> Z-up world).
    Returns local rotations ready for a body model (global_orient = local[:, 0], body_pose = local[:, 1:]).
    """
    rest_joints = np.asarray(rest_joints, dtype=np.float64)
    targets = np.asarray(targets, dtype=np.float64)
    if rest_joints.shape != (24, 3):
        raise ValueError(f"rest_joints must be (24, 3); got {rest_joints.shape}")
    if targets.ndim != 3 or targets.shape[1:] != (17, 3):
        raise ValueError(f"targets must be (N, 17, 3) H36M-17 positions; got {targets.shape}")
    if not np.isfinite(targets).all():
        raise ValueError("targets contain NaN or inf")
    n = targets.shape[0]
    swing = {joint: (child, bone) for joint, child, bone in SWING_BONES}
    G = np.zeros((n, 24, 3, 3))
    L = np.zeros((n, 24, 3, 3))
    P = np.zeros((n, 24, 3))
    for j in range(24):  # SMPL parents precede their children, so one pass in index order is kinematic order
        p = parents[j]
        G_parent = np.broadcast_to(np.eye(3), (n, 3, 3)) if p < 0 else G[:, p]
        if j in FRAME_BONES:
            src = np.stack([G_parent @ (rest_joints[b] - rest_joints[a]) for (a, b), _ in FRAME_BONES[j]], 1)
            dst = np.stack([targets[:, hb] - targets[:, ha] for _, (ha, hb) in FRAME_BONES[j]], 1)
            G[:, j] = kabsch_rotation(src, dst) @ G_parent
        elif j in swing:
            child, (ha, hb) = swing[j]
            current = np.einsum("nij,j->ni", G_parent, rest_joints[child] - rest_joints[j])
            G[:, j] = swing_rotation(current, targets[:, hb] - targets[:, ha]) @ G_parent
        else:
            G[:, j] = G_parent
        L[:, j] = np.swapaxes(G_parent, -1, -2) @ G[:, j]
        # SMPL keeps the root joint at its rest position and adds the translation afterwards.
        P[:, j] = (
            np.broadcast_to(rest_joints[j], (n, 3))
            if p < 0
            else P[:, p] + np.einsum("nij,j->ni", G[:, p], rest_joints[j] - rest_joints[p])
        )
    transl = targets[:, _H("Hip")] - P[:, 0]
    return RetargetResult(local_rotations=L, global_rotations=G, joints=P + transl[:, None], transl=transl)


__all__ = ["RetargetResult", "retarget_h36m17", "swing_rotation", "kabsch_rotation", "SWING_BONES", "FRAME_BONES"]
