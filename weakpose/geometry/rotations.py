"""Rotation conversions, batched over leading dimensions, differentiable, numpy or torch in -> same type out.

Conventions (all matrices act on column vectors, ``y = R @ x``):

* axis-angle: ``(..., 3)``, direction = axis, norm = angle in radians (right-handed).
* quaternion: ``(..., 4)`` in **wxyz** order (scalar first). Inputs need not be unit; outputs are unit with ``w >= 0``.
* 6D: ``(..., 6)``, the first two **columns** of R, laid out as ``R[..., :, :2].reshape(..., 6)``
  = [R00, R01, R10, R11, R20, R21] (Zhou et al. 2019, "On the Continuity of Rotation Representations"; this is
  the memory layout HMR/SPIN-style regressors use, so their mean-pose files read directly).
* Euler: ``euler_to_matrix(angles, "ZYX")`` is intrinsic, ``R = Rz(a0) @ Ry(a1) @ Rx(a2)`` (BVH channel order;
  scipy's uppercase convention).

Small angles use Taylor expansions so values and gradients stay finite at exactly zero rotation.

Random rotations (torch only) for augmentation and corrupted copies: :func:`random_rotations` (uniform over SO(3)),
and the rotations about the vertical, whose one home this is — :func:`rotate_about_axis` (given angles about a
coordinate axis), :func:`random_yaw` (uniform angles about a coordinate axis) and :func:`random_turns` (uniform
angles about per-sample vertical directions).
"""

from __future__ import annotations

import math
from typing import Callable, Optional, Tuple

import torch

from weakpose.arrays import from_torch, to_torch

__all__ = [
    "axis_angle_to_matrix",
    "matrix_to_axis_angle",
    "quaternion_to_matrix",
    "matrix_to_quaternion",
    "axis_angle_to_quaternion",
    "quaternion_to_axis_angle",
    "rot6d_to_matrix",
    "matrix_to_rot6d",
    "euler_to_matrix",
    "random_rotations",
    "rotate_about_axis",
    "random_yaw",
    "random_turns",
]

# Below this squared angle the closed forms lose precision (and their gradients go 0/0); Taylor series are exact
# to ~1e-17 there.
_SMALL_SQ = 1e-4


# ---------------------------------------------------------------------------------------------------------------
# numpy <-> torch plumbing shared by the geometry modules


def _check_last(x: torch.Tensor, shape: Tuple[int, ...], name: str) -> None:
    if x.dim() < len(shape) or tuple(x.shape[x.dim() - len(shape) :]) != shape:
        want = "(..., " + ", ".join(str(s) for s in shape) + ")"
        raise ValueError(f"{name}: expected shape {want}, got {tuple(x.shape)}")


def _numpy_or_torch(name: str, last: Tuple[int, ...]) -> Callable:
    """Decorator: accept numpy or torch, check the trailing shape, return the input's type."""

    def wrap(fn: Callable) -> Callable:
        def inner(x, *args, **kwargs):
            t, was_np = to_torch(x, name)
            _check_last(t, last, f"{fn.__name__}({name})")
            return from_torch(fn(t, *args, **kwargs), was_np)

        inner.__name__ = fn.__name__
        inner.__qualname__ = fn.__qualname__
        inner.__doc__ = fn.__doc__
        inner.__wrapped__ = fn
        return inner

    return wrap


def _safe_sqrt(sq: torch.Tensor, small: torch.Tensor) -> torch.Tensor:
    """sqrt that is 1 (not 0) where ``small`` so neither the value nor its gradient is 0/0 there."""
    return torch.sqrt(torch.where(small, torch.ones_like(sq), sq))


def _skew(v: torch.Tensor) -> torch.Tensor:
    """(..., 3) -> (..., 3, 3) cross-product matrix [v]x."""
    x, y, z = v.unbind(-1)
    o = torch.zeros_like(x)
    return torch.stack([o, -z, y, z, o, -x, -y, x, o], dim=-1).reshape(v.shape[:-1] + (3, 3))


# ---------------------------------------------------------------------------------------------------------------
# axis-angle


@_numpy_or_torch("axis_angle", (3,))
def axis_angle_to_matrix(axis_angle):
    """Rodrigues: ``(..., 3)`` axis-angle (radians) -> ``(..., 3, 3)`` rotation matrix."""
    sq = (axis_angle * axis_angle).sum(-1)
    small = sq < _SMALL_SQ
    theta = _safe_sqrt(sq, small)
    # a = sin(t)/t ; b = (1 - cos t)/t^2 = 2 sin^2(t/2)/t^2 (the latter form avoids cancellation)
    a = torch.where(small, 1 - sq / 6 + sq * sq / 120, torch.sin(theta) / theta)
    half = torch.sin(theta / 2) / theta
    b = torch.where(small, 0.5 - sq / 24 + sq * sq / 720, 2 * half * half)
    k = _skew(axis_angle)
    eye = torch.eye(3, dtype=axis_angle.dtype, device=axis_angle.device)
    return eye + a[..., None, None] * k + b[..., None, None] * (k @ k)


@_numpy_or_torch("matrix", (3, 3))
def matrix_to_axis_angle(matrix):
    """``(..., 3, 3)`` rotation -> ``(..., 3)`` axis-angle with angle in [0, pi] (via a quaternion; stable near pi)."""
    return quaternion_to_axis_angle.__wrapped__(matrix_to_quaternion.__wrapped__(matrix))


@_numpy_or_torch("axis_angle", (3,))
def axis_angle_to_quaternion(axis_angle):
    """``(..., 3)`` axis-angle -> ``(..., 4)`` unit quaternion wxyz (w = cos(angle/2) >= 0 for angle <= pi)."""
    sq = (axis_angle * axis_angle).sum(-1)
    small = sq < _SMALL_SQ
    theta = _safe_sqrt(sq, small)
    # sin(t/2)/t with its series 1/2 - t^2/48 + t^4/3840 near zero
    s = torch.where(small, 0.5 - sq / 48 + sq * sq / 3840, torch.sin(theta / 2) / theta)
    w = torch.where(small, 1 - sq / 8 + sq * sq / 384, torch.cos(theta / 2))
    return torch.cat([w[..., None], axis_angle * s[..., None]], dim=-1)


@_numpy_or_torch("quaternion", (4,))
def quaternion_to_axis_angle(quaternion):
    """``(..., 4)`` quaternion wxyz (any norm > 0) -> ``(..., 3)`` axis-angle with angle in [0, pi]."""
    q = quaternion / torch.linalg.vector_norm(quaternion, dim=-1, keepdim=True)
    q = torch.where(q[..., :1] < 0, -q, q)  # q and -q are the same rotation; pick the one with angle <= pi
    w, v = q[..., 0], q[..., 1:]
    sq = (v * v).sum(-1)
    small = sq < _SMALL_SQ
    s = _safe_sqrt(sq, small)
    # angle = 2 atan2(s, w); factor = angle / s, series 2/w - 2 s^2 / (3 w^3) near s = 0 (where w ~ 1)
    factor = torch.where(small, 2 / w - 2 * sq / (3 * w**3), 2 * torch.atan2(s, w) / s)
    return v * factor[..., None]


# ---------------------------------------------------------------------------------------------------------------
# quaternions


@_numpy_or_torch("quaternion", (4,))
def quaternion_to_matrix(quaternion):
    """``(..., 4)`` quaternion wxyz (normalised here) -> ``(..., 3, 3)`` rotation matrix."""
    q = quaternion / torch.linalg.vector_norm(quaternion, dim=-1, keepdim=True)
    w, x, y, z = q.unbind(-1)
    m = torch.stack(
        [
            1 - 2 * (y * y + z * z),
            2 * (x * y - w * z),
            2 * (x * z + w * y),
            2 * (x * y + w * z),
            1 - 2 * (x * x + z * z),
            2 * (y * z - w * x),
            2 * (x * z - w * y),
            2 * (y * z + w * x),
            1 - 2 * (x * x + y * y),
        ],
        dim=-1,
    )
    return m.reshape(q.shape[:-1] + (3, 3))


@_numpy_or_torch("matrix", (3, 3))
def matrix_to_quaternion(matrix):
    """``(..., 3, 3)`` rotation -> ``(..., 4)`` unit quaternion wxyz with ``w >= 0``.

    Shepperd's method: of the four algebraically equal formulas, use the one whose pivot (4w², 4x², 4y² or 4z²)
    is largest, so no division by a small number happens anywhere in the batch.
    """
    m = matrix
    m00, m01, m02 = m[..., 0, 0], m[..., 0, 1], m[..., 0, 2]
    m10, m11, m12 = m[..., 1, 0], m[..., 1, 1], m[..., 1, 2]
    m20, m21, m22 = m[..., 2, 0], m[..., 2, 1], m[..., 2, 2]
    pivots = torch.stack(
        [1 + m00 + m11 + m22, 1 + m00 - m11 - m22, 1 - m00 + m11 - m22, 1 - m00 - m11 + m22], dim=-1
    )  # = 4w², 4x², 4y², 4z² for a rotation; they sum to 4, so the largest is >= 1
    # Clamp so the unselected candidates stay finite (their gradient is multiplied by 0, and 0*inf would be NaN).
    r = torch.sqrt(pivots.clamp_min(0.1))  # = 2|w|, 2|x|, 2|y|, 2|z| where selected
    a, b, c = m21 - m12, m02 - m20, m10 - m01  # 4wx, 4wy, 4wz
    d, e, f = m01 + m10, m02 + m20, m12 + m21  # 4xy, 4xz, 4yz
    candidates = torch.stack(
        [
            torch.stack([r[..., 0] / 2, a / (2 * r[..., 0]), b / (2 * r[..., 0]), c / (2 * r[..., 0])], -1),
            torch.stack([a / (2 * r[..., 1]), r[..., 1] / 2, d / (2 * r[..., 1]), e / (2 * r[..., 1])], -1),
            torch.stack([b / (2 * r[..., 2]), d / (2 * r[..., 2]), r[..., 2] / 2, f / (2 * r[..., 2])], -1),
            torch.stack([c / (2 * r[..., 3]), e / (2 * r[..., 3]), f / (2 * r[..., 3]), r[..., 3] / 2], -1),
        ],
        dim=-2,
    )  # (..., 4 candidates, 4)
    best = pivots.argmax(-1)
    q = torch.gather(candidates, -2, best[..., None, None].expand(best.shape + (1, 4))).squeeze(-2)
    q = q / torch.linalg.vector_norm(q, dim=-1, keepdim=True)
    return torch.where(q[..., :1] < 0, -q, q)


# ---------------------------------------------------------------------------------------------------------------
# 6D (Zhou et al. 2019)


@_numpy_or_torch("rot6d", (6,))
def rot6d_to_matrix(rot6d):
    """``(..., 6)`` -> ``(..., 3, 3)``: Gram-Schmidt on the two stored columns, third column = their cross product.

    Layout: ``rot6d.reshape(..., 3, 2)`` holds the two columns (see the module docstring).
    """
    cols = rot6d.reshape(rot6d.shape[:-1] + (3, 2))
    a1, a2 = cols[..., 0], cols[..., 1]
    b1 = torch.nn.functional.normalize(a1, dim=-1)
    b2 = torch.nn.functional.normalize(a2 - (b1 * a2).sum(-1, keepdim=True) * b1, dim=-1)
    b3 = torch.linalg.cross(b1, b2, dim=-1)
    return torch.stack([b1, b2, b3], dim=-1)


@_numpy_or_torch("matrix", (3, 3))
def matrix_to_rot6d(matrix):
    """``(..., 3, 3)`` -> ``(..., 6)``: the first two columns, ``R[..., :, :2].reshape(..., 6)``."""
    return matrix[..., :, :2].reshape(matrix.shape[:-2] + (6,))


# ---------------------------------------------------------------------------------------------------------------
# Euler angles


def _elementary(axis: str, angle: torch.Tensor) -> torch.Tensor:
    c, s = torch.cos(angle), torch.sin(angle)
    o, one = torch.zeros_like(angle), torch.ones_like(angle)
    if axis == "X":
        rows = [one, o, o, o, c, -s, o, s, c]
    elif axis == "Y":
        rows = [c, o, s, o, one, o, -s, o, c]
    else:
        rows = [c, -s, o, s, c, o, o, o, one]
    return torch.stack(rows, dim=-1).reshape(angle.shape + (3, 3))


def euler_to_matrix(angles, order: str = "ZYX", degrees: bool = False):
    """Intrinsic Euler angles ``(..., len(order))`` -> ``(..., 3, 3)``.

    ``order="ZYX"`` means ``R = Rz(angles[..., 0]) @ Ry(angles[..., 1]) @ Rx(angles[..., 2])``: the BVH convention
    where channels are listed outermost first (same as ``scipy.spatial.transform.Rotation.from_euler("ZYX", ...)``).
    Only uppercase axis letters are accepted so intrinsic/extrinsic cannot be mixed up silently.
    numpy in -> numpy out.
    """
    if not isinstance(order, str) or not order or any(ch not in "XYZ" for ch in order):
        raise ValueError(
            f"euler_to_matrix: order must be a string of the uppercase letters X, Y, Z (intrinsic, e.g. 'ZYX'), "
            f"got {order!r}"
        )
    a, was_np = to_torch(angles, "angles")
    if a.dim() < 1 or a.shape[-1] != len(order):
        raise ValueError(
            f"euler_to_matrix: angles must have shape (..., {len(order)}) for order {order!r}, got {tuple(a.shape)}"
        )
    if degrees:
        a = torch.deg2rad(a)
    r = _elementary(order[0], a[..., 0])
    for i in range(1, len(order)):
        r = r @ _elementary(order[i], a[..., i])
    return from_torch(r, was_np)


# ---------------------------------------------------------------------------------------------------------------
# Random rotations, and rotations about the vertical (torch only)


def random_rotations(shape, generator: Optional[torch.Generator] = None, dtype=torch.float32) -> torch.Tensor:
    """Uniformly distributed rotation matrices ``shape + (3, 3)`` (normalised Gaussian quaternions)."""
    q = torch.randn(*shape, 4, generator=generator, dtype=dtype)
    return quaternion_to_matrix(q / q.norm(dim=-1, keepdim=True))


def rotate_about_axis(poses: torch.Tensor, angles: torch.Tensor, axis: int) -> torch.Tensor:
    """Rotate each pose (B, J, 3) by its angle (B,) about coordinate ``axis`` (right-handed)."""
    i, j = [a for a in range(3) if a != axis]
    c, s = torch.cos(angles)[:, None], torch.sin(angles)[:, None]
    out = poses.clone()
    out[..., i] = c * poses[..., i] - s * poses[..., j]
    out[..., j] = s * poses[..., i] + c * poses[..., j]
    return out


def random_yaw(poses: torch.Tensor, up_axis: int = 2, generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """Rotate each pose (B, J, 3) by a uniform random angle about coordinate axis ``up_axis`` (world vertical)."""
    angle = torch.rand(poses.shape[0], generator=generator, dtype=poses.dtype).to(poses.device) * (2 * math.pi)
    c, s = torch.cos(angle), torch.sin(angle)
    a, b = [i for i in range(3) if i != up_axis]
    rot = torch.zeros(poses.shape[0], 3, 3, dtype=poses.dtype, device=poses.device)
    rot[:, a, a], rot[:, a, b], rot[:, b, a], rot[:, b, b] = c, -s, s, c
    rot[:, up_axis, up_axis] = 1.0
    return poses @ rot.transpose(1, 2)


def random_turns(world_up: torch.Tensor, generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """``(B, 3, 3)`` rotations by uniform random angles about each ``(B, 3)`` vertical axis (normalised here)."""
    if world_up.ndim != 2 or world_up.shape[1] != 3:
        raise ValueError(f"random_turns: world_up must be (B, 3), got {tuple(world_up.shape)}")
    angle = torch.rand(len(world_up), generator=generator, dtype=world_up.dtype) * (2 * torch.pi)
    axis = world_up / world_up.norm(dim=-1, keepdim=True)
    return axis_angle_to_matrix(axis * angle.to(world_up.device)[:, None])
