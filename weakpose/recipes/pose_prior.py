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

import time
from pathlib import Path
from typing import Dict, Optional, Sequence

import numpy as np
import torch
from tqdm import tqdm

from weakpose.priors import PoseCritic
from weakpose.priors.corruptions import corrupted_versions
from weakpose.priors.generators import PoseGenerator
from weakpose.recipes.recordings import Recording
from weakpose.tasks.pose_prior import PosePriorTask

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


def train_pose_prior(
    poses: np.ndarray,
    steps: int,
    batch_size: int = 256,
    seed: int = 0,
    log_path: Optional[Path] = None,
    val_poses: Optional[np.ndarray] = None,
    select_every: int = 500,
    **widths,
) -> PoseCritic:
    """Train a :class:`PoseCritic` (RepNet widths unless ``widths``) on real poses (N, 17, 3) metres;
    returns it frozen in eval mode. With ``val_poses``, the critic with the best :func:`mean_rank_accuracy` on
    them (checked every ``select_every`` steps) is returned and ``critic.meta["selected_step"]`` says which.
    ``log_path``: a CSV of step, critic gap, gradient penalty, validation accuracy and seconds."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    critic, generator = PoseCritic(**widths), PoseGenerator()
    # the poses are already turned to every heading and seen by cameras at many elevations: no extra rotation
    task = PosePriorTask(critic, generator, rotate=False, mirror=True, mirror_axis="x")
    real = torch.from_numpy(np.asarray(poses, dtype=np.float32))
    rows, t0 = [], time.perf_counter()
    best = (-1.0, -1, None)
    critic.train()
    generator.train()
    bar = tqdm(range(steps), desc="pose prior", unit="step", dynamic_ncols=True)
    for step in bar:
        logs = task.training_step(real[rng.integers(0, len(real), batch_size)], step)
        val = float("nan")
        if val_poses is not None and ((step + 1) % select_every == 0 or step == steps - 1):
            critic.eval()
            val = mean_rank_accuracy(evaluate_pose_prior(critic, val_poses))
            critic.train()
            if val > best[0]:
                best = (val, step + 1, {k: v.clone() for k, v in critic.state_dict().items()})
        if step % 100 == 0 or step == steps - 1 or val == val:
            bar.set_postfix(gap=f"{logs['critic_gap']:.3f}", val=f"{best[0]:.1f}")
            rows.append((step, logs["critic_gap"], logs["gp"], val, time.perf_counter() - t0))
    if log_path is not None:
        from weakpose.io_utils import atomic_write_path

        with atomic_write_path(Path(log_path)) as tmp:
            Path(tmp).write_text(
                "step,critic_gap,gp,val_rank_accuracy,seconds\n"
                + "".join(f"{s},{g:.5f},{p:.5f},{v:.2f},{t:.1f}\n" for s, g, p, v, t in rows)
            )
    if best[2] is not None:
        critic.load_state_dict(best[2])
        critic.meta = {"selected_step": best[1], "validation_rank_accuracy_%": round(best[0], 2)}
    return critic.eval().requires_grad_(False)
