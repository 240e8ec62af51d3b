"""The embedded default dataset: real CMU motion as a Human3.6M-format keypoint dataset.

``make_synthetic(out_dir)`` writes two files in the VideoPose3D layout (Pavllo et al. 2019), so every loader that
reads Human3.6M's ``data_3d_h36m.npz`` / ``data_2d_h36m_gt.npz`` reads these unchanged:

* ``data_3d_synthetic.npz``: ``positions_3d`` -> ``dict[subject][action] -> float32 (N, 17, 3)``, **metres, H36M
  world coordinates (Z up, origin at the centre of the capture floor)**, 50 Hz, H36M-17 joint order
  (0 Hip, 1 RHip, 2 RKnee, 3 RFoot, 4 LHip, 5 LKnee, 6 LFoot, 7 Spine, 8 Thorax, 9 Neck/Nose, 10 Head,
  11 LShoulder, 12 LElbow, 13 LWrist, 14 RShoulder, 15 RElbow, 16 RWrist). A side key ``metadata`` (a dict) says
  the layout, units, frame rate, seed, each sequence's source and each subject's bone lengths.
* ``data_2d_synthetic_gt.npz``: ``positions_2d`` -> ``dict[subject][action] -> list of 4 float32 (N, 17, 2)``
  pixels, the ground-truth projection through the four real Human3.6M cameras of that subject (order
  54138969, 55011271, 58860488, 60457274; Human3.6M toolkit distortion); ``metadata`` = ``{layout_name: 'h36m',
  num_joints: 17, keypoints_symmetry: [left, right]}``.

How it is made (all deterministic given ``seed``):

1. **Motion**: the 38 CMU sequences shipped in ``weakpose/data/assets/cmu`` (8 actions; 50 Hz, Z up, floor at 0)
   plus the three shipped BVH clips read through :mod:`weakpose.data.motion.bvh` (actions ``StartWalk`` and ``Hop``).
   Long sequences are cut to a window of at most ``max_frames`` frames.
2. **No leakage**: each *source sequence* goes either to the training subjects (S1, S5, S6, S7, S8) or to the test
   subjects (S9, S11), never both; every action gets at least one test sequence, and actions with one sequence
   only (WashWindow, Hop) are test-only.
3. **Bodies**: each subject gets its own bone lengths, constant over all its sequences: Human3.6M S1's lengths
   scaled by a per-subject factor and a per-bone jitter (left and right alike). Poses keep every bone's direction;
   positions are rebuilt down the tree. The CMU root sits ~10 cm above the hip joints, so the root is first moved
   to the hip midpoint, as in Human3.6M.
4. **Variety**: each sequence is mirrored (x -> -x with left/right swapped) with probability ``mirror_probability``
   and turned about the vertical axis by a random heading; it is placed with its trajectory centred near the
   middle of the capture floor, feet back on the floor.
5. **2D**: projected through ``weakpose.data.h36m.cameras.load_h36m_cameras_json()``.

Motion data: The data used in this project was obtained from mocap.cs.cmu.edu. The database was created with
funding from NSF EIA-0196217.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import sys
import zlib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from weakpose.data.h36m.readers import H36MFormatError, check_pair, write_npz_pair
from weakpose.data.motion.bones import H36M_S1_BONE_LENGTHS, h36m_like_bone_lengths, rescale_bones  # noqa: F401
from weakpose.data.motion.cmu import CMU_ACTION_NAMES, load_cmu_bvh_clips, load_cmu_motion
from weakpose.io_utils import atomic_write_text
from weakpose.skeleton import H36M17, flip_joints

log = logging.getLogger(__name__)

__all__ = [
    "TRAIN_SUBJECTS",
    "TEST_SUBJECTS",
    "H36M_S1_BONE_LENGTHS",
    "SyntheticConfig",
    "SyntheticPaths",
    "SourceClip",
    "load_source_clips",
    "split_sources",
    "subject_bone_lengths",
    "rescale_bones",
    "make_synthetic",
    "ensure_synthetic",
    "main",
]

PathLike = Union[str, os.PathLike]

from weakpose.data.h36m.protocol import FPS, TEST_SUBJECTS, TRAIN_SUBJECTS  # noqa: E402  (one home of the protocol)

DATA_3D_NAME = "data_3d_synthetic.npz"
DATA_2D_NAME = "data_2d_synthetic_gt.npz"
SUMMARY_NAME = "synthetic_summary.json"


@dataclass
class SyntheticConfig:
    """Everything that decides the generated data. Lengths in metres, angles in degrees."""

    seed: int = 0
    max_frames: int = 500  # per source sequence, at 50 Hz (10 s); None or <= 0 keeps whole sequences
    include_bvh: bool = True  # also use the shipped BVH clips (StartWalk, Hop)
    actions: Optional[Tuple[str, ...]] = None  # restrict to these action names (H36M style); None = all
    train_subjects: Tuple[str, ...] = TRAIN_SUBJECTS
    test_subjects: Tuple[str, ...] = TEST_SUBJECTS
    subject_scale_range: Tuple[float, float] = (0.92, 1.08)  # overall body size factor per subject
    bone_jitter: float = 0.03  # std of the log per-bone length factor (left and right share it)
    mirror_probability: float = 0.5
    placement_radius: float = 0.3  # trajectory centre placed uniformly within this disc around the origin
    test_fraction: float = 2 / 7  # share of each action's sequences given to the test subjects
    copies: int = 1  # performances of each source clip per subject, each placed, turned and mirrored afresh

    def __post_init__(self):
        shared = sorted(set(self.train_subjects) & set(self.test_subjects))
        if shared:
            raise ValueError(f"train and test subjects overlap: {shared}")
        if not self.train_subjects or not self.test_subjects:
            raise ValueError("need at least one training and one test subject")
        if int(self.copies) < 1:
            raise ValueError(f"copies must be >= 1, got {self.copies}")
        if not 0 <= self.mirror_probability <= 1:
            raise ValueError(f"mirror_probability must be in [0, 1], got {self.mirror_probability}")


@dataclass(frozen=True)
class SyntheticPaths:
    data_3d: Path
    data_2d: Path
    summary: Path


@dataclass
class SourceClip:
    """One source sequence: H36M-17 positions (N, 17, 3) float64 metres, Z up, 50 Hz, floor at z = 0."""

    source_id: str  # "cmu:walking/train_1" or "bvh:131_01"
    action: str  # H36M-style action name
    positions: np.ndarray = field(repr=False)


def load_source_clips(include_bvh: bool = True, actions: Optional[Sequence[str]] = None) -> List[SourceClip]:
    """The shipped motion as :class:`SourceClip` s, sorted by action then source id."""
    clips = []
    for src_action, seqs in load_cmu_motion().items():
        for key, p in seqs.items():
            clips.append(SourceClip(f"cmu:{src_action}/{key}", CMU_ACTION_NAMES[src_action], p.astype(np.float64)))
    if include_bvh:
        for action, seqs in load_cmu_bvh_clips(fps=FPS).items():
            for clip, p in seqs.items():
                clips.append(SourceClip(f"bvh:{clip}", action, p.astype(np.float64)))
    if actions is not None:
        known = sorted({c.action for c in clips})
        unknown = sorted(set(actions) - set(known))
        if unknown:
            raise KeyError(f"unknown actions {unknown}; available: {known}")
        clips = [c for c in clips if c.action in set(actions)]
    return sorted(clips, key=lambda c: (c.action, c.source_id))


def _rng(seed: int, *labels) -> np.random.Generator:
    """A generator that depends only on the seed and the labels (not on what else is generated)."""
    words = [int(seed) & 0xFFFFFFFF] + [zlib.crc32(str(l).encode()) for l in labels]
    return np.random.default_rng(words)


def split_sources(clips: Sequence[SourceClip], config: SyntheticConfig) -> Dict[str, List[SourceClip]]:
    """Assign whole source sequences to subjects: train and test subjects never share a source sequence.

    Per action, ``ceil(test_fraction * n)`` sequences (at least 1, and all of them when n == 1) go to the test
    subjects; the rest to the training subjects. Within each side, sequences are dealt round-robin over the
    subjects (action by action) so every subject sees a mix of actions.
    """
    by_action: Dict[str, List[SourceClip]] = {}
    for c in clips:
        by_action.setdefault(c.action, []).append(c)
    test, train = [], []
    for action in sorted(by_action):
        group = sorted(by_action[action], key=lambda c: c.source_id)
        order = _rng(config.seed, "split", action).permutation(len(group))
        n = len(group)
        n_test = n if n == 1 else min(n - 1, max(1, math.ceil(config.test_fraction * n)))
        test += [group[i] for i in order[:n_test]]
        train += [group[i] for i in order[n_test:]]
    assignment: Dict[str, List[SourceClip]] = {s: [] for s in (*config.train_subjects, *config.test_subjects)}
    for side, subjects in ((train, config.train_subjects), (test, config.test_subjects)):
        start = int(_rng(config.seed, "deal", len(subjects)).integers(len(subjects)))
        for k, clip in enumerate(side):
            assignment[subjects[(start + k) % len(subjects)]].append(clip)
    return assignment


def subject_bone_lengths(subject: str, config: SyntheticConfig) -> np.ndarray:
    """(17,) bone length per child joint (entry 0, the root, is 0), metres; symmetric left/right."""
    return h36m_like_bone_lengths(_rng(config.seed, "bones", subject), config.subject_scale_range, config.bone_jitter)


def _rotation_z(angle: float) -> np.ndarray:
    c, s = math.cos(angle), math.sin(angle)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def _feet_level(poses: np.ndarray) -> float:
    """Low percentile of the lower ankle's height: how high the ankles sit when the feet are on the floor."""
    return float(np.percentile(poses[:, [H36M17.index("RFoot"), H36M17.index("LFoot")], 2].min(axis=1), 2.0))


def _transform_clip(
    clip: SourceClip, lengths: np.ndarray, config: SyntheticConfig, copy: int = 0
) -> Tuple[np.ndarray, dict]:
    """Window, mirror, re-proportion, turn and place one source clip for one subject (``copy``: which
    performance of it, each with its own draws; copy 0 keeps the draws of a single-copy set)."""
    rng = _rng(config.seed, "clip", clip.source_id) if copy == 0 else _rng(config.seed, "clip", clip.source_id, copy)
    p = clip.positions
    start = 0
    if config.max_frames and len(p) > config.max_frames:
        start = int(rng.integers(0, len(p) - config.max_frames + 1))
        p = p[start : start + config.max_frames]
    mirrored = bool(rng.random() < config.mirror_probability)
    heading = float(rng.uniform(0.0, 2 * math.pi))
    offset = rng.uniform(-1.0, 1.0, size=2)
    while np.sum(offset**2) > 1.0:  # uniform in the unit disc
        offset = rng.uniform(-1.0, 1.0, size=2)
    offset *= config.placement_radius

    if mirrored:
        p = flip_joints(p, H36M17, axis=0)  # a mirror-image person: x -> -x, left <-> right
    p = p.copy()
    hips = [H36M17.index("RHip"), H36M17.index("LHip")]
    p[:, 0] = p[:, hips].mean(axis=1)  # H36M's pelvis joint is at hip height, CMU's root ~10 cm above
    feet_before = _feet_level(p)
    q = rescale_bones(p, lengths)
    q[..., 2] += feet_before - _feet_level(q)  # longer legs would push the feet through the floor
    root_xy = q[:, 0, :2]
    centre = np.array(
        [0.5 * (root_xy[:, 0].min() + root_xy[:, 0].max()), 0.5 * (root_xy[:, 1].min() + root_xy[:, 1].max()), 0.0]
    )
    q = (q - centre) @ _rotation_z(heading).T
    q[..., :2] += offset
    info = {
        "source": clip.source_id,
        "start_frame": start,
        "frames": len(q),
        "mirrored": mirrored,
        "heading_deg": round(math.degrees(heading), 3),
        "centre_xy_m": [round(float(v), 4) for v in offset],
    }
    return q, info


def _inside_fraction(uv: np.ndarray, depth: np.ndarray, size: Tuple[float, float]) -> np.ndarray:
    """Per frame: are all joints in front of the camera and inside the image?"""
    w, h = size
    ok = (depth > 0) & (uv[..., 0] >= 0) & (uv[..., 0] < w) & (uv[..., 1] >= 0) & (uv[..., 1] < h)
    return ok.all(axis=-1)


def make_synthetic(
    out_dir: PathLike = "data/synthetic", config: Optional[SyntheticConfig] = None, **overrides
) -> SyntheticPaths:
    """Write the synthetic Human3.6M-format dataset to ``out_dir``; returns the three paths.

    ``overrides`` are :class:`SyntheticConfig` fields (``seed=1, max_frames=100`` ...). Files are written
    atomically; the same config gives byte-identical arrays. See the module docstring for the layout.
    """
    from weakpose.data.h36m.cameras import H36M_CAMERA_IDS, load_h36m_cameras_json

    config = config or SyntheticConfig()
    if overrides:
        config = SyntheticConfig(**{**asdict(config), **overrides})
    out_dir = Path(out_dir)
    subjects = (*config.train_subjects, *config.test_subjects)
    cameras = load_h36m_cameras_json(subjects=subjects)
    assignment = split_sources(load_source_clips(config.include_bvh, config.actions), config)

    positions_3d: Dict[str, Dict[str, np.ndarray]] = {}
    positions_2d: Dict[str, Dict[str, List[np.ndarray]]] = {}
    sources: Dict[str, Dict[str, dict]] = {}
    bone_table: Dict[str, List[float]] = {}
    inside_total = np.zeros(len(H36M_CAMERA_IDS))
    frames_total = 0
    for subject in subjects:
        lengths = subject_bone_lengths(subject, config)
        bone_table[subject] = [round(float(v), 6) for v in lengths]
        positions_3d[subject], positions_2d[subject], sources[subject] = {}, {}, {}
        counts: Dict[str, int] = {}
        for clip, copy in ((c, k) for c in assignment[subject] for k in range(int(config.copies))):
            k = counts.get(clip.action, 0)
            counts[clip.action] = k + 1
            name = clip.action if k == 0 else f"{clip.action} {k}"  # H36M style: "Walking", "Walking 1"
            world, info = _transform_clip(clip, lengths, config, copy)
            world32 = world.astype(np.float32)
            views = []
            for c, cam_id in enumerate(H36M_CAMERA_IDS):
                cam = cameras[subject][cam_id]
                x64 = world32.astype(np.float64)
                views.append(np.asarray(cam.project(x64), dtype=np.float32))
                depth = np.asarray(cam.world_to_camera(x64))[..., 2]
                size = tuple(float(v) for v in np.asarray(cam.image_size))
                inside_total[c] += _inside_fraction(views[-1], depth, size).sum()
            frames_total += len(world32)
            positions_3d[subject][name] = world32
            positions_2d[subject][name] = views
            sources[subject][name] = info

    inside = inside_total / max(frames_total, 1)
    metadata_3d = {
        "layout_name": "h36m",
        "num_joints": H36M17.num_joints,
        "joint_names": list(H36M17.joints),
        "parents": list(H36M17.parents),
        "units": "metres",
        "frame": "H36M world, Z up",
        "fps": FPS,
        "train_subjects": list(config.train_subjects),
        "test_subjects": list(config.test_subjects),
        "sources": sources,
        "bone_lengths": bone_table,
        "config": _jsonable(asdict(config)),
        "acknowledgement": "The data used in this project was obtained from mocap.cs.cmu.edu. "
        "The database was created with funding from NSF EIA-0196217.",
    }
    metadata_2d = {
        "layout_name": "h36m",
        "num_joints": H36M17.num_joints,
        "keypoints_symmetry": [list(H36M17.left), list(H36M17.right)],
    }
    paths = SyntheticPaths(out_dir / DATA_3D_NAME, out_dir / DATA_2D_NAME, out_dir / SUMMARY_NAME)
    write_npz_pair(
        paths.data_3d,
        {"positions_3d": positions_3d, "metadata": metadata_3d},
        paths.data_2d,
        {"positions_2d": positions_2d, "metadata": metadata_2d},
    )
    summary = {
        "frames": frames_total,
        "frames_train": sum(len(v) for s in config.train_subjects for v in positions_3d[s].values()),
        "frames_test": sum(len(v) for s in config.test_subjects for v in positions_3d[s].values()),
        "fraction_all_joints_in_image": {cam: round(float(f), 4) for cam, f in zip(H36M_CAMERA_IDS, inside)},
        "fraction_all_joints_in_image_mean": round(float(inside.mean()), 4),
        "actions_train": sorted({c.action for s in config.train_subjects for c in assignment[s]}),
        "actions_test": sorted({c.action for s in config.test_subjects for c in assignment[s]}),
        "metadata": _jsonable(metadata_3d),
    }
    atomic_write_text(paths.summary, json.dumps(summary, indent=1) + "\n")
    return paths


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def ensure_synthetic(data_dir: PathLike = "data/synthetic", **overrides) -> SyntheticPaths:
    """Generate the synthetic dataset in ``data_dir`` unless both npz files are already there; return the paths.

    Sample scripts call this so a fresh checkout runs end to end without any download.
    """
    data_dir = Path(data_dir)
    paths = SyntheticPaths(data_dir / DATA_3D_NAME, data_dir / DATA_2D_NAME, data_dir / SUMMARY_NAME)
    if paths.data_3d.is_file() and paths.data_2d.is_file():
        try:
            check_pair(paths.data_3d, paths.data_2d)
            return paths
        except H36MFormatError as e:  # an interrupted earlier generation: make the pair again
            log.warning("%s; generating the synthetic dataset again", e)
    return make_synthetic(data_dir, **overrides)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """``weakpose make-synthetic`` (without ``--images``, which :mod:`weakpose.commands.make_synthetic` routes to
    the image set): write the embedded-default dataset (Human3.6M layout, real CMU motion)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    defaults = SyntheticConfig()
    parser = argparse.ArgumentParser(
        prog="weakpose make-synthetic",
        description="Write a Human3.6M-format keypoint dataset (VideoPose3D npz layout) made from the CMU motion "
        "shipped with weakpose, projected through the real Human3.6M cameras.",
    )
    parser.add_argument("--out", default="data/synthetic", help="output folder (default: data/synthetic)")
    parser.add_argument(
        "--images",
        action="store_true",
        help="render the multi-view image set instead (see `weakpose make-synthetic --images --help`)",
    )
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument(
        "--max-frames",
        type=int,
        default=defaults.max_frames,
        help="frames (50 Hz) kept per source sequence; 0 keeps whole sequences (default 500)",
    )
    parser.add_argument("--no-bvh", action="store_true", help="leave out the shipped BVH clips")
    parser.add_argument("--actions", nargs="+", default=None, help="only these actions (e.g. Walking Running)")
    parser.add_argument("--mirror-probability", type=float, default=defaults.mirror_probability)
    parser.add_argument("--bone-jitter", type=float, default=defaults.bone_jitter)
    parser.add_argument(
        "--copies",
        type=int,
        default=defaults.copies,
        help="performances of each source clip per subject (30 with --max-frames 0 gives a set of "
        "Human3.6M's size: ~1.5 M training windows over 4 cameras)",
    )
    args = parser.parse_args(argv)
    config = SyntheticConfig(
        seed=args.seed,
        max_frames=args.max_frames,
        include_bvh=not args.no_bvh,
        actions=tuple(args.actions) if args.actions else None,
        mirror_probability=args.mirror_probability,
        bone_jitter=args.bone_jitter,
        copies=args.copies,
    )
    try:
        paths = make_synthetic(args.out, config)
    except (KeyError, ValueError, FileNotFoundError) as err:
        print(f"weakpose make-synthetic: {err}", file=sys.stderr)
        return 2
    summary = json.loads(paths.summary.read_text())
    print(f"wrote {paths.data_3d}\n      {paths.data_2d}\n      {paths.summary}")
    print(
        f"frames at 50 Hz: {summary['frames_train']} train ({', '.join(config.train_subjects)}), "
        f"{summary['frames_test']} test ({', '.join(config.test_subjects)})"
    )
    print(f"actions: train {summary['actions_train']}; test {summary['actions_test']}")
    print(
        f"frames with all 17 joints inside the image (mean over cameras): "
        f"{summary['fraction_all_joints_in_image_mean']:.1%}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
