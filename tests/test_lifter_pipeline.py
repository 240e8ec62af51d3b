"""The pipeline of the main job end to end on a tiny synthetic set: data -> task -> trainer -> evaluation."""

import numpy as np
import pytest
import torch

from weakpose.data.datasets.poses import PoseFrameDataset
from weakpose.data.sources import DataConfig, load_keypoint_data
from weakpose.evaluation import evaluate_views, lifter_protocol, predict_views
from weakpose.metrics import mpjpe
from weakpose.models import MLPLifter
from weakpose.tasks import SupervisedLifterTask
from weakpose.train import TrainConfig, Trainer


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    from weakpose.data.synthetic.keypoints import make_synthetic

    d = tmp_path_factory.mktemp("syn")
    make_synthetic(d, max_frames=40, include_bvh=False, actions=["Walking", "Jumping", "Running"])
    cfg = DataConfig(synthetic_dir=str(d), labelled_subjects=["S1", "S5"], val_every=3)
    return cfg, load_keypoint_data(cfg)


def test_splits_keep_test_subjects_out_and_validation_inside_labelled(tiny):
    cfg, data = tiny
    assert {s.subject for s in data.splits.test} <= {"S9", "S11"}
    assert {s.subject for s in data.labelled} <= {"S1", "S5"}
    assert {s.subject for s in data.splits.val} <= {"S1", "S5"}
    lab = {s.key for s in data.labelled}
    val = {s.key for s in data.splits.val}
    assert lab and val and not (lab & val)
    with pytest.raises(ValueError, match="labelled_subjects"):
        load_keypoint_data(DataConfig(synthetic_dir=cfg.synthetic_dir, labelled_subjects=["S9"]))


def test_evaluation_pools_cameras_and_matches_direct_mpjpe(tiny):
    _, data = tiny
    ds = PoseFrameDataset(data.splits.test)
    # a "model" that predicts the truth shrunk by 10 %: MPJPE is 10 % of the mean joint distance to the root
    views = predict_views(lambda b: 0.9 * b["pose_3d"], ds, batch_size=64)
    assert len(views) == sum(len(s.positions_2d) for s in data.splits.test)
    table = evaluate_views(views, metrics=("mpjpe", "n_mpjpe"))
    summary = table.summary()
    frames = np.concatenate([t for _, t in views.values()])
    expect = 0.1 * np.linalg.norm(frames, axis=-1).mean()
    assert summary.frame_mean["mpjpe"] == pytest.approx(expect, rel=1e-5)
    assert summary.frame_mean["n_mpjpe"] == pytest.approx(0.0, abs=1e-6)  # a pure scale error
    assert "GT" in lifter_protocol("GT").line()


def test_supervised_lifter_learns_on_labelled_subjects(tiny, tmp_path):
    torch.manual_seed(0)
    _, data = tiny
    train = PoseFrameDataset(data.labelled)
    model = MLPLifter(width=128, num_blocks=1, dropout=0.0)
    task = SupervisedLifterTask(model, lr=2e-3, flip_augmentation=True)
    cfg = TrainConfig(out_dir=str(tmp_path / "run"), max_steps=150, batch_size=64, log_every=10, progress=False)
    batch = next(iter(torch.utils.data.DataLoader(train, batch_size=len(train))))
    before = mpjpe(task.predict(batch), batch["pose_3d"]).item()
    Trainer(task, cfg, train).fit()
    after = mpjpe(task.predict(batch), batch["pose_3d"]).item()
    assert after < 0.5 * before, (before, after)
    assert (tmp_path / "run" / "last.pt").exists() and (tmp_path / "run" / "metrics.csv").exists()


def test_supervised_lifter_from_config_uses_the_sections():
    """The config sections (written once, in the task module) are the constructor's defaults and reach the task."""
    from weakpose.tasks.supervised_lifter import AugmentConfig, OptimConfig

    model = MLPLifter(width=8, num_blocks=1, dropout=0.0)
    default = SupervisedLifterTask(model)
    assert default.optimizer.param_groups[0]["lr"] == OptimConfig.lr
    assert (default.scheduler.step_size, default.scheduler.gamma) == (OptimConfig.decay_every, OptimConfig.lr_decay)
    assert default.flip_augmentation == AugmentConfig.flip
    task = SupervisedLifterTask.from_config(
        model, optim=OptimConfig(lr=5e-4, lr_decay=0.5, decay_every=3), augment=AugmentConfig(flip=False)
    )
    assert task.optimizer.param_groups[0]["lr"] == 5e-4
    assert (task.scheduler.step_size, task.scheduler.gamma, task.flip_augmentation) == (3, 0.5, False)
