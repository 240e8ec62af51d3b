"""Augmentation for the shipped models and the pose corruptions, checked against closed forms."""

import math

import numpy as np
import pytest
import torch

from weakpose.data.motion.augment import (
    NoiseConfig,
    augment_track,
    detector_noise,
    h36m_like_bone_lengths,
    look_at_world_to_camera,
    sample_camera,
)
from weakpose.data.synthetic.keypoints import H36M_S1_BONE_LENGTHS
from weakpose.priors.corruptions import bend_backwards, corrupted_versions, scale_bone, turn_head
from weakpose.recipes.recordings import held_out_recordings, record, training_recordings
from weakpose.recipes.split import HELD_OUT_SEQUENCES, cmu_tracks
from weakpose.skeleton import H36M17

torch.set_num_threads(1)


def _lengths(p):
    return np.stack(
        [np.linalg.norm(p[..., c, :] - p[..., pa, :], axis=-1) for c, pa in enumerate(H36M17.parents) if pa >= 0], -1
    )


@pytest.fixture(scope="module")
def track():
    return cmu_tracks("train")[0][1][:60]


def test_bone_lengths_are_symmetric_and_scaled_from_s1():
    rng = np.random.default_rng(0)
    draws = np.stack([h36m_like_bone_lengths(rng) for _ in range(400)])
    flip = H36M17.flip_permutation
    np.testing.assert_array_equal(draws, draws[:, flip])
    s1 = np.array([0.0] + [H36M_S1_BONE_LENGTHS[j] for j in range(1, 17)])
    ratio = draws[:, 1:] / s1[1:]
    # size factor U(0.88, 1.12) times exp(0.05 N): the median ratio is 1, spread as the two factors give
    assert np.median(ratio) == pytest.approx(1.0, abs=0.02)
    assert 0.85 * math.exp(-4 * 0.05) < ratio.min() and ratio.max() < 1.12 * math.exp(4 * 0.05)


def test_augment_track_sets_lengths_keeps_floor_and_centres(track):
    rng = np.random.default_rng(1)
    lengths = h36m_like_bone_lengths(rng)
    out = augment_track(track, rng, lengths=lengths)
    np.testing.assert_allclose(_lengths(out), np.broadcast_to(lengths[1:], (len(out), 16)), atol=1e-9)
    feet = [H36M17.index("RFoot"), H36M17.index("LFoot")]
    before = np.percentile(track[:, feet, 2].min(1), 2.0)
    assert np.percentile(out[:, feet, 2].min(1), 2.0) == pytest.approx(before, abs=1e-9)
    # without mirroring or turning, the motion is the original one up to proportions, centred on x = y = 0
    same = augment_track(track, np.random.default_rng(2), lengths=lengths, mirror_probability=0.0, heading=False)
    xy = same[:, 0, :2]
    np.testing.assert_allclose(0.5 * (xy.min(0) + xy.max(0)), 0.0, atol=1e-9)
    d0 = track[:, 2] - track[:, 1]
    d1 = same[:, 2] - same[:, 1]
    cos = np.sum(d0 * d1, -1) / np.linalg.norm(d0, axis=-1) / np.linalg.norm(d1, axis=-1)
    assert cos.min() > 1 - 1e-9


def test_look_at_puts_the_target_on_the_optical_axis_with_y_down():
    centre, target = np.array([4.0, -3.0, 1.5]), np.array([0.2, 0.1, 0.9])
    R = look_at_world_to_camera(centre, target)
    np.testing.assert_allclose(R @ R.T, np.eye(3), atol=1e-12)
    assert np.linalg.det(R) == pytest.approx(1.0)
    t = R @ (target - centre)
    np.testing.assert_allclose(t[:2], 0.0, atol=1e-12)
    assert t[2] == pytest.approx(np.linalg.norm(target - centre))
    assert (R @ np.array([0, 0, 1.0]))[1] < 0  # world up is image up, i.e. camera -y
    rolled = look_at_world_to_camera(centre, target, roll=math.radians(30))
    np.testing.assert_allclose(rolled[2], R[2], atol=1e-12)  # roll keeps the optical axis
    assert math.degrees(math.acos(np.clip(rolled[0] @ R[0], -1, 1))) == pytest.approx(30.0)


@pytest.mark.parametrize("kind", ["h36m", "random"])
def test_sampled_cameras_see_the_person(kind, track):
    rng = np.random.default_rng(3)
    for _ in range(20):
        world = augment_track(track, rng)
        cam = sample_camera(rng, kind, min_distance=float(np.linalg.norm(world[..., :2], axis=-1).max()) + 1.0)
        rec = record("x", world, cam)
        assert rec.camera_3d[..., 2].min() > 0.5
        w, h = rec.image_size
        centre = rec.uv[:, 0].mean(0)
        assert 0 < centre[0] < w and 0 < centre[1] < h
        # the projection is K (R X + t) / z, computed here by hand
        K, R, t = (np.asarray(v, dtype=np.float64) for v in (cam.K, cam.R, cam.t))
        Xc = world @ R.T + t
        uv = (Xc[..., :2] / Xc[..., 2:]) @ K[:2, :2].T + K[:2, 2]
        np.testing.assert_allclose(rec.uv, uv, atol=1e-6)


def test_detector_noise_levels():
    rng = np.random.default_rng(4)
    uv = np.full((4000, 17, 2), 300.0)
    clean = NoiseConfig(outlier_probability=0.0, drop_probability=0.0)
    widths = np.where(np.arange(4000) < 2000, 1000.0, 2000.0)
    out = detector_noise(uv, widths, rng, clean, independent=True)
    sd = (out - uv).reshape(4000, -1).std(1)
    # per-window std ~ U(0, 8) px x width/1000: means 4 and 8 px, standard error ~ 0.05 and 0.1
    assert sd[:2000].mean() == pytest.approx(4.0, abs=0.25)
    assert sd[2000:].mean() == pytest.approx(8.0, abs=0.5)
    drops = detector_noise(uv, 1000.0, rng, NoiseConfig(sigma_px=0.0, outlier_probability=0.0, drop_probability=0.05))
    dropped = (drops == 0).all(-1)
    assert dropped.mean() == pytest.approx(0.05, abs=0.005)
    np.testing.assert_array_equal(drops[~dropped], uv[~dropped])
    with pytest.raises(ValueError, match="keypoints"):
        detector_noise(np.zeros(5), 1000.0, rng)


def _straight_leg_pose(flexion_deg):
    """A pose whose right leg lies in the x-z plane: thigh straight down, shin bent back (-x) by flexion."""
    p = np.zeros((1, 17, 3))
    for j in range(17):
        p[0, j] = [0.0, 0.1 * (j % 3) - 0.1, 0.5 + 0.02 * j]  # arbitrary, non-degenerate
    a = math.radians(flexion_deg)
    p[0, 1] = [0.0, -0.1, 1.0]
    p[0, 2] = [0.0, -0.1, 0.55]
    p[0, 3] = p[0, 2] + 0.45 * np.array([-math.sin(a), 0.0, -math.cos(a)])
    p[0, 4], p[0, 5], p[0, 6] = [0, 0.1, 1.0], [0, 0.1, 0.55], [0, 0.1, 0.1]  # straight left leg
    return p


def test_bend_backwards_mirrors_the_shin_through_the_thigh():
    p = _straight_leg_pose(40.0)
    out, valid = bend_backwards(p, "knee")
    assert valid[0]
    a = math.radians(40.0)
    np.testing.assert_allclose(out[0, 3], p[0, 2] + 0.45 * np.array([math.sin(a), 0.0, -math.cos(a)]), atol=1e-12)
    np.testing.assert_allclose(np.delete(out, 3, axis=1), np.delete(p, 3, axis=1))
    _, valid = bend_backwards(_straight_leg_pose(10.0), "knee")
    assert not valid[0]


def test_scale_bone_and_turn_head():
    p = cmu_tracks("held_out")[0][1][:5]
    knee = H36M17.index("RKnee")
    out = scale_bone(p, np.full(5, knee), 1.4)
    before, after = _lengths(p), _lengths(out)
    child_index = [c for c, pa in enumerate(H36M17.parents) if pa >= 0]
    k = child_index.index(knee)
    np.testing.assert_allclose(after[:, k], 1.4 * before[:, k], rtol=1e-9)
    np.testing.assert_allclose(np.delete(after, k, 1), np.delete(before, k, 1), rtol=1e-9)
    turned = turn_head(p)
    thorax, spine, nose = (H36M17.index(j) for j in ("Thorax", "Spine", "Neck/Nose"))
    axis = (p[:, thorax] - p[:, spine]) / np.linalg.norm(p[:, thorax] - p[:, spine], axis=-1, keepdims=True)
    v = p[:, nose] - p[:, thorax]
    # 180 degrees about the axis: the part along the axis stays, the perpendicular part flips
    expect = p[:, thorax] + 2 * np.sum(v * axis, -1, keepdims=True) * axis - v
    np.testing.assert_allclose(turned[:, nose], expect, atol=1e-12)
    versions = corrupted_versions(p, np.random.default_rng(0))
    assert set(versions) == {
        "knee bent backwards",
        "elbow bent backwards",
        "head turned 180 deg",
        "limb bone x1.4",
        "limb bone x0.6",
    }


def test_split_holds_out_whole_sequences():
    train = {label for label, _ in cmu_tracks("train")}
    held = {label for label, _ in cmu_tracks("held_out")}
    assert held == set(HELD_OUT_SEQUENCES) and not train & held
    assert {h.split("/")[0] for h in held} == {
        "basketball",
        "basketball_signal",
        "directing_traffic",
        "jumping",
        "running",
        "soccer",
        "walking",
        "washwindow",
    }
    recs = held_out_recordings(cmu_tracks("held_out")[:1])
    assert len(recs) == 4 and all(r.label.startswith("basketball/test_1@") for r in recs)
    tr = training_recordings(cmu_tracks("train")[:2], copies=3, seed=0)
    assert len(tr) == 6 and len({r.label for r in tr}) == 6
