"""Per-sample torch datasets over loaded sequences: windows, padding, camera frames, normalisation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from fixtures_h36m import (
    CAMERA_IDS,
    H36M32_TO_17,
    load_camera_json,
    make_poses_mm,
    world_to_camera_numpy,
    write_videopose3d_2d,
    write_videopose3d_3d,
)
from torch.utils.data import DataLoader

from weakpose.data.datasets.poses import PoseFrameDataset, PoseWindowDataset, window_indices
from weakpose.data.h36m.loaders import load_videopose3d

CAMERA_JSON = Path(__file__).resolve().parents[1] / "weakpose" / "data" / "assets" / "h36m_cameras.json"


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    rng = np.random.default_rng(1)
    tmp = tmp_path_factory.mktemp("ds")
    pos = {
        "S1": {
            "Walking": (make_poses_mm(rng, 6) / 1000).astype(np.float32),
            "Eating 2": (make_poses_mm(rng, 4) / 1000).astype(np.float32),
        }
    }
    kp = {
        "S1": {
            a: [rng.uniform(0, 1000, (len(p), 17, 3)).astype(np.float32) for _ in CAMERA_IDS]
            for a, p in pos["S1"].items()
        }
    }
    data = load_videopose3d(
        write_videopose3d_3d(tmp / "d3.npz", pos), write_videopose3d_2d(tmp / "d2.npz", kp, {"layout_name": "h36m"})
    )
    return data, pos, kp, load_camera_json(CAMERA_JSON)


def normalised(uv, w, h):
    return np.stack([uv[..., 0] / w * 2 - 1, uv[..., 1] / w * 2 - h / w], axis=-1)


def test_window_indices_edge_padding_by_hand():
    idx, valid = window_indices(0, 6, 5)
    assert idx.tolist() == [0, 0, 0, 1, 2] and valid.tolist() == [False, False, True, True, True]
    idx, valid = window_indices(5, 6, 5)
    assert idx.tolist() == [3, 4, 5, 5, 5] and valid.tolist() == [True, True, True, False, False]
    idx, _ = window_indices(3, 6, 3)
    assert idx.tolist() == [2, 3, 4]
    idx, valid = window_indices(1, 6, 5, causal=True)
    assert idx.tolist() == [0, 0, 0, 0, 1] and valid.tolist() == [False, False, False, True, True]


def test_window_samples_match_hand_indices_and_numpy_camera_frame(setup):
    data, pos, kp, cams = setup
    ds = PoseWindowDataset(data.select(actions=["Walking"]), receptive_field=5, cameras=[CAMERA_IDS[3]])
    assert len(ds) == 6
    w, h = 1000, 1002  # camera 60457274
    for center, hand in [(0, [0, 0, 0, 1, 2]), (2, [0, 1, 2, 3, 4]), (5, [3, 4, 5, 5, 5])]:
        s = ds[center]
        assert s["frame"] == center and s["camera"] == CAMERA_IDS[3] and s["action"] == "Walking"
        expected_2d = normalised(kp["S1"]["Walking"][3][hand, :, :2].astype(np.float64), w, h)
        np.testing.assert_allclose(s["keypoints_2d"].numpy(), expected_2d, atol=1e-6)
        np.testing.assert_allclose(s["confidence"].numpy(), kp["S1"]["Walking"][3][hand, :, 2], atol=1e-7)
        world = pos["S1"]["Walking"][center, H36M32_TO_17]
        cam = world_to_camera_numpy(world, cams, "S1", CAMERA_IDS[3])
        np.testing.assert_allclose(s["root_3d"].numpy(), cam[0], atol=1e-5)
        np.testing.assert_allclose(s["pose_3d"].numpy(), cam - cam[0], atol=1e-5)
        assert s["pose_3d"][0].abs().max() == 0
        assert s["valid"].tolist() == [0 <= center - 2 + k < 6 for k in range(5)]
    K = np.asarray(cams["intrinsics"][CAMERA_IDS[3]]["calibration_matrix"])
    k1, k2, p1, p2, k3 = cams["intrinsics"][CAMERA_IDS[3]]["distortion"]
    expected = [K[0, 0] / w * 2, K[1, 1] / w * 2, K[0, 2] / w * 2 - 1, K[1, 2] / w * 2 - h / w, k1, k2, k3, p1, p2]
    np.testing.assert_allclose(ds[0]["intrinsics"].numpy(), expected, rtol=1e-6)
    np.testing.assert_allclose(ds[0]["K"].numpy(), K, rtol=1e-6)
    assert ds[0]["image_size"].tolist() == [w, h]


def test_window_target_and_causal(setup):
    data, pos, _, cams = setup
    ds = PoseWindowDataset(
        data.select(actions=["Eating"]), receptive_field=3, cameras=[CAMERA_IDS[0]], target="window", causal=True
    )
    s = ds[1]  # causal window ending at frame 1: frames [0, 0, 1]
    cam = world_to_camera_numpy(pos["S1"]["Eating 2"][[0, 0, 1]][:, H36M32_TO_17], cams, "S1", CAMERA_IDS[0])
    np.testing.assert_allclose(s["pose_3d"].numpy(), cam - cam[:, :1], atol=1e-5)
    np.testing.assert_allclose(s["root_3d"].numpy(), cam[:, 0], atol=1e-5)


def test_frames_stride_cameras_ids_and_collation(setup):
    data, pos, kp, _ = setup
    ds = PoseFrameDataset(data, frame_stride=3)
    # Eating 2 (4 frames) -> targets 0, 3; Walking (6) -> 0, 3; four cameras each
    assert len(ds) == 4 * (2 + 2)
    frames = sorted({(s["action"], s["frame"]) for s in (ds[i] for i in range(len(ds)))})
    assert frames == [("Eating 2", 0), ("Eating 2", 3), ("Walking", 0), ("Walking", 3)]
    s = ds[0]
    assert s["keypoints_2d"].shape == (17, 2) and s["confidence"].shape == (17,) and "valid" not in s
    assert ds.subjects[s["subject_id"]] == "S1" and ds.actions[s["action_id"]] == "Eating"
    batch = next(iter(DataLoader(ds, batch_size=4, shuffle=False)))
    assert batch["keypoints_2d"].shape == (4, 17, 2) and batch["pose_3d"].shape == (4, 17, 3)
    assert batch["camera"] == [CAMERA_IDS[0]] * 2 + [CAMERA_IDS[1]] * 2  # view by view, frames in order
    assert batch["frame"].tolist() == [0, 3, 0, 3] and batch["pose_3d"].dtype == torch.float32
    with pytest.raises(KeyError, match="12345"):
        PoseFrameDataset(data, cameras=["12345"])
    with pytest.raises(ValueError, match="odd"):
        PoseWindowDataset(data, receptive_field=4)
    with pytest.raises(IndexError):
        ds[len(ds)]


def test_two_d_only_sequences(tmp_path):
    rng = np.random.default_rng(2)
    kp = rng.uniform(0, 640, (5, 17, 2)).astype(np.float32)
    p = write_videopose3d_2d(
        tmp_path / "custom.npz",
        {"video": {"custom": [kp]}},
        {"layout_name": "h36m", "num_joints": 17, "video_metadata": {"video": {"w": 640, "h": 480}}},
    )
    data = load_videopose3d(path_2d=p)
    assert len(PoseFrameDataset(data)) == 0  # require_3d by default
    ds = PoseWindowDataset(data, receptive_field=3, require_3d=False)
    s = ds[4]
    np.testing.assert_allclose(
        s["keypoints_2d"].numpy(), normalised(kp[[3, 4, 4]].astype(np.float64), 640, 480), atol=1e-6
    )
    assert not s["has_3d"] and torch.isnan(s["pose_3d"]).all() and s["action_id"] == ds.actions.index("custom")
