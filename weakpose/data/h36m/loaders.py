"""Human3.6M (Ionescu et al. 2014) in memory: sequences, loaders for the three common releases, protocol splits.

Loaders (each returns :class:`H36MData` = sequences + :class:`~weakpose.data.h36m.report.LoadReport`):

* :func:`load_videopose3d` -- ``data_3d_*.npz`` / ``data_2d_*.npz`` of VideoPose3D (Pavllo et al. 2019), and
  custom in-the-wild 2D files in the same layout (one "subject" per video, 1+ cameras).
* :func:`load_martinez` -- the h5 tree of Martinez et al. 2017 (3D + optional Stacked-Hourglass detections).
* :func:`load_h36m_release` -- the original release's ``D3_Positions`` CDF files.
* :func:`load_h36m` picks one of the above from what ``source`` looks like.

What every loaded :class:`Sequence` holds: ``positions_3d`` (N, 17, 3) float32 world coordinates in METRES in the
H36M-17 order of :data:`weakpose.skeleton.H36M17`; ``positions_2d[camera_id]`` (N, 17, 2) float32 pixels (from a
2D file, converted from its layout, or -- without a 2D file -- the ground truth projected through the camera);
``cameras[camera_id]`` a :class:`weakpose.geometry.Camera`. Frame rate 50 Hz.

Conventions, chosen once:

* Action names are VideoPose3D's: sub-actions after a space (``"Walking 1"``), ``Photo`` and ``WalkDog`` for the
  ``TakingPhoto``/``WalkingDog`` of the original and Martinez files, ``_`` read as a space
  (:func:`~weakpose.data.h36m.readers.canonical_action_name`). Custom (non ``S<n>``) subjects keep their names.
* :data:`DEFAULT_EXCLUSIONS`: S11 ``Directions`` (corrupt video, dropped by VideoPose3D and Martinez et al.) is
  excluded by default and reported as such; pass ``exclude=()`` to keep it.
* A release missing files is reported: each protocol subject should have 2 sequences of each of the 15 actions
  (:func:`check_complete`, reason ``missing sequence``); missing 2D, 3D or calibration per sequence or view too.
* 2D and 3D lengths that differ (some videos carry extra frames) are trimmed to the shortest and reported; 2D
  shorter than its 3D (never so in real releases) drops 3D frames with a warning, and is refused (sequence
  skipped) beyond :data:`MAX_3D_FRAMES_DROPPED` frames.
* A 3D and a 2D file that weakpose wrote as a pair must carry the same pair id
  (:func:`~weakpose.data.h36m.readers.check_pair`): a pair with one file replaced alone is refused.
* Every loader logs its report's summary (a WARNING when something was skipped, so it shows by default).
* Errors: a source that cannot be opened at all (missing file, npz without the key) raises. Inside a source, a
  bad sequence (corrupt or truncated file, wrong shape, NaNs, wrong units) is SKIPPED AND REPORTED, or raised
  with ``strict=True``. A source from which nothing at all could be loaded raises with the report.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, Iterable, Iterator, List, Mapping, Optional, Tuple, Union

import numpy as np

from weakpose.data.h36m import report as rep
from weakpose.data.h36m.protocol import (  # noqa: E402,F401  (part of this module's API since v0.1)
    DEFAULT_EXCLUSIONS,
    FPS,
    H36M_CAMERA_IDS,
    H36M_IMAGE_SIZES,
    SEQUENCES_PER_ACTION,
    TEST_SUBJECTS,
    TRAIN_SUBJECTS,
)
from weakpose.data.h36m.readers import (
    H36M_ACTIONS,
    H36MFormatError,
    action_base,
    canonical_action_name,
    check_keypoints_2d,
    check_pair,
    check_pixel_units,
    check_positions_3d,
    is_h36m_subject,
    list_files,
    read_cdf_3d,
    read_martinez_3d,
    read_martinez_sh,
    read_videopose3d_2d,
    read_videopose3d_3d,
    resolve_2d_layout,
    split_sh_file_name,
    subject_dirs,
)
from weakpose.data.h36m.report import LoadReport
from weakpose.skeleton import h36m32_to_17, to_h36m17

log = logging.getLogger(__name__)

PathLike = Union[str, Path]
CameraSpec = Union[str, Path, Mapping, None]


def h36m_camera_ids() -> Tuple[str, ...]:
    """The four camera ids in the order VideoPose3D lists views: 54138969, 55011271, 58860488, 60457274."""
    return tuple(str(c) for c in H36M_CAMERA_IDS)


# ---------------------------------------------------------------------------------------------------------
# in-memory result


@dataclass
class Sequence:
    """One recording: a subject performing an action, seen by one or more cameras.

    positions_3d: (N, 17, 3) float32 world coordinates, metres, H36M-17 order; ``None`` for 2D-only data.
    positions_2d: camera id -> (N, 17, 2) float32 pixels, H36M-17 order.
    confidences: camera id -> (N, 17) float32, or ``None`` when the 2D source carried none (ground truth).
    cameras: camera id -> :class:`weakpose.geometry.Camera` (world -> camera, metres; intrinsics in pixels).
    image_sizes: camera id -> (width, height) pixels (from the camera, or a custom file's video metadata).
    source_2d: where the 2D came from: ``"gt"`` (projection of the 3D) or the file / folder it was read from.
    """

    subject: str
    action: str
    positions_3d: Optional[np.ndarray] = None
    positions_2d: Dict[str, np.ndarray] = field(default_factory=dict)
    confidences: Optional[Dict[str, np.ndarray]] = None
    cameras: Dict[str, object] = field(default_factory=dict)
    fps: float = FPS
    image_sizes: Dict[str, Tuple[int, int]] = field(default_factory=dict)
    source_2d: str = ""

    @property
    def num_frames(self) -> int:
        if self.positions_3d is not None:
            return int(self.positions_3d.shape[0])
        return int(next(iter(self.positions_2d.values())).shape[0]) if self.positions_2d else 0

    @property
    def camera_ids(self) -> List[str]:
        """Cameras with 2D for this sequence (H36M order first), or with a calibration when there is no 2D."""
        ids = list(self.positions_2d) or list(self.cameras)
        order = {c: i for i, c in enumerate(_known_camera_order())}
        return sorted(ids, key=lambda c: (order.get(c, len(order)), c))

    @property
    def action_base(self) -> str:
        """``"Walking 1"`` -> ``"Walking"``: the name results are averaged under."""
        return action_base(self.action) if is_h36m_subject(self.subject) else self.action

    @property
    def key(self) -> Tuple[str, str]:
        return self.subject, self.action

    def image_size(self, camera_id: str) -> Tuple[int, int]:
        """(width, height) in pixels of ``camera_id``'s images."""
        if camera_id in self.image_sizes:
            return self.image_sizes[camera_id]
        raise KeyError(
            f"{self.subject}/{self.action}: no image size known for camera {camera_id!r} (cameras: {self.camera_ids})"
        )

    def frames(self, index) -> "Sequence":
        """A new sequence holding frames ``index`` (a slice or index array) of every array."""

        def take(a):
            return None if a is None else np.ascontiguousarray(a[index])

        return dataclasses.replace(
            self,
            positions_3d=take(self.positions_3d),
            positions_2d={c: take(a) for c, a in self.positions_2d.items()},
            confidences=None if self.confidences is None else {c: take(a) for c, a in self.confidences.items()},
        )

    def subsample(self, stride: int, start: int = 0) -> "Sequence":
        """Every ``stride``-th frame from ``start`` (frame rate divided accordingly)."""
        if stride < 1 or start < 0:
            raise ValueError(f"stride must be >= 1 and start >= 0; got stride={stride}, start={start}")
        out = self.frames(slice(start, None, stride))
        out.fps = self.fps / stride
        return out


@dataclass
class H36MData:
    """Loaded sequences plus the :class:`LoadReport` of how they were loaded, with selection helpers."""

    sequences: List[Sequence]
    report: LoadReport = field(default_factory=LoadReport)

    def __len__(self) -> int:
        return len(self.sequences)

    def __iter__(self) -> Iterator[Sequence]:
        return iter(self.sequences)

    def __getitem__(self, key) -> Sequence:
        """``data[i]`` or ``data["S1", "Walking 1"]``."""
        if isinstance(key, tuple):
            for s in self.sequences:
                if s.key == tuple(key):
                    return s
            raise KeyError(
                f"no sequence {key!r}; loaded: {len(self.sequences)} sequences of subjects {self.subjects()}"
            )
        return self.sequences[key]

    def subjects(self) -> List[str]:
        return sorted({s.subject for s in self.sequences}, key=_subject_sort_key)

    def actions(self, base: bool = False) -> List[str]:
        """Action names present (``base=True``: sub-actions merged, e.g. ``"Walking"``)."""
        return sorted({s.action_base if base else s.action for s in self.sequences})

    @property
    def num_frames(self) -> int:
        return sum(s.num_frames for s in self.sequences)

    def select(
        self,
        subjects: Optional[Iterable[str]] = None,
        actions: Optional[Iterable[str]] = None,
        cameras: Optional[Iterable[str]] = None,
        stride: int = 1,
    ) -> "H36MData":
        """Sequences of ``subjects`` doing ``actions`` (full ``"Walking 1"`` or base ``"Walking"`` names), seen
        by ``cameras``, with every ``stride``-th frame. The report is carried over unchanged."""
        subjects = None if subjects is None else set(subjects)
        actions = None if actions is None else _action_names(actions)
        cameras = None if cameras is None else [str(c) for c in cameras]
        out = []
        for s in self.sequences:
            if subjects is not None and s.subject not in subjects:
                continue
            if actions is not None and s.action not in actions and s.action_base not in actions:
                continue
            if cameras is not None:
                s = dataclasses.replace(
                    s,
                    positions_2d={c: a for c, a in s.positions_2d.items() if c in cameras},
                    confidences=None
                    if s.confidences is None
                    else {c: a for c, a in s.confidences.items() if c in cameras},
                    cameras={c: cam for c, cam in s.cameras.items() if c in cameras},
                )
            out.append(s.subsample(stride) if stride != 1 else s)
        return H36MData(out, self.report)

    def summary(self) -> str:
        return f"{len(self)} sequences, {self.num_frames} frames, subjects {self.subjects()}\n{self.report.summary()}"


def _subject_sort_key(subject: str):
    return (0, int(subject[1:]), "") if is_h36m_subject(subject) else (1, 0, subject)


def _known_camera_order() -> Tuple[str, ...]:
    try:
        return h36m_camera_ids()
    except ImportError:  # pragma: no cover - geometry missing
        return ()


# ---------------------------------------------------------------------------------------------------------
# cameras and ground-truth 2D


def resolve_cameras(cameras: CameraSpec) -> Dict[str, Dict[str, object]]:
    """``dict[subject][camera_id] -> Camera`` from a spec.

    ``"h36m"`` (default everywhere): the calibration shipped with weakpose; a ``.json`` path: a file in the
    ``camera-parameters.json`` layout; a ``.h5`` path: Martinez et al.'s ``cameras.h5``; a dict: used as is;
    ``None``: no cameras (no ground-truth 2D, no camera-frame 3D).
    """
    from weakpose.data.h36m import cameras as geometry  # the calibration readers

    if cameras is None:
        return {}
    if isinstance(cameras, Mapping):
        return {str(s): {str(c): cam for c, cam in cams.items()} for s, cams in cameras.items()}
    if isinstance(cameras, str) and cameras in ("h36m", "default"):
        return geometry.load_h36m_cameras_json(None)
    path = Path(cameras)
    if not path.is_file():
        raise FileNotFoundError(f"camera file {str(path)!r} does not exist")
    if path.suffix.lower() == ".json":
        return geometry.load_h36m_cameras_json(path)
    if path.suffix.lower() in (".h5", ".hdf5"):
        return geometry.load_martinez_cameras_h5(path)
    raise ValueError(
        f"camera file {str(path)!r}: expected a .json (camera-parameters.json layout) or a .h5 (Martinez cameras.h5)"
    )


def camera_image_size(camera) -> Tuple[int, int]:
    """(width, height) of a :class:`weakpose.geometry.Camera`."""
    size = camera.image_size
    if hasattr(size, "detach"):
        size = size.detach().cpu().numpy()
    w, h = (int(round(float(v))) for v in np.asarray(size).reshape(-1)[:2])
    return w, h


def project_to_cameras(positions_3d: np.ndarray, cameras: Mapping[str, object]) -> Dict[str, np.ndarray]:
    """Ground-truth 2D: ``(N, J, 3)`` world metres through each camera -> ``camera_id -> (N, J, 2)`` pixels."""
    points = np.asarray(positions_3d, dtype=np.float64)  # project in float64, store float32 like VideoPose3D
    return {cam_id: np.asarray(cam.project(points), dtype=np.float32) for cam_id, cam in cameras.items()}


# ---------------------------------------------------------------------------------------------------------
# assembling sequences from lazily-read parts (shared by every loader)

View = Tuple[np.ndarray, Optional[np.ndarray]]  # (xy (N,17,2) pixels, confidence (N,17) or None)


@dataclass
class SequenceSource:
    """Where one sequence's data comes from. Readers are called lazily so a corrupt file only costs its sequence.

    ``read_3d() -> (N, 32|17, 3)`` validated metres; ``views[camera_id]`` is ``None`` for a camera the 2D
    source lacks, or ``read() -> (xy17, conf17 | None)``; ``views`` is ``None`` when the source has no 2D.
    """

    subject: str
    action: str
    read_3d: Optional[Callable[[], np.ndarray]] = None
    views: Optional[Dict[str, Optional[Callable[[], View]]]] = None
    image_sizes: Dict[str, Tuple[int, int]] = field(default_factory=dict)
    problem: Optional[Tuple[str, str]] = None  # (reason, detail) found while scanning: skip with this


# 3D frames a 2D file may leave unmatched at a sequence's end (with a warning) before the sequence is refused.
MAX_3D_FRAMES_DROPPED = 5


@dataclass
class _Options:
    has_3d: bool
    has_2d: bool
    cameras: Dict[str, Dict[str, object]]
    project_2d: bool
    exclude: Tuple[Tuple[str, str], ...]
    strict: bool
    max_trim: Optional[int]
    source_2d: str
    actions: Optional[Iterable[str]] = None  # the caller's action selection (for the completeness check)


def check_complete(
    keys: Iterable[Tuple[str, str]],
    report: LoadReport,
    actions: Optional[Iterable[str]] = None,
    expected: int = SEQUENCES_PER_ACTION,
) -> None:
    """Report (reason ``missing sequence``) every protocol subject and action with fewer than ``expected``
    sequences: a release missing files cannot name them, but it can count them.

    Only subjects whose actions are all Human3.6M actions are checked (so H36M-format files of other motion,
    like weakpose's synthetic data, are not flagged); ``actions`` limits the check to a selection.
    """
    per_subject: Dict[str, Dict[str, List[str]]] = {}
    for subject, action in keys:
        per_subject.setdefault(subject, {}).setdefault(action_base(action), []).append(action)
    wanted = H36M_ACTIONS if actions is None else [a for a in H36M_ACTIONS if a in _action_names(actions)]
    for subject in sorted(per_subject, key=_subject_sort_key):
        bases = per_subject[subject]
        if subject not in TRAIN_SUBJECTS + TEST_SUBJECTS or not set(bases) <= set(H36M_ACTIONS):
            continue
        for base in wanted:
            have = sorted(bases.get(base, []))
            if len(have) < expected:
                report.add(
                    subject,
                    base,
                    rep.MISSING_SEQUENCE,
                    f"expected {expected} sequences of {base} for {subject}, found {len(have)}"
                    + (f": {have}" if have else ""),
                )


def usable_sources(
    sources: List[SequenceSource],
    exclude: Iterable[Tuple[str, str]],
    report: LoadReport,
    actions: Optional[Iterable[str]] = None,
) -> Iterator[SequenceSource]:
    """Sources in (subject, action) order, minus exclusions and scan-time problems, each recorded in ``report``."""
    excluded = {(s, canonical_action_name(a)) for s, a in exclude}
    check_complete([(src.subject, src.action) for src in sources], report, actions)
    for src in sorted(sources, key=lambda s: (_subject_sort_key(s.subject), s.action)):
        report.found.append((src.subject, src.action))
        if (src.subject, src.action) in excluded:
            report.add(
                src.subject,
                src.action,
                rep.EXCLUDED,
                "default exclusion (corrupt video)"
                if (src.subject, src.action) in DEFAULT_EXCLUSIONS
                else "excluded by the caller",
            )
            continue
        if src.problem is not None:
            report.add(src.subject, src.action, *src.problem)
            continue
        yield src


def _assemble(sources: List[SequenceSource], opts: _Options, report: LoadReport) -> H36MData:
    sequences = []
    for src in usable_sources(sources, opts.exclude, report, opts.actions):
        try:
            seq = _assemble_one(src, opts, report)
        except H36MFormatError as e:
            if opts.strict:
                raise
            report.add(src.subject, src.action, rep.CORRUPT, str(e))
            continue
        if seq is not None:
            sequences.append(seq)
            report.loaded.append(seq.key)
    if report.found and not sequences:
        raise H36MFormatError(f"no sequence could be loaded from {report.source}\n{report.summary()}")
    # Skips are warnings (visible without any logging setup), a clean load is info.
    log.log(logging.WARNING if report.skipped() else logging.INFO, "%s", report.summary())
    return H36MData(sequences, report)


def _assemble_one(src: SequenceSource, opts: _Options, report: LoadReport) -> Optional[Sequence]:
    subject, action = src.subject, src.action
    if opts.has_3d and src.read_3d is None:
        report.add(subject, action, rep.MISSING_3D, "in the 2D source but not in the 3D source")
        return None
    if opts.has_2d and not (src.views and any(v is not None for v in src.views.values())):
        report.add(subject, action, rep.MISSING_2D, "in the 3D source but not in the 2D source")
        return None

    pos3d = None
    if src.read_3d is not None:
        pos3d = src.read_3d()
        if pos3d.shape[1] == 32:
            pos3d = h36m32_to_17(pos3d)
        pos3d = np.ascontiguousarray(pos3d, dtype=np.float32)

    subject_cams = opts.cameras.get(subject, {})
    views: Dict[str, View] = {}
    source_2d = ""
    if src.views is not None:
        source_2d = opts.source_2d
        for cam_id, read in src.views.items():
            if read is None:
                report.add(subject, action, rep.MISSING_2D, "no 2D for this camera", camera=cam_id)
                continue
            if pos3d is not None and cam_id not in subject_cams:
                # 2D paired with 3D is only useful with the camera that links them.
                report.add(
                    subject, action, rep.MISSING_CAMERA, f"no calibration for {subject} camera {cam_id}", camera=cam_id
                )
                continue
            try:
                views[cam_id] = read()
            except H36MFormatError as e:  # one bad view (e.g. a truncated detection file) costs only that view
                if opts.strict:
                    raise
                report.add(subject, action, rep.CORRUPT, str(e), camera=cam_id)
        if not views:
            return None  # every view reported above
    elif pos3d is not None and opts.project_2d:
        if not subject_cams and opts.cameras:  # cameras=None means the caller wants none: nothing to report
            report.add(
                subject,
                action,
                rep.MISSING_CAMERA,
                f"no calibration for subject {subject}: 3D loaded without ground-truth 2D",
            )
        source_2d = "gt" if subject_cams else ""
        views = {c: (xy, None) for c, xy in project_to_cameras(pos3d, subject_cams).items()}

    # Lengths: VideoPose3D trims 2D to the mocap length; trim everything to the shortest and say so.
    lengths = ({"3D": pos3d.shape[0]} if pos3d is not None else {}) | {c: v[0].shape[0] for c, v in views.items()}
    n = min(lengths.values())
    if max(lengths.values()) != n:
        detail = ", ".join(f"{k} {v}" for k, v in lengths.items()) + f" -> {n} frames"
        if opts.max_trim is not None and max(lengths.values()) - n > opts.max_trim:
            report.add(subject, action, rep.LENGTH_MISMATCH, detail + f" exceeds max_trim={opts.max_trim}")
            return None
        # Real 2D (video, detections) is never shorter than its mocap: 2D that is means a wrong pairing, so
        # dropping 3D frames is said out loud, and refused beyond a few frames.
        dropped_3d = 0 if pos3d is None else int(pos3d.shape[0]) - n
        if dropped_3d > MAX_3D_FRAMES_DROPPED:
            report.add(
                subject,
                action,
                rep.LENGTH_MISMATCH,
                f"{detail}: the 2D is {dropped_3d} frames shorter than the 3D (at most "
                f"{MAX_3D_FRAMES_DROPPED} 3D frames are dropped); sequence skipped",
            )
            return None
        if dropped_3d:
            log.warning(
                "%s: %s/%s: the 2D has %d frames and the 3D %d: the last %d frames of 3D are dropped",
                report.source,
                subject,
                action,
                n,
                pos3d.shape[0],
                dropped_3d,
            )
        report.add(subject, action, rep.LENGTH_TRIMMED, detail)
        pos3d = None if pos3d is None else pos3d[:n]
        views = {c: (xy[:n], None if conf is None else conf[:n]) for c, (xy, conf) in views.items()}

    has_conf = any(conf is not None for _, conf in views.values())
    image_sizes = dict(src.image_sizes)
    for cam_id in views:
        if cam_id in subject_cams:
            image_sizes[cam_id] = camera_image_size(subject_cams[cam_id])
    cams = {c: subject_cams[c] for c in (views or subject_cams) if c in subject_cams}
    return Sequence(
        subject=subject,
        action=action,
        positions_3d=pos3d,
        positions_2d={c: np.ascontiguousarray(xy, dtype=np.float32) for c, (xy, _) in views.items()},
        confidences={
            c: (np.ones(xy.shape[:2], np.float32) if conf is None else conf.astype(np.float32))
            for c, (xy, conf) in views.items()
        }
        if has_conf
        else None,
        cameras=cams,
        image_sizes=image_sizes,
        source_2d=source_2d,
    )


def _canonical_key(subject: str, action: str) -> Tuple[str, str]:
    return subject, (canonical_action_name(action) if is_h36m_subject(subject) else action)


def _selected(subject: str, action: str, subjects, actions) -> bool:
    if subjects is not None and subject not in subjects:
        return False
    if actions is not None:
        base = action_base(action) if is_h36m_subject(subject) else action
        return action in actions or base in actions
    return True


def _filters(subjects, actions):
    return (None if subjects is None else set(subjects), None if actions is None else _action_names(actions))


def _action_names(actions: Iterable[str]) -> set:
    """Names to match: as given (custom videos) and canonical (H36M: ``"TakingPhoto"`` selects ``"Photo"``)."""
    return {n for a in actions for n in (a, canonical_action_name(a))}


# ---------------------------------------------------------------------------------------------------------
# VideoPose3D npz


def _view_camera_ids(subject: str, n_views: int, where: str) -> List[str]:
    if not is_h36m_subject(subject):
        return [str(i) for i in range(n_views)]  # custom videos: cameras "0", "1", ...
    ids = h36m_camera_ids()
    if n_views > len(ids):
        raise H36MFormatError(
            f"{where}: {n_views} camera views, but Human3.6M has {len(ids)} cameras ({', '.join(ids)})"
        )
    return list(ids[:n_views])


def load_videopose3d(
    path_3d: Optional[PathLike] = None,
    path_2d: Optional[PathLike] = None,
    *,
    cameras: CameraSpec = "h36m",
    layout: Optional[str] = None,
    subjects: Optional[Iterable[str]] = None,
    actions: Optional[Iterable[str]] = None,
    exclude: Iterable[Tuple[str, str]] = DEFAULT_EXCLUSIONS,
    project_2d: bool = True,
    strict: bool = False,
    max_trim: Optional[int] = None,
) -> H36MData:
    """Load VideoPose3D-format files (Pavllo et al. 2019).

    path_3d: ``data_3d_*.npz`` (``positions_3d``: world metres, 32 or 17 joints) or ``None`` for 2D-only data.
    path_2d: ``data_2d_*.npz`` (``positions_2d`` + ``metadata``) or ``None``: then, with ``project_2d``, the 2D
        is the ground-truth projection of the 3D through ``cameras``.
    layout: override of the 2D layout ('h36m17', 'h36m32', 'coco17', 'mpii16', 'halpe26', 'body25'); by default read
        from ``metadata`` (see :func:`~weakpose.data.h36m.readers.resolve_2d_layout`).
    cameras: see :func:`resolve_cameras`. Views of H36M subjects are matched to cameras by list position
        (54138969, 55011271, 58860488, 60457274); custom subjects' views are called "0", "1", ...
    When both files are given, a sequence must be in both (the other is reported as missing 2D / missing 3D).
    """
    if path_3d is None and path_2d is None:
        raise ValueError("load_videopose3d needs path_3d, path_2d or both")
    if path_3d is not None and path_2d is not None:
        check_pair(path_3d, path_2d)
    actions = None if actions is None else list(actions)
    report = LoadReport(source=" + ".join(str(p) for p in (path_3d, path_2d) if p is not None))
    subj_f, act_f = _filters(subjects, actions)
    sources: Dict[Tuple[str, str], SequenceSource] = {}

    def source(key):
        if key not in sources:
            sources[key] = SequenceSource(*key)
        return sources[key]

    raw_names: Dict[Tuple[str, str, str], str] = {}

    def claim(key, kind: str, raw_action: str) -> bool:
        # Two raw names (e.g. "TakingPhoto" and "Photo") mapping to one canonical sequence: keep the first.
        prior = raw_names.setdefault((key[0], key[1], kind), raw_action)
        if prior != raw_action:
            report.add(key[0], key[1], rep.DUPLICATE, f"{kind} has both {prior!r} and {raw_action!r}; using {prior!r}")
            return False
        return True

    if path_3d is not None:
        for subject, acts in read_videopose3d_3d(path_3d).items():
            for raw_action, arr in acts.items():
                key = _canonical_key(str(subject), str(raw_action))
                if not _selected(*key, subj_f, act_f) or not claim(key, "3D", raw_action):
                    continue
                where = f"{path_3d}:positions_3d[{subject!r}][{raw_action!r}]"
                source(key).read_3d = lambda arr=arr, where=where: check_positions_3d(arr, where)

    if path_2d is not None:
        positions, metadata = read_videopose3d_2d(path_2d)
        video_meta = metadata.get("video_metadata", {}) or {}
        for subject, acts in positions.items():
            for raw_action, views in acts.items():
                key = _canonical_key(str(subject), str(raw_action))
                if not _selected(*key, subj_f, act_f) or not claim(key, "2D", raw_action):
                    continue
                src = source(key)
                where = f"{path_2d}:positions_2d[{subject!r}][{raw_action!r}]"
                try:
                    cam_ids = _view_camera_ids(key[0], len(views), where)
                except H36MFormatError as e:
                    if strict:
                        raise
                    src.problem = (rep.UNKNOWN_CAMERA, str(e))
                    continue
                src.views = {}
                for cam_id, arr in zip(cam_ids, views):
                    src.views[cam_id] = (
                        None
                        if arr is None
                        else (
                            lambda arr=arr, w=f"{where}[{cam_ids.index(cam_id)}]": _convert_2d(arr, w, metadata, layout)
                        )
                    )
                if subject in video_meta and len(cam_ids) == 1:
                    vm = video_meta[subject]
                    src.image_sizes[cam_ids[0]] = (int(vm["w"]), int(vm["h"]))
                elif is_h36m_subject(key[0]):
                    sizes = H36M_IMAGE_SIZES
                    src.image_sizes.update({c: tuple(int(v) for v in sizes[c]) for c in cam_ids if c in sizes})

    opts = _Options(
        has_3d=path_3d is not None,
        has_2d=path_2d is not None,
        cameras=resolve_cameras(cameras),
        project_2d=project_2d,
        exclude=tuple(exclude),
        strict=strict,
        max_trim=max_trim,
        source_2d=Path(path_2d).name if path_2d is not None else "",
        actions=actions,
    )
    return _assemble(list(sources.values()), opts, report)


def _convert_2d(arr, where: str, metadata: dict, layout: Optional[str]) -> View:
    """One view of a VideoPose3D 2D file -> H36M-17 pixels (+ confidences when the file has them).

    Joints a detector did not find (NaN, confidence 0, or exactly (0, 0)) are filled as every keypoint reader
    fills them (:func:`weakpose.data.keypoint_files.to_h36m17_filled`: interpolated in time, confidence 0); a view
    with a joint never found is refused. Confidences are returned when the file has them or something was filled.
    """
    from weakpose.data.keypoint_files import to_h36m17_filled  # the one fill path of every keypoint reader

    arr = np.asarray(arr)
    if arr.ndim != 3:
        raise H36MFormatError(f"{where}: 2D keypoints must have shape (N, J, 2) or (N, J, 3); got {arr.shape}")
    name = resolve_2d_layout(metadata, arr.shape[1], where, layout)
    xy, conf = check_keypoints_2d(arr, where, allow_missing=True)
    check_pixel_units(xy, where)
    filled = to_h36m17_filled(xy, conf, name, where)
    if filled.joints_filled:  # counted and said, never silent
        log.warning("%s: %s", where, filled.summary())
    if conf is None and not filled.joints_filled:
        return filled.xy, None
    return filled.xy, filled.conf


# ---------------------------------------------------------------------------------------------------------
# release trees (Martinez h5, original CDF)


def scan_martinez_tree(
    root: PathLike,
    detections: Optional[str] = None,
    detections_root: Optional[PathLike] = None,
    report: Optional[LoadReport] = None,
) -> List[SequenceSource]:
    """Sources for ``root/S*/MyPoses/3D_positions/*.h5`` and, if ``detections`` names a folder (e.g.
    ``"StackedHourglass"``), ``<detections_root or root>/S*/<detections>/<Action>.<cam>.h5`` (``_`` or space).

    Problems met while scanning (duplicate names, unknown cameras, bad file names) go to ``report``.
    """
    report = report if report is not None else LoadReport()
    root = Path(root)
    sources: Dict[Tuple[str, str], SequenceSource] = {}
    for subject, sdir in subject_dirs(root):
        for f in list_files(sdir / "MyPoses" / "3D_positions", ".h5"):
            _add_3d_file(sources, subject, f, read_martinez_3d, report)
    if detections:
        cam_ids = h36m_camera_ids()
        for subject, sdir in subject_dirs(Path(detections_root) if detections_root is not None else root):
            for f in list_files(sdir / detections, ".h5"):
                try:
                    action, cam = split_sh_file_name(f.name)
                except H36MFormatError as e:
                    report.add(subject, f.name, rep.CORRUPT, str(e))
                    continue
                if cam not in cam_ids:
                    report.add(
                        subject,
                        action,
                        rep.UNKNOWN_CAMERA,
                        f"{f}: camera {cam!r} is not one of {', '.join(cam_ids)}",
                        camera=cam,
                    )
                    continue
                src = sources.setdefault((subject, action), SequenceSource(subject, action))
                if src.views is None:
                    src.views = {c: None for c in cam_ids}
                if src.views[cam] is not None:
                    report.add(
                        subject,
                        action,
                        rep.DUPLICATE,
                        f"two detection files for camera {cam}; ignoring {f.name}",
                        camera=cam,
                    )
                    continue
                src.views[cam] = lambda f=f: _mpii_view(f)
    return _check_action_names(sources)


def _add_3d_file(sources, subject: str, f: Path, reader, report: LoadReport) -> None:
    key = (subject, canonical_action_name(f.stem))
    src = sources.setdefault(key, SequenceSource(*key))
    if src.read_3d is not None:
        report.add(*key, rep.DUPLICATE, f"two 3D files map to {key[1]!r}; ignoring {f.name}")
        return
    src.read_3d = lambda f=f: reader(f)


def _check_action_names(sources: Dict[Tuple[str, str], SequenceSource]) -> List[SequenceSource]:
    for src in sources.values():
        if action_base(src.action) not in H36M_ACTIONS and src.problem is None:
            src.problem = (rep.UNKNOWN_ACTION, f"{src.action!r} is not one of the 15 Human3.6M actions")
    return list(sources.values())


def _mpii_view(path) -> View:
    xy17, _ = to_h36m17(read_martinez_sh(path), "mpii16")
    return np.asarray(xy17, np.float32), None


def scan_cdf_tree(root: PathLike, report: Optional[LoadReport] = None) -> List[SequenceSource]:
    """Sources for the original release: ``root/S*/MyPoseFeatures/D3_Positions/<Action>.cdf``."""
    report = report if report is not None else LoadReport()
    sources: Dict[Tuple[str, str], SequenceSource] = {}
    for subject, sdir in subject_dirs(Path(root)):
        for f in list_files(sdir / "MyPoseFeatures" / "D3_Positions", ".cdf"):
            _add_3d_file(sources, subject, f, read_cdf_3d, report)
    return _check_action_names(sources)


def select_sources(
    sources: List[SequenceSource], subjects=None, actions=None, report: Optional[LoadReport] = None
) -> List[SequenceSource]:
    """Sources of the selected ``subjects`` and ``actions`` (full or base names); the report's scan-time
    entries are narrowed to the same selection."""
    subj_f, act_f = _filters(subjects, actions)
    if report is not None:
        report.entries = [e for e in report.entries if _selected(e.subject, e.action, subj_f, act_f)]
    return [s for s in sources if _selected(s.subject, s.action, subj_f, act_f)]


def _require_found(sources: List[SequenceSource], root, expected: str) -> None:
    if not sources:
        raise FileNotFoundError(f"no Human3.6M sequences under {str(root)!r} (expected {expected})")


def load_martinez(
    root: PathLike,
    *,
    detections: Optional[str] = None,
    detections_root: Optional[PathLike] = None,
    cameras: CameraSpec = "auto",
    subjects: Optional[Iterable[str]] = None,
    actions: Optional[Iterable[str]] = None,
    exclude: Iterable[Tuple[str, str]] = DEFAULT_EXCLUSIONS,
    project_2d: bool = True,
    strict: bool = False,
    max_trim: Optional[int] = None,
) -> H36MData:
    """Load the Martinez et al. 2017 h5 tree (``h36m/`` of their archive).

    3D from ``S*/MyPoses/3D_positions/<Action>.h5`` (mm -> m, 32 -> 17 joints). 2D from
    ``S*/<detections>/<Action>.<cam>.h5`` when ``detections`` is given (``"StackedHourglass"``,
    ``"StackedHourglassFineTuned240"``; MPII-16 -> H36M-17, Neck/Nose interpolated), else the ground-truth
    projection. ``cameras="auto"`` uses ``root/cameras.h5`` when present, else the shipped calibration.
    """
    root = Path(root)
    actions = None if actions is None else list(actions)
    if isinstance(cameras, str) and cameras == "auto":
        cameras = root / "cameras.h5" if (root / "cameras.h5").is_file() else "h36m"
    report = LoadReport(source=str(root) + (f" + {detections}" if detections else ""))
    sources = select_sources(scan_martinez_tree(root, detections, detections_root, report), subjects, actions, report)
    _require_found(sources, root, "S*/MyPoses/3D_positions/*.h5")
    opts = _Options(
        has_3d=True,
        has_2d=bool(detections),
        cameras=resolve_cameras(cameras),
        project_2d=project_2d,
        exclude=tuple(exclude),
        strict=strict,
        max_trim=max_trim,
        source_2d=detections or "",
        actions=actions,
    )
    return _assemble(sources, opts, report)


def load_h36m_release(
    root: PathLike,
    *,
    cameras: CameraSpec = "h36m",
    subjects: Optional[Iterable[str]] = None,
    actions: Optional[Iterable[str]] = None,
    exclude: Iterable[Tuple[str, str]] = DEFAULT_EXCLUSIONS,
    project_2d: bool = True,
    strict: bool = False,
) -> H36MData:
    """Load the original release's 3D poses, ``S*/MyPoseFeatures/D3_Positions/<Action>.cdf`` (via cdflib),
    with ground-truth 2D projected through ``cameras``."""
    actions = None if actions is None else list(actions)
    report = LoadReport(source=str(root))
    sources = select_sources(scan_cdf_tree(root, report), subjects, actions, report)
    _require_found(sources, root, "S*/MyPoseFeatures/D3_Positions/*.cdf")
    opts = _Options(
        has_3d=True,
        has_2d=False,
        cameras=resolve_cameras(cameras),
        project_2d=project_2d,
        exclude=tuple(exclude),
        strict=strict,
        max_trim=None,
        source_2d="",
        actions=actions,
    )
    return _assemble(sources, opts, report)


def detect_source(source: PathLike) -> str:
    """'videopose3d' (an .npz), 'martinez' (a tree with S*/MyPoses) or 'cdf' (a tree with S*/MyPoseFeatures)."""
    path = Path(source)
    if path.suffix == ".npz":
        return "videopose3d"
    if path.is_dir():
        for _, sdir in subject_dirs(path):
            if (sdir / "MyPoses" / "3D_positions").is_dir():
                return "martinez"
            if (sdir / "MyPoseFeatures" / "D3_Positions").is_dir():
                return "cdf"
    raise FileNotFoundError(
        f"{str(path)!r} is neither a VideoPose3D .npz nor a Human3.6M tree with "
        f"S*/MyPoses/3D_positions (Martinez) or S*/MyPoseFeatures/D3_Positions (original)"
    )


def load_h36m(source: PathLike, path_2d: Optional[PathLike] = None, **kwargs) -> H36MData:
    """Load any supported release, chosen by :func:`detect_source`; keyword arguments go to that loader."""
    kind = detect_source(source)
    if kind == "videopose3d":
        return load_videopose3d(source, path_2d, **kwargs)
    if path_2d is not None:
        raise ValueError("path_2d only applies to VideoPose3D files; for the Martinez tree use detections=")
    return load_martinez(source, **kwargs) if kind == "martinez" else load_h36m_release(source, **kwargs)


# ---------------------------------------------------------------------------------------------------------
# protocol splits


@dataclass(frozen=True)
class SplitConfig:
    """Protocol #1 subjects and a validation split drawn ONLY from the training subjects.

    val_subjects: training subjects held out whole (e.g. ``("S8",)``).
    val_every: if > 0, every ``val_every``-th remaining training sequence (sorted by subject, action), starting
        at ``val_offset``, goes to validation -- a split that keeps every subject in training.
    """

    train_subjects: Tuple[str, ...] = TRAIN_SUBJECTS
    test_subjects: Tuple[str, ...] = TEST_SUBJECTS
    val_subjects: Tuple[str, ...] = ()
    val_every: int = 0
    val_offset: int = 0

    def __post_init__(self):
        overlap = set(self.train_subjects) & set(self.test_subjects)
        if overlap:
            raise ValueError(f"subjects {sorted(overlap)} are in both the training and the test split")
        leak = set(self.val_subjects) - set(self.train_subjects)
        if leak:
            raise ValueError(
                f"validation subjects {sorted(leak)} are not training subjects "
                f"{list(self.train_subjects)}; validation must never use test subjects"
            )
        if self.val_every < 0 or not (0 <= self.val_offset < max(self.val_every, 1)):
            raise ValueError(
                f"need val_every >= 0 and 0 <= val_offset < val_every; got {self.val_every}, {self.val_offset}"
            )


@dataclass
class Splits:
    train: H36MData
    val: H36MData
    test: H36MData


def split_protocol(data: H36MData, config: Optional[SplitConfig] = None, **overrides) -> Splits:
    """Split loaded data into train / validation / test (fields of :class:`SplitConfig` as keywords too).

    Subjects in neither list (S2-S4, S10, custom videos) go to no split. Every split shares ``data.report``.
    """
    config = dataclasses.replace(config or SplitConfig(), **overrides)
    train, val, test = [], [], []
    for seq in sorted(data.sequences, key=lambda s: (_subject_sort_key(s.subject), s.action)):
        if seq.subject in config.test_subjects:
            test.append(seq)
        elif seq.subject in config.val_subjects:
            val.append(seq)
        elif seq.subject in config.train_subjects:
            train.append(seq)
    if config.val_every:
        keep = []
        for i, seq in enumerate(train):
            (val if i % config.val_every == config.val_offset else keep).append(seq)
        train = keep
    return Splits(H36MData(train, data.report), H36MData(val, data.report), H36MData(test, data.report))


__all__ = [
    "TRAIN_SUBJECTS",
    "TEST_SUBJECTS",
    "DEFAULT_EXCLUSIONS",
    "SEQUENCES_PER_ACTION",
    "FPS",
    "check_complete",
    "H36M_ACTIONS",
    "Sequence",
    "H36MData",
    "LoadReport",
    "H36MFormatError",
    "SequenceSource",
    "load_videopose3d",
    "load_martinez",
    "load_h36m_release",
    "load_h36m",
    "detect_source",
    "scan_martinez_tree",
    "scan_cdf_tree",
    "select_sources",
    "usable_sources",
    "resolve_cameras",
    "project_to_cameras",
    "camera_image_size",
    "h36m_camera_ids",
    "canonical_action_name",
    "action_base",
    "SplitConfig",
    "Splits",
    "split_protocol",
]
