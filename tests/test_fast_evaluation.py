"""Evaluation on whole sequences and batched frames gives what per-frame windows give."""

import json

import numpy as np
import pytest
import torch

from weakpose.cli import main as cli
from weakpose.data.datasets.poses import PoseFrameDataset, PoseWindowDataset
from weakpose.data.h36m.loaders import load_videopose3d
from weakpose.data.synthetic.keypoints import make_synthetic
from weakpose.evaluation import evaluate_views, predict_sequences, predict_views
from weakpose.lifters import save_lifter
from weakpose.metrics import mpjpe_per_frame, p_mpjpe_per_frame
from weakpose.models import MLPLifter
from weakpose.models.temporal import TemporalLifter
from weakpose.skeleton import H36M17, flip_joints
from weakpose.tasks.video_gan import VideoGanTask


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    d = tmp_path_factory.mktemp("fe")
    paths = make_synthetic(d, max_frames=50, include_bvh=False, actions=["Walking", "Running"])
    data = load_videopose3d(paths.data_3d, paths.data_2d, subjects=["S9", "S11"])
    torch.manual_seed(0)
    model = TemporalLifter(filter_widths=(3, 3, 3), channels=32).eval()
    for m in model.modules():  # batch norm that is not the identity
        if isinstance(m, torch.nn.BatchNorm1d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
    return d, paths, data, model


def _per_window(model, ds):
    """The reference: every frame's own window through the strided twin, one sample at a time."""
    out = {}
    with torch.no_grad():
        for i in range(len(ds)):
            s = ds[i]
            pred = model.forward_windows(s["keypoints_2d"][None])[0, 0].numpy()
            p, t = out.setdefault((s["subject"], s["action"], s["camera"]), ([], []))
            p.append(pred)
            t.append(s["pose_3d"].numpy())
    return {k: (np.stack(p), np.stack(t)) for k, (p, t) in out.items()}


def test_whole_sequences_equal_per_frame_windows(setup):
    _, _, data, model = setup
    ds = PoseWindowDataset(data, receptive_field=27)
    ref = _per_window(model, ds)
    got = predict_sequences(model, ds, chunk_frames=40)  # several chunks per view
    assert sorted(got) == sorted(ref)
    for k in ref:
        # float32 here (1e-3 mm); test_lift_sequence checks 1e-4 mm in float64
        np.testing.assert_allclose(got[k][0], ref[k][0], rtol=0, atol=1e-6)
        np.testing.assert_array_equal(got[k][1], ref[k][1])
    # the batched per-window path gives the same too
    batched = predict_views(lambda b: model.forward_windows(b["keypoints_2d"])[:, 0], ds, batch_size=37)
    for k in ref:
        np.testing.assert_allclose(batched[k][0], ref[k][0], rtol=0, atol=1e-6)
        np.testing.assert_array_equal(batched[k][1], ref[k][1])


def test_flip_averages_with_the_mirrored_sequence(setup):
    _, _, data, model = setup
    ds = PoseWindowDataset(data, receptive_field=27)
    plain, flipped = predict_sequences(model, ds), predict_sequences(model, ds, flip=True)
    for key, kp, _, _ in ds.view_arrays():
        with torch.no_grad():
            mirror = model.lift_sequence(flip_joints(torch.from_numpy(kp), H36M17))
        expected = 0.5 * (plain[key][0] + flip_joints(mirror, H36M17).numpy())
        np.testing.assert_allclose(flipped[key][0], expected, rtol=0, atol=1e-6)


def test_frame_lifter_batches_equal_one_sample_at_a_time(setup):
    _, _, data, _ = setup
    torch.manual_seed(1)
    mlp = MLPLifter(width=32, num_blocks=1, dropout=0.0).eval()
    ds = PoseFrameDataset(data)
    got = predict_views(lambda b: mlp(b["keypoints_2d"]), ds, batch_size=100)
    with torch.no_grad():
        for key, (pred, target) in got.items():
            rows = [i for i in range(len(ds)) if (ds[i]["subject"], ds[i]["action"], ds[i]["camera"]) == key]
            assert len(rows) == len(pred)
            ref = mlp(torch.stack([ds[i]["keypoints_2d"] for i in rows])).numpy()
            np.testing.assert_allclose(pred, ref, rtol=0, atol=1e-6)
            np.testing.assert_array_equal(target, np.stack([ds[i]["pose_3d"].numpy() for i in rows]))


def test_validation_scores_every_frame_of_whole_sequences(setup):
    _, _, data, model = setup
    ds = PoseWindowDataset(data, receptive_field=27, frame_stride=4)  # the stride does not thin the validation
    task = VideoGanTask(model, None, None, "full")
    ref = _per_window(model, PoseWindowDataset(data, receptive_field=27))
    pred = np.concatenate([p for p, _ in ref.values()])
    target = np.concatenate([t for _, t in ref.values()])
    sums = task.validate_dataset(ds)
    assert sums["mpjpe"][1] == len(pred)
    assert sums["mpjpe"][0] / sums["mpjpe"][1] == pytest.approx(float(mpjpe_per_frame(pred, target).mean()), rel=1e-5)
    assert sums["p_mpjpe"][0] / sums["p_mpjpe"][1] == pytest.approx(
        float(p_mpjpe_per_frame(pred, target).mean()), rel=1e-4
    )
    # two ranks split the views and together score the same frames
    halves = [task.validate_dataset(ds, r, 2) for r in (0, 1)]
    assert sum(h["mpjpe"][1] for h in halves) == len(pred)
    assert sum(h["mpjpe"][0] for h in halves) == pytest.approx(sums["mpjpe"][0], rel=1e-6)


def test_evaluate_command_uses_whole_sequences_and_states_the_flip(setup, tmp_path, capsys):
    d, paths, data, model = setup
    ckpt = save_lifter(tmp_path / "tcn.pt", model, "temporal", {"filter_widths": (3, 3, 3), "channels": 32})
    for flip in (False, True):
        out = tmp_path / f"eval_{flip}.json"
        args = ["evaluate", "--checkpoint", str(ckpt), "--data3d", str(paths.data_3d), "--out", str(out)]
        assert cli(args + (["--flip"] if flip else [])) == 0
        printed = capsys.readouterr().out
        assert f"flip augmentation {'on' if flip else 'off'}" in printed
        table = evaluate_views(
            predict_sequences(model, PoseWindowDataset(data, receptive_field=27), flip=flip),
            metrics=("mpjpe", "p_mpjpe", "n_mpjpe", "mpjve"),
        ).summary()
        result = json.loads(out.read_text())
        assert result["mean_over_actions"]["mpjpe_mm"] == pytest.approx(table.action_mean["mpjpe"] * 1000, abs=1e-3)
