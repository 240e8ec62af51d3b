"""HumanEva-I in VideoPose3D's ``humaneva15`` layout: reading it, and evaluating lifters on it.

Facts this module relies on:

* HumanEva-I (Sigal, Balan & Black, *HumanEva: Synchronized video and motion capture dataset and baseline algorithm
  for evaluation of articulated human motion*, IJCV 2010): subjects filmed by three colour cameras C1, C2, C3
  (640x480 pixels, 60 Hz) in sync with marker motion capture.
* VideoPose3D's preparation of it (Pavllo et al., CVPR 2019):

  - ``data_3d_humaneva15.npz``: key ``positions_3d`` (a pickled dict) ->
    ``dict[subject][action] -> float32 (N, 15, 3)``, METRES, WORLD coordinates (the mocap frame; no cameras are
    stored). Subjects ``"Train/S1"`` .. ``"Train/S3"`` and ``"Validate/S1"`` .. ``"Validate/S3"``; actions such as
    ``"Walk 1 chunk0"``, ``"Jog 1 chunk1"``, ``"Box 1 chunk0"``, ``"Gestures 1"``, ``"ThrowCatch 1"`` (a sequence is
    split into chunks where the mocap dropped out).
  - ``data_2d_humaneva15_gt.npz`` (or a detector's file in the same layout): ``positions_2d`` ->
    ``dict[subject][action] -> [C1, C2, C3]`` arrays ``(N, 15, 2)`` in PIXELS (an entry may be ``None`` or
    missing); ``metadata`` -> ``{"layout_name": "humaneva15", "num_joints": 15,
    "keypoints_symmetry": [[2, 3, 4, 8, 9, 10], [5, 6, 7, 11, 12, 13]]}``.
  - Joint order :data:`HUMANEVA15`: pelvis (root), thorax, l/r shoulder, elbow, wrist, l/r hip, knee, ankle, head.

Protocol of the literature: train on the ``Train/`` subjects, evaluate on the ``Validate/`` subjects, actions Walk,
Jog and Box, P-MPJPE (Protocol #2) per action and subject. Because the npz holds no camera parameters, the
camera-frame ground truth a lifter predicts cannot be rebuilt from it; the only honest error is a
rotation-invariant one: :func:`evaluate_humaneva` scores P-MPJPE (similarity Procrustes, rotation without
reflection, scale, translation) on the 15 joints against the root-relative WORLD 3D, which is exactly what a
camera-frame comparison followed by Procrustes would give.

Lifters trained on Human3.6M take and predict H36M-17; :func:`humaneva15_to_h36m17` builds their input and
:data:`H36M17_TO_HUMANEVA15` picks the 15 comparable joints of their output. The derived joints are an
approximation (see the converter); a lifter trained on ``humaneva15`` itself avoids them.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Optional, Sequence, Tuple

import numpy as np
import torch

from weakpose.data.h36m.readers import (
    H36MFormatError,
    check_keypoints_2d,
    check_pixel_units,
    read_videopose3d_2d,
    read_videopose3d_3d,
)
from weakpose.data.h36m.report import LENGTH_MISMATCH, LENGTH_TRIMMED, MISSING_2D, LoadReport
from weakpose.metrics import EvaluationTable, Protocol, base_action
from weakpose.safe_npz import NpzFileError, SafeNpz
from weakpose.skeleton import H36M17, JointOrder, flip_joints

log = logging.getLogger(__name__)

__all__ = [
    "HUMANEVA15",
    "HUMANEVA_CAMERAS",
    "HUMANEVA_IMAGE_SIZE",
    "HUMANEVA_FPS",
    "HUMANEVA_PROTOCOL_ACTIONS",
    "MAX_TRIM_FRAMES",
    "H36M17_TO_HUMANEVA15",
    "HumanEvaView",
    "HumanEvaViews",
    "HumanEvaLoadReport",
    "is_humaneva_file",
    "load_humaneva",
    "humaneva15_to_h36m17",
    "evaluate_humaneva",
    "humaneva_protocol",
]

HUMANEVA15 = JointOrder(
    name="humaneva15",
    joints=(
        "pelvis",
        "thorax",
        "lsho",
        "lelb",
        "lwri",
        "rsho",
        "relb",
        "rwri",
        "lhip",
        "lkne",
        "lank",
        "rhip",
        "rkne",
        "rank",
        "head",
    ),
    parents=(-1, 0, 1, 2, 3, 1, 5, 6, 0, 8, 9, 0, 11, 12, 1),
    left=(2, 3, 4, 8, 9, 10),
    right=(5, 6, 7, 11, 12, 13),
)

HUMANEVA_CAMERAS = ("C1", "C2", "C3")  # the order of the per-camera list in positions_2d
HUMANEVA_IMAGE_SIZE = (640, 480)  # (width, height) of the colour cameras, pixels
HUMANEVA_FPS = 60.0
HUMANEVA_PROTOCOL_ACTIONS = ("Walk", "Jog", "Box")  # the actions results are reported on
MAX_TRIM_FRAMES = 5  # 2D/3D length differences up to this are trimmed; larger ones mean a wrong pairing

# For every HumanEva-15 joint, the H36M-17 joint of the same name (Hip, Thorax, LShoulder, LElbow, LWrist,
# RShoulder, RElbow, RWrist, LHip, LKnee, LFoot, RHip, RKnee, RFoot, Head): H36M-17 output -> HumanEva-15.
H36M17_TO_HUMANEVA15 = np.array(
    [
        H36M17.index(n)
        for n in (
            "Hip",
            "Thorax",
            "LShoulder",
            "LElbow",
            "LWrist",
            "RShoulder",
            "RElbow",
            "RWrist",
            "LHip",
            "LKnee",
            "LFoot",
            "RHip",
            "RKnee",
            "RFoot",
            "Head",
        )
    ]
)

# H36M-17 joints taken over unchanged from a HumanEva-15 joint (H36M-17 index -> HumanEva-15 index).
_DIRECT = {int(h): i for i, h in enumerate(H36M17_TO_HUMANEVA15)}
_SPINE, _NECK = H36M17.index("Spine"), H36M17.index("Neck/Nose")
_PELVIS, _THORAX, _HEAD = HUMANEVA15.index("pelvis"), HUMANEVA15.index("thorax"), HUMANEVA15.index("head")
# Neck/Nose sits between the thorax and the head; halfway, as weakpose's MPII-16 converter places it.
_NECK_FRACTION = 0.5
_MAX_ABS_METRES = 100.0  # a capture room never spans 100 m: larger coordinates are not metres


class HumanEvaLoadReport(LoadReport):
    """:class:`~weakpose.data.h36m.report.LoadReport` of a HumanEva load (same reasons and entries)."""

    def summary(self, max_lines: int = 20) -> str:
        return super().summary(max_lines).replace("Human3.6M load report", "HumanEva-I load report", 1)


@dataclass
class HumanEvaView:
    """One camera view of one HumanEva sequence.

    keypoints_2d: ``(N, 15, 2)`` float32 pixels (HUMANEVA15 order). positions_3d: ``(N, 15, 3)`` float32 world
    metres, the same frames (not root-relative: the file's values). image_size: ``(width, height)`` pixels.
    confidence: ``(N, 15)`` float32 when the 2D file carries a third column (detections), else None.
    """

    subject: str
    action: str
    camera: str
    keypoints_2d: np.ndarray
    positions_3d: np.ndarray
    image_size: Tuple[int, int] = HUMANEVA_IMAGE_SIZE
    confidence: Optional[np.ndarray] = None

    @property
    def frames(self) -> int:
        return int(self.keypoints_2d.shape[0])


class HumanEvaViews(list):
    """A list of :class:`HumanEvaView` with the :class:`HumanEvaLoadReport` (``.report``) of what was skipped,
    trimmed and loaded."""

    def __init__(self, views: Iterable[HumanEvaView] = (), report: Optional[HumanEvaLoadReport] = None):
        super().__init__(views)
        self.report = report if report is not None else HumanEvaLoadReport()


# ---------------------------------------------------------------------------------------------------------
# reading


def is_humaneva_file(path) -> bool:
    """Whether ``path`` is a VideoPose3D 3D npz of HumanEva: ``positions_3d`` whose subjects start with ``Train/``
    or ``Validate/``, or whose arrays have 15 joints. Never raises: anything unreadable is simply not one."""
    path = Path(path)
    if not path.is_file():
        return False
    try:
        with SafeNpz(path) as npz:
            if "positions_3d" not in npz:
                return False
            data = npz["positions_3d"]
    except (NpzFileError, OSError):
        return False
    if not isinstance(data, dict):
        return False
    for subject, actions in data.items():
        if str(subject).startswith(("Train/", "Validate/")):
            return True
        if isinstance(actions, dict):
            for arr in actions.values():
                shape = getattr(arr, "shape", ())
                return len(shape) == 3 and shape[1:] == (15, 3)  # one array decides: the file is uniform
    return False


def _check_positions_15(arr, where: str) -> np.ndarray:
    """Validate HumanEva 3D positions ``(N, 15, 3)`` in metres; return float32."""
    try:
        out = np.asarray(arr)
    except Exception as e:  # ragged lists and the like
        raise H36MFormatError(f"{where}: not an array ({e})") from None
    if not (np.issubdtype(out.dtype, np.floating) or np.issubdtype(out.dtype, np.integer)):
        raise H36MFormatError(f"{where}: expected a numeric array, got dtype {out.dtype}")
    if out.ndim != 3 or out.shape[1:] != (15, 3):
        raise H36MFormatError(f"{where}: HumanEva 3D positions must have shape (N, 15, 3); got {out.shape}")
    if out.shape[0] == 0:
        raise H36MFormatError(f"{where}: 3D positions have no frames (shape {out.shape})")
    if not np.isfinite(out).all():
        raise H36MFormatError(f"{where}: {int((~np.isfinite(out)).sum())} NaN/inf values in shape {out.shape}")
    biggest = float(np.abs(out).max())
    if biggest > _MAX_ABS_METRES:
        raise H36MFormatError(
            f"{where}: 3D coordinates reach {biggest:.1f}; expected metres (divide a file in millimetres by 1000)"
        )
    return out.astype(np.float32, copy=False)


def _check_metadata(metadata: dict, path_2d) -> None:
    """Refuse a 2D file that declares another layout or joint count (read as HumanEva, every joint would be
    wrong); a file without metadata is checked per array (15 joints)."""
    name = metadata.get("layout_name")
    if name is not None and str(name).lower() != HUMANEVA15.name:
        raise H36MFormatError(
            f"{path_2d}: metadata layout_name is {name!r}; a HumanEva 2D file in VideoPose3D's "
            f"layout has layout_name 'humaneva15'"
        )
    count = metadata.get("num_joints")
    if count is not None and int(count) != HUMANEVA15.num_joints:
        raise H36MFormatError(f"{path_2d}: metadata num_joints is {count}; HumanEva's humaneva15 layout has 15")
    symmetry = metadata.get("keypoints_symmetry")
    if symmetry is not None:
        try:
            left, right = ({int(i) for i in np.asarray(s).ravel()} for s in symmetry)
        except (TypeError, ValueError):
            raise H36MFormatError(
                f"{path_2d}: metadata keypoints_symmetry {symmetry!r} is not two index lists"
            ) from None
        if left != set(HUMANEVA15.left) or right != set(HUMANEVA15.right):
            raise H36MFormatError(
                f"{path_2d}: keypoints_symmetry {[sorted(left), sorted(right)]} does not match "
                f"humaneva15 (left {list(HUMANEVA15.left)}, right {list(HUMANEVA15.right)})"
            )


def _image_size(metadata: dict, subject: str, where: str) -> Tuple[int, int]:
    """``metadata["video_metadata"][subject] = {"w", "h"}`` when the file gives it, else 640x480."""
    vm = (metadata.get("video_metadata") or {}).get(subject)
    if vm is None:
        return HUMANEVA_IMAGE_SIZE
    try:
        w, h = int(vm["w"]), int(vm["h"])
    except (KeyError, TypeError, ValueError):
        raise H36MFormatError(
            f"{where}: video_metadata[{subject!r}] must be {{'w': width, 'h': height}}; got {vm!r}"
        ) from None
    if w < 1 or h < 1:
        raise H36MFormatError(f"{where}: video_metadata[{subject!r}] gives an image size of {w}x{h}")
    return w, h


def _wanted(action: str, actions: Optional[Sequence[str]]) -> bool:
    return actions is None or base_action(action) in actions or action in actions


def load_humaneva(
    path_3d, path_2d, subjects: Optional[Sequence[str]] = None, actions: Optional[Sequence[str]] = None
) -> HumanEvaViews:
    """Read a VideoPose3D HumanEva pair into one :class:`HumanEvaView` per (subject, action, camera).

    path_3d: ``data_3d_humaneva15.npz`` (world metres). path_2d: ``data_2d_humaneva15_gt.npz`` or a detector's file
    in the same layout (pixels, cameras C1, C2, C3). subjects: full names as in the file (``"Validate/S1"``);
    default: every ``Validate/`` subject (the evaluation split). actions: base names (``["Walk", "Jog", "Box"]``,
    see :data:`HUMANEVA_PROTOCOL_ACTIONS`) or full names (``"Walk 1 chunk0"``); default all.

    Views whose 2D is missing are skipped; where a view's 2D and 3D lengths differ by at most
    :data:`MAX_TRIM_FRAMES` both are cut to the shorter (with a warning), beyond that the view is skipped. Every
    skip and trim is in the returned list's ``.report``. Wrong shapes, non-finite values, a 2D file of another
    layout or a subject not in the file raise :class:`~weakpose.data.h36m.readers.H36MFormatError` (a
    ``ValueError``) naming the file and key.
    """
    positions_3d = read_videopose3d_3d(path_3d)
    positions_2d, metadata = read_videopose3d_2d(path_2d)
    _check_metadata(metadata, path_2d)
    report = HumanEvaLoadReport(source=f"{Path(path_3d).name} + {Path(path_2d).name}")

    if subjects is None:
        subjects = [s for s in positions_3d if str(s).startswith("Validate/")]
        if not subjects:
            raise H36MFormatError(
                f"{path_3d}: no 'Validate/' subjects in positions_3d (subjects: {sorted(positions_3d)}); pass subjects="
            )
    else:
        subjects = [subjects] if isinstance(subjects, str) else list(subjects)
        unknown = [s for s in subjects if s not in positions_3d]
        if unknown:
            raise H36MFormatError(
                f"{path_3d}: subjects {unknown} are not in positions_3d (subjects: "
                f"{sorted(positions_3d)}); HumanEva subjects are named 'Train/S1', 'Validate/S1'"
            )
    actions = None if actions is None else ([actions] if isinstance(actions, str) else list(actions))

    views = HumanEvaViews(report=report)
    for subject in subjects:
        for action, arr in positions_3d[subject].items():
            if not _wanted(action, actions):
                continue
            report.found.append((subject, action))
            pos = _check_positions_15(arr, f"{path_3d}:positions_3d[{subject!r}][{action!r}]")
            cams = positions_2d.get(subject, {}).get(action)
            if cams is None:
                report.add(subject, action, MISSING_2D, f"no positions_2d[{subject!r}][{action!r}] in {path_2d}")
                continue
            where_2d = f"{path_2d}:positions_2d[{subject!r}][{action!r}]"
            if len(cams) > len(HUMANEVA_CAMERAS):
                raise H36MFormatError(f"{where_2d}: {len(cams)} camera arrays; HumanEva-I has 3 (C1, C2, C3)")
            size = _image_size(metadata, subject, where_2d)
            loaded = False
            for c, camera in enumerate(HUMANEVA_CAMERAS):
                raw = cams[c] if c < len(cams) else None
                if raw is None:
                    report.add(subject, action, MISSING_2D, "no 2D for this camera", camera=camera)
                    continue
                where = f"{where_2d}[{c}]"
                xy, conf = check_keypoints_2d(raw, where, num_joints=HUMANEVA15.num_joints)
                check_pixel_units(xy, where)
                n2, n3 = xy.shape[0], pos.shape[0]
                p3 = pos
                if n2 != n3:
                    detail = f"2D {n2} frames, 3D {n3} frames"
                    if abs(n2 - n3) > MAX_TRIM_FRAMES:
                        report.add(
                            subject,
                            action,
                            LENGTH_MISMATCH,
                            f"{detail}: differ by more than {MAX_TRIM_FRAMES}; view skipped",
                            camera=camera,
                        )
                        log.warning("%s: %s; view skipped", where, detail)
                        continue
                    n = min(n2, n3)
                    warnings.warn(f"{where}: {detail}; both trimmed to the first {n} frames", stacklevel=2)
                    report.add(subject, action, LENGTH_TRIMMED, f"{detail}: trimmed to {n}", camera=camera)
                    xy, p3 = xy[:n], pos[:n]
                    conf = None if conf is None else conf[:n]
                views.append(
                    HumanEvaView(
                        subject,
                        action,
                        camera,
                        np.ascontiguousarray(xy, np.float32),
                        np.ascontiguousarray(p3, np.float32),
                        size,
                        None if conf is None else np.ascontiguousarray(conf, np.float32),
                    )
                )
                loaded = True
            if loaded:
                report.loaded.append((subject, action))
    if report.entries:
        log.info("%s", report.summary())
    return views


# ---------------------------------------------------------------------------------------------------------
# joints


def humaneva15_to_h36m17(x, conf=None):
    """HumanEva-15 joints -> the H36M-17 joints a Human3.6M lifter takes: ``(..., 15, D) -> (..., 17, D)``.

    NumPy arrays or torch tensors (the same type comes back), 2D pixels / normalised coordinates or 3D alike.
    Returns ``(x17, conf17)`` like the converters of :mod:`weakpose.skeleton`; ``conf17`` is all ones without
    ``conf`` (``(..., 15)``).

    Fifteen joints map directly (pelvis -> Hip, thorax -> Thorax, shoulders, elbows, wrists, hips, knees, ankles
    -> Feet, and HumanEva's head -> Head). Two are derived, with the smaller confidence of their sources:
    Spine = midpoint of pelvis and thorax; Neck/Nose = thorax + 0.5 (head - thorax). These are an APPROXIMATION:
    HumanEva's "head" is the centre of the head while H36M's Head is the top of the skull, so Head sits lower
    than a Human3.6M lifter expects and Neck/Nose with it; the lifter's input is slightly off-distribution and its
    predicted Head is compared with the head centre. A lifter trained on ``humaneva15`` directly avoids both.
    """
    if x.ndim < 2 or x.shape[-2] != HUMANEVA15.num_joints:
        raise ValueError(f"HumanEva-15 joints must have shape (..., 15, D); got {tuple(x.shape)}")
    is_torch = isinstance(x, torch.Tensor)
    if conf is None:
        conf = (
            torch.ones(x.shape[:-1], dtype=x.dtype if x.is_floating_point() else torch.float32, device=x.device)
            if is_torch
            else np.ones(x.shape[:-1], dtype=x.dtype if np.issubdtype(x.dtype, np.floating) else np.float32)
        )
    elif tuple(conf.shape) != tuple(x.shape[:-1]):
        raise ValueError(f"confidences must have shape {tuple(x.shape[:-1])}; got {tuple(conf.shape)}")
    minimum = torch.minimum if is_torch else np.minimum
    pelvis, thorax, head = x[..., _PELVIS, :], x[..., _THORAX, :], x[..., _HEAD, :]
    joints, confs = [], []
    for j in range(H36M17.num_joints):
        if j in _DIRECT:
            joints.append(x[..., _DIRECT[j], :])
            confs.append(conf[..., _DIRECT[j]])
        elif j == _SPINE:
            joints.append(0.5 * (pelvis + thorax))
            confs.append(minimum(conf[..., _PELVIS], conf[..., _THORAX]))
        else:  # Neck/Nose
            joints.append(thorax + _NECK_FRACTION * (head - thorax))
            confs.append(minimum(conf[..., _THORAX], conf[..., _HEAD]))
    if is_torch:
        return torch.stack(joints, dim=-2), torch.stack(confs, dim=-1)
    return np.stack(joints, axis=-2), np.stack(confs, axis=-1)


# ---------------------------------------------------------------------------------------------------------
# evaluation


def humaneva_protocol(two_d_source: str = "GT", flip: bool = False, exclusions: Iterable[str] = ()) -> Protocol:
    """The protocol line of :func:`evaluate_humaneva`."""
    return Protocol(
        joints="HumanEva-I 15 joints, root included",
        alignment="P-MPJPE similarity Procrustes (no reflection) against world 3D: the npz has no cameras",
        two_d_source=two_d_source,
        stride=1,
        flip_augmentation=bool(flip),
        exclusions=tuple(exclusions),
        averaging="actions",
    )


def _input_joints(model) -> int:
    """Joints the lifter takes: ``num_joints_in`` (temporal), ``num_joints`` (MLP), a wrapped ``lifter``'s, else 17
    (weakpose's saved lifters are H36M-17)."""
    for obj in (model, getattr(model, "lifter", None)):
        for name in ("num_joints_in", "num_joints"):
            value = getattr(obj, name, None)
            if isinstance(value, int):
                return value
    return H36M17.num_joints


def _order_of(num_joints: int, what: str) -> JointOrder:
    if num_joints == HUMANEVA15.num_joints:
        return HUMANEVA15
    if num_joints == H36M17.num_joints:
        return H36M17
    raise ValueError(
        f"evaluate_humaneva: the lifter's {what} has {num_joints} joints; HumanEva evaluation takes "
        f"lifters of 15 (humaneva15) or 17 (H36M-17) joints"
    )


def _model_input(view: HumanEvaView, order: JointOrder, in_features: int) -> np.ndarray:
    """A view's 2D in the lifter's layout, normalised screen coordinates (u/w*2-1, v/w*2-h/w), (N, J, F)."""
    from weakpose.geometry.camera import normalize_screen_coordinates

    w, h = view.image_size
    xy = np.asarray(normalize_screen_coordinates(view.keypoints_2d.astype(np.float64), w, h))
    conf = view.confidence if view.confidence is not None else np.ones(xy.shape[:-1])
    if order is H36M17:
        xy, conf = humaneva15_to_h36m17(xy, np.asarray(conf, np.float64))
    if in_features == 3:
        return np.concatenate([xy, conf[..., None]], axis=-1)
    if in_features != 2:
        raise ValueError(
            f"evaluate_humaneva: lifters with {in_features} input features per joint are not supported "
            f"(2: u, v; 3: u, v, confidence)"
        )
    return xy


@torch.no_grad()
def _predict(model, x: torch.Tensor, in_order: JointOrder, flip: bool, batch_size: int) -> torch.Tensor:
    """(N, J_in, F) -> (N, J_out, 3) root-relative camera-frame predictions."""
    if callable(getattr(model, "lift_sequence", None)):
        # A temporal lifter: the whole sequence at once, edge-padded, so frame t's pose is its own window's.
        flip_spec = None
        if flip:
            flip_spec = (in_order, _order_of(int(getattr(model, "num_joints_out", in_order.num_joints)), "output"))
        return model.lift_sequence(x, flip=flip_spec)
    outs = []
    for s in range(0, x.shape[0], batch_size):
        xb = x[s : s + batch_size]
        y = model(xb)
        if not isinstance(y, torch.Tensor) or y.dim() != 3 or y.shape[-1] != 3:
            raise ValueError(
                f"evaluate_humaneva: a single-frame lifter must return a tensor (B, J, 3); got "
                f"{type(y).__name__} {tuple(getattr(y, 'shape', ()))}"
            )
        if flip:  # VideoPose3D's test-time flip: average with the mirrored input's mirrored output
            y_flip = model(flip_joints(xb, in_order, axis=0))
            y = 0.5 * (y + flip_joints(y_flip, _order_of(y_flip.shape[-2], "output"), axis=0))
        outs.append(y)
    return torch.cat(outs, dim=0)


def evaluate_humaneva(
    model,
    views: Sequence[HumanEvaView],
    flip: bool = False,
    two_d_source: str = "GT",
    by_subject: bool = False,
    batch_size: int = 1024,
    device=None,
) -> Tuple[EvaluationTable, Protocol]:
    """P-MPJPE of a 2D->3D lifter on HumanEva views; returns ``(table, protocol)`` -- print
    ``table.format(protocol)``.

    For each view the 2D goes in the lifter's layout (``num_joints_in`` 15: as is, a lifter trained on
    ``humaneva15``; 17: via :func:`humaneva15_to_h36m17`), normalised by the view's image size. Temporal lifters
    (with ``lift_sequence``) lift the whole sequence; single-frame lifters run in batches of ``batch_size`` frames.
    ``flip`` averages with the mirrored input (left/right by the matching joint order). An H36M-17 output is cut to
    the 15 HumanEva joints (:data:`H36M17_TO_HUMANEVA15`).

    The score is P-MPJPE per frame (metres; tables print mm) on the 15 joints against the root-relative WORLD 3D:
    the npz has no cameras, and P-MPJPE is invariant to the rotation and translation that separate the camera
    frame from the world. Rows are actions with sub-actions and chunks merged (``"Walk 1 chunk0"`` -> ``"Walk"``,
    by :func:`weakpose.metrics.base_action`), cameras and subjects pooled frame-weighted; with ``by_subject`` rows
    are ``"Walk/S1"`` etc. (the literature's per-action-and-subject cells). The protocol's exclusions list what
    the loader skipped (``views.report``). The model is put in eval mode.
    """
    if len(views) == 0:
        raise ValueError("evaluate_humaneva: no views to evaluate (check the subjects and actions selected)")
    model.eval()
    params = next(iter(model.parameters()), None)
    dtype = params.dtype if params is not None else torch.float32
    device = torch.device(device) if device is not None else (params.device if params is not None else "cpu")
    in_order = _order_of(_input_joints(model), "input")
    in_features = int(getattr(model, "in_features", 2))

    table = EvaluationTable(metrics=("p_mpjpe",))
    for view in views:
        x = torch.as_tensor(_model_input(view, in_order, in_features), dtype=dtype, device=device)
        pred = _predict(model, x, in_order, flip, batch_size).detach().double().cpu().numpy()
        if pred.shape[0] != view.frames:
            raise ValueError(
                f"evaluate_humaneva: {view.subject}/{view.action} {view.camera}: the lifter returned "
                f"{pred.shape[0]} frames for {view.frames}"
            )
        if _order_of(pred.shape[-2], "output") is H36M17:
            pred = pred[:, H36M17_TO_HUMANEVA15]
        target = view.positions_3d.astype(np.float64)
        target = target - target[:, _PELVIS : _PELVIS + 1]
        # The table merges sub-actions itself; a per-subject row needs the subject in a name without spaces.
        action = f"{base_action(view.action)}/{view.subject.rsplit('/', 1)[-1]}" if by_subject else view.action
        table.add(view.subject, action, pred, target)
    report = getattr(views, "report", None)
    exclusions = (
        []
        if report is None
        else [f"{e.subject}/{e.action}" + (f" {e.camera}" if e.camera else "") for e in report.skipped()]
    )
    return table, humaneva_protocol(two_d_source, flip, exclusions)
