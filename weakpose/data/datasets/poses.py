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

Two ways to read the same samples:

* ``dataset[i]``: one sample, computed from the sequence (a camera transform and a window per call); the reference.
* ``dataset.get_batch(indices)``: a whole batch as one dict of tensors, gathered by index arithmetic from arrays
  prepared once per (sequence, camera) view (normalised and edge-padded 2D, camera-frame 3D and root, intrinsics).
  Equal to stacking ``dataset[i]`` (strings and ids as lists/tensors as the default collate gives them), tens of
  times faster. The Trainer and :func:`weakpose.train.batching.batched_loader` use it for any dataset that has a
  ``get_batch``.
"""

from __future__ import annotations

from typing import Dict, Iterable, List, Optional, Union

import numpy as np
import torch
from torch.utils.data import Dataset

from weakpose.arrays import to_numpy
from weakpose.data.h36m.loaders import H36MData, Sequence
from weakpose.data.h36m.readers import H36M_ACTIONS
from weakpose.geometry.camera import normalize_screen_coordinates, screen_intrinsics


def normalize_screen(uv: np.ndarray, w: float, h: float) -> np.ndarray:
    """Pixels -> normalised screen coordinates (:func:`weakpose.geometry.normalize_screen_coordinates`), NumPy in,
    NumPy of the same dtype out."""
    return np.asarray(normalize_screen_coordinates(uv, w, h), dtype=uv.dtype)


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
    chunk_frames: ``L > 1`` makes each sample a CHUNK of ``L`` consecutive target frames starting at ``frame``
        (chunks tile each sequence: frames 0, L, 2L, ...), with the ``receptive_field - 1`` frames of context
        they need: ``keypoints_2d`` has ``receptive_field + L - 1`` frames, ``pose_3d`` ``(L, 17, 3)``, ``root_3d``
        ``(L, 3)``, and ``target_valid`` ``(L,)`` is False for frames past the sequence's end (edge padding,
        to leave out of a loss). The dilated network lifts a chunk in one pass, sharing the work of overlapping
        windows (chunked training).
    """

    _single_frame = False

    def __init__(
        self,
        data: Union[H36MData, Iterable[Sequence]],
        *,
        receptive_field: int = 27,
        cameras: Optional[Iterable[str]] = None,
        frame_stride: int = 1,
        causal: bool = False,
        require_3d: bool = True,
        target: str = "center",
        subjects: Optional[List[str]] = None,
        actions: Optional[List[str]] = None,
        dtype: torch.dtype = torch.float32,
        chunk_frames: int = 1,
    ):
        if not (isinstance(receptive_field, (int, np.integer)) and receptive_field >= 1 and receptive_field % 2 == 1):
            raise ValueError(f"receptive_field must be a positive odd integer; got {receptive_field!r}")
        if frame_stride < 1:
            raise ValueError(f"frame_stride must be >= 1; got {frame_stride}")
        if target not in ("center", "window"):
            raise ValueError(f"target must be 'center' or 'window'; got {target!r}")
        if int(chunk_frames) < 1 or (int(chunk_frames) > 1 and (target != "center" or frame_stride != 1)):
            raise ValueError(
                f"chunk_frames must be >= 1, and chunks (> 1) take target='center' and frame_stride=1 "
                f"(they tile every frame); got chunk_frames={chunk_frames}, target={target!r}, "
                f"frame_stride={frame_stride}"
            )
        self.chunk_frames = int(chunk_frames)
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
                centers = np.arange(0, seq.num_frames, frame_stride * self.chunk_frames)
                view_of.append(np.full(len(centers), len(self.views) - 1, dtype=np.int64))
                frames.append(centers)
        if wanted is not None:
            present = {v["camera"] for v in self.views}
            missing = [c for c in wanted if c not in present]
            if missing:
                raise KeyError(
                    f"camera(s) {missing} not found in any usable sequence; cameras present: {sorted(present)}"
                )
        self._view_of = np.concatenate(view_of) if view_of else np.zeros(0, np.int64)
        self._frame = np.concatenate(frames) if frames else np.zeros(0, np.int64)
        self.subjects = list(subjects) if subjects is not None else sorted({s.subject for s in sequences})
        present_actions = {s.action_base for s in sequences}
        self.actions = (
            list(actions)
            if actions is not None
            else ([a for a in H36M_ACTIONS] + sorted(present_actions - set(H36M_ACTIONS)))
        )

    @staticmethod
    def _prepare_view(seq: Sequence, cam_id: str) -> Dict:
        w, h = seq.image_size(cam_id)
        cam = seq.cameras.get(cam_id)
        view = {"sequence": seq, "camera": cam_id, "w": float(w), "h": float(h), "cam": cam}
        if cam is not None:
            K = to_numpy(cam.K).astype(np.float64).reshape(3, 3)
            dist = to_numpy(cam.dist).astype(np.float64).reshape(5)
            view.update(K=K, dist=dist, intrinsics=np.asarray(screen_intrinsics(K, dist, w, h)))
        else:
            view.update(K=np.full((3, 3), np.nan), dist=np.full(5, np.nan), intrinsics=np.full(9, np.nan))
        return view

    def __len__(self) -> int:
        return len(self._frame)

    def _camera_frame(self, view: Dict, frames: np.ndarray) -> np.ndarray:
        seq: Sequence = view["sequence"]
        if seq.positions_3d is None or view["cam"] is None:
            return np.full((len(frames), 17, 3), np.nan)
        return to_numpy(view["cam"].world_to_camera(seq.positions_3d[frames].astype(np.float64)))

    def __getitem__(self, index: int) -> Dict:
        if not -len(self) <= index < len(self):
            raise IndexError(f"index {index} out of range for a dataset of {len(self)} samples")
        view = self.views[int(self._view_of[index])]
        seq: Sequence = view["sequence"]
        center = int(self._frame[index])
        n, chunk = seq.num_frames, self.chunk_frames
        if chunk == 1:
            idx, valid = window_indices(center, n, self.receptive_field, self.causal)
        else:  # the chunk's outputs center..center+L-1 and the context they need, edge padded
            before = self.receptive_field - 1 if self.causal else (self.receptive_field - 1) // 2
            raw = center - before + np.arange(self.receptive_field + chunk - 1)
            idx, valid = np.clip(raw, 0, n - 1), (raw >= 0) & (raw < n)

        kp = normalize_screen(seq.positions_2d[view["camera"]][idx].astype(np.float64), view["w"], view["h"])
        conf = (
            np.ones(kp.shape[:-1])
            if seq.confidences is None or view["camera"] not in seq.confidences
            else seq.confidences[view["camera"]][idx]
        )
        target_frames = idx if self.target == "window" else np.minimum(center + np.arange(chunk), n - 1)
        pose_cam = self._camera_frame(view, target_frames)
        root = pose_cam[:, :1, :]
        pose_rel = pose_cam - root
        if self.target == "center" and chunk == 1:
            pose_rel, root = pose_rel[0], root[0, 0]
        else:
            root = root[:, 0]

        t = lambda a: torch.as_tensor(np.asarray(a), dtype=self.dtype)  # noqa: E731
        sample = {
            "keypoints_2d": t(kp),
            "confidence": t(conf),
            "pose_3d": t(pose_rel),
            "root_3d": t(root),
            "K": t(view["K"]),
            "dist": t(view["dist"]),
            "image_size": t([view["w"], view["h"]]),
            "intrinsics": t(view["intrinsics"]),
            "has_3d": seq.positions_3d is not None and view["cam"] is not None,
            "subject": seq.subject,
            "action": seq.action,
            "camera": view["camera"],
            "subject_id": self.subjects.index(seq.subject) if seq.subject in self.subjects else -1,
            "action_id": self.actions.index(seq.action_base) if seq.action_base in self.actions else -1,
            "frame": center,
        }
        if not self._single_frame:
            sample["valid"] = torch.as_tensor(valid)
        if chunk > 1:
            sample["target_valid"] = torch.as_tensor(center + np.arange(chunk) < n)
        return sample

    # -- batches by index arithmetic ------------------------------------------------------------------------------
    def prepare(self) -> "PoseWindowDataset":
        """Build the arrays :meth:`get_batch` gathers from (once; later calls return at once).

        Per view: the normalised 2D and confidences edge-padded by the window's reach (``before`` frames repeated
        at the start, ``after`` at the end), so the window of target frame ``c`` starts at padded row ``c``; the
        camera-frame 3D (root-relative) and root of every frame (edge-padded too when ``target="window"``). All
        views are concatenated; ``_pad_start[v]`` / ``_pose_start[v]`` locate view ``v``.
        """
        if getattr(self, "_prepared", None) is not None:
            return self
        rf, chunk = self.receptive_field, self.chunk_frames
        before = (rf - 1) if self.causal else (rf - 1) // 2
        after = rf - 1 - before + chunk - 1  # a chunk's last outputs need context past its start
        kp, conf, valid, pose, root = [], [], [], [], []
        pad_start, pose_start = [], []
        rows_2d = rows_3d = 0
        for view in self.views:
            seq: Sequence = view["sequence"]
            n, cam_id = seq.num_frames, view["camera"]
            edge = np.clip(np.arange(-before, n + after), 0, n - 1)  # padded row -> sequence frame
            xy = normalize_screen(seq.positions_2d[cam_id].astype(np.float64), view["w"], view["h"])
            kp.append(xy[edge].astype(np.float32))
            c = (
                np.ones(xy.shape[:-1], np.float32)
                if seq.confidences is None or cam_id not in seq.confidences
                else np.asarray(seq.confidences[cam_id], np.float32)
            )
            conf.append(c[edge])
            valid.append((np.arange(-before, n + after) >= 0) & (np.arange(-before, n + after) < n))
            pad_start.append(rows_2d)
            rows_2d += n + before + after
            cam_frame = self._camera_frame(view, np.arange(n))
            frames_3d = edge if self.target == "window" else np.minimum(np.arange(n + chunk - 1), n - 1)
            pose.append((cam_frame - cam_frame[:, :1])[frames_3d].astype(np.float32))
            root.append(cam_frame[frames_3d, 0].astype(np.float32))
            pose_start.append(rows_3d)
            rows_3d += len(frames_3d)
        joints = self.views[0]["sequence"].positions_2d[self.views[0]["camera"]].shape[1] if self.views else 17

        def cat(parts, shape, dtype=np.float32):
            return np.concatenate(parts) if parts else np.zeros((0,) + shape, dtype)

        seq_of = [v["sequence"] for v in self.views]
        self._prepared = {
            "kp": cat(kp, (joints, 2)),
            "conf": cat(conf, (joints,)),
            "valid": cat(valid, (), bool),
            "pose": cat(pose, (17, 3)),
            "root": cat(root, (3,)),
            "pad_start": np.asarray(pad_start, np.int64),
            "pose_start": np.asarray(pose_start, np.int64),
            "num_frames": np.array([s.num_frames for s in seq_of], np.int64),
            "before": before,
            "K": np.stack([v["K"] for v in self.views]) if self.views else np.zeros((0, 3, 3)),
            "dist": np.stack([v["dist"] for v in self.views]) if self.views else np.zeros((0, 5)),
            "intrinsics": np.stack([v["intrinsics"] for v in self.views]) if self.views else np.zeros((0, 9)),
            "image_size": np.array([[v["w"], v["h"]] for v in self.views]).reshape(-1, 2),
            "has_3d": np.array(
                [s.positions_3d is not None and v["cam"] is not None for s, v in zip(seq_of, self.views)], bool
            ),
            "subject": np.array([s.subject for s in seq_of] or [""], object),
            "action": np.array([s.action for s in seq_of] or [""], object),
            "camera": np.array([v["camera"] for v in self.views] or [""], object),
            "subject_id": np.array(
                [self.subjects.index(s.subject) if s.subject in self.subjects else -1 for s in seq_of], np.int64
            ),
            "action_id": np.array(
                [self.actions.index(s.action_base) if s.action_base in self.actions else -1 for s in seq_of], np.int64
            ),
        }
        return self

    def view_arrays(self):
        """Per (sequence, camera) view, whole: ``(key, keypoints_2d (N, J, 2), pose_3d (N, 17, 3), root_3d (N, 3))``
        with ``key = (subject, action, camera)``, float32 arrays from the prepared data (normalised 2D without the
        edge padding; NaN 3D for views without it). What whole-sequence inference lifts and scores."""
        prep = self.prepare()._prepared
        if self.target == "window" or self.chunk_frames > 1:
            raise ValueError("view_arrays needs a dataset with target='center' and chunk_frames=1")
        for v, view in enumerate(self.views):
            n = view["sequence"].num_frames
            a = prep["pad_start"][v] + prep["before"]
            b = prep["pose_start"][v]
            key = (prep["subject"][v], prep["action"][v], prep["camera"][v])
            yield key, prep["kp"][a : a + n], prep["pose"][b : b + n], prep["root"][b : b + n]

    def get_batch(self, indices) -> Dict:
        """The samples ``indices`` as one batch: what collating ``[self[i] for i in indices]`` gives, gathered from
        the prepared arrays (:meth:`prepare`) without a Python loop over samples."""
        prep = self.prepare()._prepared
        idx = np.asarray(indices, dtype=np.int64).reshape(-1)
        if len(idx) and (idx.min() < -len(self) or idx.max() >= len(self)):
            raise IndexError(f"indices out of range for a dataset of {len(self)} samples")
        view, centre = self._view_of[idx], self._frame[idx]
        width = self.receptive_field + self.chunk_frames - 1
        rows = (prep["pad_start"][view] + centre)[:, None] + np.arange(width)  # (B, window) padded rows
        if self.target == "window":
            pose_rows = (prep["pose_start"][view] + centre)[:, None] + np.arange(self.receptive_field)
        elif self.chunk_frames > 1:
            pose_rows = (prep["pose_start"][view] + centre)[:, None] + np.arange(self.chunk_frames)
        else:
            pose_rows = prep["pose_start"][view] + centre
        t = lambda a: torch.as_tensor(a, dtype=self.dtype)  # noqa: E731
        batch = {
            "keypoints_2d": t(prep["kp"][rows]),
            "confidence": t(prep["conf"][rows]),
            "pose_3d": t(prep["pose"][pose_rows]),
            "root_3d": t(prep["root"][pose_rows]),
            "K": t(prep["K"][view]),
            "dist": t(prep["dist"][view]),
            "image_size": t(prep["image_size"][view]),
            "intrinsics": t(prep["intrinsics"][view]),
            "has_3d": torch.from_numpy(prep["has_3d"][view]),
            "subject": prep["subject"][view].tolist(),
            "action": prep["action"][view].tolist(),
            "camera": prep["camera"][view].tolist(),
            "subject_id": torch.from_numpy(prep["subject_id"][view]),
            "action_id": torch.from_numpy(prep["action_id"][view]),
            "frame": torch.from_numpy(centre.copy()),
        }
        if self._single_frame:
            batch["keypoints_2d"], batch["confidence"] = batch["keypoints_2d"][:, 0], batch["confidence"][:, 0]
            if self.target == "window":
                batch["pose_3d"], batch["root_3d"] = batch["pose_3d"][:, 0], batch["root_3d"][:, 0]
        else:
            batch["valid"] = torch.from_numpy(prep["valid"][rows])
        if self.chunk_frames > 1:
            frames = centre[:, None] + np.arange(self.chunk_frames)
            batch["target_valid"] = torch.from_numpy(frames < prep["num_frames"][view][:, None])
        return batch


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
