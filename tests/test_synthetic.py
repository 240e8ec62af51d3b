"""The synthetic Human3.6M-format dataset: exact VideoPose3D layout, 2D = independent projection of the 3D through
the JSON camera numbers, per-subject bodies, no train/test leakage, determinism, CLI."""

import json
from pathlib import Path

import numpy as np
import pytest

from weakpose.data.motion.cmu import CMU_ACTION_NAMES, facing_direction
from weakpose.data.synthetic import keypoints as synthetic
from weakpose.skeleton import H36M17

CAMERA_JSON = Path(synthetic.__file__).resolve().parents[1] / "assets" / "h36m_cameras.json"
CAMERA_ORDER = ["54138969", "55011271", "58860488", "60457274"]
SMALL = dict(max_frames=30)


@pytest.fixture(scope="module")
def small_set(tmp_path_factory):
    out = tmp_path_factory.mktemp("synthetic")
    paths = synthetic.make_synthetic(out, seed=0, **SMALL)
    with np.load(paths.data_3d, allow_pickle=True) as z3, np.load(paths.data_2d, allow_pickle=True) as z2:
        files = {
            "3d_keys": sorted(z3.files),
            "2d_keys": sorted(z2.files),
            "positions_3d": z3["positions_3d"].item(),
            "meta3d": z3["metadata"].item(),
            "positions_2d": z2["positions_2d"].item(),
            "meta2d": z2["metadata"].item(),
            "raw_3d": z3["positions_3d"],
            "paths": paths,
        }
    return files


def _project_toolkit(points_m, R, t_mm, K, dist_json):
    """Human3.6M toolkit projection (ProjectPointRadial) written out from the JSON numbers, in millimetres."""
    k1, k2, p1, p2, k3 = dist_json
    X = points_m.astype(np.float64) * 1000.0 @ np.asarray(R).T + np.asarray(t_mm).reshape(3)
    xy = X[..., :2] / X[..., 2:3]
    r2 = np.sum(xy**2, axis=-1, keepdims=True)
    radial = 1 + k1 * r2 + k2 * r2**2 + k3 * r2**3
    tan = p1 * xy[..., 1:2] + p2 * xy[..., 0:1]
    xy_d = xy * (radial + tan) + np.array([p2, p1]) * r2
    K = np.asarray(K)
    return np.stack([K[0, 0] * xy_d[..., 0] + K[0, 2], K[1, 1] * xy_d[..., 1] + K[1, 2]], axis=-1)


def test_videopose3d_layout(small_set):
    assert small_set["3d_keys"] == ["metadata", "positions_3d", "weakpose_pair_id"]
    assert small_set["2d_keys"] == ["metadata", "positions_2d", "weakpose_pair_id"]
    assert small_set["raw_3d"].dtype == object and small_set["raw_3d"].shape == ()
    pos3d, pos2d = small_set["positions_3d"], small_set["positions_2d"]
    subjects = ["S1", "S5", "S6", "S7", "S8", "S9", "S11"]
    assert list(pos3d) == subjects and list(pos2d) == subjects
    for s in subjects:
        assert isinstance(pos3d[s], dict) and pos3d[s] and list(pos3d[s]) == list(pos2d[s])
        for action, p in pos3d[s].items():
            assert action.split(" ")[0].isalpha() and action[0].isupper()
            assert isinstance(p, np.ndarray) and p.dtype == np.float32 and p.ndim == 3 and p.shape[1:] == (17, 3)
            views = pos2d[s][action]
            assert isinstance(views, list) and len(views) == 4
            for v in views:
                assert v.dtype == np.float32 and v.shape == (len(p), 17, 2)
    assert small_set["meta2d"] == {
        "layout_name": "h36m",
        "num_joints": 17,
        "keypoints_symmetry": [[4, 5, 6, 11, 12, 13], [1, 2, 3, 14, 15, 16]],
    }
    meta = small_set["meta3d"]
    assert meta["units"] == "metres" and meta["fps"] == 50.0 and meta["joint_names"] == list(H36M17.joints)
    with pytest.raises(ValueError):  # pickled dicts, like VideoPose3D's files
        np.load(small_set["paths"].data_3d)["positions_3d"]


def test_gt_2d_is_the_projection_of_the_3d(small_set):
    cams = json.loads(CAMERA_JSON.read_text())
    worst = 0.0
    for s, actions in small_set["positions_3d"].items():
        for action, p in actions.items():
            for c, cam_id in enumerate(CAMERA_ORDER):
                ext, intr = cams["extrinsics"][s][cam_id], cams["intrinsics"][cam_id]
                expected = _project_toolkit(p, ext["R"], ext["t"], intr["calibration_matrix"], intr["distortion"])
                worst = max(worst, float(np.abs(small_set["positions_2d"][s][action][c] - expected).max()))
    assert worst < 1e-3  # pixels (float32 storage)


def test_bone_lengths_constant_within_and_different_between_subjects(small_set):
    per_subject = {}
    for s, actions in small_set["positions_3d"].items():
        poses = np.concatenate(list(actions.values())).astype(np.float64)
        lengths = np.linalg.norm(poses[:, 1:] - poses[:, list(H36M17.parents[1:])], axis=-1)
        assert lengths.std(axis=0).max() < 1e-5, s  # float32 storage of ~2-5 m coordinates
        np.testing.assert_allclose(lengths.mean(0), small_set["meta3d"]["bone_lengths"][s][1:], atol=1e-5)
        # left and right limbs match; the trunk has Human3.6M rather than CMU proportions (Hip->Thorax ~0.49 m)
        np.testing.assert_allclose(
            lengths[0, [c - 1 for c in H36M17.left]], lengths[0, [c - 1 for c in H36M17.right]], atol=1e-5
        )
        assert 0.40 < lengths[0, 6] + lengths[0, 7] < 0.60  # bones ending at Spine (7) and Thorax (8)
        per_subject[s] = lengths.mean(0)
    names = list(per_subject)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            assert np.abs(per_subject[a] - per_subject[b]).max() > 0.005, (a, b)


def test_train_and_test_sources_are_disjoint_and_cover_the_actions(small_set):
    meta = small_set["meta3d"]
    sources = {s: {info["source"] for info in meta["sources"][s].values()} for s in meta["sources"]}
    train = set().union(*(sources[s] for s in meta["train_subjects"]))
    test = set().union(*(sources[s] for s in meta["test_subjects"]))
    assert train and test and not train & test
    all_sources = [src for s in sources for src in sources[s]]
    assert len(all_sources) == len(set(all_sources))  # every source sequence used once
    assert len(all_sources) == 38 + 3
    test_actions = {a.split(" ")[0] for s in meta["test_subjects"] for a in small_set["positions_3d"][s]}
    assert set(CMU_ACTION_NAMES.values()) | {"StartWalk", "Hop"} == test_actions
    for s in meta["train_subjects"]:
        assert len(small_set["positions_3d"][s]) >= 3


def test_bodies_stand_on_the_floor_in_the_capture_volume(small_set):
    summary = json.loads(small_set["paths"].summary.read_text())
    assert summary["fraction_all_joints_in_image_mean"] > 0.85
    for s, actions in small_set["positions_3d"].items():
        for action, p in actions.items():
            ankles = p[:, [3, 6], 2].min(axis=1)
            assert -0.05 < np.percentile(ankles, 2) < 0.2, (s, action)
            assert np.abs(p[:, 0, :2]).max() < 3.5  # trajectory near the floor centre
            assert np.mean(p[:, 10, 2] > p[:, 0, 2]) > 0.9  # upright, Z up


def test_mirrored_walkers_still_face_where_they_walk(tmp_path):
    """Mirroring swaps left and right, so forward = (LHip - RHip) x up must keep agreeing with the velocity."""
    paths = synthetic.make_synthetic(
        tmp_path, seed=5, max_frames=200, actions=("Walking", "Running"), mirror_probability=0.5, include_bvh=False
    )
    with np.load(paths.data_3d, allow_pickle=True) as z:
        pos, meta = z["positions_3d"].item(), z["metadata"].item()
    mirrored = []
    for s, actions in pos.items():
        for action, p in actions.items():
            v = p[10:, 0].astype(np.float64) - p[:-10, 0]
            v[:, 2] = 0
            moving = np.linalg.norm(v, axis=1) > 0.1
            cos = np.sum(facing_direction(p[5:-5][moving]) * v[moving], 1) / np.linalg.norm(v[moving], axis=1)
            assert cos.mean() > 0.85, (s, action)
            mirrored.append(meta["sources"][s][action]["mirrored"])
    assert any(mirrored) and not all(mirrored)


def test_rescale_bones_keeps_directions(rng):
    poses = rng.normal(size=(5, 17, 3))
    lengths = np.concatenate([[0.0], rng.uniform(0.1, 0.5, 16)])
    out = synthetic.rescale_bones(poses, lengths)
    np.testing.assert_allclose(out[:, 0], poses[:, 0])
    for child, parent in H36M17.bones:
        a, b = poses[:, child] - poses[:, parent], out[:, child] - out[:, parent]
        np.testing.assert_allclose(np.linalg.norm(b, axis=1), lengths[child])
        np.testing.assert_allclose(np.sum(a * b, 1) / np.linalg.norm(a, axis=1) / lengths[child], 1.0)


def test_deterministic_given_a_seed(small_set, tmp_path):
    again = synthetic.make_synthetic(tmp_path / "again", seed=0, **SMALL)
    other = synthetic.make_synthetic(tmp_path / "other", seed=1, **SMALL)
    with np.load(again.data_3d, allow_pickle=True) as z, np.load(again.data_2d, allow_pickle=True) as z2:
        p3, p2 = z["positions_3d"].item(), z2["positions_2d"].item()
    for s, actions in small_set["positions_3d"].items():
        assert list(p3[s]) == list(actions)
        for action, p in actions.items():
            np.testing.assert_array_equal(p3[s][action], p)
            for c in range(4):
                np.testing.assert_array_equal(p2[s][action][c], small_set["positions_2d"][s][action][c])
    with np.load(other.data_3d, allow_pickle=True) as z:
        meta_other = z["metadata"].item()
    assert meta_other["sources"] != small_set["meta3d"]["sources"]


def test_ensure_synthetic_generates_once(tmp_path):
    first = synthetic.ensure_synthetic(tmp_path / "d", seed=2, max_frames=10, actions=("Running",))
    stamp = first.data_3d.stat().st_mtime_ns
    second = synthetic.ensure_synthetic(tmp_path / "d", seed=2, max_frames=10, actions=("Running",))
    assert second == first and first.data_3d.stat().st_mtime_ns == stamp and first.data_2d.is_file()


def test_cli(tmp_path, capsys):
    out = tmp_path / "cli"
    assert synthetic.main(["--out", str(out), "--seed", "3", "--max-frames", "20", "--actions", "Walking", "Hop"]) == 0
    text = capsys.readouterr().out
    assert "inside the image" in text and (out / synthetic.DATA_2D_NAME).is_file()
    with np.load(out / synthetic.DATA_3D_NAME, allow_pickle=True) as z:
        actions = {a.split(" ")[0] for acts in z["positions_3d"].item().values() for a in acts}
    assert actions == {"Walking", "Hop"}
    assert synthetic.main(["--out", str(out), "--actions", "Flying"]) == 2
    assert "unknown actions ['Flying']" in capsys.readouterr().err
