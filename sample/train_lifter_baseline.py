"""Train a single-frame 2D->3D lifter with the 3D labels of one subject, then evaluate on the test subjects.

With no dataset given this runs on the embedded default (synthetic Human3.6M-layout data from real CMU motion,
generated into data/synthetic on first use). Examples:

    python sample/train_lifter_baseline.py
    python sample/train_lifter_baseline.py train.max_steps=20000 train.device=cuda data.root=data/h36m/data_3d_h36m.npz \
        data.path_2d=data/h36m/data_2d_h36m_cpn_ft_h36m_dbb.npz
    python sample/train_lifter_baseline.py --resume          # continue a killed run
    torchrun --nproc_per_node 2 sample/train_lifter_baseline.py

Model: Martinez et al., ICCV 2017. Protocol: see the printed protocol line.
"""
from __future__ import annotations

import dataclasses
import sys
from pathlib import Path


from weakpose.data.datasets import PoseFrameDataset
from weakpose.data.sources import DataConfig, load_keypoint_data
from weakpose.evaluation import lifter_protocol, predict_views, report
from weakpose.lifters import save_lifter
from weakpose.models import MLPLifter
from weakpose.tasks import SupervisedLifterTask
from weakpose.train import TrainConfig, Trainer, start_run
from weakpose.train.startup import run_script
from weakpose.viz import plot_metric_curves, save_pose_comparison


@dataclasses.dataclass
class ModelConfig:
    width: int = 1024
    num_blocks: int = 2
    dropout: float = 0.5


@dataclasses.dataclass
class OptimConfig:
    lr: float = 1e-3
    lr_decay: float = 0.96
    decay_every: int = 100
    flip_augmentation: bool = True


@dataclasses.dataclass
class Config:
    data: DataConfig = dataclasses.field(default_factory=DataConfig)
    model: ModelConfig = dataclasses.field(default_factory=ModelConfig)
    optim: OptimConfig = dataclasses.field(default_factory=OptimConfig)
    train: TrainConfig = dataclasses.field(default_factory=lambda: TrainConfig(
        out_dir="runs/lifter_baseline", max_steps=2000, batch_size=256, log_every=50, val_every=250,
        ckpt_every=500, best_metric="val/mpjpe", best_mode="min"))
    images_dir: str = "images"
    num_threads: int = 0  # 0 = torch's default


def main(argv=None) -> int:
    cfg, args = start_run(Config, argv)

    data = load_keypoint_data(cfg.data)
    train_ds = PoseFrameDataset(data.labelled, frame_stride=cfg.data.stride)
    val_ds = PoseFrameDataset(data.splits.val)
    print(f"training on {len(train_ds)} labelled frames of {cfg.data.labelled_subjects} (all cameras), "
          f"validating on {len(val_ds)} held-out frames of the same subjects")

    model = MLPLifter(width=cfg.model.width, num_blocks=cfg.model.num_blocks, dropout=cfg.model.dropout)
    task = SupervisedLifterTask(model, lr=cfg.optim.lr, lr_decay=cfg.optim.lr_decay,
                                decay_every=cfg.optim.decay_every, flip_augmentation=cfg.optim.flip_augmentation)
    trainer = Trainer(task, cfg, train_ds, val_ds, resume=args.resume)
    result = trainer.fit()
    if result.interrupted or not trainer.is_main:
        return 0

    out = Path(cfg.train.out_dir)
    trainer.restore_best(result)
    model_kwargs = {"width": cfg.model.width, "num_blocks": cfg.model.num_blocks, "dropout": cfg.model.dropout}
    save_lifter(out / "lifter.pt", model, "mlp", model_kwargs, meta={
        "script": "sample/train_lifter_baseline.py", "selected_on": "validation split of the labelled subjects",
        "step": result.best_step if result.best_value is not None else result.step,
        "labelled_subjects": list(cfg.data.labelled_subjects)})
    test_ds = PoseFrameDataset(data.splits.test)
    views = predict_views(task.predict, test_ds, device=trainer.device)
    report(views, lifter_protocol(data.two_d_source, data.exclusions), out,
           f"\nTest subjects {cfg.data.test_subjects}, 3D labels from {cfg.data.labelled_subjects} only")

    images = Path(cfg.images_dir)
    inputs_2d = {(seq.subject, seq.action, cam): kp for seq in data.splits.test for cam, kp in seq.positions_2d.items()}
    keys = sorted(views)
    picks = [keys[(i * len(keys)) // 5] for i in range(min(5, len(keys)))]  # spread over subjects and actions
    frames = [len(views[k][0]) // 2 for k in picks]
    save_pose_comparison(
        images / "lifter_baseline_predictions.png",
        poses_2d=[inputs_2d[k][f] for k, f in zip(picks, frames)],
        poses_pred=[views[k][0][f] for k, f in zip(picks, frames)],
        poses_true=[views[k][1][f] for k, f in zip(picks, frames)],
        titles=[f"{s} {a}, camera {c}" for s, a, c in picks])
    plot_metric_curves(out / "metrics.csv", images / "lifter_baseline_curves.png",
                       keys=["train/loss_mpjpe", "val/mpjpe", "val/p_mpjpe"],
                       title="MLP lifter baseline (3D labels of one subject), metres")
    print(f"wrote {out}/lifter.pt (use with `weakpose evaluate` / `weakpose lift`), {out}/eval.csv, {images}/lifter_baseline_predictions.png, {images}/lifter_baseline_curves.png")
    return 0


if __name__ == "__main__":
    sys.exit(run_script(main))
