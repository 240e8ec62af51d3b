"""Virtual recordings of CMU tracks: what the shipped models train and are measured on.

A :class:`Recording` is one track seen by one camera: 2D pixels, the camera-frame 3D and the image size. Training
recordings (:func:`training_recordings`) are augmented (:mod:`weakpose.data.motion.augment`: Human3.6M-like proportions,
mirroring, heading, virtual cameras of both kinds); held-out recordings (:func:`held_out_recordings`) give each
held-out track Human3.6M-like proportions and films it with the four real Human3.6M cameras of S9 — the protocol
of every model card.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Sequence, Tuple

import numpy as np

from weakpose.data.h36m.cameras import load_h36m_cameras_json
from weakpose.data.motion.augment import augment_track, h36m_like_bone_lengths, sample_camera
from weakpose.geometry import Camera, normalize_screen_coordinates

__all__ = ["Recording", "record", "training_recordings", "held_out_recordings", "normalized_2d"]


@dataclass
class Recording:
    """label: "<track>@<camera>"; uv (N, 17, 2) pixels; camera_3d (N, 17, 3) metres, camera frame (y down);
    image_size (w, h)."""

    label: str
    uv: np.ndarray
    camera_3d: np.ndarray
    image_size: Tuple[int, int]

    @property
    def root_relative_3d(self) -> np.ndarray:
        return self.camera_3d - self.camera_3d[:, :1]


def record(label: str, world: np.ndarray, camera: Camera) -> Recording:
    """Film a world track (N, 17, 3) with ``camera``."""
    cam3d = np.asarray(camera.world_to_camera(world))
    uv = np.asarray(camera.project_camera(cam3d))
    w, h = (int(round(float(v))) for v in camera.image_size)
    return Recording(label, uv, cam3d, (w, h))


def normalized_2d(rec: Recording) -> np.ndarray:
    """The lifter's input: VideoPose3D screen coordinates ``u/w·2 - 1, v/w·2 - h/w`` (N, 17, 2)."""
    return np.asarray(normalize_screen_coordinates(rec.uv, *rec.image_size))


def training_recordings(
    tracks: Sequence[Tuple[str, np.ndarray]],
    copies: int,
    seed: int = 0,
    h36m_fraction: float = 0.5,
    min_depth: float = 1.0,
) -> List[Recording]:
    """``copies`` augmented recordings of every track (fresh proportions, mirror, heading, camera each); a share
    ``h36m_fraction`` of the cameras is Human3.6M-like, the rest random. The camera stands at least as far as the
    track strays from its centre plus ``min_depth``, so the person never walks behind it."""
    rng = np.random.default_rng(seed)
    out = []
    for label, track in tracks:
        for k in range(copies):
            world = augment_track(track, rng)
            reach = float(np.linalg.norm(world[:, :, :2], axis=-1).max())
            kind = "h36m" if rng.random() < h36m_fraction else "random"
            cam = sample_camera(rng, kind, min_distance=reach + min_depth)
            out.append(record(f"{label}#{k}@{kind}", world, cam))
    return out


def held_out_recordings(tracks: Sequence[Tuple[str, np.ndarray]], seed: int = 0) -> List[Recording]:
    """Each held-out track with seeded Human3.6M-like proportions (no mirroring, no turning: the motion as it was
    captured), centred on the capture space, through the four real Human3.6M cameras of S9."""
    rng = np.random.default_rng(seed)
    cams = load_h36m_cameras_json(subjects=["S9"])["S9"]
    out = []
    for label, track in tracks:
        world = augment_track(track, rng, lengths=h36m_like_bone_lengths(rng), mirror_probability=0.0, heading=False)
        for cam_id, cam in sorted(cams.items()):
            out.append(record(f"{label}@{cam_id}", world, cam))
    return out
