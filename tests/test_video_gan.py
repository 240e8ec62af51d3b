"""The weakly-supervised TCN task: flip augmentation is geometrically consistent, labels are used only where
allowed, and a short run learns from reprojection alone."""

import numpy as np
import pytest
import torch

from weakpose.data.datasets.poses import PoseWindowDataset
from weakpose.data.sources import DataConfig, load_keypoint_data
from weakpose.metrics import mpjpe
from weakpose.models.temporal import TemporalLifter, TrajectoryModel, reproject
from weakpose.priors import PoseCritic
from weakpose.skeleton import H36M17, flip_joints
from weakpose.tasks.video_gan import VideoGanTask
from weakpose.train import TrainConfig, Trainer


def _task(supervision, labelled=(), real=None):
    torch.manual_seed(0)
    kw = dict(filter_widths=(3, 3), channels=32, dropout=0.0)
    critic = PoseCritic(pose_width=16, kcs_width=32, fused_width=16, max_bone_m=float("inf"))
    real = torch.randn(64, 17, 3) * 0.2 if real is None else real
    return VideoGanTask(
        TemporalLifter(**kw),
        TrajectoryModel(**kw),
        critic,
        supervision,
        real_poses=real,
        labelled_subject_ids=labelled,
        n_critic=1,
    )


@pytest.fixture(scope="module")
def windows(tmp_path_factory):
    from weakpose.data.synthetic.keypoints import make_synthetic

    d = tmp_path_factory.mktemp("vg")
    make_synthetic(d, max_frames=40, include_bvh=False, actions=["Walking", "Jumping"])
    data = load_keypoint_data(DataConfig(synthetic_dir=str(d), val_every=0))
    return PoseWindowDataset(
        data.splits.train, receptive_field=9, frame_stride=2, subjects=["S1", "S5", "S6", "S7", "S8"]
    )


def _batch(ds, n=16):
    return next(iter(torch.utils.data.DataLoader(ds, batch_size=n, shuffle=False)))


def test_flip_keeps_reprojection_consistent(windows):
    """Mirroring 3D, root and intrinsics must mirror the reprojected 2D exactly (x -> -x, left/right swapped)."""
    task = _task("gan")
    batch = _batch(windows)
    flipped = task._flip(batch)
    half = batch["pose_3d"].shape[0] // 2
    uv = reproject(batch["pose_3d"].double(), batch["root_3d"].double(), batch["intrinsics"].double())
    uv_f = reproject(flipped["pose_3d"].double(), flipped["root_3d"].double(), flipped["intrinsics"].double())
    np.testing.assert_allclose(uv_f[half:].numpy(), flip_joints(uv[half:], H36M17).numpy(), atol=1e-9)
    np.testing.assert_allclose(uv_f[:half].numpy(), uv[:half].numpy())
    # and the ground truth reprojects onto the dataset's own 2D centre frame
    centre = batch["keypoints_2d"][:, 4].double()
    np.testing.assert_allclose(uv.numpy(), centre.numpy(), atol=1e-4)


def test_labels_are_used_only_where_allowed(windows):
    batch = _batch(windows, 64)
    assert not _task("gan")._labelled_mask(batch).any()
    assert _task("full")._labelled_mask(batch).all()
    semi = _task("semi", labelled=[0])._labelled_mask(batch)
    np.testing.assert_array_equal(semi.numpy(), (batch["subject_id"] == 0).numpy())
    with pytest.raises(ValueError, match="critic"):
        VideoGanTask(
            TemporalLifter(filter_widths=(3,), channels=8), TrajectoryModel(filter_widths=(3,), channels=8), None, "gan"
        )


def test_short_gan_run_lowers_reprojection_error(windows, tmp_path):
    task = _task("gan", real=torch.stack([windows[i]["pose_3d"] for i in range(0, len(windows), 3)]))
    batch = _batch(windows, 128)

    def reproj_error():
        with torch.no_grad():
            task.pose_model.eval()
            task.trajectory_model.eval()
            pred = task.pose_model.forward_windows(batch["keypoints_2d"])[:, 0]
            root = task.root_from_output(task.trajectory_model.forward_windows(batch["keypoints_2d"])[:, 0, 0])
            uv = reproject(pred, root, batch["intrinsics"])
            return (uv - batch["keypoints_2d"][:, 4]).norm(dim=-1).mean().item()

    before = reproj_error()
    cfg = TrainConfig(out_dir=str(tmp_path), max_steps=120, batch_size=64, progress=False, log_every=20)
    Trainer(task, cfg, windows).fit()
    after = reproj_error()
    assert after < 0.75 * before, (before, after)


def test_reprojection_error_is_plain_for_sane_poses_and_bounded_otherwise(windows):
    batch = _batch(windows)
    pose, root, intr = batch["pose_3d"], batch["root_3d"], batch["intrinsics"]
    target = batch["keypoints_2d"][:, 4] + 0.01
    plain = (reproject(pose, root, intr) - target).norm(dim=-1).mean()
    torch.testing.assert_close(VideoGanTask.reprojection_error(pose, root, intr, target), plain)
    behind = pose.clone()
    behind[:, 3, 2] = -root[:, 2]  # a foot exactly at the camera plane
    err = VideoGanTask.reprojection_error(behind.requires_grad_(True), root, intr, target)
    err.backward()
    assert torch.isfinite(err) and err <= 1.0 and torch.isfinite(behind.grad).all()


def test_straightforward_training_path_gives_the_same_step(windows):
    """The dilated network on windows and the strided twin are the same function: one step, same weights."""
    batch = _batch(windows, 32)
    a, b = _task("full"), _task("full")
    b.training_twin = False
    b.flip_augmentation = a.flip_augmentation = False
    for t in (a, b):
        t.pose_model.eval()  # batch norm statistics differ by position in train mode
        t.trajectory_model.eval()
    out_a, out_b = a.training_step(batch, 0), b.training_step(batch, 0)
    torch.testing.assert_close(out_a["loss"], out_b["loss"], rtol=1e-5, atol=1e-6)
    for pa, pb in zip(a.pose_model.parameters(), b.pose_model.parameters()):
        torch.testing.assert_close(pa, pb, rtol=1e-4, atol=1e-6)


def test_full_supervision_trains_the_pose_network_alone(windows):
    """Under full supervision nothing reads the root: without a trajectory model the step trains the pose network
    only (its loss is the MPJPE of the labels), and a setting that reprojects refuses to run without one."""
    torch.manual_seed(0)
    pose = TemporalLifter(filter_widths=(3, 3), channels=32, dropout=0.0)
    task = VideoGanTask(pose, None, None, "full", flip_augmentation=False)
    assert [p for g in task.optimizer.param_groups for p in g["params"]] == list(pose.parameters())
    batch = _batch(windows, 32)
    before = [p.detach().clone() for p in pose.parameters()]
    with torch.no_grad():
        expected = mpjpe(pose.forward_windows(batch["keypoints_2d"])[:, 0], batch["pose_3d"])
    pose.train()
    out = task.training_step(batch, 0)
    assert set(out) == {"loss", "loss_mpjpe"}
    torch.testing.assert_close(out["loss"], expected)  # dropout 0, BN batch stats: same forward as above
    assert any(not torch.equal(a, b) for a, b in zip(before, pose.parameters()))
    with pytest.raises(ValueError, match="needs the trajectory model"):
        VideoGanTask(pose, None, PoseCritic(), "gan", real_poses=torch.randn(8, 17, 3))


def test_from_config_reads_every_setting_from_its_sections():
    """The config sections (written once, in the task module) build the same task as the constructor's defaults,
    and a section's values reach the task."""
    from weakpose.tasks.video_gan import AugmentConfig, LossConfig, ModelConfig, OptimConfig

    kw = dict(filter_widths=(3, 3), channels=8, dropout=0.0)
    pose, traj = TemporalLifter(**kw), TrajectoryModel(**kw)
    real = torch.randn(8, 17, 3)
    default = VideoGanTask(pose, traj, PoseCritic(), "gan", real_poses=real)
    built = VideoGanTask.from_config(pose, traj, PoseCritic(), real_poses=real)
    for name in ("supervision", "n_critic", "w_adv", "w_reproj", "w_bone", "flip_augmentation", "training_twin"):
        assert getattr(built, name) == getattr(default, name), name
    assert built.optimizer.param_groups[0]["lr"] == default.optimizer.param_groups[0]["lr"] == OptimConfig.lr
    task = VideoGanTask.from_config(
        pose,
        traj,
        PoseCritic(),
        model=ModelConfig(training_twin=False),
        loss=LossConfig(supervision="semi", weight_bone=0.5),
        optim=OptimConfig(lr=2e-4, lr_decay=0.5, decay_every=7, n_critic=2),
        augment=AugmentConfig(flip=False),
        real_poses=real,
        labelled_subject_ids=[0],
    )
    assert (task.supervision, task.w_bone, task.n_critic, task.flip_augmentation) == ("semi", 0.5, 2, False)
    assert task.training_twin is False and task.labelled.tolist() == [0]
    assert task.optimizer.param_groups[0]["lr"] == 2e-4
    assert (task.scheduler.step_size, task.scheduler.gamma) == (7, 0.5)
