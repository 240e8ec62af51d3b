"""KCS against hand-computed numbers, the gradient penalty against closed forms, the pose critic's contract."""

import numpy as np
import pytest
import torch

from weakpose.priors import (
    H36M17_BONES,
    PoseCritic,
    bone_vectors,
    critic_loss,
    generator_loss,
    gradient_penalty,
    incidence_matrix,
    kcs_matrix,
)
from weakpose.skeleton import H36M17


def _random_poses(rng, n, scale=0.25):
    return (rng.standard_normal((n, 17, 3)) * scale).astype(np.float64)


def _rotation(rng):
    q, r = np.linalg.qr(rng.standard_normal((3, 3)))
    q = q * np.sign(np.diag(r))
    return q if np.linalg.det(q) > 0 else -q


# ------------------------------------------------------------------------------------------------------ KCS


def test_kcs_three_joint_chain_by_hand():
    # X0=(0,0,0), X1=(1,0,0), X2=(2,2,1); bones X1-X0=(1,0,0), X2-X1=(1,2,1)
    pose = np.array([[0.0, 0, 0], [1, 0, 0], [2, 2, 1]])
    bones = [(1, 0), (2, 1)]
    b = bone_vectors(pose, bones)
    np.testing.assert_array_equal(b, [[1, 1], [0, 2], [0, 1]])  # (3, num_bones), columns are bones
    # |b0|²=1, |b1|²=1+4+1=6, b0·b1=1
    np.testing.assert_array_equal(kcs_matrix(pose, bones), [[1, 1], [1, 6]])
    t = kcs_matrix(torch.tensor(pose), bones)
    assert isinstance(t, torch.Tensor)
    np.testing.assert_array_equal(t.numpy(), [[1, 1], [1, 6]])


def test_h36m_bones_are_the_tree_plus_the_hip_bone_with_sign_rhip_minus_lhip():
    assert list(H36M17_BONES[:16]) == H36M17.bones
    assert H36M17_BONES[16] == (H36M17.index("RHip"), H36M17.index("LHip")) == (1, 4)
    pose = np.zeros((17, 3))
    pose[1] = [-0.13, 0.0, 0.0]  # RHip
    pose[4] = [0.12, 0.01, 0.0]  # LHip
    np.testing.assert_allclose(bone_vectors(pose)[:, 16], [-0.25, -0.01, 0.0])


def test_h36m_kcs_entries_and_invariance(rng):
    poses = _random_poses(rng, 5)
    psi = kcs_matrix(poses)
    assert psi.shape == (5, 17, 17)
    for n in range(5):
        vec = [poses[n, c] - poses[n, p] for c, p in H36M17_BONES]
        for k in range(17):
            assert psi[n, k, k] == pytest.approx(np.sum(vec[k] ** 2))
            for m in range(17):
                assert psi[n, k, m] == pytest.approx(np.dot(vec[k], vec[m]))
    # B = X C with RepNet's incidence matrix (X as 3 x J)
    c = incidence_matrix(H36M17_BONES, 17)
    np.testing.assert_allclose(bone_vectors(poses), np.swapaxes(poses, -1, -2) @ c, atol=1e-12)
    # rigid motions leave Ψ unchanged (a hip column built as RHip + LHip would break translation invariance)
    rot, shift = _rotation(rng), rng.standard_normal(3)
    np.testing.assert_allclose(kcs_matrix(poses @ rot.T + shift), psi, atol=1e-10)


def test_kcs_errors():
    with pytest.raises(ValueError, match=r"\(\.\.\., J, 3\)"):
        kcs_matrix(np.zeros((4, 17, 2)))
    with pytest.raises(ValueError, match="0..15"):
        kcs_matrix(np.zeros((4, 16, 3)))  # the default H36M bones need 17 joints


# ------------------------------------------------------------------------------------------------------ WGAN-GP


class _Linear(torch.nn.Module):
    def __init__(self, w):
        super().__init__()
        self.w = torch.nn.Parameter(torch.as_tensor(w, dtype=torch.float64))

    def forward(self, x):
        return x.reshape(len(x), -1) @ self.w


def test_gradient_penalty_of_a_linear_critic_is_closed_form(rng):
    w = rng.standard_normal(12)
    critic = _Linear(w)
    real = torch.tensor(rng.standard_normal((8, 4, 3)))
    fake = torch.tensor(rng.standard_normal((8, 4, 3)))
    gp = gradient_penalty(critic, real, fake)  # the gradient is w at every interpolate, whatever ε
    norm = np.linalg.norm(w)
    assert gp.item() == pytest.approx(10.0 * (norm - 1.0) ** 2, rel=1e-12)
    assert gradient_penalty(critic, real, fake, weight=3.0).item() == pytest.approx(3.0 * (norm - 1) ** 2)
    # d/dw λ(‖w‖ − 1)² = 2λ(‖w‖ − 1) w/‖w‖: the penalty trains the critic (create_graph)
    gp.backward()
    np.testing.assert_allclose(critic.w.grad.numpy(), 2 * 10.0 * (norm - 1) * w / norm, rtol=1e-10)
    # the WGAN losses
    r, f = real.reshape(8, -1).numpy() @ w, fake.reshape(8, -1).numpy() @ w
    assert critic_loss(critic, real, fake).item() == pytest.approx(f.mean() - r.mean())
    assert generator_loss(critic, fake).item() == pytest.approx(-f.mean())


def test_gradient_penalty_of_a_quadratic_critic_matches_its_analytic_gradient(rng):
    a = rng.standard_normal((6, 6))
    a = a + a.T  # f(x) = ½ xᵀAx, ∇f = Ax
    critic = lambda x: 0.5 * torch.einsum("bi,ij,bj->b", x, torch.tensor(a), x)  # noqa: E731
    real, fake = rng.standard_normal((5, 6)), rng.standard_normal((5, 6))
    eps = rng.uniform(size=5)
    gp = gradient_penalty(critic, torch.tensor(real), torch.tensor(fake), epsilon=torch.tensor(eps))
    mixed = eps[:, None] * real + (1 - eps[:, None]) * fake
    norms = np.linalg.norm(mixed @ a.T, axis=1)
    assert gp.item() == pytest.approx(10.0 * np.mean((norms - 1) ** 2), rel=1e-12)
    # without a fixed ε it samples one per sample: the value lies between the extremes over each segment
    torch.manual_seed(0)
    gp_random = gradient_penalty(critic, torch.tensor(real), torch.tensor(fake)).item()
    torch.manual_seed(0)
    eps_drawn = torch.rand(5, dtype=torch.float64).numpy()
    mixed = eps_drawn[:, None] * real + (1 - eps_drawn[:, None]) * fake
    assert gp_random == pytest.approx(10.0 * np.mean((np.linalg.norm(mixed @ a.T, axis=1) - 1) ** 2), rel=1e-12)


def test_gradient_penalty_errors():
    critic = _Linear(np.ones(3))
    with pytest.raises(ValueError, match="differ in shape"):
        gradient_penalty(critic, torch.zeros(4, 3, dtype=torch.float64), torch.zeros(5, 3, dtype=torch.float64))
    with pytest.raises(ValueError, match="one value per sample"):
        gradient_penalty(lambda x: x, torch.zeros(4, 3), torch.ones(4, 3))


# ------------------------------------------------------------------------------------------------------ critic


@pytest.fixture
def small_critic():
    torch.manual_seed(0)
    return PoseCritic(pose_width=32, kcs_width=48, fused_width=16).double()


def test_critic_shapes_root_relative_and_errors(small_critic, rng):
    poses = torch.tensor(_random_poses(rng, 6))
    out = small_critic(poses)
    assert out.shape == (6,)
    # leading dims are kept; translation does not matter (root-relative inside)
    np.testing.assert_allclose(
        small_critic(poses.reshape(2, 3, 17, 3)).detach().numpy(), out.detach().numpy().reshape(2, 3), rtol=1e-12
    )
    np.testing.assert_allclose(
        small_critic(poses + torch.tensor([1.0, -2.0, 3.0])).detach().numpy(),
        out.detach().numpy(),
        rtol=1e-10,
        atol=1e-12,
    )
    with pytest.raises(ValueError, match="millimetres"):
        small_critic(poses * 1000)
    bad = poses.clone()
    bad[2, 5, 1] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        small_critic(bad)
    with pytest.raises(ValueError, match=r"\(B, 17, 3\).*\(6, 16, 3\)"):
        small_critic(poses[:, :16])
    with pytest.raises(ValueError, match=r"\(B, 17, 3\)"):
        small_critic(poses[0])
    with pytest.raises(ValueError, match="bones"):
        PoseCritic(num_joints=16)
    # any skeleton given its bones
    chain = PoseCritic(num_joints=3, bones=[(1, 0), (2, 1)], pose_width=8, kcs_width=8, fused_width=4)
    assert chain(torch.randn(4, 3, 3) * 0.3).shape == (4,)


def test_score_accepts_numpy_and_save_load_round_trip(small_critic, rng, tmp_path):
    poses = _random_poses(rng, 7)
    s = small_critic.score(poses)
    assert isinstance(s, np.ndarray) and s.shape == (7,)
    small_critic.meta = {"frame": "world", "steps": 3}
    path = small_critic.save(tmp_path / "sub" / "prior.pt")
    raw = torch.load(path, weights_only=True)  # plain data only
    assert raw["config"]["bones"][16] == [1, 4]
    loaded = PoseCritic.load(path)
    assert loaded.meta == {"frame": "world", "steps": 3}
    assert not any(p.requires_grad for p in loaded.parameters())
    np.testing.assert_array_equal(loaded.score(poses), s)
    assert sorted(p.name for p in tmp_path.joinpath("sub").iterdir()) == ["prior.pt"]  # no temp file left
    with pytest.raises(FileNotFoundError, match="nope.pt"):
        PoseCritic.load(tmp_path / "nope.pt")
    torch.save({"something": 1}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not a PoseCritic file"):
        PoseCritic.load(tmp_path / "other.pt")


def test_loss_is_minus_mean_score_and_its_gradient_reaches_the_poses(small_critic, rng):
    prior = small_critic.requires_grad_(False)
    poses = torch.tensor(_random_poses(rng, 3), requires_grad=True)
    loss = prior.loss(poses)
    assert loss.item() == pytest.approx(-prior.score(poses.detach()).mean().item(), rel=1e-12)
    loss.backward()
    grad = poses.grad.numpy()
    assert np.abs(grad).max() > 0
    # central finite differences on a few coordinates
    for n, j, d in [(0, 3, 0), (1, 10, 2), (2, 16, 1), (2, 0, 1)]:
        h = 1e-6
        plus, minus = poses.detach().clone(), poses.detach().clone()
        plus[n, j, d] += h
        minus[n, j, d] -= h
        fd = (prior.loss(plus).item() - prior.loss(minus).item()) / (2 * h)
        assert grad[n, j, d] == pytest.approx(fd, rel=1e-5, abs=1e-9)
