"""Virtual cameras of root-centred crops, and the rotation that carries a latent from one view to another.

A crop centred on the person is not what the real camera sees at its optical axis: it is a view along the ray
through the root. Rhodin et al. (ECCV 2018, "Unsupervised geometry-aware representation for 3D human pose
estimation") therefore rotate each real camera about its centre until its optical axis passes through the root; the
3D latent of a crop lives in that *virtual* camera's frame, and the latent of view A becomes the latent of view B
through ``R_B · R_Aᵀ`` with both R the world→virtual-camera rotations.

The look-at rotation used here is the minimal one (about the axis ``d × z``) taking the root direction ``d`` to
the optical axis, so the virtual camera keeps the real camera's roll as far as possible.

:func:`place_body` goes the other way: a body predicted in a crop's virtual frame is put into the world.
"""

from __future__ import annotations

from typing import Tuple

import torch

__all__ = ["look_at_rotation", "virtual_rotation", "latent_rotation", "rotate_points", "place_body"]


def look_at_rotation(direction: torch.Tensor, eps: float = 1e-9) -> torch.Tensor:
    """Rotation ``(…, 3, 3)`` mapping the unit vector along ``direction (…, 3)`` onto ``(0, 0, 1)``, minimally.

    Rodrigues' formula for axis ``d × z`` and angle ``acos(d·z)``, written without the division so that the
    on-axis case (d = z) is exact and smooth.
    """
    if direction.shape[-1] != 3:
        raise ValueError(f"look_at_rotation: direction must be (..., 3); got {tuple(direction.shape)}")
    d = direction / direction.norm(dim=-1, keepdim=True).clamp_min(eps)
    z = torch.zeros_like(d)
    z[..., 2] = 1.0
    v = torch.cross(d, z, dim=-1)  # axis · sin(angle)
    c = d[..., 2]  # cos(angle)
    if torch.any(c <= -1.0 + 1e-6):
        raise ValueError("look_at_rotation: the root is behind the camera (direction along -z)")
    vx = torch.zeros(d.shape[:-1] + (3, 3), dtype=d.dtype, device=d.device)
    vx[..., 0, 1], vx[..., 0, 2] = -v[..., 2], v[..., 1]
    vx[..., 1, 0], vx[..., 1, 2] = v[..., 2], -v[..., 0]
    vx[..., 2, 0], vx[..., 2, 1] = -v[..., 1], v[..., 0]
    eye = torch.eye(3, dtype=d.dtype, device=d.device).expand_as(vx)
    return eye + vx + (vx @ vx) / (1.0 + c)[..., None, None]


def virtual_rotation(R: torch.Tensor, t: torch.Tensor, root_world: torch.Tensor) -> torch.Tensor:
    """World→virtual-camera rotation ``(…, 3, 3)`` of a crop: the real camera ``(R, t)`` turned to look at the root.

    ``R`` (…, 3, 3) world→camera, ``t`` (…, 3) metres, ``root_world`` (…, 3) metres (broadcast over views).
    """
    root_cam = (R @ root_world.unsqueeze(-1)).squeeze(-1) + t
    return look_at_rotation(root_cam) @ R


def latent_rotation(R_source: torch.Tensor, R_target: torch.Tensor) -> torch.Tensor:
    """``R_target · R_sourceᵀ``: takes points in the source virtual camera's frame to the target's."""
    return R_target @ R_source.transpose(-1, -2)


def rotate_points(points: torch.Tensor, rotation: torch.Tensor) -> torch.Tensor:
    """``points (B, N, 3)`` rotated by ``rotation (B, 3, 3)`` (row vectors: ``p ↦ R p``)."""
    if points.shape[-1] != 3 or rotation.shape[-2:] != (3, 3):
        raise ValueError(
            f"rotate_points: points (B, N, 3) and rotation (B, 3, 3); got {tuple(points.shape)} "
            f"and {tuple(rotation.shape)}"
        )
    return points @ rotation.transpose(-1, -2)


# place_body lives here, not in weakpose.body nor weakpose.losses: it uses nothing of a body model (any vertices
# and joints with the pelvis at joint 0) and is no loss; it is the inverse of this module's world->virtual mapping
# (R_v of virtual_rotation, centred on the root), so it sits beside it on the lowest floor, for losses, tasks and
# evaluation alike.
def place_body(
    vertices_v: torch.Tensor,
    joints_v: torch.Tensor,
    R_v: torch.Tensor,
    root_world: torch.Tensor,
    root_offset: torch.Tensor,
) -> Tuple[torch.Tensor, torch.Tensor]:
    """Put a body predicted in a crop's virtual camera frame into the world.

    ``vertices_v (B, N, 3)`` and ``joints_v (B, 17, 3)`` (H36M-17, joint 0 = pelvis, regressed from the vertices)
    in the virtual frame; ``R_v (B, 3, 3)`` world->virtual rotation; ``root_world (B, 3)`` metres, the point the
    crop is centred on; ``root_offset (B, 3)`` metres in the virtual frame. The body is made root-relative at its
    pelvis, moved by ``root_offset``, rotated to world axes by ``R_vᵀ`` and translated to ``root_world``:
    ``x_world = R_vᵀ (x_v − pelvis_v + root_offset) + root_world``. Returns ``(vertices_world, joints_world)``.
    """
    b = vertices_v.shape[0]
    for name, value, shape in (
        ("joints_v", joints_v, (b, None, 3)),
        ("R_v", R_v, (b, 3, 3)),
        ("root_world", root_world, (b, 3)),
        ("root_offset", root_offset, (b, 3)),
    ):
        if value.ndim != len(shape) or any(s is not None and s != d for s, d in zip(shape, value.shape)):
            raise ValueError(
                f"place_body: {name} must be {tuple('?' if s is None else s for s in shape)} for "
                f"vertices {tuple(vertices_v.shape)}; got {tuple(value.shape)}"
            )
    shift = root_offset[:, None] - joints_v[:, :1]

    def to_world(x: torch.Tensor) -> torch.Tensor:
        return (x + shift) @ R_v + root_world[:, None]  # row vectors: (R_vᵀ x)ᵀ = xᵀ R_v

    return to_world(vertices_v), to_world(joints_v)
