"""weakpose.viz.video: mp4/GIF of 2D input beside lifted 3D poses, and reading a video's size, fps and frames."""

import sys

import numpy as np
import pytest

imageio_ffmpeg = pytest.importorskip("imageio_ffmpeg")

from weakpose.skeleton import H36M17  # noqa: E402
from weakpose.viz.video import LiftFrameRenderer, iter_video_frames, video_info, write_lift_gif, write_lift_video  # noqa: E402

# Bone offsets from each H36M-17 joint's parent (metres; camera frame: x right, y down, z forward) of a body
# facing the camera, so the subject's left is +x.
_OFFSETS = np.array(
    [
        [0, 0, 0],
        [-0.13, 0, 0],
        [0, 0.45, 0],
        [0, 0.45, 0],
        [0.13, 0, 0],
        [0, 0.45, 0],
        [0, 0.45, 0],
        [0, -0.25, 0],
        [0, -0.25, 0],
        [0, -0.1, -0.05],
        [0, -0.12, 0.05],
        [0.18, 0.02, 0],
        [0.02, 0.28, 0],
        [0.02, 0.25, 0],
        [-0.18, 0.02, 0],
        [-0.02, 0.28, 0],
        [-0.02, 0.25, 0],
    ]
)
_SWING = {2: 1, 3: 1, 12: 1, 13: 1, 5: -1, 6: -1, 15: -1, 16: -1}  # right leg with left arm, and vice versa
F, CX, CY = 250.0, 160.0, 120.0  # pinhole of a 320x240 source image


def walking_poses(T, depth=4.0):
    """(T, 17, 3) absolute camera-frame poses by forward kinematics along H36M17.parents: legs and arms swing
    about the x axis (a walk in place) while the root drifts sideways."""
    angle = 0.4 * np.sin(2 * np.pi * np.arange(T) / 30.0)
    poses = np.zeros((T, 17, 3))
    poses[:, 0] = np.stack([np.linspace(-0.3, 0.3, T), np.zeros(T), np.full(T, depth)], axis=-1)
    for j, parent in enumerate(H36M17.parents):
        if parent < 0:
            continue
        a = angle * _SWING.get(j, 0)
        off = np.repeat(_OFFSETS[j][None], T, axis=0)
        y, z = off[:, 1] * np.cos(a) - off[:, 2] * np.sin(a), off[:, 1] * np.sin(a) + off[:, 2] * np.cos(a)
        poses[:, j] = poses[:, parent] + np.stack([off[:, 0], y, z], axis=-1)
    return poses


def project(poses):
    return np.stack([F * poses[..., 0] / poses[..., 2] + CX, F * poses[..., 1] / poses[..., 2] + CY], axis=-1)


def write_source(path, n, fps, size=(320, 240)):
    """A source video of solid frames whose colour ramps with time; returns the colours."""
    colours = [(40 + 4 * i, 200 - 3 * i, 90) for i in range(n)]
    w = imageio_ffmpeg.write_frames(
        str(path), size, fps=fps, codec="libx264", pix_fmt_out="yuv420p", macro_block_size=2, ffmpeg_log_level="error"
    )
    w.send(None)
    for c in colours:
        w.send(np.full((size[1], size[0], 3), c, np.uint8).tobytes())
    w.close()
    return np.array(colours)


def test_video_round_trip_frame_count_fps_size(tmp_path):
    poses = walking_poses(60)
    out = tmp_path / "lift.mp4"
    n = write_lift_video(out, project(poses), poses, (320, 240), fps=30, title="walk", progress=False)
    assert n == 60
    info = video_info(out)
    assert abs(info.fps - 30) < 1e-6
    assert info.num_frames == 60
    assert video_info(out, count_frames=True).num_frames == 60
    expected = LiftFrameRenderer(project(poses), poses, (320, 240)).size
    assert (info.width, info.height) == expected == (640 + 480, 480)
    assert info.width % 2 == 0 and info.height % 2 == 0
    frames = list(iter_video_frames(out))
    assert len(frames) == 60
    assert frames[0].shape == (480, 1120, 3) and frames[0].dtype == np.uint8
    right = frames[10][:, 640:].astype(int)
    assert (right[..., 2] - right[..., 0] > 80).sum() > 50  # blue left limbs in the 3D panel
    assert (right[..., 0] - right[..., 2] > 80).sum() > 50  # red right limbs
    assert not list(tmp_path.glob(".*wptmp*"))  # the temporary was renamed


def test_source_frames_under_skeleton_and_joint_position(tmp_path):
    src = tmp_path / "src.mp4"
    colours = write_source(src, 40, fps=25)
    assert video_info(src).fps == 25 and video_info(src).num_frames == 40
    poses = walking_poses(40)
    kp = project(poses)
    kp[:, 13] = (250.0, 60.0)  # left wrist (blue) at a known pixel; the 2D input need not match the 3D
    out = tmp_path / "over.mp4"
    assert write_lift_video(out, kp, poses, (320, 240), fps=25, frames=iter_video_frames(src), progress=False) == 40
    frames = list(iter_video_frames(out))
    assert len(frames) == 40
    for i in (0, 20, 39):
        corner = frames[i][5:25, 5:25].reshape(-1, 3).astype(float).mean(0)  # no skeleton near the top-left
        assert np.abs(corner - colours[i]).max() < 12, (i, corner, colours[i])
        # scale 2: pixel centre 250 -> 500.5, 60 -> 120.5
        patch = frames[i][118:124, 498:504].reshape(-1, 3).astype(float).mean(0)
        assert patch[2] > 200 and patch[2] - patch[0] > 120, (i, patch)


def test_short_video_continues_on_dark_background(tmp_path):
    src = tmp_path / "short.mp4"
    colours = write_source(src, 10, fps=25)
    poses = walking_poses(16)
    with pytest.warns(UserWarning, match="10 frames but there are 16 poses"):  # a path: ffmpeg scales the frames
        n = write_lift_video(tmp_path / "o.mp4", project(poses), poses, (320, 240), 25, frames=src, progress=False)
    assert n == 16
    frames = list(iter_video_frames(tmp_path / "o.mp4"))
    assert len(frames) == 16
    assert np.abs(frames[3][5:25, 5:25].reshape(-1, 3).mean(0) - colours[3]).max() < 12
    assert frames[-1][5:25, 5:25].mean() < 40  # dark background


def test_confidence_zero_and_reprojection_drawn(rng):
    poses = walking_poses(3)
    kp = project(poses)
    conf = np.ones((3, 17))
    conf[:, 16] = 0  # right wrist: hollow grey, not red
    reproj = kp + (0.0, 30.0)
    r = LiftFrameRenderer(kp, poses, (320, 240), reprojected_2d=reproj, confidences=conf)
    img = np.asarray(r.render(1))
    u, v = np.round(r.to_panel(kp[1, 16])).astype(int)
    centre = img[v - 1 : v + 2, u - 1 : u + 2].reshape(-1, 3)
    assert not ((centre[:, 0] > 180) & (centre[:, 2] < 80)).any()  # no red fill at the unseen joint
    yellow = (img[..., 0] > 200) & (img[..., 1] > 180) & (img[..., 2] < 60)
    assert yellow[:, : r.left_w].sum() > 30


def test_view_and_scale_fixed_across_frames():
    poses = walking_poses(30)
    r = LiftFrameRenderer(project(poses), poses, (320, 240))
    a, b = np.asarray(r.draw_3d(0)), np.asarray(r.draw_3d(0))
    assert np.array_equal(a, b)
    # root-centred: the same body moved 1 m sideways draws the same skeleton pixels (only the floor scrolls)
    moved = poses.copy()
    moved[..., 0] += 1.0
    r2 = LiftFrameRenderer(project(moved), moved, (320, 240))
    assert r2.scale_3d == pytest.approx(r.scale_3d)
    assert np.allclose(r2._project_3d(moved[5] - moved[5, 0]), r._project_3d(poses[5] - poses[5, 0]))


def test_gif(tmp_path):
    from PIL import Image

    poses = walking_poses(12)
    with pytest.warns(UserWarning, match="first 8 of 12"):
        n = write_lift_gif(tmp_path / "a.gif", project(poses), poses, (320, 240), fps=10, max_frames=8)
    assert n == 8
    with Image.open(tmp_path / "a.gif") as im:
        assert im.n_frames == 8 and im.size == (320 + 240, 240)


def test_unreadable_file_error_is_one_line(tmp_path):
    bad = tmp_path / "notes.mp4"
    bad.write_text("not a video")
    with pytest.raises(ValueError) as e:
        video_info(bad)
    msg = str(e.value)
    assert "\n" not in msg and str(bad) in msg
    with pytest.raises(ValueError, match="notes.mp4"):
        next(iter_video_frames(bad))
    with pytest.raises(FileNotFoundError, match="missing.mp4"):
        video_info(tmp_path / "missing.mp4")


def test_bad_inputs(tmp_path):
    poses = walking_poses(5)
    with pytest.raises(ValueError, match="keypoints_2d has 4 frames"):
        write_lift_video(tmp_path / "x.mp4", project(poses)[:4], poses, (320, 240), 30, progress=False)
    with pytest.raises(ValueError, match="poses_3d must have shape"):
        write_lift_video(tmp_path / "x.mp4", project(poses), poses[:, :16], (320, 240), 30, progress=False)
    with pytest.raises(ValueError, match="fps"):
        write_lift_video(tmp_path / "x.mp4", project(poses), poses, (320, 240), 0, progress=False)
    assert not (tmp_path / "x.mp4").exists()


def test_missing_imageio_ffmpeg_says_how_to_install(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "imageio_ffmpeg", None)  # makes `import imageio_ffmpeg` fail
    with pytest.raises(ImportError, match="pip install imageio imageio-ffmpeg"):
        video_info(tmp_path / "a.mp4")
