"""Metrics against hand-computed answers and an independent NumPy Procrustes (Umeyama 1991, det-corrected)."""

import csv
import json
import math

import numpy as np
import pytest
import torch

from weakpose import metrics as M

# ----------------------------------------------------------------------------------------------------------------
# Independent references (plain NumPy, one frame at a time).


def umeyama_align(pred, target, allow_reflection=False):
    """Similarity transform of pred (J, 3) onto target (J, 3), least squares (Umeyama 1991)."""
    mu_p, mu_g = pred.mean(0), target.mean(0)
    P, G = pred - mu_p, target - mu_g
    cov = G.T @ P / len(pred)
    U, S, Vt = np.linalg.svd(cov)
    d = np.ones(3)
    if not allow_reflection and np.linalg.det(U) * np.linalg.det(Vt) < 0:
        d[2] = -1.0
    R = U @ np.diag(d) @ Vt
    var_p = (P**2).sum() / len(pred)
    s = (S * d).sum() / var_p
    t = mu_g - s * R @ mu_p
    return (s * (R @ pred.T)).T + t


def ref_p_mpjpe_frames(pred, target, allow_reflection=False):
    return np.array(
        [np.linalg.norm(umeyama_align(p, g, allow_reflection) - g, axis=-1).mean() for p, g in zip(pred, target)]
    )


def ref_n_mpjpe_frames(pred, target, root=0):
    out = []
    for p, g in zip(pred, target):
        p, g = p - p[root], g - g[root]
        s = (p * g).sum() / (p * p).sum()
        out.append(np.linalg.norm(s * p - g, axis=-1).mean())
    return np.array(out)


def random_rotation(rng):
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    q = q * np.sign(np.diag(r))
    if np.linalg.det(q) < 0:
        q[:, 0] = -q[:, 0]
    return q


@pytest.fixture
def poses(rng):
    """A random batch of non-planar 17-joint 'poses' in metres (N, 17, 3)."""
    return rng.normal(scale=0.3, size=(6, 17, 3))


# ----------------------------------------------------------------------------------------------------------------
# MPJPE


def test_mpjpe_345_shift_after_root_alignment(poses):
    pred = poses.copy()
    pred[:, 1:] += np.array([0.3, 0.4, 0.0])  # every non-root joint moves 0.5 m relative to the root
    pred += np.array([1.0, -2.0, 3.0])  # a global translation must not count
    # The root joint has error 0 and is included: 16 joints at 0.5 m over 17.
    assert M.mpjpe(pred, poses) == pytest.approx(0.5 * 16 / 17, abs=1e-12)
    np.testing.assert_allclose(M.mpjpe_per_frame(pred, poses), np.full(6, 0.5 * 16 / 17), atol=1e-12)


def test_mpjpe_absolute_and_other_root(poses):
    pred = poses + np.array([0.03, 0.0, 0.04])
    assert M.mpjpe(pred, poses, root=None) == pytest.approx(0.05, abs=1e-12)
    assert M.mpjpe(pred, poses) == pytest.approx(0.0, abs=1e-12)
    # Move only joint 0: relative to root 0 all other 16 joints are off by 0.5; relative to root 5 only joint 0 is.
    pred = poses.copy()
    pred[:, 0] += np.array([0.0, 0.3, 0.4])
    assert M.mpjpe(pred, poses, root=0) == pytest.approx(0.5 * 16 / 17, abs=1e-12)
    assert M.mpjpe(pred, poses, root=5) == pytest.approx(0.5 / 17, abs=1e-12)


def test_mpjpe_per_frame_different_shifts(poses):
    pred = poses.copy()
    for i in range(len(pred)):
        pred[i, 1:] += (i + 1) * np.array([0.03, 0.04, 0.0])  # frame i: 0.05 (i + 1) m on 16 joints
    expected = np.array([0.05 * (i + 1) * 16 / 17 for i in range(6)])
    np.testing.assert_allclose(M.mpjpe_per_frame(pred, poses), expected, atol=1e-12)
    assert M.mpjpe(pred, poses) == pytest.approx(expected.mean(), abs=1e-12)
    # Arbitrary leading dimensions come back in place.
    assert M.mpjpe_per_frame(pred.reshape(2, 3, 17, 3), poses.reshape(2, 3, 17, 3)).shape == (2, 3)


def test_joint_errors_alignments(poses):
    pred = poses.copy()
    pred[:, 2] += np.array([0.0, 0.0, 0.07])
    err = M.joint_errors(pred, poses)
    expected = np.zeros((6, 17))
    expected[:, 2] = 0.07
    np.testing.assert_allclose(err, expected, atol=1e-12)
    np.testing.assert_allclose(M.joint_errors(pred, poses, joints=[2, 3]), expected[:, [2, 3]], atol=1e-12)
    absolute = np.linalg.norm(pred + 1.0 - poses, axis=-1)
    np.testing.assert_allclose(M.joint_errors(pred + 1.0, poses, alignment="none"), absolute, atol=1e-12)


# ----------------------------------------------------------------------------------------------------------------
# N-MPJPE


def test_n_mpjpe_zero_for_scaled_copy(poses):
    pred = 1.7 * (poses - poses[:, :1]) + np.array([0.2, 0.1, -0.5])  # scaled about the root, then moved
    assert M.n_mpjpe(pred, poses) == pytest.approx(0.0, abs=1e-12)
    # Plain MPJPE sees the scale error.
    assert M.mpjpe(pred, poses) > 0.1


def test_n_mpjpe_hand_computed():
    # Root at the origin; target joint (1,0,0), predicted (1,1,0): s = <p,g>/<p,p> = 1/2, scaled (0.5,0.5,0),
    # error sqrt(0.5) on one of two joints.
    target = np.array([[[0.0, 0.0, 0.0], [1.0, 0.0, 0.0]]])
    pred = np.array([[[0.0, 0.0, 0.0], [1.0, 1.0, 0.0]]])
    assert M.n_mpjpe(pred, target) == pytest.approx(math.sqrt(0.5) / 2, abs=1e-12)


def test_n_mpjpe_matches_reference(poses, rng):
    pred = poses + rng.normal(scale=0.05, size=poses.shape)
    np.testing.assert_allclose(M.n_mpjpe_per_frame(pred, poses), ref_n_mpjpe_frames(pred, poses), atol=1e-12)
    np.testing.assert_allclose(
        M.n_mpjpe_per_frame(pred, poses, root=4), ref_n_mpjpe_frames(pred, poses, root=4), atol=1e-12
    )
    # N-MPJPE can only improve on MPJPE: s = 1 is one of the scales it minimises over.
    assert M.n_mpjpe(pred, poses) <= M.mpjpe(pred, poses) + 1e-12


def test_n_mpjpe_zero_prediction_is_finite(poses):
    pred = np.zeros_like(poses)
    # Nothing to scale: error is the target's mean root-relative joint distance.
    expected = np.linalg.norm(poses - poses[:, :1], axis=-1).mean()
    assert M.n_mpjpe(pred, poses) == pytest.approx(expected, abs=1e-12)


# ----------------------------------------------------------------------------------------------------------------
# P-MPJPE


def test_p_mpjpe_zero_for_similarity_copy(poses, rng):
    pred = np.stack([2.3 * (p @ random_rotation(rng).T) + rng.normal(size=3) for p in poses])
    assert M.p_mpjpe(pred, poses) == pytest.approx(0.0, abs=1e-9)
    np.testing.assert_allclose(M.p_mpjpe_per_frame(pred, poses), np.zeros(6), atol=1e-9)
    assert M.mpjpe(pred, poses) > 0.1


def test_p_mpjpe_refuses_reflection(poses):
    mirror = poses * np.array([-1.0, 1.0, 1.0])
    # A reflection-allowing alignment would map the mirror image exactly onto the target...
    np.testing.assert_allclose(ref_p_mpjpe_frames(mirror, poses, allow_reflection=True), 0.0, atol=1e-9)
    # ...a rotation cannot, and the proper-rotation reference agrees with the library.
    got = M.p_mpjpe_per_frame(mirror, poses)
    assert np.all(got > 0.05)
    np.testing.assert_allclose(got, ref_p_mpjpe_frames(mirror, poses), atol=1e-9)


def test_p_mpjpe_matches_reference_on_noise(poses, rng):
    pred = poses @ random_rotation(rng).T * 0.8 + rng.normal(scale=0.05, size=poses.shape)
    expected = ref_p_mpjpe_frames(pred, poses)
    np.testing.assert_allclose(M.p_mpjpe_per_frame(pred, poses), expected, atol=1e-9)
    assert M.p_mpjpe(pred, poses) == pytest.approx(expected.mean(), abs=1e-9)
    np.testing.assert_allclose(M.joint_errors(pred, poses, alignment="procrustes").mean(-1), expected, atol=1e-9)


# ----------------------------------------------------------------------------------------------------------------
# MPJVE


def test_mpjve_constant_velocity_offsets(poses, rng):
    target = np.cumsum(rng.normal(scale=0.01, size=(10, 17, 3)), axis=0) + poses[0]
    velocities = rng.normal(scale=0.02, size=(17, 3))
    velocities[0] = 0.0  # root keeps its position, so root-relative velocities are the offsets themselves
    t = np.arange(10)[:, None, None]
    pred = target + t * velocities + rng.normal(size=(17, 3))  # a constant offset changes no velocity
    expected = np.linalg.norm(velocities, axis=-1).mean()
    assert M.mpjve(pred, target) == pytest.approx(expected, abs=1e-12)
    np.testing.assert_allclose(M.mpjve_per_frame(pred, target), np.full(9, expected), atol=1e-12)


def test_mpjve_global_drift_only_counts_when_absolute(rng):
    target = rng.normal(scale=0.3, size=(8, 17, 3))
    pred = target + np.arange(8)[:, None, None] * np.array([0.003, 0.004, 0.0])  # 5 mm per frame drift
    assert M.mpjve(pred, target, root=None) == pytest.approx(0.005, abs=1e-12)
    assert M.mpjve(pred, target) == pytest.approx(0.0, abs=1e-12)
    # Batched sequences: time is axis -3.
    both = np.stack([pred, target])
    assert M.mpjve_per_frame(both, np.stack([target, target]), root=None).shape == (2, 7)


# ----------------------------------------------------------------------------------------------------------------
# PCK / AUC


def _frame_with_errors(errors, rng):
    """One frame (J, 3) whose root-relative joint errors are exactly `errors` (errors[0] must be 0)."""
    target = rng.normal(scale=0.3, size=(len(errors), 3))
    directions = rng.normal(size=(len(errors), 3))
    directions /= np.linalg.norm(directions, axis=-1, keepdims=True)
    return target + np.asarray(errors)[:, None] * directions, target


def test_pck_auc_hand_counted(rng):
    errors = [0.0, 0.012, 0.0701, 0.1449, 0.3]
    pred, target = _frame_with_errors(errors, rng)
    pred, target = pred[None], target[None]
    # PCK@150 mm: 0, 12, 70.1, 144.9 mm are below, 300 mm is not.
    assert M.pck(pred, target) == pytest.approx(4 / 5, abs=1e-12)
    # Thresholds 0, 5, ..., 150 mm: how many lie strictly above each error:
    # 0 -> 30 (not t=0), 12 mm -> 28 (15..150), 70.1 mm -> 16 (75..150), 144.9 mm -> 2 (145, 150), 300 mm -> 0.
    assert M.auc(pred, target) == pytest.approx((30 + 28 + 16 + 2 + 0) / (5 * 31), abs=1e-12)
    # A joint subset (MPI-INF-3DHP scores a subset): drop the root.
    assert M.pck(pred, target, joints=[1, 2, 3, 4]) == pytest.approx(3 / 4, abs=1e-12)
    assert M.auc(pred, target, joints=[1, 2, 3, 4]) == pytest.approx((28 + 16 + 2) / (4 * 31), abs=1e-12)
    assert M.pck(pred, target, threshold=0.1) == pytest.approx(3 / 5, abs=1e-12)


def test_pck_is_strict_and_per_frame(rng):
    target = np.zeros((2, 2, 3))
    pred = target.copy()
    pred[0, 1] = [0.15, 0.0, 0.0]  # exactly at the threshold: not correct
    pred[1, 1] = [0.0, 0.1, 0.0]
    np.testing.assert_allclose(M.pck_per_frame(pred, target), [0.5, 1.0], atol=0)
    # AUC per frame: frame 0 -> root 30 of 31, joint 0 of 31 (150 mm is no threshold it beats); frame 1 -> 30 + 10.
    np.testing.assert_allclose(M.auc_per_frame(pred, target), [30 / 62, 40 / 62], atol=1e-12)
    assert M.auc(pred, target) == pytest.approx(70 / 124, abs=1e-12)


# ----------------------------------------------------------------------------------------------------------------
# NumPy / torch


def test_torch_and_numpy_agree(poses, rng):
    pred = poses @ random_rotation(rng).T + rng.normal(scale=0.05, size=poses.shape)
    seq_pred, seq_target = pred[None], poses[None]
    for fn, args in [
        (M.mpjpe, (pred, poses)),
        (M.p_mpjpe, (pred, poses)),
        (M.n_mpjpe, (pred, poses)),
        (M.mpjve, (pred, poses)),
        (M.pck, (pred, poses)),
        (M.auc, (pred, poses)),
        (M.mpjpe_per_frame, (pred, poses)),
        (M.p_mpjpe_per_frame, (pred, poses)),
        (M.n_mpjpe_per_frame, (pred, poses)),
        (M.mpjve_per_frame, (seq_pred, seq_target)),
        (M.pck_per_frame, (pred, poses)),
        (M.auc_per_frame, (pred, poses)),
    ]:
        ref = fn(*args)
        assert isinstance(ref, (np.ndarray, np.floating)), fn.__name__
        got64 = fn(*(torch.from_numpy(a) for a in args))
        assert isinstance(got64, torch.Tensor) and got64.dtype == torch.float64, fn.__name__
        np.testing.assert_allclose(got64.numpy(), ref, atol=1e-10, err_msg=fn.__name__)
        got32 = fn(*(torch.from_numpy(a).float() for a in args))
        assert got32.dtype == torch.float32, fn.__name__
        tol = 1e-2 if fn in (M.pck, M.auc, M.pck_per_frame, M.auc_per_frame) else 1e-5  # a joint may sit on a step
        np.testing.assert_allclose(got32.numpy(), ref, atol=tol, err_msg=fn.__name__)
    # Mixed inputs give torch.
    assert isinstance(M.mpjpe(torch.from_numpy(pred), poses), torch.Tensor)


def test_torch_metrics_are_differentiable(poses, rng):
    pred = torch.tensor(poses + rng.normal(scale=0.05, size=poses.shape), requires_grad=True)
    target = torch.from_numpy(poses)
    loss = M.mpjpe(pred, target) + M.n_mpjpe(pred, target) + M.p_mpjpe(pred, target)
    loss.backward()
    assert pred.grad is not None and torch.isfinite(pred.grad).all() and pred.grad.abs().sum() > 0
    # Finite-difference check of the MPJPE gradient in one coordinate.
    eps = 1e-6
    bumped = pred.detach().clone()
    bumped[0, 3, 1] += eps
    numeric = (M.mpjpe(bumped, target) - M.mpjpe(pred.detach(), target)) / eps
    pred.grad = None
    M.mpjpe(pred, target).backward()
    assert float(pred.grad[0, 3, 1]) == pytest.approx(float(numeric), rel=1e-4, abs=1e-8)


# ----------------------------------------------------------------------------------------------------------------
# Bad input


def test_shape_mismatch_names_both_shapes():
    with pytest.raises(ValueError, match=r"\(2, 17, 3\).*\(2, 16, 3\)"):
        M.mpjpe(np.zeros((2, 17, 3)), np.zeros((2, 16, 3)))
    with pytest.raises(ValueError, match=r"\(4, 17, 2\)"):
        M.p_mpjpe(np.zeros((4, 17, 2)), np.zeros((4, 17, 2)))
    with pytest.raises(ValueError, match=r"\(3,\)|\(3\)"):
        M.mpjpe(np.zeros(3), np.zeros(3))
    with pytest.raises(ValueError, match=r"N >= 2.*\(1, 17, 3\)"):
        M.mpjve(np.zeros((1, 17, 3)), np.zeros((1, 17, 3)))
    with pytest.raises(ValueError, match="root joint index 17"):
        M.mpjpe(np.zeros((2, 17, 3)), np.zeros((2, 17, 3)), root=17)
    with pytest.raises(ValueError, match="alignment"):
        M.pck(np.zeros((2, 17, 3)), np.zeros((2, 17, 3)), alignment="rigid")
    with pytest.raises(ValueError, match="out of range"):
        M.pck(np.zeros((2, 17, 3)), np.zeros((2, 17, 3)), joints=[20])


@pytest.mark.parametrize("fn", [M.mpjpe, M.p_mpjpe, M.n_mpjpe, M.mpjve, M.pck, M.auc])
def test_nan_raises(fn, poses):
    bad = poses.copy()
    bad[1, 3, 2] = np.nan
    with pytest.raises(ValueError, match=r"pred.*non-finite.*NaN"):
        fn(bad, poses)
    with pytest.raises(ValueError, match=r"target.*non-finite"):
        fn(torch.from_numpy(poses), torch.from_numpy(bad))


# ----------------------------------------------------------------------------------------------------------------
# Tables


def _uneven_table():
    table = M.EvaluationTable(metrics=("mpjpe", "pck"))
    table.add_errors("S9", "Walking", {"mpjpe": np.full(10, 0.040), "pck": np.full(10, 1.0)})
    table.add_errors("S9", "Walking 1", {"mpjpe": np.full(30, 0.060), "pck": np.full(30, 0.5)})
    table.add_errors("S11", "Eating", {"mpjpe": np.full(20, 0.100), "pck": np.zeros(20)})
    return table


def test_action_mean_vs_frame_mean_by_hand():
    s = _uneven_table().summary()
    assert [r.action for r in s.rows] == ["Walking", "Eating"]
    walking, eating = s.row("Walking"), s.row("Eating")
    assert walking.frames == 40 and eating.frames == 20 and s.frames == 60
    # Walking pools its sub-actions' frames: (10*40 + 30*60) / 40 = 55 mm.
    assert walking.values["mpjpe"] == pytest.approx(0.055, abs=1e-12)
    assert eating.values["mpjpe"] == pytest.approx(0.100, abs=1e-12)
    # Mean over actions: (55 + 100) / 2 = 77.5 mm; frame-weighted: (400 + 1800 + 2000) / 60 = 70 mm.
    assert s.action_mean["mpjpe"] == pytest.approx(0.0775, abs=1e-12)
    assert s.frame_mean["mpjpe"] == pytest.approx(0.070, abs=1e-12)
    # PCK: Walking (10 + 15) / 40 = 0.625, Eating 0 -> 0.3125 over actions, 25/60 over frames.
    assert s.action_mean["pck"] == pytest.approx(0.3125, abs=1e-12)
    assert s.frame_mean["pck"] == pytest.approx(25 / 60, abs=1e-12)
    assert s.subjects == ("S9", "S11")


def test_subaction_merging():
    assert M.base_action("Walking 1") == "Walking"
    assert M.base_action("WalkDog 1") == "WalkDog"
    assert M.base_action("WalkDog") == "WalkDog"
    assert M.base_action("SittingDown 2") == "SittingDown"
    table = M.EvaluationTable(metrics=("mpjpe",))
    table.add_errors("S9", "WalkDog", {"mpjpe": [0.01, 0.03]})
    table.add_errors("S11", "WalkDog 1", {"mpjpe": [0.05]})
    assert [(r.action, r.frames) for r in table.summary().rows] == [("WalkDog", 3)]
    assert table.summary().rows[0].values["mpjpe"] == pytest.approx(0.03, abs=1e-12)
    unmerged = table.summary(merge_subactions=False)
    assert [r.action for r in unmerged.rows] == ["WalkDog", "WalkDog 1"]
    assert unmerged.action_mean["mpjpe"] == pytest.approx((0.02 + 0.05) / 2, abs=1e-12)


def test_table_add_scores_poses(poses, rng, tmp_path):
    table = M.EvaluationTable(metrics=("mpjpe", "p_mpjpe", "n_mpjpe", "mpjve", "pck", "auc"))
    pred_a = poses.copy()
    pred_a[:, 1:] += np.array([0.03, 0.04, 0.0])  # 50 mm on 16 of 17 joints
    pred_b = poses + rng.normal(scale=0.02, size=poses.shape)
    table.add("S9", "Posing", pred_a, poses)
    table.add("S9", "Posing 1", torch.from_numpy(pred_b), torch.from_numpy(poses))
    table.add("S11", "Posing", pred_a[:3], poses[:3])  # appends; different subject
    s = table.summary()
    assert len(s.rows) == 1 and s.frames == 15
    frames_mpjpe = np.concatenate(
        [M.mpjpe_per_frame(pred_a, poses), M.mpjpe_per_frame(pred_b, poses), M.mpjpe_per_frame(pred_a[:3], poses[:3])]
    )
    assert s.frame_mean["mpjpe"] == pytest.approx(frames_mpjpe.mean(), abs=1e-12)
    p_frames = np.concatenate(
        [ref_p_mpjpe_frames(p, g) for p, g in [(pred_a, poses), (pred_b, poses), (pred_a[:3], poses[:3])]]
    )
    assert s.frame_mean["p_mpjpe"] == pytest.approx(p_frames.mean(), abs=1e-9)
    # MPJVE pools the 5 + 5 + 2 velocity frames.
    v_frames = np.concatenate(
        [M.mpjve_per_frame(pred_a, poses), M.mpjve_per_frame(pred_b, poses), M.mpjve_per_frame(pred_a[:3], poses[:3])]
    )
    assert s.frame_mean["mpjve"] == pytest.approx(v_frames.mean(), abs=1e-12)
    all_pred, all_target = np.concatenate([pred_a, pred_b, pred_a[:3]]), np.concatenate([poses, poses, poses[:3]])
    assert s.frame_mean["pck"] == pytest.approx(M.pck(all_pred, all_target), abs=1e-12)
    assert s.frame_mean["auc"] == pytest.approx(M.auc(all_pred, all_target), abs=1e-12)
    assert "MPJVE (mm/frame)" in table.format(M.Protocol())
    table.save_json(tmp_path / "all.json")
    doc = json.loads((tmp_path / "all.json").read_text())
    assert doc["units"]["mpjve_mm_per_frame"] == "mm/frame" and doc["protocol"] is None
    assert doc["frame_weighted_mean"]["mpjve_mm_per_frame"] == pytest.approx(1000 * v_frames.mean(), abs=1e-6)


def test_table_format_and_files(tmp_path):
    table = _uneven_table()
    protocol = M.Protocol(two_d_source="CPN", stride=2, flip_augmentation=True, exclusions=["S11/Directions"])
    text = table.format(protocol)
    lines = text.splitlines()
    assert lines[0] == protocol.line()
    for needle in (
        "CPN",
        "stride 2",
        "flip augmentation on",
        "S11/Directions",
        "mean over actions",
        "MPJPE (mm)",
        "PCK (%)",
    ):
        assert needle in text
    walking = next(l for l in lines if l.startswith("Walking"))
    assert walking.split()[1:] == ["40", "55.0", "62.5"]
    over_actions = next(l for l in lines if l.startswith("Mean over 2 actions"))
    assert over_actions.split()[-2:] == ["77.5", "31.2"] or over_actions.split()[-2:] == ["77.5", "31.3"]
    assert "*" in over_actions
    frame_line = next(l for l in lines if l.startswith("Frame-weighted mean"))
    assert frame_line.split()[-2:] == ["70.0", "41.7"] and "*" not in frame_line
    with pytest.raises(TypeError):
        table.format(None)

    table.save_csv(tmp_path / "t.csv", protocol)
    table.save_json(tmp_path / "t.json", protocol)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.csv", "t.json"]  # no temp files left behind

    with open(tmp_path / "t.csv", newline="") as f:
        first = f.readline()
        rows = list(csv.DictReader(f))
    assert first.strip() == "# " + protocol.line()
    by_kind = {(r["kind"], r["action"]): r for r in rows}
    assert float(by_kind[("action", "Walking")]["mpjpe_mm"]) == pytest.approx(55.0)
    assert float(by_kind[("mean_over_actions", "")]["mpjpe_mm"]) == pytest.approx(77.5)
    assert float(by_kind[("frame_weighted_mean", "")]["pck_pct"]) == pytest.approx(100 * 25 / 60, abs=1e-5)
    seq = [r for r in rows if r["kind"] == "sequence"]
    assert [(r["subject"], r["action"], int(r["frames"])) for r in seq] == [
        ("S9", "Walking", 10),
        ("S9", "Walking 1", 30),
        ("S11", "Eating", 20),
    ]

    doc = json.loads((tmp_path / "t.json").read_text())
    assert doc["units"] == {"mpjpe_mm": "mm", "pck_pct": "percent"}
    assert doc["protocol"]["exclusions"] == ["S11/Directions"] and doc["protocol"]["stride"] == 2
    assert doc["actions"]["Walking"]["mpjpe_mm"] == pytest.approx(55.0)
    assert doc["mean_over_actions"]["mpjpe_mm"] == pytest.approx(77.5)
    assert doc["frame_weighted_mean"]["mpjpe_mm"] == pytest.approx(70.0)


def test_table_bad_input():
    with pytest.raises(ValueError, match="metrics"):
        M.EvaluationTable(metrics=("mpjpe", "pa_mpjpe"))
    table = M.EvaluationTable(metrics=("mpjpe", "pck"))
    with pytest.raises(KeyError, match="pck"):
        table.add_errors("S9", "Walking", {"mpjpe": [0.1]})
    with pytest.raises(ValueError, match="NaN"):
        table.add_errors("S9", "Walking", {"mpjpe": [np.nan], "pck": [1.0]})
    with pytest.raises(ValueError, match=r"\(5, 17, 3\).*\(4, 17, 3\)"):
        table.add("S9", "Walking", np.zeros((5, 17, 3)), np.zeros((4, 17, 3)))
    with pytest.raises(ValueError, match="empty"):
        table.summary()
    with pytest.raises(ValueError, match="averaging"):
        M.Protocol(averaging="sequences")
    with pytest.raises(ValueError, match="stride"):
        M.Protocol(stride=0)


def test_protocol_line_defaults():
    line = M.Protocol().line()
    assert line.startswith("Protocol: ")
    for needle in (
        "H36M-17, root included",
        "root-relative",
        "2D source GT",
        "stride 1",
        "flip augmentation off",
        "excluded none",
        "each action weighted equally",
    ):
        assert needle in line
    assert "each frame weighted equally" in M.Protocol(averaging="frames").line()
