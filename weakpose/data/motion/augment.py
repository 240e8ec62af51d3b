"""Augmentation that carries motion capture over to what a 2D detector sees on real video.

Used to train the shipped models (:mod:`weakpose.pretrained`) on CMU motion, which comes as one skeleton template
with a short trunk, a few actors and no cameras. Each function does one thing, on NumPy arrays, H36M-17 joints in
metres, world frame Z up:

* :func:`h36m_like_bone_lengths` + :func:`weakpose.data.synthetic.keypoints.rescale_bones` — give every recording
  Human3.6M-like proportions (Human3.6M subject S1's bone lengths, an overall size factor and per-bone jitter);
* :func:`augment_track` — mirror, re-proportion, turn to a random heading, centre on the origin, feet on the floor;
* :func:`sample_camera` — a virtual camera looking at the person: ``"h36m"`` (Human3.6M-like placement and
  intrinsics: 1000x1002 px, f ≈ 1145 px, 4–6.5 m away at 0.9–1.9 m height) or ``"random"`` (common video sizes
  and fields of view, 2.5–9 m, 0.2–3 m height, some roll);
* :func:`detector_noise` — what a real 2D detector adds: Gaussian jitter, occasional gross mislocalisations and
  dropped joints written at pixel (0, 0), as OpenPose-style detectors write a joint they did not find.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional, Tuple

import numpy as np

from weakpose.data.motion.bones import h36m_like_bone_lengths, rescale_bones  # noqa: F401 (public here too)
from weakpose.geometry import Camera
from weakpose.skeleton import H36M17, flip_joints

__all__ = [
    "h36m_like_bone_lengths",
    "augment_track",
    "look_at_world_to_camera",
    "sample_camera",
    "NoiseConfig",
    "detector_noise",
    "VIDEO_SIZES",
]

#: (width, height) of the image sizes a "random" virtual camera draws from (landscape, portrait and square video).
VIDEO_SIZES: Tuple[Tuple[int, int], ...] = (
    (1920, 1080),
    (1280, 720),
    (1080, 1920),
    (1000, 1000),
    (640, 480),
    (1000, 1002),
)


def _rotation_z(angle: float) -> np.ndarray:
    c, s = math.cos(angle), math.sin(angle)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def augment_track(
    track: np.ndarray,
    rng: np.random.Generator,
    lengths: Optional[np.ndarray] = None,
    mirror_probability: float = 0.5,
    heading: bool = True,
) -> np.ndarray:
    """One augmented copy of a world track ``(N, 17, 3)`` (Z up): mirrored with ``mirror_probability``, bones set
    to ``lengths`` (default: :func:`h36m_like_bone_lengths`), turned by a uniform heading about the vertical
    through the trajectory's centre, which is moved to x = y = 0; the lowest ankle level stays on the floor."""
    p = np.asarray(track, dtype=np.float64)
    if p.ndim != 3 or p.shape[1:] != (H36M17.num_joints, 3):
        raise ValueError(f"augment_track: expected a track of shape (N, 17, 3); got {p.shape}")
    if rng.random() < mirror_probability:
        p = flip_joints(p, H36M17, axis=0)  # x -> -x and left <-> right: a mirror-image person
    feet = [H36M17.index("RFoot"), H36M17.index("LFoot")]
    floor_before = np.percentile(p[:, feet, 2].min(axis=1), 2.0)
    q = rescale_bones(p, h36m_like_bone_lengths(rng) if lengths is None else lengths)
    q[..., 2] += floor_before - np.percentile(q[:, feet, 2].min(axis=1), 2.0)  # longer legs: keep feet on floor
    xy = q[:, 0, :2]
    centre = np.array([0.5 * (xy[:, 0].min() + xy[:, 0].max()), 0.5 * (xy[:, 1].min() + xy[:, 1].max()), 0.0])
    q = q - centre
    if heading:
        q = q @ _rotation_z(rng.uniform(0.0, 2 * math.pi)).T
    return q


def look_at_world_to_camera(centre: np.ndarray, target: np.ndarray, roll: float = 0.0) -> np.ndarray:
    """World->camera rotation (3, 3) of a camera at ``centre`` looking at ``target`` (world Z up), image x to
    the right and y down (the Human3.6M/OpenCV convention), rotated by ``roll`` radians about its optical axis."""
    forward = np.asarray(target, float) - np.asarray(centre, float)
    forward /= np.linalg.norm(forward)
    right = np.cross(forward, [0.0, 0.0, 1.0])
    if np.linalg.norm(right) < 1e-6:
        raise ValueError("look_at_world_to_camera: the camera looks straight up or down")
    right /= np.linalg.norm(right)
    down = np.cross(forward, right)
    R = np.stack([right, down, forward])  # rows: the camera axes in world coordinates
    c, s = math.cos(roll), math.sin(roll)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]]) @ R


def sample_camera(
    rng: np.random.Generator, kind: str = "h36m", target_height: float = 0.9, min_distance: float = 0.0
) -> Camera:
    """A virtual camera looking at the origin's vertical at about ``target_height`` m, no lens distortion.

    ``"h36m"``: Human3.6M-like — image 1000x1002, fx = fy ~ U(1140, 1150) px, principal point near the centre,
    4–6.5 m from the origin at 0.9–1.9 m height, roll within a degree or two. ``"random"``: a size from
    :data:`VIDEO_SIZES`, horizontal field of view U(35°, 90°), 2.5–9 m away, 0.2–3 m high, roll N(0, 5°).
    ``min_distance``: the horizontal distance is at least this (keep a walking person in front of the camera).
    """
    if kind == "h36m":
        w, h = 1000, 1002
        f = rng.uniform(1140.0, 1150.0)
        fx, fy = f, f * rng.uniform(0.998, 1.002)
        cx, cy = w / 2 + rng.normal(0, 4.0), h / 2 + rng.normal(0, 4.0)
        distance, height, roll = rng.uniform(4.0, 6.5), rng.uniform(0.9, 1.9), rng.normal(0, math.radians(1.0))
    elif kind == "random":
        w, h = VIDEO_SIZES[int(rng.integers(len(VIDEO_SIZES)))]
        fov = math.radians(rng.uniform(35.0, 90.0))
        fx = fy = 0.5 * w / math.tan(0.5 * fov)
        cx, cy = w / 2 + rng.normal(0, 0.01 * w), h / 2 + rng.normal(0, 0.01 * h)
        distance, height, roll = rng.uniform(2.5, 9.0), rng.uniform(0.2, 3.0), rng.normal(0, math.radians(5.0))
    else:
        raise ValueError(f"sample_camera: kind must be 'h36m' or 'random'; got {kind!r}")
    distance = max(distance, min_distance)
    azimuth = rng.uniform(0.0, 2 * math.pi)
    centre = np.array([distance * math.cos(azimuth), distance * math.sin(azimuth), height])
    target = np.array([rng.normal(0, 0.15), rng.normal(0, 0.15), target_height + rng.normal(0, 0.15)])
    R = look_at_world_to_camera(centre, target, roll)
    K = np.array([[fx, 0.0, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]])
    return Camera(R, -R @ centre, K, image_size=(w, h), name=f"virtual-{kind}")


@dataclass
class NoiseConfig:
    """Detector-like 2D noise, in pixels of a 1000-pixel-wide image (scaled with the image width).

    sigma_px: per-recording std of the Gaussian jitter is drawn from U(0, sigma_px) (a clean video and a blurry
    one differ). outlier_probability / outlier_px: a joint is misplaced by N(0, outlier_px²) (a limb confused with
    its neighbour). drop_probability: a joint is missing and written at pixel (0, 0)."""

    sigma_px: float = 8.0
    outlier_probability: float = 0.02
    outlier_px: float = 60.0
    drop_probability: float = 0.01


def detector_noise(
    uv: np.ndarray,
    image_width,
    rng: np.random.Generator,
    config: NoiseConfig = NoiseConfig(),
    independent: bool = False,
) -> np.ndarray:
    """A noisy copy of pixel keypoints ``uv (..., J, 2)`` as a real detector would give them (see
    :class:`NoiseConfig`). One jitter level for the whole array (one recording), or with ``independent=True`` one
    per index of the first axis (a batch of windows from different recordings; ``image_width`` then a number or
    one width per window)."""
    uv = np.asarray(uv, dtype=np.float64)
    if uv.ndim < 2 or uv.shape[-1] != 2 or (independent and uv.ndim < 3):
        raise ValueError(
            f"detector_noise: expected keypoints (..., J, 2)"
            f"{' with a leading batch axis' if independent else ''}; got {uv.shape}"
        )
    lead = (uv.shape[0],) + (1,) * (uv.ndim - 1) if independent else (1,) * uv.ndim
    scale = np.broadcast_to(np.asarray(image_width, dtype=np.float64) / 1000.0, lead[:1]).reshape(
        lead if independent else ()
    )
    sigma = rng.uniform(0.0, config.sigma_px, size=lead) * scale
    out = uv + rng.standard_normal(uv.shape) * sigma
    joints = uv.shape[:-1]
    outliers = rng.random(joints) < config.outlier_probability
    big = rng.standard_normal(uv.shape) * (config.outlier_px * scale)
    out[outliers] += big[outliers]
    dropped = rng.random(joints) < config.drop_probability
    out[dropped] = 0.0
    return out
