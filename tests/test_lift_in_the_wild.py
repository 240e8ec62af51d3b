"""`weakpose lift` end to end from a detector's file: AlphaPose JSON with missed frames + the source video ->
npz (gaps filled by linear interpolation) + an mp4 with the video's frame count and fps."""

import json

import numpy as np
import pytest
import torch

import weakpose
from weakpose.cli import main as cli
from weakpose.lifters import save_lifter
from weakpose.models.temporal import TemporalLifter

imageio_ffmpeg = pytest.importorskip("imageio_ffmpeg")

W, H, FPS, T = 640, 480, 25, 40
MISSED = (10, 11)  # frames the detector found nobody in


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    d = tmp_path_factory.mktemp("wild")
    rng = np.random.default_rng(3)
    base = rng.uniform([260, 120], [380, 400], (1, 17, 2))
    coco = base + np.cumsum(rng.normal(0, 1.5, (T, 1, 2)), 0)
    entries = [
        {
            "image_id": f"{t}.jpg",
            "category_id": 1,
            "score": 2.5,
            "idx": 1,
            "box": [0, 0, 10, 10],
            "keypoints": np.concatenate([coco[t], np.full((17, 1), 0.9)], -1).ravel().tolist(),
        }
        for t in range(T)
        if t not in MISSED
    ]
    (d / "alphapose-results.json").write_text(json.dumps(entries))
    writer = imageio_ffmpeg.write_frames(
        str(d / "clip.mp4"), (W, H), fps=FPS, codec="libx264", pix_fmt_out="yuv420p", macro_block_size=1
    )
    writer.send(None)
    for t in range(T):
        writer.send(np.full((H, W, 3), 40 + 4 * t, np.uint8).tobytes())
    writer.close()
    kw = dict(filter_widths=[3, 3], channels=16, dropout=0.0)
    torch.manual_seed(0)
    ckpt = save_lifter(d / "lifter.pt", TemporalLifter(**kw).eval(), "temporal", kw)
    return d, coco, ckpt


def test_detector_file_and_video_to_npz_and_mp4(clip, capsys):
    d, coco, ckpt = clip
    out = d / "lifted.npz"
    assert (
        cli(
            [
                "lift",
                "--keypoints",
                str(d / "alphapose-results.json"),
                "--video",
                str(d / "clip.mp4"),
                "--checkpoint",
                str(ckpt),
                "--out",
                str(out),
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out
    assert f"{2 * 17} joints filled in 2 frames" in printed
    z = np.load(out)  # plain arrays: no pickle needed to read the result
    (video,) = {k.split("/")[0] for k in z.files if k != "metadata"}
    kp, filled = z[f"{video}/keypoints_2d"], z[f"{video}/interpolated"]
    assert kp.shape == (T, 17, 2) and filled[list(MISSED)].all() and filled.sum() == 2 * 17
    # the filled frames are the linear interpolation of frames 9 and 12 (H36M-17 joints from COCO)
    for t in MISSED:
        np.testing.assert_allclose(kp[t], kp[9] + (t - 9) / 3 * (kp[12] - kp[9]), atol=1e-4)
    # H36M Hip is the COCO hips' midpoint (a frame the detector saw)
    np.testing.assert_allclose(kp[0, 0], 0.5 * (coco[0, 11] + coco[0, 12]), atol=1e-4)
    meta = json.loads(str(z["metadata"]))
    assert meta["videos"][video]["fps"] == FPS and meta["videos"][video]["image_size"] == [W, H]
    # the same lift through the Python API, from an array with NaN rows for the missed frames
    arr = coco.copy()
    arr[list(MISSED)] = np.nan
    api = weakpose.lift(arr, layout="coco17", image_size=(W, H), fps=FPS, checkpoint=ckpt)
    np.testing.assert_allclose(z[f"{video}/relative"], api.relative, atol=1e-5)
    # the mp4: one frame per pose, at the video's fps
    from weakpose.viz.video import video_info

    info = video_info(out.with_suffix(".mp4"), count_frames=True)
    assert info.num_frames == T and info.fps == pytest.approx(FPS)


def test_a_file_with_nobody_in_it_is_refused_by_name(tmp_path, capsys):
    (tmp_path / "empty.json").write_text(json.dumps([]))
    assert cli(["lift", "--keypoints", str(tmp_path / "empty.json"), "--width", "640", "--height", "480"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "empty.json" in err[0]
