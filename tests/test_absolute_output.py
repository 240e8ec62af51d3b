"""Absolute (camera- and world-frame) output from a lifter file's trajectory model, RepNet's lifter.pt and
`weakpose evaluate` on the other Human3.6M sources, each checked against a computation written out here."""

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from fixtures_h36m import (
    load_camera_json,
    make_poses_mm,
    project_numpy,
    world_to_camera_numpy,
    write_martinez_3d,
    write_martinez_sh,
)

import weakpose
from weakpose.cli import main as cli
from weakpose.data.h36m.cameras import default_h36m_cameras_path
from weakpose.data.synthetic.keypoints import make_synthetic
from weakpose.lifters import load_lifter, load_trajectory, save_lifter
from weakpose.models import MLPLifter
from weakpose.models.temporal import TemporalLifter, TrajectoryModel

ROOT = Path(__file__).resolve().parent.parent
KW = dict(filter_widths=[3, 3], channels=16, dropout=0.0)


def _randomised(model: torch.nn.Module, seed: int) -> torch.nn.Module:
    """Fresh batch-norm statistics are the identity: give them values so the test sees them used."""
    torch.manual_seed(seed)
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm1d):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 1.5)
    return model.eval()


@pytest.fixture(scope="module")
def lifter_with_root(tmp_path_factory):
    d = tmp_path_factory.mktemp("abs")
    torch.manual_seed(0)
    pose, traj = _randomised(TemporalLifter(**KW), 1), _randomised(TrajectoryModel(**KW), 2)
    path = save_lifter(d / "lifter.pt", pose, "temporal", KW, trajectory=traj)
    return d, path, pose, traj


def test_trajectory_travels_in_the_lifter_file(lifter_with_root, tmp_path):
    _, path, pose, traj = lifter_with_root
    model, info = load_lifter(path)
    assert info["has_trajectory"] and "trajectory" not in info
    loaded = load_trajectory(path)
    x = torch.randn(1, 20, 17, 2)
    torch.testing.assert_close(loaded(x, pad_edges=True), traj(x, pad_edges=True))
    no_root = save_lifter(tmp_path / "plain.pt", pose, "temporal", KW)
    assert load_trajectory(no_root) is None and not load_lifter(no_root)[1]["has_trajectory"]


def test_lift_api_absolute_output_is_relative_plus_root_and_world_follows_the_camera(lifter_with_root, rng):
    _, path, pose, traj = lifter_with_root
    w, h = 1000, 1002
    kp = (rng.uniform(300, 700, (1, 17, 2)) + np.cumsum(rng.normal(0, 3, (30, 1, 2)), 0)).astype(np.float32)
    R = np.linalg.qr(rng.normal(size=(3, 3)))[0]
    R *= np.sign(np.linalg.det(R))
    t = np.array([0.2, -0.1, 4.0])
    result = weakpose.lift(kp, layout="h36m17", image_size=(w, h), checkpoint=path, camera={"R": R, "t": t})
    # independent: normalise by hand, run both networks on edge-padded input, softplus depth
    norm = np.stack([kp[..., 0] / w * 2 - 1, kp[..., 1] / w * 2 - h / w], -1)
    x = torch.as_tensor(norm)[None]
    with torch.no_grad():
        rel = pose(x, pad_edges=True)[0].numpy()
        raw = traj(x, pad_edges=True)[0, :, 0].numpy()
    root = np.concatenate([raw[:, :2], 0.5 + np.log1p(np.exp(raw[:, 2:] + 4.0))], -1)
    np.testing.assert_allclose(result.relative, rel, atol=1e-5)
    np.testing.assert_allclose(result.root, root, atol=1e-5)
    np.testing.assert_allclose(result.camera_frame, rel + root[:, None], atol=1e-5)
    np.testing.assert_allclose(result.world, (result.camera_frame - t) @ R, atol=1e-5)
    assert result.interpolated.sum() == 0 and result.keypoints_2d.shape == (30, 17, 2)


def test_lift_api_refuses_an_ambiguous_17_joint_array(lifter_with_root, rng):
    _, path, _, _ = lifter_with_root
    kp = rng.uniform(100, 500, (10, 17, 2))
    with pytest.raises(ValueError, match="coco17.*h36m17|h36m17.*coco17"):
        weakpose.lift(kp, image_size=(640, 480), checkpoint=path)
    with pytest.raises(ValueError, match="image_size"):
        weakpose.lift(kp, layout="coco17", checkpoint=path)


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    d = tmp_path_factory.mktemp("syn")
    return make_synthetic(d, max_frames=30, include_bvh=False, actions=["Walking", "Jumping"])


def test_evaluate_reports_root_error_and_absolute_mpjpe(lifter_with_root, synthetic, tmp_path, capsys):
    _, path, pose, traj = lifter_with_root
    out = tmp_path / "eval.json"
    assert (
        cli(
            [
                "evaluate",
                "--checkpoint",
                str(path),
                "--data3d",
                str(synthetic.data_3d),
                "--data2d",
                str(synthetic.data_2d),
                "--out",
                str(out),
                "--by-subject",
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out
    assert "MRPE and Abs-MPJPE camera frame, predicted root" in printed and "Subject S9" in printed
    doc = json.loads(out.read_text())
    assert (tmp_path / "eval_S9.json").is_file() and (tmp_path / "eval_S11.json").is_file()
    # independent: every test view lifted by hand, targets from the file's cameras
    from weakpose.data.h36m.loaders import load_videopose3d

    data = load_videopose3d(synthetic.data_3d, synthetic.data_2d).select(subjects=["S9", "S11"])
    root_err, abs_err = [], []
    for seq in data:
        for cam_id, kp in seq.positions_2d.items():
            w, h = seq.image_size(cam_id)
            x = torch.as_tensor(np.stack([kp[..., 0] / w * 2 - 1, kp[..., 1] / w * 2 - h / w], -1))[None]
            with torch.no_grad():
                rel = pose(x, pad_edges=True)[0].numpy()
                raw = traj(x, pad_edges=True)[0, :, 0].numpy()
            root = np.concatenate([raw[:, :2], 0.5 + np.log1p(np.exp(raw[:, 2:] + 4.0))], -1)
            cam = seq.cameras[cam_id]
            X = seq.positions_3d.astype(np.float64) @ np.asarray(cam.R).T + np.asarray(cam.t)
            root_err.append(np.linalg.norm(root - X[:, 0], axis=-1))
            abs_err.append(np.linalg.norm(rel + root[:, None] - X, axis=-1).mean(-1))
    assert doc["frame_weighted_mean"]["mrpe_mm"] == pytest.approx(1000 * np.concatenate(root_err).mean(), rel=1e-4)
    assert doc["frame_weighted_mean"]["abs_mpjpe_mm"] == pytest.approx(1000 * np.concatenate(abs_err).mean(), rel=1e-4)


def test_evaluate_reads_a_martinez_tree_with_stacked_hourglass_detections(tmp_path, capsys, rng):
    cams = load_camera_json(default_h36m_cameras_path())
    root = tmp_path / "h36m"
    expected_in = {}
    for subject in ("S9", "S11"):
        mm = make_poses_mm(rng, 12)
        write_martinez_3d(root, subject, "Walking", mm)
        for cam_id in ("54138969", "55011271", "58860488", "60457274"):
            uv32 = project_numpy(mm / 1000.0, cams, subject, cam_id)
            # MPII-16 as the Stacked-Hourglass files order it (H36M-32 indices of formats.md), plus detector noise
            mpii = uv32[:, [3, 2, 1, 6, 7, 8, 0, 12, 13, 15, 27, 26, 25, 17, 18, 19]] + rng.normal(0, 2, (12, 16, 2))
            write_martinez_sh(root, subject, "Walking", cam_id, mpii)
            expected_in[(subject, cam_id)] = (mpii, world_to_camera_numpy(mm / 1000.0, cams, subject, cam_id))
    torch.manual_seed(0)
    model = MLPLifter(width=32, num_blocks=1, dropout=0.0).eval()
    ckpt = save_lifter(tmp_path / "lifter.pt", model, "mlp", {"width": 32, "num_blocks": 1, "dropout": 0.0})
    out = tmp_path / "eval.json"
    assert (
        cli(
            [
                "evaluate",
                "--checkpoint",
                str(ckpt),
                "--data3d",
                str(root),
                "--detections",
                "StackedHourglass",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    assert "2D source StackedHourglass" in capsys.readouterr().out
    # independent: MPII-16 -> H36M-17 by hand (Neck/Nose halfway between Thorax and Head), camera-frame targets
    take = [6, 2, 1, 0, 3, 4, 5, 7, 8, -1, 9, 13, 14, 15, 12, 11, 10]
    errors = []
    for (subject, cam_id), (mpii, X32) in expected_in.items():
        kp = np.stack([mpii[:, j] if j >= 0 else 0.5 * (mpii[:, 8] + mpii[:, 9]) for j in take], 1)
        w, h = (1000, 1002) if cam_id in ("54138969", "60457274") else (1000, 1000)
        norm = np.stack([kp[..., 0] / w * 2 - 1, kp[..., 1] / w * 2 - h / w], -1)
        with torch.no_grad():
            pred = model(torch.as_tensor(norm, dtype=torch.float32)).numpy()
        X = X32[:, [0, 1, 2, 3, 6, 7, 8, 12, 13, 14, 15, 17, 18, 19, 25, 26, 27]]
        errors.append(np.linalg.norm(pred - (X - X[:, :1]), axis=-1).mean(-1))
    doc = json.loads(out.read_text())
    assert doc["frame_weighted_mean"]["mpjpe_mm"] == pytest.approx(1000 * np.concatenate(errors).mean(), rel=1e-4)


def _script(name):
    spec = importlib.util.spec_from_file_location(name, ROOT / "sample" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


def test_repnet_lifter_file_evaluates_to_the_numbers_its_script_reported(synthetic, tmp_path, capsys):
    out = tmp_path / "repnet"
    syn_dir = Path(synthetic.data_3d).parent
    assert (
        _script("train_repnet").main(
            [
                f"data.synthetic_dir={syn_dir}",
                "model.width=32",
                "train.max_steps=3",
                "train.val_every=3",
                "train.batch_size=32",
                "data.val_every=2",
                f"train.out_dir={out}",
                f"run.images_dir={out / 'images'}",
            ]
        )
        == 0
    )
    reported = json.loads((out / "eval.json").read_text())
    model, info = load_lifter(out / "lifter.pt")
    assert info["kind"] == "repnet" and info["output_frame"] == "camera"
    mine = tmp_path / "mine.json"
    assert (
        cli(
            [
                "evaluate",
                "--checkpoint",
                str(out / "lifter.pt"),
                "--data3d",
                str(synthetic.data_3d),
                "--data2d",
                str(synthetic.data_2d),
                "--out",
                str(mine),
            ]
        )
        == 0
    )
    ours = json.loads(mine.read_text())
    for key in ("mpjpe_mm", "p_mpjpe_mm", "n_mpjpe_mm"):
        assert ours["mean_over_actions"][key] == pytest.approx(reported["mean_over_actions"][key], rel=1e-4)


def test_evaluate_reads_an_original_release_tree_and_filters_actions(tmp_path, capsys, rng):
    from fixtures_h36m import write_cdf_pose

    root = tmp_path / "release"
    for subject in ("S9", "S11"):
        for action in ("Walking", "Eating"):
            write_cdf_pose(root, subject, action, make_poses_mm(rng, 10))
    torch.manual_seed(0)
    model = MLPLifter(width=16, num_blocks=1, dropout=0.0).eval()
    ckpt = save_lifter(tmp_path / "lifter.pt", model, "mlp", {"width": 16, "num_blocks": 1, "dropout": 0.0})
    out = tmp_path / "eval.json"
    assert (
        cli(["evaluate", "--checkpoint", str(ckpt), "--data3d", str(root), "--actions", "Walking", "--out", str(out)])
        == 0
    )
    doc = json.loads(out.read_text())
    assert list(doc["actions"]) == ["Walking"] and doc["frames"] == 2 * 4 * 10  # 2 subjects x 4 cameras
    assert "2D source GT projection" in capsys.readouterr().out
