"""The recipes of the shipped lifter and pose prior run on the Trainer: their window batches, their checkpoint
selection, and a short run of each (numbers checked against independent computations, not against the cards)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from weakpose.geometry import normalize_screen_coordinates
from weakpose.recipes.lifter import NoisyWindows, train_lifter
from weakpose.recipes.pose_prior import train_pose_prior
from weakpose.recipes.recordings import Recording
from weakpose.train.callbacks import KeepBestWeights


def _recordings(lengths=(5, 9, 3), seed=0):
    rng = np.random.default_rng(seed)
    out = []
    for i, n in enumerate(lengths):
        world = rng.normal(size=(n, 17, 3))
        out.append(
            Recording(
                label=f"a{i}/s",
                uv=rng.uniform(0, 900, size=(n, 17, 2)),
                camera_3d=world,
                image_size=(1000 + 100 * i, 800),
            )
        )
    return out


def test_window_batch_is_the_per_window_loop():
    recs = _recordings()
    windows = NoisyWindows(recs, receptive_field=5, noise=None)
    indices = np.arange(len(windows))[::-1]
    x, y = windows.get_batch(indices)
    # reference: walk the recordings, clamp each window to its own recording by hand
    ref_x, ref_y = [], []
    for rec in recs:
        n = len(rec.uv)
        for t in range(n):
            frames = [min(max(t + o, 0), n - 1) for o in range(-2, 3)]
            ref_x.append(normalize_screen_coordinates(rec.uv[frames], *rec.image_size))
            ref_y.append(rec.root_relative_3d[t])
    np.testing.assert_allclose(x.numpy(), np.stack(ref_x)[indices], atol=1e-6)
    np.testing.assert_allclose(y.numpy(), np.stack(ref_y)[indices], atol=1e-6)


def test_window_noise_follows_the_torch_seed():
    windows = NoisyWindows(_recordings(), receptive_field=5)
    torch.manual_seed(3)
    a = windows.get_batch([0, 4, 7])[0]
    torch.manual_seed(3)
    b = windows.get_batch([0, 4, 7])[0]
    c = windows.get_batch([0, 4, 7])[0]
    assert torch.equal(a, b) and not torch.equal(b, c)


def test_keep_best_weights_keeps_the_best_from_its_start_step():
    net = torch.nn.Linear(2, 1)
    keep = KeepBestWeights(net, "val/m", start_step=20)
    seen = {}
    for step, value in [(10, 9.0), (20, 1.0), (30, 3.0), (40, 2.0)]:
        with torch.no_grad():
            net.weight.fill_(step)
        seen[step] = net.weight.clone()
        keep.on_validation_end(None, step, {"val/m": value})
    assert keep.best_step == 30 and keep.best_value == 3.0  # step 10 scored higher but is before the start
    assert keep.history == {10: 9.0, 20: 1.0, 30: 3.0, 40: 2.0}
    assert keep.restore() == 30 and torch.equal(net.weight, seen[30])
    with pytest.raises(KeyError, match="val/other"):
        KeepBestWeights(net, "val/other").on_validation_end(None, 1, {"val/m": 0.0})


def test_lifter_recipe_learns_on_the_trainer(tmp_path):
    torch.set_num_threads(1)
    recs = _recordings((40, 40), seed=1)
    small = dict(num_joints_in=17, in_features=2, num_joints_out=17, filter_widths=[3], channels=32, dropout=0.0)
    model = train_lifter(recs, 60, batch_size=16, kwargs=small, noise=None, work_dir=tmp_path / "run")
    rows = (tmp_path / "run" / "metrics.csv").read_text().splitlines()
    header = rows[0].split(",")
    col = header.index("train/mpjpe_mm")
    losses = [float(r.split(",")[col]) for r in rows[1:] if r.split(",")[col]]
    assert losses[-1] < losses[0]
    assert not model.training
    # the returned model is the trained one: its training loss at the end is what lifting the windows gives
    x, y = NoisyWindows(recs, model.receptive_field(), noise=None).get_batch(np.arange(80))
    with torch.no_grad():
        err = (model.forward_windows(x)[:, 0] - y).norm(dim=-1).mean().item() * 1000
    assert err < losses[0]


def test_pose_prior_recipe_returns_the_selected_step(tmp_path):
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    poses = rng.normal(scale=0.3, size=(300, 17, 3)).astype(np.float32)
    critic = train_pose_prior(
        poses[:200], 30, batch_size=32, val_poses=poses[200:], select_every=10, work_dir=tmp_path / "run"
    )
    rows = (tmp_path / "run" / "metrics.csv").read_text().splitlines()
    col = rows[0].split(",").index("val/rank_accuracy")
    values = {int(r.split(",")[0]): float(r.split(",")[col]) for r in rows[1:] if r.split(",")[col]}
    assert sorted(values) == [10, 20, 30]
    best = max(values, key=values.get)
    assert critic.meta["selected_step"] == best
    assert critic.meta["validation_rank_accuracy_%"] == pytest.approx(values[best], abs=0.01)
    assert not any(p.requires_grad for p in critic.parameters())
    with pytest.raises(ValueError, match="val_poses is empty"):
        train_pose_prior(poses, 1, val_poses=poses[:0])
