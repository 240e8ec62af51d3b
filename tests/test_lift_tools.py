"""Saved lifters, `weakpose evaluate` and `weakpose lift`, checked against direct computations."""

import json

import numpy as np
import pytest
import torch

from weakpose.cli import main as cli
from weakpose.data.h36m.loaders import load_videopose3d
from weakpose.data.synthetic.keypoints import make_synthetic
from weakpose.lifters import load_lifter, save_lifter
from weakpose.models import MLPLifter
from weakpose.skeleton import coco17_to_h36m17


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    d = tmp_path_factory.mktemp("lift")
    paths = make_synthetic(d / "syn", max_frames=20, include_bvh=False, actions=["Walking", "Running"])
    torch.manual_seed(0)
    model = MLPLifter(width=64, num_blocks=1, dropout=0.0).eval()
    ckpt = save_lifter(d / "lifter.pt", model, "mlp", {"width": 64, "num_blocks": 1, "dropout": 0.0})
    return d, paths, model, ckpt


def test_saved_lifter_round_trip_and_bad_files(setup, tmp_path):
    d, _, model, ckpt = setup
    loaded, info = load_lifter(ckpt)
    x = torch.randn(5, 17, 2)
    torch.testing.assert_close(loaded(x), model(x))
    assert info["kind"] == "mlp" and info["output_frame"] == "camera"
    torch.save({"step": 3}, tmp_path / "last.pt")
    with pytest.raises(ValueError, match="not a weakpose lifter"):
        load_lifter(tmp_path / "last.pt")
    with pytest.raises(FileNotFoundError):
        load_lifter(tmp_path / "missing.pt")
    with pytest.raises(KeyError, match="unknown lifter kind"):
        save_lifter(tmp_path / "x.pt", model, "nope", {})


def test_evaluate_matches_a_direct_computation(setup, capsys):
    d, paths, model, ckpt = setup
    out = d / "eval.json"
    assert (
        cli(
            [
                "evaluate",
                "--checkpoint",
                str(ckpt),
                "--data3d",
                str(paths.data_3d),
                "--data2d",
                str(paths.data_2d),
                "--out",
                str(out),
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out
    assert "Protocol:" in printed and "Walking" in printed
    result = json.loads(out.read_text())
    # independent: normalise the 2D by hand, run the model, root-relative camera-frame targets from R, t
    data = load_videopose3d(paths.data_3d, paths.data_2d).select(subjects=["S9", "S11"])
    errors = []
    for seq in data:
        for cam_id, kp in seq.positions_2d.items():
            w, h = seq.image_size(cam_id)
            norm = np.stack([kp[..., 0] / w * 2 - 1, kp[..., 1] / w * 2 - h / w], -1)
            with torch.no_grad():
                pred = model(torch.as_tensor(norm, dtype=torch.float32)).numpy()
            cam = seq.cameras[cam_id]
            X = seq.positions_3d.astype(np.float64) @ np.asarray(cam.R).T + np.asarray(cam.t)
            X -= X[:, :1]
            errors.append(np.linalg.norm(pred - X, axis=-1).mean(-1))
    frame_mean_mm = 1000 * np.concatenate(errors).mean()
    assert result["frame_weighted_mean"]["mpjpe_mm"] == pytest.approx(frame_mean_mm, rel=1e-4)


def test_lift_converts_coco_and_writes_npz_and_gif(setup, tmp_path):
    d, _, model, ckpt = setup
    rng = np.random.default_rng(0)
    coco = rng.uniform([100, 50, 0.5], [540, 330, 1.0], size=(12, 17, 3)).astype(np.float32)
    kp_file = tmp_path / "data_2d_custom_clip.npz"
    np.savez(
        kp_file,
        positions_2d=np.array({"clip.mp4": {"custom": [coco]}}, dtype=object),
        metadata=np.array(
            {
                "layout_name": "coco",
                "num_joints": 17,
                "keypoints_symmetry": [[1, 3, 5, 7, 9, 11, 13, 15], [2, 4, 6, 8, 10, 12, 14, 16]],
                "video_metadata": {"clip.mp4": {"w": 640, "h": 360}},
            },
            dtype=object,
        ),
    )
    gif = tmp_path / "lift.gif"
    assert cli(["lift", "--checkpoint", str(ckpt), "--keypoints", str(kp_file), "--gif", str(gif)]) == 0
    lifted = np.load(tmp_path / "data_2d_custom_clip_3d.npz")["clip.mp4/relative"]
    h36m, _ = coco17_to_h36m17(coco[..., :2].astype(np.float64))
    norm = np.stack([h36m[..., 0] / 640 * 2 - 1, h36m[..., 1] / 640 * 2 - 360 / 640], -1)
    with torch.no_grad():
        expect = model(torch.as_tensor(norm, dtype=torch.float32)).numpy()
    np.testing.assert_allclose(lifted, expect, atol=1e-5)
    from PIL import Image

    with Image.open(gif) as im:
        assert im.n_frames == 12
    assert cli(["lift", "--checkpoint", str(ckpt), "--keypoints", str(tmp_path / "none.npz")]) == 2
