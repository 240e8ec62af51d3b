"""SMPL parameters from a feature vector by iterative error feedback, with 6D rotations.

Kanazawa et al., "End-to-end Recovery of Human Shape and Pose" (HMR, CVPR 2018) regress the body parameters in a
few steps: starting from mean parameters Θ₀, an MLP reads ``[features, Θ_t]`` and outputs a correction,
``Θ_{t+1} = Θ_t + ΔΘ``. SPIN (Kolotouros et al., ICCV 2019) keeps the loop and represents every joint rotation by
the continuous 6D representation of Zhou et al. ("On the Continuity of Rotation Representations in Neural Networks",
CVPR 2019): two 3-vectors, turned into a rotation matrix by Gram-Schmidt
(:func:`weakpose.geometry.rotations.rot6d_to_matrix`). Nothing is squashed (no tanh, no clamping): every rotation
is reachable, so a subject facing away from the camera (a 180° yaw of the root) is as easy to output as one facing
it. Here the state is ``[rot6d (J·6), betas (K), root_offset (3)]``; ``root_offset`` (metres) moves the body's
pelvis away from the point the caller places it at (for crops: the crop centre).

Mean parameters are buffers (:meth:`SMPLRegressor.set_mean_params`). The default is the zero body pose, zero
betas and the ROOT rotation :func:`upright_facing_camera` — the SMPL body (Y up, facing +Z) stood upright in a
camera frame (x right, y down, z forward) and turned to face the camera: ``diag(1, -1, -1)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch
from torch import nn

from weakpose.geometry.rotations import matrix_to_rot6d, rot6d_to_matrix

__all__ = ["SMPLRegressor", "SMPLRegression", "upright_facing_camera", "chordal_mean_rotation"]


def upright_facing_camera(dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Root rotation ``(3, 3)`` that makes an SMPL body (Y up, front +Z, its left at +X) upright and facing a
    camera whose frame is x right, y down, z forward.

    Derivation: upright means the body's up (+Y) maps to the camera's up (−y); facing the camera means its front
    (+Z) points back at the camera (−z). A rotation is fixed by two axes; the third follows from right-handedness:
    +X ↦ (−y) × (−z) = +x, i.e. the body's left is on the image's right, as for a person facing you. Hence
    ``R = [[1, 0, 0], [0, −1, 0], [0, 0, −1]]`` (a 180° turn about x). tests/test_smpl_regressor.py checks this
    against :meth:`weakpose.body.BodyModel.default` (head at −y, toes towards −z, left hip at +x).
    """
    body_axes = torch.eye(3, dtype=dtype)  # columns: body left (+X), up (+Y), front (+Z)
    camera_axes = torch.tensor([[1.0, 0.0, 0.0], [0.0, -1.0, 0.0], [0.0, 0.0, -1.0]], dtype=dtype).T  # x, -y, -z
    return camera_axes @ body_axes.T


def chordal_mean_rotation(rotations: torch.Tensor) -> torch.Tensor:
    """Mean of rotations ``(N, ..., 3, 3)`` over the first axis -> ``(..., 3, 3)``: the rotation closest (in the
    Frobenius norm) to their arithmetic mean, i.e. the chordal L2 mean (Hartley et al., "Rotation Averaging",
    IJCV 2013), from the SVD of the mean with the sign fixed so that det = +1.

    HMR starts its regression from the mean parameters of mocap data; this gives such a mean pose per joint.
    """
    if rotations.ndim < 3 or rotations.shape[-2:] != (3, 3) or rotations.shape[0] == 0:
        raise ValueError(f"chordal_mean_rotation: expected (N, ..., 3, 3) with N > 0, got {tuple(rotations.shape)}")
    u, _, vh = torch.linalg.svd(rotations.double().mean(0))
    fix = torch.ones(u.shape[:-1], dtype=u.dtype)
    fix[..., 2] = torch.det(u @ vh)
    return (u * fix[..., None, :] @ vh).to(rotations.dtype)


@dataclass
class SMPLRegression:
    """Regressor output for a batch B (final iteration).

    rot6d ``(B, J, 6)`` the raw 6D rotations (root first, SMPL-24 order); rotmat ``(B, J, 3, 3)`` their
    Gram-Schmidt rotation matrices; betas ``(B, K)``; root_offset ``(B, 3)`` metres, in the feature's frame.
    """

    rot6d: torch.Tensor
    rotmat: torch.Tensor
    betas: torch.Tensor
    root_offset: torch.Tensor

    @property
    def global_orient(self) -> torch.Tensor:
        """``(B, 3, 3)`` root rotation."""
        return self.rotmat[:, 0]

    @property
    def body_pose(self) -> torch.Tensor:
        """``(B, J-1, 3, 3)`` local rotations of the other joints."""
        return self.rotmat[:, 1:]


class SMPLRegressor(nn.Module):
    """HMR/SPIN iterative regressor: features ``(B, in_features)`` -> :class:`SMPLRegression`.

    Args:
        in_features: length of the input feature vector.
        num_joints: rotations regressed (24 for SMPL: root + 23).
        num_betas: shape coefficients.
        hidden: width of the two hidden layers (HMR/SPIN: 1024).
        iterations: refinement steps (HMR/SPIN: 3).
        dropout: after each hidden layer (HMR/SPIN: 0.5).

    The input is standardised with the buffers ``input_mean``/``input_std`` (0 and 1 until
    :meth:`set_input_stats` is called with training-set statistics), so features of any scale train alike and the
    statistics travel with the weights. The last layer starts with small weights (Xavier, gain 0.01, as SPIN) and
    zero bias, so an untrained regressor outputs (nearly) the mean parameters.
    """

    def __init__(
        self,
        in_features: int,
        num_joints: int = 24,
        num_betas: int = 10,
        hidden: int = 1024,
        iterations: int = 3,
        dropout: float = 0.5,
    ):
        super().__init__()
        if in_features < 1 or num_joints < 1 or num_betas < 0 or hidden < 1:
            raise ValueError(
                f"SMPLRegressor: in_features={in_features}, num_joints={num_joints}, "
                f"num_betas={num_betas}, hidden={hidden} must be positive"
            )
        if iterations < 1:
            raise ValueError(f"SMPLRegressor: iterations must be >= 1, got {iterations}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"SMPLRegressor: dropout must be in [0, 1), got {dropout}")
        self.in_features, self.num_joints, self.num_betas = int(in_features), int(num_joints), int(num_betas)
        self.hidden, self.iterations, self.dropout = int(hidden), int(iterations), float(dropout)
        self.state_size = self.num_joints * 6 + self.num_betas + 3
        self.fc1 = nn.Linear(self.in_features + self.state_size, self.hidden)
        self.drop1 = nn.Dropout(self.dropout)
        self.fc2 = nn.Linear(self.hidden, self.hidden)
        self.drop2 = nn.Dropout(self.dropout)
        self.decoder = nn.Linear(self.hidden, self.state_size)
        nn.init.xavier_uniform_(self.decoder.weight, gain=0.01)
        nn.init.zeros_(self.decoder.bias)
        self.register_buffer("input_mean", torch.zeros(self.in_features))
        self.register_buffer("input_std", torch.ones(self.in_features))
        self.register_buffer("mean_rot6d", torch.zeros(self.num_joints, 6))
        self.register_buffer("mean_betas", torch.zeros(self.num_betas))
        self.register_buffer("mean_root", torch.zeros(3))
        identity = matrix_to_rot6d(torch.eye(3)).expand(self.num_joints, 6).clone()
        identity[0] = matrix_to_rot6d(upright_facing_camera())
        self.set_mean_params(identity, torch.zeros(self.num_betas), torch.zeros(3))

    @property
    def config(self) -> dict:
        """Constructor arguments (plain types)."""
        return dict(
            in_features=self.in_features,
            num_joints=self.num_joints,
            num_betas=self.num_betas,
            hidden=self.hidden,
            iterations=self.iterations,
            dropout=self.dropout,
        )

    @torch.no_grad()
    def set_mean_params(
        self, rot6d: torch.Tensor, betas: Optional[torch.Tensor] = None, root: Optional[torch.Tensor] = None
    ) -> None:
        """Set the starting point Θ₀: ``rot6d`` ``(J, 6)`` (or ``(J, 3, 3)`` matrices), ``betas`` ``(K,)``,
        ``root`` ``(3,)`` metres (None keeps the current value)."""
        rot6d = torch.as_tensor(rot6d, dtype=self.mean_rot6d.dtype)
        if rot6d.shape == (self.num_joints, 3, 3):
            rot6d = matrix_to_rot6d(rot6d)
        if rot6d.shape != (self.num_joints, 6):
            raise ValueError(
                f"set_mean_params: rot6d must be ({self.num_joints}, 6) or ({self.num_joints}, 3, 3), "
                f"got {tuple(rot6d.shape)}"
            )
        self.mean_rot6d.copy_(rot6d)
        if betas is not None:
            betas = torch.as_tensor(betas, dtype=self.mean_betas.dtype)
            if betas.shape != (self.num_betas,):
                raise ValueError(f"set_mean_params: betas must be ({self.num_betas},), got {tuple(betas.shape)}")
            self.mean_betas.copy_(betas)
        if root is not None:
            root = torch.as_tensor(root, dtype=self.mean_root.dtype)
            if root.shape != (3,):
                raise ValueError(f"set_mean_params: root must be (3,), got {tuple(root.shape)}")
            self.mean_root.copy_(root)

    @torch.no_grad()
    def set_input_stats(self, mean: torch.Tensor, std: torch.Tensor, min_std: float = 1e-6) -> None:
        """Standardise inputs as ``(x - mean) / std`` (per feature; ``std`` floored at ``min_std``)."""
        mean, std = torch.as_tensor(mean), torch.as_tensor(std)
        for name, value in (("mean", mean), ("std", std)):
            if value.shape != (self.in_features,):
                raise ValueError(f"set_input_stats: {name} must be ({self.in_features},), got {tuple(value.shape)}")
        self.input_mean.copy_(mean)
        self.input_std.copy_(std.clamp_min(min_std))

    def mean_state(self, batch: int) -> torch.Tensor:
        """Θ₀ as a ``(batch, state_size)`` tensor."""
        state = torch.cat([self.mean_rot6d.reshape(-1), self.mean_betas, self.mean_root])
        return state.unsqueeze(0).expand(batch, -1)

    def forward(self, features: torch.Tensor, iterations: Optional[int] = None) -> SMPLRegression:
        if features.ndim != 2 or features.shape[1] != self.in_features:
            raise ValueError(f"SMPLRegressor expects features (B, {self.in_features}), got {tuple(features.shape)}")
        x = (features - self.input_mean) / self.input_std
        state = self.mean_state(features.shape[0])
        for _ in range(self.iterations if iterations is None else int(iterations)):
            h = self.drop1(torch.relu(self.fc1(torch.cat([x, state], dim=1))))
            h = self.drop2(torch.relu(self.fc2(h)))
            state = state + self.decoder(h)
        j6 = self.num_joints * 6
        rot6d = state[:, :j6].reshape(-1, self.num_joints, 6)
        betas = state[:, j6 : j6 + self.num_betas]
        root = state[:, j6 + self.num_betas :]
        return SMPLRegression(rot6d=rot6d, rotmat=rot6d_to_matrix(rot6d), betas=betas, root_offset=root)

    FILE_FORMAT = "weakpose.SMPLRegressor/1"

    def save(self, path, meta=None):
        """Write a weight file (:mod:`weakpose.weight_files`): ``config``, ``meta`` and weights, atomically."""
        from weakpose.weight_files import write_weights

        return write_weights(path, self.FILE_FORMAT, self, self.config, meta)

    @classmethod
    def load(cls, path, map_location="cpu") -> "SMPLRegressor":
        """Rebuild a saved regressor in eval mode (``meta`` on the module)."""
        from weakpose.weight_files import load_state, read_weights

        state = read_weights(
            path,
            cls.FILE_FORMAT,
            "an SMPL regressor",
            map_location,
            hint="train one with `python sample/train_SMPL_from_enc.py`",
        )
        model = cls(**state["config"])
        load_state(model, state["state_dict"], path, "SMPL regressor", state["config"])
        model.meta = dict(state.get("meta", {}))
        return model.eval()
