"""RepNet: losses against hand-computed values, camera geometry, the task's step, a short run, the unpaired split."""

import importlib.util
import math
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from weakpose.geometry.rotations import random_yaw
from weakpose.models.repnet import (
    RepNetLifter,
    camera_loss,
    camera_rotation,
    center_keypoints,
    mean_bone_length,
    reprojection_loss,
    to_camera_frame,
)
from weakpose.skeleton import H36M17
from weakpose.tasks.repnet import RepNetTask
from weakpose.train import TrainConfig, Trainer, read_csv_log

ROOT = Path(__file__).resolve().parents[1]


def _rotation(axis_angle):
    """Rodrigues' formula in NumPy (independent of weakpose.geometry)."""
    v = np.asarray(axis_angle, dtype=np.float64)
    th = np.linalg.norm(v)
    k = v / th
    kx = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    return np.eye(3) + math.sin(th) * kx + (1 - math.cos(th)) * kx @ kx


def _template(rng, n):
    """Random skeleton-shaped poses (n, 17, 3) metres: a fixed T-ish pose plus noise, root at the origin."""
    base = rng.normal(scale=0.25, size=(17, 3))
    poses = base[None] + rng.normal(scale=0.05, size=(n, 17, 3))
    return (poses - poses[:, :1]).astype(np.float32)


class _Critic(torch.nn.Module):
    """A tiny critic stand-in with the PoseCritic interface (B, 17, 3) -> (B,)."""

    def __init__(self):
        super().__init__()
        self.net = torch.nn.Sequential(torch.nn.Linear(51, 16), torch.nn.LeakyReLU(0.2), torch.nn.Linear(16, 1))

    def forward(self, x):
        return self.net(x.flatten(1))[:, 0]


# ------------------------------------------------------------------------------------------- losses


def test_reprojection_loss_is_zero_for_a_consistent_triple_and_the_frobenius_norm_otherwise(rng):
    X = rng.normal(size=(3, 17, 3))
    K = np.stack([s * _rotation(a)[:2] for s, a in [(0.5, [0.1, 0.2, 0.3]), (2.0, [1.0, 0, 0]), (1.3, [0, 0, 2])]])
    W = np.einsum("bij,bnj->bni", K, X)  # w_n = K x_n, written out by hand
    t = lambda a: torch.tensor(a, dtype=torch.float64)  # noqa: E731
    assert reprojection_loss(t(K), t(X), t(W)).item() == pytest.approx(0.0, abs=1e-12)
    # move one joint of sample 0 by (3, 4): that sample's ||W - KX||_F is 5, the batch mean 5/3
    W2 = W.copy()
    W2[0, 7] += [3.0, 4.0]
    assert reprojection_loss(t(K), t(X), t(W2)).item() == pytest.approx(5.0 / 3.0, rel=1e-12)
    # random K (not a camera): NumPy reference of the mean Frobenius norm
    K3, W3 = rng.normal(size=(3, 2, 3)), rng.normal(size=(3, 17, 2))
    ref = np.mean([np.linalg.norm(W3[b].T - K3[b] @ X[b].T) for b in range(3)])
    assert reprojection_loss(t(K3), t(X), t(W3)).item() == pytest.approx(ref, rel=1e-12)


def test_camera_loss_zero_for_scaled_orthographic_and_hand_value_for_a_skewed_camera():
    K = torch.tensor(np.stack([3.0 * _rotation([0.3, -0.2, 0.9])[:2], 0.01 * _rotation([2.0, 1.0, 0.0])[:2]]))
    assert camera_loss(K).item() == pytest.approx(0.0, abs=1e-12)
    # K = [[1,0,0],[1,1,0]]: KK^T = [[1,1],[1,2]], tr 3, 2/3 KK^T - I = [[-1/3,2/3],[2/3,1/3]], norm sqrt(10)/3
    skew = torch.tensor([[[1.0, 0.0, 0.0], [1.0, 1.0, 0.0]]], dtype=torch.float64)
    assert camera_loss(skew).item() == pytest.approx(math.sqrt(10.0) / 3.0, rel=1e-12)
    # rows of unequal length: K = diag(1, 2) padded: KK^T = diag(1, 4), tr 5 -> diag(-3/5, 3/5), norm 0.6*sqrt(2)
    unequal = torch.tensor([[[1.0, 0.0, 0.0], [0.0, 2.0, 0.0]]], dtype=torch.float64)
    assert camera_loss(unequal).item() == pytest.approx(0.6 * math.sqrt(2.0), rel=1e-12)


def test_loss_gradients_match_finite_differences(rng):
    K = torch.tensor(rng.normal(size=(2, 2, 3)), requires_grad=True)
    X = torch.tensor(rng.normal(size=(2, 5, 3)), requires_grad=True)
    W = torch.tensor(rng.normal(size=(2, 5, 2)), requires_grad=True)
    assert torch.autograd.gradcheck(reprojection_loss, (K, X, W))
    assert torch.autograd.gradcheck(camera_loss, (K,))


# ------------------------------------------------------------------------------------------- geometry


def test_camera_rotation_recovers_rotation_and_scale_and_rotates_into_the_camera(rng):
    R = np.stack([_rotation([0.4, -1.1, 0.3]), _rotation([2.5, 0.2, -0.7])])
    s = np.array([0.7, 4.0])
    K = torch.tensor(s[:, None, None] * R[:, :2])
    rot, scale = camera_rotation(K)
    np.testing.assert_allclose(rot.numpy(), R, atol=1e-10)
    np.testing.assert_allclose(scale.numpy(), s, rtol=1e-10)
    X = rng.normal(size=(2, 17, 3))
    np.testing.assert_allclose(to_camera_frame(torch.tensor(X), K).numpy(), np.einsum("bij,bnj->bni", R, X), atol=1e-10)


def test_center_keypoints_root_at_origin_unit_rms_and_invertible(rng):
    kp = torch.tensor(rng.normal(size=(4, 17, 2)) * 50 + 300)
    c, scale = center_keypoints(kp)
    assert torch.allclose(c[:, 0], torch.zeros(4, 2, dtype=c.dtype))
    np.testing.assert_allclose(np.sqrt((c.numpy() ** 2).sum(-1).mean(-1)), 1.0, rtol=1e-12)
    np.testing.assert_allclose((c * scale[:, None, None] + kp[:, :1]).numpy(), kp.numpy(), rtol=1e-12)
    c2, s2 = center_keypoints(kp, normalize_scale=False)
    np.testing.assert_allclose(c2.numpy(), (kp - kp[:, :1]).numpy())
    assert torch.all(s2 == 1)


def test_random_yaw_keeps_the_vertical_coordinate_and_lengths(rng):
    x = torch.tensor(rng.normal(size=(8, 17, 3)))
    y = random_yaw(x, up_axis=2)
    np.testing.assert_allclose(y[..., 2].numpy(), x[..., 2].numpy(), atol=1e-12)
    np.testing.assert_allclose(y.norm(dim=-1).numpy(), x.norm(dim=-1).numpy(), rtol=1e-10)
    assert not torch.allclose(y, x)


# ------------------------------------------------------------------------------------------- model and task


def test_lifter_outputs_and_gradients_reach_every_parameter(rng):
    torch.manual_seed(0)
    net = RepNetLifter(width=16, num_blocks=1)
    kp = torch.tensor(rng.normal(size=(6, 17, 2)), dtype=torch.float32)
    out = net(kp)
    assert out.pose_3d.shape == (6, 17, 3) and out.camera.shape == (6, 2, 3)
    assert torch.all(out.pose_3d[:, 0] == 0)
    # the input is centred and normalised inside: shifting and scaling the 2D changes nothing
    out2 = net(kp * 7.0 + 3.0)
    torch.testing.assert_close(out2.pose_3d, out.pose_3d, rtol=1e-4, atol=1e-5)
    loss = reprojection_loss(out.camera, out.pose_3d, out.keypoints_2d) + camera_loss(out.camera)
    loss.backward()
    for name, p in net.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_bad_shapes_raise_clear_errors():
    net = RepNetLifter(width=8, num_blocks=0)
    with pytest.raises(ValueError, match=r"\(B, 17, 2\).*\(4, 17, 3\)"):
        net(torch.zeros(4, 17, 3))
    with pytest.raises(ValueError, match=r"\(B, 17, 2\).*\(4, 16, 2\)"):
        net(torch.zeros(4, 16, 2))
    with pytest.raises(ValueError, match=r"\(B, 2, 3\).*\(4, 3, 3\)"):
        reprojection_loss(torch.zeros(4, 3, 3), torch.zeros(4, 17, 3), torch.zeros(4, 17, 2))
    with pytest.raises(ValueError, match="batch sizes differ"):
        reprojection_loss(torch.zeros(4, 2, 3), torch.zeros(3, 17, 3), torch.zeros(4, 17, 2))
    with pytest.raises(ValueError, match=r"\(B, 2, 3\)"):
        camera_loss(torch.zeros(2, 3))
    with pytest.raises(ValueError, match=r"real_poses.*\(10, 16, 3\)"):
        RepNetTask(net, _Critic(), np.zeros((10, 16, 3)))
    with pytest.raises(ValueError, match="millimetres"):
        RepNetTask(net, _Critic(), np.random.default_rng(0).normal(scale=300.0, size=(10, 17, 3)))


def test_one_training_step_updates_both_networks_with_n_critic_critic_steps(rng):
    torch.manual_seed(0)
    task = RepNetTask(RepNetLifter(width=16, num_blocks=1), _Critic(), _template(rng, 50), n_critic=3)
    before = {n: {k: v.clone() for k, v in m.state_dict().items()} for n, m in task.modules_by_name().items()}
    calls = []
    step = task.critic_optimizer.step
    task.critic_optimizer.step = lambda *a, **k: (calls.append(1), step(*a, **k))[1]
    out = task.training_step({"keypoints_2d": torch.tensor(rng.normal(size=(8, 17, 2)), dtype=torch.float32)}, 0)
    assert len(calls) == 3
    for name, module in task.modules_by_name().items():
        changed = [k for k, v in module.state_dict().items() if not torch.equal(v, before[name][k])]
        assert changed, f"{name} was not updated"
    assert set(out) >= {"loss_adversarial", "loss_reprojection", "loss_camera", "critic_gap", "gradient_penalty"}
    assert all(p.requires_grad for p in task.critic.parameters())  # re-enabled after the lifter step


def test_from_config_reads_the_sections_and_defaults_to_them(rng):
    """The config sections (written once, in the task module) are the constructor's defaults, and their values
    reach the optimisers, the losses and the augmentation."""
    from weakpose.tasks.repnet import AugmentConfig, LossConfig, OptimConfig

    pool = _template(rng, 20)
    default = RepNetTask(RepNetLifter(width=8, num_blocks=1), _Critic(), pool)
    assert default.lifter_optimizer.param_groups[0]["lr"] == OptimConfig.lr
    assert default.critic_optimizer.param_groups[0]["lr"] == OptimConfig.critic_lr
    assert (default.n_critic, default.yaw_augment) == (OptimConfig.n_critic, AugmentConfig.yaw)
    task = RepNetTask.from_config(
        RepNetLifter(width=8, num_blocks=1),
        _Critic(),
        pool,
        optim=OptimConfig(lr=3e-4, critic_lr=2e-5, n_critic=2, lr_decay=0.5, decay_every=9),
        loss=LossConfig(weight_adversarial=0.1, weight_camera=2.0),
        augment=AugmentConfig(yaw=False),
        gp_weight=5.0,
    )
    assert task.lifter_optimizer.param_groups[0]["lr"] == 3e-4
    assert task.critic_optimizer.param_groups[0]["lr"] == 2e-5
    assert (task.lifter_scheduler.step_size, task.lifter_scheduler.gamma) == (9, 0.5)
    assert task.weights == {"adversarial": 0.1, "reprojection": 1.0, "camera": 2.0}
    assert (task.n_critic, task.yaw_augment, task.gp_weight) == (2, False, 5.0)


def test_predict_rotates_by_the_estimated_camera_and_fixes_the_scale(rng):
    """A stand-in lifter whose output is a known canonical pose and camera: predict = R X scaled to the pool."""
    pool = _template(rng, 20)
    X = torch.tensor(_template(rng, 3))
    R = torch.tensor(
        np.stack([_rotation([0.2, 0.5, -0.1]), _rotation([1.5, 0, 0]), _rotation([0, 0, 3.0])]), dtype=torch.float32
    )
    K = 0.3 * R[:, :2]

    class Known(RepNetLifter):
        def forward(self, keypoints_2d):
            return SimpleNamespace(pose_3d=X, camera=K, keypoints_2d=None)

    task = RepNetTask(Known(width=4, num_blocks=0), _Critic(), pool)
    pred = task.predict({"keypoints_2d": torch.zeros(3, 17, 2)})
    parents = H36M17.parents

    def bones(p):
        return np.mean(
            [np.linalg.norm(p[..., j, :] - p[..., parents[j], :], axis=-1) for j in range(1, 17)],
            axis=0,
        )

    target_len = bones(pool).mean()
    assert task.target_bone_length == pytest.approx(target_len, rel=1e-5)
    expect = np.einsum("bij,bnj->bni", R.numpy(), X.numpy()) * (target_len / bones(X.numpy()))[:, None, None]
    np.testing.assert_allclose(pred.numpy(), expect, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(mean_bone_length(pred, parents).numpy(), target_len, rtol=1e-5)


def test_a_short_run_lowers_the_reprojection_loss(rng, tmp_path):
    """2D = scaled orthographic views of random poses; the pool holds OTHER poses of the same kind."""
    torch.manual_seed(0)
    poses = _template(rng, 256)
    rots = np.stack([_rotation(rng.normal(size=3)) for _ in range(256)])
    kp = np.einsum("bij,bnj->bni", rots[:, :2] * rng.uniform(0.5, 2.0, size=(256, 1, 1)), poses)

    class TwoD(torch.utils.data.Dataset):
        def __len__(self):
            return len(kp)

        def __getitem__(self, i):
            return {"keypoints_2d": torch.tensor(kp[i], dtype=torch.float32)}

    task = RepNetTask(
        RepNetLifter(width=64, num_blocks=1),
        _Critic(),
        _template(rng, 256),
        lr=1e-3,
        n_critic=1,
        weight_adversarial=0.1,
    )
    cfg = TrainConfig(
        out_dir=str(tmp_path / "run"), max_steps=120, batch_size=64, log_every=20, progress=False, tensorboard=False
    )
    Trainer(task, cfg, TwoD()).fit()
    rows = [r for r in read_csv_log(tmp_path / "run" / "metrics.csv") if "train/loss_reprojection" in r]
    first, last = float(rows[0]["train/loss_reprojection"]), float(rows[-1]["train/loss_reprojection"])
    assert last < 0.5 * first, (first, last)
    assert (tmp_path / "run" / "last.pt").exists()


# ------------------------------------------------------------------------------------------- sample script


def _load_script():
    spec = importlib.util.spec_from_file_location("train_repnet", ROOT / "sample" / "train_repnet.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look their module up while the script is executed
    spec.loader.exec_module(mod)
    return mod


def test_unpaired_split_keeps_2d_and_3d_subjects_apart():
    script = _load_script()

    def seq(subj, act):
        return SimpleNamespace(
            subject=subj, action=act, key=(subj, act), positions_3d=np.full((4, 17, 3), float(subj[1:]))
        )

    train = [seq(s, a) for s in ("S1", "S5", "S7", "S8") for a in ("Walk", "Run")]
    val = [s for s in train if s.key == ("S8", "Run")]
    labelled = [s for s in train if s.subject in ("S7", "S8") and s not in val]
    data = SimpleNamespace(splits=SimpleNamespace(train=train, val=val), labelled=labelled)
    cfg = script.Config()
    cfg.data.train_subjects = ["S1", "S5", "S7", "S8"]
    seqs_2d, pool = script.unpaired_split(data, cfg)
    assert {s.subject for s in seqs_2d} == {"S1", "S5"}
    assert len(pool) == 12 and set(np.unique(pool)) == {0.0}  # root-relative, from S7/S8 sequences only
    cfg.unpaired = "shuffle"
    seqs_2d, _ = script.unpaired_split(data, cfg)
    assert {s.key for s in seqs_2d} == {s.key for s in train} - {("S8", "Run")}  # validation 2D never trained on
    cfg.unpaired = "pairs"
    with pytest.raises(ValueError, match="unpaired"):
        script.unpaired_split(data, cfg)
