"""A Wasserstein critic of short 3D pose *sequences*: it sees motion, so it can punish jitter and bone-length drift.

A per-frame critic (:class:`weakpose.priors.PoseCritic`, RepNet's KCS critic) judges every frame on its
own: a window of plausible poses in a random temporal order, or with independent per-frame noise, scores exactly
as well as the real sequence. Video lifters need a prior over motion too. VIBE (Kocabas, Athanasiou & Black,
CVPR 2020) adds a *motion discriminator* that reads a whole sequence of body poses; here the same idea is built
from RepNet's (Wandt & Rosenhahn, CVPR 2019) per-frame features, read by 1-D temporal convolutions:

* per frame ``t`` of a window ``(B, T, J, 3)`` (root-relative METRES; joint 0 is subtracted inside):
  the joint coordinates ``x_t`` (3J), the upper triangle of the KCS matrix Ψ_t = B_tᵀB_t (diagonal included,
  :func:`weakpose.priors.kcs_matrix`), the joint velocities ``x_t − x_{t−1}`` (3J) and the bone-length changes
  ``‖b_t‖ − ‖b_{t−1}‖`` (one per bone), the last two zero at ``t = 0`` and multiplied by ``velocity_scale`` so
  the centimetre-per-frame motion of 50 Hz capture enters at the size of the coordinates;
* a 1×1 convolution to ``channels``, residual blocks of [kernel-3 convolution with dilation d (zero padded, same
  length) → leaky ReLU → 1×1 convolution] + skip → leaky ReLU, for d in ``dilations`` (1, 2: 7 frames seen by
  each position of the last block), a mean over time and two fully connected layers to ONE value per window
  (a Wasserstein critic: no sigmoid, higher = more like the training motion).

No normalisation layers: a WGAN-GP critic's gradient penalty is per sample (Gulrajani et al. 2017), which batch
norm would break. Train it with :mod:`weakpose.priors.wgan` exactly like the per-frame critic;
:func:`weakpose.priors.gradient_penalty` takes windows (its gradient norm is over a whole window).

Windows must have ``window`` frames (the length the critic was trained on; ``window=None`` accepts any ``T >= 2``)
sampled at the training data's frame rate (50 Hz for Human3.6M and the shipped CMU motion): velocities at another
rate mean something else.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, Iterable, Optional, Sequence, Tuple

import numpy as np
import torch
from torch import nn

from weakpose.priors.kcs import H36M17_BONES, kcs_matrix
from weakpose.priors.prior_file import load_prior, save_prior, score_without_grad
from weakpose.priors.wgan import generator_loss

__all__ = ["TemporalPoseCritic", "TEMPORAL_FILE_FORMAT", "pose_windows"]

TEMPORAL_FILE_FORMAT = "weakpose.TemporalPoseCritic/1"


def pose_windows(sequences: Iterable, window: int, stride: int = 1, root_relative: bool = True) -> torch.Tensor:
    """Every ``window``-frame run of consecutive poses (start every ``stride`` frames) of each sequence ``(N, J, 3)``
    -> ``(M, window, J, 3)`` float32; sequences shorter than ``window`` give none. ``root_relative`` subtracts
    joint 0 per frame (the frame the lifter predicts in). No padding: every window is real motion."""
    if int(window) < 1 or int(stride) < 1:
        raise ValueError(f"pose_windows: window and stride must be >= 1; got window={window}, stride={stride}")
    out = []
    for i, seq in enumerate(sequences):
        x = torch.as_tensor(np.asarray(seq), dtype=torch.float32)
        if x.ndim != 3 or x.shape[-1] != 3:
            raise ValueError(f"pose_windows: sequence {i} must have shape (N, J, 3); got {tuple(x.shape)}")
        if root_relative:
            x = x - x[:, :1]
        if len(x) >= window:
            out.append(x.unfold(0, int(window), int(stride)).permute(0, 3, 1, 2))  # (M, window, J, 3)
    if not out:
        raise ValueError(f"pose_windows: no sequence has {window} frames")
    return torch.cat(out)


class _TemporalBlock(nn.Module):
    """h + conv1x1(act(conv_k(h))), then leaky ReLU; the kernel-``k`` convolution is dilated and zero padded."""

    def __init__(self, channels: int, kernel: int, dilation: int, slope: float):
        super().__init__()
        pad = (kernel - 1) // 2 * dilation
        self.conv = nn.Conv1d(channels, channels, kernel, dilation=dilation, padding=pad)
        self.pointwise = nn.Conv1d(channels, channels, 1)
        self.act = nn.LeakyReLU(slope)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.act(h + self.pointwise(self.act(self.conv(h))))


class TemporalPoseCritic(nn.Module):
    """Wasserstein critic of pose windows ``(B, T, J, 3)`` metres -> ``(B,)``; see the module docstring.

    window: frames per window (checked on every input; None: any T >= 2). bones: (child, parent) pairs, default
    :data:`weakpose.priors.kcs.H36M17_BONES` (needs 17 joints). channels, kernel, dilations: the temporal
    convolutions (odd kernel). velocity_scale: factor on the velocity channels. max_bone_m: inputs whose median
    bone is longer than this are refused as probable millimetres (``inf`` while a lifter is still untrained).
    """

    def __init__(
        self,
        window: Optional[int] = 9,
        num_joints: int = 17,
        bones: Optional[Sequence[Tuple[int, int]]] = None,
        channels: int = 256,
        kernel: int = 3,
        dilations: Sequence[int] = (1, 2),
        slope: float = 0.2,
        velocity_scale: float = 10.0,
        max_bone_m: float = 2.0,
    ):
        super().__init__()
        if bones is None:
            if num_joints != 17:
                raise ValueError(
                    f"TemporalPoseCritic: give the (child, parent) bones of a {num_joints}-joint "
                    "skeleton; the default bones are those of H36M-17"
                )
            bones = H36M17_BONES
        if window is not None and int(window) < 2:
            raise ValueError(f"TemporalPoseCritic: window must be >= 2 frames (velocities need two); got {window}")
        if int(kernel) < 1 or int(kernel) % 2 == 0:
            raise ValueError(f"TemporalPoseCritic: kernel must be odd; got {kernel}")
        if not dilations or any(int(d) < 1 for d in dilations):
            raise ValueError(f"TemporalPoseCritic: dilations must be positive integers; got {tuple(dilations)}")
        self.window = None if window is None else int(window)
        self.num_joints = int(num_joints)
        self.bones = tuple((int(c), int(p)) for c, p in bones)
        kcs_matrix(torch.zeros(1, self.num_joints, 3), self.bones)  # validates the bone indices now
        self.max_bone_m = float(max_bone_m)
        self.velocity_scale = float(velocity_scale)
        self._hparams = dict(
            channels=int(channels), kernel=int(kernel), dilations=[int(d) for d in dilations], slope=float(slope)
        )
        nb = len(self.bones)
        iu = torch.triu_indices(nb, nb)
        self.register_buffer("_triu", iu[0] * nb + iu[1], persistent=False)
        self.register_buffer("_diag", torch.arange(nb) * (nb + 1), persistent=False)
        self.in_features = 3 * self.num_joints + iu.shape[1] + 3 * self.num_joints + nb

        self.embed = nn.Sequential(nn.Conv1d(self.in_features, channels, 1), nn.LeakyReLU(slope))
        self.blocks = nn.Sequential(*[_TemporalBlock(channels, int(kernel), int(d), slope) for d in dilations])
        self.head = nn.Sequential(nn.Linear(channels, channels), nn.LeakyReLU(slope), nn.Linear(channels, 1))
        self.meta: Dict[str, Any] = {}  # provenance saved with the weights (training data, frame rate, steps)

    @property
    def config(self) -> Dict[str, Any]:
        """Constructor arguments (plain types), enough to rebuild the network."""
        return dict(
            window=self.window,
            num_joints=self.num_joints,
            bones=[list(b) for b in self.bones],
            velocity_scale=self.velocity_scale,
            max_bone_m=self.max_bone_m,
            **self._hparams,
        )

    # -- checks ------------------------------------------------------------------------------------------------
    def check_windows(self, windows: torch.Tensor) -> None:
        """Raise ValueError unless ``windows`` is a finite, non-empty (B, T, J, 3) batch in metres."""
        shape = tuple(windows.shape)
        t = "T" if self.window is None else str(self.window)
        if (
            windows.ndim != 4
            or shape[-2:] != (self.num_joints, 3)
            or (self.window is not None and shape[1] != self.window)
            or shape[1] < 2
        ):
            raise ValueError(
                f"TemporalPoseCritic expects pose windows of shape (B, {t}, {self.num_joints}, 3) in "
                f"metres (consecutive frames), got {shape}"
            )
        if shape[0] == 0:
            raise ValueError(f"TemporalPoseCritic: empty batch {shape}")
        if not bool(torch.isfinite(windows).all()):
            bad = int((~torch.isfinite(windows)).sum())
            raise ValueError(f"TemporalPoseCritic: {bad} NaN/inf values in windows of shape {shape}")
        if self.max_bone_m != float("inf"):
            psi = kcs_matrix(windows.detach(), self.bones)
            typical = float(psi.diagonal(dim1=-2, dim2=-1).clamp_min(0).sqrt().median(dim=-1).values.max())
            if typical > self.max_bone_m:
                raise ValueError(
                    f"TemporalPoseCritic: windows of shape {shape} have a typical bone of "
                    f"{typical:.3g}; that is over {self.max_bone_m} m — are they in millimetres?"
                )

    # -- network -----------------------------------------------------------------------------------------------
    def features(self, windows: torch.Tensor) -> torch.Tensor:
        """Per-frame input channels ``(B, T, C)``, in this order: root-relative joints (3J, x y z per joint),
        KCS upper triangle (row-major, diagonal included), joint velocities × velocity_scale (3J) and bone-length
        changes × velocity_scale (one per bone); the two velocity groups are zero at frame 0."""
        self.check_windows(windows)
        x = windows - windows[:, :, :1]
        b, t = x.shape[:2]
        psi = kcs_matrix(x, self.bones).flatten(2)  # (B, T, nb*nb)
        # 1e-12 m² inside the root keeps the double backward of the gradient penalty finite for a zero bone
        lengths = (psi.index_select(2, self._diag).clamp_min(0) + 1e-12).sqrt()
        zero = x.new_zeros(b, 1, self.num_joints * 3)
        vel = torch.cat([zero, (x[:, 1:] - x[:, :-1]).flatten(2)], dim=1)
        dlen = torch.cat([lengths.new_zeros(b, 1, lengths.shape[2]), lengths[:, 1:] - lengths[:, :-1]], dim=1)
        return torch.cat(
            [x.flatten(2), psi.index_select(2, self._triu), self.velocity_scale * vel, self.velocity_scale * dlen],
            dim=2,
        )

    def forward(self, windows: torch.Tensor) -> torch.Tensor:
        """Critic values ``(B,)`` for windows ``(B, T, J, 3)`` metres; higher = more like the training motion."""
        h = self.blocks(self.embed(self.features(windows).transpose(1, 2)))  # (B, C, T)
        return self.head(h.mean(dim=2))[:, 0]

    def score(self, windows):
        """Per-window realism ``(B,)`` without gradients; numpy or torch in, same type out. The scale is the
        critic's own: compare scores with those of held-out real windows, not with a threshold."""
        return score_without_grad(self, windows)

    def loss(self, windows: torch.Tensor) -> torch.Tensor:
        """Scalar −mean critic value of ``windows`` (B, T, J, 3), to ADD to another model's objective (gradients
        flow to ``windows``; lower = more realistic motion). Equal to :func:`weakpose.priors.generator_loss`."""
        if not isinstance(windows, torch.Tensor):
            raise TypeError(
                f"TemporalPoseCritic.loss needs a torch tensor (to back-propagate), got {type(windows).__name__}"
            )
        return generator_loss(self, windows)

    # -- files -------------------------------------------------------------------------------------------------
    def save(self, path) -> Path:
        """Write config, meta and weights atomically to ``path`` (loadable with ``torch.load(weights_only=True)``)."""
        return save_prior(self, path, TEMPORAL_FILE_FORMAT)

    @classmethod
    def load(cls, path, map_location="cpu", trainable: bool = False) -> "TemporalPoseCritic":
        """Read a file written by :meth:`save`; frozen (eval, no parameter gradients) unless ``trainable``."""
        return load_prior(cls, path, TEMPORAL_FILE_FORMAT, "a TemporalPoseCritic", map_location, trainable)
