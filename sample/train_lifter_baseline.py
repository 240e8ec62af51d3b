r"""Train a single-frame 2D->3D lifter with the 3D labels of one subject, then evaluate on the test subjects.

With no dataset given this runs on the embedded default (synthetic Human3.6M-layout data from real CMU motion,
generated into data/synthetic on first use). Examples:

    python sample/train_lifter_baseline.py
    python sample/train_lifter_baseline.py train.max_steps=20000 train.device=cuda \
        data.root=data/h36m/data_3d_h36m.npz data.path_2d=data/h36m/data_2d_h36m_cpn_ft_h36m_dbb.npz
    python sample/train_lifter_baseline.py --resume          # continue a killed run
    python sample/train_lifter_baseline.py run.images_dir=images   # regenerate the README's figures
    torchrun --nproc_per_node 2 sample/train_lifter_baseline.py

Writes runs/lifter_baseline/ (config.yaml, checkpoints, lifter.pt, metrics.csv, eval.csv/eval.json) and its
figures in runs/lifter_baseline/images/ (run.images_dir elsewhere).
Model: Martinez et al., ICCV 2017. Protocol: see the printed protocol line.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

from weakpose.data.datasets.poses import PoseFrameDataset
from weakpose.data.sources import DataConfig, load_keypoint_data
from weakpose.evaluation import lifter_protocol, predict_views, report
from weakpose.lifters import save_lifter
from weakpose.models import MLPLifter
from weakpose.tasks.supervised_lifter import AugmentConfig, ModelConfig, OptimConfig, SupervisedLifterTask
from weakpose.train import TrainConfig, Trainer, start_run
from weakpose.train.run_config import RunConfig, run_shortcuts
from weakpose.train.startup import run_script
from weakpose.viz import plot_metric_curves
from weakpose.viz.report_figures import save_view_predictions


@dataclasses.dataclass
class Config:
    data: DataConfig = dataclasses.field(default_factory=DataConfig)
    model: ModelConfig = dataclasses.field(default_factory=ModelConfig)
    optim: OptimConfig = dataclasses.field(default_factory=OptimConfig)
    augment: AugmentConfig = dataclasses.field(default_factory=AugmentConfig)
    train: TrainConfig = dataclasses.field(
        default_factory=lambda: TrainConfig(
            out_dir="runs/lifter_baseline",
            max_steps=2000,
            batch_size=256,
            log_every=50,
            val_every=250,
            ckpt_every=500,
            best_metric="val/mpjpe",
            best_mode="min",
        )
    )
    run: RunConfig = dataclasses.field(default_factory=RunConfig)


SHORTCUTS = run_shortcuts("3D poses: a VideoPose3D data_3d_*.npz, a Martinez tree or an original-release tree")


def main(argv=None) -> int:
    cfg, args = start_run(Config, argv, description=__doc__, shortcuts=SHORTCUTS)

    data = load_keypoint_data(cfg.data)
    train_ds = PoseFrameDataset(data.labelled, frame_stride=cfg.data.stride)
    val_ds = PoseFrameDataset(data.splits.val)
    print(
        f"training on {len(train_ds)} labelled frames of {cfg.data.labelled_subjects} (all cameras), "
        f"validating on {len(val_ds)} held-out frames of the same subjects"
    )

    model = MLPLifter(width=cfg.model.width, num_blocks=cfg.model.num_blocks, dropout=cfg.model.dropout)
    task = SupervisedLifterTask.from_config(model, optim=cfg.optim, augment=cfg.augment)
    trainer = Trainer(task, cfg, train_ds, val_ds, resume=args.resume, callbacks=cfg.run.budget_callbacks())
    result = trainer.fit()
    if result.interrupted or not trainer.is_main:
        return 0

    out = Path(cfg.train.out_dir)
    trainer.restore_best(result)
    model_kwargs = {"width": cfg.model.width, "num_blocks": cfg.model.num_blocks, "dropout": cfg.model.dropout}
    save_lifter(
        out / "lifter.pt",
        model,
        "mlp",
        model_kwargs,
        meta={
            "script": "sample/train_lifter_baseline.py",
            "selected_on": "validation split of the labelled subjects",
            "step": result.best_step if result.best_value is not None else result.step,
            "labelled_subjects": list(cfg.data.labelled_subjects),
        },
    )
    test_ds = PoseFrameDataset(data.splits.test)
    views = predict_views(task.predict, test_ds, device=trainer.device)
    report(
        views,
        lifter_protocol(data.two_d_source, data.exclusions),
        out,
        f"\nTest subjects {cfg.data.test_subjects}, 3D labels from {cfg.data.labelled_subjects} only",
    )

    images = cfg.run.images(out)
    inputs_2d = {(seq.subject, seq.action, cam): kp for seq in data.splits.test for cam, kp in seq.positions_2d.items()}
    save_view_predictions(images / "lifter_baseline_predictions.png", views, inputs_2d)
    plot_metric_curves(
        out / "metrics.csv",
        images / "lifter_baseline_curves.png",
        keys=["train/loss_mpjpe", "val/mpjpe", "val/p_mpjpe"],
        title="MLP lifter baseline (3D labels of one subject), metres",
    )
    print(
        f"wrote {out}/lifter.pt (use with `weakpose evaluate` / `weakpose lift`), {out}/eval.csv, "
        f"{images}/lifter_baseline_predictions.png, {images}/lifter_baseline_curves.png"
    )
    return 0


if __name__ == "__main__":
    sys.exit(run_script(main))
