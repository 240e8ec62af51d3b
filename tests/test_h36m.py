"""Human3.6M readers on fixture files written in the published layouts, checked against NumPy references."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from fixtures_h36m import (
    CAMERA_IDS,
    H36M32_TO_17,
    load_camera_json,
    make_poses_mm,
    project_numpy,
    truncate_file,
    write_cdf_pose,
    write_martinez_3d,
    write_martinez_cameras_h5,
    write_martinez_sh,
    write_videopose3d_2d,
    write_videopose3d_3d,
)

from weakpose.data.h36m import report as rep
from weakpose.data.h36m.convert import convert_h36m_release
from weakpose.data.h36m.convert import main as convert_main
from weakpose.data.h36m.loaders import (
    DEFAULT_EXCLUSIONS,
    TEST_SUBJECTS,
    TRAIN_SUBJECTS,
    H36MFormatError,
    SplitConfig,
    load_h36m,
    load_h36m_release,
    load_martinez,
    load_videopose3d,
    split_protocol,
)
from weakpose.data.h36m.readers import H36M_ACTIONS, canonical_action_name

CAMERA_JSON = Path(__file__).resolve().parents[1] / "weakpose" / "data" / "assets" / "h36m_cameras.json"
# MPII-16 joint i is H36M-32 joint MPII_TO_32[i] (docs/formats.md), written out independently of weakpose.
MPII_TO_32 = [3, 2, 1, 6, 7, 8, 0, 12, 13, 15, 27, 26, 25, 17, 18, 19]
H36M17_LEFT, H36M17_RIGHT = [4, 5, 6, 11, 12, 13], [1, 2, 3, 14, 15, 16]


@pytest.fixture(scope="module")
def cam_json():
    return load_camera_json(CAMERA_JSON)


def metres(rng, n, joints=32):
    return (make_poses_mm(rng, n, joints) / 1000.0).astype(np.float32)


def reasons(report, reason):
    return [e for e in report.entries if e.reason == reason]


# ---------------------------------------------------------------------------------------------------------
# VideoPose3D npz


def test_videopose3d_3d_joint_order_units_and_gt_projection(tmp_path, rng, cam_json):
    walk, photo = metres(rng, 12), metres(rng, 7)
    path = write_videopose3d_3d(
        tmp_path / "data_3d_h36m.npz",
        {
            "S1": {"Walking 1": walk, "TakingPhoto": photo},
            "S11": {"Directions": metres(rng, 5), "Eating": metres(rng, 6)},
        },
    )
    data = load_videopose3d(path)
    seq = data["S1", "Walking 1"]
    np.testing.assert_array_equal(seq.positions_3d, walk[:, H36M32_TO_17])
    np.testing.assert_array_equal(seq.positions_3d[:, 11], walk[:, 17])  # raw LeftArm -> LShoulder
    np.testing.assert_array_equal(seq.positions_3d[:, 16], walk[:, 27])  # raw RightHand -> RWrist
    assert seq.positions_3d.dtype == np.float32 and seq.fps == 50
    # TakingPhoto is stored under VideoPose3D's canonical name
    np.testing.assert_array_equal(data["S1", "Photo"].positions_3d, photo[:, H36M32_TO_17])
    # GT 2D = independent toolkit projection through each calibrated camera
    assert seq.source_2d == "gt" and sorted(seq.positions_2d) == sorted(CAMERA_IDS)
    for cam in CAMERA_IDS:
        ref = project_numpy(walk[:, H36M32_TO_17], cam_json, "S1", cam)
        np.testing.assert_allclose(seq.positions_2d[cam], ref, atol=1e-3)
    assert seq.image_size("54138969") == (1000, 1002) and seq.image_size("55011271") == (1000, 1000)
    # S11 Directions: default exclusion, reported, not silently dropped
    assert ("S11", "Directions") in DEFAULT_EXCLUSIONS
    assert [(e.subject, e.action) for e in reasons(data.report, rep.EXCLUDED)] == [("S11", "Directions")]
    assert ("S11", "Directions") in data.report.found and ("S11", "Directions") not in data.report.loaded
    assert "excluded: 1" in data.report.summary()
    kept = load_videopose3d(path, exclude=())
    assert ("S11", "Directions") in [s.key for s in kept]


def test_videopose3d_accepts_17_joint_3d(tmp_path, rng):
    pos = metres(rng, 9, joints=17)
    data = load_videopose3d(write_videopose3d_3d(tmp_path / "d3.npz", {"S5": {"Sitting 2": pos}}), cameras=None)
    np.testing.assert_array_equal(data["S5", "Sitting 2"].positions_3d, pos)
    assert data["S5", "Sitting 2"].positions_2d == {}


def test_videopose3d_2d_h36m_with_confidence_trims_lengths_and_reports_missing(tmp_path, rng):
    pos = {"S1": {"Walking": metres(rng, 10), "Eating": metres(rng, 8)}}
    p3 = write_videopose3d_3d(tmp_path / "d3.npz", pos)
    kp = [rng.uniform(0, 1000, (13, 17, 3)).astype(np.float32) for _ in range(4)]  # 3 extra frames
    kp[2] = None  # a release missing one camera
    p2 = write_videopose3d_2d(
        tmp_path / "d2.npz",
        {"S1": {"Walking": kp}},
        {"layout_name": "h36m", "num_joints": 17, "keypoints_symmetry": [H36M17_LEFT, H36M17_RIGHT]},
    )
    data = load_videopose3d(p3, p2)
    seq = data["S1", "Walking"]
    assert seq.num_frames == 10 and seq.source_2d == "d2.npz"
    assert sorted(seq.positions_2d) == [CAMERA_IDS[0], CAMERA_IDS[1], CAMERA_IDS[3]]
    np.testing.assert_array_equal(seq.positions_2d[CAMERA_IDS[3]], kp[3][:10, :, :2])
    np.testing.assert_array_equal(seq.confidences[CAMERA_IDS[1]], kp[1][:10, :, 2])
    trimmed = reasons(data.report, rep.LENGTH_TRIMMED)
    assert len(trimmed) == 1 and "3D 10" in trimmed[0].detail and "-> 10 frames" in trimmed[0].detail
    missing = reasons(data.report, rep.MISSING_2D)
    assert {(e.action, e.camera) for e in missing} == {("Walking", CAMERA_IDS[2]), ("Eating", None)}
    assert data.report.loaded == [("S1", "Walking")]
    # 2D shorter than 3D: the 3D is cut instead
    short = write_videopose3d_2d(
        tmp_path / "short.npz", {"S1": {"Walking": [k[:7] for k in kp if k is not None]}}, {"layout_name": "h36m"}
    )
    seq = load_videopose3d(p3, short, subjects=["S1"], actions=["Walking"])["S1", "Walking"]
    np.testing.assert_array_equal(seq.positions_3d, pos["S1"]["Walking"][:7, H36M32_TO_17])
    with pytest.raises(H36MFormatError, match="no sequence could be loaded"):
        load_videopose3d(p3, short, actions=["Walking"], max_trim=2)


def test_videopose3d_2d_layouts_coco_mpii_h36m32(tmp_path, rng):
    n = 6
    coco = np.concatenate([rng.uniform(0, 1000, (n, 17, 2)), rng.uniform(0.1, 1, (n, 17, 1))], -1).astype(np.float32)
    p = write_videopose3d_2d(
        tmp_path / "coco.npz",
        {"S9": {"Greeting": [coco] * 4}},
        {
            "layout_name": "coco",
            "num_joints": 17,
            "keypoints_symmetry": [[1, 3, 5, 7, 9, 11, 13, 15], [2, 4, 6, 8, 10, 12, 14, 16]],
        },
    )
    seq = load_videopose3d(path_2d=p)["S9", "Greeting"]
    xy, conf = seq.positions_2d[CAMERA_IDS[0]], seq.confidences[CAMERA_IDS[0]]
    np.testing.assert_allclose(xy[:, 0], (coco[:, 11, :2] + coco[:, 12, :2]) / 2, atol=1e-4)  # Hip = mid-hips
    np.testing.assert_array_equal(xy[:, 2], coco[:, 14, :2])  # RKnee = r_knee
    np.testing.assert_array_equal(xy[:, 13], coco[:, 9, :2])  # LWrist = l_wrist
    np.testing.assert_allclose(conf[:, 0], np.minimum(coco[:, 11, 2], coco[:, 12, 2]))
    assert seq.positions_3d is None and seq.cameras  # 2D-only, cameras still attached for H36M subjects

    mpii = rng.uniform(0, 1000, (n, 16, 2)).astype(np.float32)  # VideoPose3D's SH files: no layout_name, 16 joints
    p = write_videopose3d_2d(
        tmp_path / "sh.npz",
        {"S9": {"Greeting": [mpii] * 4}},
        {"num_joints": 16, "keypoints_symmetry": [[3, 4, 5, 13, 14, 15], [0, 1, 2, 10, 11, 12]]},
    )
    xy = load_videopose3d(path_2d=p)["S9", "Greeting"].positions_2d[CAMERA_IDS[1]]
    for i, raw in enumerate(MPII_TO_32):
        np.testing.assert_array_equal(xy[:, H36M32_TO_17.index(raw)], mpii[:, i])

    raw32 = rng.uniform(0, 1000, (n, 32, 2)).astype(np.float32)
    p = write_videopose3d_2d(
        tmp_path / "h32.npz", {"S9": {"Greeting": [raw32] * 4}}, {"layout_name": "h36m", "num_joints": 32}
    )
    xy = load_videopose3d(path_2d=p)["S9", "Greeting"].positions_2d[CAMERA_IDS[2]]
    np.testing.assert_array_equal(xy, raw32[:, H36M32_TO_17])


def test_custom_in_the_wild_2d(tmp_path, rng):
    kp = rng.uniform(0, 640, (20, 17, 2)).astype(np.float32)
    p = write_videopose3d_2d(
        tmp_path / "data_2d_custom_myvideos.npz",
        {"clip_01.mp4": {"custom": [kp]}},
        {
            "layout_name": "coco",
            "num_joints": 17,
            "keypoints_symmetry": [[1, 3, 5, 7, 9, 11, 13, 15], [2, 4, 6, 8, 10, 12, 14, 16]],
            "video_metadata": {"clip_01.mp4": {"w": 640, "h": 360}},
        },
    )
    data = load_videopose3d(path_2d=p)
    seq = data["clip_01.mp4", "custom"]
    assert seq.camera_ids == ["0"] and seq.image_size("0") == (640, 360) and seq.cameras == {}
    np.testing.assert_array_equal(seq.positions_2d["0"][:, 2], kp[:, 14])
    assert seq.confidences is None and data.report.entries == []


@pytest.mark.parametrize(
    "case, match",
    [
        ("joints", r"d3\.npz:positions_3d\['S1'\]\['Walking'\].*shape \(N, 32, 3\).*\(5, 16, 3\)"),
        ("nan", r"positions_3d\['S1'\]\['Walking'\].*NaN.*first frame 2"),
        ("mm", r"positions_3d\['S1'\]\['Walking'\].*expected metres"),
    ],
)
def test_bad_3d_sequence_is_reported_or_raised(tmp_path, rng, case, match):
    bad = metres(rng, 5)
    if case == "joints":
        bad = bad[:, :16]
    elif case == "nan":
        bad[2, 4, 1] = np.nan
    else:
        bad = bad * 1000
    p = write_videopose3d_3d(tmp_path / "d3.npz", {"S1": {"Walking": bad, "Eating": metres(rng, 5)}})
    with pytest.raises(H36MFormatError, match=match):
        load_videopose3d(p, strict=True)
    data = load_videopose3d(p)
    assert [s.key for s in data] == [("S1", "Eating")]
    (entry,) = reasons(data.report, rep.CORRUPT)
    assert (entry.subject, entry.action) == ("S1", "Walking")
    assert "d3.npz" in entry.detail


def test_bad_files_raise_clear_errors(tmp_path, rng):
    with pytest.raises(FileNotFoundError, match="nothing.npz"):
        load_videopose3d(tmp_path / "nothing.npz")
    np.savez(tmp_path / "nokey.npz", poses=np.zeros(3))
    with pytest.raises(H36MFormatError, match=r"nokey\.npz: no key 'positions_3d'.*poses"):
        load_videopose3d(tmp_path / "nokey.npz")
    np.savez(tmp_path / "nodict.npz", positions_3d=np.zeros((3, 17, 3)))
    with pytest.raises(H36MFormatError, match="pickled dict"):
        load_videopose3d(tmp_path / "nodict.npz")
    p = write_videopose3d_3d(tmp_path / "cut.npz", {"S1": {"Walking": metres(rng, 200)}})
    with pytest.raises(H36MFormatError, match=r"cut\.npz.*truncated"):
        load_videopose3d(truncate_file(p, 0.6))
    # five views for an H36M subject: there is no fifth camera
    kp = [rng.uniform(0, 1000, (4, 17, 2)) for _ in range(5)]
    p2 = write_videopose3d_2d(tmp_path / "five.npz", {"S1": {"Walking": kp}})
    with pytest.raises(H36MFormatError, match="5 camera views.*4 cameras"):
        load_videopose3d(path_2d=p2, strict=True)
    p2 = write_videopose3d_2d(
        tmp_path / "five2.npz", {"S1": {"Walking": kp, "Eating": kp[:4]}}, {"layout_name": "h36m"}
    )
    entries = load_videopose3d(path_2d=p2).report.entries
    assert [e.reason for e in entries if e.reason != rep.MISSING_SEQUENCE] == [rep.UNKNOWN_CAMERA]
    # metadata that contradicts the arrays
    p2 = write_videopose3d_2d(tmp_path / "meta.npz", {"S1": {"Walking": kp[:4]}}, {"num_joints": 16})
    with pytest.raises(H36MFormatError, match="num_joints=16.*17"):
        load_videopose3d(path_2d=p2, strict=True)
    p2 = write_videopose3d_2d(
        tmp_path / "sym.npz",
        {"S1": {"Walking": kp[:4]}},
        {"layout_name": "h36m", "num_joints": 17, "keypoints_symmetry": [[1, 2], [3, 4]]},
    )
    with pytest.raises(H36MFormatError, match="keypoints_symmetry.*does not match"):
        load_videopose3d(path_2d=p2, strict=True)
    p2 = write_videopose3d_2d(tmp_path / "odd.npz", {"S1": {"Walking": [k[:, :15] for k in kp[:4]]}})
    with pytest.raises(H36MFormatError, match="cannot tell the joint layout of 15 joints"):
        load_videopose3d(path_2d=p2, strict=True)


def test_select_stride_and_splits(tmp_path, rng):
    pos = {s: {"Walking 1": metres(rng, 10), "Eating": metres(rng, 4)} for s in TRAIN_SUBJECTS + TEST_SUBJECTS}
    data = load_videopose3d(write_videopose3d_3d(tmp_path / "d3.npz", pos), cameras=None)
    sub = data.select(subjects=["S5"], actions=["Walking"], stride=3)
    assert [s.key for s in sub] == [("S5", "Walking 1")]
    np.testing.assert_array_equal(sub[0].positions_3d, pos["S5"]["Walking 1"][0::3, H36M32_TO_17])
    assert sub[0].fps == pytest.approx(50 / 3)

    splits = split_protocol(data)
    assert splits.train.subjects() == list(TRAIN_SUBJECTS) and splits.test.subjects() == list(TEST_SUBJECTS)
    assert len(splits.val) == 0
    splits = split_protocol(data, val_subjects=("S8",))
    assert splits.val.subjects() == ["S8"] and "S8" not in splits.train.subjects()
    splits = split_protocol(data, SplitConfig(val_every=3, val_offset=1))
    train_keys = sorted(((int(s[1:]), a) for s in TRAIN_SUBJECTS for a in pos[s]))
    expected_val = [k for i, k in enumerate(train_keys) if i % 3 == 1]
    assert sorted((int(s.subject[1:]), s.action) for s in splits.val) == expected_val
    assert not {s.subject for s in splits.val} & set(TEST_SUBJECTS)
    assert len(splits.train) + len(splits.val) == 2 * len(TRAIN_SUBJECTS)
    with pytest.raises(ValueError, match="never use test subjects"):
        SplitConfig(val_subjects=("S9",))


# ---------------------------------------------------------------------------------------------------------
# Martinez et al. h5 tree


def test_martinez_tree_3d_and_stacked_hourglass(tmp_path, rng, cam_json):
    walk_mm, dog_mm, photo_mm = make_poses_mm(rng, 9), make_poses_mm(rng, 6), make_poses_mm(rng, 5)
    write_martinez_3d(tmp_path, "S1", "Walking 1", walk_mm)
    write_martinez_3d(tmp_path, "S1", "WalkingDog", dog_mm)
    write_martinez_3d(tmp_path, "S1", "TakingPhoto 1", photo_mm)
    write_martinez_3d(tmp_path, "S11", "Directions", make_poses_mm(rng, 4))
    sh = {cam: rng.uniform(0, 1000, (11, 16, 2)) for cam in CAMERA_IDS}  # 2 extra video frames
    write_martinez_sh(tmp_path, "S1", "Walking_1", CAMERA_IDS[0], sh[CAMERA_IDS[0]])  # '_' in the name
    write_martinez_sh(tmp_path, "S1", "Walking 1", CAMERA_IDS[1], sh[CAMERA_IDS[1]])  # space in the name
    write_martinez_sh(tmp_path, "S1", "WalkingDog", CAMERA_IDS[3], sh[CAMERA_IDS[3]][:6])
    write_martinez_sh(tmp_path, "S1", "TakingPhoto_1", "12345678", sh[CAMERA_IDS[2]][:5])  # no such camera

    gt = load_martinez(tmp_path)  # no detections: ground-truth 2D
    assert sorted(s.key for s in gt) == [("S1", "Photo 1"), ("S1", "WalkDog"), ("S1", "Walking 1")]
    seq = gt["S1", "Walking 1"]
    np.testing.assert_allclose(seq.positions_3d, walk_mm[:, H36M32_TO_17] / 1000, rtol=0, atol=1e-6)
    np.testing.assert_allclose(seq.positions_3d[:, 11], walk_mm[:, 17] / 1000, rtol=0, atol=1e-6)
    np.testing.assert_allclose(
        seq.positions_2d[CAMERA_IDS[2]],
        project_numpy(walk_mm[:, H36M32_TO_17] / 1000, cam_json, "S1", CAMERA_IDS[2]),
        atol=1e-3,
    )
    assert [(e.subject, e.action) for e in reasons(gt.report, rep.EXCLUDED)] == [("S11", "Directions")]

    det = load_martinez(tmp_path, detections="StackedHourglass")
    seq = det["S1", "Walking 1"]
    assert seq.num_frames == 9 and sorted(seq.positions_2d) == sorted(CAMERA_IDS[:2])
    for i, raw in enumerate(MPII_TO_32):
        np.testing.assert_allclose(
            seq.positions_2d[CAMERA_IDS[1]][:, H36M32_TO_17.index(raw)], sh[CAMERA_IDS[1]][:9, i], atol=1e-4
        )
    neck = seq.positions_2d[CAMERA_IDS[0]][:, 9]  # not detected by SH: derived on the thorax-head segment
    thorax, head = sh[CAMERA_IDS[0]][:9, 8], sh[CAMERA_IDS[0]][:9, 9]
    cross = (neck - thorax)[:, 0] * (head - thorax)[:, 1] - (neck - thorax)[:, 1] * (head - thorax)[:, 0]
    np.testing.assert_allclose(cross / np.linalg.norm(head - thorax, axis=-1) ** 2, 0, atol=1e-4)
    assert {(e.action, e.camera) for e in reasons(det.report, rep.MISSING_2D)} == {
        ("Walking 1", CAMERA_IDS[2]),
        ("Walking 1", CAMERA_IDS[3]),
        ("WalkDog", CAMERA_IDS[0]),
        ("WalkDog", CAMERA_IDS[1]),
        ("WalkDog", CAMERA_IDS[2]),
        ("Photo 1", None),
    }
    assert [e.camera for e in reasons(det.report, rep.UNKNOWN_CAMERA)] == ["12345678"]
    assert [(e.action, e.detail.split(" -> ")[1]) for e in reasons(det.report, rep.LENGTH_TRIMMED)] == [
        ("Walking 1", "9 frames")
    ]
    assert sorted(det.report.loaded) == [("S1", "WalkDog"), ("S1", "Walking 1")]


def test_martinez_cameras_h5_used_when_present(tmp_path, rng, cam_json):
    walk_mm = make_poses_mm(rng, 5)
    write_martinez_3d(tmp_path, "S9", "Walking", walk_mm)
    write_martinez_cameras_h5(tmp_path / "cameras.h5", cam_json, subjects=("S9",))
    seq = load_martinez(tmp_path)["S9", "Walking"]
    for cam in CAMERA_IDS:
        np.testing.assert_allclose(
            seq.positions_2d[cam], project_numpy(walk_mm[:, H36M32_TO_17] / 1000, cam_json, "S9", cam), atol=1e-3
        )


def test_martinez_corrupt_files_skipped_and_reported(tmp_path, rng):
    write_martinez_3d(tmp_path, "S5", "Eating", make_poses_mm(rng, 5))
    cut = write_martinez_3d(tmp_path, "S5", "Smoking", make_poses_mm(rng, 400))
    truncate_file(cut, 0.3)
    import h5py

    (tmp_path / "S5" / "MyPoses" / "3D_positions" / "Posing.h5").parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(tmp_path / "S5" / "MyPoses" / "3D_positions" / "Posing.h5", "w") as f:
        f["positions"] = np.zeros((96, 3))
    with h5py.File(tmp_path / "S5" / "MyPoses" / "3D_positions" / "Waiting.h5", "w") as f:
        f["3D_positions"] = np.zeros((3, 96))  # transposed: (N, 96) instead of (96, N)
    data = load_martinez(tmp_path, cameras=None)
    assert [s.key for s in data] == [("S5", "Eating")]
    corrupt = {e.action: e.detail for e in reasons(data.report, rep.CORRUPT)}
    assert set(corrupt) == {"Smoking", "Posing", "Waiting"}
    assert "Smoking.h5" in corrupt["Smoking"] and "truncated" in corrupt["Smoking"]
    assert "Posing.h5: no dataset '3D_positions'" in corrupt["Posing"] and "positions" in corrupt["Posing"]
    assert "(96, N)" in corrupt["Waiting"] and "(3, 96)" in corrupt["Waiting"]
    assert "3 skipped" in data.report.summary()
    with pytest.raises(H36MFormatError, match="Posing.h5"):
        load_martinez(tmp_path, cameras=None, actions=["Posing"], strict=True)
    with pytest.raises(FileNotFoundError, match="no Human3.6M sequences"):
        load_martinez(tmp_path / "S5")


# ---------------------------------------------------------------------------------------------------------
# original release (CDF) and the converter


@pytest.mark.parametrize(
    "majority, var_type, dtype", [("Row_major", "zVariable", np.float64), ("Column_major", "rVariable", np.float32)]
)
def test_cdf_release_reader(tmp_path, rng, majority, var_type, dtype):
    mm = make_poses_mm(rng, 7)
    write_cdf_pose(tmp_path, "S6", "WalkingDog 1", mm, majority=majority, var_type=var_type, dtype=dtype)
    data = load_h36m_release(tmp_path, cameras=None)
    seq = data["S6", "WalkDog 1"]
    np.testing.assert_allclose(seq.positions_3d, mm.astype(dtype)[:, H36M32_TO_17] / 1000, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(seq.positions_3d[:, 11], mm[:, 17] / 1000, rtol=1e-6, atol=1e-6)
    assert load_h36m(tmp_path, cameras=None)["S6", "WalkDog 1"].num_frames == 7


def test_cdf_corrupt_file_reported(tmp_path, rng):
    write_cdf_pose(tmp_path, "S7", "Eating", make_poses_mm(rng, 4))
    truncate_file(write_cdf_pose(tmp_path, "S7", "Phoning", make_poses_mm(rng, 300)), 0.4)
    data = load_h36m_release(tmp_path, cameras=None)
    assert [s.key for s in data] == [("S7", "Eating")]
    (entry,) = reasons(data.report, rep.CORRUPT)
    assert entry.action == "Phoning" and "Phoning.cdf" in entry.detail
    with pytest.raises(H36MFormatError, match="Phoning.cdf"):
        load_h36m_release(tmp_path, cameras=None, strict=True)


def test_convert_release_writes_videopose3d_layout(tmp_path, rng, cam_json):
    root = tmp_path / "h36m"
    mm = {"Walking": make_poses_mm(rng, 8), "TakingPhoto": make_poses_mm(rng, 5)}
    for action, poses in mm.items():
        write_cdf_pose(root, "S1", action, poses)
    write_cdf_pose(root, "S11", "Directions", make_poses_mm(rng, 3))
    write_cdf_pose(root, "S11", "Greeting 2", make_poses_mm(rng, 4))
    truncate_file(write_cdf_pose(root, "S11", "Sitting", make_poses_mm(rng, 300)), 0.5)

    result = convert_h36m_release(root, tmp_path / "out", exclude=DEFAULT_EXCLUSIONS)
    assert result.path_3d == tmp_path / "out" / "data_3d_h36m.npz"
    positions = np.load(result.path_3d, allow_pickle=True)["positions_3d"].item()
    assert sorted(positions) == ["S1", "S11"] and sorted(positions["S1"]) == ["Photo", "Walking"]
    assert sorted(positions["S11"]) == ["Greeting 2"]  # Directions excluded, Sitting corrupt
    walk = positions["S1"]["Walking"]
    assert walk.dtype == np.float32 and walk.shape == (8, 32, 3)
    np.testing.assert_allclose(walk, mm["Walking"] / 1000, rtol=0, atol=1e-6)
    assert {e.reason for e in result.report.entries} == {rep.EXCLUDED, rep.CORRUPT, rep.MISSING_SEQUENCE}
    assert ("S1", "Walking", "found 1") in [
        (e.subject, e.action, e.detail.split(", ")[1][:7]) for e in reasons(result.report, rep.MISSING_SEQUENCE)
    ]

    npz = np.load(result.path_2d, allow_pickle=True)
    gt2d, meta = npz["positions_2d"].item(), npz["metadata"].item()
    assert meta["num_joints"] == 17 and meta["keypoints_symmetry"] == [H36M17_LEFT, H36M17_RIGHT]
    assert len(gt2d["S1"]["Walking"]) == 4
    for k, cam in enumerate(CAMERA_IDS):
        np.testing.assert_allclose(
            gt2d["S1"]["Walking"][k],
            project_numpy(mm["Walking"][:, H36M32_TO_17] / 1000, cam_json, "S1", cam),
            atol=1e-3,
        )
    # what was written loads back through the VideoPose3D reader with the same numbers
    back = load_videopose3d(result.path_3d, result.path_2d)
    np.testing.assert_array_equal(back["S1", "Photo"].positions_3d, positions["S1"]["Photo"][:, H36M32_TO_17])

    assert (
        convert_main(
            ["--root", str(root), "--out", str(tmp_path / "cli" / "d3.npz"), "--no-gt-2d", "--subjects", "S11"]
        )
        == 0
    )
    cli = np.load(tmp_path / "cli" / "d3.npz", allow_pickle=True)["positions_3d"].item()
    assert (
        sorted(cli["S11"]) == ["Directions", "Greeting 2"] and not (tmp_path / "cli" / "data_2d_h36m_gt.npz").exists()
    )
    assert convert_main(["--root", str(tmp_path / "missing"), "--out", str(tmp_path / "x")]) == 1
    assert convert_main(["--root", str(root), "--out", str(tmp_path / "y"), "--strict"]) == 1
    assert not (tmp_path / "y").exists() or not any((tmp_path / "y").iterdir())


def test_canonical_action_names():
    assert canonical_action_name("TakingPhoto_1") == "Photo 1"
    assert canonical_action_name("WalkingDog") == "WalkDog"
    assert canonical_action_name("Walking_1") == "Walking 1"
    assert canonical_action_name("WalkTogether 2") == "WalkTogether 2"


def test_convert_martinez_tree(tmp_path, rng):
    mm = make_poses_mm(rng, 6)
    write_martinez_3d(tmp_path, "S8", "WalkingDog 1", mm)
    result = convert_h36m_release(tmp_path, tmp_path / "out" / "data_3d_custom.npz", gt_2d=False)
    assert result.path_2d is None
    positions = np.load(result.path_3d, allow_pickle=True)["positions_3d"].item()
    np.testing.assert_allclose(positions["S8"]["WalkDog 1"], mm / 1000, rtol=0, atol=1e-6)


def test_one_corrupt_detection_file_costs_only_its_view(tmp_path, rng):
    write_martinez_3d(tmp_path, "S7", "Waiting 1", make_poses_mm(rng, 5))
    sh = rng.uniform(0, 1000, (5, 16, 2))
    for cam in CAMERA_IDS[:3]:
        write_martinez_sh(tmp_path, "S7", "Waiting_1", cam, sh)
    truncate_file(write_martinez_sh(tmp_path, "S7", "Waiting_1", CAMERA_IDS[3], rng.uniform(0, 9, (900, 16, 2))), 0.5)
    data = load_martinez(tmp_path, detections="StackedHourglass")
    assert sorted(data["S7", "Waiting 1"].positions_2d) == sorted(CAMERA_IDS[:3])
    (entry,) = reasons(data.report, rep.CORRUPT)
    assert entry.camera == CAMERA_IDS[3] and f"Waiting_1.{CAMERA_IDS[3]}.h5" in entry.detail
    with pytest.raises(H36MFormatError, match=f"Waiting_1.{CAMERA_IDS[3]}.h5.*'poses'"):
        load_martinez(tmp_path, detections="StackedHourglass", strict=True)


def test_incomplete_release_is_counted_per_action(tmp_path, rng):
    small = metres(rng, 2)
    full = {s: {name: small for a in H36M_ACTIONS for name in (a, f"{a} 1")} for s in ("S1", "S11")}
    del full["S1"]["Eating 1"]
    del full["S11"]["Photo"], full["S11"]["Photo 1"]
    data = load_videopose3d(write_videopose3d_3d(tmp_path / "d3.npz", full), cameras=None)
    missing = [(e.subject, e.action, e.detail) for e in reasons(data.report, rep.MISSING_SEQUENCE)]
    assert missing == [
        ("S1", "Eating", "expected 2 sequences of Eating for S1, found 1: ['Eating']"),
        ("S11", "Photo", "expected 2 sequences of Photo for S11, found 0"),
    ]
    assert len(data) == 29 + 27  # S11 Directions excluded (reported separately), not counted as missing
    assert (
        reasons(
            load_videopose3d(
                write_videopose3d_3d(tmp_path / "d3b.npz", full), cameras=None, actions=["Walking", "Photo"]
            ).report,
            rep.MISSING_SEQUENCE,
        )[0].action
        == "Photo"
    )
    # H36M-format files of other motion (weakpose's synthetic data) are not checked against the H36M action list
    other = load_videopose3d(
        write_videopose3d_3d(tmp_path / "o.npz", {"S1": {"Walking": small, "Hop": small}}), cameras=None
    )
    assert other.report.entries == []


def test_weakpose_synthetic_files_load_unchanged(tmp_path, cam_json):
    from weakpose.data.synthetic.keypoints import make_synthetic

    paths = make_synthetic(tmp_path, max_frames=30)
    data = load_videopose3d(paths.data_3d, paths.data_2d)
    assert data.report.entries == [] and len(data) == len(data.report.found)
    raw3 = np.load(paths.data_3d, allow_pickle=True)["positions_3d"].item()
    raw2 = np.load(paths.data_2d, allow_pickle=True)["positions_2d"].item()
    seq = data.sequences[0]
    np.testing.assert_array_equal(seq.positions_3d, raw3[seq.subject][seq.action])
    for k, cam in enumerate(CAMERA_IDS):
        np.testing.assert_array_equal(seq.positions_2d[cam], raw2[seq.subject][seq.action][k])
        np.testing.assert_allclose(
            seq.positions_2d[cam], project_numpy(seq.positions_3d, cam_json, seq.subject, cam), atol=1e-3
        )


def test_17_joint_files_without_layout_are_refused_unless_symmetry_or_layout_tells(tmp_path, rng):
    """COCO-17 read as H36M-17 would be silently wrong in every joint: a bare 17-joint file is refused."""
    kp = [rng.uniform(0, 1000, (5, 17, 2)).astype(np.float32) for _ in range(4)]
    bare = write_videopose3d_2d(tmp_path / "bare.npz", {"S9": {"Greeting": kp}}, {"num_joints": 17})
    with pytest.raises(H36MFormatError, match=r"bare\.npz.*17 joints and no metadata layout_name.*--layout coco17"):
        load_videopose3d(path_2d=bare, strict=True)
    as_h36m = load_videopose3d(path_2d=bare, layout="h36m17")["S9", "Greeting"].positions_2d[CAMERA_IDS[0]]
    np.testing.assert_array_equal(as_h36m, kp[0])
    # VideoPose3D's keypoints_symmetry alone tells the two apart
    coco_sym = [[1, 3, 5, 7, 9, 11, 13, 15], [2, 4, 6, 8, 10, 12, 14, 16]]
    sym = write_videopose3d_2d(tmp_path / "sym.npz", {"S9": {"Greeting": kp}}, {"keypoints_symmetry": coco_sym})
    via_sym = load_videopose3d(path_2d=sym)["S9", "Greeting"].positions_2d[CAMERA_IDS[0]]
    explicit = load_videopose3d(path_2d=bare, layout="coco17")["S9", "Greeting"].positions_2d[CAMERA_IDS[0]]
    np.testing.assert_array_equal(via_sym, explicit)
    assert not np.allclose(via_sym, as_h36m)
    h36m_sym = write_videopose3d_2d(
        tmp_path / "hsym.npz", {"S9": {"Greeting": kp}}, {"keypoints_symmetry": [H36M17_LEFT, H36M17_RIGHT]}
    )
    np.testing.assert_array_equal(
        load_videopose3d(path_2d=h36m_sym)["S9", "Greeting"].positions_2d[CAMERA_IDS[0]], kp[0]
    )


def test_2d_shorter_than_3d_warns_with_counts_and_is_refused_beyond_a_few_frames(tmp_path, rng, caplog):
    from weakpose.data.h36m.loaders import MAX_3D_FRAMES_DROPPED

    pos = {"S1": {"Walking": metres(rng, 20)}}
    p3 = write_videopose3d_3d(tmp_path / "d3.npz", pos)
    meta = {"layout_name": "h36m"}
    few = 20 - MAX_3D_FRAMES_DROPPED
    kp = [rng.uniform(0, 1000, (few, 17, 2)).astype(np.float32) for _ in range(4)]
    p2 = write_videopose3d_2d(tmp_path / "few.npz", {"S1": {"Walking": kp}}, meta)
    with caplog.at_level("WARNING"):
        seq = load_videopose3d(p3, p2)["S1", "Walking"]
    assert seq.num_frames == few
    assert (
        f"the 2D has {few} frames and the 3D 20: the last {MAX_3D_FRAMES_DROPPED} frames of 3D are dropped"
        in caplog.text
        and "few.npz" in caplog.text
    )
    many = write_videopose3d_2d(tmp_path / "many.npz", {"S1": {"Walking": [k[: few - 1] for k in kp]}}, meta)
    # the refusal is in the load report that the error carries
    with pytest.raises(
        H36MFormatError,
        match=rf"no sequence could be loaded(.|\n)*S1/Walking: length mismatch "
        rf"\(3D 20.*the 2D is {MAX_3D_FRAMES_DROPPED + 1} frames shorter",
    ):
        load_videopose3d(p3, many)
    # longer 2D (extra video frames, as in the real release) is trimmed to the mocap quietly, as VideoPose3D does
    longer = write_videopose3d_2d(
        tmp_path / "long.npz",
        {"S1": {"Walking": [rng.uniform(0, 1000, (27, 17, 2)).astype(np.float32) for _ in range(4)]}},
        meta,
    )
    assert load_videopose3d(p3, longer)["S1", "Walking"].num_frames == 20
