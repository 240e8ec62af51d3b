"""``BodyModel``: a batched, differentiable SMPL-format body layer (Loper et al. 2015, "SMPL").

Given shape coefficients β, local joint rotations θ (root first; SMPL-24 order pelvis, l_hip, r_hip, spine1, ...)
and a translation, it returns mesh vertices, the 24 posed SMPL joints and, when the model file carries an H36M
regressor, Human3.6M-17 joints regressed from the mesh (as SPIN does). Units: metres, SMPL frame (Y up, +Z facing).

The maths is :func:`weakpose.body.lbs.lbs`; this module precomputes what does not depend on the inputs:

* one blend basis ``[shapedirs; posedirs]`` of shape ``(K + P, 3V)`` so shape and pose offsets (and the template)
  are one ``addmm``; a model whose pose correctives are all zero skips that part;
* "joint shape dirs" ``J_regressor @ shapedirs`` and ``J_regressor @ v_template``, so rest joints cost
  ``(B, K) @ (K, 3J)`` instead of a regression over every vertex;
* the kinematic tree as levels (:class:`weakpose.body.lbs.KinematicChain`).

Joints are SMPL's convention (the transformed rest joints, as smplx returns them), not a regression of the posed
mesh; ``joints_h36m17`` is a regression of the final (posed, translated) mesh.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Optional, Tuple, Union

import numpy as np
import torch
from torch import nn

from weakpose.body.lbs import KinematicChain, pose_features, skin_coordinate_major
from weakpose.body.model_file import BodyModelData, load_body_model_file, validate_body_model, with_h36m_regressor
from weakpose.geometry.rotations import axis_angle_to_matrix, rot6d_to_matrix

__all__ = ["BodyModel", "BodyOutput", "DEFAULT_MODEL_PATH", "POSE_TYPES"]

DEFAULT_MODEL_PATH = Path(__file__).resolve().parent / "assets" / "open_body.npz"
POSE_TYPES = {"axis_angle": (3,), "rot6d": (6,), "matrix": (3, 3)}


@dataclass
class BodyOutput:
    """What :meth:`BodyModel.forward` returns (torch tensors, metres, model dtype/device).

    vertices ``(B, V, 3)``; joints ``(B, J, 3)`` posed SMPL joints (J = 24 for SMPL files); joints_h36m17
    ``(B, 17, 3)`` or ``None`` without an H36M regressor; rotations ``(B, J, 3, 3)`` the local (parent-relative)
    joint rotations used; transl ``(B, 3)``; global_rotations ``(B, J, 3, 3)`` each joint's world orientation.
    """

    vertices: torch.Tensor
    joints: torch.Tensor
    joints_h36m17: Optional[torch.Tensor]
    rotations: torch.Tensor
    transl: torch.Tensor
    global_rotations: Optional[torch.Tensor] = None


class BodyModel(nn.Module):
    """SMPL-format body model as an ``nn.Module`` with no trainable parameters (all arrays are buffers).

    Build with :meth:`from_file` (weakpose ``.npz`` or official SMPL ``.pkl``), :meth:`default` (the open model
    shipped with weakpose) or directly from a :class:`~weakpose.body.model_file.BodyModelData`. ``.to(device)`` and
    ``.to(dtype)`` move/cast every array. The buffers are non-persistent, so a network that holds a BodyModel does
    not write the body model into its checkpoints (the SMPL licence forbids redistributing it).
    """

    def __init__(self, data: BodyModelData, num_betas: Optional[int] = 10, dtype: torch.dtype = torch.float32):
        super().__init__()
        # Any tree size is accepted here (tiny models in tests); files are held to 24 joints when loaded.
        validate_body_model(data, num_joints=None)
        available = data.num_betas
        if num_betas is None:
            num_betas = available
        if not 1 <= num_betas <= available:
            raise ValueError(
                f"{data.source}: num_betas={num_betas} requested but the model has {available} "
                f"shape components (shapedirs {tuple(data.shapedirs.shape)})"
            )
        self.source = data.source
        self.meta: Dict[str, Any] = dict(data.meta)
        self._num_betas = int(num_betas)
        self._num_vertices = data.num_vertices
        self._chain = KinematicChain(data.parents)
        self._parents = tuple(int(p) for p in data.parents)
        num_joints, num_vertices = data.num_joints, data.num_vertices

        # Work coordinate-major: every (V, 3) array is kept as (3, V), so the blend GEMM yields (B, 3, V) rows that
        # skinning reads contiguously (see lbs.skin_coordinate_major).
        shapedirs = data.shapedirs[..., :num_betas]
        rows = [shapedirs.transpose(2, 1, 0).reshape(num_betas, 3 * num_vertices)]
        # Skip the biggest GEMM for models without pose correctives (posedirs all zero).
        self._has_pose_correctives = bool(np.any(data.posedirs != 0))
        if self._has_pose_correctives:
            rows.append(data.posedirs.transpose(2, 1, 0).reshape(-1, 3 * num_vertices))
        # Precompute in float64, then cast once.
        joint_template = data.J_regressor @ data.v_template
        joint_shapedirs = np.einsum("jv,vck->kjc", data.J_regressor, shapedirs).reshape(num_betas, num_joints * 3)

        def buffer(name: str, array: Optional[np.ndarray], dtype_: torch.dtype = dtype) -> None:
            # Not persistent: a network's checkpoint must not carry (or redistribute) the body model, which is
            # reloaded from its file; .to() still moves and casts these.
            value = None if array is None else torch.as_tensor(np.ascontiguousarray(array), dtype=dtype_)
            self.register_buffer(name, value, persistent=False)

        buffer("v_template", data.v_template)  # (V, 3)
        buffer("template_cm", data.v_template.T.reshape(1, -1))  # (1, 3V) coordinate-major
        buffer("blend_basis", np.concatenate(rows, axis=0))  # (K [+ P], 3V)
        buffer("joint_template", joint_template.reshape(1, -1))  # (1, 3J)
        buffer("joint_shapedirs", joint_shapedirs)  # (K, 3J)
        buffer("lbs_weights_t", data.weights.T)  # (J, V)
        buffer("J_regressor", data.J_regressor)  # (J, V)
        buffer("J_regressor_h36m_t", None if data.J_regressor_h36m is None else data.J_regressor_h36m.T)  # (V, 17)
        buffer("vertex_colors", data.vertex_colors)  # (V, 3) or None
        buffer("faces_tensor", data.f, torch.long)  # (F, 3)
        buffer("part_labels", data.part_labels, torch.long)  # (V,) or None

    # ----------------------------------------------------------------------------------------------------------
    # construction

    @classmethod
    def from_file(
        cls,
        path: Union[str, os.PathLike],
        num_betas: Optional[int] = 10,
        dtype: torch.dtype = torch.float32,
        h36m_regressor: Optional[Union[str, os.PathLike]] = None,
    ) -> "BodyModel":
        """Load a SMPL-format file (``.npz`` or official ``.pkl``); ``num_betas=None`` keeps every component.
        ``h36m_regressor``: a ``.npy`` (17, V) of Human3.6M-17 joints from vertices (SPIN's
        ``J_regressor_h36m.npy``) for a file without one (the official SMPL files have none)."""
        data = load_body_model_file(path)
        if h36m_regressor is not None:
            data = with_h36m_regressor(data, h36m_regressor)
        return cls(data, num_betas=num_betas, dtype=dtype)

    @classmethod
    def default(cls, num_betas: Optional[int] = 10, dtype: torch.dtype = torch.float32) -> "BodyModel":
        """The open body model shipped in the package (``weakpose/body/assets/open_body.npz``)."""
        if not DEFAULT_MODEL_PATH.is_file():
            raise FileNotFoundError(
                f"the open default body model is not installed at {DEFAULT_MODEL_PATH}; build it with "
                f"`python tools/build_open_body.py`, or load a SMPL file with BodyModel.from_file(path)"
            )
        return cls.from_file(DEFAULT_MODEL_PATH, num_betas=num_betas, dtype=dtype)

    # ----------------------------------------------------------------------------------------------------------
    # properties

    @property
    def faces(self) -> torch.Tensor:
        """``(F, 3)`` int64 triangle vertex indices."""
        return self.faces_tensor

    @property
    def num_vertices(self) -> int:
        return self._num_vertices

    @property
    def num_joints(self) -> int:
        return len(self._parents)

    @property
    def num_betas(self) -> int:
        return self._num_betas

    @property
    def parents(self) -> Tuple[int, ...]:
        """Parent of every joint, -1 for the root (SMPL-24: equals ``weakpose.skeleton.SMPL24.parents``)."""
        return self._parents

    @property
    def has_h36m_regressor(self) -> bool:
        return self.J_regressor_h36m_t is not None

    @property
    def lbs_weights(self) -> torch.Tensor:
        """``(V, J)`` skinning weights."""
        return self.lbs_weights_t.T

    @property
    def J_regressor_h36m(self) -> Optional[torch.Tensor]:
        """``(17, V)`` Human3.6M-17 regressor, or ``None``."""
        return None if self.J_regressor_h36m_t is None else self.J_regressor_h36m_t.T

    @property
    def dtype(self) -> torch.dtype:
        return self.v_template.dtype

    @property
    def device(self) -> torch.device:
        return self.v_template.device

    def extra_repr(self) -> str:
        return (
            f"source={self.source!r}, vertices={self.num_vertices}, joints={self.num_joints}, "
            f"num_betas={self.num_betas}, pose_correctives={self._has_pose_correctives}, "
            f"h36m_regressor={self.has_h36m_regressor}"
        )

    # ----------------------------------------------------------------------------------------------------------
    # forward

    def _input(self, value: Any, name: str) -> Optional[torch.Tensor]:
        if value is None:
            return None
        if not isinstance(value, torch.Tensor):
            value = torch.as_tensor(np.asarray(value))
        if not value.is_floating_point():
            raise TypeError(f"BodyModel: {name} must be floating point, got {value.dtype}")
        return value.to(device=self.device, dtype=self.dtype)

    def _rotations(
        self, value: Optional[torch.Tensor], name: str, count: int, pose_type: str, batch: int
    ) -> torch.Tensor:
        """Parse ``count`` rotations of ``pose_type`` (flat or per joint) into ``(B, count, 3, 3)``."""
        if value is None:
            eye = torch.eye(3, dtype=self.dtype, device=self.device)
            return eye.expand(batch, count, 3, 3)
        trailing = POSE_TYPES[pose_type]
        size = int(np.prod(trailing))
        shape = tuple(value.shape)
        if shape == (batch, count * size) and len(trailing) == 1:
            value = value.reshape((batch, count) + trailing)
        elif shape == (batch,) + trailing and count == 1:
            value = value.reshape((batch, 1) + trailing)
        elif shape != (batch, count) + trailing:
            flat = f"({batch}, {count * size}) or " if len(trailing) == 1 else ""
            single = f"({batch}, {', '.join(map(str, trailing))}) or " if count == 1 else ""
            raise ValueError(
                f"BodyModel: {name} has shape {shape}; for pose_type='{pose_type}' expected "
                f"{single}{flat}({batch}, {count}, {', '.join(map(str, trailing))})"
            )
        if pose_type == "axis_angle":
            return axis_angle_to_matrix(value)
        if pose_type == "rot6d":
            return rot6d_to_matrix(value)
        return value

    def forward(
        self, betas=None, global_orient=None, body_pose=None, transl=None, pose_type: str = "axis_angle"
    ) -> BodyOutput:
        """Pose and shape the body.

        Args:
            betas: ``(B, k)`` shape coefficients, ``k <= num_betas`` (missing ones are zero); ``None`` = mean shape.
            global_orient: root rotation: axis-angle ``(B, 3)``, 6D ``(B, 6)`` or matrix ``(B, 3, 3)``.
            body_pose: the other joints' local rotations: ``(B, 23, 3)`` / ``(B, 69)``, ``(B, 23, 6)`` /
                ``(B, 138)``, or ``(B, 23, 3, 3)`` (for SMPL; ``J - 1`` joints in general).
            transl: ``(B, 3)`` metres added to every output point.
            pose_type: ``'axis_angle'`` (radians), ``'rot6d'`` (Zhou et al. 2019, first two matrix columns) or
                ``'matrix'``.
            Missing inputs mean identity rotations / zero translation; the batch size comes from the inputs given
            (1 if none). NumPy inputs are accepted; everything is cast to the model's dtype and device.
        """
        if pose_type not in POSE_TYPES:
            raise ValueError(f"BodyModel: pose_type must be one of {sorted(POSE_TYPES)}, got {pose_type!r}")
        betas = self._input(betas, "betas")
        global_orient = self._input(global_orient, "global_orient")
        body_pose = self._input(body_pose, "body_pose")
        transl = self._input(transl, "transl")
        given = [
            (n, v)
            for n, v in (
                ("betas", betas),
                ("global_orient", global_orient),
                ("body_pose", body_pose),
                ("transl", transl),
            )
            if v is not None
        ]
        batch = given[0][1].shape[0] if given else 1
        if given and not bool(torch.stack([torch.isfinite(v).all() for _, v in given]).all()):
            bad = [
                f"{n} ({int((~torch.isfinite(v)).sum())} of {v.numel()})"
                for n, v in given
                if not bool(torch.isfinite(v).all())
            ]
            raise ValueError(f"BodyModel: NaN/inf values in {', '.join(bad)}; every vertex would be NaN")
        for name, value in given:
            if value.dim() == 0 or value.shape[0] != batch:
                raise ValueError(
                    f"BodyModel: batch sizes differ: {given[0][0]} has {batch} rows but {name} has "
                    f"shape {tuple(value.shape)}"
                )

        root = self._rotations(global_orient, "global_orient", 1, pose_type, batch)
        others = self._rotations(body_pose, "body_pose", self.num_joints - 1, pose_type, batch)
        rotations = torch.cat([root, others], dim=1)  # (B, J, 3, 3)

        if betas is None:
            betas = torch.zeros(batch, self._num_betas, dtype=self.dtype, device=self.device)
        elif betas.dim() != 2 or betas.shape[1] > self._num_betas:
            raise ValueError(
                f"BodyModel: betas has shape {tuple(betas.shape)}; expected ({batch}, k) with "
                f"k <= num_betas = {self._num_betas} (load with a larger num_betas to use more)"
            )
        elif betas.shape[1] < self._num_betas:
            betas = torch.nn.functional.pad(betas, (0, self._num_betas - betas.shape[1]))

        # Template + shape offsets (+ pose correctives) in one GEMM, coordinate-major (B, 3, V).
        coeffs = torch.cat([betas, pose_features(rotations)], dim=1) if self._has_pose_correctives else betas
        v_posed = torch.addmm(self.template_cm, coeffs, self.blend_basis).view(batch, 3, self._num_vertices)
        # Rest joints from "joint shape dirs" (J_regressor @ shapedirs): no regression over the vertices needed.
        rest_joints = torch.addmm(self.joint_template, betas, self.joint_shapedirs).view(batch, self.num_joints, 3)

        joints, global_rotations, skin_translations = self._chain(rotations, rest_joints)
        vertices_cm = skin_coordinate_major(v_posed, self.lbs_weights_t, global_rotations, skin_translations)
        if transl is not None:
            joints = joints + transl[:, None]
            vertices_cm = vertices_cm + transl[:, :, None]
        vertices = vertices_cm.transpose(1, 2).contiguous()

        joints_h36m17 = None
        if self.J_regressor_h36m_t is not None:
            joints_h36m17 = torch.matmul(vertices_cm, self.J_regressor_h36m_t).transpose(1, 2)
        if transl is None:
            transl = torch.zeros(batch, 3, dtype=self.dtype, device=self.device)
        return BodyOutput(
            vertices=vertices,
            joints=joints,
            joints_h36m17=joints_h36m17,
            rotations=rotations,
            transl=transl,
            global_rotations=global_rotations,
        )
