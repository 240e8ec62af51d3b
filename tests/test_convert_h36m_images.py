"""convert_h36m_images on a tiny release written in the original formats: CDF poses (cdflib's writer), frames as
an extracted-JPEG folder or an mp4, ground_truth_bs masks as MATLAB v7.3 HDF5 files with object references.

The frames show a bright disc at the pelvis projected with an independent NumPy projection on a static texture,
so the crops, masks, poses and the median background can be checked against hand computations.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
from fixtures_h36m import H36M32_TO_17, load_camera_json, project_numpy, truncate_file, write_cdf_pose
from PIL import Image

from weakpose.data.datasets.multiview import MultiViewImageDataset
from weakpose.data.h36m.cameras import default_h36m_cameras_path
from weakpose.data.h36m.convert_images import (
    ACTION_IDS,
    MatMasks,
    convert_h36m_images,
    crop_resample,
    find_release_sequences,
    main,
    open_frame_source,
    temporal_median_background,
)
from weakpose.data.h36m.readers import H36MFormatError

SUBJECT = "S9"
CAMS = ("54138969", "55011271")  # 1000x1002 and 1000x1000: a transposed mask would not fit
SIZES = {"54138969": (1000, 1002), "55011271": (1000, 1000)}
RADIUS = 40.0  # disc radius, full-image pixels
N_FRAMES = 20
S = 128


# ----------------------------------------------------------------------------------------------------------------
# writers of the release formats (independent of the code under test)


def poses_mm(n: int, seed: int = 0) -> np.ndarray:
    """(n, 32, 3) world mm: a pelvis walking 1.2 m along x at hip height, the other joints around it."""
    rng = np.random.default_rng(seed)
    pelvis = np.stack([np.linspace(-600, 600, n), np.full(n, 200.0), np.full(n, 920.0)], axis=-1)
    offsets = rng.uniform(-400, 400, size=(32, 3))
    offsets[0] = 0
    return pelvis[:, None] + offsets[None] + rng.normal(scale=5.0, size=(n, 32, 3)) * (np.arange(32) > 0)[:, None]


def texture(camera: str) -> np.ndarray:
    """The static room: smooth stripes and soft blocks, values 20..200 (the disc is 255)."""
    w, h = SIZES[camera]
    u, v = np.meshgrid(np.arange(w) + 0.5, np.arange(h) + 0.5)
    ph = 0.7 if camera == CAMS[0] else 2.1
    chans = [110 + 50 * np.sin(u / 37 + ph + k) * np.cos(v / 53 - k) + 25 * ((u // 80 + v // 80) % 2) for k in range(3)]
    return np.clip(np.stack(chans, axis=-1), 0, 255).astype(np.uint8)


def disc_masks(points_uv: np.ndarray, camera: str) -> np.ndarray:
    w, h = SIZES[camera]
    u, v = np.meshgrid(np.arange(w) + 0.5, np.arange(h) + 0.5)
    return np.stack([(u - cu) ** 2 + (v - cv) ** 2 < RADIUS**2 for cu, cv in points_uv])


def write_mat_masks(path: Path, masks: np.ndarray) -> Path:
    """A MATLAB v7.3 file as MATLAB writes a 1xN cell of logical HxW arrays: a 512-byte user block with the
    MAT header, '#refs#' holding one (W, H) dataset per frame (column-major), 'Masks' (N, 1) of references."""
    import h5py

    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w", userblock_size=512) as f:
        refs_group = f.create_group("#refs#")
        refs = []
        for i, m in enumerate(masks):
            d = refs_group.create_dataset(f"f{i}", data=np.ascontiguousarray(m.T).astype(np.uint8), compression="gzip")
            d.attrs["MATLAB_class"] = np.bytes_("logical")
            d.attrs["MATLAB_int_decode"] = np.int32(1)
            refs.append(d.ref)
        ds = f.create_dataset("Masks", shape=(len(refs), 1), dtype=h5py.ref_dtype)
        for i, r in enumerate(refs):
            ds[i, 0] = r
        ds.attrs["MATLAB_class"] = np.bytes_("cell")
    header = b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Mon Jan  1 00:00:00 2024 HDF5 schema 1.00 ."
    with open(path, "r+b") as fh:
        fh.write(header.ljust(116, b" ") + b"\x00" * 8 + b"\x00\x02" + b"IM")
    return path


def make_release(
    root: Path,
    stem: str = "Walking 1",
    n: int = N_FRAMES,
    video: bool = False,
    frame_prefix: str = "frame",
    frames_stem: str | None = None,
) -> dict:
    """Write one subject, one sequence, two cameras; returns the poses and the projected pelvis per camera."""
    cam_json = load_camera_json(default_h36m_cameras_path())
    mm = poses_mm(n)
    write_cdf_pose(root, SUBJECT, stem, mm)
    pelvis_m = mm[:, 0] / 1000.0
    uv = {}
    for c in CAMS:
        uv[c] = project_numpy(pelvis_m, cam_json, SUBJECT, c)
        tex = texture(c)
        discs = disc_masks(uv[c], c)
        frames = np.where(discs[..., None], np.uint8(255), tex[None])
        name = f"{frames_stem or stem}.{c}"
        if video:
            import imageio.v3 as iio

            out = root / SUBJECT / "Videos" / f"{name}.mp4"
            out.parent.mkdir(parents=True, exist_ok=True)
            try:
                import av  # noqa: F401

                iio.imwrite(out, frames, plugin="pyav", codec="libx264", fps=50)
            except ImportError:
                iio.imwrite(out, frames, plugin="FFMPEG", fps=50, macro_block_size=1)
        else:
            folder = root / SUBJECT / "Images" / name
            folder.mkdir(parents=True, exist_ok=True)
            for i, fr in enumerate(frames):
                Image.fromarray(fr).save(folder / f"{frame_prefix}_{i + 1:06d}.jpg", quality=95)
        write_mat_masks(root / SUBJECT / "MySegmentsMat" / "ground_truth_bs" / f"{stem}.{c}.mat", discs)
    return {"mm": mm, "uv": uv, "cam_json": cam_json}


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    root = tmp_path_factory.mktemp("h36m")
    info = make_release(root)
    info["root"] = root
    return info


@pytest.fixture(scope="module")
def converted(release, tmp_path_factory):
    out = tmp_path_factory.mktemp("converted")
    convert_h36m_images(
        release["root"], out, frame_step=5, image_size=S, background_frames=50, progress=False, camera_ids=CAMS
    )
    return out


def copy_release(release, tmp_path) -> Path:
    root = tmp_path / "release"
    shutil.copytree(release["root"], root)
    return root


# ----------------------------------------------------------------------------------------------------------------
# independent references


def camera_frame(points_m, cam_json, camera):
    ext = cam_json["extrinsics"][SUBJECT][camera]
    R = np.asarray(ext["R"], dtype=np.float64)
    return points_m @ R.T + np.asarray(ext["t"], dtype=np.float64).reshape(3) / 1000.0


def project_with_K(points_m, cam_json, camera, K):
    """Toolkit projection (radial k1..k3, tangential p1, p2) through the intrinsics ``K``."""
    xc = camera_frame(points_m, cam_json, camera)
    k1, k2, p1, p2, k3 = cam_json["intrinsics"][camera]["distortion"]
    x, y = xc[..., 0] / xc[..., 2], xc[..., 1] / xc[..., 2]
    r2 = x * x + y * y
    radial = 1 + k1 * r2 + k2 * r2**2 + k3 * r2**3
    tan = p1 * y + p2 * x
    xd, yd = x * (radial + tan) + p2 * r2, y * (radial + tan) + p1 * r2
    return np.stack([K[0, 0] * xd + K[0, 1] * yd + K[0, 2], K[1, 1] * yd + K[1, 2]], axis=-1)


def centroid(weights: np.ndarray) -> np.ndarray:
    h, w = weights.shape
    u, v = np.meshgrid(np.arange(w) + 0.5, np.arange(h) + 0.5)
    total = weights.sum()
    return np.array([(u * weights).sum() / total, (v * weights).sum() / total])


# ----------------------------------------------------------------------------------------------------------------
# tests


def test_temporal_median_removes_a_moving_disc():
    rng = np.random.default_rng(1)
    room = rng.integers(0, 200, size=(60, 80, 3), dtype=np.uint8)
    u, v = np.meshgrid(np.arange(80), np.arange(60))
    frames = []
    for k in range(9):  # the disc moves 8 px per frame: any pixel is covered in at most 2 of 9 frames
        f = room.copy()
        f[(u - 6 - 8 * k) ** 2 + (v - 30) ** 2 < 16] = 255
        frames.append(f)
    assert np.array_equal(temporal_median_background(iter(frames)), room)
    # the median of 3 values per pixel, by hand
    a, b, c = (np.full((2, 2, 3), x, np.uint8) for x in (10, 200, 30))
    assert np.all(temporal_median_background([a, b, c]) == 30)
    with pytest.raises(ValueError, match="frame 1 has shape"):
        temporal_median_background([a, np.zeros((3, 2, 3), np.uint8)])


def test_mat_masks_read_matlab_v73_references(tmp_path):
    masks = np.zeros((3, 1002, 1000), bool)
    masks[0, 10:20, 500:700] = True  # a wide, short block: a missing transpose shows as (1000, 1002)
    masks[2, 900:1002, 0:5] = True
    path = write_mat_masks(tmp_path / "Walking 1.54138969.mat", masks)
    with MatMasks(path) as m:
        assert len(m) == 3
        for i in range(3):
            got = m[i]
            assert got.shape == (1002, 1000) and got.dtype == np.uint8
            assert np.array_equal(got, masks[i].astype(np.uint8) * 255)
        with pytest.raises(IndexError, match="frame 4 requested"):
            m[3]
    bad = tmp_path / "not_hdf5.mat"
    bad.write_bytes(b"MATLAB 5.0 MAT-file" + b"\x00" * 200)
    with pytest.raises(H36MFormatError, match="not_hdf5.mat.*v7.3"):
        MatMasks(bad)


def test_crop_resample_centres_a_disc():
    """A disc at a fractional position, cropped with a box centred on it, lands at (S/2, S/2); area scales by
    (S/side)² (the mask becomes coverage)."""
    u, v = np.meshgrid(np.arange(1000) + 0.5, np.arange(1002) + 0.5)
    for cu, cv, side in [(400.3, 500.7, 300.2), (700.77, 120.2, 151.3)]:
        mask = (((u - cu) ** 2 + (v - cv) ** 2) < 30**2).astype(np.uint8) * 255
        out = crop_resample(mask, np.array([cu - side / 2, cv - side / 2, side]), S).astype(float)
        np.testing.assert_allclose(centroid(out), [S / 2, S / 2], atol=0.05)
        np.testing.assert_allclose(out.sum() / 255, np.pi * (30 * S / side) ** 2, rtol=0.01)
    # outside the image is black
    img = np.full((100, 100, 3), 200, np.uint8)
    out = crop_resample(img, np.array([-50.0, 0.0, 100.0]), 20)
    assert np.all(out[:, :9] == 0) and np.all(out[1:-1, 11:] == 200)
    assert np.all(out[[0, -1], 11:] < 200)  # the filter reaches past the top and bottom edges: black there


def test_sequence_naming(tmp_path):
    mm = poses_mm(3)
    for stem in ("Walking", "Walking 1", "Sitting 1", "Sitting 2", "TakingPhoto", "WalkingDog 1", "WalkDog"):
        write_cdf_pose(tmp_path, "S1", stem, mm)
    seqs = find_release_sequences(tmp_path, subjects=["S1"])
    got = [(s.stem, s.action, s.action_id, s.subaction) for s in seqs]
    assert sorted(got, key=lambda g: (g[2], g[3])) == got
    assert set(got) == {
        ("Sitting 1", "Sitting 1", 9, 1),
        ("Sitting 2", "Sitting 2", 9, 2),
        ("TakingPhoto", "Photo", 12, 1),
        ("Walking", "Walking", 14, 1),
        ("Walking 1", "Walking 1", 14, 2),
        ("WalkDog", "WalkDog", 15, 1),
        ("WalkingDog 1", "WalkDog 1", 15, 2),
    }
    assert [s.stem for s in find_release_sequences(tmp_path, actions=["Photo"])] == ["TakingPhoto"]
    assert [s.stem for s in find_release_sequences(tmp_path, actions=["Walking 1"])] == ["Walking 1"]
    write_cdf_pose(tmp_path, "S11", "Directions 1", mm)
    write_cdf_pose(tmp_path, "S11", "Eating", mm)
    assert [s.action for s in find_release_sequences(tmp_path, subjects=["S11"])] == ["Eating"]  # default exclusion
    assert [s.action for s in find_release_sequences(tmp_path, subjects=["S11"], exclude=())] == [
        "Directions 1",
        "Eating",
    ]
    assert ACTION_IDS["Directions"] == 2 and ACTION_IDS["WalkTogether"] == 16 and len(ACTION_IDS) == 15


def test_converted_set_values(release, converted):
    index = json.loads((converted / "index.json").read_text())
    assert index["image_size"] == S and index["masks"] is True and index["sequences_without_masks"] == []
    assert index["actions"]["14"] == "Walking" and index["actions"]["12"] == "Photo"
    assert index["background_scale"] == 0.5
    assert index["backgrounds"] == {
        SUBJECT: {"54138969": "backgrounds/s_09_ca_01.jpg", "55011271": "backgrounds/s_09_ca_02.jpg"}
    }
    (seq,) = index["sequences"]
    assert seq == {
        "subject": SUBJECT,
        "action": "Walking 1",
        "action_id": 14,
        "subaction": 1,
        "camera_ids": list(CAMS),
        "num_frames": 4,
    }
    ann = np.load(converted / "annotations" / "s_09_act_14_subact_01.npz")
    assert sorted(ann.files) == sorted(
        ["joints_h36m17", "frame_indices", "camera_ids", "crop_boxes", "R", "t", "K", "dist", "image_sizes"]
    )
    assert ann["frame_indices"].tolist() == [1, 6, 11, 16]
    assert ann["image_sizes"].tolist() == [[1000, 1002], [1000, 1000]]
    folder = "s_09_act_14_subact_01_ca_02"
    assert (converted / "images" / folder / f"{folder}_000016.jpg").is_file()
    assert (converted / "masks" / folder / f"{folder}_000016.png").is_file()

    mm, cam_json = release["mm"], release["cam_json"]
    ds = MultiViewImageDataset(converted)
    assert len(ds) == 4
    for k in range(len(ds)):
        sample = ds[k]
        frame = sample["frame"]
        assert frame == 1 + 5 * k and sample["camera"] == list(CAMS) and sample["action"] == "Walking 1"
        joints = (mm[frame - 1] / 1000.0)[H36M32_TO_17]
        np.testing.assert_allclose(sample["joints_h36m17"].numpy(), joints, atol=1e-5)
        for v, c in enumerate(CAMS):
            xc = camera_frame(joints, cam_json, c)
            np.testing.assert_allclose(sample["pose_3d"][v].numpy(), xc - xc[:1], atol=2e-5)
            # the crop camera puts the pelvis at the crop centre
            K = sample["K"][v].double().numpy()
            np.testing.assert_allclose(project_with_K(joints[:1], cam_json, c, K)[0], [S / 2, S / 2], atol=1e-3)
            # the crop box side is f * cube / depth
            side = ann["crop_boxes"][v, k, 2]
            f = max(
                cam_json["intrinsics"][c]["calibration_matrix"][0][0],
                cam_json["intrinsics"][c]["calibration_matrix"][1][1],
            )
            np.testing.assert_allclose(side, f * 2.0 / xc[0, 2], rtol=1e-6)
            # the bright disc and the mask are both centred there, of the disc's size
            image = sample["image"][v].numpy().transpose(1, 2, 0) * 255
            bright = np.clip(image.min(axis=-1) - 215, 0, None)
            np.testing.assert_allclose(centroid(bright), [S / 2, S / 2], atol=1.0)
            mask = sample["mask"][v, 0].numpy() * 255
            np.testing.assert_allclose(centroid(mask), [S / 2, S / 2], atol=0.3)
            np.testing.assert_allclose(mask.sum() / 255, np.pi * (RADIUS * S / side) ** 2, rtol=0.02)
            assert image[mask > 250].min() > 225  # under the mask: the disc
            assert image[mask < 5].min(axis=-1).mean() < 200  # elsewhere: the room


def test_median_background_is_the_empty_room(converted):
    for i, c in enumerate(CAMS, start=1):
        bg = np.asarray(Image.open(converted / "backgrounds" / f"s_09_ca_{i:02d}.jpg").convert("RGB"), dtype=float)
        w, h = SIZES[c]
        assert bg.shape == (round(h * 0.5), round(w * 0.5), 3)
        room = np.asarray(
            Image.fromarray(texture(c)).resize((round(w * 0.5), round(h * 0.5)), Image.BILINEAR), dtype=float
        )
        diff = np.abs(bg - room)
        assert diff.mean() < 2.0 and np.percentile(diff, 99.9) < 16, (diff.mean(), np.percentile(diff, 99.9))
        assert bg.min(axis=-1).max() < 235  # no disc left anywhere


def test_background_crops_match_the_frames_off_the_person(converted):
    """The layout's background reader (index keys backgrounds + background_scale) crops the median room where
    each view's crop is: off the disc it equals the frame itself."""
    ds = MultiViewImageDataset(converted, load_backgrounds=True)
    for k in (0, 3):
        sample = ds[k]
        for v in range(len(CAMS)):
            image, bg = sample["image"][v].numpy(), sample["background"][v].numpy()
            off = sample["mask"][v, 0].numpy() == 0
            diff = np.abs(image - bg)[:, off] * 255
            assert diff.mean() < 3.0, diff.mean()
            on = sample["mask"][v, 0].numpy() > 0.98
            assert (image - bg)[:, on].mean() * 255 > 40  # the disc is not in the background


def test_rerun_skips_done_sequences(release, converted, tmp_path, monkeypatch):
    out = tmp_path / "out"
    shutil.copytree(converted, out)
    npz = out / "annotations" / "s_09_act_14_subact_01.npz"
    before = npz.stat().st_mtime_ns
    index_before = json.loads((out / "index.json").read_text())
    import weakpose.data.h36m.convert_images as mod

    def fail(*a, **k):
        raise AssertionError("a done sequence or background was converted again")

    monkeypatch.setattr(mod, "_convert_sequence", fail)
    monkeypatch.setattr(mod, "_make_background", fail)
    convert_h36m_images(release["root"], out, progress=False, camera_ids=CAMS)
    assert npz.stat().st_mtime_ns == before
    assert json.loads((out / "index.json").read_text()) == index_before
    with pytest.raises(ValueError, match="image_size=128"):
        convert_h36m_images(release["root"], out, image_size=64, progress=False, camera_ids=CAMS)


def test_missing_mask_file_warns_and_converts_without(release, tmp_path):
    root = copy_release(release, tmp_path)
    (root / SUBJECT / "MySegmentsMat" / "ground_truth_bs" / "Walking 1.55011271.mat").unlink()
    out = tmp_path / "out"
    with pytest.warns(UserWarning, match=r"Walking 1\.55011271\.mat: no mask file"):
        convert_h36m_images(root, out, background_frames=5, progress=False, camera_ids=CAMS)
    index = json.loads((out / "index.json").read_text())
    assert index["masks"] is False and index["sequences_without_masks"] == ["s_09_act_14_subact_01.npz"]
    assert (out / "masks" / "s_09_act_14_subact_01_ca_01").is_dir()
    assert not (out / "masks" / "s_09_act_14_subact_01_ca_02").exists()
    sample = MultiViewImageDataset(out)[0]
    assert sample["mask"][0].sum() > 10 and sample["mask"][1].sum() == 0


def test_mask_count_mismatch_names_the_file(release, tmp_path):
    root = copy_release(release, tmp_path)
    path = root / SUBJECT / "MySegmentsMat" / "ground_truth_bs" / "Walking 1.54138969.mat"
    write_mat_masks(path, np.zeros((3, 1002, 1000), bool))
    with pytest.raises(H36MFormatError, match=r"Walking 1\.54138969\.mat: 3 frames.*20"):
        convert_h36m_images(
            root, tmp_path / "out", background_frames=0, progress=False, frame_count_tolerance=10, camera_ids=CAMS
        )


def test_pose_file_errors_name_the_file(release, tmp_path):
    root = copy_release(release, tmp_path)
    with pytest.raises(FileNotFoundError, match=r"D3_Positions/Eating\.cdf"):
        convert_h36m_images(root, tmp_path / "out", actions=["Eating"], progress=False, camera_ids=CAMS)
    with pytest.raises(FileNotFoundError, match=r"subjects \['S1'\]"):
        convert_h36m_images(root, tmp_path / "out", subjects=["S1"], progress=False, camera_ids=CAMS)
    cdf = root / SUBJECT / "MyPoseFeatures" / "D3_Positions" / "Walking 1.cdf"
    truncate_file(cdf, 0.3)
    with pytest.raises(H36MFormatError, match=r"Walking 1\.cdf"):
        convert_h36m_images(root, tmp_path / "out", background_frames=0, progress=False, camera_ids=CAMS)
    cdf.unlink()
    with pytest.raises(FileNotFoundError, match=r"D3_Positions: no pose files"):
        convert_h36m_images(root, tmp_path / "out", progress=False, camera_ids=CAMS)


def test_missing_frames_error_lists_paths_tried(release, tmp_path):
    root = copy_release(release, tmp_path)
    shutil.rmtree(root / SUBJECT / "Images" / "Walking 1.55011271")
    with pytest.raises(FileNotFoundError) as err:
        convert_h36m_images(root, tmp_path / "out", background_frames=0, progress=False, camera_ids=CAMS)
    msg = str(err.value)
    assert "Images/Walking 1.55011271" in msg and "Videos/Walking 1.55011271.mp4" in msg


def test_release_spelling_img_prefix_and_cli(tmp_path):
    """TakingPhoto poses with frames under the other spelling ('Photo 1'), img_ numbering; through the CLI."""
    root = tmp_path / "release"
    make_release(root, stem="TakingPhoto 1", frames_stem="Photo 1", n=8, frame_prefix="img")
    out = tmp_path / "out"
    assert (
        main(
            [
                str(root),
                str(out),
                "--frame-step",
                "4",
                "--image-size",
                "64",
                "--background-frames",
                "4",
                "--no-progress",
                "--camera-ids",
                *CAMS,
            ]
        )
        == 0
    )
    index = json.loads((out / "index.json").read_text())
    assert [(s["action"], s["action_id"], s["num_frames"]) for s in index["sequences"]] == [("Photo 1", 12, 2)]
    folder = "s_09_act_12_subact_01_ca_01"
    assert Image.open(out / "images" / folder / f"{folder}_000005.jpg").size == (64, 64)
    assert main([str(tmp_path / "nowhere"), str(out), "--no-progress"]) == 1


def test_video_input(tmp_path):
    pytest.importorskip("imageio")
    try:
        import av  # noqa: F401
    except ImportError:
        pytest.importorskip("imageio_ffmpeg")
    root = tmp_path / "release"
    info = make_release(root, video=True, n=12)
    assert not (root / SUBJECT / "Images").exists()
    out = tmp_path / "out"
    convert_h36m_images(root, out, frame_step=5, background_frames=12, progress=False, camera_ids=CAMS)
    ds = MultiViewImageDataset(out)
    assert [ds[k]["frame"] for k in range(len(ds))] == [1, 6, 11]
    for k in range(len(ds)):
        sample = ds[k]
        joints = (info["mm"][sample["frame"] - 1] / 1000.0)[H36M32_TO_17]
        for v, c in enumerate(CAMS):
            xc = camera_frame(joints, info["cam_json"], c)
            np.testing.assert_allclose(sample["pose_3d"][v].numpy(), xc - xc[:1], atol=2e-5)
            image = sample["image"][v].numpy().transpose(1, 2, 0) * 255
            np.testing.assert_allclose(centroid(np.clip(image.min(axis=-1) - 215, 0, None)), [S / 2, S / 2], atol=1.5)
    src = open_frame_source(root, SUBJECT, ["Walking 1"], CAMS[0])
    assert src.num_frames == 12
    frame = src.read(7)  # seeking decodes the same frame as sequential decoding
    ((_, seq_frame),) = list(src.iter_frames([7]))
    assert np.abs(frame.astype(int) - seq_frame).max() <= 2


def test_missing_video_decoder_names_the_extra(tmp_path, monkeypatch):
    video = tmp_path / "S9" / "Videos" / "Walking 1.54138969.mp4"
    video.parent.mkdir(parents=True)
    video.write_bytes(b"\x00" * 64)
    monkeypatch.setitem(sys.modules, "imageio", None)
    monkeypatch.setitem(sys.modules, "imageio.v3", None)
    with pytest.raises(ImportError, match=r"pip install weakpose\[h36m-video\]"):
        open_frame_source(tmp_path, "S9", ["Walking 1"], "54138969")


@pytest.mark.parametrize("plugin", ["pyav", "FFMPEG"])
def test_video_frames_with_either_decoder(tmp_path, monkeypatch, plugin):
    """Frame count, seeking and sequential decoding agree with the frames written, with PyAV or imageio-ffmpeg."""
    iio = pytest.importorskip("imageio.v3")
    pytest.importorskip("av" if plugin == "pyav" else "imageio_ffmpeg")
    import weakpose.data.h36m.convert_images as mod

    frames = np.zeros((15, 48, 64, 3), np.uint8)
    frames[:] = (np.arange(15) * 16)[:, None, None, None]  # flat grey levels: frame k is 16 k
    path = tmp_path / "clip.mp4"
    if plugin == "pyav":
        iio.imwrite(path, frames, plugin="pyav", codec="libx264", fps=50)
    else:
        iio.imwrite(path, frames, plugin="FFMPEG", fps=50, macro_block_size=1)
    monkeypatch.setattr(mod, "_video_plugin", lambda: plugin)
    src = mod.VideoFrames(path)
    try:
        assert src.plugin == plugin and src.num_frames in (15, None if plugin == "FFMPEG" else 15)
        for k in (9, 2, 14):
            assert abs(float(src.read(k).mean()) - 16 * k) < 3
        got = list(src.iter_frames([0, 4, 13]))
        assert [i for i, _ in got] == [0, 4, 13]
        assert [round(float(f.mean()) / 16) for _, f in got] == [0, 4, 13]
        with pytest.raises(H36MFormatError, match=r"clip\.mp4: the video ended after 15 frames, frame 21"):
            list(src.iter_frames([3, 20]))
    finally:
        src.close()
