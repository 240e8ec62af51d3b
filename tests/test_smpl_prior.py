"""SMPL-parameter critic: HMR-style critic maths, LSGAN losses, files, SMPL parameter readers, the embedded default,
mirror augmentation, and a short training run."""

import dataclasses
import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy.io import savemat
from scipy.spatial.transform import Rotation

from weakpose.body import BodyModel
from weakpose.body.params import SMPLParams, mirror_axis_angle, mirror_params
from weakpose.body.retarget import SWING_BONES
from weakpose.data.datasets.pose_pool import SMPLParamDataset
from weakpose.data.smpl_params import (
    embedded_smpl_params,
    embedded_tracks,
    load_smpl_npz,
    load_smpl_param_files,
    load_surreal_info,
)
from weakpose.priors.corruptions import KNEE_JOINTS, implausible_versions, reverse_knees
from weakpose.priors.generators import SMPLGenerator
from weakpose.priors.pose_critic import PoseCritic
from weakpose.priors.smpl_critic import (
    SMPLCritic,
    as_rotmats,
    lsgan_critic_loss,
    lsgan_generator_loss,
)
from weakpose.skeleton import SMPL24, flip_joints
from weakpose.tasks.smpl_prior import SMPLPriorTask
from weakpose.train import TrainConfig, Trainer

ROOT = Path(__file__).resolve().parents[1]


def _relu(x):
    return np.maximum(x, 0.0)


def _np(t):
    return t.detach().double().numpy()


# ----------------------------------------------------------------------------------------------- network


def test_forward_matches_a_hand_computation_of_the_heads():
    torch.manual_seed(0)
    d = SMPLCritic(num_betas=10, joint_width=4, full_width=6).double()
    rot = torch.from_numpy(Rotation.random(3 * 23, random_state=1).as_matrix().reshape(3, 23, 3, 3))
    betas = torch.from_numpy(np.random.default_rng(2).normal(size=(3, 10)))
    out = _np(d(rot, betas))
    assert out.shape == (3, 25)

    s = d.joint_shared
    x = rot.numpy().reshape(3, 23, 9)
    h = _relu(_relu(x @ _np(s[0].weight).T + _np(s[0].bias)) @ _np(s[2].weight).T + _np(s[2].bias))  # (3, 23, 4)
    w, b = _np(d.joint_head_weight), _np(d.joint_head_bias)
    for j in range(23):  # joint j's own head: a dot product with its own weight row
        np.testing.assert_allclose(out[:, j], h[:, j] @ w[j] + b[j], rtol=1e-12, atol=1e-12)
    f = d.full_head
    flat = h.reshape(3, 23 * 4)  # joint-major concatenation of the per-joint features
    full = _relu(_relu(flat @ _np(f[0].weight).T + _np(f[0].bias)) @ _np(f[2].weight).T + _np(f[2].bias))
    np.testing.assert_allclose(out[:, 23], full @ _np(f[4].weight)[0] + _np(f[4].bias)[0], rtol=1e-12, atol=1e-12)
    g = d.shape_head
    sh = _relu(_relu(betas.numpy() @ _np(g[0].weight).T + _np(g[0].bias)) @ _np(g[2].weight).T + _np(g[2].bias))
    np.testing.assert_allclose(out[:, 24], sh @ _np(g[4].weight)[0] + _np(g[4].bias)[0], rtol=1e-12, atol=1e-12)
    # the shape only moves the shape output, a joint's rotation only its own head and the all-joints head
    out2 = _np(d(rot, betas + 1.0))
    np.testing.assert_allclose(out2[:, :24], out[:, :24], atol=1e-14)
    rot2 = rot.clone()
    rot2[:, 5] = torch.eye(3, dtype=rot.dtype)
    out3 = _np(d(rot2, betas))
    changed = np.abs(out3 - out).max(0) > 1e-12
    assert changed[5] and changed[23] and not changed[[j for j in range(23) if j != 5]].any() and not changed[24]
    assert d.score(rot.numpy(), betas.numpy()).shape == (3,)
    np.testing.assert_allclose(d.score(rot.numpy(), betas.numpy()), out.mean(1), rtol=1e-12)


def test_axis_angle_input_and_shape_errors():
    torch.manual_seed(0)
    d = SMPLCritic(joint_width=4, full_width=8).double()
    aa = np.random.default_rng(0).normal(scale=0.5, size=(4, 69))
    rot = torch.from_numpy(Rotation.from_rotvec(aa.reshape(-1, 3)).as_matrix().reshape(4, 23, 3, 3))
    np.testing.assert_allclose(_np(as_rotmats(torch.from_numpy(aa))), rot.numpy(), atol=1e-12)
    betas = torch.zeros(4, 10, dtype=torch.float64)
    np.testing.assert_allclose(_np(d(torch.from_numpy(aa), betas)), _np(d(rot, betas)), atol=1e-12)
    np.testing.assert_allclose(_np(d(torch.from_numpy(aa).reshape(4, 23, 3), betas)), _np(d(rot, betas)), atol=1e-12)
    with pytest.raises(ValueError, match="global orientation"):
        d(torch.zeros(4, 72, dtype=torch.float64), betas)
    with pytest.raises(ValueError, match="betas"):
        d(rot, torch.zeros(4, 16, dtype=torch.float64))
    with pytest.raises(ValueError, match="NaN"):
        d(torch.full((4, 69), float("nan"), dtype=torch.float64), betas)
    with pytest.raises(TypeError, match="torch"):
        d.loss(aa, betas.numpy())


def test_lsgan_losses_against_hand_values():
    real = torch.tensor([[1.0, 0.5], [2.0, 1.0]])
    fake = torch.tensor([[0.0, 1.0], [0.5, -1.0]])
    # real: (0 + 0.25 + 1 + 0) / 4; fake: (0 + 1 + 0.25 + 1) / 4
    assert float(lsgan_critic_loss(real, fake)) == pytest.approx(0.3125 + 0.5625)
    # generator: ((0-1)² + 0 + (0.5-1)² + (-1-1)²) / 4
    assert float(lsgan_generator_loss(fake)) == pytest.approx((1 + 0 + 0.25 + 4) / 4)
    assert float(lsgan_generator_loss(torch.ones(3, 25))) == 0.0


def test_loss_gradient_matches_finite_differences():
    torch.manual_seed(0)
    d = SMPLCritic(joint_width=8, full_width=16).double()
    rng = np.random.default_rng(3)
    aa = torch.tensor(rng.normal(scale=0.4, size=(2, 69)), requires_grad=True)
    betas = torch.tensor(rng.normal(size=(2, 10)), requires_grad=True)
    loss = d.loss(aa, betas)
    g_aa, g_b = torch.autograd.grad(loss, (aa, betas))
    eps = 1e-6
    for x, g in ((aa, g_aa), (betas, g_b)):
        flat = x.detach().clone().reshape(-1)
        num = np.zeros(flat.numel())
        for i in range(flat.numel()):
            for sign in (1, -1):
                y = flat.clone()
                y[i] += sign * eps
                args = (y.reshape(x.shape), betas.detach()) if x is aa else (aa.detach(), y.reshape(x.shape))
                num[i] += sign * d.loss(*args).item() / (2 * eps)
        np.testing.assert_allclose(g.reshape(-1).numpy(), num, rtol=1e-5, atol=1e-8)
    # matrices in: the same loss, gradient to the matrices
    rot = as_rotmats(aa.detach()).requires_grad_(True)
    assert d.loss(rot, betas.detach()).item() == pytest.approx(loss.item(), rel=1e-12)
    torch.autograd.grad(d.loss(rot, betas.detach()), rot)


def test_save_load_round_trip_and_bad_files(tmp_path):
    torch.manual_seed(0)
    d = SMPLCritic(joint_width=8, full_width=16)
    d.meta = {"data": "test", "steps": 3, "scores": [0.5, 0.25]}
    path = d.save(tmp_path / "sub" / "prior.pt")
    raw = torch.load(path, weights_only=True)  # only tensors and primitives inside
    assert raw["format"] == "weakpose.SMPLDiscriminator/1" and raw["config"]["joint_width"] == 8
    e = SMPLCritic.load(path)
    assert e.meta == d.meta and not any(p.requires_grad for p in e.parameters()) and not e.training
    rot, betas = torch.randn(5, 69), torch.randn(5, 10)
    torch.testing.assert_close(e(rot, betas), d(rot, betas), rtol=0, atol=0)
    assert not list(tmp_path.joinpath("sub").glob(".*"))  # no temporary file left behind

    PoseCritic(pose_width=4, kcs_width=4, fused_width=4).save(tmp_path / "pose.pt")
    with pytest.raises(ValueError, match=r"pose\.pt.*not an SMPLCritic file"):
        SMPLCritic.load(tmp_path / "pose.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a torch file at all")
    with pytest.raises(ValueError, match=r"junk\.pt"):
        SMPLCritic.load(tmp_path / "junk.pt")
    with pytest.raises(FileNotFoundError, match="missing.pt"):
        SMPLCritic.load(tmp_path / "missing.pt")
    bad = dict(raw)
    bad["config"] = dict(raw["config"], joint_width=16)
    torch.save(bad, tmp_path / "mismatch.pt")
    with pytest.raises(ValueError, match=r"mismatch\.pt.*do not fit"):
        SMPLCritic.load(tmp_path / "mismatch.pt")


# ----------------------------------------------------------------------------------------------- readers


def test_surreal_info_reader(tmp_path):
    rng = np.random.default_rng(0)
    pose, shape = rng.normal(size=(72, 7)), rng.normal(size=(10, 7))
    savemat(tmp_path / "c0001_info.mat", {"pose": pose, "shape": shape, "gender": np.array([0])})
    p = load_surreal_info(tmp_path / "c0001_info.mat")
    assert len(p) == 7 and p.betas.dtype == np.float32
    np.testing.assert_allclose(p.global_orient, pose[:3].T, rtol=1e-6)
    np.testing.assert_allclose(p.body_pose, pose[3:].T, rtol=1e-6)
    np.testing.assert_allclose(p.betas, shape.T, rtol=1e-6)
    assert set(p.sequence) == {str(tmp_path / "c0001_info.mat")}
    np.testing.assert_allclose(
        load_surreal_info(tmp_path / "c0001_info.mat", stride=3).body_pose, pose[3:, ::3].T, rtol=1e-6
    )

    # T = 1: a 1-D pose (scipy writes it as a (1, 72) row) and an explicit (72, 1) column
    one = tmp_path / "deep" / "er"
    one.mkdir(parents=True)
    savemat(one / "c0002_info.mat", {"pose": pose[:, 0], "shape": shape[:, 0]})
    savemat(one / "c0003_info.mat", {"pose": pose[:, :1], "shape": shape[:, :1]})
    for name in ("c0002_info.mat", "c0003_info.mat"):
        q = load_surreal_info(one / name)
        assert len(q) == 1
        np.testing.assert_allclose(q.body_pose[0], pose[3:, 0], rtol=1e-6)
        np.testing.assert_allclose(q.betas[0], shape[:, 0], rtol=1e-6)
    # one shape (a column, or a 1-D array that scipy writes as a row) for many frames is used for every frame
    savemat(one / "c0004_info.mat", {"pose": pose, "shape": shape[:, :1]})
    np.testing.assert_allclose(
        load_surreal_info(one / "c0004_info.mat").betas, np.repeat(shape[:, :1].T, 7, 0), rtol=1e-6
    )
    savemat(tmp_path / "row_info.mat", {"pose": rng.normal(size=(72, 10)), "shape": shape[:, 0]})
    np.testing.assert_allclose(
        load_surreal_info(tmp_path / "row_info.mat").betas, np.repeat(shape[None, :, 0], 10, 0), rtol=1e-6
    )
    (tmp_path / "row_info.mat").unlink()

    savemat(tmp_path / "noshape_info.mat", {"pose": pose})
    with pytest.raises(KeyError, match=r"noshape_info\.mat.*'shape'"):
        load_surreal_info(tmp_path / "noshape_info.mat")
    savemat(tmp_path / "badpose_info.mat", {"pose": pose[:50], "shape": shape})
    with pytest.raises(ValueError, match=r"badpose_info\.mat.*'pose'"):
        load_surreal_info(tmp_path / "badpose_info.mat")
    (tmp_path / "junk_info.mat").write_bytes(b"garbage")
    with pytest.raises(ValueError, match=r"junk_info\.mat"):
        load_surreal_info(tmp_path / "junk_info.mat")

    # a directory: *_info.mat found recursively (other .mat files ignored)
    savemat(one / "c0002_segm.mat", {"segm_1": np.zeros((2, 2))})
    for f in ("noshape_info.mat", "badpose_info.mat", "junk_info.mat"):
        (tmp_path / f).unlink()
    allp = load_smpl_param_files(tmp_path)
    assert len(allp) == 7 + 1 + 1 + 7 and len(allp.sequences) == 4


def test_npz_readers(tmp_path):
    rng = np.random.default_rng(1)
    go, bp, betas = rng.normal(size=(5, 3)), rng.normal(size=(5, 23, 3)), rng.normal(size=(10,))
    np.savez(tmp_path / "a.npz", global_orient=go, body_pose=bp, betas=betas)
    p = load_smpl_npz(tmp_path / "a.npz")
    np.testing.assert_allclose(p.body_pose, bp.reshape(5, 69), rtol=1e-6)
    np.testing.assert_allclose(p.global_orient, go, rtol=1e-6)
    np.testing.assert_allclose(p.betas, np.repeat(betas[None], 5, 0), rtol=1e-6)

    poses, abetas = rng.normal(size=(4, 156)), rng.normal(size=(16,))  # AMASS SMPL-H
    np.savez(tmp_path / "amass_poses.npz", poses=poses, betas=abetas, mocap_framerate=120.0)
    q = load_smpl_npz(tmp_path / "amass_poses.npz")
    np.testing.assert_allclose(q.global_orient, poses[:, :3], rtol=1e-6)
    np.testing.assert_allclose(q.body_pose[:, :63], poses[:, 3:66], rtol=1e-6)
    np.testing.assert_array_equal(q.body_pose[:, 63:], 0.0)  # SMPL-H finger joints are not SMPL's hands
    np.testing.assert_allclose(q.betas, np.repeat(abetas[None, :10], 4, 0), rtol=1e-6)
    np.savez(tmp_path / "smpl72.npz", poses=poses[:, :72], betas=abetas[:10])
    np.testing.assert_allclose(load_smpl_npz(tmp_path / "smpl72.npz").body_pose, poses[:, 3:72], rtol=1e-6)

    both = load_smpl_param_files([tmp_path / "a.npz", tmp_path / "amass_poses.npz"])
    assert len(both) == 9 and both.sequences == [str(tmp_path / "a.npz"), str(tmp_path / "amass_poses.npz")]
    np.testing.assert_allclose(both.subset(slice(5, None)).body_pose, q.body_pose)

    np.savez(tmp_path / "nobetas.npz", global_orient=go, body_pose=bp)
    with pytest.raises(KeyError, match=r"nobetas\.npz.*'betas'"):
        load_smpl_npz(tmp_path / "nobetas.npz")
    np.savez(tmp_path / "other.npz", foo=go)
    with pytest.raises(KeyError, match=r"other\.npz.*'poses'"):
        load_smpl_npz(tmp_path / "other.npz")
    np.savez(tmp_path / "short.npz", poses=poses[:, :60], betas=abetas)
    with pytest.raises(ValueError, match=r"short\.npz.*'poses'"):
        load_smpl_npz(tmp_path / "short.npz")
    with pytest.raises(FileNotFoundError, match="empty_dir"):
        (tmp_path / "empty_dir").mkdir()
        load_smpl_param_files(tmp_path / "empty_dir")


# ----------------------------------------------------------------------------------------------- mirror


def test_mirrored_params_pose_the_mirror_image_body():
    body = BodyModel.default()
    rng = np.random.default_rng(4)
    n = 6
    params = SMPLParams(
        rng.normal(scale=0.8, size=(n, 3)), rng.normal(scale=0.5, size=(n, 69)), np.zeros((n, 10)), source="random"
    )
    m = mirror_params(params)
    with torch.no_grad():
        j = body(betas=params.betas, global_orient=params.global_orient, body_pose=params.body_pose).joints.numpy()
        jm = body(betas=m.betas, global_orient=m.global_orient, body_pose=m.body_pose).joints.numpy()
    np.testing.assert_allclose(jm, flip_joints(j, SMPL24, axis=0), atol=1e-4)
    assert np.abs(jm - j).max() > 0.05  # it did change the pose
    # involution, numpy and torch alike, flat and per joint
    np.testing.assert_allclose(mirror_axis_angle(mirror_axis_angle(params.body_pose)), params.body_pose)
    torch.testing.assert_close(
        mirror_axis_angle(torch.from_numpy(params.body_pose).reshape(n, 23, 3)),
        torch.from_numpy(m.body_pose).reshape(n, 23, 3),
    )
    with pytest.raises(ValueError, match="22 joints"):
        mirror_axis_angle(np.zeros((2, 66)))


# ----------------------------------------------------------------------------------------------- embedded


@pytest.fixture(scope="module")
def embedded():
    return embedded_smpl_params(max_frames=40, seed=0)


def test_embedded_params_follow_the_tracks(embedded):
    p = embedded
    tracks = dict(embedded_tracks())
    assert set(p.sequences) == set(tracks)
    all_ids = {label for label, _ in embedded_tracks(include_test=True)}
    assert set(tracks) < all_ids  # the test subjects' motion is left out
    # one shape per sequence, deterministic; another seed gives other shapes
    for s in p.sequences[:3]:
        b = p.betas[p.sequence == s]
        assert np.ptp(b, axis=0).max() == 0
    again = embedded_smpl_params(max_frames=5, seed=0)
    other = embedded_smpl_params(max_frames=5, seed=1)
    first = p.sequences[0]
    np.testing.assert_array_equal(again.betas[again.sequence == first][0], p.betas[p.sequence == first][0])
    assert not np.allclose(other.betas[other.sequence == first][0], p.betas[p.sequence == first][0])
    assert 0.5 < p.betas[np.unique(p.sequence, return_index=True)[1]].std() < 1.6

    # pose the body with the fitted parameters: its bones point along the track's (what retargeting promises)
    body = BodyModel.default()
    pick = np.arange(0, len(p), 7)
    with torch.no_grad():
        joints = (
            body(betas=p.betas[pick], global_orient=p.global_orient[pick], body_pose=p.body_pose[pick])
            .joints.double()
            .numpy()
        )
    targets = []
    for s in p.sequence[pick]:
        t = tracks[s]
        frames = np.linspace(0, len(t) - 1, 40).round().astype(int) if len(t) > 40 else np.arange(len(t))
        targets.append(t[frames])
    # the k-th picked frame is frame (pick - first frame of its sequence) of that sequence
    starts = {s: int(np.flatnonzero(p.sequence == s)[0]) for s in p.sequences}
    target = np.stack([targets[k][i - starts[s]] for k, (i, s) in enumerate(zip(pick, p.sequence[pick]))])
    worst = 1.0
    for joint, child, (ha, hb) in SWING_BONES:
        a = joints[:, child] - joints[:, joint]
        b = target[:, hb] - target[:, ha]
        cos = np.sum(a * b, -1) / np.linalg.norm(a, axis=-1) / np.linalg.norm(b, axis=-1)
        worst = min(worst, cos.min())
    assert worst > 1 - 1e-5, worst  # within ~0.3 degrees (float32 parameters)


# ----------------------------------------------------------------------------------------------- training


def test_critic_steps_reduce_its_loss():
    torch.manual_seed(0)
    d = SMPLCritic(joint_width=16, full_width=64)
    real = torch.randn(32, 69) * 0.3
    real_b = torch.randn(32, 10)
    fake_rot, fake_b = SMPLGenerator(width=32).sample(32, generator=torch.Generator().manual_seed(0))
    fake_rot, fake_b = fake_rot.detach(), fake_b.detach() + 3.0
    opt = torch.optim.Adam(d.parameters(), lr=3e-3)
    losses = []
    for _ in range(40):
        loss = lsgan_critic_loss(d(real, real_b), d(fake_rot, fake_b))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.6 * losses[0] and all(b < a for a, b in zip(losses[::10], losses[10::10])), losses
    with torch.no_grad():
        assert float(d(real, real_b).mean()) > float(d(fake_rot, fake_b).mean())


def test_generator_starts_at_rest_and_broken_copies():
    g = SMPLGenerator()
    rot, betas = g.sample(4, generator=torch.Generator().manual_seed(0))
    assert rot.shape == (4, 23, 3, 3) and betas.shape == (4, 10)
    torch.testing.assert_close(rot @ rot.transpose(-1, -2), torch.eye(3).expand(4, 23, 3, 3), atol=1e-5, rtol=0)
    assert (rot - torch.eye(3)).abs().max() < 0.5  # near the rest pose at initialisation
    real = as_rotmats(torch.randn(3, 69) * 0.2)
    knees = reverse_knees(real)
    # the reversed knee sends the shin (rest direction -y) forward (+z): R_x(-90°) @ (0, -1, 0) = (0, 0, 1)
    for k in KNEE_JOINTS:
        torch.testing.assert_close(
            knees[:, k] @ torch.tensor([0.0, -1.0, 0.0]), torch.tensor([0.0, 0, 1]).expand(3, 3), atol=1e-6, rtol=0
        )
    others = [j for j in range(23) if j not in KNEE_JOINTS]
    torch.testing.assert_close(knees[:, others], real[:, others])
    broken = implausible_versions(real, torch.ones(3, 10), torch.Generator().manual_seed(0))
    assert set(broken) == {"random rotations", "knees backwards", "one joint random", "betas x5"}
    assert ((broken["one joint random"][0] - real).abs().flatten(2).amax(-1) > 1e-6).sum(1).tolist() == [1, 1, 1]


def test_task_mirror_augmentation():
    task = SMPLPriorTask(SMPLCritic(joint_width=4, full_width=8), SMPLGenerator(width=8), mirror=True)
    pose, betas = torch.randn(6, 69), torch.randn(6, 10)
    rot, b = task.augment(pose, betas)
    torch.testing.assert_close(rot[:3], as_rotmats(pose[:3]))
    torch.testing.assert_close(rot[3:], as_rotmats(mirror_axis_angle(pose[3:])))
    torch.testing.assert_close(b, betas)
    task.resample_betas_std = 2.0
    assert not torch.allclose(task.augment(pose, betas)[1], betas)


def test_task_from_config_reads_the_sections():
    """The config sections live beside the task: their defaults are the constructor's and their values reach it."""
    from weakpose.tasks.smpl_prior import AugmentConfig, OptimConfig

    nets = lambda: (SMPLCritic(joint_width=4, full_width=8), SMPLGenerator(width=8))  # noqa: E731
    default = SMPLPriorTask(*nets()).critic_optimizer.param_groups[0]
    built = SMPLPriorTask.from_config(*nets()).critic_optimizer.param_groups[0]
    assert (default["lr"], tuple(default["betas"])) == (OptimConfig.lr, (OptimConfig.beta1, OptimConfig.beta2))
    assert (built["lr"], tuple(built["betas"]), built["weight_decay"]) == (
        default["lr"],
        tuple(default["betas"]),
        default["weight_decay"],
    )
    task = SMPLPriorTask.from_config(
        *nets(),
        optim=OptimConfig(lr=2e-3, beta1=0.1, beta2=0.2, weight_decay=1e-5),
        augment=AugmentConfig(mirror=False),
        resample_betas_std=1.0,
    )
    group = task.critic_optimizer.param_groups[0]
    assert (group["lr"], tuple(group["betas"]), group["weight_decay"]) == (2e-3, (0.1, 0.2), 1e-5)
    assert task.generator_optimizer.param_groups[0]["lr"] == 2e-3
    assert (task.mirror, task.resample_betas_std) == (False, 1.0)


def test_task_reads_checkpoints_that_call_the_critic_discriminator():
    """Checkpoints of v0.1 name the task's critic ``discriminator``; resuming one still restores every weight."""
    torch.manual_seed(0)
    a = SMPLPriorTask(SMPLCritic(joint_width=4, full_width=8), SMPLGenerator(width=8))
    a.training_step({"body_pose": torch.randn(4, 69) * 0.3, "betas": torch.randn(4, 10)}, 0)
    state = a.state_dict()
    assert sorted(state["modules"]) == ["critic", "generator"]
    old = dict(
        state,
        modules={"discriminator" if k == "critic" else k: v for k, v in state["modules"].items()},
        optimizers={k.replace("critic", "discriminator"): v for k, v in state["optimizers"].items()},
    )
    b = SMPLPriorTask(SMPLCritic(joint_width=4, full_width=8), SMPLGenerator(width=8))
    b.load_state_dict(old)
    for (name, p), q in zip(a.critic.state_dict().items(), b.critic.state_dict().values()):
        assert torch.equal(p, q), name
    assert b.critic_optimizer.state_dict()["state"].keys() == a.critic_optimizer.state_dict()["state"].keys()
    with pytest.raises(KeyError, match="do not match"):
        b.load_state_dict(dict(state, modules={"other": state["modules"]["critic"]}))


def test_short_training_scores_real_above_reversed_knees(embedded, tmp_path):
    torch.manual_seed(0)
    seqs = embedded.sequences
    val = embedded.select_sequences(seqs[::5])
    train = embedded.select_sequences([s for s in seqs if s not in seqs[::5]])
    critic = SMPLCritic(full_width=256)
    task = SMPLPriorTask(critic, SMPLGenerator(width=128), lr=1e-4, resample_betas_std=1.0)
    cfg = TrainConfig(
        out_dir=str(tmp_path / "run"),
        max_steps=250,
        batch_size=64,
        log_every=50,
        val_every=250,
        ckpt_every=0,
        progress=False,
        tensorboard=False,
        device="cpu",
    )
    result = Trainer(task, cfg, SMPLParamDataset(train), SMPLParamDataset(val)).fit()
    v = result.last_validation
    assert v["val/real_above_knees_backwards"] >= 0.95, v
    assert v["val/real_above_random_rotations"] >= 0.95, v
    critic.eval()
    rot = as_rotmats(torch.from_numpy(val.body_pose))
    real = critic.score(rot, torch.from_numpy(val.betas))
    knees = critic.score(reverse_knees(rot), torch.from_numpy(val.betas))
    assert float((real > knees).float().mean()) >= 0.95


def _load_sample(name):
    spec = importlib.util.spec_from_file_location(name, ROOT / "sample" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def test_sample_script_runs(tmp_path, monkeypatch):
    module = _load_sample("train_smpl_prior")
    monkeypatch.chdir(tmp_path)
    assert (
        module.main(
            [
                "data.max_frames=8",
                "train.max_steps=6",
                "train.val_every=3",
                "train.batch_size=16",
                "model.full_width=32",
                "train.tensorboard=false",
                "run.num_threads=0",
            ]
        )
        == 0
    )
    prior = SMPLCritic.load(tmp_path / "runs" / "smpl_prior" / "smpl_prior.pt")
    assert prior.meta["steps"] == 6 and prior.config["full_width"] == 32
    # figures go into the run folder; the tracked images/ is written only when asked (run.images_dir=images)
    assert (tmp_path / "runs" / "smpl_prior" / "images" / "smpl_prior_curves.png").stat().st_size > 1000
    assert not (tmp_path / "images").exists()
    assert (tmp_path / "runs" / "smpl_prior" / "metrics.csv").is_file()


def test_train_gan_is_the_smpl_prior_script(capsys):
    alias, script = _load_sample("train_GAN"), _load_sample("train_smpl_prior")
    assert alias.main.__module__ == "train_smpl_prior"
    assert [f.name for f in dataclasses.fields(alias.Config)] == [f.name for f in dataclasses.fields(script.Config)]
    with pytest.raises(SystemExit) as done:
        alias.main(["--print-config", "data.root=/data/amass_npz"])
    assert done.value.code == 0
    assert "root: /data/amass_npz" in capsys.readouterr().out
