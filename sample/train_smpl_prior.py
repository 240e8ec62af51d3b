"""Train an SMPL-parameter critic (HMR's discriminator, LSGAN) on a set of SMPL poses and shapes; save one file.

With no data given this runs on the embedded default (no download): the CMU motion shipped with weakpose, training
-side sequences only, retargeted onto the body model, with sampled shapes
(:func:`weakpose.data.smpl_params.embedded_smpl_params`). ``data.root`` (or ``--data``) reads parameter files
instead: a directory searched recursively for SURREAL ``*_info.mat`` and ``.npz`` files (weakpose or AMASS keys),
or one such file. Whole sequences are held out for validation. ``sample/train_GAN.py`` is the same script.
Examples:

    python sample/train_smpl_prior.py                              # about 2 min on one CPU thread
    python sample/train_smpl_prior.py --data /data/SURREAL/cmu/train data.stride=10 train.max_steps=20000
    python sample/train_smpl_prior.py data.root=/data/amass_npz    # .npz files (weakpose or AMASS keys)
    python sample/train_smpl_prior.py --resume                     # continue a killed run

Writes runs/smpl_prior/smpl_prior.pt (load with ``SMPLCritic.load``; then
``loss = task_loss + w * prior.loss(body_pose, betas)``), metrics.csv and runs/smpl_prior/images/
smpl_prior_curves.png (run.images_dir elsewhere; run.images_dir=images regenerates the README's figure), and
prints how held-out real parameters score against generated ones and against broken copies of themselves.
Method: Kanazawa et al., CVPR 2018 (HMR discriminator); Mao et al., ICCV 2017 (least-squares GAN).
"""

from __future__ import annotations

import dataclasses
import sys
import time
from pathlib import Path
from typing import Optional

import numpy as np
import torch

from weakpose.body.params import SMPLParams
from weakpose.data.datasets.pose_pool import SMPLParamDataset
from weakpose.data.smpl_params import embedded_smpl_params, load_smpl_param_files
from weakpose.geometry.rotations import axis_angle_to_matrix
from weakpose.priors.corruptions import implausible_versions
from weakpose.priors.generators import SMPLGenerator
from weakpose.priors.smpl_critic import SMPLCritic
from weakpose.tasks.smpl_prior import AugmentConfig, ModelConfig, OptimConfig, SMPLPriorTask
from weakpose.train import TrainConfig, Trainer, split_train_val, start_run
from weakpose.train.run_config import RunConfig, run_shortcuts
from weakpose.train.startup import run_script
from weakpose.viz import plot_metric_curves


@dataclasses.dataclass
class SMPLDataConfig:
    root: Optional[str] = None  # SURREAL *_info.mat / .npz parameter files (a folder or a file); unset = embedded
    stride: int = 1  # keep every n-th frame of parameter files (SURREAL is 30 fps)
    max_files: Optional[int] = None  # read at most this many parameter files
    max_frames: Optional[int] = None  # per embedded sequence
    beta_std: float = 1.0  # std of the embedded default's sampled shapes (and of resampled betas)
    num_betas: int = 10
    val_fraction: float = 0.2  # share of whole sequences held out for validation
    resample_betas: Optional[bool] = None  # fresh betas ~ N(0, beta_std^2) for real samples; unset = embedded only


@dataclasses.dataclass
class Config:
    data: SMPLDataConfig = dataclasses.field(default_factory=SMPLDataConfig)
    model: ModelConfig = dataclasses.field(default_factory=ModelConfig)
    optim: OptimConfig = dataclasses.field(default_factory=OptimConfig)
    augment: AugmentConfig = dataclasses.field(default_factory=AugmentConfig)
    train: TrainConfig = dataclasses.field(
        default_factory=lambda: TrainConfig(
            out_dir="runs/smpl_prior", max_steps=1500, batch_size=128, log_every=50, val_every=250, ckpt_every=1000
        )
    )
    # these networks are small: one thread is about as fast as two on a CPU
    run: RunConfig = dataclasses.field(default_factory=lambda: RunConfig(num_threads=1))


SHORTCUTS = run_shortcuts("SMPL parameter files: SURREAL *_info.mat / .npz (a folder or a file)")


def load_params(cfg: SMPLDataConfig) -> SMPLParams:
    if cfg.root:
        return load_smpl_param_files(cfg.root, num_betas=cfg.num_betas, stride=cfg.stride, max_files=cfg.max_files)
    return embedded_smpl_params(num_betas=cfg.num_betas, max_frames=cfg.max_frames, beta_std=cfg.beta_std)


def main(argv=None) -> int:
    cfg, args = start_run(Config, argv, description=__doc__, shortcuts=SHORTCUTS)
    t0 = time.perf_counter()

    params = load_params(cfg.data)
    seqs = params.sequences
    train_seqs, val_seqs = (
        split_train_val(seqs, key_fn=lambda s: s, val_fraction=cfg.data.val_fraction, seed=cfg.train.seed)
        if len(seqs) > 1
        else (seqs, [])
    )
    train, val = params.select_sequences(train_seqs), (params.select_sequences(val_seqs) if val_seqs else None)
    print(
        f"SMPL prior on {len(train)} frames of {len(train_seqs)} sequences ({params.source}), validating on "
        f"{0 if val is None else len(val)} frames of {len(val_seqs)} held-out sequences"
    )

    m = cfg.model
    critic = SMPLCritic(num_betas=cfg.data.num_betas, joint_width=m.joint_width, full_width=m.full_width)
    gen = SMPLGenerator(
        noise_dim=m.noise_dim, width=m.generator_width, num_layers=m.generator_layers, num_betas=cfg.data.num_betas
    )
    embedded = not cfg.data.root
    resample = embedded if cfg.data.resample_betas is None else cfg.data.resample_betas
    task = SMPLPriorTask.from_config(
        critic,
        gen,
        optim=cfg.optim,
        augment=cfg.augment,
        resample_betas_std=cfg.data.beta_std if resample else 0.0,
    )
    trainer = Trainer(
        task,
        cfg,
        SMPLParamDataset(train),
        SMPLParamDataset(val) if val is not None else None,
        resume=args.resume,
        callbacks=cfg.run.budget_callbacks(),
    )
    result = trainer.fit()
    if result.interrupted or not trainer.is_main:
        return 0

    out = Path(cfg.train.out_dir)
    images = cfg.run.images(out)
    critic.cpu().eval()
    gen.cpu().eval()
    check = val if val is not None else train
    check = check.subset(np.random.default_rng(0).choice(len(check), min(2000, len(check)), replace=False))
    rot = axis_angle_to_matrix(torch.from_numpy(check.body_pose).reshape(-1, 23, 3))
    betas = torch.from_numpy(check.betas)
    real_scores = critic.score(rot, betas)
    with torch.no_grad():
        fake_scores = critic.score(*gen.sample(len(check), generator=torch.Generator().manual_seed(0)))
    lines = [
        f"  held-out real: mean score {float(real_scores.mean()):.3f} (std {float(real_scores.std()):.3f}); "
        f"generated: {float(fake_scores.mean()):.3f}"
    ]
    for name, (r, b) in implausible_versions(rot, betas, torch.Generator().manual_seed(1)).items():
        broken = critic.score(r, b)
        lines.append(
            f"  real > {name}: {float((real_scores > broken).float().mean()):.1%} of {len(check)} "
            f"(mean score {float(broken.mean()):.3f})"
        )
    critic.meta = {
        "data": cfg.data.root or "embedded CMU motion retargeted to the body model",
        "num_train_frames": int(len(train)),
        "num_train_sequences": len(train_seqs),
        "steps": int(result.step),
        "mirror": bool(cfg.augment.mirror),
        "resample_betas_std": float(task.resample_betas_std),
        "input": "body_pose (B, 23, 3, 3) or axis-angle (B, 69); betas (B, 10)",
        "real_score_mean": float(real_scores.mean()),
        "real_score_std": float(real_scores.std()),
    }
    critic.save(out / "smpl_prior.pt")
    plot_metric_curves(
        out / "metrics.csv",
        images / "smpl_prior_curves.png",
        keys=[
            "train/d_real",
            "train/d_fake",
            "val/score_real",
            "val/score_fake",
            "val/real_above_knees_backwards",
            "val/real_above_random_rotations",
        ],
        log_y=False,
        title="SMPL prior (LSGAN): mean D outputs; held-out real above broken",
    )
    print(f"\nfinished {result.step} steps in {time.perf_counter() - t0:.0f} s")
    print("critic scores (mean of 25 outputs; 1 = real), held-out real vs generated and broken copies:")
    print("\n".join(lines))
    print(f"wrote {out / 'smpl_prior.pt'}, {out / 'metrics.csv'}, {images / 'smpl_prior_curves.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(run_script(main))
