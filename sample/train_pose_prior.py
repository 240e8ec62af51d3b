"""Train a 3D pose prior (RepNet's KCS critic, WGAN-GP) on a set of 3D poses and save it as one file.

With no dataset given this runs on the embedded default (synthetic Human3.6M-layout data from real CMU motion,
generated into data/synthetic on first use): world poses of the TRAINING subjects, root-relative; the test
subjects are never read. Examples:

    python sample/train_pose_prior.py                        # ~2-3 min on 2 CPU cores
    python sample/train_pose_prior.py data.root=data/h36m/data_3d_h36m.npz train.max_steps=20000 train.device=cuda
    python sample/train_pose_prior.py model.frame=camera     # a prior for camera-frame poses (y down)
    python sample/train_pose_prior.py --resume               # continue a killed run

Real poses: every ``data.stride``-th frame of the training subjects' sequences, every ``data.val_every``-th
sequence held out to validate on.
Writes runs/pose_prior/prior.pt (load with ``weakpose.priors.PoseCritic.load``), metrics.csv, and in
runs/pose_prior/images/ (run.images_dir elsewhere; run.images_dir=images regenerates the README's figures)
pose_prior_samples.png (generator samples after training) and pose_prior_curves.png.
Method: Wandt & Rosenhahn, CVPR 2019 (critic, KCS); Gulrajani et al., NeurIPS 2017 (WGAN-GP).
"""

from __future__ import annotations

import dataclasses
import sys
import time
from pathlib import Path
from typing import Literal

import numpy as np
import torch

from weakpose.data.datasets.pose_pool import RealPoseDataset, real_poses
from weakpose.data.sources import DataConfig, load_keypoint_data
from weakpose.priors import PoseCritic
from weakpose.priors.generators import PoseGenerator
from weakpose.skeleton import H36M17
from weakpose.tasks.pose_prior import AugmentConfig, LossConfig, OptimConfig, PosePriorTask
from weakpose.train import TrainConfig, Trainer, start_run
from weakpose.train.run_config import RunConfig, run_shortcuts
from weakpose.train.startup import run_script
from weakpose.viz import plot_metric_curves, save_pose_comparison


@dataclasses.dataclass
class ModelConfig:
    frame: Literal["world", "camera"] = "world"  # the poses the prior judges: world (z up) or camera (y down)
    pose_width: int = 100
    num_blocks: int = 1
    kcs_width: int = 100
    fused_width: int = 100
    noise_dim: int = 32
    generator_width: int = 256
    generator_blocks: int = 2


@dataclasses.dataclass
class Config:
    # every val_every-th training sequence is held out to validate on (all training subjects' sequences)
    data: DataConfig = dataclasses.field(default_factory=lambda: DataConfig(val_every=5))
    model: ModelConfig = dataclasses.field(default_factory=ModelConfig)
    optim: OptimConfig = dataclasses.field(default_factory=OptimConfig)
    loss: LossConfig = dataclasses.field(default_factory=LossConfig)
    augment: AugmentConfig = dataclasses.field(default_factory=AugmentConfig)
    train: TrainConfig = dataclasses.field(
        default_factory=lambda: TrainConfig(
            out_dir="runs/pose_prior", max_steps=3000, batch_size=256, log_every=50, val_every=500, ckpt_every=1000
        )
    )
    # these networks are small: one thread is fastest
    run: RunConfig = dataclasses.field(default_factory=lambda: RunConfig(num_threads=1))


SHORTCUTS = run_shortcuts("3D poses: a VideoPose3D data_3d_*.npz, a Martinez tree or an original-release tree")


def implausible_versions(poses: np.ndarray, rng: np.random.Generator) -> dict:
    """Broken copies of real poses (N, 17, 3) metres: joints shuffled, all bones ×2, one limb ×2."""
    shuffled = np.stack([p[np.concatenate([[0], 1 + rng.permutation(16)])] for p in poses])
    long_arm = poses.copy()
    wrist = H36M17.index("LWrist")
    long_arm[:, wrist] += poses[:, wrist] - poses[:, H36M17.index("LElbow")]  # forearm twice as long
    return {"joints shuffled": shuffled, "bones x2": 2.0 * poses, "forearm x2": long_arm}


def main(argv=None) -> int:
    cfg, args = start_run(Config, argv, description=__doc__, shortcuts=SHORTCUTS)
    t0 = time.perf_counter()

    data = load_keypoint_data(cfg.data)
    seqs = list(data.splits.train.sequences)  # training subjects only: the test subjects are never read
    k, frame = cfg.data.val_every, cfg.model.frame
    val_seqs = [s for i, s in enumerate(seqs) if k and i % k == k - 1]
    train_seqs = [s for s in seqs if s not in val_seqs]
    train_poses = real_poses(train_seqs, frame, cfg.data.stride)
    val_poses = real_poses(val_seqs, frame) if val_seqs else np.zeros((0, 17, 3), np.float32)
    print(
        f"pose prior on {len(train_poses)} {frame}-frame poses of {sorted({s.subject for s in train_seqs})}"
        f", validating on {len(val_poses)} poses of {len(val_seqs)} held-out sequences"
    )

    m = cfg.model
    critic = PoseCritic(
        pose_width=m.pose_width, num_blocks=m.num_blocks, kcs_width=m.kcs_width, fused_width=m.fused_width
    )
    generator = PoseGenerator(noise_dim=m.noise_dim, width=m.generator_width, num_blocks=m.generator_blocks)
    up_axis = "z" if frame == "world" else "y"
    task = PosePriorTask.from_config(
        critic, generator, optim=cfg.optim, loss=cfg.loss, augment=cfg.augment, up_axis=up_axis
    )
    val_ds = RealPoseDataset(val_poses) if len(val_poses) else None
    trainer = Trainer(
        task, cfg, RealPoseDataset(train_poses), val_ds, resume=args.resume, callbacks=cfg.run.budget_callbacks()
    )
    result = trainer.fit()
    if result.interrupted or not trainer.is_main:
        return 0

    out = Path(cfg.train.out_dir)
    images = cfg.run.images(out)
    critic.cpu().eval()
    generator.cpu().eval()
    check = val_poses if len(val_poses) else train_poses
    check = check[np.random.default_rng(0).choice(len(check), min(2000, len(check)), replace=False)]
    real_scores = critic.score(check)
    lines = []
    for name, broken in implausible_versions(check, np.random.default_rng(1)).items():
        frac = float(np.mean(real_scores > critic.score(broken.astype(np.float32))))
        lines.append(f"  real > {name}: {frac:.1%} of {len(check)} held-out poses")
    with torch.no_grad():
        samples = generator.sample(6, generator=torch.Generator().manual_seed(0)).numpy()
    gap = result.last_validation.get("val/critic_gap")
    critic.meta = {
        "frame": frame,
        "up_axis": up_axis,
        "joint_order": "h36m17",
        "units": "metres",
        "data": cfg.data.root or "embedded synthetic default (CMU motion)",
        "train_subjects": sorted({s.subject for s in train_seqs}),
        "num_train_poses": int(len(train_poses)),
        "steps": int(result.step),
        "val_critic_gap": None if gap is None else float(gap),
        "real_score_mean": float(real_scores.mean()),
        "real_score_std": float(real_scores.std()),
    }
    critic.save(out / "prior.pt")

    save_pose_comparison(
        images / "pose_prior_samples.png",
        poses_2d=None,
        poses_pred=list(samples),
        titles=[f"generated {i}" for i in range(len(samples))],
        up_axis="z" if frame == "world" else "-y",
    )
    plot_metric_curves(
        out / "metrics.csv",
        images / "pose_prior_curves.png",
        keys=["train/critic_gap", "val/critic_gap", "val/bone_length_error"],
        log_y=False,
        title="pose prior: critic gap E[real]-E[fake]; generator bone error (m)",
    )
    print(
        f"\nfinished {result.step} steps in {time.perf_counter() - t0:.0f} s; "
        f"validation critic gap {gap if gap is None else f'{gap:.4f}'}"
    )
    print("critic scores, held-out real poses vs broken copies of the same poses:")
    print("\n".join(lines))
    print(f"wrote {out / 'prior.pt'}, {images / 'pose_prior_samples.png'}, {images / 'pose_prior_curves.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(run_script(main))
