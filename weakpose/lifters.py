"""Saved lifters: one self-describing file per trained 2D->3D lifter, so `weakpose evaluate` and `weakpose lift`
can rebuild any of them without the script that trained it.

A lifter file is a weight file (:mod:`weakpose.weight_files`: a ``torch.save``'d dict of plain types and tensors,
loadable with ``weights_only=True``)::

    {"format": "weakpose-lifter", "version": 1, "kind": "mlp" | "temporal" | ..., "config": {...constructor...},
     "state_dict": {...}, "output_frame": "camera" | "canonical", "joints": "h36m17",
     "input": "normalised screen coordinates (VideoPose3D): u/w*2-1, v/w*2-h/w", "meta": {...},
     "trajectory": None | {"kind": "trajectory", "config": {...}, "state_dict": {...},
                           "output": "camera-frame root, metres (TrajectoryModel.to_root)"}}

(v0.1 files call ``config`` ``kwargs``; both load.) ``trajectory`` is the decoupled root model (Pavllo et al.
2019) where one was trained: with it the lifter's
root-relative output plus the predicted root is the pose in the camera frame (:func:`load_trajectory`).

``kind`` names a constructor in :data:`LIFTER_KINDS` ("module:Class"); models whose class has
``receptive_field()`` take windows of 2D frames, the others single frames.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Tuple

import torch
from torch import nn

from weakpose.weight_files import cpu_state, load_state, read_weights, write_weights

FORMAT = "weakpose-lifter"
VERSION = 1
LIFTER_KINDS: Dict[str, str] = {
    "mlp": "weakpose.models.mlp_lifter:MLPLifter",
    "temporal": "weakpose.models.temporal:TemporalLifter",
    "trajectory": "weakpose.models.temporal:TrajectoryModel",  # the decoupled root (camera-frame metres)
    "repnet": "weakpose.models.repnet:RepNetCameraLifter",  # RepNet rotated by its camera, prior's bone length
}


def register_lifter(kind: str, target: str) -> None:
    """Make ``kind`` buildable by :func:`load_lifter`; ``target`` is ``"package.module:Class"``."""
    LIFTER_KINDS[kind] = target


def _constructor(kind: str):
    if kind not in LIFTER_KINDS:
        raise KeyError(f"unknown lifter kind {kind!r}; known kinds: {sorted(LIFTER_KINDS)}")
    module, _, name = LIFTER_KINDS[kind].partition(":")
    return getattr(importlib.import_module(module), name)


def save_lifter(
    path,
    model: nn.Module,
    kind: str,
    kwargs: Mapping[str, Any],
    output_frame: str = "camera",
    meta: Optional[Mapping[str, Any]] = None,
    trajectory: Optional[nn.Module] = None,
    trajectory_kwargs: Optional[Mapping[str, Any]] = None,
) -> Path:
    """Write ``model`` (built as ``LIFTER_KINDS[kind](**kwargs)``) atomically to ``path``
    (:func:`weakpose.weight_files.write_weights`), with the decoupled root model ``trajectory`` (a
    :class:`~weakpose.models.temporal.TrajectoryModel` built from ``trajectory_kwargs``, default ``kwargs``) when one
    was trained."""
    if output_frame not in ("camera", "canonical"):
        raise ValueError(f"output_frame must be 'camera' or 'canonical'; got {output_frame!r}")
    if trajectory is not None and output_frame != "camera":
        raise ValueError("a trajectory (camera-frame root) only goes with a camera-frame lifter")
    _constructor(kind)  # fail early on an unknown kind
    root = None
    if trajectory is not None:
        root = {
            "kind": "trajectory",
            "config": dict(trajectory_kwargs or kwargs),
            "state_dict": cpu_state(trajectory),
            "output": "camera-frame root, metres (TrajectoryModel.to_root)",
        }
    return write_weights(
        path,
        FORMAT,
        model,
        kwargs,
        meta,
        version=VERSION,
        kind=kind,
        output_frame=output_frame,
        joints="h36m17",
        input="normalised screen coordinates (VideoPose3D): u/w*2-1, v/w*2-h/w",
        trajectory=root,
    )


def load_lifter(path, map_location="cpu") -> Tuple[nn.Module, Dict[str, Any]]:
    """Rebuild a saved lifter in eval mode; returns ``(model, info)`` where ``info`` is the file minus weights
    (``info["has_trajectory"]``: whether :func:`load_trajectory` finds a root model in it)."""
    payload = _read_payload(path, map_location)
    model = _build(payload, path, "lifter")
    info = {k: v for k, v in payload.items() if k not in ("state_dict", "trajectory")}
    info["has_trajectory"] = payload.get("trajectory") is not None
    return model, info


def _read_payload(path, map_location) -> Dict[str, Any]:
    payload = read_weights(path, FORMAT, "a weakpose lifter", map_location, required=("kind", "state_dict"))
    if "config" not in payload and "kwargs" in payload:  # files written by v0.1 name the arguments "kwargs"
        payload["config"] = payload.pop("kwargs")
    if "config" not in payload:
        raise ValueError(f"{path}: weakpose lifter file without 'config'")
    return payload


def _build(entry: Mapping[str, Any], path, what: str) -> nn.Module:
    config = entry.get("config", entry.get("kwargs"))
    if "kind" not in entry or config is None or "state_dict" not in entry:
        raise ValueError(f"{path}: {what} entry needs 'kind', 'config' and 'state_dict'")
    model = _constructor(entry["kind"])(**config)
    return load_state(model, entry["state_dict"], path, f"{what} ({entry['kind']})", config).eval()


def load_trajectory(path, map_location="cpu") -> Optional[nn.Module]:
    """The decoupled root model saved with a lifter (eval mode), or ``None`` when the lifter has none."""
    entry = _read_payload(path, map_location).get("trajectory")
    return None if entry is None else _build(entry, path, "trajectory")


def receptive_field(model: nn.Module) -> int:
    """Frames of 2D context the lifter needs per output frame (1 for single-frame lifters)."""
    rf = getattr(model, "receptive_field", None)
    return int(rf()) if callable(rf) else 1


def lift_batch(model: nn.Module, keypoints_2d: torch.Tensor) -> torch.Tensor:
    """``(B, 17, 2)`` frames or ``(B, rf, 17, 2)`` windows -> ``(B, 17, 3)`` root-relative 3D of each target frame."""
    if keypoints_2d.dim() == 4:
        out = model(keypoints_2d)
        if out.dim() == 4:  # temporal models return (B, T - rf + 1, J, 3): one frame per window here
            out = out[:, -1] if out.shape[1] == 1 else out[:, out.shape[1] // 2]
        return out
    return model(keypoints_2d)


__all__ = [
    "FORMAT",
    "LIFTER_KINDS",
    "register_lifter",
    "save_lifter",
    "load_lifter",
    "load_trajectory",
    "receptive_field",
    "lift_batch",
]
