"""Torch datasets over loaded Human3.6M-style sequences: one camera view per sample, one sample per item.

Each item pairs the 2D keypoints seen by ONE camera with the 3D pose in THAT camera's frame:

* ``keypoints_2d``: 2D in normalised screen coordinates, u' = u/w*2 - 1, v' = v/w*2 - h/w (VideoPose3D,
  Pavllo et al. 2019), H36M-17 order; ``(17, 2)`` for :class:`PoseFrameDataset`, ``(T, 17, 2)`` for
  :class:`PoseWindowDataset` with T = the receptive field.
* ``confidence``: per-joint 2D confidences (ones when the source has none), shaped like the 2D without the last axis.
* ``pose_3d``: (17, 3) camera-frame METRES, root-relative (joint 0 at the origin), of the target frame.
* ``root_3d``: (3,) camera-frame position of the root joint of the target frame (the trajectory), metres.
* ``K`` (3, 3) pixels, ``dist`` (5,) = [k1, k2, k3, p1, p2], ``image_size`` (2,) = (w, h), and ``intrinsics`` (9,)
  = [fx, fy, cx, cy] in normalised screen units (f*2/w, c mapped like a point) followed by [k1, k2, k3, p1, p2],
  the vector VideoPose3D's reprojection loss uses.
* ``subject``, ``action``, ``camera`` (str); ``subject_id``, ``action_id`` (int, indices into the dataset's
  ``subjects`` / ``actions`` lists; actions are base names, sub-actions merged); ``frame`` (target frame index).
* windows only: ``valid`` (T,) bool, False where the window ran past the sequence and the 2D is edge padding.

Windows follow VideoPose3D: a receptive field of ``2*pad + 1`` frames centred on the target frame (or ending at it
with ``causal=True``), frames outside the sequence replaced by the nearest edge frame.
"""
from __future__ import annotations

from typing import Dict, Iterable, List, Optional, Union

import numpy as np
import torch
from torch.utils.data import Dataset

from weakpose.data.h36m import H36MData, Sequence
from weakpose.data.h36m_readers import H36M_ACTIONS


def _numpy(x) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    return np.asarray(x)


def normalize_screen(uv: np.ndarray, w: float, h: float) -> np.ndarray:
    """Pixels -> normalised screen coordinates (same scale on both axes): u/w*2 - 1, v/w*2 - h/w."""
    return uv / w * 2.0 - np.array([1.0, h / w], dtype=uv.dtype)


def window_indices(center: int, num_frames: int, receptive_field: int, causal: bool = False):
    """Frame indices of the window for ``center`` with edge padding, and the mask of real (unpadded) frames.

    Non-causal: ``center - pad .. center + pad``; causal: ``center - 2*pad .. center``; ``pad = (rf - 1) // 2``.
    """
    pad = (receptive_field - 1) // 2
    start = center - (2 * pad if causal else pad)
    raw = np.arange(start, start + receptive_field)
    return np.clip(raw, 0, num_frames - 1), (raw >= 0) & (raw < num_frames)


class PoseWindowDataset(Dataset):
    """Samples of ``receptive_field`` consecutive 2D frames from one camera and the 3D of their target frame.

    data: :class:`H36MData` or sequences. cameras: camera ids to use (default: every camera of every sequence).
    frame_stride: every ``frame_stride``-th frame is a target (windows still use every frame for context).
    require_3d: skip sequences (views) without 3D or without a camera; with False they give NaN 3D /
        intrinsics and ``has_3d`` False (in-the-wild 2D).
    target: ``"center"`` (3D of the target frame) or ``"window"`` (3D of every window frame, edge padded).
    """

    _single_frame = False

    def __init__(self, data: Union[H36MData, Iterable[Sequence]], *, receptive_field: int = 27,
                 cameras: Optional[Iterable[str]] = None, frame_stride: int = 1, causal: bool = False,
                 require_3d: bool = True, target: str = "center", subjects: Optional[List[str]] = None,
                 actions: Optional[List[str]] = None, dtype: torch.dtype = torch.float32):
        if not (isinstance(receptive_field, (int, np.integer)) and receptive_field >= 1 and receptive_field % 2 == 1):
            raise ValueError(f"receptive_field must be a positive odd integer; got {receptive_field!r}")
        if frame_stride < 1:
            raise ValueError(f"frame_stride must be >= 1; got {frame_stride}")
        if target not in ("center", "window"):
            raise ValueError(f"target must be 'center' or 'window'; got {target!r}")
        self.receptive_field = int(receptive_field)
        self.causal = causal
        self.target = target
        self.dtype = dtype
        self.require_3d = require_3d
        sequences = list(data.sequences if isinstance(data, H36MData) else data)
        wanted = None if cameras is None else [str(c) for c in cameras]

        self.views: List[Dict] = []
        view_of, frames = [], []
        for seq in sequences:
            for cam_id in seq.camera_ids:
                if cam_id not in seq.positions_2d or (wanted is not None and cam_id not in wanted):
                    continue
                if require_3d and (seq.positions_3d is None or cam_id not in seq.cameras):
                    continue
                self.views.append(self._prepare_view(seq, cam_id))
                centers = np.arange(0, seq.num_frames, frame_stride)
                view_of.append(np.full(len(centers), len(self.views) - 1, dtype=np.int64))
                frames.append(centers)
        if wanted is not None:
            present = {v["camera"] for v in self.views}
            missing = [c for c in wanted if c not in present]
            if missing:
                raise KeyError(f"camera(s) {missing} not found in any usable sequence; cameras present: "
                               f"{sorted(present)}")
        self._view_of = np.concatenate(view_of) if view_of else np.zeros(0, np.int64)
        self._frame = np.concatenate(frames) if frames else np.zeros(0, np.int64)
        self.subjects = list(subjects) if subjects is not None else sorted({s.subject for s in sequences})
        present_actions = {s.action_base for s in sequences}
        self.actions = list(actions) if actions is not None else (
            [a for a in H36M_ACTIONS] + sorted(present_actions - set(H36M_ACTIONS)))

    @staticmethod
    def _prepare_view(seq: Sequence, cam_id: str) -> Dict:
        w, h = seq.image_size(cam_id)
        cam = seq.cameras.get(cam_id)
        view = {"sequence": seq, "camera": cam_id, "w": float(w), "h": float(h), "cam": cam}
        if cam is not None:
            K = _numpy(cam.K).astype(np.float64).reshape(3, 3)
            dist = _numpy(cam.dist).astype(np.float64).reshape(5)
            f = np.array([K[0, 0], K[1, 1]]) / w * 2.0
            c = normalize_screen(np.array([K[0, 2], K[1, 2]]), w, h)
            view.update(K=K, dist=dist, intrinsics=np.concatenate([f, c, dist]))
        else:
            view.update(K=np.full((3, 3), np.nan), dist=np.full(5, np.nan), intrinsics=np.full(9, np.nan))
        return view

    def __len__(self) -> int:
        return len(self._frame)

    def _camera_frame(self, view: Dict, frames: np.ndarray) -> np.ndarray:
        seq: Sequence = view["sequence"]
        if seq.positions_3d is None or view["cam"] is None:
            return np.full((len(frames), 17, 3), np.nan)
        return _numpy(view["cam"].world_to_camera(seq.positions_3d[frames].astype(np.float64)))

    def __getitem__(self, index: int) -> Dict:
        if not -len(self) <= index < len(self):
            raise IndexError(f"index {index} out of range for a dataset of {len(self)} samples")
        view = self.views[int(self._view_of[index])]
        seq: Sequence = view["sequence"]
        center = int(self._frame[index])
        idx, valid = window_indices(center, seq.num_frames, self.receptive_field, self.causal)

        kp = normalize_screen(seq.positions_2d[view["camera"]][idx].astype(np.float64), view["w"], view["h"])
        conf = (np.ones(kp.shape[:-1]) if seq.confidences is None or view["camera"] not in seq.confidences
                else seq.confidences[view["camera"]][idx])
        target_frames = idx if self.target == "window" else np.array([center])
        pose_cam = self._camera_frame(view, target_frames)
        root = pose_cam[:, :1, :]
        pose_rel = pose_cam - root
        if self.target == "center":
            pose_rel, root = pose_rel[0], root[0, 0]
        else:
            root = root[:, 0]

        t = lambda a: torch.as_tensor(np.asarray(a), dtype=self.dtype)  # noqa: E731
        sample = {
            "keypoints_2d": t(kp), "confidence": t(conf), "pose_3d": t(pose_rel), "root_3d": t(root),
            "K": t(view["K"]), "dist": t(view["dist"]), "image_size": t([view["w"], view["h"]]),
            "intrinsics": t(view["intrinsics"]),
            "has_3d": seq.positions_3d is not None and view["cam"] is not None,
            "subject": seq.subject, "action": seq.action, "camera": view["camera"],
            "subject_id": self.subjects.index(seq.subject) if seq.subject in self.subjects else -1,
            "action_id": self.actions.index(seq.action_base) if seq.action_base in self.actions else -1,
            "frame": center,
        }
        if not self._single_frame:
            sample["valid"] = torch.as_tensor(valid)
        return sample


class PoseFrameDataset(PoseWindowDataset):
    """Single frames: ``keypoints_2d`` (17, 2), ``confidence`` (17,), ``pose_3d`` (17, 3); see the module doc."""

    _single_frame = True

    def __init__(self, data: Union[H36MData, Iterable[Sequence]], **kwargs):
        if "receptive_field" in kwargs or "causal" in kwargs:
            raise TypeError("PoseFrameDataset has no receptive field; use PoseWindowDataset")
        super().__init__(data, receptive_field=1, **kwargs)

    def __getitem__(self, index: int) -> Dict:
        sample = super().__getitem__(index)
        sample["keypoints_2d"] = sample["keypoints_2d"][0]
        sample["confidence"] = sample["confidence"][0]
        if self.target == "window":
            sample["pose_3d"], sample["root_3d"] = sample["pose_3d"][0], sample["root_3d"][0]
        return sample


__all__ = ["PoseWindowDataset", "PoseFrameDataset", "normalize_screen", "window_indices"]
