"""The SMPL-parameter critic of HMR (the paper's discriminator), usable as a learned pose-and-shape prior:
``loss = task_loss + w * prior.loss(body_pose, betas)``.

Kanazawa et al., "End-to-end Recovery of Human Shape and Pose" (HMR), CVPR 2018, Sec. 3.3: the discriminator
(here: the critic) judges SMPL parameters, not images, so it can be trained on any set of plausible bodies (mocap
fitted to SMPL) and tell a regressor when its output is not a human pose or shape. It is factorised so that each
part sees little data and stays easy to train:

* the 23 body-joint rotation matrices (the global orientation is not judged), each flattened to 9 numbers, go
  through SHARED layers 9 -> 32 -> 32 (a 1x1 convolution over joints in the paper; a linear layer applied per joint
  here, the same thing);
* one head per joint (linear 32 -> 1, its own weights): 23 outputs that judge each joint's rotation alone (joint
  limits);
* one head on all joints' features concatenated (23·32 -> 1024 -> 1024 -> 1): the joint distribution of the pose;
* one head on the shape (betas 10 -> 10 -> 5 -> 1).

Output (B, 25) = [23 per-joint, 1 all-joints, 1 shape] logits, trained as a least-squares GAN (Mao et al., ICCV
2017): real -> 1, fake -> 0; the generator (the model being regularised) pushes its outputs towards 1. ReLU
activations as in HMR. Rotations follow :mod:`weakpose.geometry.rotations` (``y = R x``); axis-angle input is
accepted and converted (:func:`as_rotmats`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict

import numpy as np
import torch
from torch import nn

from weakpose.geometry.rotations import axis_angle_to_matrix
from weakpose.priors.prior_file import load_prior, save_prior

__all__ = [
    "SMPLCritic",
    "SMPLDiscriminator",
    "FILE_FORMAT",
    "NUM_BODY_JOINTS",
    "NUM_OUTPUTS",
    "as_rotmats",
    "lsgan_critic_loss",
    "lsgan_discriminator_loss",
    "lsgan_generator_loss",
]

#: The tag every file of this critic stores (v0.1 named the class SMPLDiscriminator). Unchanged so that files
#: written before and after the rename, the shipped ``smpl_prior.pt`` included, read alike.
FILE_FORMAT = "weakpose.SMPLDiscriminator/1"
NUM_BODY_JOINTS = 23
NUM_OUTPUTS = NUM_BODY_JOINTS + 2  # per-joint heads, the all-joints head, the shape head


def as_rotmats(body_pose: torch.Tensor) -> torch.Tensor:
    """Body-joint rotations as matrices ``(B, 23, 3, 3)`` from matrices ``(B, 23, 3, 3)``, flat matrices
    ``(B, 207)``, axis-angle ``(B, 23, 3)`` or flat axis-angle ``(B, 69)`` (radians, SMPL joints 1..23)."""
    if not isinstance(body_pose, torch.Tensor):
        body_pose = torch.as_tensor(np.asarray(body_pose))
    shape = tuple(body_pose.shape)
    j = NUM_BODY_JOINTS
    if body_pose.ndim == 4 and shape[1:] == (j, 3, 3):
        return body_pose
    if body_pose.ndim == 2 and shape[1] == 9 * j:
        return body_pose.reshape(-1, j, 3, 3)
    if body_pose.ndim == 3 and shape[1:] == (j, 3):
        return axis_angle_to_matrix(body_pose)
    if body_pose.ndim == 2 and shape[1] == 3 * j:
        return axis_angle_to_matrix(body_pose.reshape(-1, j, 3))
    hint = ""
    if (body_pose.ndim == 2 and shape[1] in (72, 216)) or (body_pose.ndim >= 3 and shape[1] == 24):
        hint = " (this looks like 24 joints: drop the global orientation, the first joint)"
    raise ValueError(
        f"SMPLCritic expects body_pose as rotation matrices (B, {j}, 3, 3) or axis-angle "
        f"(B, {3 * j}) / (B, {j}, 3), got {shape}{hint}"
    )


def lsgan_critic_loss(real_out: torch.Tensor, fake_out: torch.Tensor) -> torch.Tensor:
    """Least-squares GAN loss of the critic (Mao et al. 2017's discriminator loss, a=0, b=1):
    mean((D(real)-1)²) + mean(D(fake)²), means over samples and outputs."""
    return ((real_out - 1.0) ** 2).mean() + (fake_out**2).mean()


def lsgan_generator_loss(fake_out: torch.Tensor) -> torch.Tensor:
    """Least-squares GAN generator loss (c=1): mean((D(fake)-1)²) over samples and outputs."""
    return ((fake_out - 1.0) ** 2).mean()


class SMPLCritic(nn.Module):
    """HMR's factorised discriminator, here a critic, of SMPL body pose and shape; ``forward`` returns (B, 25)
    logits, [23 per-joint, all-joints, shape]; near 1 = like the training data, near 0 = like the generator's output.

    joint_width: width of the shared per-joint layers (32 in HMR); full_width: width of the all-joints head's two
    hidden layers (1024); num_betas: shape coefficients judged (10).
    """

    def __init__(self, num_betas: int = 10, joint_width: int = 32, full_width: int = 1024):
        super().__init__()
        self.num_betas = int(num_betas)
        self._hparams = dict(joint_width=int(joint_width), full_width=int(full_width))
        j = NUM_BODY_JOINTS
        self.joint_shared = nn.Sequential(
            nn.Linear(9, joint_width), nn.ReLU(), nn.Linear(joint_width, joint_width), nn.ReLU()
        )
        # 23 independent linear heads 32 -> 1, stored as one (23, 32) weight and (23,) bias.
        self.joint_head_weight = nn.Parameter(torch.empty(j, joint_width))
        self.joint_head_bias = nn.Parameter(torch.empty(j))
        bound = 1.0 / joint_width**0.5  # nn.Linear's default initialisation, per head
        nn.init.uniform_(self.joint_head_weight, -bound, bound)
        nn.init.uniform_(self.joint_head_bias, -bound, bound)
        self.full_head = nn.Sequential(
            nn.Linear(j * joint_width, full_width),
            nn.ReLU(),
            nn.Linear(full_width, full_width),
            nn.ReLU(),
            nn.Linear(full_width, 1),
        )
        self.shape_head = nn.Sequential(
            nn.Linear(self.num_betas, 10), nn.ReLU(), nn.Linear(10, 5), nn.ReLU(), nn.Linear(5, 1)
        )
        self.meta: Dict[str, Any] = {}  # provenance saved with the weights (training data, steps, scores)

    @property
    def config(self) -> Dict[str, Any]:
        """Constructor arguments (plain types), enough to rebuild the network."""
        return dict(num_betas=self.num_betas, **self._hparams)

    # -- network -----------------------------------------------------------------------------------------------
    def _inputs(self, body_pose, betas):
        param = self.joint_head_weight
        rot = as_rotmats(body_pose)
        if not isinstance(betas, torch.Tensor):
            betas = torch.as_tensor(np.asarray(betas))
        if betas.ndim != 2 or betas.shape[1] != self.num_betas or betas.shape[0] != rot.shape[0]:
            raise ValueError(
                f"SMPLCritic expects betas ({rot.shape[0]}, {self.num_betas}) for a body_pose "
                f"batch of {rot.shape[0]}, got {tuple(betas.shape)}"
            )
        if rot.shape[0] == 0:
            raise ValueError("SMPLCritic: empty batch")
        rot = rot.to(device=param.device, dtype=param.dtype)
        betas = betas.to(device=param.device, dtype=param.dtype)
        for name, value in (("body_pose", rot), ("betas", betas)):
            if not bool(torch.isfinite(value).all()):
                raise ValueError(
                    f"SMPLCritic: {int((~torch.isfinite(value)).sum())} NaN/inf values in "
                    f"{name} of shape {tuple(value.shape)}"
                )
        return rot, betas

    def forward(self, body_pose: torch.Tensor, betas: torch.Tensor) -> torch.Tensor:
        """(B, 25) logits for body_pose (B, 23, 3, 3) matrices (or axis-angle, see :func:`as_rotmats`) and betas
        (B, num_betas)."""
        rot, betas = self._inputs(body_pose, betas)
        h = self.joint_shared(rot.reshape(-1, NUM_BODY_JOINTS, 9))  # (B, 23, W): shared over joints
        per_joint = torch.einsum("bjw,jw->bj", h, self.joint_head_weight) + self.joint_head_bias
        full = self.full_head(h.flatten(1))
        shape = self.shape_head(betas)
        return torch.cat([per_joint, full, shape], dim=1)

    def score(self, body_pose, betas):
        """Per-sample realism (B,) = mean of the 25 outputs, without gradients; numpy or torch in, same type out.
        Higher = more like the training data (about 1 for it, about 0 for what the critic learnt to
        reject); compare with the scores of held-out real samples rather than with a fixed threshold."""
        was_np = not isinstance(body_pose, torch.Tensor)
        device = body_pose.device if not was_np else None
        with torch.no_grad():
            out = self(body_pose, betas).mean(dim=1)
        return out.cpu().numpy() if was_np else out.to(device)

    def loss(self, body_pose: torch.Tensor, betas: torch.Tensor) -> torch.Tensor:
        """Scalar LSGAN generator loss mean((D(x)-1)²) of these parameters, to ADD to another model's objective.

        Gradients flow to ``body_pose`` and ``betas``; lower means more realistic (0 when every output is 1).
        """
        if not isinstance(body_pose, torch.Tensor) or not isinstance(betas, torch.Tensor):
            raise TypeError(
                "SMPLCritic.loss needs torch tensors (to back-propagate), got "
                f"{type(body_pose).__name__} and {type(betas).__name__}"
            )
        return lsgan_generator_loss(self(body_pose, betas))

    # -- files -------------------------------------------------------------------------------------------------
    def save(self, path) -> Path:
        """Write config, meta and weights atomically to ``path`` (loadable with ``torch.load(weights_only=True)``)."""
        return save_prior(self, path, FILE_FORMAT)

    @classmethod
    def pretrained(cls, map_location="cpu", trainable: bool = False) -> "SMPLCritic":
        """The SMPLCritic shipped with weakpose, trained on free CMU motion capture (no download; model card in
        README and in ``.meta``; rebuilt by ``tools/train_pretrained.py``)."""
        from weakpose.pretrained import pretrained_path

        return cls.load(pretrained_path("smpl_prior"), map_location=map_location, trainable=trainable)

    @classmethod
    def load(cls, path, map_location="cpu", trainable: bool = False) -> "SMPLCritic":
        """Read a file written by :meth:`save`; frozen (eval, no parameter gradients) unless ``trainable``."""
        return load_prior(cls, path, FILE_FORMAT, "an SMPLCritic", map_location, trainable)


SMPLDiscriminator = SMPLCritic  # v0.1 name, kept for users' code
lsgan_discriminator_loss = lsgan_critic_loss  # v0.1 name, kept for users' code
