"""Lift 2D keypoints to 3D in one call: ``weakpose.lift(keypoints, layout=..., image_size=..., fps=...)``.

The whole in-the-wild path of ``weakpose lift`` as a Python API:

1. keypoints (an array ``(T, J, 2|3)`` in pixels, or any file :func:`weakpose.data.keypoint_files.read_keypoints`
   reads) are converted ONCE to H36M-17 (``layout``: from the file's metadata, else the argument; a 17-joint array
   is ambiguous between COCO-17 and H36M-17 and is refused unless ``layout`` says which);
2. missing detections (NaN, zero confidence, exact (0, 0)) are filled by linear interpolation along time and
   counted (:func:`~weakpose.data.keypoint_files.fill_missing`);
3. the pixels are normalised by the image size (VideoPose3D's screen normalisation, the lifters' input);
4. a saved lifter (``lifter.pt`` of any sample script; the shipped 27-frame temporal lifter by default) lifts the
   sequence -- temporal lifters as one whole sequence, single-frame lifters frame by frame;
5. where the lifter file carries a trajectory model (the decoupled root of Pavllo et al. 2019), the root-relative
   poses plus the predicted root give camera-frame (absolute) poses, and with a camera's extrinsics, world poses.

Units: metres. Frames: the lifter's output frame (the camera's: x right, y down, z forward, for every shipped and
script-trained lifter except canonical ones), root-relative (joint 0, the pelvis) unless said otherwise.
"""

from __future__ import annotations

import functools
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch

from weakpose.geometry.camera import normalize_screen_coordinates
from weakpose.skeleton import H36M17

PathLike = Union[str, os.PathLike]


@dataclass
class LiftResult:
    """3D of one video lifted by :func:`lift`. Arrays are NumPy float32, ``T`` frames, H36M-17 joints, metres.

    relative: ``(T, 17, 3)`` root-relative poses in the lifter's output frame (``output_frame``).
    camera_frame: ``(T, 17, 3)`` absolute camera-frame poses ``relative + root`` (``None`` without a trajectory).
    root: ``(T, 3)`` camera-frame root (pelvis) positions from the trajectory model, or ``None``.
    world: ``(T, 17, 3)`` world-frame poses when a camera with extrinsics was given (and ``camera_frame`` exists).
    keypoints_2d: ``(T, 17, 2)`` the H36M-17 pixels that were lifted (after filling gaps).
    confidences: ``(T, 17)`` the detector's confidences (1 where the file had none, 0 where a joint was filled).
    interpolated: ``(T, 17)`` True where a joint was missing and filled along time.
    """

    relative: np.ndarray
    keypoints_2d: np.ndarray
    confidences: np.ndarray
    interpolated: np.ndarray
    image_size: Tuple[int, int]
    layout: str
    lifter: str
    output_frame: str = "camera"
    fps: Optional[float] = None
    root: Optional[np.ndarray] = None
    camera_frame: Optional[np.ndarray] = None
    world: Optional[np.ndarray] = None
    name: str = ""
    notes: List[str] = field(default_factory=list)

    @property
    def num_frames(self) -> int:
        return int(self.relative.shape[0])

    def summary(self) -> str:
        """One line: frames, what was filled, which outputs exist."""
        filled = int(self.interpolated.sum())
        frames = int(self.interpolated.any(-1).sum())
        outputs = ["relative"] + [n for n in ("camera_frame", "world") if getattr(self, n) is not None]
        fps = f" at {self.fps:g} fps" if self.fps else ""
        return (
            f"{self.name or 'keypoints'}: {self.num_frames} frames{fps} ({self.layout} -> h36m17), "
            f"{filled} joints filled in {frames} frames; outputs: {', '.join(outputs)} ({self.output_frame} "
            f"frame)"
        )

    def reprojected_2d(self, intrinsics: Optional[np.ndarray] = None) -> Tuple[np.ndarray, str]:
        """The 3D drawn back into the image, ``(T, 17, 2)`` pixels, and how it was projected.

        With camera-frame poses and intrinsics ``K`` (3x3 pixels): a perspective projection. Otherwise each frame's
        root-relative pose is fitted to its 2D with a scale and a translation (orthographic x, y): what the 2D
        says about the 3D, without a camera.
        """
        if self.camera_frame is not None and intrinsics is not None:
            K = np.asarray(intrinsics, np.float64)
            p = self.camera_frame.astype(np.float64)
            uv = p[..., :2] / np.clip(p[..., 2:3], 1e-3, None) @ K[:2, :2].T + K[:2, 2]
            return uv.astype(np.float32), "perspective (camera-frame 3D, given intrinsics)"
        return weak_perspective_fit(self.relative, self.keypoints_2d), "scale + translation fit per frame"


def weak_perspective_fit(poses: np.ndarray, keypoints: np.ndarray) -> np.ndarray:
    """Per frame, the least-squares scale ``s`` and translation ``c`` with ``s * pose[:, :2] + c ~ keypoints``:
    ``(T, J, 3)``, ``(T, J, 2)`` -> ``(T, J, 2)``."""
    x = poses[..., :2].astype(np.float64)
    y = keypoints.astype(np.float64)
    xc, yc = x - x.mean(-2, keepdims=True), y - y.mean(-2, keepdims=True)
    s = (xc * yc).sum((-1, -2)) / np.clip((xc * xc).sum((-1, -2)), 1e-12, None)
    return (s[:, None, None] * xc + y.mean(-2, keepdims=True)).astype(np.float32)


def _load(checkpoint: str):
    """The lifter (and trajectory) of ``checkpoint``, read once per file version (lifting many videos)."""
    return (
        _load_version(checkpoint, os.stat(checkpoint).st_mtime_ns)
        if os.path.isfile(checkpoint)
        else _load_version(checkpoint, None)
    )


@functools.lru_cache(maxsize=4)
def _load_version(checkpoint: str, _mtime):
    from weakpose.lifters import load_lifter, load_trajectory

    model, info = load_lifter(checkpoint)
    trajectory = load_trajectory(checkpoint) if info.get("has_trajectory") else None
    return model, info, trajectory


def resolve_checkpoint(checkpoint: Optional[PathLike]) -> str:
    """``checkpoint`` as a string path; ``None``: the shipped 27-frame temporal lifter."""
    if checkpoint is None:
        from weakpose.pretrained import pretrained_path

        return str(pretrained_path("temporal_lifter"))
    return str(checkpoint)


def camera_from(spec: Any):
    """A :class:`~weakpose.geometry.Camera` from ``spec``: a Camera; a dict or JSON file with ``R`` (3x3,
    world->camera), ``t`` (3, METRES, ``x_cam = R X + t``) and optionally ``K`` (3x3 pixels); or
    ``"h36m:<subject>:<camera id>"`` for a Human3.6M calibration shipped with weakpose."""
    from weakpose.geometry.camera import Camera

    if spec is None or isinstance(spec, Camera):
        return spec
    if isinstance(spec, str) and spec.startswith("h36m:"):
        parts = spec.split(":")
        if len(parts) != 3:
            raise ValueError(f"camera {spec!r}: expected h36m:<subject>:<camera id>, e.g. h36m:S9:54138969")
        from weakpose.data.h36m.loaders import resolve_cameras

        cams = resolve_cameras("h36m")
        try:
            return cams[parts[1]][parts[2]]
        except KeyError:
            raise ValueError(
                f"camera {spec!r}: no such Human3.6M subject/camera; subjects {sorted(cams)}, cameras "
                f"{sorted(next(iter(cams.values())))}"
            ) from None
    where = "camera"
    if isinstance(spec, (str, os.PathLike)):
        where = str(spec)
        try:
            spec = json.loads(Path(spec).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as e:
            raise ValueError(f"{where}: not a readable camera JSON ({e})") from None
    if not isinstance(spec, dict) or "R" not in spec or "t" not in spec:
        raise ValueError(f"{where}: a camera needs 'R' (3x3 world->camera) and 't' (3 values, metres)")
    R, t = np.asarray(spec["R"], np.float64), np.asarray(spec["t"], np.float64).reshape(-1)
    if R.shape != (3, 3) or t.shape != (3,):
        raise ValueError(f"{where}: R must be 3x3 and t 3 values; got {R.shape} and {t.shape}")
    K = np.asarray(spec.get("K", np.eye(3)), np.float64)
    if K.shape != (3, 3):
        raise ValueError(f"{where}: K must be 3x3; got {K.shape}")
    camera = Camera(R, t, K, name=spec.get("name"))
    camera.intrinsics_given = "K" in spec  # without K, reprojection falls back to the per-frame fit
    return camera


def lift(
    keypoints,
    *,
    layout: Optional[str] = None,
    image_size: Optional[Sequence[int]] = None,
    fps: Optional[float] = None,
    confidences=None,
    checkpoint: Optional[PathLike] = None,
    camera: Any = None,
    flip: bool = False,
    video: Optional[str] = None,
    device: Union[str, torch.device] = "cpu",
    chunk_frames: int = 4096,
) -> LiftResult:
    """Lift one video's 2D keypoints to 3D; see the module docstring for the steps.

    Args:
        keypoints: ``(T, J, 2)`` or ``(T, J, 3)`` pixels (NumPy or torch), or a path to any 2D file
            :func:`~weakpose.data.keypoint_files.read_keypoints` reads (``video`` picks one of several videos).
        layout: the 2D joint layout ('coco17', 'h36m17', 'mpii16', 'halpe26', 'body25', 'h36m32'), required where the
            joint count or the file's metadata does not decide it.
        image_size: ``(width, height)`` pixels; from the file's metadata when it has one.
        fps: frames per second of the video (kept in the result; the lifters were trained at 50 Hz).
        confidences: optional ``(T, J)`` detector confidences for an array of ``(T, J, 2)``.
        checkpoint: a ``lifter.pt``; default the shipped 27-frame temporal lifter.
        camera: extrinsics for world-frame output (:func:`camera_from`); its ``K`` is used for reprojection.
        flip: test-time flip averaging (temporal lifters).

    Returns:
        a :class:`LiftResult`.
    """
    from weakpose.data.keypoint_files import keypoints_from_array, read_keypoints

    name = "keypoints"
    if isinstance(keypoints, (str, os.PathLike)):
        name = str(keypoints)
        tracks = read_keypoints(keypoints, layout=layout).videos
        if video is None and len(tracks) != 1:
            raise ValueError(
                f"{name}: holds {len(tracks)} videos {sorted(tracks)[:8]}; pass video=<name> (or use "
                f"the `weakpose lift` command, which lifts them all)"
            )
        key = video if video is not None else next(iter(tracks))
        if key not in tracks:
            raise ValueError(f"{name}: no video {key!r}; videos: {sorted(tracks)[:8]}")
        track = tracks[key]
        image_size = image_size or track.image_size
        fps = fps or track.fps
        name = f"{name}:{key}" if len(tracks) > 1 else name
    else:
        if isinstance(keypoints, torch.Tensor):
            keypoints = keypoints.detach().cpu().numpy()
        track = keypoints_from_array(keypoints, layout=layout, confidences=confidences, where=name)
    return lift_track(
        track,
        image_size=image_size,
        fps=fps,
        checkpoint=checkpoint,
        camera=camera,
        flip=flip,
        device=device,
        chunk_frames=chunk_frames,
        name=name,
    )


def lift_track(
    track,
    *,
    image_size: Optional[Sequence[int]],
    fps: Optional[float] = None,
    checkpoint: Optional[PathLike] = None,
    camera: Any = None,
    flip: bool = False,
    device: Union[str, torch.device] = "cpu",
    chunk_frames: int = 4096,
    name: str = "",
    batch_size: int = 4096,
) -> LiftResult:
    """Lift one prepared H36M-17 track (:class:`~weakpose.data.keypoint_files.Track`): steps 3-5 of :func:`lift`."""
    if image_size is None:
        raise ValueError(
            f"{name or 'keypoints'}: no image size: the file's metadata has none; pass "
            f"image_size=(w, h) (--width/--height, or --video with the source video)"
        )
    w, h = (int(v) for v in image_size)
    if w < 1 or h < 1:
        raise ValueError(f"image size must be positive, got {w}x{h}")
    check_inside_image(track.xy, (w, h), name or "keypoints")
    ckpt = resolve_checkpoint(checkpoint)
    model, info, trajectory = _load(ckpt)
    model.to(device)
    dtype = next(model.parameters()).dtype
    x = torch.as_tensor(normalize_screen_coordinates(track.xy.astype(np.float32), w, h), dtype=dtype, device=device)
    if getattr(model, "in_features", 2) == 3:  # lifters trained on (x, y, confidence); filled joints carry 0
        x = torch.cat([x, torch.as_tensor(track.conf, dtype=dtype, device=device)[..., None]], -1)
    relative = _lift_relative(model, x, flip, chunk_frames, batch_size)
    relative = relative - relative[:, :1]  # root-relative whatever the lifter's joint 0 does
    out = LiftResult(
        relative=relative,
        keypoints_2d=track.xy.astype(np.float32),
        confidences=track.conf.astype(np.float32),
        interpolated=track.missing.copy(),
        image_size=(w, h),
        layout=track.layout,
        lifter=ckpt,
        output_frame=info.get("output_frame", "camera"),
        fps=fps,
        name=name,
    )
    if trajectory is not None:
        trajectory.to(device)
        root = trajectory.lift_root_sequence(x, chunk_frames=chunk_frames, flip=H36M17 if flip else None)
        out.root = root.float().cpu().numpy()
        out.camera_frame = out.relative + out.root[:, None, :]
    else:
        out.notes.append(
            "the lifter has no trajectory model: root-relative output only (train one with "
            "sample/train_video_gan.py model.trajectory=on)"
        )
    cam = camera_from(camera)
    if cam is not None and out.camera_frame is not None:
        out.world = np.asarray(cam.camera_to_world(out.camera_frame.astype(np.float64)), np.float32)
    elif cam is not None:
        out.notes.append("a camera was given but there is no camera-frame output: no world-frame poses")
    return out


@torch.no_grad()
def _lift_relative(model, x: torch.Tensor, flip: bool, chunk_frames: int, batch_size: int = 4096) -> np.ndarray:
    model.eval()
    if callable(getattr(model, "lift_sequence", None)):
        return model.lift_sequence(x, chunk_frames=chunk_frames, flip=H36M17 if flip else None).float().cpu().numpy()
    if flip:
        raise ValueError("flip: test-time flip averaging is implemented for temporal lifters")
    return torch.cat([model(x[i : i + batch_size]) for i in range(0, len(x), batch_size)]).float().cpu().numpy()


def check_inside_image(xy: np.ndarray, size: Sequence[int], where: str) -> None:
    """Detectors write keypoints inside the image; most of them far outside means the image size is wrong (the 2D
    would be normalised by the wrong width)."""
    w, h = size
    found = np.isfinite(xy).all(-1) & (xy != 0).any(-1)  # (0, 0) marks a joint the detector did not find
    pts = xy[found]
    if not len(pts):
        return
    outside = (pts[:, 0] < -0.5 * w) | (pts[:, 0] > 1.5 * w) | (pts[:, 1] < -0.5 * h) | (pts[:, 1] > 1.5 * h)
    if outside.mean() > 0.5:
        raise ValueError(
            f"{where}: {outside.mean():.0%} of the keypoints lie far outside the {w}x{h} image (x in "
            f"[{pts[:, 0].min():.0f}, {pts[:, 0].max():.0f}], y in [{pts[:, 1].min():.0f}, "
            f"{pts[:, 1].max():.0f}]); give the video's real size (video_metadata or --width/--height)"
        )


def save_results(path: PathLike, results: Dict[str, LiftResult]) -> Path:
    """Write lifted videos to one npz (atomically), plain arrays only (readable with ``allow_pickle=False``):
    ``<video>/relative``, ``<video>/camera_frame``, ``<video>/root``, ``<video>/world``, ``<video>/keypoints_2d``,
    ``<video>/confidences``, ``<video>/interpolated``, and ``metadata`` (a JSON string: units, frames, lifter)."""
    from weakpose.io_utils import atomic_write_path

    arrays, meta = {}, {"units": "metres", "joints": "h36m17", "videos": {}}
    for video, r in results.items():
        for key in ("relative", "camera_frame", "root", "world", "keypoints_2d", "confidences", "interpolated"):
            value = getattr(r, key)
            if value is not None:
                arrays[f"{video}/{key}"] = value
        meta["videos"][video] = {
            "frames": r.num_frames,
            "fps": r.fps,
            "image_size": list(r.image_size),
            "layout": r.layout,
            "lifter": r.lifter,
            "output_frame": r.output_frame,
            "joints_filled": int(r.interpolated.sum()),
            "relative": f"root-relative, {r.output_frame} frame",
            "camera_frame": "relative + root (trajectory)",
            "world": "camera_frame through the given camera's extrinsics",
            "notes": r.notes,
        }
    arrays["metadata"] = np.array(json.dumps(meta))
    path = Path(path)
    with atomic_write_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.savez_compressed(f, **arrays)
    return path


__all__ = [
    "LiftResult",
    "lift",
    "lift_track",
    "camera_from",
    "weak_perspective_fit",
    "save_results",
    "check_inside_image",
    "resolve_checkpoint",
]
