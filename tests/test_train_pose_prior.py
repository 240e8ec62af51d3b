"""Training the pose prior: real-pose extraction, augmentation, a short WGAN-GP run, the sample script end to end."""

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from weakpose.data.datasets.pose_pool import RealPoseDataset, real_poses
from weakpose.data.h36m.cameras import load_h36m_cameras_json
from weakpose.data.h36m.loaders import Sequence
from weakpose.data.motion.cmu import load_cmu_motion
from weakpose.priors import PoseCritic, kcs_matrix
from weakpose.priors.generators import PoseGenerator
from weakpose.skeleton import H36M17, flip_joints
from weakpose.tasks.pose_prior import PosePriorTask
from weakpose.train import TrainConfig, Trainer, read_csv_log

ROOT = Path(__file__).resolve().parents[1]


def _load_script():
    spec = importlib.util.spec_from_file_location("train_pose_prior", ROOT / "sample" / "train_pose_prior.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["train_pose_prior"] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def cmu():
    """Root-relative world poses (z up) of the shipped CMU motion: 'train_*' clips to train, 'test_*' held out."""
    motion = load_cmu_motion()

    def pick(prefix, step):
        return np.concatenate(
            [v[::step] - v[::step, :1] for clips in motion.values() for k, v in clips.items() if k.startswith(prefix)]
        )

    return pick("train", 2), pick("test", 5)


def test_real_poses_world_and_camera_frames(cmu):
    cams = load_h36m_cameras_json()["S1"]
    world = cmu[1][:10] + np.array([1.0, -2.0, 0.9], np.float32)
    seq = Sequence(subject="S1", action="Walking", positions_3d=world, cameras=cams)
    w = real_poses([seq], "world", stride=2)
    np.testing.assert_allclose(w, (world - world[:, :1])[::2], atol=1e-6)
    c = real_poses([seq], "camera")
    assert c.shape == (10 * len(cams), 17, 3)
    for i, cam_id in enumerate(sorted(cams)):
        r = np.asarray(cams[cam_id].R, dtype=np.float64)
        expect = (world - world[:, :1]) @ r.T  # a rigid map: root-relative camera pose = R · root-relative world
        np.testing.assert_allclose(c[10 * i : 10 * (i + 1)], expect, atol=1e-5)
    with pytest.raises(ValueError, match="frame"):
        real_poses([seq], "image")
    with pytest.raises(ValueError, match="no 3D positions"):
        real_poses([Sequence(subject="S1", action="Walking")])


def test_augmentation_is_a_rotation_about_the_up_axis_plus_a_mirror(cmu):
    torch.manual_seed(0)
    poses = torch.from_numpy(cmu[0][:8]).double()
    task = PosePriorTask(
        PoseCritic(pose_width=8, kcs_width=8, fused_width=4),
        PoseGenerator(width=8),
        rotate=True,
        mirror=False,
        up_axis="z",
    )
    rotated = task.augment(poses)
    np.testing.assert_allclose(kcs_matrix(rotated).numpy(), kcs_matrix(poses).numpy(), atol=1e-12)  # rigid
    np.testing.assert_allclose(rotated[..., 2].numpy(), poses[..., 2].numpy(), atol=1e-12)  # heights kept
    assert not torch.allclose(rotated, poses)
    task.rotate, task.mirror = False, True
    mirrored = task.augment(poses)
    np.testing.assert_allclose(mirrored[:4].numpy(), poses[:4].numpy())
    np.testing.assert_allclose(mirrored[4:].numpy(), flip_joints(poses[4:], H36M17, axis=0).numpy())


def test_from_config_reads_the_sections():
    """The config sections live beside the task; their values reach the optimisers, the penalty and the
    augmentation, and their defaults are the constructor's."""
    from weakpose.tasks.pose_prior import AugmentConfig, LossConfig, OptimConfig

    nets = lambda: (PoseCritic(pose_width=8, kcs_width=8, fused_width=4), PoseGenerator(width=8))  # noqa: E731
    default, built = PosePriorTask(*nets()), PosePriorTask.from_config(*nets())
    for name in ("n_critic", "gp_weight", "rotate", "mirror", "up_axis"):
        assert getattr(built, name) == getattr(default, name), name
    group, default_group = built.critic_optimizer.param_groups[0], default.critic_optimizer.param_groups[0]
    assert (group["lr"], group["betas"]) == (default_group["lr"], default_group["betas"])
    task = PosePriorTask.from_config(
        *nets(),
        optim=OptimConfig(lr=3e-4, beta1=0.1, beta2=0.2, n_critic=2),
        loss=LossConfig(weight_gradient_penalty=1.5),
        augment=AugmentConfig(rotate=False, mirror=False),
        up_axis="y",
    )
    assert task.generator_optimizer.param_groups[0]["lr"] == 3e-4
    assert tuple(task.critic_optimizer.param_groups[0]["betas"]) == (0.1, 0.2)
    assert (task.n_critic, task.gp_weight, task.rotate, task.mirror, task.up_axis) == (2, 1.5, False, False, 1)


def test_short_gan_run_separates_real_from_broken_poses_and_lowers_the_critic_gap(cmu, tmp_path):
    train, held_out = cmu
    torch.manual_seed(0)
    critic = PoseCritic(pose_width=64, kcs_width=64, fused_width=64)
    generator = PoseGenerator(width=128, num_blocks=1)
    # lr 1e-3 instead of the paper's 1e-4 so that 400 steps suffice in a test
    task = PosePriorTask(critic, generator, lr=1e-3, n_critic=5)
    cfg = TrainConfig(
        out_dir=str(tmp_path / "run"),
        max_steps=400,
        batch_size=64,
        log_every=20,
        val_every=50,
        ckpt_every=0,
        progress=False,
        tensorboard=False,
    )
    Trainer(task, cfg, RealPoseDataset(train), RealPoseDataset(held_out)).fit()

    rows = read_csv_log(tmp_path / "run" / "metrics.csv")
    column = lambda key: np.array([float(r[key]) for r in rows if r.get(key) not in (None, "")])  # noqa: E731
    train_gap, val_gap, bone_err = column("train/critic_gap"), column("val/critic_gap"), column("val/bone_length_error")
    # the critic first finds the (random) generator easy to tell apart; then the generator catches up
    assert train_gap.max() > 0.5
    assert train_gap[-5:].mean() < 0.5 * train_gap.max()
    assert val_gap[-1] < 0.5 * val_gap.max()
    assert bone_err[-1] < 0.5 * bone_err[0]  # metres: the generator's bones approach the real ones

    # the critic, used as a prior, prefers held-out real poses to broken copies of the same poses
    rng = np.random.default_rng(1)
    scores = critic.score(held_out)
    shuffled = np.stack([p[np.concatenate([[0], 1 + rng.permutation(16)])] for p in held_out])
    assert np.mean(scores > critic.score(shuffled)) > 0.9
    assert np.mean(scores > critic.score(2.0 * held_out)) > 0.9


def test_sample_script_trains_and_saves_a_loadable_prior(cmu, tmp_path):
    # a VideoPose3D-layout 3D file with training and test subjects; the script must read training subjects only
    train = cmu[0]
    positions = {
        s: {
            "Walking": (train[i * 100 : (i + 1) * 100] + np.array([0, 0, 0.9], np.float32)),
            "Jumping": (train[(i + 6) * 100 : (i + 7) * 100] + np.array([0, 0, 0.9], np.float32)),
        }
        for i, s in enumerate(["S1", "S5", "S6", "S7", "S8", "S9"])
    }
    positions["S11"] = {"Walking": 100.0 * positions["S9"]["Walking"]}  # would trip the mm check if read
    data_3d = tmp_path / "data_3d_test.npz"
    np.savez(data_3d, positions_3d=positions)
    script = _load_script()
    out, images = tmp_path / "run", tmp_path / "images"
    rc = script.main(
        [
            f"data.root={data_3d}",
            f"train.out_dir={out}",
            f"run.images_dir={images}",
            "train.max_steps=20",
            "train.batch_size=32",
            "train.log_every=5",
            "train.val_every=10",
            "train.progress=false",
            "train.tensorboard=false",
            "model.kcs_width=16",
            "model.pose_width=16",
            "model.fused_width=16",
            "model.generator_width=16",
            "data.val_every=3",
        ]
    )
    assert rc == 0
    prior = PoseCritic.load(out / "prior.pt")
    assert prior.meta["frame"] == "world" and prior.meta["steps"] == 20
    assert prior.meta["train_subjects"] == ["S1", "S5", "S6", "S7", "S8"]
    assert prior.config["kcs_width"] == 16
    assert (images / "pose_prior_samples.png").stat().st_size > 0
    assert (images / "pose_prior_curves.png").stat().st_size > 0
    poses = torch.from_numpy(train[:4])
    assert prior.loss(poses).item() == pytest.approx(-float(prior.score(poses).mean()), rel=1e-6)
