"""3D pose metrics and per-action evaluation tables.

Poses are arrays of shape (..., J, 3) in METRES, NumPy or torch. Distances come back in metres (tables print mm);
PCK and AUC come back as fractions in [0, 1] (tables print percent). When any input is a torch tensor the result is a
torch tensor on that device (differentiable: the metrics double as losses); otherwise NumPy (a ``np.float64`` for the
scalar metrics). Joint order is whatever the caller uses; ``root`` names the root joint (0 = Hip in H36M-17).

Conventions (see docs/formats.md, "Metrics"):

- MPJPE, Protocol #1: mean Euclidean distance over all joints, root included, after subtracting the root joint from
  both poses (Martinez et al. 2017; Pavllo et al. 2019, VideoPose3D). ``root=None`` compares absolute positions.
- P-MPJPE, Protocol #2: after a per-frame similarity Procrustes alignment of the prediction to the target (rotation
  WITHOUT reflection, isotropic scale, translation), via ``weakpose.geometry.procrustes.procrustes_align``.
- N-MPJPE: after scaling the root-centred prediction by the per-frame least-squares factor s = <p, g> / <p, p>
  (Rhodin et al. 2018, "Unsupervised geometry-aware representation learning for 3D human pose estimation").
- MPJVE: MPJPE of first differences along the time axis (axis -3), root-relative by default (VideoPose3D);
  metres per frame.
- PCK: fraction of joints whose root-relative error is strictly below 150 mm; AUC: mean PCK over the 31 thresholds
  0, 5, ..., 150 mm (MPI-INF-3DHP evaluation convention, Mehta et al. 2017).
- ``pose_errors``: MPJPE, N-MPJPE and P-MPJPE of a torch batch as a dict of millimetres; ``silhouette_iou``: the
  intersection over union of binarised ``(..., H, W)`` silhouettes per image (torch), for body regressors.

`EvaluationTable` accumulates per-frame errors per (subject, action), merges sub-actions ("Walking 1" -> "Walking")
and reports both the mean over actions (each action weighted equally: what lifting papers report) and the
frame-weighted mean, always printed together with a `Protocol` line.
"""

from __future__ import annotations

import csv
import json
import os
from dataclasses import asdict, dataclass, field
from typing import Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import torch

from weakpose.arrays import is_torch
from weakpose.geometry.procrustes import procrustes_align
from weakpose.io_utils import atomic_write_path

ArrayLike = Union[np.ndarray, torch.Tensor]

__all__ = [
    "ALIGNMENTS",
    "AUC_THRESHOLDS",
    "METRICS",
    "PCK_THRESHOLD",
    "ActionRow",
    "EvaluationTable",
    "Protocol",
    "TableSummary",
    "auc",
    "auc_per_frame",
    "base_action",
    "joint_errors",
    "mpjpe",
    "mpjpe_per_frame",
    "mpjve",
    "mpjve_per_frame",
    "n_mpjpe",
    "n_mpjpe_per_frame",
    "p_mpjpe",
    "p_mpjpe_per_frame",
    "pck",
    "pck_per_frame",
    "pose_errors",
    "silhouette_iou",
]

PCK_THRESHOLD = 0.15  # metres
AUC_THRESHOLDS = np.linspace(0.0, 0.15, 31)  # metres: 0, 5, ..., 150 mm
ALIGNMENTS = ("none", "root", "scale", "procrustes")


# ---------------------------------------------------------------------------------------------------------------
# Input handling: one torch code path for both array types.


def _shape_str(shape) -> str:
    return "(" + ", ".join(str(int(s)) for s in shape) + ")"


def _prepare(fn: str, pred, target, *, root: Optional[int] = None, min_frames: int = 0):
    """Validate a (pred, target) pair and return them as torch tensors plus the 'return torch' flag.

    NumPy inputs become float64 tensors (no copy where possible); torch inputs keep their floating dtype, device and
    autograd graph. Raises ValueError naming the offending shapes, root index or non-finite values.
    """
    as_torch = is_torch(pred) or is_torch(target)
    if not is_torch(pred):
        pred = np.asarray(pred)
    if not is_torch(target):
        target = np.asarray(target)
    if tuple(pred.shape) != tuple(target.shape):
        raise ValueError(
            f"{fn}: pred has shape {_shape_str(pred.shape)} but target has shape {_shape_str(target.shape)}; "
            "expected two arrays of the same shape (..., J, 3)"
        )
    if len(pred.shape) < 2 or pred.shape[-1] != 3 or pred.shape[-2] < 1:
        raise ValueError(f"{fn}: expected poses of shape (..., J, 3) with J >= 1, got {_shape_str(pred.shape)}")
    if min_frames and (len(pred.shape) < 3 or pred.shape[-3] < min_frames):
        raise ValueError(
            f"{fn}: expected a sequence of shape (..., N, J, 3) with N >= {min_frames} frames along axis -3, "
            f"got {_shape_str(pred.shape)}"
        )
    num_joints = pred.shape[-2]
    if root is not None and not -num_joints <= int(root) < num_joints:
        raise ValueError(f"{fn}: root joint index {root} is out of range for {num_joints} joints")

    if as_torch:
        ref = pred if is_torch(pred) else target
        dtype = ref.dtype if ref.is_floating_point() else torch.get_default_dtype()
        if is_torch(pred) and is_torch(target):
            if pred.device != target.device:
                raise ValueError(f"{fn}: pred is on {pred.device} but target is on {target.device}")
            dtype = torch.promote_types(pred.dtype, target.dtype)
            if not dtype.is_floating_point:
                dtype = torch.get_default_dtype()
        pred = torch.as_tensor(pred, dtype=dtype, device=ref.device)
        target = torch.as_tensor(target, dtype=dtype, device=ref.device)
    else:
        pred = torch.from_numpy(np.ascontiguousarray(pred, dtype=np.float64))
        target = torch.from_numpy(np.ascontiguousarray(target, dtype=np.float64))

    for name, x in (("pred", pred), ("target", target)):
        finite = torch.isfinite(x)
        if not bool(finite.all()):
            bad = int((~finite).sum())
            raise ValueError(
                f"{fn}: {name} of shape {_shape_str(x.shape)} contains {bad} non-finite value(s) (NaN or inf)"
            )
    return pred, target, as_torch


def _out_array(x: torch.Tensor, as_torch: bool) -> ArrayLike:
    return x if as_torch else x.detach().cpu().numpy()


def _out_scalar(x: torch.Tensor, as_torch: bool):
    return x if as_torch else np.float64(x.detach().cpu().item())


def _root_relative(x: torch.Tensor, root: Optional[int]) -> torch.Tensor:
    if root is None:
        return x
    return x - x[..., root : root + 1, :]


def _ls_scale(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per-frame least-squares scale s = <p, g> / <p, p> applied to ``pred`` (Rhodin et al. 2018).

    A prediction that is all zeros stays zero (any s fits it equally badly), so s = 0 is used there.
    """
    pg = (pred * target).sum(dim=(-2, -1), keepdim=True)
    pp = (pred * pred).sum(dim=(-2, -1), keepdim=True)
    safe_pp = torch.where(pp > 0, pp, torch.ones_like(pp))
    scale = torch.where(pp > 0, pg / safe_pp, torch.zeros_like(pp))
    return scale * pred


def _align(pred: torch.Tensor, target: torch.Tensor, alignment: str, root: Optional[int]):
    """Return (pred, target) after the named alignment; see `joint_errors`."""
    if alignment == "none":
        return pred, target
    if alignment == "root":
        return _root_relative(pred, root), _root_relative(target, root)
    if alignment == "scale":
        pred, target = _root_relative(pred, root), _root_relative(target, root)
        return _ls_scale(pred, target), target
    if alignment == "procrustes":
        # Translation is part of the similarity transform, so root-centring first would change nothing.
        return procrustes_align(pred, target), target
    raise ValueError(f"unknown alignment {alignment!r}; expected one of {ALIGNMENTS}")


def _distances(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return torch.linalg.vector_norm(pred - target, dim=-1)


def _select_joints(err: torch.Tensor, joints: Optional[Sequence[int]], fn: str) -> torch.Tensor:
    if joints is None:
        return err
    index = torch.as_tensor(list(joints), dtype=torch.long, device=err.device)
    num_joints = err.shape[-1]
    if index.numel() == 0 or bool(((index < -num_joints) | (index >= num_joints)).any()):
        raise ValueError(f"{fn}: joint subset {list(joints)} is empty or out of range for {num_joints} joints")
    return err.index_select(-1, index % num_joints)


# ---------------------------------------------------------------------------------------------------------------
# Per-joint errors and the distance metrics.


def joint_errors(
    pred: ArrayLike,
    target: ArrayLike,
    alignment: str = "root",
    root: Optional[int] = 0,
    joints: Optional[Sequence[int]] = None,
) -> ArrayLike:
    """Per-joint Euclidean errors (..., J) in metres after an alignment of ``pred`` to ``target``.

    alignment: "none" (absolute positions), "root" (both root-relative; Protocol #1), "scale" (root-relative, then
    the prediction scaled by the per-frame least-squares factor; N-MPJPE), "procrustes" (per-frame similarity
    Procrustes without reflection; Protocol #2, ``root`` unused). ``joints`` optionally keeps a subset of joints
    after alignment (the alignment itself always uses all joints).
    """
    if alignment not in ALIGNMENTS:
        raise ValueError(f"joint_errors: unknown alignment {alignment!r}; expected one of {ALIGNMENTS}")
    p, g, as_torch = _prepare("joint_errors", pred, target, root=root)
    err = _distances(*_align(p, g, alignment, root))
    return _out_array(_select_joints(err, joints, "joint_errors"), as_torch)


def mpjpe_per_frame(pred: ArrayLike, target: ArrayLike, root: Optional[int] = 0) -> ArrayLike:
    """MPJPE of every frame (...,) in metres: mean over joints, root included, root-relative
    (``root=None``: absolute positions)."""
    p, g, as_torch = _prepare("mpjpe", pred, target, root=root)
    return _out_array(_distances(*_align(p, g, "root", root)).mean(dim=-1), as_torch)


def mpjpe(pred: ArrayLike, target: ArrayLike, root: Optional[int] = 0):
    """Mean per-joint position error (Protocol #1) in metres over all frames and joints; see `mpjpe_per_frame`."""
    p, g, as_torch = _prepare("mpjpe", pred, target, root=root)
    return _out_scalar(_distances(*_align(p, g, "root", root)).mean(), as_torch)


def p_mpjpe_per_frame(pred: ArrayLike, target: ArrayLike) -> ArrayLike:
    """P-MPJPE of every frame (...,) in metres: MPJPE after per-frame similarity Procrustes, no reflection."""
    p, g, as_torch = _prepare("p_mpjpe", pred, target)
    return _out_array(_distances(*_align(p, g, "procrustes", None)).mean(dim=-1), as_torch)


def p_mpjpe(pred: ArrayLike, target: ArrayLike):
    """Procrustes-aligned MPJPE (Protocol #2) in metres: rotation (det +1), isotropic scale and translation are
    fitted per frame to ``target`` before measuring, so a mirror image is NOT aligned away."""
    p, g, as_torch = _prepare("p_mpjpe", pred, target)
    return _out_scalar(_distances(*_align(p, g, "procrustes", None)).mean(), as_torch)


def n_mpjpe_per_frame(pred: ArrayLike, target: ArrayLike, root: Optional[int] = 0) -> ArrayLike:
    """N-MPJPE of every frame (...,) in metres; see `n_mpjpe`."""
    p, g, as_torch = _prepare("n_mpjpe", pred, target, root=root)
    return _out_array(_distances(*_align(p, g, "scale", root)).mean(dim=-1), as_torch)


def n_mpjpe(pred: ArrayLike, target: ArrayLike, root: Optional[int] = 0):
    """Scale-normalised MPJPE (Rhodin et al. 2018) in metres.

    Both poses are centred on joint ``root`` (``root=None``: used as given, scale about the origin); the centred
    prediction p is multiplied by the per-frame least-squares scale s = <p, g> / <p, p> (sums over joints and
    coordinates) before the root-relative MPJPE is taken.
    """
    p, g, as_torch = _prepare("n_mpjpe", pred, target, root=root)
    return _out_scalar(_distances(*_align(p, g, "scale", root)).mean(), as_torch)


def _velocity_errors(fn: str, pred, target, root):
    p, g, as_torch = _prepare(fn, pred, target, root=root, min_frames=2)
    p, g = _root_relative(p, root), _root_relative(g, root)
    # Time is axis -3 of (..., N, J, 3).
    err = _distances(torch.diff(p, dim=-3), torch.diff(g, dim=-3))
    return err, as_torch


def mpjve_per_frame(pred: ArrayLike, target: ArrayLike, root: Optional[int] = 0) -> ArrayLike:
    """Velocity error of every consecutive frame pair (..., N-1) in metres per frame; see `mpjve`."""
    err, as_torch = _velocity_errors("mpjve", pred, target, root)
    return _out_array(err.mean(dim=-1), as_torch)


def mpjve(pred: ArrayLike, target: ArrayLike, root: Optional[int] = 0):
    """Mean per-joint velocity error (Pavllo et al. 2019, VideoPose3D) in metres per frame.

    Sequences have shape (..., N, J, 3) with time on axis -3 and N >= 2. Poses are made relative to joint ``root``
    first (``root=None``: absolute, so a global drift counts), then the MPJPE of the first differences is taken.
    Multiply by the frame rate for m/s.
    """
    err, as_torch = _velocity_errors("mpjve", pred, target, root)
    return _out_scalar(err.mean(), as_torch)


# ---------------------------------------------------------------------------------------------------------------
# PCK and AUC (MPI-INF-3DHP convention).


def _pck_curve_per_frame(fn, pred, target, thresholds, alignment, root, joints):
    if alignment not in ALIGNMENTS:
        raise ValueError(f"{fn}: unknown alignment {alignment!r}; expected one of {ALIGNMENTS}")
    p, g, as_torch = _prepare(fn, pred, target, root=root)
    err = _select_joints(_distances(*_align(p, g, alignment, root)), joints, fn)
    th = torch.as_tensor(np.asarray(thresholds, dtype=np.float64), dtype=err.dtype, device=err.device)
    if th.ndim != 1 or th.numel() == 0 or not bool(torch.isfinite(th).all()) or bool((th < 0).any()):
        raise ValueError(f"{fn}: thresholds must be a non-empty 1-D list of finite values >= 0 (metres)")
    # Strictly below the threshold, as the MPI-INF-3DHP evaluation code counts.
    correct = (err.unsqueeze(-1) < th).to(err.dtype)  # (..., J, T)
    return correct.mean(dim=-2), as_torch  # (..., T)


def pck_per_frame(
    pred: ArrayLike,
    target: ArrayLike,
    threshold: float = PCK_THRESHOLD,
    alignment: str = "root",
    root: Optional[int] = 0,
    joints: Optional[Sequence[int]] = None,
) -> ArrayLike:
    """Fraction of joints of every frame (...,) whose error (metres, after ``alignment``) is < ``threshold``."""
    curve, as_torch = _pck_curve_per_frame("pck", pred, target, [threshold], alignment, root, joints)
    return _out_array(curve[..., 0], as_torch)


def pck(
    pred: ArrayLike,
    target: ArrayLike,
    threshold: float = PCK_THRESHOLD,
    alignment: str = "root",
    root: Optional[int] = 0,
    joints: Optional[Sequence[int]] = None,
):
    """Percentage of correct keypoints as a fraction in [0, 1]: joints with error strictly below ``threshold``
    (default 0.15 m), root-relative by default (``alignment`` as in `joint_errors`). MPI-INF-3DHP evaluates a
    subset of joints: pass it as ``joints``."""
    curve, as_torch = _pck_curve_per_frame("pck", pred, target, [threshold], alignment, root, joints)
    return _out_scalar(curve[..., 0].mean(), as_torch)


def auc_per_frame(
    pred: ArrayLike,
    target: ArrayLike,
    thresholds: Sequence[float] = AUC_THRESHOLDS,
    alignment: str = "root",
    root: Optional[int] = 0,
    joints: Optional[Sequence[int]] = None,
) -> ArrayLike:
    """AUC of every frame (...,): its PCK averaged over ``thresholds``; see `auc`."""
    curve, as_torch = _pck_curve_per_frame("auc", pred, target, thresholds, alignment, root, joints)
    return _out_array(curve.mean(dim=-1), as_torch)


def auc(
    pred: ArrayLike,
    target: ArrayLike,
    thresholds: Sequence[float] = AUC_THRESHOLDS,
    alignment: str = "root",
    root: Optional[int] = 0,
    joints: Optional[Sequence[int]] = None,
):
    """Area under the PCK curve as a fraction in [0, 1]: the mean PCK over ``thresholds`` (default 31 evenly
    spaced values 0..0.15 m, the MPI-INF-3DHP convention)."""
    curve, as_torch = _pck_curve_per_frame("auc", pred, target, thresholds, alignment, root, joints)
    return _out_scalar(curve.mean(), as_torch)


# ---------------------------------------------------------------------------------------------------------------
# Summaries of a batch in millimetres, and silhouette overlap.


def pose_errors(pred: torch.Tensor, target: torch.Tensor) -> dict:
    """MPJPE / N-MPJPE / P-MPJPE in millimetres (root-relative, all 17 joints, mean over frames)."""
    p, t = pred.double(), target.double()
    return {
        "mpjpe_mm": 1000 * float(mpjpe(p, t)),
        "n_mpjpe_mm": 1000 * float(n_mpjpe(p, t)),
        "p_mpjpe_mm": 1000 * float(p_mpjpe(p, t)),
    }


def silhouette_iou(pred_binary: torch.Tensor, mask_binary: torch.Tensor, threshold: float = 0.5) -> torch.Tensor:
    """Intersection over union per image ``(...)`` of ``(..., H, W)`` silhouettes, both binarised as ``> threshold``
    (binary inputs pass unchanged). An image where both are empty has IoU 1."""
    if pred_binary.shape != mask_binary.shape or pred_binary.ndim < 2:
        raise ValueError(
            f"silhouette_iou: shapes {tuple(pred_binary.shape)} and {tuple(mask_binary.shape)} must be "
            "the same (..., H, W)"
        )
    a, b = pred_binary > threshold, mask_binary > threshold
    inter = (a & b).sum((-2, -1)).double()
    union = (a | b).sum((-2, -1)).double()
    return torch.where(union > 0, inter / union.clamp_min(1), torch.ones_like(union)).to(torch.float32)


# ---------------------------------------------------------------------------------------------------------------
# Evaluation tables.


@dataclass(frozen=True)
class _MetricInfo:
    label: str
    unit: str  # unit shown in tables and files
    scale: float  # stored value (metres, or a fraction) -> shown value
    column_suffix: str


METRICS: Dict[str, _MetricInfo] = {
    "mpjpe": _MetricInfo("MPJPE", "mm", 1000.0, "mm"),
    "p_mpjpe": _MetricInfo("P-MPJPE", "mm", 1000.0, "mm"),
    "n_mpjpe": _MetricInfo("N-MPJPE", "mm", 1000.0, "mm"),
    "mpjve": _MetricInfo("MPJVE", "mm/frame", 1000.0, "mm_per_frame"),
    "mrpe": _MetricInfo("MRPE", "mm", 1000.0, "mm"),
    "abs_mpjpe": _MetricInfo("Abs-MPJPE", "mm", 1000.0, "mm"),
    "pck": _MetricInfo("PCK", "%", 100.0, "pct"),
    "auc": _MetricInfo("AUC", "%", 100.0, "pct"),
}


def _absolute_errors(name: str, pred, target, pred_root, target_root) -> np.ndarray:
    """Per-frame MRPE or absolute MPJPE (metres) from root-relative poses and their camera-frame roots."""
    as_np = lambda a: a.detach().cpu().double().numpy() if is_torch(a) else np.asarray(a, np.float64)  # noqa: E731
    pred, target, pr, tr = (as_np(a) for a in (pred, target, pred_root, target_root))
    pred, target = pred - pred[..., :1, :], target - target[..., :1, :]  # the roots carry the absolute position
    if pr.shape != pred.shape[:-2] + (3,) or tr.shape != pr.shape:
        raise ValueError(
            f"{name}: roots {pr.shape} / {tr.shape} do not fit poses {pred.shape} (expected {pred.shape[:-2] + (3,)})"
        )
    if name == "mrpe":
        return np.linalg.norm(pr - tr, axis=-1)
    return np.linalg.norm((pred + pr[..., None, :]) - (target + tr[..., None, :]), axis=-1).mean(-1)


def base_action(action: str) -> str:
    """The action name without its sub-action number: "Walking 1" -> "Walking", "WalkDog 1" -> "WalkDog"."""
    name = str(action).strip()
    return name.split(" ")[0] if name else name


@dataclass(frozen=True)
class Protocol:
    """Everything a reader needs to compare a printed number with a paper's.

    joints: which joints are scored, e.g. "H36M-17, root included". alignment: how poses are aligned before
    measuring. two_d_source: 2D input of a lifter ("GT", "CPN", "SH fine-tuned", ...). stride: frame stride of the
    evaluated sequences. flip_augmentation: test-time horizontal flip averaging. exclusions: sequences left out,
    e.g. ("S11/Directions",). averaging: "actions" (mean over actions, each weighted equally: what lifting papers
    report) or "frames" (every frame weighted equally) -- which of the two means is the headline number.
    """

    joints: str = "H36M-17, root included"
    alignment: str = "root-relative (joint 0)"
    two_d_source: str = "GT"
    stride: int = 1
    flip_augmentation: bool = False
    exclusions: Tuple[str, ...] = ()
    averaging: str = "actions"

    def __post_init__(self):
        if isinstance(self.exclusions, str):
            object.__setattr__(self, "exclusions", (self.exclusions,))
        else:
            object.__setattr__(self, "exclusions", tuple(str(e) for e in self.exclusions))
        if self.averaging not in ("actions", "frames"):
            raise ValueError(f"Protocol.averaging must be 'actions' or 'frames', got {self.averaging!r}")
        if isinstance(self.stride, bool) or int(self.stride) != self.stride or self.stride < 1:
            raise ValueError(f"Protocol.stride must be a positive integer, got {self.stride!r}")

    def line(self) -> str:
        """One printable line, e.g. "Protocol: joints H36M-17, root included | alignment ... | averaging ..."."""
        averaging = (
            "mean over actions (each action weighted equally)"
            if self.averaging == "actions"
            else "mean over frames (each frame weighted equally)"
        )
        parts = [
            f"joints {self.joints}",
            f"alignment {self.alignment}",
            f"2D source {self.two_d_source}",
            f"stride {int(self.stride)}",
            f"flip augmentation {'on' if self.flip_augmentation else 'off'}",
            f"excluded {', '.join(self.exclusions) if self.exclusions else 'none'}",
            f"averaging {averaging}",
        ]
        return "Protocol: " + " | ".join(parts)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["exclusions"] = list(self.exclusions)
        return d


@dataclass
class ActionRow:
    """One row of a summary: an action (sub-actions and subjects merged), its pose frame count, and metric values
    (metres for distances, fractions for PCK/AUC) averaged over all its frames."""

    action: str
    frames: int
    values: Dict[str, float]


@dataclass
class TableSummary:
    """Per-action rows plus the two overall means.

    action_mean: the mean of the per-action values, each action weighted equally (lifting papers' number).
    frame_mean: the mean over every frame of every sequence, each frame weighted equally.
    Units as in `ActionRow`.
    """

    metrics: Tuple[str, ...]
    rows: List[ActionRow]
    action_mean: Dict[str, float]
    frame_mean: Dict[str, float]
    frames: int
    subjects: Tuple[str, ...]

    def row(self, action: str) -> ActionRow:
        for r in self.rows:
            if r.action == action:
                return r
        raise KeyError(f"no action {action!r} in the summary; actions: {[r.action for r in self.rows]}")


@dataclass
class _Sequence:
    frames: int = 0
    errors: Dict[str, List[np.ndarray]] = field(default_factory=dict)


class EvaluationTable:
    """Accumulates per-frame errors per (subject, action) for several metrics and summarises them per action.

    ``metrics`` are names from `METRICS` ("mpjpe", "p_mpjpe", "n_mpjpe", "mpjve", "mrpe", "abs_mpjpe", "pck", "auc";
    the two absolute ones need the roots passed to :meth:`add`). Adding the same
    (subject, action) twice appends frames (e.g. one call per camera). Within an action, frames of all its
    sub-actions and subjects are pooled (frame-weighted, as VideoPose3D does per action); the headline mean then
    weights every action equally.
    """

    def __init__(
        self,
        metrics: Sequence[str] = ("mpjpe", "p_mpjpe", "n_mpjpe"),
        root: Optional[int] = 0,
        pck_threshold: float = PCK_THRESHOLD,
    ):
        metrics = tuple(metrics)
        unknown = [m for m in metrics if m not in METRICS]
        if unknown or not metrics or len(set(metrics)) != len(metrics):
            raise ValueError(f"EvaluationTable: metrics {list(metrics)} must be distinct names from {list(METRICS)}")
        self.metrics = metrics
        self.root = root
        self.pck_threshold = float(pck_threshold)
        self._sequences: Dict[Tuple[str, str], _Sequence] = {}

    def __len__(self) -> int:
        return len(self._sequences)

    @property
    def sequences(self) -> List[Tuple[str, str]]:
        """The (subject, action) keys added so far, in insertion order."""
        return list(self._sequences)

    def _per_frame(self, name: str, pred, target) -> ArrayLike:
        if name == "mpjpe":
            return mpjpe_per_frame(pred, target, root=self.root)
        if name == "p_mpjpe":
            return p_mpjpe_per_frame(pred, target)
        if name == "n_mpjpe":
            return n_mpjpe_per_frame(pred, target, root=self.root)
        if name == "mpjve":
            return mpjve_per_frame(pred, target, root=self.root)
        if name == "pck":
            return pck_per_frame(pred, target, threshold=self.pck_threshold, root=self.root)
        if name == "auc":
            return auc_per_frame(pred, target, root=self.root)
        raise AssertionError(name)

    def add(
        self,
        subject: str,
        action: str,
        pred: ArrayLike,
        target: ArrayLike,
        pred_root: Optional[ArrayLike] = None,
        target_root: Optional[ArrayLike] = None,
    ) -> Dict[str, np.ndarray]:
        """Score a sequence (..., N, J, 3) in metres and store its per-frame errors; returns them (NumPy, metres).

        Leading dimensions (e.g. cameras) are flattened into frames; MPJVE differences along axis -3. The
        absolute metrics need the camera-frame roots ``pred_root``/``target_root`` (..., N, 3) of root-relative
        ``pred``/``target``: "mrpe" is the root position error (Pavllo et al. 2019's MRPE), "abs_mpjpe" the MPJPE
        of ``pose + root`` without root alignment.
        """
        absolute = [m for m in self.metrics if m in ("mrpe", "abs_mpjpe")]
        if absolute and (pred_root is None or target_root is None):
            raise ValueError(
                f"EvaluationTable.add({subject!r}, {action!r}): metrics {absolute} need pred_root and target_root"
            )
        pred = pred if is_torch(pred) else np.asarray(pred)
        target = target if is_torch(target) else np.asarray(target)
        if tuple(pred.shape) != tuple(target.shape) or len(pred.shape) < 3:
            raise ValueError(
                f"EvaluationTable.add({subject!r}, {action!r}): pred {_shape_str(pred.shape)} and target "
                f"{_shape_str(target.shape)} must share one shape (..., N, J, 3)"
            )
        with torch.no_grad():
            errors = {}
            for name in self.metrics:
                value = (
                    _absolute_errors(name, pred, target, pred_root, target_root)
                    if name in absolute
                    else self._per_frame(name, pred, target)
                )
                if is_torch(value):
                    value = value.detach().cpu().double().numpy()
                errors[name] = np.asarray(value, dtype=np.float64).reshape(-1)
        frames = int(np.prod(pred.shape[:-2]))
        self._store(subject, action, errors, frames)
        return errors

    def add_errors(
        self, subject: str, action: str, errors: Mapping[str, ArrayLike], frames: Optional[int] = None
    ) -> None:
        """Store precomputed per-frame errors (metres; fractions for PCK/AUC), one array per table metric.

        ``frames`` is the sequence's pose frame count; by default the length of the longest error array.
        """
        missing = [m for m in self.metrics if m not in errors]
        extra = [m for m in errors if m not in self.metrics]
        if missing or extra:
            raise KeyError(
                f"EvaluationTable.add_errors({subject!r}, {action!r}): got metrics {list(errors)}, "
                f"the table has {list(self.metrics)}"
            )
        arrays = {}
        for name in self.metrics:
            value = errors[name]
            if is_torch(value):
                value = value.detach().cpu().double().numpy()
            value = np.asarray(value, dtype=np.float64).reshape(-1)
            if value.size == 0 or not np.isfinite(value).all():
                raise ValueError(
                    f"EvaluationTable.add_errors({subject!r}, {action!r}): {name} errors of shape "
                    f"{_shape_str(value.shape)} are empty or contain NaN/inf"
                )
            arrays[name] = value
        if frames is None:
            frames = max(v.size for v in arrays.values())
        self._store(subject, action, arrays, int(frames))

    def _store(self, subject, action, errors: Dict[str, np.ndarray], frames: int) -> None:
        seq = self._sequences.setdefault((str(subject), str(action)), _Sequence())
        seq.frames += frames
        for name, value in errors.items():
            seq.errors.setdefault(name, []).append(value)

    def summary(self, merge_subactions: bool = True) -> TableSummary:
        """Per-action rows (sub-actions merged by the name before the space unless ``merge_subactions=False``),
        the mean over actions and the frame-weighted mean."""
        if not self._sequences:
            raise ValueError("EvaluationTable.summary: the table is empty; add sequences first")
        pooled: Dict[str, Dict[str, List[np.ndarray]]] = {}
        frames: Dict[str, int] = {}
        for (_, action), seq in self._sequences.items():
            key = base_action(action) if merge_subactions else action
            frames[key] = frames.get(key, 0) + seq.frames
            for name in self.metrics:
                pooled.setdefault(key, {}).setdefault(name, []).extend(seq.errors[name])

        rows = []
        for key in pooled:
            values = {name: float(np.concatenate(pooled[key][name]).mean()) for name in self.metrics}
            rows.append(ActionRow(key, frames[key], values))
        action_mean = {name: float(np.mean([r.values[name] for r in rows])) for name in self.metrics}
        frame_mean = {
            name: float(np.concatenate([a for s in self._sequences.values() for a in s.errors[name]]).mean())
            for name in self.metrics
        }
        subjects = tuple(dict.fromkeys(subject for subject, _ in self._sequences))
        return TableSummary(self.metrics, rows, action_mean, frame_mean, sum(frames.values()), subjects)

    # -- output ---------------------------------------------------------------------------------------------------

    @staticmethod
    def _display(name: str, value: float) -> float:
        # Distances are stored in metres and shown in mm; PCK/AUC are fractions shown in percent.
        return value * METRICS[name].scale

    def format(self, protocol: Protocol) -> str:
        """A printable table: the protocol line, one row per action, then both means, labelled (mm / %)."""
        if not isinstance(protocol, Protocol):
            raise TypeError(f"EvaluationTable.format needs a Protocol, got {type(protocol).__name__}")
        s = self.summary()
        headers = [f"{METRICS[m].label} ({METRICS[m].unit})" for m in s.metrics]
        mark_actions = " *" if protocol.averaging == "actions" else ""
        mark_frames = " *" if protocol.averaging == "frames" else ""
        labels = [r.action for r in s.rows] + [
            f"Mean over {len(s.rows)} actions{mark_actions}",
            f"Frame-weighted mean{mark_frames}",
        ]
        first = max(len("Action"), *(len(x) for x in labels))
        widths = [max(9, len(h)) for h in headers]

        def line(label, frames, values):
            cells = [f"{label:<{first}}", f"{frames:>8}"]
            cells += [f"{self._display(m, values[m]):>{w}.1f}" for m, w in zip(s.metrics, widths)]
            return "  ".join(cells)

        out = [protocol.line()]
        header = "  ".join([f"{'Action':<{first}}", f"{'Frames':>8}"] + [f"{h:>{w}}" for h, w in zip(headers, widths)])
        out += [header, "-" * len(header)]
        out += [line(r.action, r.frames, r.values) for r in s.rows]
        out.append("-" * len(header))
        out.append(line(labels[-2], s.frames, s.action_mean))
        out.append(line(labels[-1], s.frames, s.frame_mean))
        out.append(
            f"Mean over actions: each of the {len(s.rows)} actions weighted equally (sub-actions merged); "
            f"frame-weighted: each of the {s.frames} frames weighted equally. * = the protocol's headline averaging."
        )
        return "\n".join(out)

    def _file_columns(self) -> List[str]:
        return [f"{m}_{METRICS[m].column_suffix}" for m in self.metrics]

    def _records(self) -> List[dict]:
        """Flat records: every (subject, action) sequence, every merged action, and the two means (mm / %)."""
        s = self.summary()
        records = []

        def values(d):
            return {c: self._display(m, d[m]) for c, m in zip(self._file_columns(), self.metrics)}

        for (subject, action), seq in self._sequences.items():
            means = {m: float(np.concatenate(seq.errors[m]).mean()) for m in self.metrics}
            records.append(dict(kind="sequence", subject=subject, action=action, frames=seq.frames, **values(means)))
        for r in s.rows:
            records.append(dict(kind="action", subject="", action=r.action, frames=r.frames, **values(r.values)))
        records.append(dict(kind="mean_over_actions", subject="", action="", frames=s.frames, **values(s.action_mean)))
        records.append(dict(kind="frame_weighted_mean", subject="", action="", frames=s.frames, **values(s.frame_mean)))
        return records

    def save_csv(self, path: Union[str, os.PathLike], protocol: Optional[Protocol] = None) -> None:
        """Write the table as CSV (atomically): columns kind (sequence / action / mean_over_actions /
        frame_weighted_mean), subject, action, frames, then one column per metric: ``<metric>_mm``,
        ``mpjve_mm_per_frame`` or ``<metric>_pct``. With a protocol, the first line is a ``# Protocol: ...`` comment."""
        columns = ["kind", "subject", "action", "frames"] + self._file_columns()
        records = self._records()
        with atomic_write_path(path) as tmp:
            with open(tmp, "w", newline="", encoding="utf-8") as f:
                if protocol is not None:
                    f.write("# " + protocol.line() + "\n")
                writer = csv.DictWriter(f, fieldnames=columns)
                writer.writeheader()
                for rec in records:
                    writer.writerow({k: (f"{v:.6f}" if isinstance(v, float) else v) for k, v in rec.items()})

    def save_json(self, path: Union[str, os.PathLike], protocol: Optional[Protocol] = None) -> None:
        """Write the table as JSON (atomically): units, protocol, per-sequence and per-action values, both means."""
        s = self.summary()
        records = self._records()
        cols = self._file_columns()
        pick = lambda rec: {c: rec[c] for c in cols}  # noqa: E731

        doc = {
            "units": {c: METRICS[m].unit.replace("%", "percent") for c, m in zip(cols, self.metrics)},
            "protocol": protocol.to_dict() if protocol is not None else None,
            "protocol_line": protocol.line() if protocol is not None else None,
            "metrics": list(self.metrics),
            "subjects": list(s.subjects),
            "frames": s.frames,
            "sequences": [
                {"subject": r["subject"], "action": r["action"], "frames": r["frames"], **pick(r)}
                for r in records
                if r["kind"] == "sequence"
            ],
            "actions": {r["action"]: {"frames": r["frames"], **pick(r)} for r in records if r["kind"] == "action"},
            "mean_over_actions": pick(next(r for r in records if r["kind"] == "mean_over_actions")),
            "frame_weighted_mean": pick(next(r for r in records if r["kind"] == "frame_weighted_mean")),
        }
        text = json.dumps(doc, indent=2)
        with atomic_write_path(path) as tmp:
            with open(tmp, "w", encoding="utf-8") as f:
                f.write(text + "\n")
