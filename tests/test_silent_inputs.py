"""Inputs that used to give silently wrong results now warn or are refused, naming the file and the quantity."""

import numpy as np
import pytest
import torch
from body_fixtures import make_smpl_sized_model, write_chumpy_pkl, write_npz

from weakpose.body import BodyModel
from weakpose.body.model_file import BodyModelFileError
from weakpose.body.model_file import main as convert_smpl_main
from weakpose.cli import main as cli
from weakpose.data.h36m.loaders import load_videopose3d
from weakpose.data.h36m.readers import H36MFormatError

COCO_META = {"layout_name": "coco", "num_joints": 17}


def _custom_file(path, keypoints, video_metadata=None):
    meta = dict(COCO_META)
    if video_metadata is not None:
        meta["video_metadata"] = video_metadata
    np.savez(
        path,
        positions_2d=np.array({"clip.mp4": {"custom": [keypoints]}}, dtype=object),
        metadata=np.array(meta, dtype=object),
    )
    return path


@pytest.fixture
def pixels(rng):
    """A person-sized COCO skeleton wandering in a 1920x1080 frame (pixels)."""
    base = rng.uniform(-120, 120, (1, 17, 2)) + np.array([960.0, 540.0])
    return (base + np.cumsum(rng.normal(0, 2, (40, 1, 2)), axis=0)).astype(np.float32)


def test_lift_refuses_normalised_coordinates(tmp_path, pixels, capsys):
    w, h = 1920, 1080
    screen = pixels / w * 2 - np.array([1.0, h / w])  # VideoPose3D's screen normalisation
    path = _custom_file(tmp_path / "screen.npz", screen.astype(np.float32), {"clip.mp4": {"w": w, "h": h}})
    assert cli(["lift", "--keypoints", str(path), "--gif", "", "--out", str(tmp_path / "o.npz")]) == 2
    err = capsys.readouterr().err
    assert "screen.npz" in err and "normalised coordinates, not pixels" in err
    assert not (tmp_path / "o.npz").exists()
    fractions = _custom_file(tmp_path / "frac.npz", (pixels / np.array([w, h])).astype(np.float32))
    with pytest.raises(H36MFormatError, match=r"frac\.npz.*normalised coordinates"):
        load_videopose3d(path_2d=fractions, strict=True)
    # the formula in the message undoes the normalisation exactly
    u = (screen[..., 0] + 1) * w / 2
    v = (screen[..., 1] + h / w) * w / 2
    np.testing.assert_allclose(np.stack([u, v], -1), pixels, atol=1e-3)
    # missing joints written as (0, 0) by detectors do not hide pixel data
    with_missing = pixels.copy()
    with_missing[:, 3] = 0
    ok = _custom_file(tmp_path / "ok.npz", with_missing)
    np.testing.assert_array_equal(
        load_videopose3d(path_2d=ok, layout="coco17", strict=True)["clip.mp4", "custom"].positions_2d["0"].shape,
        (40, 17, 2),
    )


def test_lift_without_video_metadata_asks_for_image_size(tmp_path, pixels, capsys):
    path = _custom_file(tmp_path / "nometa.npz", pixels)
    out = tmp_path / "o.npz"
    assert cli(["lift", "--keypoints", str(path), "--gif", "", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "nometa.npz" in err[0] and "'clip.mp4'" in err[0] and "--width W --height H" in err[0]
    assert (
        cli(["lift", "--keypoints", str(path), "--gif", "", "--out", str(out), "--width", "1920", "--height", "1080"])
        == 0
    )
    # same result as a file that carries the size in its metadata
    meta_path = _custom_file(tmp_path / "meta.npz", pixels, {"clip.mp4": {"w": 1920, "h": 1080}})
    out2 = tmp_path / "o2.npz"
    assert cli(["lift", "--keypoints", str(meta_path), "--gif", "", "--out", str(out2)]) == 0
    a = np.load(out)["clip.mp4/relative"]
    b = np.load(out2)["clip.mp4/relative"]
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("command", ["lift", "evaluate"])
def test_batch_size_zero_is_a_usage_error(tmp_path, command, capsys):
    args = ["--keypoints", "x.npz"] if command == "lift" else ["--checkpoint", "x.pt", "--data3d", "x.npz"]
    with pytest.raises(SystemExit) as exit_:
        cli([command, *args, "--batch-size", "0"])
    assert exit_.value.code == 2
    assert "--batch-size must be >= 1, got 0" in capsys.readouterr().err


def test_body_model_in_millimetres_is_refused(tmp_path):
    model = make_smpl_sized_model()
    metres = BodyModel.from_file(write_npz(model, tmp_path / "m.npz"))
    height = float(np.ptp(metres().vertices[0].numpy(), axis=0).max())
    assert 1.0 < height < 2.5  # the fixture is a metre-scale body, accepted
    mm = {k: (v * 1000 if k in ("v_template", "shapedirs", "posedirs") else v) for k, v in model.items()}
    with pytest.raises(BodyModelFileError, match=r"mm\.npz: key 'v_template' spans .* looks like millimetres"):
        BodyModel.from_file(write_npz(mm, tmp_path / "mm.npz"))
    pkl = write_chumpy_pkl(mm, tmp_path / "SMPL_MM.pkl")
    assert convert_smpl_main([str(pkl), str(tmp_path / "out.npz")]) == 1
    assert not (tmp_path / "out.npz").exists()


def test_non_finite_body_inputs_are_refused(tmp_path):
    body = BodyModel.from_file(write_npz(make_smpl_sized_model(), tmp_path / "m.npz"))
    betas = torch.zeros(2, 10)
    betas[1, 3] = float("nan")
    with pytest.raises(ValueError, match=r"NaN/inf values in betas \(1 of 20\)"):
        body(betas=betas)
    pose = torch.zeros(2, 69)
    pose[0, :2] = float("inf")
    with pytest.raises(ValueError, match=r"body_pose \(2 of 138\)"):
        body(betas=torch.zeros(2, 10), body_pose=pose)
    out = body(betas=torch.zeros(2, 10), body_pose=torch.zeros(2, 69))
    assert torch.isfinite(out.vertices).all()


def test_camera_filters_naming_unknown_ids_are_refused(tmp_path):
    from weakpose.data.sources import DataConfig, load_keypoint_data
    from weakpose.data.synthetic.keypoints import make_synthetic

    make_synthetic(tmp_path / "syn", max_frames=12, include_bvh=False, actions=["Walking"])
    cfg = DataConfig(synthetic_dir=str(tmp_path / "syn"), cameras=["54138969", "5413896"])
    with pytest.raises(
        ValueError,
        match=r"data\.cameras: \['5413896'\] are not cameras of .*data_3d.*cameras "
        r"present: \['54138969', '55011271', '58860488', '60457274'\]",
    ):
        load_keypoint_data(cfg)
    kept = load_keypoint_data(DataConfig(synthetic_dir=str(tmp_path / "syn"), cameras=["55011271"]))
    assert {c for s in kept.splits.test.sequences for c in s.camera_ids} == {"55011271"}


def test_image_dataset_camera_and_subject_filters_that_leave_nothing_are_refused(tmp_path):
    from weakpose.data.datasets.multiview import MultiViewImageDataset
    from weakpose.data.synthetic.images import make_synthetic_images
    from weakpose.data.synthetic.keypoints import make_synthetic

    make_synthetic(tmp_path / "kp", max_frames=30, include_bvh=False, actions=["Walking"])
    root = make_synthetic_images(
        tmp_path / "img",
        subjects=["S9"],
        max_frames=2,
        sampled_frames=1,
        image_size=32,
        keypoint_dir=str(tmp_path / "kp"),
    ).root
    with pytest.raises(ValueError, match=r"camera\(s\) \['1'\] are in none of the selected sequences"):
        MultiViewImageDataset(root, cameras=["1"], load_masks=False)
    with pytest.raises(ValueError, match=r"subject\(s\) \['S2'\] are not in the data"):
        MultiViewImageDataset(root, subjects=["S2"], load_masks=False)
    assert len(MultiViewImageDataset(root, cameras=["54138969"], load_masks=False)) > 0


def test_lift_refuses_an_image_size_the_keypoints_do_not_fit(tmp_path, pixels, capsys):
    """Keypoints of a 1920x1080 video said to be 480x270: normalised by the wrong width, every pose is wrong."""
    path = _custom_file(tmp_path / "small.npz", pixels, {"clip.mp4": {"w": 480, "h": 270}})
    assert cli(["lift", "--keypoints", str(path), "--gif", "", "--out", str(tmp_path / "o.npz")]) == 2
    err = capsys.readouterr().err
    assert "small.npz: video 'clip.mp4': 100% of the keypoints lie far outside the 480x270 image" in err
    # the size given on the command line wins over the file's (wrong) metadata, and says so
    assert (
        cli(
            [
                "lift",
                "--keypoints",
                str(path),
                "--gif",
                "",
                "--out",
                str(tmp_path / "o.npz"),
                "--width",
                "1920",
                "--height",
                "1080",
            ]
        )
        == 0
    )
    assert "using 1920x1080, not the file's 480x270" in capsys.readouterr().out
    fits = _custom_file(tmp_path / "fits.npz", pixels, {"clip.mp4": {"w": 1920, "h": 1080}})
    assert cli(["lift", "--keypoints", str(fits), "--gif", "", "--out", str(tmp_path / "o.npz")]) == 0
