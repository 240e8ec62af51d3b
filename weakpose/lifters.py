"""Saved lifters: one self-describing file per trained 2D->3D lifter, so `weakpose evaluate` and `weakpose lift`
can rebuild any of them without the script that trained it.

A lifter file is a ``torch.save``'d dict of plain types and tensors (loadable with ``weights_only=True``)::

    {"format": "weakpose-lifter", "version": 1, "kind": "mlp" | "temporal" | ..., "kwargs": {...constructor...},
     "state_dict": {...}, "output_frame": "camera" | "canonical", "joints": "h36m17",
     "input": "normalised screen coordinates (VideoPose3D): u/w*2-1, v/w*2-h/w", "meta": {...},
     "trajectory": None | {"kind": "trajectory", "kwargs": {...}, "state_dict": {...},
                           "output": "camera-frame root, metres (TrajectoryModel.to_root)"}}

``trajectory`` is the decoupled root model (Pavllo et al. 2019) where one was trained: with it the lifter's
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

from weakpose.io_utils import atomic_write_path

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


def save_lifter(path, model: nn.Module, kind: str, kwargs: Mapping[str, Any], output_frame: str = "camera",
                meta: Optional[Mapping[str, Any]] = None, trajectory: Optional[nn.Module] = None,
                trajectory_kwargs: Optional[Mapping[str, Any]] = None) -> Path:
    """Write ``model`` (built as ``LIFTER_KINDS[kind](**kwargs)``) atomically to ``path``, with the decoupled root
    model ``trajectory`` (a :class:`~weakpose.models.temporal.TrajectoryModel` built from ``trajectory_kwargs``,
    default ``kwargs``) when one was trained."""
    if output_frame not in ("camera", "canonical"):
        raise ValueError(f"output_frame must be 'camera' or 'canonical'; got {output_frame!r}")
    if trajectory is not None and output_frame != "camera":
        raise ValueError("a trajectory (camera-frame root) only goes with a camera-frame lifter")
    _constructor(kind)  # fail early on an unknown kind
    payload = {"format": FORMAT, "version": VERSION, "kind": kind, "kwargs": dict(kwargs),
               "state_dict": _cpu_state(model), "output_frame": output_frame, "joints": "h36m17",
               "input": "normalised screen coordinates (VideoPose3D): u/w*2-1, v/w*2-h/w",
               "meta": dict(meta or {}), "trajectory": None}
    if trajectory is not None:
        payload["trajectory"] = {"kind": "trajectory", "kwargs": dict(trajectory_kwargs or kwargs),
                                 "state_dict": _cpu_state(trajectory),
                                 "output": "camera-frame root, metres (TrajectoryModel.to_root)"}
    path = Path(path)
    with atomic_write_path(path) as tmp:
        torch.save(payload, tmp)
    return path


def load_lifter(path, map_location="cpu") -> Tuple[nn.Module, Dict[str, Any]]:
    """Rebuild a saved lifter in eval mode; returns ``(model, info)`` where ``info`` is the file minus weights
    (``info["has_trajectory"]``: whether :func:`load_trajectory` finds a root model in it)."""
    payload = _read_payload(path, map_location)
    model = _build(payload, path, "the lifter")
    info = {k: v for k, v in payload.items() if k not in ("state_dict", "trajectory")}
    info["has_trajectory"] = payload.get("trajectory") is not None
    return model, info


def _cpu_state(model: nn.Module) -> Dict[str, torch.Tensor]:
    return {k: v.detach().cpu() for k, v in model.state_dict().items()}


def _read_payload(path, map_location) -> Dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such lifter file")
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # torch raises several types for corrupt files
        raise ValueError(f"{path}: not a readable torch file ({type(e).__name__}: {e})") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ValueError(f"{path}: not a weakpose lifter file (format {payload.get('format')!r} if a dict); "
                         f"training checkpoints (last.pt) hold whole tasks — use the run's lifter.pt")
    return payload


def _build(entry: Mapping[str, Any], path, what: str) -> nn.Module:
    for key in ("kind", "kwargs", "state_dict"):
        if key not in entry:
            raise KeyError(f"{path}: {what} is missing key {key!r}")
    model = _constructor(entry["kind"])(**entry["kwargs"])
    try:
        model.load_state_dict(entry["state_dict"])
    except RuntimeError as e:
        raise ValueError(f"{path}: {what} weights do not fit {entry['kind']} with {entry['kwargs']}: {e}") from None
    return model.eval()


def load_trajectory(path, map_location="cpu") -> Optional[nn.Module]:
    """The decoupled root model saved with a lifter (eval mode), or ``None`` when the lifter has none."""
    entry = _read_payload(path, map_location).get("trajectory")
    return None if entry is None else _build(entry, path, "the trajectory entry")


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


__all__ = ["FORMAT", "LIFTER_KINDS", "register_lifter", "save_lifter", "load_lifter", "load_trajectory",
           "receptive_field",
           "lift_batch"]
