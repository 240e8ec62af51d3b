"""Where a sample script's keypoint data comes from: a user's Human3.6M files, or the embedded default.

Every script shares :class:`DataConfig`; :func:`load_keypoint_data` turns it into split :class:`H36MData`. With
``root`` unset the embedded default (:mod:`weakpose.data.synthetic.keypoints`) is generated on first use, so a fresh
checkout trains end to end without any download.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Optional

from weakpose.data.h36m.loaders import (
    TEST_SUBJECTS,
    TRAIN_SUBJECTS,
    H36MData,
    SplitConfig,
    Splits,
    detect_source,
    load_h36m,
    split_protocol,
)
from weakpose.data.synthetic.keypoints import ensure_synthetic


@dataclass
class DataConfig:
    """Keypoint data of a training run.

    root: a VideoPose3D ``data_3d_*.npz``, a Martinez tree or an original-release tree; unset = the embedded
        default in ``synthetic_dir``. path_2d: a VideoPose3D ``data_2d_*.npz`` (unset: ground-truth projection).
    detections: for a Martinez tree, the detection folder name (e.g. ``StackedHourglass``).
    labelled_subjects: training subjects whose 3D labels the script may use (weak supervision: few of them).
    val_every: every ``val_every``-th labelled training sequence is held out for validation/model selection.
    stride: frame stride of training samples (evaluation always uses every frame).
    cameras: camera ids to use (unset: all).
    """

    root: Optional[str] = None
    path_2d: Optional[str] = None
    detections: Optional[str] = None
    synthetic_dir: str = "data/synthetic"
    train_subjects: List[str] = field(default_factory=lambda: list(TRAIN_SUBJECTS))
    test_subjects: List[str] = field(default_factory=lambda: list(TEST_SUBJECTS))
    labelled_subjects: List[str] = field(default_factory=lambda: ["S1"])
    val_every: int = 4
    stride: int = 1
    cameras: Optional[List[str]] = None


@dataclass
class KeypointData:
    """The loaded splits plus a description of the 2D source for protocol lines."""

    splits: Splits
    labelled: H36MData
    two_d_source: str
    exclusions: List[str]


def _two_d_source(cfg: DataConfig) -> str:
    if cfg.root is None:
        return "GT projection (embedded synthetic default)"
    if cfg.path_2d is not None:
        return f"2D file {Path(cfg.path_2d).name}"
    if cfg.detections is not None:
        return f"detections {cfg.detections}"
    return "GT projection"


def load_keypoint_data(cfg: DataConfig) -> KeypointData:
    """Load ``cfg``'s data and split it into train / validation / test; validation comes from labelled subjects."""
    unknown = set(cfg.labelled_subjects) - set(cfg.train_subjects)
    if unknown:
        raise ValueError(f"data.labelled_subjects {sorted(unknown)} are not training subjects {cfg.train_subjects}")
    if cfg.root is None:
        paths = ensure_synthetic(cfg.synthetic_dir)
        source, path_2d, kwargs = paths.data_3d, paths.data_2d, {}
    else:
        source, path_2d = cfg.root, cfg.path_2d
        kwargs = {"detections": cfg.detections} if cfg.detections and detect_source(source) == "martinez" else {}
    data = load_h36m(source, path_2d, **kwargs)
    if cfg.cameras:
        present = sorted({c for seq in data.sequences for c in seq.camera_ids})
        unknown = [c for c in map(str, cfg.cameras) if c not in present]
        if unknown:
            raise ValueError(
                f"data.cameras: {unknown} are not cameras of {source} (cameras present: {present}); "
                f"the camera filter would leave no data from them"
            )
        data = data.select(cameras=cfg.cameras)
    split_cfg = SplitConfig(train_subjects=tuple(cfg.train_subjects), test_subjects=tuple(cfg.test_subjects))
    splits = split_protocol(data, split_cfg)
    labelled = H36MData([s for s in splits.train.sequences if s.subject in cfg.labelled_subjects], data.report)
    # Model selection uses held-out sequences of the labelled subjects only: never test subjects, and no extra
    # 3D labels beyond those the weak-supervision setting allows.
    train_lab, val = [], []
    for i, seq in enumerate(labelled.sequences):
        (val if cfg.val_every and i % cfg.val_every == cfg.val_every - 1 else train_lab).append(seq)
    splits = Splits(train=splits.train, val=H36MData(val, data.report), test=splits.test)
    exclusions = [f"{e.subject}/{e.action}" for e in data.report.entries if e.reason == "excluded"]
    return KeypointData(
        splits=splits, labelled=H36MData(train_lab, data.report), two_d_source=_two_d_source(cfg), exclusions=exclusions
    )


__all__ = ["DataConfig", "KeypointData", "load_keypoint_data"]
