"""RepNet's pose critic, usable as a learned 3D pose prior: ``loss = task_loss + w * prior.loss(poses)``.

Wandt & Rosenhahn, "RepNet", CVPR 2019: the critic reads a 3D pose along two paths — the flattened pose through
fully connected layers with leaky ReLU and a residual block, and the flattened KCS matrix Ψ = BᵀB
(:mod:`weakpose.priors.kcs`) through its own fully connected layers — concatenates them and ends in one linear
output (a Wasserstein critic, no sigmoid). Widths follow the paper's description of 100-unit fully connected
layers (pose path, KCS path and the layer after fusion); all are configurable (``kcs_width=1000`` gives a wider
KCS path at about 5× the training cost on a CPU). Only the upper triangle of the
symmetric Ψ (diagonal included) is fed, which carries the same information as the full matrix.

Inputs: poses ``(B, J, 3)`` in METRES, H36M-17 joint order by default (:data:`weakpose.skeleton.H36M17`); any
leading dims ``(..., J, 3)`` are accepted. The pose is made root-relative (joint 0 subtracted) inside, so an
absolute or root-relative pose scores the same. The critic is trained in one coordinate frame (the file's
``meta["frame"]`` says which); feed poses in that frame.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, Optional, Sequence, Tuple

import torch
from torch import nn

from weakpose.priors.kcs import H36M17_BONES, kcs_matrix
from weakpose.priors.prior_file import load_prior, save_prior, score_without_grad
from weakpose.priors.wgan import generator_loss

__all__ = ["PoseCritic", "PoseDiscriminator", "FILE_FORMAT"]

#: The tag every file of this critic stores (v0.1 named the class PoseDiscriminator). Unchanged so that files
#: written before and after the rename, the shipped ``pose_discriminator.pt`` included, read alike.
FILE_FORMAT = "weakpose.PoseDiscriminator/1"


class _Residual(nn.Module):
    """x + f(x) with f two fully connected layers and leaky ReLU (the residual block of the pose path)."""

    def __init__(self, width: int, slope: float):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(width, width), nn.LeakyReLU(slope), nn.Linear(width, width))
        self.act = nn.LeakyReLU(slope)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(x + self.body(x))


class PoseCritic(nn.Module):
    """Two-path (pose + KCS) Wasserstein critic of 3D poses; ``forward`` returns (B,) values, higher = more real.

    num_joints / bones: the skeleton; ``bones=None`` means :data:`weakpose.priors.kcs.H36M17_BONES` (16 tree bones
    plus the hip bone RHip − LHip) and needs ``num_joints == 17``.
    pose_width, num_blocks: width and residual-block count of the pose path; kcs_width: width of the KCS path;
    fused_width: the layer after concatenation; slope: leaky ReLU slope.
    max_bone_m: inputs whose median bone is longer than this many metres are refused as probable millimetres.
    """

    def __init__(
        self,
        num_joints: int = 17,
        bones: Optional[Sequence[Tuple[int, int]]] = None,
        pose_width: int = 100,
        num_blocks: int = 1,
        kcs_width: int = 100,
        fused_width: int = 100,
        slope: float = 0.2,
        max_bone_m: float = 2.0,
    ):
        super().__init__()
        if bones is None:
            if num_joints != 17:
                raise ValueError(
                    f"PoseCritic: give the (child, parent) bones of a {num_joints}-joint "
                    "skeleton; the default bones are those of H36M-17"
                )
            bones = H36M17_BONES
        self.num_joints = int(num_joints)
        self.bones = tuple((int(c), int(p)) for c, p in bones)
        kcs_matrix(torch.zeros(1, self.num_joints, 3), self.bones)  # validates the bone indices now
        self.max_bone_m = float(max_bone_m)
        self._hparams = dict(
            pose_width=int(pose_width),
            num_blocks=int(num_blocks),
            kcs_width=int(kcs_width),
            fused_width=int(fused_width),
            slope=float(slope),
        )
        nb = len(self.bones)
        iu = torch.triu_indices(nb, nb)
        self.register_buffer("_triu", iu[0] * nb + iu[1], persistent=False)

        self.pose_path = nn.Sequential(
            nn.Linear(self.num_joints * 3, pose_width),
            nn.LeakyReLU(slope),
            *[_Residual(pose_width, slope) for _ in range(num_blocks)],
            nn.Linear(pose_width, pose_width),
            nn.LeakyReLU(slope),
        )
        self.kcs_path = nn.Sequential(
            nn.Linear(iu.shape[1], kcs_width),
            nn.LeakyReLU(slope),
            nn.Linear(kcs_width, kcs_width),
            nn.LeakyReLU(slope),
            nn.Linear(kcs_width, pose_width),
            nn.LeakyReLU(slope),
        )
        self.head = nn.Sequential(
            nn.Linear(2 * pose_width, fused_width), nn.LeakyReLU(slope), nn.Linear(fused_width, 1)
        )
        self.meta: Dict[str, Any] = {}  # provenance saved with the weights (training data, frame, steps)

    # -- configuration -----------------------------------------------------------------------------------------
    @property
    def config(self) -> Dict[str, Any]:
        """Constructor arguments (plain types), enough to rebuild the network."""
        return dict(
            num_joints=self.num_joints, bones=[list(b) for b in self.bones], max_bone_m=self.max_bone_m, **self._hparams
        )

    # -- checks ------------------------------------------------------------------------------------------------
    def check_poses(self, poses: torch.Tensor) -> None:
        """Raise ValueError unless ``poses`` is a finite (B, J, 3) (or (..., J, 3)) batch in metres."""
        shape = tuple(poses.shape)
        if poses.ndim < 3 or shape[-2:] != (self.num_joints, 3):
            raise ValueError(
                f"PoseCritic expects poses of shape (B, {self.num_joints}, 3) in metres "
                f"(H36M-17 order for the default skeleton), got {shape}"
            )
        if shape[0] == 0:
            raise ValueError(f"PoseCritic: empty batch {shape}")
        if not bool(torch.isfinite(poses).all()):
            bad = int((~torch.isfinite(poses)).sum())
            raise ValueError(f"PoseCritic: {bad} NaN/inf values in poses of shape {shape}")
        lengths = kcs_matrix(poses.detach(), self.bones).diagonal(dim1=-2, dim2=-1).clamp_min(0).sqrt()
        typical = float(lengths.median(dim=-1).values.max())
        if typical > self.max_bone_m:
            raise ValueError(
                f"PoseCritic: poses of shape {shape} have a typical bone of {typical:.3g}; "
                f"that is over {self.max_bone_m} m — are they in millimetres? Pass metres."
            )

    # -- network -----------------------------------------------------------------------------------------------
    def forward(self, poses: torch.Tensor) -> torch.Tensor:
        """Critic values (...,) for poses (..., J, 3) metres; higher = more like the training poses."""
        self.check_poses(poses)
        lead = poses.shape[:-2]
        x = poses.reshape(-1, self.num_joints, 3)
        x = x - x[:, :1]  # root-relative: the critic judges the shape, not where the body stands
        psi = kcs_matrix(x, self.bones).flatten(1).index_select(1, self._triu)
        h = torch.cat([self.pose_path(x.flatten(1)), self.kcs_path(psi)], dim=1)
        return self.head(h)[:, 0].reshape(lead)

    def score(self, poses):
        """Per-pose realism (...,) without gradients; numpy or torch in, same type out (the critic's dtype).

        The scale is the critic's own (a Wasserstein critic has no fixed range): compare scores with each
        other, e.g. with the scores of held-out real poses, not with a threshold.
        """
        return score_without_grad(self, poses)

    def loss(self, poses: torch.Tensor) -> torch.Tensor:
        """Scalar −mean critic value of ``poses`` (..., J, 3) metres, to ADD to another model's objective.

        Gradients flow to ``poses``; lower means more realistic. Equal to :func:`weakpose.priors.generator_loss`.
        """
        if not isinstance(poses, torch.Tensor):
            raise TypeError(f"PoseCritic.loss needs a torch tensor (to back-propagate), got {type(poses).__name__}")
        return generator_loss(lambda x: self(x).reshape(-1), poses.reshape(-1, *poses.shape[-2:]))

    # -- files -------------------------------------------------------------------------------------------------
    def save(self, path) -> Path:
        """Write config, meta and weights atomically to ``path`` (loadable with ``torch.load(weights_only=True)``)."""
        return save_prior(self, path, FILE_FORMAT)

    @classmethod
    def pretrained(cls, map_location="cpu", trainable: bool = False) -> "PoseCritic":
        """The PoseCritic shipped with weakpose, trained on free CMU motion capture (no download; model card in
        README and in ``.meta``; rebuilt by ``tools/train_pretrained.py``)."""
        from weakpose.pretrained import pretrained_path

        return cls.load(pretrained_path("pose_discriminator"), map_location=map_location, trainable=trainable)

    @classmethod
    def load(cls, path, map_location="cpu", trainable: bool = False) -> "PoseCritic":
        """Read a file written by :meth:`save`; frozen (eval, no parameter gradients) unless ``trainable``."""
        return load_prior(cls, path, FILE_FORMAT, "a PoseCritic", map_location, trainable)


PoseDiscriminator = PoseCritic  # v0.1 name, kept for users' code
