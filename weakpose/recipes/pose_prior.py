"""Recipe of the shipped pose prior: RepNet's KCS critic trained with WGAN-GP on augmented CMU poses, camera frame.

Why the camera frame: a prior regularises what lifters and regressors output, and those output camera-frame poses
(x right, y down, z forward). The real poses are the root-relative camera-frame joints of
:func:`weakpose.recipes.recordings.training_recordings` (Human3.6M-like proportions, mirrored, every heading,
Human3.6M-like and random virtual cameras, so every viewing elevation the cameras give), plus a left/right mirror
of half of each batch. The critic learns against :class:`weakpose.priors.generators.PoseGenerator` with the usual
WGAN-GP settings. A WGAN critic's ranking of implausible poses drifts as it chases the generator, so every
``select_every`` steps the critic is scored by :func:`evaluate_pose_prior` on VALIDATION poses (whole training-side
sequences kept out of its training, :data:`VALIDATION_SEQUENCES`) and the best one is kept; the held-out
sequences of the card are never looked at. Protocol of the card: :func:`evaluate_pose_prior` on the held-out
recordings.
"""

from __future__ import annotations

from pathlib import Path
from typing import Dict, Optional, Sequence

import numpy as np
import torch

from weakpose.data.datasets.pose_pool import RealPoseDataset
from weakpose.priors import PoseCritic
from weakpose.priors.corruptions import corrupted_versions
from weakpose.priors.generators import PoseGenerator
from weakpose.recipes.fitting import fit_recipe
from weakpose.recipes.recordings import Recording
from weakpose.tasks.pose_prior import PosePriorTask
from weakpose.train.callbacks import KeepBestWeights

__all__ = [
    "VALIDATION_SEQUENCES",
    "camera_frame_poses",
    "train_pose_prior",
    "evaluate_pose_prior",
    "mean_rank_accuracy",
]

#: Training-side sequences the prior does not train on, used to pick its checkpoint.
VALIDATION_SEQUENCES = ("basketball/train_1", "jumping/train_1", "soccer/train_1", "walking/train_1")


def camera_frame_poses(recordings: Sequence[Recording], stride: int = 1) -> np.ndarray:
    """Root-relative camera-frame poses (N, 17, 3) float32 of every ``stride``-th frame of ``recordings``."""
    return np.concatenate([r.root_relative_3d[::stride] for r in recordings]).astype(np.float32)


def evaluate_pose_prior(prior: PoseCritic, poses: np.ndarray, seed: int = 0) -> Dict[str, object]:
    """Card figures on real poses (N, 17, 3): per corruption of :func:`corrupted_versions` (seeded), the share
    (%) of the poses it applies to that the prior scores above their corrupted copy; and the real poses' mean
    score. Deterministic for a given prior, poses and seed."""
    poses = np.asarray(poses, dtype=np.float64)
    real = prior.score(poses.astype(np.float32)).astype(np.float64)
    out: Dict[str, object] = {"poses": int(len(poses)), "real_score_mean": round(float(real.mean()), 4)}
    ranks = {}
    for name, (bad, valid) in corrupted_versions(poses, np.random.default_rng(seed)).items():
        broken = prior.score(bad.astype(np.float32)).astype(np.float64)
        ranks[name] = {
            "real_above_%": round(100.0 * float((real[valid] > broken[valid]).mean()), 2),
            "poses": int(valid.sum()),
        }
    out["real_above_corrupted"] = ranks
    return out


def mean_rank_accuracy(figures: Dict[str, object]) -> float:
    """Mean over corruptions of the share (%) of real poses scored above their corrupted copy."""
    return float(np.mean([row["real_above_%"] for row in figures["real_above_corrupted"].values()]))


class _RankSelectingTask(PosePriorTask):
    """:class:`PosePriorTask` whose validation scores the whole validation split at once: ``rank_accuracy``, the
    :func:`mean_rank_accuracy` of the critic on it (a ranking over all poses, so not a mean of batches)."""

    def validate_dataset(self, dataset, rank: int, world_size: int, device) -> Dict[str, tuple]:
        accuracy = mean_rank_accuracy(evaluate_pose_prior(self.critic, dataset.poses.numpy()))
        return {"rank_accuracy": (accuracy, 1.0)} if rank == 0 else {}


def train_pose_prior(
    poses: np.ndarray,
    steps: int,
    batch_size: int = 256,
    seed: int = 0,
    log_path: Optional[Path] = None,
    val_poses: Optional[np.ndarray] = None,
    select_every: int = 500,
    work_dir: Optional[Path] = None,
    **widths,
) -> PoseCritic:
    """Train a :class:`PoseCritic` (RepNet widths unless ``widths``) on real poses (N, 17, 3) metres with the
    :class:`~weakpose.train.Trainer`; returns it frozen in eval mode. With ``val_poses``, the critic with the best
    :func:`mean_rank_accuracy` on them (checked every ``select_every`` steps) is returned and
    ``critic.meta["selected_step"]`` says which. ``work_dir``: the run folder (checkpoint, metrics.csv; a temporary
    one, removed afterwards, when None). ``log_path``: a copy of the run's metrics.csv (step, critic gap, gradient
    penalty, validation accuracy, ...)."""
    if val_poses is not None and len(val_poses) == 0:
        raise ValueError("train_pose_prior: val_poses is empty (pass None to keep the last step)")
    torch.manual_seed(seed)  # the initial weights; the Trainer seeds the data order and noise itself
    critic, generator = PoseCritic(**widths), PoseGenerator()
    # the poses are already turned to every heading and seen by cameras at many elevations: no extra rotation
    task = _RankSelectingTask(critic, generator, rotate=False, mirror=True, mirror_axis="x")
    keep = KeepBestWeights(critic, "val/rank_accuracy") if val_poses is not None else None
    val = RealPoseDataset(val_poses) if val_poses is not None else None
    fit_recipe(
        "pose prior", task, RealPoseDataset(poses), steps, batch_size, seed, val=val, callbacks=[keep] if keep else [],
        work_dir=work_dir, log_path=log_path, log_every=100, val_every=select_every,
    )  # fmt: skip
    if keep is not None and keep.restore() is not None:
        critic.meta = {"selected_step": keep.best_step, "validation_rank_accuracy_%": round(keep.best_value, 2)}
    return critic.eval().requires_grad_(False)
