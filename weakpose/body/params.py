"""SMPL parameters of a set of frames, :class:`SMPLParams` (axis-angle, radians, SMPL-24 order; ``body_pose`` holds
joints 1..23), and their left/right mirror image. Readers of parameter files and the embedded default that makes
them from the shipped motion are in :mod:`weakpose.data.smpl_params`."""

from __future__ import annotations

import dataclasses
from typing import Iterable, List, Optional, Sequence

import numpy as np

from weakpose.skeleton import SMPL24

__all__ = ["SMPLParams", "mirror_axis_angle", "mirror_params", "NUM_BODY_JOINTS"]

NUM_BODY_JOINTS = 23  # SMPL joints besides the pelvis


@dataclasses.dataclass
class SMPLParams:
    """N frames of SMPL parameters: ``global_orient`` (N, 3) and ``body_pose`` (N, 69) axis-angle radians,
    ``betas`` (N, num_betas), all float32; ``sequence`` (N,) str labels the clip each frame comes from (for
    splitting by whole sequence); ``source`` says where the set came from."""

    global_orient: np.ndarray
    body_pose: np.ndarray
    betas: np.ndarray
    source: str = ""
    sequence: Optional[np.ndarray] = None

    def __post_init__(self):
        self.global_orient = np.asarray(self.global_orient, dtype=np.float32)
        self.body_pose = np.asarray(self.body_pose, dtype=np.float32)
        self.betas = np.asarray(self.betas, dtype=np.float32)
        n = len(self.body_pose)
        where = f" ({self.source})" if self.source else ""
        if self.body_pose.ndim == 3 and self.body_pose.shape[1:] == (NUM_BODY_JOINTS, 3):
            self.body_pose = self.body_pose.reshape(n, -1)
        if self.body_pose.ndim != 2 or self.body_pose.shape[1] != 3 * NUM_BODY_JOINTS:
            raise ValueError(f"SMPLParams{where}: body_pose must be (N, 69) axis-angle, got {self.body_pose.shape}")
        if self.global_orient.shape != (n, 3):
            raise ValueError(f"SMPLParams{where}: global_orient must be ({n}, 3), got {self.global_orient.shape}")
        if self.betas.ndim != 2 or len(self.betas) != n:
            raise ValueError(f"SMPLParams{where}: betas must be ({n}, num_betas), got {self.betas.shape}")
        if self.sequence is None:
            self.sequence = np.full(n, self.source or "", dtype=object).astype(str)
        self.sequence = np.asarray(self.sequence).astype(str)
        if self.sequence.shape != (n,):
            raise ValueError(f"SMPLParams{where}: sequence must be ({n},) labels, got {self.sequence.shape}")
        for name in ("global_orient", "body_pose", "betas"):
            value = getattr(self, name)
            if not np.isfinite(value).all():
                raise ValueError(f"SMPLParams{where}: {name} has {int((~np.isfinite(value)).sum())} NaN/inf values")

    def __len__(self) -> int:
        return len(self.body_pose)

    @property
    def num_betas(self) -> int:
        return int(self.betas.shape[1])

    @property
    def sequences(self) -> List[str]:
        """Distinct sequence labels in order of first appearance."""
        return list(dict.fromkeys(self.sequence.tolist()))

    def subset(self, index) -> "SMPLParams":
        """Rows ``index`` (integer indices, a slice or a boolean mask), as a new set."""
        if isinstance(index, slice):
            index = np.arange(len(self))[index]
        index = np.asarray(index)
        if index.dtype == bool:
            if index.shape != (len(self),):
                raise ValueError(f"SMPLParams.subset: boolean mask of shape {index.shape} for {len(self)} frames")
            index = np.flatnonzero(index)
        return SMPLParams(
            self.global_orient[index], self.body_pose[index], self.betas[index], self.source, self.sequence[index]
        )

    def select_sequences(self, names: Iterable[str]) -> "SMPLParams":
        """The frames of the named sequences (whole sequences: for a train/validation split without leakage)."""
        names = set(names)
        unknown = sorted(names - set(self.sequences))
        if unknown:
            raise KeyError(f"SMPLParams ({self.source}): unknown sequences {unknown[:5]}")
        return self.subset(np.isin(self.sequence, list(names)))

    @staticmethod
    def concatenate(parts: Sequence["SMPLParams"], source: Optional[str] = None) -> "SMPLParams":
        """One set from several (their betas must have the same width)."""
        parts = list(parts)
        if not parts:
            raise ValueError("SMPLParams.concatenate: nothing to concatenate")
        widths = sorted({p.num_betas for p in parts})
        if len(widths) > 1:
            raise ValueError(f"SMPLParams.concatenate: betas widths differ {widths}")
        if source is None:
            srcs = list(dict.fromkeys(p.source for p in parts))
            more = ", ..." if len(srcs) > 3 else ""
            source = srcs[0] if len(srcs) == 1 else f"{len(parts)} sets ({', '.join(srcs[:3])}{more})"
        return SMPLParams(
            np.concatenate([p.global_orient for p in parts]),
            np.concatenate([p.body_pose for p in parts]),
            np.concatenate([p.betas for p in parts]),
            source,
            np.concatenate([p.sequence for p in parts]),
        )


# ----------------------------------------------------------------------------------------------- mirror


def mirror_axis_angle(pose, order=SMPL24):
    """Left/right mirror of per-joint axis-angle rotations ``(..., J, 3)`` or flat ``(..., J*3)`` (numpy or
    torch): joints swapped per ``order`` and each rotation reflected through the x = 0 plane of the body frame.

    Reflecting R by M = diag(-1, 1, 1) gives M R M, whose axis-angle is (x, -y, -z): rotation axes are pseudo-
    vectors. ``J`` may be ``order.num_joints`` (global orientation included) or one less (``body_pose``).
    """
    flat = pose.shape[-1] != 3
    j_total = order.num_joints
    shape = tuple(pose.shape)
    per_joint = pose.reshape(*shape[:-1], -1, 3) if flat else pose
    j = per_joint.shape[-2]
    perm = np.asarray(order.flip_permutation)
    if j == j_total:
        pass
    elif j == j_total - 1:  # body_pose: joints 1..J-1, the root maps to itself
        perm = perm[1:] - 1
    else:
        raise ValueError(f"mirror_axis_angle: {j} joints; expected {j_total} or {j_total - 1} ({order.name})")
    out = per_joint[..., perm, :]
    sign = np.array([1.0, -1.0, -1.0])
    if hasattr(out, "new_tensor"):
        out = out * out.new_tensor(sign)
    else:
        out = out * sign.astype(out.dtype)
    return out.reshape(shape)


def mirror_params(params: SMPLParams) -> SMPLParams:
    """The mirror image of every frame (x -> -x in the body frame, left/right swapped); betas kept."""
    return SMPLParams(
        params.global_orient * np.array([1, -1, -1], np.float32),  # the root maps to itself
        mirror_axis_angle(params.body_pose),
        params.betas.copy(),
        params.source + " (mirrored)",
        params.sequence.copy(),
    )
