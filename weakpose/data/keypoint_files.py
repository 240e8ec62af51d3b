"""Read the 2D keypoint files people have, converted once to H36M-17, with missing detections filled.

:func:`read_keypoints` opens one file (or an OpenPose folder), tells its format from the path and the content, and
returns a :class:`KeypointFile` whose ``videos[name]`` are :class:`Track` objects. Formats:

* **COCO results JSON** (mmpose, Detectron2, COCO evaluation): a list of ``{"image_id", "category_id": 1,
  "keypoints": [x, y, score] * K, "score"}``, any number of people per image. K = 17 (COCO-17) or 133
  (COCO-WholeBody, whose first 17 points are COCO-17).
* **COCO annotation JSON**: ``{"images": [{"id", "width", "height"}], "annotations": [{"image_id", "keypoints":
  [x, y, v] * 17}]}``; the visibility flag v > 0 reads as confidence 1, v = 0 (not labelled) as missing. Every listed
  image is a frame; the image size comes from ``images``.
* **AlphaPose JSON** (``alphapose-results.json``): the COCO results list with ``"image_id": "0.jpg"``, ``"box"``
  and, when tracking was on, ``"idx"`` (track id). K = 17 (COCO-17), 26 (Halpe-26) or 136 (Halpe-FullBody: its
  first 26 points are Halpe-26, then 68 face and 2 x 21 hand points, per the Halpe-FullBody release).
* **OpenPose folder**: ``<name>_000000000000_keypoints.json`` per frame, ``{"people": [{"pose_keypoints_2d":
  [x, y, c] * 25}]}`` (BODY-25; the 18-joint COCO model is refused). A frame with no people is a missing frame;
  OpenPose writes (0, 0, 0) for a joint it did not find. Several ``<name>`` prefixes in one folder are several
  videos.
* **VideoPose3D npz** (``positions_2d[video][custom]`` -> list of (T, J, 2|3), optional ``metadata`` with
  ``layout_name``, ``keypoints_symmetry`` and ``video_metadata[video] = {"w", "h"}``): one track per video and
  camera view.
* **Plain arrays**: ``.npy`` (T, J, 2|3) or an ``.npz`` holding one array (key ``keypoints``, ``keypoints_2d``,
  ``kpts``, ``arr_0`` or its only key). The joint count gives the layout where it names one (16 MPII-16,
  25 BODY-25, 26 Halpe-26, 32 H36M-32); 17 joints need ``layout='coco17'`` or ``layout='h36m17'``.

What every track holds: ``xy`` (T, 17, 2) float32 PIXELS in the H36M-17 order of
:data:`weakpose.skeleton.H36M17`, ``conf`` (T, 17) float32, and which joints were filled. Joints H36M-17 lacks in
the source are derived as :func:`weakpose.skeleton.to_h36m17` documents (Hip = mid-hips, Thorax = mid-shoulders,
Spine = their midpoint, Neck/Nose = nose, Head = head top or extrapolated from the ears; confidence = the minimum
over the sources). Images are read in pixels only: normalised coordinates are refused
(:func:`~weakpose.data.h36m.readers.check_pixel_units`).

Missing detections, one path for every reader (:func:`to_h36m17_filled`): a joint is missing when a coordinate is
NaN/inf, its confidence is 0 or not finite, or it is exactly (0, 0) (what detectors write for "not found"). Missing
joints become NaN in the SOURCE layout, the conversion to H36M-17 carries the NaN into every joint derived from
them, and :func:`fill_missing` then fills H36M-17: linear interpolation in time between the nearest detections,
the nearest detection held before the first and after the last one, confidence 0. A sequence with nothing
detected, or with a joint never detected, is refused.

Frames: sorted by image id, numerically when the ids are numbers or names with a number (``"000012.jpg"`` -> 12),
else by name. Numbered frames absent from a file (an image where the detector found nobody writes no entry) are
put back as missing frames when they are the minority of the span (a video); otherwise (ids of unrelated
images) only the frames present are kept.

Every error is one line that names the file, raised as :class:`~weakpose.data.h36m.readers.H36MFormatError`
(a ``ValueError``); a path that does not exist raises ``FileNotFoundError``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Sequence, Tuple, Union

import numpy as np

from weakpose.data.h36m.readers import (
    LAYOUTS_2D,
    H36MFormatError,
    check_keypoints_2d,
    check_pixel_units,
    read_videopose3d_2d,
    resolve_2d_layout,
)
from weakpose.safe_npz import NpzFileError, SafeNpz
from weakpose.skeleton import H36M17, get_order, to_h36m17

PathLike = Union[str, Path]
Person = Union[str, int]

__all__ = [
    "FilledKeypoints",
    "Track",
    "KeypointFile",
    "missing_mask",
    "fill_missing",
    "to_h36m17_filled",
    "read_keypoints",
    "keypoints_from_array",
    "select_person",
    "CONTINUITY_SCORE_RATIO",
    "ARRAY_KEYS",
]

# A person nearer the previous pick is kept over the best-scored one unless its score is below this fraction of
# the best score in the frame (then the detector is telling us the near one is likely a false positive).
CONTINUITY_SCORE_RATIO = 0.5
#: Keys tried, in order, for the array of an ``.npz`` of plain keypoints.
ARRAY_KEYS = ("keypoints", "keypoints_2d", "kpts", "arr_0")
# Joint counts that name one layout; 17 does not (COCO-17 and H36M-17).
_LAYOUT_BY_COUNT = {16: "mpii16", 25: "body25", 26: "halpe26", 32: "h36m32"}
# Keypoint counts of JSON detections -> (layout, how many leading points are that layout).
_JSON_LAYOUTS = {17: ("coco17", 17), 26: ("halpe26", 26), 133: ("coco17", 17), 136: ("halpe26", 26)}
_OPENPOSE_FILE = re.compile(r"^(.*?)_?(\d+)_keypoints\.json$")


# ---------------------------------------------------------------------------------------------------------
# missing detections


@dataclass
class FilledKeypoints:
    """Keypoints with their missing joints filled (see :func:`fill_missing`).

    xy: (T, J, 2) float32; conf: (T, J) float32, 0 where filled; missing: (T, J) bool, True where filled.
    joints_filled: number of (frame, joint) entries filled; frames_filled: frames with at least one filled joint;
    frames_missing: frames in which no joint was detected (all filled).
    """

    xy: np.ndarray
    conf: np.ndarray
    missing: np.ndarray
    joints_filled: int
    frames_filled: int
    frames_missing: int

    @property
    def num_frames(self) -> int:
        return int(self.xy.shape[0])

    def summary(self) -> str:
        if not self.joints_filled:
            return f"{self.num_frames} frames, nothing missing"
        return (
            f"{self.num_frames} frames: {_count(self.joints_filled, 'joint')} filled in "
            f"{_count(self.frames_filled, 'frame')} ({_count(self.frames_missing, 'frame')} with no detection)"
        )


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def missing_mask(xy, conf=None) -> np.ndarray:
    """(T, J) bool: True where a joint is not detected: a NaN/inf coordinate, a confidence that is 0 or not
    finite, or exactly (0, 0) (how OpenPose, COCO and most detectors write a joint they did not find)."""
    xy = np.asarray(xy)
    missing = ~np.isfinite(xy).all(-1) | (xy == 0).all(-1)
    if conf is not None:
        conf = np.asarray(conf)
        missing |= ~np.isfinite(conf) | (conf == 0)
    return missing


def _joint_names(num_joints: int, joint_names: Optional[Sequence[str]]) -> Sequence[str]:
    if joint_names is not None:
        return joint_names
    return H36M17.joints if num_joints == H36M17.num_joints else [f"joint {j}" for j in range(num_joints)]


def fill_missing(xy, conf=None, where: str = "", joint_names: Optional[Sequence[str]] = None) -> FilledKeypoints:
    """Fill the missing joints of a ``(T, J, 2)`` pixel track (``conf`` (T, J) or None).

    Missing (:func:`missing_mask`): NaN/inf coordinate, confidence 0 or not finite, or exactly (0, 0); so pass
    image pixels, not root-relative coordinates (whose root is (0, 0) in every frame). Each missing joint is
    interpolated linearly in time, per joint and coordinate, between the frames where that joint was detected
    (``np.interp``); before its first and after its last detection the nearest detection is held (no
    extrapolated motion). Filled joints get confidence 0; ``conf=None`` means confidence 1 elsewhere.

    Raises :class:`H36MFormatError` naming ``where`` when no joint is detected in any frame, or naming the
    joints (``joint_names``, default the H36M-17 names for 17 joints) that are never detected.
    """
    xy = np.asarray(xy)
    prefix = f"{where}: " if where else ""
    if xy.ndim != 3 or xy.shape[-1] != 2:
        raise H36MFormatError(f"{prefix}keypoints must have shape (T, J, 2); got {xy.shape}")
    num_frames, num_joints = xy.shape[:2]
    if conf is not None and np.shape(conf) != (num_frames, num_joints):
        raise H36MFormatError(f"{prefix}confidences must have shape {(num_frames, num_joints)}; got {np.shape(conf)}")
    if num_frames == 0:
        raise H36MFormatError(f"{prefix}no frames (shape {xy.shape})")
    missing = missing_mask(xy, conf)
    if missing.all():
        raise H36MFormatError(
            f"{prefix}no joint is detected in any of the {num_frames} frames (all NaN, zero confidence or (0, 0))"
        )
    never = np.flatnonzero(missing.all(0))
    if never.size:
        names = _joint_names(num_joints, joint_names)
        raise H36MFormatError(
            f"{prefix}joint{'s' if never.size > 1 else ''} "
            f"{', '.join(repr(names[j]) for j in never)} never detected in the {num_frames} "
            f"frames: nothing to fill {'them' if never.size > 1 else 'it'} from"
        )
    out = np.array(xy, dtype=np.float64)
    frames = np.arange(num_frames)
    for j in np.flatnonzero(missing.any(0)):  # only joints with gaps; the usual file has few
        gap = missing[:, j]
        seen = frames[~gap]
        for c in range(2):
            # np.interp holds the end values outside [seen[0], seen[-1]]: the documented hold at the ends.
            out[gap, j, c] = np.interp(frames[gap], seen, out[seen, j, c])
    confidence = np.ones((num_frames, num_joints), np.float32) if conf is None else np.array(conf, np.float32)
    confidence[missing] = 0.0
    return FilledKeypoints(
        xy=out.astype(np.float32),
        conf=confidence,
        missing=missing,
        joints_filled=int(missing.sum()),
        frames_filled=int(missing.any(1).sum()),
        frames_missing=int(missing.all(1).sum()),
    )


def to_h36m17_filled(xy, conf, layout: str, where: str = "") -> FilledKeypoints:
    """Source-layout keypoints -> H36M-17 with missing joints filled: the one conversion path of every reader.

    Missing source joints (:func:`missing_mask`) are set to NaN first, so every H36M-17 joint derived from one
    is NaN too (a mid-hip from one hip and a (0, 0) would be a wrong point, not a missing one); then the
    H36M-17 track is filled by :func:`fill_missing`.
    """
    order = get_order(layout)
    xy = np.asarray(xy)
    if not np.issubdtype(xy.dtype, np.floating):
        xy = xy.astype(np.float64)
    missing = missing_mask(xy, conf)
    src = xy.copy()
    src[missing] = np.nan
    src_conf = np.ones(xy.shape[:-1], xy.dtype) if conf is None else np.array(conf, dtype=xy.dtype)
    src_conf[missing] = 0.0
    x17, c17 = to_h36m17(src, order.name, src_conf)
    try:
        return fill_missing(x17, c17, where)
    except H36MFormatError as e:
        never = np.flatnonzero(missing.all(0)) if missing.shape[0] else []
        if len(never) and not missing.all():
            names = ", ".join(order.joints[j] for j in never)
            raise H36MFormatError(f"{e} (never detected in the {order.name} source: {names})") from None
        raise


# ---------------------------------------------------------------------------------------------------------
# results


@dataclass
class Track:
    """One person through one video, in H36M-17.

    xy: (T, 17, 2) float32 pixels after filling; conf: (T, 17) float32 (0 where filled); filled: the
    :class:`FilledKeypoints` (missing mask and counts); layout: the source layout ('coco17', 'halpe26', ...);
    image_size: (width, height) pixels or None; fps: frames per second or None (none of these formats stores
    it reliably); frame_ids: per row, the image id / frame number it came from.
    """

    xy: np.ndarray
    conf: np.ndarray
    filled: FilledKeypoints
    layout: str
    image_size: Optional[Tuple[int, int]] = None
    fps: Optional[float] = None
    frame_ids: List = field(default_factory=list)

    @property
    def missing(self) -> np.ndarray:
        return self.filled.missing

    @property
    def num_frames(self) -> int:
        return int(self.xy.shape[0])


@dataclass
class KeypointFile:
    """What :func:`read_keypoints` read: ``videos[name]`` -> :class:`Track`, and the format it recognised
    ('coco-results', 'coco-annotations', 'alphapose', 'openpose', 'videopose3d', 'array')."""

    path: Path
    format: str
    videos: Dict[str, Track]

    def __getitem__(self, name: str) -> Track:
        return self.videos[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.videos)

    def __len__(self) -> int:
        return len(self.videos)

    def summary(self) -> str:
        lines = [f"{self.path} ({self.format}, {len(self.videos)} video{'s' if len(self.videos) != 1 else ''})"]
        for name, t in self.videos.items():
            lines.append(f"  {name}: {t.layout} -> h36m17, {t.filled.summary()}")
        return "\n".join(lines)


def _track(xy, conf, layout: str, where: str, frame_ids, image_size=None, fps=None) -> Track:
    """Validate units and convert one source-layout track (T, J, 2) to a filled H36M-17 :class:`Track`."""
    check_pixel_units(np.where(missing_mask(xy, conf)[..., None], np.nan, xy), where)
    filled = to_h36m17_filled(xy, conf, layout, where)
    return Track(
        xy=filled.xy,
        conf=filled.conf,
        filled=filled,
        layout=get_order(layout).name,
        image_size=image_size,
        fps=fps,
        frame_ids=list(frame_ids),
    )


# ---------------------------------------------------------------------------------------------------------
# frames


def _frame_number(image_id) -> Optional[int]:
    """The frame number of an image id: the id itself when an integer, else the last number in the file name
    without its extension (``"frames/000012.jpg"`` -> 12); None when there is none."""
    if isinstance(image_id, bool):
        return None
    if isinstance(image_id, (int, np.integer)):
        return int(image_id)
    if isinstance(image_id, float) and image_id.is_integer():
        return int(image_id)
    if isinstance(image_id, str):
        numbers = re.findall(r"\d+", Path(image_id).stem if "." in image_id else Path(image_id).name)
        return int(numbers[-1]) if numbers else None
    return None


def _frame_axis(ids: Sequence) -> Tuple[List, Dict]:
    """Order the image ids of one video: ``(frame_ids, row_of_id)``.

    Numeric (or numbered) ids are sorted by number, and the numbers absent between the first and the last are
    put back as frames of their own (no entry in the file: nobody detected) when they are fewer than the frames
    present; sparse numbers (unrelated images, not a video) keep only the frames present. Ids without numbers,
    or whose numbers collide, are sorted by name.
    """
    unique = list(dict.fromkeys(ids))
    numbers = [_frame_number(i) for i in unique]
    if all(n is not None for n in numbers) and len(set(numbers)) == len(numbers):
        by_number = dict(zip(numbers, unique))
        lo, hi = min(numbers), max(numbers)
        span = hi - lo + 1
        axis = list(range(lo, hi + 1)) if span - len(numbers) <= len(numbers) else sorted(numbers)
        frame_ids = [by_number.get(n, n) for n in axis]
        return frame_ids, {by_number[n]: row for row, n in enumerate(axis) if n in by_number}
    frame_ids = sorted(unique, key=str)
    return frame_ids, {i: row for row, i in enumerate(frame_ids)}


# ---------------------------------------------------------------------------------------------------------
# person selection


def select_person(
    keypoints, frame, num_frames: int, score=None, track=None, person: Person = "best", where: str = ""
) -> np.ndarray:
    """One person per frame from several: ``(D, J, 3)`` detections in frames ``frame`` (D,) -> ``(T, J, 3)``.

    A detection's score is ``score`` where given (not NaN), else its mean joint confidence (missing joints
    count 0). ``person="best"``: in the first frame with people, the best-scored one; in every later frame, of
    the people scoring at least :data:`CONTINUITY_SCORE_RATIO` (half) of that frame's best score, the one whose
    mean detected-joint position is nearest the previous pick's, so a track does not jump to a bystander with a
    slightly better score; a much better-scored person wins over a near one (the near one is then likely a false
    detection). ``person=<int>``: the detections with that track id (AlphaPose's ``idx``), the best-scored where
    a frame has several. Frames without a pick are all zeros (missing).
    """
    kp = np.asarray(keypoints, dtype=np.float64)
    frame = np.asarray(frame, dtype=np.int64)
    out = np.zeros((num_frames,) + kp.shape[1:], np.float64)
    if kp.shape[0] == 0:
        return out
    valid = ~missing_mask(kp[..., :2], kp[..., 2])
    mean_conf = np.where(valid, kp[..., 2], 0.0).mean(-1)
    given = np.full(len(kp), np.nan) if score is None else np.asarray(score, dtype=np.float64)
    score = np.where(np.isfinite(given), given, mean_conf)
    if not isinstance(person, str):
        track = np.full(len(kp), -1) if track is None else np.asarray(track)
        keep = track == int(person)
        if not keep.any():
            ids = sorted({int(t) for t in track if t >= 0})
            raise H36MFormatError(
                f"{where}: no person with track id {person} (track ids in the file: "
                f"{ids[:20]}{' ...' if len(ids) > 20 else ''})"
            )
        kp, frame, score, valid = kp[keep], frame[keep], score[keep], valid[keep]
    # Mean position of each detection's detected joints (NaN when it has none).
    counts = valid.sum(-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        centre = np.where(valid[..., None], kp[..., :2], 0.0).sum(1) / counts
    order = np.argsort(frame, kind="stable")
    starts = np.searchsorted(frame[order], np.arange(num_frames + 1))
    previous = None
    for t in range(num_frames):
        rows = order[starts[t] : starts[t + 1]]
        if rows.size == 0:
            continue
        best = rows[np.argmax(score[rows])]
        pick = best
        if person == "best" and rows.size > 1 and previous is not None and np.isfinite(previous).all():
            floor = CONTINUITY_SCORE_RATIO * score[best] if score[best] > 0 else -np.inf
            near = rows[(score[rows] >= floor) & np.isfinite(centre[rows]).all(-1)]
            if near.size:
                pick = near[np.argmin(np.linalg.norm(centre[near] - previous, axis=-1))]
        out[t] = kp[pick]
        previous = centre[pick]
    return out


def _check_layout(layout: str, path: Path) -> str:
    try:
        name = get_order(layout).name
    except KeyError:
        name = None
    if name not in LAYOUTS_2D:
        raise H36MFormatError(
            f"{path}: layout={layout!r} is not a 2D layout weakpose converts; known: {', '.join(LAYOUTS_2D)}"
        )
    return name


def _check_person(person) -> Person:
    if isinstance(person, str):
        if person != "best":
            raise ValueError(f"person must be 'best' or a track id (int); got {person!r}")
        return person
    if isinstance(person, (bool, np.bool_)) or not isinstance(person, (int, np.integer)):
        raise ValueError(f"person must be 'best' or a track id (int); got {person!r}")
    return int(person)


# ---------------------------------------------------------------------------------------------------------
# JSON readers (COCO results / annotations, AlphaPose, OpenPose)


def _load_json(path: Path):
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise H36MFormatError(f"{path}: not valid JSON ({type(e).__name__}: {e}); truncated?") from None


def _flat_keypoints(values, where: str) -> np.ndarray:
    """A flat ``[x, y, c] * K`` list -> (K, 3) float64."""
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise H36MFormatError(f"{where}: keypoints must be a flat list of numbers [x, y, c, ...]") from None
    if arr.ndim != 1 or arr.size % 3:
        raise H36MFormatError(
            f"{where}: keypoints must be a flat list of 3 numbers per joint (x, y, confidence); got {arr.size} values"
        )
    return arr.reshape(-1, 3)


def _json_layout(count: int, layout: Optional[str], where: str, allowed=_JSON_LAYOUTS) -> Tuple[str, int]:
    """(layout, leading points used) for K keypoints per person."""
    if layout is not None:
        order = get_order(layout)
        if count not in (order.num_joints,) and allowed.get(count, (None,))[0] != order.name:
            raise H36MFormatError(
                f"{where}: layout {order.name!r} has {order.num_joints} joints, the file has "
                f"{count} keypoints per person"
            )
        return order.name, order.num_joints
    if count not in allowed:
        known = ", ".join(f"{k} ({v[0]})" for k, v in allowed.items())
        raise H36MFormatError(
            f"{where}: {count} keypoints per person is not a layout weakpose converts; known counts: {known}"
        )
    return allowed[count]


def _stack_people(
    entries: List[Tuple[object, np.ndarray, float, int]],
    ids_for_axis: Sequence,
    layout,
    where: str,
    person: Person,
    json_layouts=_JSON_LAYOUTS,
):
    """Person selection over ``(image_id, (K, 3) keypoints, score, track)`` entries -> (layout, (T, J, 3), ids)."""
    frame_ids, row_of = _frame_axis(ids_for_axis)
    counts = {kp.shape[0] for _, kp, _, _ in entries}
    if len(counts) > 1:
        raise H36MFormatError(f"{where}: people have different keypoint counts {sorted(counts)}")
    if entries:
        name, used = _json_layout(counts.pop(), layout, where, json_layouts)
    else:  # nobody in any frame: refused by the fill below, which names the file
        order = get_order(layout or "coco17")
        name, used = order.name, order.num_joints
    kp = np.stack([k[:used] for _, k, _, _ in entries]) if entries else np.zeros((0, used, 3))
    frame = np.array([row_of[i] for i, _, _, _ in entries], dtype=np.int64)
    score = np.array([s for _, _, s, _ in entries], dtype=np.float64)
    track = np.array([t for _, _, _, t in entries], dtype=np.int64)
    if not isinstance(person, str) and not (track >= 0).any():
        raise H36MFormatError(
            f"{where}: person={person} selects a track id, but the file has none (AlphaPose "
            f"writes 'idx' when run with tracking); use person='best'"
        )
    picked = select_person(kp, frame, len(frame_ids), score, track, person, where)
    return name, picked, frame_ids


def _track_id(value) -> int:
    """AlphaPose ``idx`` / PoseTrack ``track_id`` / OpenPose ``person_id``: an int or a one-element list; -1 if
    absent or negative."""
    if isinstance(value, (list, tuple)) and value:
        value = value[0]
    if isinstance(value, (int, float)) and not isinstance(value, bool) and float(value).is_integer():
        return int(value) if value >= 0 else -1
    return -1


def _check_image_id(image_id, where: str) -> None:
    if isinstance(image_id, bool) or not isinstance(image_id, (int, float, str)):
        raise H36MFormatError(f"{where}: image_id must be a number or a file name; got {image_id!r}")


def _read_detection_list(path: Path, data: list, layout, person) -> KeypointFile:
    """COCO results / AlphaPose: a list of per-person detections."""
    entries = []
    alphapose = False
    for n, det in enumerate(data):
        where = f"{path}: entry {n}"
        if not isinstance(det, dict) or "keypoints" not in det or "image_id" not in det:
            raise H36MFormatError(
                f"{where}: expected a dict with 'image_id' and 'keypoints' (COCO results / "
                f"AlphaPose format); got {type(det).__name__}"
            )
        if det.get("category_id", 1) != 1:  # only people have keypoints
            continue
        _check_image_id(det["image_id"], where)
        alphapose |= "idx" in det or "box" in det
        score = det.get("score")
        score = float(score) if isinstance(score, (int, float)) and not isinstance(score, bool) else np.nan
        entries.append((det["image_id"], _flat_keypoints(det["keypoints"], where), score, _track_id(det.get("idx"))))
    if not entries:
        raise H36MFormatError(f"{path}: no person detection in the file (empty list or no category_id 1)")
    name, picked, frame_ids = _stack_people(entries, [e[0] for e in entries], layout, str(path), person)
    fmt = "alphapose" if alphapose else "coco-results"
    return KeypointFile(path, fmt, {path.stem: _track(picked[..., :2], picked[..., 2], name, str(path), frame_ids)})


def _read_coco_annotations(path: Path, data: dict, layout, person) -> KeypointFile:
    images, annotations = data.get("images"), data.get("annotations")
    if not isinstance(images, list) or not isinstance(annotations, list):
        raise H36MFormatError(f"{path}: a COCO annotation file needs lists 'images' and 'annotations'")
    if not images or not all(isinstance(im, dict) and "id" in im for im in images):
        raise H36MFormatError(f"{path}: 'images' must be a non-empty list of dicts with an 'id'")
    image_ids = [im["id"] for im in images]
    for n, image_id in enumerate(image_ids):
        _check_image_id(image_id, f"{path}: images[{n}]")
    try:
        sizes = {(int(im["width"]), int(im["height"])) for im in images if "width" in im and "height" in im}
    except (TypeError, ValueError):
        raise H36MFormatError(f"{path}: 'images' width/height must be numbers") from None
    known = set(image_ids)
    entries = []
    for n, ann in enumerate(annotations):
        where = f"{path}: annotations[{n}]"
        if not isinstance(ann, dict) or "keypoints" not in ann or ann.get("image_id") not in known:
            raise H36MFormatError(f"{where}: expected 'keypoints' and an 'image_id' listed in 'images'")
        if ann.get("category_id", 1) != 1:
            continue
        kp = _flat_keypoints(ann["keypoints"], where)
        kp[:, 2] = (kp[:, 2] > 0).astype(np.float64)  # visibility flag: labelled (1, 2) or not (0)
        entries.append((ann["image_id"], kp, np.nan, _track_id(ann.get("track_id"))))
    if not entries:
        raise H36MFormatError(f"{path}: no person keypoints in 'annotations'")
    only_coco = {17: ("coco17", 17), 133: ("coco17", 17)}
    name, picked, frame_ids = _stack_people(entries, image_ids, layout, str(path), person, only_coco)
    size = sizes.pop() if len(sizes) == 1 else None  # one video has one size; mixed sizes are not one video
    return KeypointFile(
        path, "coco-annotations", {path.stem: _track(picked[..., :2], picked[..., 2], name, str(path), frame_ids, size)}
    )


def _read_openpose_folder(folder: Path, layout, person) -> KeypointFile:
    videos: Dict[str, List[Tuple[int, Path]]] = {}
    for f in sorted(folder.iterdir()):
        m = _OPENPOSE_FILE.match(f.name)
        if m and f.is_file() and not f.name.startswith("."):
            videos.setdefault(m.group(1), []).append((int(m.group(2)), f))
    if not videos:
        raise H36MFormatError(f"{folder}: no OpenPose files '<name>_<frame>_keypoints.json' in the folder")
    tracks = {}
    for prefix, files in videos.items():
        name = prefix or folder.name
        where = f"{folder}/{prefix}_*_keypoints.json" if prefix else f"{folder}/*_keypoints.json"
        entries = []
        for number, f in files:
            data = _load_json(f)
            people = data.get("people") if isinstance(data, dict) else None
            if not isinstance(people, list):
                raise H36MFormatError(f"{f}: an OpenPose file needs a list 'people'")
            for p, body in enumerate(people):
                values = body.get("pose_keypoints_2d", body.get("pose_keypoints")) if isinstance(body, dict) else None
                if not values:
                    continue  # a person entry without body keypoints (face/hand-only runs)
                kp = _flat_keypoints(values, f"{f}: people[{p}]")
                if kp.shape[0] == 18:
                    raise H36MFormatError(
                        f"{f}: 18 keypoints per person is OpenPose's COCO-18 model, which weakpose "
                        f"does not convert; run OpenPose with --model_pose BODY_25 (the default)"
                    )
                entries.append((number, kp, np.nan, _track_id(body.get("person_id"))))
        body25 = {25: ("body25", 25)}
        layout_name, picked, frame_ids = _stack_people(
            entries, [n for n, _ in files], layout or "body25", where, person, body25
        )
        tracks[name] = _track(picked[..., :2], picked[..., 2], layout_name, where, frame_ids)
    return KeypointFile(folder, "openpose", tracks)


# ---------------------------------------------------------------------------------------------------------
# npz / npy readers


def _read_videopose3d(path: Path, layout) -> KeypointFile:
    positions, metadata = read_videopose3d_2d(path)
    video_meta = metadata.get("video_metadata", {}) or {}
    tracks = {}
    for video, actions in positions.items():
        vm = video_meta.get(video, {}) or {}
        size = (int(vm["w"]), int(vm["h"])) if "w" in vm and "h" in vm else None
        fps = float(vm["fps"]) if "fps" in vm else None
        for action, views in actions.items():
            for v, arr in enumerate(views):
                if arr is None:
                    continue
                where = f"{path}:positions_2d[{video!r}][{action!r}][{v}]"
                arr = np.asarray(arr)
                if arr.ndim != 3:
                    raise H36MFormatError(
                        f"{where}: 2D keypoints must have shape (T, J, 2) or (T, J, 3); got {arr.shape}"
                    )
                name = resolve_2d_layout(metadata, arr.shape[1], where, layout)
                xy, conf = check_keypoints_2d(arr, where, allow_missing=True)
                key = (
                    str(video)
                    if (action == "custom" and len(views) == 1)
                    else f"{video}/{action}" + (f"/{v}" if len(views) > 1 else "")
                )
                tracks[key] = _track(xy, conf, name, where, range(len(xy)), size, fps)
    if not tracks:
        raise H36MFormatError(f"{path}: positions_2d holds no 2D arrays")
    return KeypointFile(path, "videopose3d", tracks)


def _array_layout(num_joints: int, layout: Optional[str], where: str) -> str:
    if layout is not None:
        order = get_order(layout)
        if order.num_joints != num_joints:
            raise H36MFormatError(
                f"{where}: layout {order.name!r} has {order.num_joints} joints, the array has {num_joints}"
            )
        return order.name
    if num_joints == 17:
        raise H36MFormatError(
            f"{where}: 17 joints: pass layout='coco17' or layout='h36m17' (--layout in the "
            f"command line); the two orders share the count"
        )
    if num_joints not in _LAYOUT_BY_COUNT:
        known = ", ".join(f"{k} ({v})" for k, v in sorted({**_LAYOUT_BY_COUNT, 17: "coco17/h36m17"}.items()))
        raise H36MFormatError(f"{where}: {num_joints} joints is not a layout weakpose converts; known: {known}")
    return _LAYOUT_BY_COUNT[num_joints]


def _array_track(arr, where: str, layout) -> Track:
    arr = np.asarray(arr)
    if arr.ndim != 3 or arr.shape[-1] not in (2, 3):
        raise H36MFormatError(f"{where}: keypoints must have shape (T, J, 2) or (T, J, 3); got {arr.shape}")
    name = _array_layout(arr.shape[1], layout, where)
    xy, conf = check_keypoints_2d(arr, where, allow_missing=True)
    return _track(xy, conf, name, where, range(len(xy)))


def keypoints_from_array(keypoints, layout: Optional[str] = None, confidences=None, where: str = "keypoints") -> Track:
    """An in-memory ``(T, J, 2)`` / ``(T, J, 3)`` pixel array (third column: confidences; or ``confidences``
    ``(T, J)`` beside a ``(T, J, 2)`` array) -> a filled H36M-17 :class:`Track`, exactly as a file would be read."""
    arr = np.asarray(keypoints)
    if confidences is not None:
        conf = np.asarray(confidences, dtype=np.float64)
        if arr.ndim != 3 or arr.shape[-1] != 2 or conf.shape != arr.shape[:2]:
            raise H36MFormatError(
                f"{where}: confidences {conf.shape} need keypoints (T, J, 2) of the same T, J; got {arr.shape}"
            )
        arr = np.concatenate([arr, conf[..., None]], -1)
    return _array_track(arr, where, layout)


def _read_npy(path: Path, layout) -> KeypointFile:
    with open(path, "rb") as fh:
        head = fh.read(6)
    if head.startswith(b"PK"):  # an npz archive named .npy: np.load would hand back an archive, not an array
        return _read_npz(path, layout)
    if not head.startswith(b"\x93NUMPY"):
        raise H36MFormatError(f"{path}: not a .npy file (its first bytes are {head[:4]!r})")
    try:
        arr = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as e:  # object arrays need pickle, never allowed for user files
        raise H36MFormatError(f"{path}: cannot read as a plain .npy array ({e})") from None
    return KeypointFile(path, "array", {path.stem: _array_track(arr, str(path), layout)})


def _read_npz(path: Path, layout) -> KeypointFile:
    try:
        with SafeNpz(path) as npz:
            keys = list(npz.files)
            if "positions_2d" in keys:
                is_vp3d = True
            else:
                is_vp3d = False
                key = next((k for k in ARRAY_KEYS if k in keys), keys[0] if len(keys) == 1 else None)
                if key is None:
                    raise H36MFormatError(
                        f"{path}: no keypoint array: expected 'positions_2d' (VideoPose3D) or "
                        f"one of {list(ARRAY_KEYS)} or a single array; keys are {sorted(keys)}"
                    )
                arr = npz[key]
    except NpzFileError as e:
        raise H36MFormatError(str(e)) from None
    if is_vp3d:
        return _read_videopose3d(path, layout)
    return KeypointFile(path, "array", {path.stem: _array_track(arr, f"{path} [key {key!r}]", layout)})


# ---------------------------------------------------------------------------------------------------------
# entry point


def read_keypoints(path: PathLike, layout: Optional[str] = None, person: Person = "best") -> KeypointFile:
    """Read a 2D keypoint file (or OpenPose folder) into H36M-17 pixel tracks with missing joints filled.

    path: COCO results / annotation JSON, AlphaPose JSON, an OpenPose output folder, a VideoPose3D 2D npz, or a
        ``.npy`` / ``.npz`` array (see the module docstring for each layout).
    layout: the source joint layout ('coco17', 'h36m17', 'halpe26', 'body25', 'mpii16', 'h36m32'); needed only
        where the file cannot say (17-joint arrays); where the file says, it must agree.
    person: 'best' (see :func:`select_person`: best score, kept continuous) or a track id (AlphaPose ``idx``,
        PoseTrack ``track_id``). Single-person formats (arrays, VideoPose3D) ignore it.
    """
    person = _check_person(person)
    path = Path(path)
    layout = None if layout is None else _check_layout(layout, path)
    if path.is_dir():
        return _read_openpose_folder(path, layout, person)
    if not path.is_file():
        raise FileNotFoundError(f"{str(path)!r} does not exist or is not a file")
    suffix = path.suffix.lower()
    if suffix == ".npy":
        return _read_npy(path, layout)
    if suffix == ".npz":
        return _read_npz(path, layout)
    if suffix != ".json":
        raise H36MFormatError(
            f"{path}: unknown keypoint file type {suffix!r}; weakpose reads .json (COCO, "
            f"AlphaPose), OpenPose folders, .npz (VideoPose3D or one array) and .npy"
        )
    data = _load_json(path)
    if isinstance(data, list):
        return _read_detection_list(path, data, layout, person)
    if isinstance(data, dict) and "annotations" in data:
        return _read_coco_annotations(path, data, layout, person)
    if isinstance(data, dict) and "people" in data:
        raise H36MFormatError(
            f"{path}: one OpenPose frame; pass the folder holding all *_keypoints.json files of the video"
        )
    raise H36MFormatError(
        f"{path}: not a keypoint JSON weakpose knows (a COCO results / AlphaPose list, a COCO "
        f"annotation dict with 'images' and 'annotations', or an OpenPose folder)"
    )
