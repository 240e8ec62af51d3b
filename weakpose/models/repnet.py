"""RepNet: a 2D -> 3D lifter with a weak-perspective camera branch, trained without paired 3D labels.

Wandt & Rosenhahn, *RepNet: Weakly Supervised Training of an Adversarial Reprojection Network for 3D Human Pose
Estimation*, CVPR 2019. One network reads a centred 2D pose ``W`` and predicts

* a 3D pose ``X`` (J x 3, root-relative) in a *canonical* frame -- whatever frame the adversarial prior's real poses
  live in (in weakpose: root-relative world poses, z up), NOT the camera frame;
* a weak-perspective camera ``K`` (2 x 3) with ``W ~ K X``: scale times the first two rows of the rotation from the
  canonical frame into the camera.

Training signals (no 3D label of the input): reprojection ``||W - K X||_F``, camera orthogonality
``||2 / tr(K K^T) * K K^T - I_2||_F`` (K must be a scaled orthographic projection) and a critic on ``X``
(:class:`weakpose.priors.PoseCritic`). See :class:`weakpose.tasks.RepNetTask`.

2D input convention: ``(B, J, 2)`` in any consistent 2D unit (weakpose's datasets give normalised screen
coordinates); it is centred on the root joint (joint 0, the pelvis in H36M-17) and, with ``normalize_scale``,
divided by its RMS joint distance from the root. The reprojection target is that centred, normalised 2D pose,
so the camera scale absorbs both the subject's distance and this normalisation.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

__all__ = [
    "RepNetLifter",
    "RepNetCameraLifter",
    "RepNetOutput",
    "center_keypoints",
    "reprojection_loss",
    "camera_loss",
    "camera_rotation",
    "to_camera_frame",
    "mean_bone_length",
    "rescale_to_bone_length",
]


def _check_poses(x: torch.Tensor, dims: int, name: str, num_joints: int | None = None) -> None:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor; got {type(x).__name__}")
    if x.ndim != 3 or x.shape[-1] != dims or (num_joints is not None and x.shape[1] != num_joints):
        want = f"(B, {num_joints if num_joints is not None else 'J'}, {dims})"
        raise ValueError(f"{name} must have shape {want}; got {tuple(x.shape)}")


def _check_camera(camera: torch.Tensor) -> None:
    if not isinstance(camera, torch.Tensor) or camera.ndim != 3 or camera.shape[1:] != (2, 3):
        shape = tuple(camera.shape) if isinstance(camera, torch.Tensor) else type(camera).__name__
        raise ValueError(f"camera must be a (B, 2, 3) weak-perspective matrix; got {shape}")


def center_keypoints(
    keypoints_2d: torch.Tensor, root: int = 0, normalize_scale: bool = True, eps: float = 1e-8
) -> tuple[torch.Tensor, torch.Tensor]:
    """Centre ``(B, J, 2)`` keypoints on joint ``root``; optionally divide by their RMS distance from it.

    Returns ``(centred, scale)`` with ``scale`` ``(B,)`` (ones without ``normalize_scale``), so
    ``keypoints_2d = centred * scale + keypoints_2d[:, root]``.
    """
    _check_poses(keypoints_2d, 2, "keypoints_2d")
    centred = keypoints_2d - keypoints_2d[:, root : root + 1]
    if not normalize_scale:
        return centred, torch.ones(centred.shape[0], dtype=centred.dtype, device=centred.device)
    scale = centred.pow(2).sum(-1).mean(-1).sqrt().clamp_min(eps)
    return centred / scale[:, None, None], scale


def reprojection_loss(camera: torch.Tensor, pose_3d: torch.Tensor, keypoints_2d: torch.Tensor) -> torch.Tensor:
    """Batch mean of ``||W - K X||_F``: ``camera`` K (B, 2, 3), ``pose_3d`` X (B, J, 3), ``keypoints_2d`` W (B, J, 2).

    ``W`` must be centred like ``X`` (root at the origin): a weak-perspective camera has no translation.
    The Frobenius norm of the whole 2 x J residual per sample, as in RepNet.
    """
    _check_camera(camera)
    _check_poses(pose_3d, 3, "pose_3d")
    _check_poses(keypoints_2d, 2, "keypoints_2d", pose_3d.shape[1])
    if not camera.shape[0] == pose_3d.shape[0] == keypoints_2d.shape[0]:
        raise ValueError(
            f"batch sizes differ: camera {tuple(camera.shape)}, pose_3d {tuple(pose_3d.shape)}, "
            f"keypoints_2d {tuple(keypoints_2d.shape)}"
        )
    projected = pose_3d @ camera.transpose(1, 2)  # (B, J, 2): row j is K x_j
    return (keypoints_2d - projected).pow(2).sum((1, 2)).sqrt().mean()


def camera_loss(camera: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Batch mean of ``||2 / tr(K K^T) * K K^T - I_2||_F``: zero iff the rows of K are orthogonal, equal length.

    A scaled orthographic camera ``K = s * R[:2]`` gives ``K K^T = s^2 I`` and ``tr = 2 s^2``, hence zero.
    """
    _check_camera(camera)
    kkt = camera @ camera.transpose(1, 2)
    trace = kkt.diagonal(dim1=1, dim2=2).sum(-1).clamp_min(eps)
    eye = torch.eye(2, dtype=camera.dtype, device=camera.device)
    return (2.0 / trace[:, None, None] * kkt - eye).pow(2).sum((1, 2)).sqrt().mean()


def camera_rotation(camera: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Nearest proper rotation ``R`` (B, 3, 3) and scale ``s`` (B,) with ``K ~ s * R[:2]``.

    The two rows of K are orthonormalised (polar decomposition via SVD of K); the third row is their cross
    product, so ``det R = +1`` and the camera looks along +z (weakpose's camera frame: x right, y down, z forward).
    """
    _check_camera(camera)
    u, sv, vh = torch.linalg.svd(camera, full_matrices=False)  # K = U diag(S) Vh, Vh (B, 2, 3)
    rows = u @ vh  # closest matrix with orthonormal rows
    r3 = torch.linalg.cross(rows[:, 0], rows[:, 1], dim=-1)
    return torch.cat([rows, r3[:, None]], dim=1), sv.mean(-1)


def to_camera_frame(pose_3d: torch.Tensor, camera: torch.Tensor) -> torch.Tensor:
    """Rotate canonical poses (B, J, 3) into the estimated camera's frame: ``x_cam = R x`` (no scaling)."""
    _check_poses(pose_3d, 3, "pose_3d")
    rot, _ = camera_rotation(camera)
    return pose_3d @ rot.transpose(1, 2)


def mean_bone_length(poses: torch.Tensor, parents) -> torch.Tensor:
    """Mean bone length per pose (B,) over the (child, parent) bones given by ``parents`` (root parent < 0)."""
    _check_poses(poses, 3, "poses", len(parents))
    child = [j for j, p in enumerate(parents) if p >= 0]
    parent = [parents[j] for j in child]
    return (poses[:, child] - poses[:, parent]).norm(dim=-1).mean(-1)


def rescale_to_bone_length(poses: torch.Tensor, target: float | torch.Tensor, parents) -> torch.Tensor:
    """Scale each root-relative pose so that its mean bone length equals ``target`` (metres)."""
    return poses * (target / mean_bone_length(poses, parents).clamp_min(1e-8))[:, None, None]


class _ResidualBlock(nn.Module):
    def __init__(self, width: int):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(width, width), nn.LeakyReLU(0.2), nn.Linear(width, width))
        self.act = nn.LeakyReLU(0.2)

    def forward(self, x):
        return self.act(x + self.body(x))


def _branch(n_in: int, n_out: int, width: int, num_blocks: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(n_in, width),
        nn.LeakyReLU(0.2),
        *[_ResidualBlock(width) for _ in range(num_blocks)],
        nn.Linear(width, n_out),
    )


@dataclass
class RepNetOutput:
    """``pose_3d`` (B, J, 3) canonical frame, root at 0, units of the prior's poses (metres);
    ``camera`` (B, 2, 3) weak perspective; ``keypoints_2d`` (B, J, 2) the centred (normalised) 2D input, i.e. the
    reprojection target; ``scale_2d`` (B,) the 2D normalisation divided out."""

    pose_3d: torch.Tensor
    camera: torch.Tensor
    keypoints_2d: torch.Tensor
    scale_2d: torch.Tensor


class RepNetLifter(nn.Module):
    """Pose branch and camera branch, both fully connected with residual blocks and leaky ReLU (RepNet).

    forward(keypoints_2d (B, J, 2)) -> :class:`RepNetOutput`. The input is centred on ``root`` (and scale
    normalised with ``normalize_scale``) inside, so callers pass raw keypoints in any 2D unit.
    """

    def __init__(
        self,
        num_joints: int = 17,
        width: int = 1000,
        num_blocks: int = 2,
        camera_width: int | None = None,
        camera_blocks: int | None = None,
        root: int = 0,
        normalize_scale: bool = True,
    ):
        super().__init__()
        self.num_joints, self.root, self.normalize_scale = num_joints, root, normalize_scale
        self.config = dict(
            num_joints=num_joints,
            width=width,
            num_blocks=num_blocks,
            camera_width=camera_width or width,
            camera_blocks=num_blocks if camera_blocks is None else camera_blocks,
            root=root,
            normalize_scale=normalize_scale,
        )
        self.pose_branch = _branch(num_joints * 2, num_joints * 3, width, num_blocks)
        self.camera_branch = _branch(num_joints * 2, 6, self.config["camera_width"], self.config["camera_blocks"])

    def forward(self, keypoints_2d: torch.Tensor) -> RepNetOutput:
        _check_poses(keypoints_2d, 2, "RepNetLifter input keypoints_2d", self.num_joints)
        w, scale = center_keypoints(keypoints_2d, self.root, self.normalize_scale)
        flat = w.reshape(w.shape[0], -1)
        pose = self.pose_branch(flat).reshape(-1, self.num_joints, 3)
        pose = pose - pose[:, self.root : self.root + 1]  # root-relative by construction, like the centred 2D
        camera = self.camera_branch(flat).reshape(-1, 2, 3)
        return RepNetOutput(pose_3d=pose, camera=camera, keypoints_2d=w, scale_2d=scale)


class RepNetCameraLifter(nn.Module):
    """A trained :class:`RepNetLifter` as a plain camera-frame lifter, for ``lifter.pt`` files
    (``weakpose evaluate`` / ``lift``): ``(B, J, 2) -> (B, J, 3)`` root-relative poses in the CAMERA frame,
    metres.

    The canonical pose is rotated by the estimated camera (:func:`to_camera_frame`: K orthonormalised into the
    nearest rotation) and scaled to ``target_bone_length`` (the mean bone length of the training script's 3D pool),
    because a weak-perspective camera leaves the scale to the prior -- exactly what ``RepNetTask.lift`` does when
    the training script reports its numbers. The camera's depth axis is the weak-perspective one (no absolute
    depth): there is no trajectory for RepNet.
    """

    def __init__(self, target_bone_length: float, parents=None, **lifter_kwargs):
        super().__init__()
        from weakpose.skeleton import H36M17

        self.lifter = RepNetLifter(**lifter_kwargs)
        self.parents = list(H36M17.parents if parents is None else parents)
        self.register_buffer("target_bone_length", torch.tensor(float(target_bone_length)))

    def forward(self, keypoints_2d: torch.Tensor) -> torch.Tensor:
        out = self.lifter(keypoints_2d)
        return rescale_to_bone_length(to_camera_frame(out.pose_3d, out.camera), self.target_bone_length, self.parents)
