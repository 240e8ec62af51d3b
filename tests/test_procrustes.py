"""Similarity Procrustes against known transforms, scipy's Kabsch solver (independent), and the no-reflection rule."""

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from weakpose.geometry import procrustes_align, similarity_procrustes


def _apply(points, R, s, t):
    return s * points @ R.T + t


def test_recovers_random_similarity_transforms(rng):
    for seed in range(20):
        pred = rng.normal(size=(17, 3))
        R = Rotation.random(random_state=seed).as_matrix()
        s, t = rng.uniform(0.2, 5.0), rng.normal(size=3) * 3
        target = _apply(pred, R, s, t)
        R_hat, s_hat, t_hat = similarity_procrustes(pred, target)
        np.testing.assert_allclose(R_hat, R, atol=1e-10)
        assert abs(s_hat - s) < 1e-10
        np.testing.assert_allclose(t_hat, t, atol=1e-10)
        np.testing.assert_allclose(procrustes_align(pred, target), target, atol=1e-10)


def test_noisy_fit_matches_scipy_kabsch_and_is_optimal(rng):
    pred = rng.normal(size=(17, 3))
    target = _apply(pred, Rotation.random(random_state=3).as_matrix(), 1.7, np.array([0.3, -1.0, 2.0]))
    target += rng.normal(scale=0.2, size=target.shape)
    R_hat, s_hat, t_hat = similarity_procrustes(pred, target)
    pc, qc = pred - pred.mean(0), target - target.mean(0)
    ref, _ = Rotation.align_vectors(qc, pc)  # minimises sum |qc - R pc|^2 over proper rotations
    R_ref = ref.as_matrix()
    s_ref = np.sum(qc * (pc @ R_ref.T)) / np.sum(pc * pc)
    t_ref = target.mean(0) - s_ref * R_ref @ pred.mean(0)
    np.testing.assert_allclose(R_hat, R_ref, atol=1e-10)
    assert abs(s_hat - s_ref) < 1e-10
    np.testing.assert_allclose(t_hat, t_ref, atol=1e-10)

    def cost(R, s, t):
        return np.sum((_apply(pred, R, s, t) - target) ** 2)

    best = cost(R_hat, s_hat, t_hat)
    for k in range(10):  # any small perturbation makes the fit worse
        dR = Rotation.from_rotvec(rng.normal(scale=1e-3, size=3)).as_matrix()
        assert cost(dR @ R_hat, s_hat, t_hat) > best
        assert cost(R_hat, s_hat * (1 + rng.normal(scale=1e-3)), t_hat) > best
        assert cost(R_hat, s_hat, t_hat + rng.normal(scale=1e-3, size=3)) > best


def test_refuses_reflections(rng):
    pred = rng.normal(size=(17, 3))
    target = pred * np.array([-1.0, 1.0, 1.0])  # a mirror image: only a reflection fits it exactly
    R_hat, s_hat, _ = similarity_procrustes(pred, target)
    assert abs(np.linalg.det(R_hat) - 1.0) < 1e-10
    np.testing.assert_allclose(R_hat @ R_hat.T, np.eye(3), atol=1e-10)
    residual = np.linalg.norm(procrustes_align(pred, target) - target, axis=-1).mean()
    assert residual > 0.1
    # the unconstrained orthogonal solution would fit it perfectly: the sign rule is what makes this nonzero
    pc, qc = pred - pred.mean(0), target - target.mean(0)
    U, _, Vt = np.linalg.svd(qc.T @ pc)
    improper = U @ Vt
    assert np.linalg.det(improper) < 0
    assert np.abs(pc @ improper.T - qc).max() < 1e-10


def test_batched_torch_and_types(rng):
    pred = rng.normal(size=(4, 6, 17, 3))
    target = rng.normal(size=(4, 6, 17, 3))
    aligned = procrustes_align(torch.from_numpy(pred), torch.from_numpy(target))
    R, s, t = similarity_procrustes(torch.from_numpy(pred), torch.from_numpy(target))
    assert isinstance(aligned, torch.Tensor) and aligned.shape == (4, 6, 17, 3)
    assert R.shape == (4, 6, 3, 3) and s.shape == (4, 6) and t.shape == (4, 6, 3)
    for i in range(4):
        for j in range(6):
            one = procrustes_align(pred[i, j], target[i, j])
            assert isinstance(one, np.ndarray)
            np.testing.assert_allclose(aligned[i, j].numpy(), one, atol=1e-12)
    torch.testing.assert_close(s[..., None, None] * torch.from_numpy(pred) @ R.mT + t[..., None, :], aligned)
    a32 = procrustes_align(torch.from_numpy(pred).float(), torch.from_numpy(target).float())
    assert a32.dtype == torch.float32
    np.testing.assert_allclose(a32.numpy(), aligned.numpy(), atol=1e-4)


def test_degenerate_prediction_is_finite(rng):
    target = rng.normal(size=(17, 3))
    pred = np.ones((17, 3))
    aligned = procrustes_align(pred, target)
    assert np.all(np.isfinite(aligned))
    np.testing.assert_allclose(aligned, np.broadcast_to(target.mean(0), target.shape), atol=1e-12)


def test_bad_shapes():
    with pytest.raises(ValueError, match=r"\(\.\.\., J, 3\).*\(17, 3\) and \(16, 3\)"):
        procrustes_align(np.zeros((17, 3)), np.zeros((16, 3)))
    with pytest.raises(ValueError, match=r"got \(17, 2\)"):
        similarity_procrustes(np.zeros((17, 2)), np.zeros((17, 2)))
