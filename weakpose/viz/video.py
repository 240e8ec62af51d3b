"""Videos of lifted poses: read a source video, and write an mp4 (or a short GIF) showing 2D input beside 3D output.

Every output frame has two panels of the same height (``panel_height`` pixels, 480 by default):

* left: the source video frame (or a dark background of the source image's shape when no video is given), scaled
  to the panel height with its aspect ratio kept, with the 2D keypoints drawn on it: left limbs blue, right limbs
  red, mid-line white; joints whose confidence is 0 hollow and grey. The 3D pose projected back into the image
  (``reprojected_2d``), when given, is drawn over it in yellow.
* right: the 3D pose seen from one fixed virtual camera (orthographic, from the subject's front-left and slightly
  above), centred on the root joint every frame so the body stays in view, at one scale for the whole video, over
  a floor grid (0.5 m squares) at the lowest joint. The grid lines are fixed in the camera frame's x-z plane, so
  with absolute (not root-relative) poses the floor scrolls as the subject walks.

Units and frames: ``keypoints_2d`` and ``reprojected_2d`` are pixels of the source image (``image_size`` = (width,
height); pixel centres at integers); ``poses_3d`` are metres in the source camera frame (x right, y down, z
forward), root-relative or absolute. Output frame ``i`` shows pose ``i`` over video frame ``i``, at the source
``fps``. Frames are drawn with PIL directly (no matplotlib), streamed one at a time into ffmpeg (libx264, yuv420p),
so any length of video fits in memory.

imageio and imageio-ffmpeg are optional dependencies (extras ``h36m-video`` / ``test``); they are imported on use.
"""

from __future__ import annotations

import logging
import math
import os
import warnings
from dataclasses import dataclass
from fractions import Fraction
from typing import Iterable, Iterator, List, Optional, Sequence, Tuple, Union

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from weakpose.io_utils import atomic_write_path
from weakpose.skeleton import H36M17, JointOrder

log = logging.getLogger(__name__)

__all__ = [
    "VideoInfo",
    "video_info",
    "iter_video_frames",
    "write_lift_video",
    "write_lift_gif",
    "has_ffmpeg",
    "LiftFrameRenderer",
]

PathLike = Union[str, os.PathLike]
FrameSource = Union[None, PathLike, Iterable[np.ndarray]]

_LEFT, _RIGHT, _MID = (31, 119, 255), (230, 40, 40), (235, 235, 235)  # brighter than matplotlib's: over video
_MISSING = (140, 140, 140)  # joints with confidence 0, and the bones touching them
_REPROJ = (255, 215, 0)
_BG_2D, _BG_3D, _GRID = (24, 24, 28), (18, 18, 22), (70, 70, 80)
_TEXT = (220, 220, 220)
_GRID_SPACING_M = 0.5
_MAX_COORD = 1e5  # PIL converts coordinates to C ints: keep wild predictions from overflowing


def _require_imageio_ffmpeg():
    try:
        import imageio_ffmpeg
    except ImportError as e:
        raise ImportError(
            "reading and writing videos needs imageio-ffmpeg: pip install imageio imageio-ffmpeg "
            "(or pip install weakpose[h36m-video])"
        ) from e
    return imageio_ffmpeg


def has_ffmpeg() -> bool:
    """Whether imageio-ffmpeg (and so mp4 output) is installed."""
    try:
        _require_imageio_ffmpeg()
    except ImportError:
        return False
    return True


# --------------------------------------------------------------------------------------------------- reading


@dataclass(frozen=True)
class VideoInfo:
    """Size (pixels, after the container's rotation flag is applied), frame rate and frame count of a video.

    ``num_frames`` is estimated as ``round(duration * fps)`` from the container header unless
    ``num_frames_exact`` is True (``video_info(path, count_frames=True)`` decodes the stream to count them).
    ``fps`` is the rate ffmpeg reports, to its two decimals (30000/1001 reads as 29.97).
    """

    width: int
    height: int
    fps: float
    num_frames: int
    path: str
    num_frames_exact: bool = False


def _ffmpeg_reason(error: BaseException) -> str:
    """The one line of ffmpeg's stderr that says why a file could not be opened."""
    lines = [ln.strip() for ln in str(error).splitlines() if ln.strip()]
    for ln in reversed(lines):
        if "Error opening input:" in ln:
            return ln.split("Error opening input:", 1)[1].strip()
    for ln in reversed(lines):
        if "error" in ln.lower() or "invalid" in ln.lower():
            return ln.split("] ", 1)[-1]
    return lines[0] if lines else type(error).__name__


class _SizeNoticeFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "is different from the source frame size" not in record.getMessage()


def _open_reader(path: PathLike, output_params: Optional[List[str]] = None):
    """Start ffmpeg on ``path``; return (reader generator, meta dict), or raise a one-line error naming the file."""
    ffmpeg = _require_imageio_ffmpeg()
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path}: no such video file")
    reader = ffmpeg.read_frames(path, output_params=output_params)
    quiet = _SizeNoticeFilter()  # scaling on purpose: imageio-ffmpeg would warn that the sizes differ
    logging.getLogger("imageio_ffmpeg").addFilter(quiet)
    try:
        meta = next(reader)
    except (OSError, RuntimeError, StopIteration) as e:
        reader.close()
        raise ValueError(f"{path}: not a readable video ({_ffmpeg_reason(e)})") from None
    finally:
        logging.getLogger("imageio_ffmpeg").removeFilter(quiet)
    if not meta.get("size") or not meta.get("fps"):
        reader.close()
        raise ValueError(f"{path}: not a readable video (ffmpeg found no video stream with a size and frame rate)")
    return reader, meta


def video_info(path: PathLike, count_frames: bool = False) -> VideoInfo:
    """Width, height, fps and frame count of the video at ``path``.

    The frame count is ``round(duration * fps)`` from the header (fast, can be off by one or two for variable
    frame rate files) unless ``count_frames``, which decodes the whole stream once to count exactly.
    Raises FileNotFoundError for a missing file and a one-line ValueError naming the file when ffmpeg cannot
    read it as a video.
    """
    reader, meta = _open_reader(path)
    reader.close()  # only the header was needed: stop ffmpeg
    w, h = (int(v) for v in meta["size"])
    fps = float(meta["fps"])
    n = meta.get("nframes")
    exact = False
    if count_frames:
        n, exact = _require_imageio_ffmpeg().count_frames_and_secs(os.fspath(path))[0], True
    elif n is None or not math.isfinite(n):
        duration = meta.get("duration") or 0.0
        n = round(duration * fps) if math.isfinite(duration) else 0
    return VideoInfo(width=w, height=h, fps=fps, num_frames=int(n), path=os.fspath(path), num_frames_exact=exact)


def iter_video_frames(path: PathLike, size: Optional[Tuple[int, int]] = None) -> Iterator[np.ndarray]:
    """Yield the frames of the video at ``path`` one at a time as ``(H, W, 3)`` uint8 RGB arrays.

    size: optional ``(width, height)`` to scale every frame to inside ffmpeg (area averaging), which is several
    times faster than resizing in Python and sends less data through the pipe.
    Only one frame is in memory at a time; ffmpeg is stopped when the generator is closed or garbage collected.
    Errors as :func:`video_info` (raised on the first ``next``).
    """
    params = None
    if size is not None:
        size = _check_size(size)
        params = ["-vf", f"scale={size[0]}:{size[1]}:flags=area"]
    reader, meta = _open_reader(path, params)
    w, h = (int(v) for v in meta["size"])  # what ffmpeg sends: after rotation and the scale filter
    try:
        for raw in reader:
            yield np.frombuffer(raw, dtype=np.uint8).reshape(h, w, 3)
    finally:
        reader.close()


# --------------------------------------------------------------------------------------------------- drawing


def _even(x: float) -> int:
    return max(2, round(x / 2.0) * 2)


def _view_matrix(azimuth_deg: float, elevation_deg: float) -> np.ndarray:
    """Rows: the virtual camera's right, down and forward axes in the source camera frame (x right, y down, z fwd).

    Azimuth turns the viewpoint from the source camera's towards +x (the subject's left when it faces the
    camera); elevation raises it (towards -y).
    """
    a, e = math.radians(azimuth_deg), math.radians(elevation_deg)
    # direction from the body to the virtual camera; the source camera sits at -z from a subject in front of it
    to_cam = np.array([math.sin(a) * math.cos(e), -math.sin(e), -math.cos(a) * math.cos(e)])
    forward = -to_cam
    right = np.cross([0.0, 1.0, 0.0], forward)
    right /= np.linalg.norm(right)
    down = np.cross(forward, right)
    return np.stack([right, down, forward])


def _font(px: int):
    try:  # Pillow >= 10.1 with FreeType scales its built-in font; older ones have only the 11 px bitmap
        return ImageFont.load_default(size=px)
    except (TypeError, AttributeError, OSError):
        return ImageFont.load_default()


def _as_frames_array(name: str, a, num_joints: int, dims: int, length: Optional[int] = None) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    if a.ndim != 3 or a.shape[1:] != (num_joints, dims):
        raise ValueError(f"{name} must have shape (T, {num_joints}, {dims}); got {a.shape}")
    if length is not None and len(a) != length:
        raise ValueError(f"{name} has {len(a)} frames but poses_3d has {length}")
    return a


def _check_size(image_size) -> Tuple[int, int]:
    try:
        w, h = (int(v) for v in image_size)
    except (TypeError, ValueError):
        raise ValueError(f"image_size must be (width, height); got {image_size!r}") from None
    if w <= 0 or h <= 0:
        raise ValueError(f"image_size must be positive; got {image_size!r}")
    return w, h


class LiftFrameRenderer:
    """Draws the output frames of :func:`write_lift_video` (one PIL RGB image per pose), with the layout, the
    3D view and its scale fixed once for the whole sequence. See the module docstring for what a frame shows.
    """

    def __init__(
        self,
        keypoints_2d,
        poses_3d,
        image_size,
        reprojected_2d=None,
        confidences=None,
        title: str = "",
        order: JointOrder = H36M17,
        panel_height: int = 480,
        view: Tuple[float, float] = (35.0, 20.0),
    ):
        J = order.num_joints
        self.poses_3d = _as_frames_array("poses_3d", poses_3d, J, 3)
        T = len(self.poses_3d)
        self.keypoints_2d = _as_frames_array("keypoints_2d", keypoints_2d, J, 2, T)
        self.reprojected_2d = (
            None if reprojected_2d is None else _as_frames_array("reprojected_2d", reprojected_2d, J, 2, T)
        )
        self.confidences = None
        if confidences is not None:
            c = np.asarray(confidences, dtype=np.float64)
            if c.shape[-1:] == (1,) and c.ndim == 3:
                c = c[..., 0]
            if c.shape != (T, J):
                raise ValueError(f"confidences must have shape ({T}, {J}); got {c.shape}")
            self.confidences = c
        self.order, self.title, self.num_frames = order, title, T
        self.image_w, self.image_h = _check_size(image_size)
        self.root = order.parents.index(-1)
        self.bones = order.bones
        self.bone_colour = [(_LEFT if c in order.left else _RIGHT if c in order.right else _MID) for c, _ in self.bones]
        self.joint_colour = [(_LEFT if j in order.left else _RIGHT if j in order.right else _MID) for j in range(J)]

        # Layout: both panels panel_height tall; even sizes throughout, which libx264's yuv420p needs.
        self.panel_h = _even(panel_height)
        self.left_w = _even(self.image_w * self.panel_h / self.image_h)
        self.right_w = self.panel_h
        self.size = (self.left_w + self.right_w, self.panel_h)
        # Separate x/y scales: rounding the panel width to even changes the aspect ratio by under a pixel.
        self.sx, self.sy = self.left_w / self.image_w, self.panel_h / self.image_h
        self.line_w = max(2, round(self.panel_h / 160))
        self.joint_r = max(2, round(self.panel_h / 120))
        self._dark_2d = Image.new("RGB", (self.left_w, self.panel_h), _BG_2D)
        self._dark_3d = Image.new("RGB", (self.right_w, self.panel_h), _BG_3D)
        self._font_px = max(11, self.panel_h // 32)
        self._font = _font(self._font_px)
        self._setup_view(*view)

    # ---------------------------------------------------------------- 3D view fixed for the whole sequence

    def _setup_view(self, azimuth: float, elevation: float) -> None:
        self.view = _view_matrix(azimuth, elevation)
        rel = self.poses_3d - self.poses_3d[:, self.root : self.root + 1]
        proj = rel @ self.view.T  # (T, J, 3) in the virtual camera: right, down, depth
        finite = np.isfinite(proj).all(axis=(1, 2))
        if finite.any():
            p = proj[finite]
            lo, hi = p[..., :2].min(axis=1), p[..., :2].max(axis=1)  # (F, 2) per-frame extents in metres
            centre = np.median((lo + hi) / 2, axis=0)
            # 99th percentile: one exploded frame must not shrink the whole video; it is clipped instead.
            half = np.percentile(np.abs(np.concatenate([lo, hi], axis=1) - np.tile(centre, 2)), 99, axis=0).max()
            extent = float(np.percentile(np.linalg.norm(rel[finite], axis=-1).max(axis=1), 99))
        else:
            centre, half, extent = np.zeros(2), 1.0, 1.0
        half = max(float(half), 0.05)
        self.scale_3d = 0.42 * self.panel_h / half  # pixels per metre, one value for every frame
        # pixel position of the root: the body's extent (not the root) sits in the middle of the panel
        self.root_px = np.array([self.right_w / 2, self.panel_h / 2]) - centre * self.scale_3d
        self.grid_half = max(1.0, math.ceil(1.2 * max(extent, 0.5) / _GRID_SPACING_M)) * _GRID_SPACING_M

    def _project_3d(self, points_rel: np.ndarray) -> np.ndarray:
        """(N, 3) root-relative metres -> (N, 3): pixel u, v in the 3D panel and depth (metres, larger = farther)."""
        p = points_rel @ self.view.T
        uv = self.root_px + p[:, :2] * self.scale_3d
        return np.concatenate([np.clip(uv, -_MAX_COORD, _MAX_COORD), p[:, 2:]], axis=1)

    def _floor_segments(self, pose: np.ndarray) -> np.ndarray:
        """Grid lines on the plane y = lowest joint, as (L, 2, 3) root-relative metres; lines at world multiples
        of the spacing so absolute poses show the floor moving under them."""
        root = pose[self.root]
        floor_y = np.nanmax(pose[:, 1]) - root[1]
        g, s = self.grid_half, _GRID_SPACING_M
        segs = []
        for axis in (0, 2):  # lines of constant x, then of constant z
            start = math.ceil((root[axis] - g) / s)
            for k in range(start, start + round(2 * g / s) + 1):
                c = k * s - root[axis]
                if abs(c) > g + 1e-9:
                    continue
                a, b = np.zeros(3), np.zeros(3)
                a[1] = b[1] = floor_y
                a[axis] = b[axis] = c
                other = 2 - axis
                a[other], b[other] = -g, g
                segs.append((a, b))
        return np.asarray(segs)

    def draw_3d(self, i: int) -> Image.Image:
        img = self._dark_3d.copy()
        draw = ImageDraw.Draw(img)
        pose = self.poses_3d[i]
        if np.isfinite(pose).all():
            segs = self._floor_segments(pose)
            if len(segs):
                ends = self._project_3d(segs.reshape(-1, 3)).reshape(-1, 2, 3)
                for (u0, v0, _), (u1, v1, _) in ends:
                    draw.line((u0, v0, u1, v1), fill=_GRID, width=1)
            pts = self._project_3d(pose - pose[self.root])
            # painter's order: farthest bones first, so near limbs cover far ones
            depth = [pts[c, 2] + pts[p, 2] for c, p in self.bones]
            for k in np.argsort(depth)[::-1]:
                c, p = self.bones[k]
                draw.line((pts[c, 0], pts[c, 1], pts[p, 0], pts[p, 1]), fill=self.bone_colour[k], width=self.line_w)
            r = max(1, self.joint_r - 1)
            for j in np.argsort(pts[:, 2])[::-1]:
                u, v = pts[j, 0], pts[j, 1]
                draw.ellipse((u - r, v - r, u + r, v + r), fill=self.joint_colour[j])
        else:
            draw.text((10, self.panel_h // 2), "no 3D pose", fill=_TEXT, font=self._font)
        if self.title:
            draw.text((8, 6), self.title, fill=_TEXT, font=self._font)
        draw.text(
            (8, self.panel_h - 8 - self._font_px), f"frame {i + 1}/{self.num_frames}", fill=_TEXT, font=self._font
        )
        return img

    # ---------------------------------------------------------------- 2D panel

    def to_panel(self, keypoints: np.ndarray) -> np.ndarray:
        """Source-image pixels -> left-panel pixels (pixel centres at integers in both)."""
        uv = (keypoints + 0.5) * (self.sx, self.sy) - 0.5
        return np.clip(uv, -_MAX_COORD, _MAX_COORD)

    def _background_2d(self, frame: Optional[np.ndarray]) -> Image.Image:
        if frame is None:
            return self._dark_2d.copy()
        frame = np.asarray(frame)
        if frame.dtype != np.uint8:
            raise ValueError(f"video frames must be uint8 (H, W, 3); got {frame.dtype} {frame.shape}")
        if frame.ndim == 2:
            frame = np.repeat(frame[..., None], 3, axis=-1)
        if frame.ndim != 3 or frame.shape[2] not in (3, 4):
            raise ValueError(f"video frames must be uint8 (H, W, 3); got shape {frame.shape}")
        img = Image.fromarray(np.ascontiguousarray(frame[..., :3]))
        if img.size != (self.left_w, self.panel_h):
            # An integer box pre-shrink (Image.reduce) before bilinear halves the cost for 1000 px+ sources and
            # averages away the aliasing bilinear alone would leave.
            k = int(min(img.width / self.left_w, img.height / self.panel_h))
            if k >= 2:
                img = img.reduce(k)
            img = img.resize((self.left_w, self.panel_h), Image.BILINEAR)
        return img

    def _draw_pose_2d(self, draw: ImageDraw.ImageDraw, uv: np.ndarray, conf: Optional[np.ndarray]) -> None:
        ok = np.isfinite(uv).all(axis=1)
        seen = ok if conf is None else ok & (conf > 0)
        thin = max(1, self.line_w - 1)
        for k, (c, p) in enumerate(self.bones):
            if ok[c] and ok[p]:
                sure = seen[c] and seen[p]
                draw.line(
                    (uv[c, 0], uv[c, 1], uv[p, 0], uv[p, 1]),
                    fill=self.bone_colour[k] if sure else _MISSING,
                    width=self.line_w if sure else thin,
                )
        r = self.joint_r
        for j in np.flatnonzero(ok):
            box = (uv[j, 0] - r, uv[j, 1] - r, uv[j, 0] + r, uv[j, 1] + r)
            if seen[j]:
                draw.ellipse(box, fill=self.joint_colour[j])
            else:  # confidence 0: the detector did not find it; hollow so it reads as a guess
                draw.ellipse(box, outline=_MISSING, width=2)

    def _draw_reprojection(self, draw: ImageDraw.ImageDraw, uv: np.ndarray) -> None:
        ok = np.isfinite(uv).all(axis=1)
        w = max(1, self.line_w - 1)
        for c, p in self.bones:
            if ok[c] and ok[p]:
                draw.line((uv[c, 0], uv[c, 1], uv[p, 0], uv[p, 1]), fill=_REPROJ, width=w)

    def draw_2d(self, i: int, frame: Optional[np.ndarray]) -> Image.Image:
        img = self._background_2d(frame)
        draw = ImageDraw.Draw(img)
        conf = None if self.confidences is None else self.confidences[i]
        self._draw_pose_2d(draw, self.to_panel(self.keypoints_2d[i]), conf)
        if self.reprojected_2d is not None:  # over the input: the disagreement is what one looks for
            self._draw_reprojection(draw, self.to_panel(self.reprojected_2d[i]))
        return img

    def render(self, i: int, frame: Optional[np.ndarray] = None) -> Image.Image:
        """Output frame ``i`` (a PIL RGB image of :attr:`size`), over source video frame ``frame`` if given."""
        # Panels are drawn separately and pasted, so a limb leaving one panel never paints over the other.
        out = Image.new("RGB", self.size)
        out.paste(self.draw_2d(i, frame), (0, 0))
        out.paste(self.draw_3d(i), (self.left_w, 0))
        return out


# --------------------------------------------------------------------------------------------------- writing


def _frames_for(
    renderer: LiftFrameRenderer, source: Optional[Iterator[np.ndarray]], count: int, owned_source: bool = False
) -> Iterator[Image.Image]:
    """Rendered frames 0..count-1, pulling one source frame per pose; dark background once the source ends."""
    shown = 0
    for i in range(count):
        frame = None
        if source is not None:
            frame = next(source, None)
            if frame is None:
                source = None
                warnings.warn(
                    f"the video has {shown} frames but there are {count} poses; frames "
                    f"{shown + 1}-{count} are drawn on a dark background",
                    stacklevel=2,
                )
            else:
                shown += 1
                if shown == 1 and not owned_source:
                    _check_frame_shape(renderer, np.shape(frame)[1], np.shape(frame)[0])
        yield renderer.render(i, frame)


def _check_frame_shape(renderer: LiftFrameRenderer, w: int, h: int) -> None:
    if abs(w / h - renderer.image_w / renderer.image_h) > 0.01 * renderer.image_w / renderer.image_h:
        warnings.warn(
            f"video frames are {w}x{h} but image_size is {renderer.image_w}x{renderer.image_h}: the "
            f"frames are stretched to image_size's shape and the keypoints may not line up",
            stacklevel=2,
        )


def _open_source(frames: FrameSource, renderer: LiftFrameRenderer) -> Tuple[Optional[Iterator[np.ndarray]], bool]:
    """(iterator of frames or None, whether we opened it and so must close it)."""
    if frames is None:
        return None, False
    if isinstance(frames, (str, os.PathLike)):
        info = video_info(frames)
        _check_frame_shape(renderer, info.width, info.height)
        # ffmpeg scales straight to the panel: no resize in Python
        return iter_video_frames(frames, size=(renderer.left_w, renderer.panel_h)), True
    return iter(frames), False


def _check_fps(fps) -> Union[float, Fraction]:
    if isinstance(fps, Fraction):
        value = fps
    else:
        try:
            value = float(fps)
        except (TypeError, ValueError):
            raise ValueError(f"fps must be a positive number; got {fps!r}") from None
    if not (math.isfinite(float(value)) and value > 0):
        raise ValueError(f"fps must be a positive number; got {fps!r}")
    return value


def _with_progress(items: Iterable, total: int, show: bool, desc: str):
    if not show:
        return items
    from weakpose.evaluation import progress  # imports torch: only when a bar or log lines are wanted

    return progress(items, total, desc, "frame")


def write_lift_video(
    path: PathLike,
    keypoints_2d,
    poses_3d,
    image_size: Sequence[int],
    fps: float,
    frames: FrameSource = None,
    reprojected_2d=None,
    confidences=None,
    title: str = "",
    progress: bool = True,
    *,
    order: JointOrder = H36M17,
    panel_height: int = 480,
    view: Tuple[float, float] = (35.0, 20.0),
    quality: float = 6.0,
    preset: str = "veryfast",
) -> int:
    """Write an mp4 (H.264, yuv420p, ``fps`` frames per second) showing the 2D input beside the lifted 3D pose.

    keypoints_2d: ``(T, J, 2)`` pixels of the source image; poses_3d: ``(T, J, 3)`` metres, camera frame (x right,
    y down, z forward), root-relative or absolute; image_size: the source image's ``(width, height)``; fps: the
    source's frame rate (a float or a Fraction such as 30000/1001).
    frames: None (dark background), a path to the source video, or an iterable of ``(H, W, 3)`` uint8 frames,
    consumed one at a time. One output frame per pose: extra source frames are not read; when the source ends
    first the rest are drawn on the dark background, with a warning.
    reprojected_2d: optional ``(T, J, 2)`` pixels (the 3D pose projected into the image), drawn in yellow;
    confidences: optional ``(T, J)``: joints with confidence 0 are drawn hollow and grey.
    progress: a tqdm bar when stderr is a terminal, otherwise a log line every tenth of the frames.
    order: the joint layout; panel_height: pixels (made even); view: (azimuth, elevation) of the 3D panel's
    virtual camera in degrees; quality: imageio-ffmpeg's 1-10 (6 = x264 crf 20); preset: x264's speed preset
    ("veryfast" encodes about twice as fast as x264's "medium", at a similar size for these drawings).

    The file is written to a temporary beside ``path`` (same ``.mp4`` suffix, so ffmpeg picks the container)
    and renamed over it when complete. Returns the number of frames written.
    """
    ffmpeg = _require_imageio_ffmpeg()
    fps = _check_fps(fps)
    renderer = LiftFrameRenderer(
        keypoints_2d, poses_3d, image_size, reprojected_2d, confidences, title, order, panel_height, view
    )
    count = renderer.num_frames
    if count == 0:
        raise ValueError(f"{os.fspath(path)}: no poses to write (poses_3d has 0 frames)")
    source, owned = _open_source(frames, renderer)
    written = 0
    try:
        with atomic_write_path(path) as tmp:
            writer = ffmpeg.write_frames(
                tmp,
                renderer.size,
                fps=fps,
                codec="libx264",
                pix_fmt_out="yuv420p",
                quality=quality,
                macro_block_size=2,
                ffmpeg_log_level="error",
                output_params=["-preset", preset, "-movflags", "+faststart"],
            )
            writer.send(None)  # starts ffmpeg
            try:
                for img in _with_progress(_frames_for(renderer, source, count, owned), count, progress, "video"):
                    writer.send(img.tobytes())
                    written += 1
            finally:
                writer.close()  # flushes and waits for ffmpeg; on an error the temporary is then removed
    finally:
        if owned:
            source.close()
    log.info("wrote %s: %d frames, %dx%d at %s fps", os.fspath(path), written, *renderer.size, fps)
    return written


def write_lift_gif(
    path: PathLike,
    keypoints_2d,
    poses_3d,
    image_size: Sequence[int],
    fps: float,
    frames: FrameSource = None,
    reprojected_2d=None,
    confidences=None,
    title: str = "",
    max_frames: int = 150,
    *,
    order: JointOrder = H36M17,
    panel_height: int = 240,
    view: Tuple[float, float] = (35.0, 20.0),
) -> int:
    """The frames of :func:`write_lift_video` as an animated GIF (PIL, looping), for short clips in READMEs and
    notebooks. Only the first ``max_frames`` poses are drawn (a warning says so when there are more): all frames
    are held in memory and GIFs grow fast. GIF timing is in 1/100 s, so ``fps`` is approximated.
    Returns the number of frames written.
    """
    fps = float(_check_fps(fps))
    renderer = LiftFrameRenderer(
        keypoints_2d, poses_3d, image_size, reprojected_2d, confidences, title, order, panel_height, view
    )
    count = min(renderer.num_frames, int(max_frames))
    if count <= 0:
        raise ValueError(
            f"{os.fspath(path)}: no frames to write (poses: {renderer.num_frames}, max_frames: {max_frames})"
        )
    if renderer.num_frames > count:
        warnings.warn(
            f"write_lift_gif: writing the first {count} of {renderer.num_frames} frames (max_frames)", stacklevel=2
        )
    source, owned = _open_source(frames, renderer)
    try:
        images: List[Image.Image] = [
            im.quantize(colors=255, method=Image.Quantize.MEDIANCUT)
            for im in _frames_for(renderer, source, count, owned)
        ]
    finally:
        if owned:
            source.close()
    duration_ms = max(20, round(1000.0 / fps / 10) * 10)  # most viewers clamp < 20 ms
    with atomic_write_path(path) as tmp:
        images[0].save(tmp, format="GIF", save_all=True, append_images=images[1:], duration=duration_ms, loop=0)
    return count
