r"""Train a temporal-convolution lifter (Pavllo et al. 2019) with a decoupled root, weakly supervised by
reprojection and a KCS pose critic (Wandt & Rosenhahn 2019), and evaluate it per action on S9/S11.

    python sample/train_video_gan.py                          # --supervision gan, embedded default
    python sample/train_video_gan.py --supervision semi       # 3D labels of S1 only, the rest weak
    python sample/train_video_gan.py --temporal-critic        # + a critic of 9-frame motion windows
    python sample/train_video_gan.py --supervision full --budget-minutes 30 model.channels=1024 \
        data.root=data/h36m/data_3d_h36m.npz data.path_2d=data/h36m/data_2d_h36m_cpn_ft_h36m_dbb.npz

Supervision: ``full`` every training subject's 3D; ``semi`` 3D of ``data.labelled_subjects`` (default S1) plus
reprojection, bone lengths and the critic on the rest; ``gan`` no 3D labels: reprojection + the critic, whose real
poses are an unpaired, shuffled pool of training poses. Checkpoints are selected on held-out sequences of the
labelled subjects, never on S9/S11.

``--temporal-critic`` (or ``loss.temporal_critic=true``) adds a motion critic (VIBE-style, over RepNet's KCS
features; :class:`weakpose.priors.temporal_critic.TemporalPoseCritic`) on ``loss.temporal_window`` consecutive
lifted frames of ``loss.temporal_batch`` windows per step, real motion being unpaired windows of the training
subjects' 3D; training windows then carry ``temporal_window - 1`` extra 2D frames. Off by default.

Writes runs/video_gan/ (checkpoints, metrics.csv, eval.json, lifter.pt, critic.pt) and its figures in
runs/video_gan/images/ (run.images_dir elsewhere; run.images_dir=images regenerates the README's figures).
configs/video_gan_paper.yaml holds VideoPose3D's settings, configs/video_gan_h36m.yaml a real Human3.6M run.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import numpy as np
import torch

from weakpose.data.datasets.poses import PoseWindowDataset
from weakpose.data.sources import DataConfig, load_keypoint_data
from weakpose.evaluation import lifter_protocol, predict_roots, predict_sequences, report
from weakpose.lifters import save_lifter
from weakpose.models.temporal import TemporalLifter, TrajectoryModel
from weakpose.priors import PoseCritic
from weakpose.priors.temporal_critic import TemporalPoseCritic, pose_windows
from weakpose.tasks.video_gan import (
    SUPERVISION,
    AugmentConfig,
    LossConfig,
    ModelConfig,
    OptimConfig,
    VideoGanTask,
)
from weakpose.train import Shortcut, TrainConfig, Trainer, start_run
from weakpose.train.run_config import RunConfig, run_shortcuts
from weakpose.train.startup import run_script
from weakpose.viz import plot_metric_curves
from weakpose.viz.report_figures import save_view_predictions


@dataclasses.dataclass
class Config:
    data: DataConfig = dataclasses.field(default_factory=lambda: DataConfig(stride=2))
    model: ModelConfig = dataclasses.field(default_factory=ModelConfig)
    loss: LossConfig = dataclasses.field(default_factory=LossConfig)
    optim: OptimConfig = dataclasses.field(default_factory=OptimConfig)
    augment: AugmentConfig = dataclasses.field(default_factory=AugmentConfig)
    train: TrainConfig = dataclasses.field(
        default_factory=lambda: TrainConfig(
            out_dir="runs/video_gan",
            max_steps=1500,
            batch_size=256,
            log_every=50,
            val_every=250,
            ckpt_every=250,
            best_metric="val/p_mpjpe",
            best_mode="min",
        )
    )
    test_flip: bool = False  # average each test sequence with its mirror image (VideoPose3D's test-time flip)
    # Validation views (frames x cameras) at most: held-out sequences evenly spread over the split. Every
    # validation costs training time; on a Human3.6M-sized set the held-out quarter of the labelled sequences
    # is ~370 k views (bench/README.md). 0 = all.
    val_frames: int = 40000  # validation views (frames x cameras) at most; 0 = all
    run: RunConfig = dataclasses.field(default_factory=RunConfig)


SHORTCUTS = (
    *run_shortcuts("3D poses: a VideoPose3D data_3d_*.npz, a Martinez tree or an original-release tree"),
    Shortcut(
        "--supervision", "loss.supervision", "gan | semi | full: what the lifter learns from", choices=SUPERVISION
    ),
    Shortcut("--temporal-critic", "loss.temporal_critic", "add the critic of motion windows", value="true"),
)


def _real_pool(windows: PoseWindowDataset, max_poses: int, seed: int) -> torch.Tensor:
    """Root-relative camera-frame 3D poses in a random order: the critic sees them as an unordered set, never
    paired with the 2D of a batch."""
    rng = np.random.default_rng(seed)
    idx = rng.permutation(len(windows))[:max_poses]
    return torch.stack([windows[int(i)]["pose_3d"] for i in idx])


def _real_windows(windows: PoseWindowDataset, length: int, max_windows: int, seed: int) -> torch.Tensor:
    """Root-relative camera-frame 3D of ``length`` consecutive frames (every view of every training sequence,
    no edge padding) in a random order: the motion critic's unpaired real pool."""
    seqs = [v["cam"].world_to_camera(v["sequence"].positions_3d.astype(np.float64)) for v in windows.views]
    pool = pose_windows([np.asarray(s) for s in seqs], length, stride=2)
    idx = torch.as_tensor(np.random.default_rng(seed).permutation(len(pool))[:max_windows])
    return pool.index_select(0, idx)


def _spread(sequences, max_views: int):
    """Sequences evenly spread over ``sequences`` holding at most ``max_views`` frames x cameras (0: all; at least
    one sequence)."""
    total = sum(s.num_frames * len(s.camera_ids) for s in sequences)
    if max_views <= 0 or total <= max_views:
        return list(sequences)
    every = -(-total // max_views)
    return list(sequences)[::every] or list(sequences)[:1]


# "auto" trains the strided twin at every receptive field: at an equal 3-minute budget on a Human3.6M-sized set
# (1024 channels, 256 outputs per step) chunks gave 1.5-3.2x the samples/s but worse validation MPJPE at 27, 81 and
# 243 frames (consecutive outputs make batch-norm statistics and gradients correlated; bench/README.md).
CHUNKED_FROM = None  # a receptive field from which "auto" would chunk; None: never


def _chunked_training(cfg: Config, rf: int) -> bool:
    mode = cfg.model.training
    if mode not in ("auto", "twin", "chunked"):
        raise ValueError(f"model.training must be auto, twin or chunked; got {mode!r}")
    if mode == "chunked" and cfg.loss.supervision != "full":
        raise ValueError(
            f"model.training=chunked is for supervision 'full' (the weak losses are per window); "
            f"got {cfg.loss.supervision!r}"
        )
    if cfg.model.chunk_frames < 1:
        raise ValueError(f"model.chunk_frames must be >= 1; got {cfg.model.chunk_frames}")
    if mode == "auto":
        return cfg.loss.supervision == "full" and CHUNKED_FROM is not None and rf >= CHUNKED_FROM
    return mode == "chunked"


def main(argv=None) -> int:
    cfg, args = start_run(Config, argv, description=__doc__, shortcuts=SHORTCUTS)
    if cfg.loss.supervision not in SUPERVISION:
        raise ValueError(f"loss.supervision must be one of {', '.join(SUPERVISION)}; got {cfg.loss.supervision!r}")
    if cfg.loss.temporal_critic and cfg.loss.supervision == "full":
        print("loss.temporal_critic ignored: supervision 'full' has no unlabelled windows to judge")
        cfg.loss.temporal_critic = False
    t_win = int(cfg.loss.temporal_window) if cfg.loss.temporal_critic else 1
    if cfg.loss.temporal_critic and (t_win < 3 or t_win % 2 == 0):
        raise ValueError(f"loss.temporal_window must be an odd number >= 3; got {cfg.loss.temporal_window}")
    if cfg.loss.supervision == "full":
        cfg.data.labelled_subjects = list(cfg.data.train_subjects)

    data = load_keypoint_data(cfg.data)
    model_kwargs = dict(
        filter_widths=tuple(cfg.model.filter_widths),
        channels=cfg.model.channels,
        dropout=cfg.model.dropout,
        causal=cfg.model.causal,
    )
    pose_model = TemporalLifter(**model_kwargs)
    if cfg.model.trajectory not in ("auto", "on", "off"):
        raise ValueError(f"model.trajectory must be auto, on or off; got {cfg.model.trajectory!r}")
    if cfg.model.trajectory == "off" and cfg.loss.supervision != "full":
        raise ValueError(
            f"model.trajectory=off: supervision {cfg.loss.supervision!r} reprojects pose + root and "
            f"needs the trajectory model"
        )
    with_root = cfg.model.trajectory == "on" or (cfg.model.trajectory == "auto" and cfg.loss.supervision != "full")
    trajectory = TrajectoryModel(**model_kwargs) if with_root else None
    rf = pose_model.receptive_field()
    # Training windows: every training subject (their 2D); validation: held-out labelled sequences.
    held_out = {s.key for s in data.splits.val}
    train_seqs = [s for s in data.splits.train if s.key not in held_out]
    chunked = _chunked_training(cfg, rf)
    items_per_step = None  # the Trainer's default: train.batch_size windows
    if chunked:  # chunks tile every frame (no data.stride); a step keeps train.batch_size output frames
        train_ds = PoseWindowDataset(
            train_seqs,
            receptive_field=rf,
            chunk_frames=cfg.model.chunk_frames,
            causal=cfg.model.causal,
            subjects=list(cfg.data.train_subjects),
        )
        items_per_step = max(1, -(-cfg.train.batch_size // cfg.model.chunk_frames))
        print(f"chunked training: {items_per_step} chunks of {cfg.model.chunk_frames} outputs per step")
    else:
        train_ds = PoseWindowDataset(
            train_seqs,
            receptive_field=rf + t_win - 1,
            frame_stride=cfg.data.stride,
            causal=cfg.model.causal,
            subjects=list(cfg.data.train_subjects),
        )
    # validated on every frame, each held-out view lifted as a whole sequence (VideoGanTask.validate_dataset)
    val_ds = PoseWindowDataset(
        _spread(data.splits.val.sequences, cfg.val_frames), receptive_field=rf, causal=cfg.model.causal
    )
    labelled_ids = [train_ds.subjects.index(s) for s in cfg.data.labelled_subjects if s in train_ds.subjects]
    critic = real = None
    if cfg.loss.supervision != "full":
        # no unit check while training: early lifted poses can be any size; the saved prior gets it back
        critic = PoseCritic(max_bone_m=float("inf"))
        real = _real_pool(train_ds, 20000, cfg.train.seed + 1)
    print(
        f"supervision={cfg.loss.supervision}: {len(train_ds)} training windows of {rf} frames from "
        f"{cfg.data.train_subjects}"
        + (f", 3D labels of {cfg.data.labelled_subjects}" if cfg.loss.supervision != "gan" else ", no 3D labels")
        + (f"; critic pool of {len(real)} unpaired poses" if real is not None else "")
    )
    temporal = real_windows = None
    if cfg.loss.temporal_critic:
        temporal = TemporalPoseCritic(window=t_win, channels=cfg.loss.temporal_channels, max_bone_m=float("inf"))
        real_windows = _real_windows(train_ds, t_win, 20000, cfg.train.seed + 2)
        print(
            f"temporal critic: {len(real_windows)} unpaired real windows of {t_win} frames; "
            f"{cfg.loss.temporal_batch} lifted windows per step, weight {cfg.loss.weight_temporal}"
        )

    task = VideoGanTask.from_config(
        pose_model,
        trajectory,
        critic,
        model=cfg.model,
        loss=cfg.loss,
        optim=cfg.optim,
        augment=cfg.augment,
        real_poses=real,
        labelled_subject_ids=labelled_ids,
        temporal_critic=temporal,
        real_windows=real_windows,
        chunk_frames=cfg.model.chunk_frames if chunked else 1,
    )
    trainer = Trainer(
        task, cfg, train_ds, val_ds, resume=args.resume, callbacks=cfg.run.budget_callbacks(), batch_size=items_per_step
    )
    result = trainer.fit()
    if result.interrupted or not trainer.is_main:
        return 0

    out = Path(cfg.train.out_dir)
    trainer.restore_best(result)
    # The decoupled root travels in lifter.pt: `weakpose lift`/`evaluate` then give camera-frame (absolute) poses.
    save_lifter(
        out / "lifter.pt",
        pose_model,
        "temporal",
        model_kwargs,
        meta={
            "script": "sample/train_video_gan.py",
            "supervision": cfg.loss.supervision,
            "temporal_critic": bool(cfg.loss.temporal_critic),
            "selected_on": "validation split of the labelled subjects",
            "step": result.best_step,
        },
        trajectory=trajectory,
    )
    if critic is not None:
        critic.max_bone_m = PoseCritic().max_bone_m
        critic.meta = {"trained_with": "sample/train_video_gan.py", "frame": "camera, root-relative"}
        critic.save(out / "critic.pt")
    if temporal is not None:
        temporal.max_bone_m = TemporalPoseCritic().max_bone_m
        temporal.meta = {
            "trained_with": "sample/train_video_gan.py",
            "frame": "camera, root-relative",
            "window": t_win,
            "frame_stride": 1,
        }
        temporal.save(out / "temporal_critic.pt")
    test_ds = PoseWindowDataset(data.splits.test, receptive_field=rf, causal=cfg.model.causal)
    views = predict_sequences(pose_model, test_ds, flip=cfg.test_flip, device=trainer.device)
    roots = (
        None if trajectory is None else predict_roots(trajectory, test_ds, flip=cfg.test_flip, device=trainer.device)
    )
    metrics = ("mpjpe", "p_mpjpe", "n_mpjpe", "mpjve") + (() if roots is None else ("mrpe", "abs_mpjpe"))
    report(
        views,
        lifter_protocol(
            data.two_d_source, data.exclusions, flip_augmentation=cfg.test_flip, absolute=roots is not None
        ),
        out,
        f"\nTest subjects {cfg.data.test_subjects}; supervision {cfg.loss.supervision}; receptive field {rf}",
        metrics=metrics,
        roots=roots,
    )

    images = cfg.run.images(out)
    save_view_predictions(images / f"video_gan_{cfg.loss.supervision}_predictions.png", views)
    keys_logged = ["train/loss", "train/loss_reproj", "train/critic_gap", "train/loss_mpjpe", "val/p_mpjpe"]
    if temporal is not None:
        keys_logged.insert(3, "train/temporal_critic_gap")
    plot_metric_curves(
        out / "metrics.csv",
        images / f"video_gan_{cfg.loss.supervision}_curves.png",
        keys=keys_logged,
        log_y=False,
        title=f"TCN lifter, supervision {cfg.loss.supervision}",
    )
    print(f"wrote {out}/lifter.pt, {out}/eval.json and figures in {images}/")
    return 0


if __name__ == "__main__":
    sys.exit(run_script(main))
