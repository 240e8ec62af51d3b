"""The motion critic: its features against a NumPy hand computation, the gradient penalty on windows against a
closed form and finite differences, a short training on CMU motion that tells real held-out motion from jittered
and time-shuffled copies (which the per-frame KCS critic provably cannot do for shuffles), files, and the video
GAN task with the critic switched on."""

import numpy as np
import pytest
import torch

from weakpose.data.datasets.poses import PoseWindowDataset
from weakpose.data.motion.cmu import load_cmu_motion
from weakpose.data.sources import DataConfig, load_keypoint_data
from weakpose.models.temporal import TemporalLifter, TrajectoryModel
from weakpose.priors import H36M17_BONES, PoseCritic, critic_loss, gradient_penalty, make_optimizer
from weakpose.priors.temporal_critic import TemporalPoseCritic, pose_windows
from weakpose.tasks.video_gan import VideoGanTask


def _windows(n=4, t=6, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(scale=0.3, size=(n, t, 17, 3))


def test_features_match_a_numpy_hand_computation():
    w = _windows()
    critic = TemporalPoseCritic(window=6, channels=8, velocity_scale=7.0).double()
    feats = critic.features(torch.as_tensor(w)).numpy()
    n, t = w.shape[:2]
    nb = len(H36M17_BONES)
    expect = np.zeros((n, t, 51 + nb * (nb + 1) // 2 + 51 + nb))
    for i in range(n):
        for f in range(t):
            x = w[i, f] - w[i, f, 0]
            bones = np.stack([x[c] - x[p] for c, p in H36M17_BONES])
            psi = [bones[a] @ bones[b] for a in range(nb) for b in range(a, nb)]  # upper triangle, row-major
            if f == 0:
                vel, dlen = np.zeros(51), np.zeros(nb)
            else:
                xp = w[i, f - 1] - w[i, f - 1, 0]
                bp = np.stack([xp[c] - xp[p] for c, p in H36M17_BONES])
                vel = (x - xp).ravel()
                dlen = np.linalg.norm(bones, axis=1) - np.linalg.norm(bp, axis=1)
            expect[i, f] = np.concatenate([x.ravel(), psi, 7.0 * vel, 7.0 * dlen])
    np.testing.assert_allclose(feats, expect, atol=1e-9)
    # translation of every frame by its own offset changes nothing (root-relative inside)
    shifted = w + np.random.default_rng(1).normal(size=(n, t, 1, 3))
    np.testing.assert_allclose(critic.features(torch.as_tensor(shifted)).numpy(), expect, atol=1e-9)


def test_pose_windows_are_consecutive_root_relative_runs():
    seq = np.random.default_rng(0).normal(size=(10, 17, 3))
    win = pose_windows([seq, seq[:3]], window=4, stride=3).numpy()
    rel = seq - seq[:, :1]
    assert win.shape == (3, 4, 17, 3)  # starts 0, 3, 6; the 3-frame sequence is too short
    for k, s in enumerate((0, 3, 6)):
        np.testing.assert_allclose(win[k], rel[s : s + 4], atol=1e-6)
    with pytest.raises(ValueError, match="no sequence"):
        pose_windows([seq[:2]], window=4)


def test_gradient_penalty_on_windows_linear_closed_form_and_finite_differences():
    # linear critic f(x) = <a, x>: its gradient is a everywhere, so the penalty is 10 (|a| - 1)^2
    torch.manual_seed(0)
    a = torch.randn(5, 17, 3, dtype=torch.float64) * 0.1
    real, fake = (torch.randn(3, 5, 17, 3, dtype=torch.float64) for _ in range(2))
    gp = gradient_penalty(lambda x: (x * a).flatten(1).sum(1), real, fake)
    torch.testing.assert_close(gp, 10.0 * (a.norm() - 1.0) ** 2)

    # the temporal critic: gradient norms at the mixed windows by central differences
    critic = TemporalPoseCritic(window=5, channels=16).double()
    real, fake = (torch.as_tensor(_windows(3, 5, s)) for s in (1, 2))
    eps = torch.tensor([0.2, 0.5, 0.9], dtype=torch.float64)
    gp = gradient_penalty(critic, real, fake, epsilon=eps).item()
    mixed = (eps[:, None, None, None] * real + (1 - eps[:, None, None, None]) * fake).numpy()
    h, norms = 1e-6, []
    with torch.no_grad():
        for i in range(3):
            g = np.zeros(mixed[i].size)
            for k in range(mixed[i].size):
                up, dn = mixed[i : i + 1].copy(), mixed[i : i + 1].copy()
                up.reshape(-1)[k] += h
                dn.reshape(-1)[k] -= h
                g[k] = (critic(torch.as_tensor(up)) - critic(torch.as_tensor(dn))).item() / (2 * h)
            norms.append(np.linalg.norm(g))
    expect = 10.0 * np.mean((np.array(norms) - 1.0) ** 2)
    assert gp == pytest.approx(expect, rel=1e-5)


@pytest.fixture(scope="module")
def cmu_windows():
    motion = load_cmu_motion()
    seqs = lambda prefix: [s for a in motion.values() for k, s in a.items() if k.startswith(prefix)]  # noqa: E731
    return pose_windows(seqs("train"), 9, stride=2), pose_windows(seqs("test"), 9, stride=4)


def _jitter(w, sigma, g):
    return w + sigma * torch.randn(w.shape, generator=g)


def _shuffle(w, g):
    perm = torch.stack([torch.randperm(w.shape[1], generator=g) for _ in range(len(w))])
    return torch.gather(w, 1, perm[:, :, None, None].expand_as(w))


def _fakes(w, g):
    """Per-frame-plausible, temporally wrong motion: half jittered (1-4 cm per coordinate), half time-shuffled."""
    h = len(w) // 2
    sigma = (0.01 + 0.03 * torch.rand(h, generator=g))[:, None, None, None]
    return torch.cat([_jitter(w[:h], sigma, g), _shuffle(w[h:], g)])


def _train(critic, train, steps, lr, g, per_frame=False):
    opt = make_optimizer(critic.parameters(), lr=lr)
    flat = lambda x: x.reshape(-1, 17, 3) if per_frame else x  # noqa: E731
    for _ in range(steps):
        real = train[torch.randint(len(train), (64,), generator=g)]
        fake = _fakes(train[torch.randint(len(train), (64,), generator=g)], g)
        loss = critic_loss(critic, flat(real), flat(fake)) + gradient_penalty(critic, flat(real), flat(fake))
        opt.zero_grad()
        loss.backward()
        opt.step()


def test_short_training_tells_real_motion_from_jitter_and_shuffles(cmu_windows):
    train, test = cmu_windows
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(1)
    critic = TemporalPoseCritic(window=9, channels=64)
    _train(critic, train, 150, 1e-3, g)
    real, jit, shuf = critic.score(test), critic.score(_jitter(test, 0.02, g)), critic.score(_shuffle(test, g))
    assert real.mean() - jit.mean() > 0.5 * real.std(), (real.mean(), jit.mean(), real.std())
    assert (real > jit).float().mean() > 0.95
    assert real.mean() > shuf.mean()
    assert (real > shuf).float().mean() > 0.8  # the rest: nearly static windows, where a shuffle changes little

    # The per-frame KCS critic, trained on the same real/fake frames, scores a window as the mean of its frames:
    # a shuffle cannot change that (it may still see jitter, which bends bones).
    frame_critic = PoseCritic(pose_width=32, kcs_width=32, fused_width=32)
    _train(frame_critic, train, 40, 1e-3, g, per_frame=True)
    shuf = _shuffle(test, g)
    per_window = lambda w: frame_critic.score(w).mean(dim=1)  # noqa: E731
    frame_gap = per_window(test) - per_window(shuf)
    assert frame_gap.abs().max() < 1e-5
    temporal_gap = critic.score(test) - critic.score(shuf)
    assert temporal_gap.mean() > 1000 * frame_gap.abs().max() and (temporal_gap > 0).float().mean() > 0.8


def test_save_load_round_trip_and_errors(tmp_path):
    critic = TemporalPoseCritic(window=5, channels=16, dilations=(1, 2, 4), velocity_scale=3.0)
    critic.meta = {"trained_with": "test", "fps": 50}
    x = torch.as_tensor(_windows(3, 5), dtype=torch.float32)
    path = critic.save(tmp_path / "temporal.pt")
    assert not list(tmp_path.glob("*.tmp*"))
    loaded = TemporalPoseCritic.load(path)
    torch.testing.assert_close(loaded.score(x), critic.score(x))
    assert loaded.config == critic.config and loaded.meta == critic.meta
    assert not loaded.training and not any(p.requires_grad for p in loaded.parameters())
    assert torch.load(path, weights_only=True)["format"] == "weakpose.TemporalPoseCritic/1"
    # numpy in, numpy out; the loss is -mean score
    np.testing.assert_allclose(loaded.score(x.numpy()), critic.score(x).numpy(), rtol=1e-6)
    torch.testing.assert_close(critic.loss(x), -critic(x).mean())

    with pytest.raises(FileNotFoundError, match="missing.pt"):
        TemporalPoseCritic.load(tmp_path / "missing.pt")
    PoseCritic(pose_width=8, kcs_width=8, fused_width=8).save(tmp_path / "frame.pt")
    with pytest.raises(ValueError, match="frame.pt.*not a TemporalPoseCritic"):
        TemporalPoseCritic.load(tmp_path / "frame.pt")
    (tmp_path / "junk.pt").write_text("not torch")
    with pytest.raises(ValueError, match="junk.pt"):
        TemporalPoseCritic.load(tmp_path / "junk.pt")
    with pytest.raises(ValueError, match=r"\(B, 5, 17, 3\).*\(3, 4, 17, 3\)"):
        critic(x[:, :4])
    with pytest.raises(ValueError, match="millimetres"):
        critic(x * 1000)


# -- the video GAN task with the motion critic --------------------------------------------------------------------
RF, T = 9, 5


@pytest.fixture(scope="module")
def long_windows(tmp_path_factory):
    from weakpose.data.synthetic.keypoints import make_synthetic

    d = tmp_path_factory.mktemp("vgt")
    make_synthetic(d, max_frames=40, include_bvh=False, actions=["Walking", "Jumping"])
    data = load_keypoint_data(DataConfig(synthetic_dir=str(d), val_every=0))
    ds = PoseWindowDataset(
        data.splits.train, receptive_field=RF + T - 1, frame_stride=2, subjects=["S1", "S5", "S6", "S7", "S8"]
    )
    real = PoseWindowDataset(data.splits.train, receptive_field=T, target="window", frame_stride=3)
    real_windows = torch.stack([real[i]["pose_3d"] for i in range(len(real)) if bool(real[i]["valid"].all())])
    return ds, real_windows


def _task(real_windows, **kw):
    torch.manual_seed(0)
    mk = dict(filter_widths=(3, 3), channels=32, dropout=0.0)
    critic = PoseCritic(pose_width=16, kcs_width=32, fused_width=16, max_bone_m=float("inf"))
    temporal = TemporalPoseCritic(window=T, channels=16, max_bone_m=float("inf"))
    kw.setdefault("real_poses", real_windows[:, T // 2])
    return VideoGanTask(
        TemporalLifter(**mk),
        TrajectoryModel(**mk),
        critic,
        "gan",
        n_critic=1,
        temporal_critic=temporal,
        real_windows=real_windows,
        temporal_batch=8,
        **kw,
    )


def _batch(ds, n=32):
    return next(
        iter(torch.utils.data.DataLoader(ds, batch_size=n, shuffle=True, generator=torch.Generator().manual_seed(0)))
    )


def test_consecutive_poses_are_the_lifters_poses_of_consecutive_frames(long_windows):
    ds, real_windows = long_windows
    task = _task(real_windows)
    task.pose_model.eval()
    kp = _batch(ds, 6)["keypoints_2d"]
    assert kp.shape[1] == task.window_frames() == RF + T - 1
    with torch.no_grad():
        strided = task.consecutive_poses(kp)
        dilated = task.pose_model(kp)  # the inference twin on the long window: T outputs, one per frame
        per_frame = torch.stack([task.pose_model.forward_windows(kp[:, s : s + RF])[:, 0] for s in range(T)], 1)
    assert strided.shape == (6, T, 17, 3)
    torch.testing.assert_close(strided, dilated, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(strided, per_frame, rtol=1e-5, atol=1e-6)
    task.training_twin = False
    with torch.no_grad():
        torch.testing.assert_close(task.consecutive_poses(kp), dilated)


def test_video_gan_task_trains_the_temporal_critic(long_windows):
    ds, real_windows = long_windows
    task = _task(real_windows)
    # every weight moves (the output bias cannot: it cancels in E[f(fake)] - E[f(real)] and in the penalty)
    before = {n: p.detach().clone() for n, p in task.temporal_critic.named_parameters() if n != "head.2.bias"}
    batch = _batch(ds)
    task.train()
    outs = [task.training_step(batch, s) for s in range(3)]
    losses = [float(o["temporal_critic_loss"]) for o in outs]
    assert all(np.isfinite(losses)) and len(set(losses)) == 3, losses
    assert all("loss_temporal" in o and "critic_gap" in o for o in outs)
    params = dict(task.temporal_critic.named_parameters())
    assert all(not torch.equal(p, params[n]) for n, p in before.items())
    # frozen after its own step: the lifter's update does not touch it
    assert not any(p.requires_grad for p in task.temporal_critic.parameters())
    # the motion term reaches the lifter: with only it, the lifter's gradient is non-zero
    task.w_reproj = task.w_adv = 0.0
    grads, step = [], task.optimizer_step

    def lifter_grad(opt, loss, retain_graph=False):
        if opt is not task.optimizer:
            return step(opt, loss)
        opt.zero_grad()
        loss.backward()
        grads.append(task.pose_model.shrink.weight.grad.abs().sum().item())

    task.optimizer_step = lifter_grad
    task.training_step(batch, 3)
    assert grads and grads[0] > 0
    task.temporal_weight = 0.0
    task.training_step(batch, 4)
    assert grads[1] == 0.0


def test_video_gan_task_checks_the_temporal_setup(long_windows):
    ds, real_windows = long_windows
    task = _task(real_windows)
    short = _batch(ds)
    short["keypoints_2d"] = short["keypoints_2d"][:, :RF]
    short["valid"] = short["valid"][:, :RF]
    with pytest.raises(ValueError, match=f"{RF + T - 1} frames"):
        task.training_step(short, 0)
    with pytest.raises(ValueError, match="real_windows"):
        _task(real_windows[:, :4])
    with pytest.raises(ValueError, match="real_windows"):
        _task(real_windows[:0], real_poses=real_windows[:, 0])
