"""Joint orders used across 3D pose work, and the converters between them.

Every layout is a named :class:`JointOrder` constant with its parents and left/right pairs, so code never indexes
joints by magic numbers. The index facts (H36M-32 -> 17, the MPII-16 order of the Stacked-Hourglass detections of
Martinez et al. 2017, COCO-17, AlphaPose's Halpe-26, OpenPose's BODY-25, SMPL-24) are the public ones documented in
``docs/formats.md``.

Converters take ``(..., J, D)`` NumPy arrays or torch tensors and return the same type. Where a target joint does
not exist in the source it is derived from others (midpoints, interpolations) and its confidence is the minimum of
the confidences it was derived from, so a low-confidence detection never yields a confident derived joint.
COCO-17, Halpe-26 and BODY-25 share one derivation (:func:`coco17_to_h36m17`); only Halpe-26's annotated head top
replaces the head extrapolated from the ears. Missing joints may be passed as NaN: NaN propagates into the joints
derived from them, except that one missing ear is replaced by the other (see :func:`coco17_to_h36m17`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Tuple

import numpy as np
import torch

from weakpose.arrays import is_torch


@dataclass(frozen=True)
class JointOrder:
    """A named joint layout: joint names, kinematic parents (-1 for the root) and left/right index pairs."""

    name: str
    joints: Tuple[str, ...]
    parents: Tuple[int, ...]
    left: Tuple[int, ...]
    right: Tuple[int, ...]
    _index: dict = field(default=None, repr=False, compare=False)

    def __post_init__(self):
        if len(self.parents) != len(self.joints):
            raise ValueError(f"{self.name}: {len(self.joints)} joints but {len(self.parents)} parents")
        if len(self.left) != len(self.right):
            raise ValueError(f"{self.name}: left/right lists differ in length")
        object.__setattr__(self, "_index", {n: i for i, n in enumerate(self.joints)})

    @property
    def num_joints(self) -> int:
        return len(self.joints)

    def index(self, joint: str) -> int:
        try:
            return self._index[joint]
        except KeyError:
            raise KeyError(f"joint {joint!r} is not in {self.name}; joints are {list(self.joints)}") from None

    @property
    def flip_permutation(self) -> np.ndarray:
        """For every joint, the index of its mirror image (itself for joints on the mid-line)."""
        perm = np.arange(self.num_joints)
        perm[list(self.left)] = self.right
        perm[list(self.right)] = self.left
        return perm

    @property
    def bones(self) -> list:
        """(child, parent) pairs of the kinematic tree."""
        return [(j, p) for j, p in enumerate(self.parents) if p >= 0]


H36M32 = JointOrder(
    name="h36m32",
    joints=(
        "Hips",
        "RightUpLeg",
        "RightLeg",
        "RightFoot",
        "RightToeBase",
        "RightToeSite",
        "LeftUpLeg",
        "LeftLeg",
        "LeftFoot",
        "LeftToeBase",
        "LeftToeSite",
        "Spine",
        "Spine1",
        "Neck",
        "Head",
        "HeadSite",
        "LeftShoulder",
        "LeftArm",
        "LeftForeArm",
        "LeftHand",
        "LeftHandThumb",
        "LeftThumbSite",
        "LeftWristEnd",
        "LeftWristSite",
        "RightShoulder",
        "RightArm",
        "RightForeArm",
        "RightHand",
        "RightHandThumb",
        "RightThumbSite",
        "RightWristEnd",
        "RightWristSite",
    ),
    parents=(
        -1,
        0,
        1,
        2,
        3,
        4,
        0,
        6,
        7,
        8,
        9,
        0,
        11,
        12,
        13,
        14,
        12,
        16,
        17,
        18,
        19,
        20,
        19,
        22,
        12,
        24,
        25,
        26,
        27,
        28,
        27,
        30,
    ),
    left=(6, 7, 8, 9, 10, 16, 17, 18, 19, 20, 21, 22, 23),
    right=(1, 2, 3, 4, 5, 24, 25, 26, 27, 28, 29, 30, 31),
)

H36M17 = JointOrder(
    name="h36m17",
    joints=(
        "Hip",
        "RHip",
        "RKnee",
        "RFoot",
        "LHip",
        "LKnee",
        "LFoot",
        "Spine",
        "Thorax",
        "Neck/Nose",
        "Head",
        "LShoulder",
        "LElbow",
        "LWrist",
        "RShoulder",
        "RElbow",
        "RWrist",
    ),
    parents=(-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 9, 8, 11, 12, 8, 14, 15),
    left=(4, 5, 6, 11, 12, 13),
    right=(1, 2, 3, 14, 15, 16),
)

MPII16 = JointOrder(
    name="mpii16",
    joints=(
        "RFoot",
        "RKnee",
        "RHip",
        "LHip",
        "LKnee",
        "LFoot",
        "Hip",
        "Spine",
        "Thorax",
        "Head",
        "RWrist",
        "RElbow",
        "RShoulder",
        "LShoulder",
        "LElbow",
        "LWrist",
    ),
    parents=(1, 2, 6, 6, 3, 4, -1, 6, 7, 8, 11, 12, 8, 8, 13, 14),
    left=(3, 4, 5, 13, 14, 15),
    right=(2, 1, 0, 12, 11, 10),
)

COCO17 = JointOrder(
    name="coco17",
    joints=(
        "nose",
        "l_eye",
        "r_eye",
        "l_ear",
        "r_ear",
        "l_shoulder",
        "r_shoulder",
        "l_elbow",
        "r_elbow",
        "l_wrist",
        "r_wrist",
        "l_hip",
        "r_hip",
        "l_knee",
        "r_knee",
        "l_ankle",
        "r_ankle",
    ),
    # COCO has no kinematic tree; this one hangs the face off the nose and the limbs off the torso for drawing.
    parents=(-1, 0, 0, 1, 2, 0, 0, 5, 6, 7, 8, 5, 6, 11, 12, 13, 14),
    left=(1, 3, 5, 7, 9, 11, 13, 15),
    right=(2, 4, 6, 8, 10, 12, 14, 16),
)

SMPL24 = JointOrder(
    name="smpl24",
    joints=(
        "pelvis",
        "l_hip",
        "r_hip",
        "spine1",
        "l_knee",
        "r_knee",
        "spine2",
        "l_ankle",
        "r_ankle",
        "spine3",
        "l_foot",
        "r_foot",
        "neck",
        "l_collar",
        "r_collar",
        "head",
        "l_shoulder",
        "r_shoulder",
        "l_elbow",
        "r_elbow",
        "l_wrist",
        "r_wrist",
        "l_hand",
        "r_hand",
    ),
    parents=(-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21),
    left=(1, 4, 7, 10, 13, 16, 18, 20, 22),
    right=(2, 5, 8, 11, 14, 17, 19, 21, 23),
)

HALPE26 = JointOrder(
    name="halpe26",
    # AlphaPose's Halpe-26: the 17 COCO joints in COCO order, then head top, neck, mid-hip and six foot points.
    joints=COCO17.joints
    + ("head", "neck", "hip", "l_big_toe", "r_big_toe", "l_small_toe", "r_small_toe", "l_heel", "r_heel"),
    # Rooted at the mid-hip; face off the nose, nose, head and shoulders off the neck, toes and heels off the ankles.
    parents=(18, 0, 0, 1, 2, 18, 18, 5, 6, 7, 8, 19, 19, 11, 12, 13, 14, 18, 19, -1, 15, 16, 20, 21, 15, 16),
    left=COCO17.left + (20, 22, 24),
    right=COCO17.right + (21, 23, 25),
)

BODY25 = JointOrder(
    name="body25",
    # OpenPose BODY_25 output order.
    joints=(
        "Nose",
        "Neck",
        "RShoulder",
        "RElbow",
        "RWrist",
        "LShoulder",
        "LElbow",
        "LWrist",
        "MidHip",
        "RHip",
        "RKnee",
        "RAnkle",
        "LHip",
        "LKnee",
        "LAnkle",
        "REye",
        "LEye",
        "REar",
        "LEar",
        "LBigToe",
        "LSmallToe",
        "LHeel",
        "RBigToe",
        "RSmallToe",
        "RHeel",
    ),
    # OpenPose's own drawing pairs, rooted at MidHip.
    parents=(1, 8, 1, 2, 3, 1, 5, 6, -1, 8, 9, 10, 8, 12, 13, 0, 0, 15, 16, 14, 19, 14, 11, 22, 11),
    left=(5, 6, 7, 12, 13, 14, 16, 18, 19, 20, 21),
    right=(2, 3, 4, 9, 10, 11, 15, 17, 22, 23, 24),
)

ORDERS = {o.name: o for o in (H36M32, H36M17, MPII16, COCO17, HALPE26, BODY25, SMPL24)}
_ALIASES = {
    "h36m": "h36m17",
    "h36m_17": "h36m17",
    "h36m_32": "h36m32",
    "mpii": "mpii16",
    "coco": "coco17",
    "smpl": "smpl24",
    "halpe": "halpe26",
    "halpe_26": "halpe26",
    "body_25": "body25",
    "openpose": "body25",
    "openpose_body25": "body25",
    "openpose_body_25": "body25",
}

H36M32_TO_17 = np.array([0, 1, 2, 3, 6, 7, 8, 12, 13, 14, 15, 17, 18, 19, 25, 26, 27])
MPII16_TO_H36M32 = np.array([3, 2, 1, 6, 7, 8, 0, 12, 13, 15, 27, 26, 25, 17, 18, 19])

# For every H36M-17 joint, its MPII-16 index (-1: not detected, derived instead).
_H36M17_FROM_MPII16 = np.array(
    [int(np.flatnonzero(MPII16_TO_H36M32 == raw)[0]) if raw in MPII16_TO_H36M32 else -1 for raw in H36M32_TO_17]
)
# Neck/Nose (17-index 9) is missing from MPII-16. On Human3.6M subjects the Thorax->Neck/Nose and
# Neck/Nose->Head bones are about equally long (~0.12 m each), so the joint is placed halfway.
_NECK_NOSE_FRACTION = 0.5
# COCO head top: the H36M "Head" joint sits above the ears by about half the thorax->ear distance.
_COCO_HEAD_EXTRAPOLATION = 0.5


def get_order(name: str) -> JointOrder:
    """Look up a joint order by name ('h36m17', 'h36m32', 'mpii16', 'coco17', 'halpe26', 'body25', 'smpl24' or
    aliases such as 'coco', 'halpe', 'body_25', 'openpose')."""
    key = _ALIASES.get(name.lower(), name.lower())
    if key not in ORDERS:
        raise KeyError(f"unknown joint layout {name!r}; known: {sorted(ORDERS) + sorted(_ALIASES)}")
    return ORDERS[key]


# ---------------------------------------------------------------------------------------------------------
# array helpers that work on numpy arrays and torch tensors alike


def _check_joints(x, expected: int, layout: str, what: str = "joints"):
    if x.ndim < 2 or x.shape[-2] != expected:
        raise ValueError(f"{layout} {what} must have shape (..., {expected}, D); got {tuple(x.shape)}")


def _take(x, index):
    if is_torch(x):
        return x[..., torch.as_tensor(index, device=x.device), :]
    return x[..., index, :]


def _stack(items, like):
    return torch.stack(items, dim=-2) if is_torch(like) else np.stack(items, axis=-2)


def _minimum(*cs):
    out = cs[0]
    for c in cs[1:]:
        out = torch.minimum(out, c) if is_torch(out) else np.minimum(out, c)
    return out


def _conf_or_ones(x, conf):
    if conf is not None:
        if tuple(conf.shape) != tuple(x.shape[:-1]):
            raise ValueError(
                f"confidences must have shape {tuple(x.shape[:-1])} to match the keypoints; got {tuple(conf.shape)}"
            )
        return conf
    if is_torch(x):
        return torch.ones(x.shape[:-1], dtype=x.dtype, device=x.device)
    return np.ones(x.shape[:-1], dtype=x.dtype if np.issubdtype(x.dtype, np.floating) else np.float32)


# ---------------------------------------------------------------------------------------------------------
# converters


def h36m32_to_17(x):
    """Select the 17 standard joints from the raw 32-joint Human3.6M layout: ``(..., 32, D) -> (..., 17, D)``."""
    _check_joints(x, 32, "H36M-32")
    return _take(x, H36M32_TO_17)


def mpii16_to_h36m17(x, conf=None):
    """MPII-16 (Stacked-Hourglass detections, Martinez et al. 2017 order) -> H36M-17 with confidences.

    Neck/Nose is not detected: it is placed halfway between Thorax and Head (their typical H36M bone ratio),
    with the smaller of their two confidences.
    """
    _check_joints(x, 16, "MPII-16")
    conf = _conf_or_ones(x, conf)
    joints, confs = [], []
    thorax, head = MPII16.index("Thorax"), MPII16.index("Head")
    for src in _H36M17_FROM_MPII16:
        if src >= 0:
            joints.append(x[..., src, :])
            confs.append(conf[..., src])
        else:
            joints.append(x[..., thorax, :] + _NECK_NOSE_FRACTION * (x[..., head, :] - x[..., thorax, :]))
            confs.append(_minimum(conf[..., thorax], conf[..., head]))
    c = torch.stack(confs, -1) if is_torch(x) else np.stack(confs, -1)
    return _stack(joints, x), c


def _nan_to_other(a, ca, b, cb):
    """Midpoint of two points, or the one that is finite where the other is NaN (confidence: min, or the finite
    one's). Used for the ears only: an ear goes undetected when the head is in profile, and then the two ears
    project almost onto each other, so the visible ear is a good stand-in for their midpoint."""
    if is_torch(a):
        ok_a, ok_b = torch.isfinite(a).all(-1), torch.isfinite(b).all(-1)
        where, minimum = torch.where, torch.minimum
    else:
        ok_a, ok_b = np.isfinite(a).all(-1), np.isfinite(b).all(-1)
        where, minimum = np.where, np.minimum
    both = ok_a & ok_b
    mid = where(both[..., None], 0.5 * (a + b), where(ok_a[..., None], a, b))
    c = where(both, minimum(ca, cb), where(ok_a, ca, cb))
    return mid, c


# Source joints used by the COCO-style derivation, by role; each layout names its own joints for them.
_BODY_ROLES = (
    "nose",
    "l_ear",
    "r_ear",
    "l_shoulder",
    "r_shoulder",
    "l_elbow",
    "r_elbow",
    "l_wrist",
    "r_wrist",
    "l_hip",
    "r_hip",
    "l_knee",
    "r_knee",
    "l_ankle",
    "r_ankle",
)
_ROLES_COCO17 = {r: COCO17.index(r) for r in _BODY_ROLES}
_ROLES_HALPE26 = dict(_ROLES_COCO17)  # Halpe-26 starts with the 17 COCO joints
_ROLES_BODY25 = {
    r: BODY25.index(n)
    for r, n in zip(
        _BODY_ROLES,
        (
            "Nose",
            "LEar",
            "REar",
            "LShoulder",
            "RShoulder",
            "LElbow",
            "RElbow",
            "LWrist",
            "RWrist",
            "LHip",
            "RHip",
            "LKnee",
            "RKnee",
            "LAnkle",
            "RAnkle",
        ),
    )
}


def _coco_style_to_h36m17(x, conf, roles: dict, head_top: int = -1):
    """H36M-17 from a COCO-like body: Hip = mid-hips, Thorax = mid-shoulders, Spine = mid(Hip, Thorax),
    Neck/Nose = nose, Feet = ankles, Head = the layout's head top (``head_top`` >= 0) or else extrapolated from the
    ears. Confidences: the source's for direct joints, the minimum over the sources for derived ones."""

    def pt(role):
        return x[..., roles[role], :], conf[..., roles[role]]

    def mid(a, b):
        (pa, ca), (pb, cb) = pt(a), pt(b)
        return 0.5 * (pa + pb), _minimum(ca, cb)

    hip, hip_c = mid("l_hip", "r_hip")
    thorax, thorax_c = mid("l_shoulder", "r_shoulder")
    spine, spine_c = 0.5 * (hip + thorax), _minimum(hip_c, thorax_c)
    if head_top >= 0:
        head, head_c = x[..., head_top, :], conf[..., head_top]
    else:
        ears, ears_c = _nan_to_other(*pt("l_ear"), *pt("r_ear"))
        head = ears + _COCO_HEAD_EXTRAPOLATION * (ears - thorax)
        head_c = _minimum(ears_c, thorax_c)
    pairs = [
        (hip, hip_c),
        pt("r_hip"),
        pt("r_knee"),
        pt("r_ankle"),
        pt("l_hip"),
        pt("l_knee"),
        pt("l_ankle"),
        (spine, spine_c),
        (thorax, thorax_c),
        pt("nose"),
        (head, head_c),
        pt("l_shoulder"),
        pt("l_elbow"),
        pt("l_wrist"),
        pt("r_shoulder"),
        pt("r_elbow"),
        pt("r_wrist"),
    ]
    joints = _stack([p for p, _ in pairs], x)
    confs = [q for _, q in pairs]
    return joints, (torch.stack(confs, -1) if is_torch(x) else np.stack(confs, -1))


def coco17_to_h36m17(x, conf=None):
    """COCO-17 keypoints (any 2D detector) -> H36M-17 with confidences carried along.

    Derived joints: Hip = mid-hips, Thorax = mid-shoulders, Spine = mid(Hip, Thorax), Neck/Nose = nose,
    Head = ear midpoint pushed away from the thorax by half the thorax->ears vector (the H36M head joint is the
    top of the skull, above the ears). A derived joint's confidence is the minimum over its sources.
    Missing joints may be NaN; NaN propagates into what is derived from them, except that an ear that is NaN
    while the other is not is replaced by the other (an ear is missed when the head is in profile, where both
    ears project to about one point).
    """
    _check_joints(x, 17, "COCO-17")
    return _coco_style_to_h36m17(x, _conf_or_ones(x, conf), _ROLES_COCO17)


def halpe26_to_h36m17(x, conf=None):
    """AlphaPose Halpe-26 keypoints -> H36M-17 with confidences.

    As :func:`coco17_to_h36m17` on the 17 COCO joints it starts with, except Head = Halpe's annotated head top,
    which is the H36M head joint itself. Halpe's neck and mid-hip points are not used: Thorax and Hip stay the
    mid-shoulders and mid-hips, so one person seen by COCO-17, Halpe-26 or BODY-25 detectors gets the same torso
    (the lifter was trained on H36M, whose root is midway between the hip joints and whose thorax is the base of
    the neck between the shoulders). Feet are the ankles (H36M's foot joint is the ankle); toes and heels are unused.
    """
    _check_joints(x, 26, "Halpe-26")
    return _coco_style_to_h36m17(x, _conf_or_ones(x, conf), _ROLES_HALPE26, head_top=HALPE26.index("head"))


def body25_to_h36m17(x, conf=None):
    """OpenPose BODY-25 keypoints -> H36M-17 with confidences.

    The derivation of :func:`coco17_to_h36m17` on the BODY-25 joints of the same names (Head from the ears).
    OpenPose's Neck and MidHip are not used: Thorax and Hip are H36M's mid-shoulders and mid-hips, as for
    COCO-17 and Halpe-26, so one person gets the same torso whichever detector saw them.
    """
    _check_joints(x, 25, "BODY-25")
    return _coco_style_to_h36m17(x, _conf_or_ones(x, conf), _ROLES_BODY25)


def to_h36m17(x, layout: str, conf=None):
    """Convert keypoints in ``layout`` ('h36m32', 'h36m17', 'mpii16', 'coco17', 'halpe26', 'body25') to H36M-17.

    Returns ``(x17, conf17)``; ``conf17`` is all ones where the source carried no confidences.
    """
    order = get_order(layout)
    if order is H36M17:
        _check_joints(x, 17, "H36M-17")
        return x, _conf_or_ones(x, conf)
    if order is H36M32:
        x17 = h36m32_to_17(x)
        c = _conf_or_ones(x, conf)
        return x17, (c[..., torch.as_tensor(H36M32_TO_17)] if is_torch(c) else c[..., H36M32_TO_17])
    if order is MPII16:
        return mpii16_to_h36m17(x, conf)
    if order is COCO17:
        return coco17_to_h36m17(x, conf)
    if order is HALPE26:
        return halpe26_to_h36m17(x, conf)
    if order is BODY25:
        return body25_to_h36m17(x, conf)
    raise ValueError(f"no converter from {order.name} to h36m17")


def flip_joints(x, order: JointOrder = H36M17, axis: int = 0):
    """Mirror poses: negate coordinate ``axis`` and swap left/right joints (flip augmentation).

    For 3D camera-frame poses use axis 0 (x); for normalised 2D screen coordinates axis 0 as well. Pixel
    coordinates need ``u -> w - u`` instead, which :meth:`weakpose.geometry.Camera.flipped` documents.
    """
    _check_joints(x, order.num_joints, order.name)
    out = _take(x, order.flip_permutation)
    out = out.clone() if is_torch(out) else out.copy()
    out[..., axis] = -out[..., axis]
    return out


def bone_lengths(x, order: JointOrder = H36M17):
    """Lengths of every (child, parent) bone: ``(..., J, D) -> (..., J-1)``."""
    _check_joints(x, order.num_joints, order.name)
    child = [c for c, _ in order.bones]
    parent = [p for _, p in order.bones]
    d = _take(x, child) - _take(x, parent)
    return d.norm(dim=-1) if is_torch(d) else np.linalg.norm(d, axis=-1)


__all__ = [
    "JointOrder",
    "H36M32",
    "H36M17",
    "MPII16",
    "COCO17",
    "HALPE26",
    "BODY25",
    "SMPL24",
    "ORDERS",
    "get_order",
    "H36M32_TO_17",
    "MPII16_TO_H36M32",
    "h36m32_to_17",
    "mpii16_to_h36m17",
    "coco17_to_h36m17",
    "halpe26_to_h36m17",
    "body25_to_h36m17",
    "to_h36m17",
    "flip_joints",
    "bone_lengths",
]
