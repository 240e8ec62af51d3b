"""HumanEva-I in VideoPose3D's humaneva15 layout: reading, the H36M-17 conversion, and P-MPJPE evaluation.

The data are synthetic: a made-up 15-joint body walking through a world frame (Z up, metres), filmed by three
pinhole cameras defined here (640x480), written as VideoPose3D's npz pair.
"""

import numpy as np
import pytest
import torch
from torch import nn

from weakpose.data.h36m.readers import H36MFormatError
from weakpose.data.h36m.report import LENGTH_MISMATCH, LENGTH_TRIMMED
from weakpose.data.humaneva import (
    H36M17_TO_HUMANEVA15,
    HUMANEVA15,
    evaluate_humaneva,
    humaneva15_to_h36m17,
    is_humaneva_file,
    load_humaneva,
)
from weakpose.geometry.camera import normalize_screen_coordinates
from weakpose.models.mlp_lifter import MLPLifter
from weakpose.models.temporal import TemporalLifter
from weakpose.skeleton import H36M17

W, H = 640, 480
SYMMETRY = [[2, 3, 4, 8, 9, 10], [5, 6, 7, 11, 12, 13]]

# A standing body facing +y (Z up, metres), HumanEva-15 order; the subject's left is -x.
BODY = np.array(
    [
        [0.00, 0.00, 0.90],  # pelvis
        [0.00, 0.00, 1.40],  # thorax
        [-0.18, 0.00, 1.40],
        [-0.22, 0.02, 1.12],
        [-0.24, 0.06, 0.86],  # left shoulder, elbow, wrist
        [0.18, 0.00, 1.40],
        [0.22, 0.02, 1.12],
        [0.24, 0.06, 0.86],  # right shoulder, elbow, wrist
        [-0.10, 0.00, 0.90],
        [-0.11, 0.03, 0.50],
        [-0.11, 0.00, 0.08],  # left hip, knee, ankle
        [0.10, 0.00, 0.90],
        [0.11, 0.03, 0.50],
        [0.11, 0.00, 0.08],  # right hip, knee, ankle
        [0.00, 0.02, 1.62],  # head centre
    ]
)


def _motion(n, seed, speed=0.8):
    """(n, 15, 3) world metres: the body turning slowly while moving along y, limbs swinging, a little noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) / 60.0
    out = np.empty((n, 15, 3))
    for i, ti in enumerate(t):
        pose = BODY.copy()
        swing = 0.15 * np.sin(2 * np.pi * 1.5 * ti)
        pose[[4, 10], 1] += swing  # left wrist and ankle forward
        pose[[7, 13], 1] -= swing
        a = 0.4 * np.sin(ti)
        rz = np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])
        out[i] = pose @ rz.T + np.array([0.1, speed * ti - 0.3, 0.0]) + rng.normal(0, 0.01, (15, 3))
    return out.astype(np.float32)


def _camera(angle):
    """A pinhole camera 4 m from the origin at 1.5 m height, looking at (0, 0, 1): (R, C, f, c); x_cam = R (X - C)."""
    centre = np.array([4 * np.cos(angle), 4 * np.sin(angle), 1.5])
    forward = np.array([0.0, 0.0, 1.0]) - centre
    forward /= np.linalg.norm(forward)
    right = np.cross(forward, [0.0, 0.0, 1.0])
    right /= np.linalg.norm(right)
    down = np.cross(forward, right)
    return np.stack([right, down, forward]), centre, 600.0, np.array([W / 2, H / 2])


CAMERAS = [_camera(a) for a in (-np.pi / 2, np.pi / 6, 5 * np.pi / 6)]  # C1, C2, C3


def _to_camera(world, cam):
    R, C, _, _ = cam
    return (world.astype(np.float64) - C) @ R.T


def _project(world, cam):
    x = _to_camera(world, cam)
    _, _, f, c = cam
    return (f * x[..., :2] / x[..., 2:] + c).astype(np.float32)


def _save(path, **entries):
    np.savez(path, **{k: np.array(v, dtype=object) if isinstance(v, dict) else v for k, v in entries.items()})


SEQUENCES = {  # subject -> action -> frames
    "Validate/S1": {"Walk 1 chunk0": 40, "Jog 1": 30},
    "Validate/S2": {"Box 1 chunk0": 36},
    "Train/S1": {"Walk 1 chunk0": 20},
}


def _write(tmp_path, metadata=None, shorten=None):
    """The 3D/2D npz pair; ``shorten[(subject, action, camera index)] = frames`` removed from that 2D view."""
    pos3d, pos2d = {}, {}
    for k, (subject, acts) in enumerate(SEQUENCES.items()):
        pos3d[subject], pos2d[subject] = {}, {}
        for j, (action, n) in enumerate(acts.items()):
            world = _motion(n, seed=10 * k + j)
            pos3d[subject][action] = world
            views = [_project(world, cam) for cam in CAMERAS]
            for c in range(3):
                cut = (shorten or {}).get((subject, action, c), 0)
                views[c] = views[c][: n - cut]
            pos2d[subject][action] = views
    meta = {"layout_name": "humaneva15", "num_joints": 15, "keypoints_symmetry": SYMMETRY}
    meta.update(metadata or {})
    p3, p2 = tmp_path / "data_3d_humaneva15.npz", tmp_path / "data_2d_humaneva15_gt.npz"
    _save(p3, positions_3d=pos3d)
    _save(p2, positions_2d=pos2d, metadata=meta)
    return p3, p2


@pytest.fixture
def pair(tmp_path):
    return _write(tmp_path)


# ---------------------------------------------------------------------------------------------------------
# layout and reading


def test_joint_order_matches_videopose3d_metadata():
    assert HUMANEVA15.num_joints == 15 and HUMANEVA15.name == "humaneva15"
    assert list(HUMANEVA15.parents) == [-1, 0, 1, 2, 3, 1, 5, 6, 0, 8, 9, 0, 11, 12, 1]
    assert [list(HUMANEVA15.left), list(HUMANEVA15.right)] == SYMMETRY
    assert list(H36M17_TO_HUMANEVA15) == [0, 8, 11, 12, 13, 14, 15, 16, 4, 5, 6, 1, 2, 3, 10]


def test_is_humaneva_file(tmp_path, pair):
    p3, p2 = pair
    assert is_humaneva_file(p3)
    assert not is_humaneva_file(p2)  # a 2D file has no positions_3d
    h36m = tmp_path / "data_3d_h36m.npz"
    _save(h36m, positions_3d={"S1": {"Walking": np.zeros((5, 32, 3), np.float32)}})
    assert not is_humaneva_file(h36m)
    plain = tmp_path / "other.npz"
    _save(plain, positions_3d={"Custom": {"a": np.zeros((5, 15, 3), np.float32)}})
    assert is_humaneva_file(plain)  # 15 joints alone decide
    (tmp_path / "x.txt").write_text("hello")
    assert not is_humaneva_file(tmp_path / "x.txt") and not is_humaneva_file(tmp_path / "missing.npz")


def test_load_defaults_to_validate_subjects(pair):
    p3, p2 = pair
    views = load_humaneva(p3, p2)
    keys = {(v.subject, v.action, v.camera) for v in views}
    assert keys == {(s, a, c) for s in ("Validate/S1", "Validate/S2") for a in SEQUENCES[s] for c in ("C1", "C2", "C3")}
    for v in views:
        n = SEQUENCES[v.subject][v.action]
        assert v.keypoints_2d.shape == (n, 15, 2) and v.keypoints_2d.dtype == np.float32
        assert v.positions_3d.shape == (n, 15, 3) and v.positions_3d.dtype == np.float32
        assert v.image_size == (640, 480) and v.confidence is None
    v = next(v for v in views if v.action == "Jog 1" and v.camera == "C2")
    np.testing.assert_allclose(v.keypoints_2d, _project(v.positions_3d, CAMERAS[1]), atol=1e-4)
    assert views.report.skipped() == [] and len(views.report.loaded) == 3


def test_load_subject_and_action_filters(pair):
    p3, p2 = pair
    views = load_humaneva(p3, p2, actions=["Walk"])
    assert {(v.subject, v.action) for v in views} == {("Validate/S1", "Walk 1 chunk0")}
    views = load_humaneva(p3, p2, subjects=["Train/S1", "Validate/S2"], actions=["Walk", "Box"])
    assert {(v.subject, v.action) for v in views} == {("Train/S1", "Walk 1 chunk0"), ("Validate/S2", "Box 1 chunk0")}
    with pytest.raises(H36MFormatError, match="S9"):
        load_humaneva(p3, p2, subjects=["S9"])


def test_length_mismatch_trimmed_or_skipped_and_reported(tmp_path):
    p3, p2 = _write(tmp_path, shorten={("Validate/S1", "Walk 1 chunk0", 1): 10, ("Validate/S1", "Jog 1", 2): 3})
    with pytest.warns(UserWarning, match="trimmed"):
        views = load_humaneva(p3, p2, subjects=["Validate/S1"])
    cams = {(v.action, v.camera): v for v in views}
    assert ("Walk 1 chunk0", "C2") not in cams and ("Walk 1 chunk0", "C1") in cams  # > 5 frames: view skipped
    [skip] = views.report.skipped(LENGTH_MISMATCH)
    assert (skip.subject, skip.action, skip.camera) == ("Validate/S1", "Walk 1 chunk0", "C2")
    assert "30" in skip.detail and "40" in skip.detail
    trimmed = cams[("Jog 1", "C3")]  # 3 frames: both trimmed
    assert trimmed.keypoints_2d.shape[0] == trimmed.positions_3d.shape[0] == 27
    assert [e.camera for e in views.report.notes(LENGTH_TRIMMED)] == ["C3"]
    assert "HumanEva-I load report" in views.report.summary()


def test_wrong_layouts_refused_with_file_and_key(tmp_path, pair):
    p3, p2 = pair
    (tmp_path / "h").mkdir()
    _, h36m_2d = _write(tmp_path / "h", metadata={"layout_name": "h36m"})
    with pytest.raises(H36MFormatError, match="layout_name"):
        load_humaneva(p3, h36m_2d)
    bad2d = tmp_path / "bad2d.npz"
    _save(
        bad2d,
        positions_2d={"Validate/S1": {"Walk 1 chunk0": [np.ones((40, 17, 2), np.float32) * 100] * 3}},
        metadata={},
    )
    with pytest.raises(H36MFormatError, match=r"bad2d\.npz.*Walk 1 chunk0.*15 joints"):
        load_humaneva(p3, bad2d, actions=["Walk"])
    bad3d = tmp_path / "bad3d.npz"
    _save(bad3d, positions_3d={"Validate/S1": {"Walk 1 chunk0": np.zeros((40, 17, 3), np.float32)}})
    where = r"bad3d\.npz:positions_3d\['Validate/S1'\]\['Walk 1 chunk0'\]"
    with pytest.raises(H36MFormatError, match=where + r".*\(N, 15, 3\)"):
        load_humaneva(bad3d, p2)


def test_video_metadata_sets_image_size(tmp_path):
    p3, p2 = _write(tmp_path, metadata={"video_metadata": {"Validate/S2": {"w": 1000, "h": 800}}})
    views = load_humaneva(p3, p2)
    assert {v.image_size for v in views if v.subject == "Validate/S2"} == {(1000, 800)}
    assert {v.image_size for v in views if v.subject == "Validate/S1"} == {(640, 480)}


# ---------------------------------------------------------------------------------------------------------
# conversion


def test_humaneva15_to_h36m17_hand_computed():
    x = np.arange(45, dtype=np.float64).reshape(15, 3) ** 1.3
    conf = np.linspace(0.1, 0.9, 15)
    x17, c17 = humaneva15_to_h36m17(x, conf)
    assert x17.shape == (17, 3) and c17.shape == (17,)
    np.testing.assert_allclose(x17[0], x[0])  # Hip = pelvis
    np.testing.assert_allclose(x17[1], x[11])  # RHip
    np.testing.assert_allclose(x17[3], x[13])  # RFoot = right ankle
    np.testing.assert_allclose(x17[6], x[10])  # LFoot = left ankle
    np.testing.assert_allclose(x17[7], [(a + b) / 2 for a, b in zip(x[0], x[1])])  # Spine
    np.testing.assert_allclose(x17[8], x[1])  # Thorax
    np.testing.assert_allclose(x17[9], x[1] + 0.5 * (x[14] - x[1]))  # Neck/Nose
    np.testing.assert_allclose(x17[10], x[14])  # Head
    np.testing.assert_allclose(x17[11], x[2])  # LShoulder
    np.testing.assert_allclose(x17[16], x[7])  # RWrist
    assert c17[7] == min(conf[0], conf[1]) and c17[9] == min(conf[1], conf[14]) and c17[13] == conf[4]
    np.testing.assert_array_equal(x17[H36M17_TO_HUMANEVA15], x)  # the 15 joints come back unchanged
    t17, tc = humaneva15_to_h36m17(torch.from_numpy(x)[None], torch.from_numpy(conf)[None])
    assert isinstance(t17, torch.Tensor) and t17.shape == (1, 17, 3)
    np.testing.assert_allclose(t17[0].numpy(), x17)
    np.testing.assert_allclose(tc[0].numpy(), c17)
    _, ones = humaneva15_to_h36m17(x[..., :2].astype(np.float32))
    assert ones.dtype == np.float32 and np.all(ones == 1)
    with pytest.raises(ValueError, match="15"):
        humaneva15_to_h36m17(np.zeros((17, 2)))


# ---------------------------------------------------------------------------------------------------------
# evaluation


class GroundTruthStub(nn.Module):
    """A single-frame 'lifter' replaying given H36M-17 outputs frame by frame, recording what it was fed."""

    num_joints_in = 17

    def __init__(self, outputs):
        super().__init__()
        self.outputs = torch.from_numpy(np.concatenate(outputs).astype(np.float32))
        self.seen, self.pos = [], 0

    def forward(self, x):
        self.seen.append(x.clone())
        out = self.outputs[self.pos : self.pos + x.shape[0]]
        self.pos += x.shape[0]
        return out


def _camera_h36m17(view):
    """The view's ground truth as a Human3.6M lifter would predict it: camera frame, root-relative, H36M-17."""
    cam = _to_camera(view.positions_3d, CAMERAS[int(view.camera[1]) - 1])
    return humaneva15_to_h36m17(cam - cam[:, :1])[0]


def _procrustes_errors(pred, target):
    """Per-frame similarity-Procrustes MPJPE (rotation with det +1, scale, translation), plain NumPy."""
    out = []
    for p, g in zip(pred, target):
        p0, g0 = p - p.mean(0), g - g.mean(0)
        u, s, vt = np.linalg.svd(p0.T @ g0)
        d = np.sign(np.linalg.det(vt.T @ u.T))
        rot = vt.T @ np.diag([1.0, 1.0, d]) @ u.T
        scale = (s * [1.0, 1.0, d]).sum() / (p0**2).sum()
        out.append(np.linalg.norm(scale * p0 @ rot.T + g.mean(0) - g, axis=-1).mean())
    return np.array(out)


def test_ground_truth_gives_zero_and_input_is_converted(pair):
    p3, p2 = pair
    views = load_humaneva(p3, p2)
    stub = GroundTruthStub([_camera_h36m17(v) for v in views])
    table, protocol = evaluate_humaneva(stub, views, two_d_source="GT")
    s = table.summary()
    assert {r.action for r in s.rows} == {"Walk", "Jog", "Box"}
    assert s.row("Walk").frames == 3 * 40
    assert max(r.values["p_mpjpe"] for r in s.rows) < 1e-5  # only a rotation separates camera and world
    # The lifter got H36M-17 normalised screen coordinates of the first view.
    first = stub.seen[0].numpy()
    want = normalize_screen_coordinates(humaneva15_to_h36m17(views[0].keypoints_2d.astype(np.float64))[0], W, H)
    np.testing.assert_allclose(first, want, atol=1e-6)
    line = protocol.line()
    assert "HumanEva-I 15 joints, root included" in line and "world 3D" in line and "2D source GT" in line
    assert protocol.averaging == "actions" and "P-MPJPE" in table.format(protocol)


def test_perturbed_prediction_matches_numpy_procrustes(pair):
    p3, p2 = pair
    views = load_humaneva(p3, p2)
    rng = np.random.default_rng(3)
    outputs = [(_camera_h36m17(v) + rng.normal(0, 0.03, (v.frames, 17, 3))).astype(np.float32) for v in views]
    table, _ = evaluate_humaneva(GroundTruthStub(outputs), views, batch_size=16)
    per_action = {}
    for v, out in zip(views, outputs):
        target = v.positions_3d.astype(np.float64)
        errors = _procrustes_errors(out[:, H36M17_TO_HUMANEVA15].astype(np.float64), target - target[:, :1])
        per_action.setdefault(v.action.split(" ")[0], []).append(errors)
    s = table.summary()
    for action, errors in per_action.items():
        assert abs(s.row(action).values["p_mpjpe"] - np.concatenate(errors).mean()) < 1e-6
    assert s.row("Walk").values["p_mpjpe"] > 0.01


def test_by_subject_rows_and_exclusions(tmp_path):
    p3, p2 = _write(tmp_path, shorten={("Validate/S2", "Box 1 chunk0", 0): 9})
    views = load_humaneva(p3, p2)
    stub = GroundTruthStub([_camera_h36m17(v) for v in views])
    table, protocol = evaluate_humaneva(stub, views, by_subject=True)
    assert {r.action for r in table.summary().rows} == {"Walk/S1", "Jog/S1", "Box/S2"}
    assert protocol.exclusions == ("Validate/S2/Box 1 chunk0 C1",)


@pytest.mark.parametrize("joints", [17, 15])
def test_temporal_lifter_whole_sequences(pair, joints):
    torch.manual_seed(0)
    p3, p2 = pair
    views = load_humaneva(p3, p2, actions=["Walk", "Jog"])
    model = TemporalLifter(num_joints_in=joints, num_joints_out=joints, filter_widths=[3], channels=8)
    table, protocol = evaluate_humaneva(model, views, flip=True, two_d_source="GT")
    s = table.summary()
    assert {r.action: r.frames for r in s.rows} == {"Walk": 120, "Jog": 90}
    assert all(np.isfinite(r.values["p_mpjpe"]) and r.values["p_mpjpe"] > 0 for r in s.rows)
    assert protocol.flip_augmentation and "Walk" in table.format(protocol)


def test_single_frame_mlp_with_flip(pair):
    torch.manual_seed(0)
    p3, p2 = pair
    views = load_humaneva(p3, p2, actions=["Jog"])
    model = MLPLifter(num_joints=17, width=16, num_blocks=1)
    table, _ = evaluate_humaneva(model, views, flip=True, batch_size=7)
    assert [r.action for r in table.summary().rows] == ["Jog"]
    with pytest.raises(ValueError, match="no views"):
        evaluate_humaneva(model, [])


def test_flip_order_is_consistent_with_h36m17():
    # Mirroring then converting equals converting then mirroring: the flip orders of both layouts agree.
    x = np.random.default_rng(1).normal(size=(4, 15, 2))
    from weakpose.skeleton import flip_joints

    a = humaneva15_to_h36m17(flip_joints(x, HUMANEVA15))[0]
    b = flip_joints(humaneva15_to_h36m17(x)[0], H36M17)
    np.testing.assert_allclose(a, b)


def test_weakpose_evaluate_routes_a_humaneva_pair_to_its_own_protocol(pair, tmp_path, capsys):
    """`weakpose evaluate` recognises the 15-joint file (once reported as "corrupt") and scores its 15 joints."""
    import json

    from weakpose.cli import main as cli
    from weakpose.lifters import save_lifter
    from weakpose.models import MLPLifter

    path_3d, path_2d = pair
    torch.manual_seed(0)
    model = MLPLifter(width=16, num_blocks=1, dropout=0.0).eval()
    ckpt = save_lifter(tmp_path / "lifter.pt", model, "mlp", {"width": 16, "num_blocks": 1, "dropout": 0.0})
    out = tmp_path / "he.json"
    assert cli(["evaluate", "--checkpoint", str(ckpt), "--data3d", str(path_3d), "--out", str(out)]) == 2
    assert "needs its 2D file" in capsys.readouterr().err
    assert (
        cli(
            [
                "evaluate",
                "--checkpoint",
                str(ckpt),
                "--data3d",
                str(path_3d),
                "--data2d",
                str(path_2d),
                "--out",
                str(out),
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out
    assert "HumanEva-I 15 joints" in printed and "Walk" in printed
    table, _ = evaluate_humaneva(model, load_humaneva(path_3d, path_2d))
    doc = json.loads(out.read_text())
    assert doc["frame_weighted_mean"]["p_mpjpe_mm"] == pytest.approx(
        1000 * table.summary().frame_mean["p_mpjpe"], rel=1e-6
    )
