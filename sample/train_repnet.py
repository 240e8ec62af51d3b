r"""Train RepNet (a lifter with a camera branch) from 2D keypoints and UNPAIRED 3D poses, then evaluate.

Wandt & Rosenhahn, *RepNet: Weakly Supervised Training of an Adversarial Reprojection Network for 3D Human Pose
Estimation*, CVPR 2019. Losses: a WGAN-GP critic (weakpose.priors.PoseCritic, pose + KCS paths) against
unpaired real 3D poses, reprojection ||W - KX||_F through the estimated weak-perspective camera K, and camera
orthogonality ||2/tr(KK^T) KK^T - I||_F. No 2D frame is ever paired with its own 3D during training.

How the data is unpaired (``unpaired``):
  * ``subjects`` (default): 2D from the training subjects NOT in ``data.labelled_subjects`` (default S1, S5, S6);
    the 3D pool from the ``data.labelled_subjects`` (default S7, S8) -- different people, different recordings.
  * ``shuffle``: 2D from every training subject; the 3D pool from ``data.labelled_subjects``; real poses are drawn
    independently at random, so a 2D batch and the poses the critic sees have nothing to do with each other.
In both modes the 3D pool is root-relative WORLD poses (z up) rotated about the vertical axis by a random angle:
the lifter's canonical frame is upright, and the camera branch absorbs the heading. Model selection uses
held-out sequences of the labelled subjects (every ``data.val_every``-th one; their 3D is not in the pool and
their 2D is not trained on), never the test subjects.

Evaluation: the canonical 3D is rotated into the camera frame with the estimated camera (orthonormalised K) and
scaled to the pool's mean bone length (the weak-perspective camera leaves scale to the prior); P-MPJPE
(Procrustes) is the headline number, N-MPJPE next, MPJPE after that rotation and scale.

Examples:

    python sample/train_repnet.py                                  # embedded synthetic default, GT 2D
    python sample/train_repnet.py data.root=data/h36m/data_3d_h36m.npz \
        data.path_2d=data/h36m/data_2d_h36m_cpn_ft_h36m_dbb.npz train.max_steps=100000 train.device=cuda
    python sample/train_repnet.py unpaired=shuffle data.labelled_subjects=[S1,S5,S6,S7,S8]
    python sample/train_repnet.py --resume

Writes runs/repnet/ (checkpoints, metrics.csv, eval.json, lifter.pt, critic.pt) and its figures in
runs/repnet/images/ (run.images_dir elsewhere; run.images_dir=images regenerates the README's figures).
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import numpy as np
from torch.utils.data import Dataset

from weakpose.data.datasets.poses import PoseFrameDataset
from weakpose.data.sources import DataConfig, load_keypoint_data
from weakpose.evaluation import lifter_protocol, predict_views, report
from weakpose.lifters import save_lifter
from weakpose.models.repnet import RepNetCameraLifter, RepNetLifter
from weakpose.priors import PoseCritic
from weakpose.tasks.repnet import AugmentConfig, LossConfig, ModelConfig, OptimConfig, RepNetTask
from weakpose.train import TrainConfig, Trainer, start_run
from weakpose.train.run_config import RunConfig, run_shortcuts
from weakpose.train.startup import run_script
from weakpose.viz import plot_metric_curves
from weakpose.viz.report_figures import save_view_predictions

TRAINING_MAX_BONE_M = 50.0


@dataclasses.dataclass
class Config:
    data: DataConfig = dataclasses.field(default_factory=lambda: DataConfig(labelled_subjects=["S7", "S8"]))
    unpaired: str = "subjects"  # 'subjects' | 'shuffle': how 2D and 3D are kept apart (module docstring)
    model: ModelConfig = dataclasses.field(default_factory=ModelConfig)
    optim: OptimConfig = dataclasses.field(default_factory=OptimConfig)
    loss: LossConfig = dataclasses.field(default_factory=LossConfig)
    augment: AugmentConfig = dataclasses.field(default_factory=AugmentConfig)
    train: TrainConfig = dataclasses.field(
        default_factory=lambda: TrainConfig(
            out_dir="runs/repnet",
            max_steps=1500,
            batch_size=128,
            log_every=50,
            val_every=250,
            ckpt_every=500,
            best_metric="val/p_mpjpe",
            best_mode="min",
        )
    )
    run: RunConfig = dataclasses.field(default_factory=RunConfig)


SHORTCUTS = run_shortcuts("3D poses: a VideoPose3D data_3d_*.npz, a Martinez tree or an original-release tree")


class KeypointsOnly(Dataset):
    """The 2D of a frame dataset and nothing else: the training batches cannot carry the paired 3D."""

    def __init__(self, frames: PoseFrameDataset):
        self.frames = frames

    def __len__(self) -> int:
        return len(self.frames)

    def __getitem__(self, index: int):
        return {"keypoints_2d": self.frames[index]["keypoints_2d"]}

    def prepare(self) -> "KeypointsOnly":
        self.frames.prepare()
        return self

    def get_batch(self, indices):
        """A whole batch at once (see weakpose.train.batching)."""
        return {"keypoints_2d": self.frames.get_batch(indices)["keypoints_2d"]}


def unpaired_split(data, cfg: Config):
    """(2D training sequences, 3D pool (N, 17, 3) root-relative world metres) for ``cfg.unpaired``."""
    labelled = set(cfg.data.labelled_subjects)
    held_out = {s.key for s in data.splits.val}
    if cfg.unpaired == "subjects":
        seqs_2d = [s for s in data.splits.train if s.subject not in labelled]
    elif cfg.unpaired == "shuffle":
        seqs_2d = [s for s in data.splits.train if s.key not in held_out]
    else:
        raise ValueError(f"unpaired must be 'subjects' or 'shuffle'; got {cfg.unpaired!r}")
    if not seqs_2d:
        raise ValueError(
            f"no 2D training sequences: every training subject {cfg.data.train_subjects} is in "
            f"data.labelled_subjects {sorted(labelled)} (the 3D pool) with unpaired=subjects"
        )
    pool = [s.positions_3d[:: cfg.data.stride] for s in data.labelled if s.positions_3d is not None]
    if not pool:
        raise ValueError(f"no 3D poses of data.labelled_subjects {sorted(labelled)} for the critic")
    pool = np.concatenate(pool).astype(np.float32)
    return seqs_2d, pool - pool[:, :1]


def main(argv=None) -> int:
    cfg, args = start_run(Config, argv, description=__doc__, shortcuts=SHORTCUTS)

    data = load_keypoint_data(cfg.data)
    seqs_2d, pool = unpaired_split(data, cfg)
    train_ds = KeypointsOnly(PoseFrameDataset(seqs_2d, frame_stride=cfg.data.stride, require_3d=False))
    val_ds = PoseFrameDataset(data.splits.val)
    subjects_2d = sorted({s.subject for s in seqs_2d})
    print(
        f"2D: {len(train_ds)} frames x cameras of {subjects_2d}; unpaired 3D pool: {len(pool)} world poses of "
        f"{cfg.data.labelled_subjects} (mode '{cfg.unpaired}'); validation: {len(val_ds)} held-out "
        f"frames of {sorted({s.subject for s in data.splits.val})}"
    )

    m = cfg.model
    lifter = RepNetLifter(width=m.width, num_blocks=m.num_blocks, normalize_scale=m.normalize_scale)
    # The critic's millimetre guard (median bone > 2 m) is loosened while it judges an untrained lifter, whose
    # first outputs can be any size; the pool itself is checked for metres by RepNetTask.
    critic = PoseCritic(
        pose_width=m.critic_pose_width,
        kcs_width=m.critic_kcs_width,
        num_blocks=m.critic_blocks,
        max_bone_m=TRAINING_MAX_BONE_M,
    )
    task = RepNetTask.from_config(lifter, critic, pool, optim=cfg.optim, loss=cfg.loss, augment=cfg.augment)
    trainer = Trainer(task, cfg, train_ds, val_ds, resume=args.resume, callbacks=cfg.run.budget_callbacks())
    result = trainer.fit()
    if result.interrupted or not trainer.is_main:
        return 0

    out = Path(cfg.train.out_dir)
    trainer.restore_best(result)
    critic.max_bone_m = PoseCritic().max_bone_m  # the saved prior keeps the default guard
    critic.save(out / "critic.pt")  # the trained critic doubles as a pose prior
    # lifter.pt: the lifter rotated by its own camera estimate and scaled to the pool's bone length, i.e. the
    # camera-frame poses this script scores below, so `weakpose evaluate`/`lift` give the same numbers.
    saved_kwargs = dict(target_bone_length=task.target_bone_length, parents=list(task.parents), **lifter.config)
    camera_lifter = RepNetCameraLifter(**saved_kwargs)
    camera_lifter.lifter.load_state_dict(lifter.state_dict())
    save_lifter(
        out / "lifter.pt",
        camera_lifter,
        "repnet",
        saved_kwargs,
        output_frame="camera",
        meta={
            "script": "sample/train_repnet.py",
            "unpaired": cfg.unpaired,
            "step": result.best_step,
            "selected_on": "validation split of the training subjects",
        },
    )

    test_ds = PoseFrameDataset(data.splits.test)
    views = predict_views(task.predict, test_ds, device=trainer.device)
    protocol = dataclasses.replace(
        lifter_protocol(data.two_d_source, data.exclusions),
        alignment="P-MPJPE similarity Procrustes, no reflection (P2); N-MPJPE least-squares scale; MPJPE after "
        "rotating by the estimated camera and scaling to the 3D pool's mean bone length",
    )
    report(
        views,
        protocol,
        out,
        f"\nTest subjects {cfg.data.test_subjects}; no paired 3D used (RepNet, unpaired mode '{cfg.unpaired}')",
    )

    images = cfg.run.images(out)
    inputs_2d = {(s.subject, s.action, cam): kp for s in data.splits.test for cam, kp in s.positions_2d.items()}
    save_view_predictions(images / "repnet_predictions.png", views, inputs_2d)
    plot_metric_curves(
        out / "metrics.csv",
        images / "repnet_curves.png",
        keys=["train/loss_reprojection", "train/loss_camera", "train/critic_gap", "val/p_mpjpe", "val/n_mpjpe"],
        title="RepNet (unpaired 3D), metres / critic units",
    )
    print(
        f"wrote {out}/eval.csv, {out}/lifter.pt, {out}/critic.pt, {images}/repnet_predictions.png, "
        f"{images}/repnet_curves.png"
    )
    return 0


if __name__ == "__main__":
    sys.exit(run_script(main))
