"""Linear blend skinning for SMPL-format body models, as small pure functions (torch, batched, differentiable).

The pipeline is the one described in SMPL (Loper et al. 2015, "SMPL: A Skinned Multi-Person Linear Model"):

1. shape blend shapes:  ``T(β) = T̄ + Σ_k β_k S_k``                        (:func:`blend_shapes`)
2. rest joints regressed from the shaped mesh: ``J(β) = 𝒥 T(β)``           (:func:`regress_joints`)
3. pose blend shapes:  ``T_P = T(β) + Σ_n (vec(R(θ)) − vec(I))_n P_n``  (:func:`pose_features`, :func:`blend_shapes`)
4. world transforms along the kinematic tree, made relative to the rest pose (:func:`rigid_transforms`)
5. linear blend skinning: ``v' = Σ_j w_vj G'_j v``                          (:func:`skin_vertices`)

:func:`lbs` chains them; :class:`weakpose.body.model.BodyModel` runs the same maths with precomputed matrices.
Conventions: rotations act on column vectors (``y = R x``) and are *local* (relative to the parent joint); joint 0
is the root; every other joint's parent has a smaller index (true of SMPL's kinematic tree). Units are whatever the
model file uses (metres for weakpose files).

Pose-corrective layout (SMPL's ``posedirs``, shape ``(V, 3, 9 (J − 1))``): feature ``9 (j − 1) + 3 a + b`` is
``R_j[a, b] − δ_ab`` for joints ``j = 1 .. J − 1`` (the root's rotation is excluded, so a rigid turn of the whole
body never deforms it).
"""

from __future__ import annotations

from typing import List, Sequence, Tuple

import numpy as np
import torch

__all__ = [
    "blend_shapes",
    "pose_features",
    "regress_joints",
    "kinematic_levels",
    "KinematicChain",
    "rigid_transforms",
    "skin_vertices",
    "skin_coordinate_major",
    "lbs",
]


def blend_shapes(coeffs: torch.Tensor, dirs: torch.Tensor) -> torch.Tensor:
    """Vertex offsets ``Σ_k coeffs[b, k] · dirs[:, :, k]``: ``(B, K)`` and ``(V, 3, K)`` -> ``(B, V, 3)``.

    Serves both shape blend shapes (coefficients β, directions ``shapedirs``) and pose correctives (coefficients
    :func:`pose_features`, directions ``posedirs``).
    """
    if coeffs.shape[-1] != dirs.shape[-1]:
        raise ValueError(
            f"blend_shapes: {coeffs.shape[-1]} coefficients for {dirs.shape[-1]} directions "
            f"(coeffs {tuple(coeffs.shape)}, dirs {tuple(dirs.shape)})"
        )
    num_vertices = dirs.shape[0]
    # One GEMM over the flattened (V*3) axis is what makes this cheap.
    flat = coeffs @ dirs.reshape(num_vertices * 3, -1).T
    return flat.reshape(coeffs.shape[0], num_vertices, 3)


def pose_features(rotations: torch.Tensor) -> torch.Tensor:
    """``(B, J, 3, 3)`` local rotations -> ``(B, 9 (J − 1))`` SMPL pose-corrective features ``R_j − I``, j ≥ 1."""
    if rotations.dim() != 4 or rotations.shape[-2:] != (3, 3):
        raise ValueError(f"pose_features: expected (B, J, 3, 3) rotations, got {tuple(rotations.shape)}")
    eye = torch.eye(3, dtype=rotations.dtype, device=rotations.device)
    return (rotations[:, 1:] - eye).reshape(rotations.shape[0], -1)


def regress_joints(regressor: torch.Tensor, vertices: torch.Tensor) -> torch.Tensor:
    """Joints as fixed linear combinations of vertices: ``(J, V)`` and ``(B, V, 3)`` -> ``(B, J, 3)``."""
    if regressor.shape[-1] != vertices.shape[-2]:
        raise ValueError(
            f"regress_joints: regressor {tuple(regressor.shape)} does not match vertices {tuple(vertices.shape)}"
        )
    return torch.matmul(regressor, vertices)


def kinematic_levels(parents: Sequence[int]) -> List[np.ndarray]:
    """Joints grouped by depth in the tree (level 0 = the root), so one level is transformed in one batched step.

    ``parents[j]`` is j's parent; the root is the one joint whose parent is negative. All parents of a level-d
    joint lie in level d − 1.
    """
    parents = [int(p) for p in parents]
    depth = [0] * len(parents)
    for j, p in enumerate(parents):
        if j == 0:
            if p >= 0:
                raise ValueError(f"kinematic_levels: joint 0 must be the root (parent -1), got parent {p}")
            continue
        if not 0 <= p < j:
            raise ValueError(
                f"kinematic_levels: joint {j} has parent {p}; parents must precede their children (0 <= parent < joint)"
            )
        depth[j] = depth[p] + 1
    return [np.flatnonzero(np.asarray(depth) == d) for d in range(max(depth) + 1)]


class KinematicChain:
    """Forward kinematics over a fixed tree, one batched step per tree level instead of one per joint.

    Built once per model (the index bookkeeping is done here, not in every forward pass). SMPL's 24 joints fall into
    9 levels; a level's parents usually form a contiguous run of the previous level, which is then a view, not a
    gather.
    """

    def __init__(self, parents: Sequence[int]):
        self.parents = tuple(int(p) for p in parents)
        self.levels = kinematic_levels(self.parents)
        order = np.concatenate(self.levels)
        self._identity_order = bool(np.array_equal(order, np.arange(len(order))))
        self._order = order
        self._inverse = np.argsort(order)
        position = np.zeros(len(order), dtype=np.int64)
        for level in self.levels:
            position[level] = np.arange(len(level))
        self._sizes = [len(level) for level in self.levels]
        # For every level after the root's: how to fetch the parents' transforms from the previous level.
        self._parent_access = []
        for level in self.levels[1:]:
            pos = position[np.asarray(self.parents)[level]]
            if np.all(pos == pos[0]):
                self._parent_access.append(slice(int(pos[0]), int(pos[0]) + 1))  # one parent: broadcast
            elif np.array_equal(pos, np.arange(pos[0], pos[0] + len(pos))):
                self._parent_access.append(slice(int(pos[0]), int(pos[0]) + len(pos)))  # a contiguous run: a view
            else:
                self._parent_access.append(pos)  # gather
        self._device_cache = {}

    @property
    def num_joints(self) -> int:
        return len(self.parents)

    def _tensors(self, device: torch.device):
        if device not in self._device_cache:
            as_t = lambda a: torch.as_tensor(a, dtype=torch.long, device=device)  # noqa: E731
            self._device_cache[device] = dict(
                parents=as_t(np.maximum(np.asarray(self.parents[1:]), 0)),
                order=as_t(self._order),
                inverse=as_t(self._inverse),
                access=[a if isinstance(a, slice) else as_t(a) for a in self._parent_access],
            )
        return self._device_cache[device]

    def __call__(self, rotations: torch.Tensor, rest_joints: torch.Tensor):
        """See :func:`rigid_transforms`."""
        if rotations.shape[1] != self.num_joints or rest_joints.shape[1] != self.num_joints:
            raise ValueError(
                f"rigid_transforms: {self.num_joints} joints in the tree but rotations "
                f"{tuple(rotations.shape)} and rest joints {tuple(rest_joints.shape)}"
            )
        idx = self._tensors(rotations.device)
        # Rest-pose bone vectors; the root's "bone" is its own position.
        bones = torch.cat([rest_joints[:, :1], rest_joints[:, 1:] - rest_joints[:, idx["parents"]]], dim=1)
        if not self._identity_order:
            rotations, bones = rotations[:, idx["order"]], bones[:, idx["order"]]
        # split (not slicing): its backward concatenates instead of zero-filling a full-size gradient per level.
        level_rot, level_bones = rotations.split(self._sizes, dim=1), bones.split(self._sizes, dim=1)
        glob_rot, glob_pos = [level_rot[0]], [level_bones[0]]
        for depth, access in enumerate(idx["access"], start=1):
            parent_rot, parent_pos = glob_rot[-1][:, access], glob_pos[-1][:, access]
            glob_rot.append(parent_rot @ level_rot[depth])
            glob_pos.append((parent_rot @ level_bones[depth][..., None])[..., 0] + parent_pos)
        global_rotations, posed_joints = torch.cat(glob_rot, dim=1), torch.cat(glob_pos, dim=1)
        if not self._identity_order:
            global_rotations, posed_joints = global_rotations[:, idx["inverse"]], posed_joints[:, idx["inverse"]]
        skin_translations = posed_joints - (global_rotations @ rest_joints[..., None])[..., 0]
        return posed_joints, global_rotations, skin_translations


def rigid_transforms(
    rotations: torch.Tensor, rest_joints: torch.Tensor, parents: Sequence[int]
) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Forward kinematics: local rotations + rest joints -> posed joints and skinning transforms.

    Joint j's world transform is ``G_j = G_parent(j) ∘ (R_j, J_j − J_parent(j))`` (root: ``(R_0, J_0)``). The
    skinning transform removes the rest pose first (SMPL eq. 4), so a rest-pose point x bound to j goes to
    ``G_R_j x + (G_t_j − G_R_j J_j)``.

    Args:
        rotations: ``(B, J, 3, 3)`` local rotations.
        rest_joints: ``(B, J, 3)`` rest-pose joint positions.
        parents: ``J`` parent indices (root negative, parents before children), or a :class:`KinematicChain`.

    Returns:
        ``(posed_joints (B, J, 3), global_rotations (B, J, 3, 3), skin_translations (B, J, 3))``; the skinning
        transform of joint j is ``(global_rotations[:, j], skin_translations[:, j])``.
    """
    chain = parents if isinstance(parents, KinematicChain) else KinematicChain(parents)
    return chain(rotations, rest_joints)


def skin_vertices(
    vertices: torch.Tensor, weights: torch.Tensor, global_rotations: torch.Tensor, skin_translations: torch.Tensor
) -> torch.Tensor:
    """Linear blend skinning: ``v'_i = Σ_j w_ij (G_R_j v_i + t_j)``.

    Args:
        vertices: ``(B, V, 3)`` rest-pose vertices (shape and pose correctives applied).
        weights: ``(V, J)`` skinning weights (rows sum to 1).
        global_rotations, skin_translations: ``(B, J, 3, 3)`` and ``(B, J, 3)`` from :func:`rigid_transforms`.

    Returns:
        ``(B, V, 3)`` posed vertices.
    """
    if weights.shape[0] != vertices.shape[1]:
        raise ValueError(f"skin_vertices: weights {tuple(weights.shape)} do not match vertices {tuple(vertices.shape)}")
    posed = skin_coordinate_major(vertices.transpose(1, 2), weights.T, global_rotations, skin_translations)
    return posed.transpose(1, 2)


def skin_coordinate_major(
    vertices: torch.Tensor, weights_t: torch.Tensor, global_rotations: torch.Tensor, skin_translations: torch.Tensor
) -> torch.Tensor:
    """:func:`skin_vertices` on coordinate-major data: vertices ``(B, 3, V)``, weights_t ``(J, V)`` -> ``(B, 3, V)``.

    The layout :class:`~weakpose.body.model.BodyModel` works in: blending the 3x4 transforms is then a single GEMM
    ``(B·12, J) @ (J, V)`` and applying them is three fused multiply-adds over contiguous ``(B, 3, V)`` rows,
    instead of per-vertex 3x3 products.
    """
    batch, num_joints = global_rotations.shape[:2]
    if weights_t.shape[0] != num_joints or weights_t.shape[1] != vertices.shape[-1]:
        raise ValueError(
            f"skin_vertices: weights for {weights_t.shape[1]} vertices and {weights_t.shape[0]} joints "
            f"do not match vertices {tuple(vertices.shape)} and {num_joints} joint transforms"
        )
    # Per joint, the columns [R e_0, R e_1, R e_2, t] stacked: row 3k + i of (B, 12, J) is column k, coordinate i.
    columns = torch.cat([global_rotations, skin_translations.unsqueeze(-1)], dim=-1)  # (B, J, 3, 4)
    # Contiguous (B·12, J) so the product is one plain GEMM rather than a batched one.
    columns = columns.permute(0, 3, 2, 1).reshape(batch * 12, num_joints)
    blended = (columns @ weights_t).view(batch, 4, 3, -1)  # (B, 4, 3, V)
    # unbind, not indexing: its backward stacks the gradients instead of zero-filling a full-size tensor per slice.
    col0, col1, col2, trans = blended.unbind(1)
    x, y, z = (c.unsqueeze(1) for c in vertices.unbind(1))
    out = torch.addcmul(trans, col0, x)
    out = torch.addcmul(out, col1, y)
    return torch.addcmul(out, col2, z)


def lbs(
    betas: torch.Tensor,
    rotations: torch.Tensor,
    v_template: torch.Tensor,
    shapedirs: torch.Tensor,
    posedirs: torch.Tensor,
    J_regressor: torch.Tensor,
    weights: torch.Tensor,
    parents: Sequence[int],
) -> Tuple[torch.Tensor, torch.Tensor]:
    """The whole SMPL forward pass from arrays in file layout (Loper et al. 2015).

    Args:
        betas: ``(B, K)`` shape coefficients (K ≤ ``shapedirs.shape[-1]``; missing ones count as zero).
        rotations: ``(B, J, 3, 3)`` local joint rotations, root first.
        v_template ``(V, 3)``, shapedirs ``(V, 3, ≥K)``, posedirs ``(V, 3, 9 (J − 1))``, J_regressor ``(J, V)``,
        weights ``(V, J)``, parents ``J`` ints: the model, as stored in a body-model file.

    Returns:
        ``(vertices (B, V, 3), joints (B, J, 3))`` posed, before any global translation.
    """
    v_shaped = v_template + blend_shapes(betas, shapedirs[..., : betas.shape[-1]])
    rest_joints = regress_joints(J_regressor, v_shaped)
    v_posed = v_shaped + blend_shapes(pose_features(rotations), posedirs)
    joints, global_rotations, skin_translations = rigid_transforms(rotations, rest_joints, parents)
    return skin_vertices(v_posed, weights, global_rotations, skin_translations), joints
