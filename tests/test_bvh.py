"""BVH parser + FK, resampling, and the CMU -> H36M-17 mapping, checked against independent references
(scipy Rotation, hand-computed rotations, closed-form signals, the cmu_motion release)."""

import os
import re
from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from weakpose.data.motion import cmu
from weakpose.data.motion.bvh import BvhFormatError, euler_channels_to_matrix, parse_bvh, read_bvh, resample
from weakpose.skeleton import H36M17, bone_lengths

SHARED_DATA = Path(os.environ.get("WEAKPOSE_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))

# Unusual on purpose: interleaved position/rotation channels on the root, YXZ order and position channels on a
# child, a joint with only two rotation channels, end sites.
TINY_BVH = """HIERARCHY
ROOT root
{
  OFFSET 5 5 5
  CHANNELS 6 Zrotation Xposition Yrotation Yposition Xrotation Zposition
  JOINT a
  {
    OFFSET 0 1 0
    CHANNELS 3 Xrotation Yrotation Zrotation
    JOINT b
    {
      OFFSET 0.5 0 0.25
      CHANNELS 5 Yposition Yrotation Xrotation Zrotation Xposition
      End Site
      {
        OFFSET 0 0 2
      }
    }
  }
  JOINT c
  {
    OFFSET -1 0 0
    CHANNELS 2 Zrotation Xrotation
    End Site
    {
      OFFSET 0 -1 0
    }
  }
}
MOTION
Frames: 3
Frame Time: 0.01
90 0 0 0 0 0   0 0 0   0 0 0 0 0.5   0 0
{frame1}
{frame2}
"""


def _tiny_frames(rng):
    frames = []
    for _ in range(2):
        root = [
            rng.uniform(-180, 180),
            rng.normal(),
            rng.uniform(-80, 80),
            rng.normal(),
            rng.uniform(-180, 180),
            rng.normal(),
        ]
        a = list(rng.uniform(-180, 180, 3))
        b = [rng.normal(), rng.uniform(-180, 180), rng.uniform(-80, 80), rng.uniform(-180, 180), rng.normal()]
        c = list(rng.uniform(-180, 180, 2))
        frames.append(root + a + b + c)
    return frames


def _tiny(rng):
    frames = _tiny_frames(rng)
    text = TINY_BVH.replace("{frame1}", " ".join(f"{v:.9f}" for v in frames[0]))
    text = text.replace("{frame2}", " ".join(f"{v:.9f}" for v in frames[1]))
    return parse_bvh(text, source="tiny.bvh"), frames


def _reference_fk(values, translation="replace"):
    """Independent FK of TINY_BVH for one frame with scipy (uppercase axes = intrinsic, R = R1 @ R2 @ R3)."""
    zr, xp, yr, yp, xr, zp, ax, ay, az, byp, byr, bxr, bzr, bxp, cz, cx = values
    r_root = Rotation.from_euler("ZYX", [zr, yr, xr], degrees=True).as_matrix()
    p_root = np.array([xp, yp, zp]) if translation == "replace" else np.array([5 + xp, 5 + yp, 5 + zp])
    r_a = r_root @ Rotation.from_euler("XYZ", [ax, ay, az], degrees=True).as_matrix()
    p_a = p_root + r_root @ np.array([0, 1, 0])
    t_b = np.array([bxp, byp, 0.25]) if translation == "replace" else np.array([0.5 + bxp, byp, 0.25])
    p_b = p_a + r_a @ t_b
    r_b = r_a @ Rotation.from_euler("YXZ", [byr, bxr, bzr], degrees=True).as_matrix()
    p_b_end = p_b + r_b @ np.array([0, 0, 2])
    p_c = p_root + r_root @ np.array([-1, 0, 0])
    r_c = r_root @ Rotation.from_euler("ZX", [cz, cx], degrees=True).as_matrix()
    p_c_end = p_c + r_c @ np.array([0, -1, 0])
    return np.stack([p_root, p_a, p_b, p_b_end, p_c, p_c_end])


# ---- parser and FK -------------------------------------------------------------------------------------------


def test_tiny_bvh_structure(rng):
    motion, _ = _tiny(rng)
    assert motion.names == ("root", "a", "b", "b_End", "c", "c_End")
    assert motion.parents.tolist() == [-1, 0, 1, 2, 0, 4]
    assert motion.is_end_site.tolist() == [False, False, False, True, False, True]
    assert motion.joint_names == ("root", "a", "b", "c")
    assert motion.channel_start.tolist() == [0, 6, 9, 14, 14, 16]
    assert motion.num_frames == 3 and motion.fps == pytest.approx(100.0)
    np.testing.assert_array_equal(motion.offsets[2], [0.5, 0, 0.25])
    assert motion.node_parents(include_end_sites=False).tolist() == [-1, 0, 1, 0]


def test_tiny_bvh_hand_computed_frame(rng):
    """Frame 0: root turned +90 deg about Z at the origin; b's position channels are x = 0.5, y = 0.

    By hand: Rz(90) maps x->y, y->-x. a = Rz(90)(0,1,0) = (-1,0,0); b's translation is (0.5, 0, 0.25) (channels
    replace x and y of its OFFSET), so b = a + Rz(90)(0.5,0,0.25) = (-1,0.5,0.25); b_End = b + Rz(90)(0,0,2) =
    (-1,0.5,2.25); c = Rz(90)(-1,0,0) = (0,-1,0); c_End = c + Rz(90)(0,-1,0) = (1,-1,0).
    """
    motion, _ = _tiny(rng)
    p = motion.forward_kinematics(include_end_sites=True)[0]
    expected = [[0, 0, 0], [-1, 0, 0], [-1, 0.5, 0.25], [-1, 0.5, 2.25], [0, -1, 0], [1, -1, 0]]
    np.testing.assert_allclose(p, expected, atol=1e-12)


@pytest.mark.parametrize("translation", ["replace", "add"])
def test_tiny_bvh_fk_matches_scipy(rng, translation):
    motion, frames = _tiny(rng)
    p = motion.forward_kinematics(include_end_sites=True, translation=translation)
    for i, values in enumerate(frames, start=1):
        np.testing.assert_allclose(p[i], _reference_fk(values, translation), atol=1e-9)
    joints_only = motion.forward_kinematics(translation=translation)
    np.testing.assert_allclose(joints_only, p[:, [0, 1, 2, 4]])


def test_global_rotations_match_scipy(rng):
    motion, frames = _tiny(rng)
    _, rot = motion.forward_kinematics(include_end_sites=False, return_rotations=True)
    zr, _, yr, _, xr, _, ax, ay, az = frames[0][:9]
    expected_a = (
        Rotation.from_euler("ZYX", [zr, yr, xr], degrees=True) * Rotation.from_euler("XYZ", [ax, ay, az], degrees=True)
    ).as_matrix()
    np.testing.assert_allclose(rot[1, 1], expected_a, atol=1e-12)


@pytest.mark.parametrize("order", ["ZYX", "XYZ", "YXZ", "ZXY", "YZX", "XZY", "ZX", "Y"])
def test_euler_channels_match_scipy(rng, order):
    angles = rng.uniform(-180, 180, size=(7, len(order)))
    axes = ["XYZ".index(a) for a in order]
    expected = Rotation.from_euler(order, angles, degrees=True).as_matrix()
    np.testing.assert_allclose(euler_channels_to_matrix(angles, axes), expected, atol=1e-12)


def test_shipped_clip_fk_keeps_bone_lengths():
    for clip, path in cmu.cmu_bvh_clip_paths().items():
        motion = read_bvh(path)
        assert motion.num_frames > 900 and motion.fps == pytest.approx(120.0, rel=1e-3)
        p = motion.forward_kinematics(include_end_sites=True)
        parents = motion.parents
        lengths = np.linalg.norm(p[:, 1:] - p[:, parents[1:]], axis=-1)
        assert lengths.std(axis=0).max() < 1e-6, clip
        # and every bone keeps its rest length (rotations only: no position channel below the root)
        np.testing.assert_allclose(lengths.mean(axis=0), np.linalg.norm(motion.offsets[1:], axis=1), atol=1e-9)


# ---- errors --------------------------------------------------------------------------------------------------


def _tiny_text(rng):
    frames = _tiny_frames(rng)
    return TINY_BVH.replace("{frame1}", " ".join(map(str, frames[0]))).replace(
        "{frame2}", " ".join(map(str, frames[1]))
    )


def test_truncated_motion_names_file_and_line(rng, tmp_path):
    lines = _tiny_text(rng).splitlines()
    path = tmp_path / "short.bvh"
    path.write_text("\n".join(lines[:-1]) + "\n")
    with pytest.raises(BvhFormatError, match=r"short\.bvh:\d+: truncated motion: 'Frames: 3' .* 2 frames"):
        read_bvh(path)


def test_wrong_value_count_names_line(rng, tmp_path):
    lines = _tiny_text(rng).splitlines()
    lines[-1] += " 7.0"
    path = tmp_path / "extra.bvh"
    path.write_text("\n".join(lines))
    with pytest.raises(BvhFormatError, match=rf"extra\.bvh:{len(lines)}: frame 2 has 17 values, .* 16 channels"):
        read_bvh(path)


def test_wrong_channel_count_in_hierarchy():
    text = TINY_BVH.replace("CHANNELS 2 Zrotation Xrotation", "CHANNELS 3 Zrotation Xrotation")
    line = next(i for i, l in enumerate(text.splitlines(), 1) if "CHANNELS 3 Zrotation Xrotation" in l)
    with pytest.raises(BvhFormatError, match=rf"bad\.bvh:{line + 1}: joint 'c': unknown channel 'End'"):
        parse_bvh(text, source="bad.bvh")


def test_non_numeric_value_and_missing_file(rng, tmp_path):
    lines = _tiny_text(rng).splitlines()
    lines[-2] = lines[-2].replace(" ", " x", 1)
    with pytest.raises(BvhFormatError, match=rf"nan\.bvh:{len(lines) - 1}: frame 1: non-numeric"):
        parse_bvh("\n".join(lines), source="nan.bvh")
    with pytest.raises(FileNotFoundError, match="missing.bvh"):
        read_bvh(tmp_path / "missing.bvh")
    with pytest.raises(BvhFormatError, match="no MOTION section"):
        parse_bvh("HIERARCHY\nROOT r\n{\nOFFSET 0 0 0\n}\n", source="x.bvh")


# ---- resampling ----------------------------------------------------------------------------------------------


def test_resample_linear_signal_is_exact():
    t = np.arange(241) / 120.0  # 2 s at 120 Hz
    x = np.stack([3 * t - 1, -2 * t, np.full_like(t, 0.5)], axis=-1)[:, None, :]  # (N, 1, 3)
    y = resample(x, 120, 50)
    tk = np.arange(101) / 50.0  # 2 s at 50 Hz, both ends included
    assert y.shape == (101, 1, 3)
    np.testing.assert_allclose(y[:, 0], np.stack([3 * tk - 1, -2 * tk, np.full_like(tk, 0.5)], -1), atol=1e-12)


def test_resample_sinusoid_within_interpolation_bound():
    f, src, dst = 2.0, 120.0, 50.0
    t = np.arange(600) / src
    x = np.sin(2 * np.pi * f * t).astype(np.float32)
    y = resample(x, src, dst)
    tk = np.arange(len(y)) / dst
    assert len(y) == int(np.floor((599 / src) * dst)) + 1 and y.dtype == np.float32
    bound = (1 / src) ** 2 / 8 * (2 * np.pi * f) ** 2  # linear interpolation error <= h^2/8 max|x''|
    err = np.abs(y - np.sin(2 * np.pi * f * tk))
    assert err.max() <= bound + 1e-6
    assert err.max() > 0  # samples off the source grid really are interpolated
    # frames along another axis
    y2 = resample(np.stack([x, 2 * x]), src, dst, axis=1)
    np.testing.assert_allclose(y2, np.stack([y, 2 * y]), atol=1e-6)


def test_resample_rejects_bad_rates():
    with pytest.raises(ValueError, match="positive"):
        resample(np.zeros((4, 3)), 0, 50)


# ---- CMU -> H36M-17 ------------------------------------------------------------------------------------------


def test_cmu_bvh_mapping_bones_and_axes():
    clips = cmu.load_cmu_bvh_clips()
    assert sorted(clips) == ["Hop", "StartWalk"] and sorted(clips["StartWalk"]) == ["131_01", "131_02"]
    for action, seqs in clips.items():
        for clip, p in seqs.items():
            lengths = bone_lengths(p.astype(np.float64))
            mean = dict(zip(H36M17.bones, lengths.mean(axis=0)))
            for thigh in [(2, 1), (5, 4)]:
                assert 0.35 < mean[thigh] < 0.45, (clip, mean[thigh])  # metres: the files are metre-scaled
            assert 0.15 < mean[(13, 12)] < 0.30 and 0.3 < mean[(15, 14)] + mean[(16, 15)] < 0.6
            # Z up: head above the thorax above the hip above the ankles in (nearly) every frame
            z = p[..., 2]
            assert np.mean((z[:, 10] > z[:, 8]) & (z[:, 8] > z[:, 0]) & (z[:, 0] > z[:, 3])) > 0.98
            # floor subtracted: the lowest ankle is a few cm above z = 0, the head near 1.4-1.6 m
            assert 0.0 < np.percentile(z[:, [3, 6]].min(1), 5) < 0.15
            assert 1.3 < np.percentile(z[:, 10], 95) < 1.7


def test_cmu_bvh_left_right_facing_agrees_with_toes():
    """forward = (LHip - RHip) x up must point where the feet point (a left/right swap gives cosine -1)."""
    for clip, path in cmu.cmu_bvh_clip_paths().items():
        motion = read_bvh(path)
        p17 = cmu.bvh_to_h36m17(motion)
        nodes = cmu.y_up_to_z_up(motion.forward_kinematics(include_end_sites=True))
        toe = sum(
            nodes[:, motion.index(f"{s}Toe_End")] - nodes[:, motion.index(f"{s}Ankle")] for s in ("Left", "Right")
        )
        toe[:, 2] = 0
        toe /= np.linalg.norm(toe, axis=1, keepdims=True)
        cosine = np.sum(cmu.facing_direction(p17) * toe, axis=1)
        assert np.mean(cosine > 0) > 0.99 and cosine.mean() > 0.9, clip


def test_cmu_motion_walking_faces_its_velocity():
    motion = cmu.load_cmu_motion()
    for key, p in motion["walking"].items():
        velocity = p[10:, 0] - p[:-10, 0]
        velocity[:, 2] = 0
        speed = np.linalg.norm(velocity, axis=1) * 5  # m/s over 0.2 s
        moving = speed > 0.5
        cosine = np.sum(cmu.facing_direction(p[5:-5][moving]) * velocity[moving], axis=1) / (speed[moving] / 5)
        assert moving.mean() > 0.5 and cosine.mean() > 0.9, key


def test_cmu_motion_asset_content():
    motion = cmu.load_cmu_motion()
    assert sorted(motion) == sorted(cmu.CMU_ACTION_NAMES)
    assert sum(len(v) for v in motion.values()) == 38
    frames = sum(len(p) for seqs in motion.values() for p in seqs.values())
    assert abs(frames - 40293 * 50 / 120) < 38  # 120 -> 50 Hz, each sequence keeps its last full sample
    p = motion["walking"]["train_1"]
    assert p.dtype == np.float32 and p.shape[1:] == (17, 3)
    lengths = dict(zip(H36M17.bones, bone_lengths(p.astype(np.float64)).mean(0)))
    assert lengths[(2, 1)] == pytest.approx(0.428, abs=2e-3)  # README: thigh 0.428 m
    assert lengths[(8, 7)] == pytest.approx(0.117, abs=2e-3)  # Spine-Thorax 0.117 m


def test_cmu_mapping_accepts_cgspeed_names():
    path = cmu.cmu_bvh_clip_paths()["131_03"]
    text = path.read_text()
    renames = {
        "RightHip": "RightUpLeg",
        "RightKnee": "RightLeg",
        "RightAnkle": "RightFoot",
        "LeftHip": "LeftUpLeg",
        "LeftKnee": "LeftLeg",
        "LeftAnkle": "LeftFoot",
        "LeftToe": "LeftToeBase",
        "RightToe": "RightToeBase",
        "lowerback": "LowerBack",
        "Chest": "Spine",
        "Chest2": "Spine1",
        "lowerneck": "Neck",
        "Neck": "Neck1",
        "LeftCollar": "LeftShoulder",
        "LeftShoulder": "LeftArm",
        "LeftElbow": "LeftForeArm",
        "LeftWrist": "LeftHand",
        "RightCollar": "RightShoulder",
        "RightShoulder": "RightArm",
        "RightElbow": "RightForeArm",
        "RightWrist": "RightHand",
    }
    renamed = re.sub(r"\b(ROOT|JOINT) (\S+)", lambda m: f"{m.group(1)} {renames.get(m.group(2), m.group(2))}", text)
    a, b = parse_bvh(text, "131"), parse_bvh(renamed, "cgspeed")
    assert cmu.match_name_table(a) == "cmu131" and cmu.match_name_table(b) == "cgspeed"
    np.testing.assert_allclose(cmu.bvh_to_h36m17(a), cmu.bvh_to_h36m17(b))
    np.testing.assert_allclose(cmu.bvh_to_h36m17(a, scale=2.0, z_up=False)[:, :, 1], 2 * cmu.bvh_to_h36m17(a)[:, :, 2])
    with pytest.raises(KeyError, match="match no known CMU naming"):
        cmu.match_name_table(parse_bvh(TINY_BVH.replace("{frame1}", "0 " * 16).replace("{frame2}", "0 " * 16)))


def test_build_cmu_asset_from_a_small_release(tmp_path, rng):
    """The asset builder on a made-up release: floor removed, linear resampling, 0.1 mm quantisation."""
    n = 121
    seq = rng.normal(size=(n, 17, 3)).cumsum(axis=0) * 0.01 + np.array([0.0, 0.0, 1.0])
    src = tmp_path / "release.npz"
    np.savez(
        src,
        positions_3d=np.array({"walking": {"train_1": seq.astype(np.float32)}}, dtype=object),
        fps=np.float64(120.0),
        floor_z=np.array({"walking": {"train_1": 0.25}}, dtype=object),
    )
    report = cmu.build_cmu_motion_asset(src, tmp_path / "asset.npz")
    assert report["sequences"] == 1 and report["frames"] == 51
    out = cmu.load_cmu_motion(tmp_path / "asset.npz")["walking"]["train_1"]
    ref = seq.astype(np.float32).astype(np.float64) - np.array([0, 0, 0.25])
    idx = np.arange(51) * 2.4
    lo = np.floor(idx + 1e-9).astype(int)
    w = (idx - lo)[:, None, None]
    expected = (1 - w) * ref[lo] + w * ref[np.minimum(lo + 1, n - 1)]
    np.testing.assert_allclose(out, expected, atol=6e-5)
    with np.load(tmp_path / "asset.npz", allow_pickle=False) as z:  # no pickles in the shipped format
        assert float(z["fps"]) == 50.0


@pytest.mark.skipif(
    not (SHARED_DATA / "cmu_motion" / "cmu_h36m17.npz").is_file(),
    reason="the cmu_motion release is not available on this machine",
)
def test_shipped_asset_matches_the_release():
    with np.load(SHARED_DATA / "cmu_motion" / "cmu_h36m17.npz", allow_pickle=True) as z:
        source, floors = z["positions_3d"].item(), z["floor_z"].item()
    shipped = cmu.load_cmu_motion()
    for action in ("running", "washwindow"):
        for key, p in shipped[action].items():
            src = source[action][key].astype(np.float64)
            src[..., 2] -= floors[action][key]
            every_fifth = p[::5]  # 50 Hz samples 0, 5, 10... fall on 120 Hz frames 0, 12, 24...
            np.testing.assert_allclose(every_fifth, src[::12][: len(every_fifth)], atol=6e-5)
