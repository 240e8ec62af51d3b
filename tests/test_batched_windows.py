"""The batched window generator: ``get_batch`` equals the per-sample path, and training through it is the same run."""

import numpy as np
import pytest
import torch
from torch.utils.data import default_collate

from weakpose.data.datasets.poses import PoseFrameDataset, PoseWindowDataset
from weakpose.data.h36m.loaders import load_videopose3d
from weakpose.data.synthetic.keypoints import make_synthetic
from weakpose.models.temporal import TemporalLifter
from weakpose.tasks.supervised_lifter import SupervisedLifterTask
from weakpose.tasks.video_gan import VideoGanTask
from weakpose.train import Callback, TrainConfig, Trainer
from weakpose.train.batching import BatchedDataset, batched_loader, passthrough


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    d = tmp_path_factory.mktemp("bw")
    paths = make_synthetic(d, max_frames=40, include_bvh=False, actions=["Walking", "Jumping"])
    return load_videopose3d(paths.data_3d, paths.data_2d)


def _assert_same(ref: dict, got: dict):
    assert set(ref) == set(got)
    for k in ref:
        if isinstance(ref[k], torch.Tensor):
            assert ref[k].dtype == got[k].dtype and ref[k].shape == got[k].shape, k
            assert torch.equal(ref[k], got[k]) or torch.allclose(ref[k], got[k], equal_nan=True, rtol=0, atol=0), k
        else:
            assert ref[k] == got[k], k


@pytest.mark.parametrize(
    "cls, kwargs",
    [
        (PoseWindowDataset, dict(receptive_field=27)),
        (PoseWindowDataset, dict(receptive_field=9, causal=True, frame_stride=3)),
        (PoseWindowDataset, dict(receptive_field=5, target="window")),
        (PoseWindowDataset, dict(receptive_field=9, chunk_frames=7)),
        (PoseWindowDataset, dict(receptive_field=27, chunk_frames=16, causal=True)),
        (PoseFrameDataset, dict()),
        (PoseFrameDataset, dict(target="window", cameras=["55011271", "60457274"])),
    ],
)
def test_get_batch_equals_the_collated_per_sample_items(data, cls, kwargs, rng):
    ds = cls(data, **kwargs)
    idx = np.concatenate([rng.integers(0, len(ds), 61), [0, len(ds) - 1, -1]])  # edges and a negative index
    ref = default_collate([ds[int(i)] for i in idx])
    _assert_same(ref, ds.get_batch(idx))
    # through DataLoader: __getitems__ with the batch's indices, collated already
    loader = batched_loader(ds, batch_size=16, shuffle=False)
    first = next(iter(loader))
    _assert_same(default_collate([ds[i] for i in range(16)]), first)


def test_windows_without_3d_give_nan_targets_like_the_per_sample_path(data):
    ds = PoseWindowDataset(data, receptive_field=9, require_3d=False)
    ds.views[0]["cam"] = None  # a view without calibration: 2D only
    idx = np.arange(0, len(ds), 7)
    _assert_same(default_collate([ds[int(i)] for i in idx]), ds.get_batch(idx))
    assert not ds.get_batch([0])["has_3d"][0] and torch.isnan(ds.get_batch([0])["pose_3d"]).all()


def test_flip_augmentation_on_batches_equals_flip_on_collated_items(data):
    """The tasks mirror half of each batch with tensor ops: the same batch gives the same flipped batch."""
    ds = PoseWindowDataset(data, receptive_field=9)
    idx = np.arange(3, 3 + 24)
    ref, got = default_collate([ds[int(i)] for i in idx]), ds.get_batch(idx)
    task = VideoGanTask(TemporalLifter(filter_widths=(3, 3), channels=8), None, None, "full")
    _assert_same(task._flip(ref), task._flip(got))
    frames = PoseFrameDataset(data)
    lifter = SupervisedLifterTask(torch.nn.Linear(2, 3), flip_augmentation=True)
    for a, b in zip(
        lifter._inputs(default_collate([frames[int(i)] for i in idx]), True),
        lifter._inputs(frames.get_batch(idx), True),
    ):
        assert torch.equal(a, b)


class _Losses(Callback):
    def __init__(self):
        self.losses = {}

    def on_step_end(self, trainer, step, outputs):
        self.losses[step] = outputs["loss"].item()


def _run(ds, out, collate_fn=None, steps=6, resume=None, kill_after=None):
    torch.manual_seed(0)
    model = TemporalLifter(filter_widths=(3, 3), channels=16, dropout=0.25)
    task = VideoGanTask(model, None, None, "full", flip_augmentation=True)
    rec = _Losses()

    class Kill(Callback):
        def on_step_end(self, trainer, step, outputs):
            if kill_after is not None and step == kill_after:
                raise KeyboardInterrupt

    cfg = TrainConfig(out_dir=str(out), max_steps=steps, batch_size=32, log_every=1, val_every=0, ckpt_every=2, seed=3)
    trainer = Trainer(task, cfg, ds, None, callbacks=[rec, Kill()], collate_fn=collate_fn, resume=resume)
    trainer.fit()
    return rec.losses, {k: v.clone() for k, v in model.state_dict().items()}


def test_training_through_batches_is_the_per_sample_run_and_resumes_exactly(data, tmp_path):
    ds = PoseWindowDataset(data, receptive_field=9, frame_stride=2)
    assert len(ds) // 32 >= 6  # a kill after step 3 is mid-epoch
    batched, w_batched = _run(ds, tmp_path / "batched")
    per_sample, w_per_sample = _run(ds, tmp_path / "per_sample", collate_fn=default_collate)
    assert batched == per_sample  # same indices, same values: the same losses to the bit
    for k in w_batched:
        assert torch.equal(w_batched[k], w_per_sample[k]), k
    # killed after step 3 (checkpoint at 2), resumed in a fresh process state: the same batches follow
    with pytest.raises(KeyboardInterrupt):
        _run(ds, tmp_path / "killed", kill_after=3)
    torch.manual_seed(99)
    resumed, w_resumed = _run(ds, tmp_path / "killed", resume=True)
    assert sorted(resumed) == [3, 4, 5, 6]
    assert all(resumed[s] == batched[s] for s in resumed)
    for k in w_batched:
        assert torch.equal(w_resumed[k], w_batched[k]), k


def test_batched_dataset_prepares_once_and_serves_items_too(data):
    ds = PoseWindowDataset(data, receptive_field=3)
    wrapped = BatchedDataset(ds)
    prepared = ds._prepared
    assert prepared is not None and wrapped.dataset.prepare()._prepared is prepared
    _assert_same(default_collate([ds[5]]), default_collate([wrapped[5]]))
    assert passthrough(ds.get_batch([1, 2]))["frame"].tolist() == ds.get_batch([1, 2])["frame"].tolist()


@pytest.mark.parametrize("causal", [False, True])
def test_chunks_are_the_windows_of_their_frames(data, causal):
    """A chunk of L outputs holds exactly the context of its L frames: the dilated network on the chunk equals
    the strided twin on each frame's own window (eval mode), targets are those frames' 3D, and the frames past
    the sequence's end are flagged."""
    rf, L = 9, 6
    chunks = PoseWindowDataset(data, receptive_field=rf, chunk_frames=L, causal=causal)
    frames = PoseWindowDataset(data, receptive_field=rf, causal=causal)
    torch.manual_seed(0)
    model = TemporalLifter(filter_widths=(3, 3), channels=16, causal=causal).eval()
    n = data.sequences[0].num_frames
    starts = np.arange(0, n, L)
    assert len(chunks) == sum(-(-v["sequence"].num_frames // L) for v in chunks.views)  # chunks tile each view
    idx = np.arange(len(starts))  # the chunks of the first view, in order
    batch = chunks.get_batch(idx)
    assert batch["keypoints_2d"].shape == (len(idx), rf + L - 1, 17, 2)
    with torch.no_grad():
        pred = model(batch["keypoints_2d"])  # (chunks, L, 17, 3)
    for c, start in enumerate(starts):
        for j in range(L):
            frame = start + j
            assert bool(batch["target_valid"][c, j]) == (frame < n)
            if frame >= n:
                continue
            single = frames.get_batch([frame])  # view 0, frame `frame`
            assert torch.equal(batch["pose_3d"][c, j], single["pose_3d"][0])
            with torch.no_grad():
                ref = model.forward_windows(single["keypoints_2d"])[0, 0]
            torch.testing.assert_close(pred[c, j], ref, rtol=0, atol=1e-6)


def test_chunked_training_step_is_the_mpjpe_of_the_valid_outputs(data):
    from weakpose.metrics import mpjpe

    rf, L = 9, 5
    chunks = PoseWindowDataset(data, receptive_field=rf, chunk_frames=L)
    torch.manual_seed(0)
    model = TemporalLifter(filter_widths=(3, 3), channels=16, dropout=0.0)
    task = VideoGanTask(model, None, None, "full", flip_augmentation=False, chunk_frames=L)
    assert task.window_frames() == rf + L - 1
    n = data.sequences[0].num_frames
    batch = chunks.get_batch(np.arange(-(-n // L)))  # every chunk of view 0: the last one runs past the end
    valid = batch["target_valid"]
    assert not valid.all() or n % L == 0
    with torch.no_grad():
        out = model(batch["keypoints_2d"])
        expected = mpjpe(out[valid], batch["pose_3d"][valid])
    assert task.training_step(batch, 0)["loss"].item() == pytest.approx(expected.item(), rel=1e-6)
    from weakpose.models.temporal import TrajectoryModel
    from weakpose.priors import PoseCritic

    with pytest.raises(ValueError, match="chunked training"):
        VideoGanTask(
            model,
            TrajectoryModel(filter_widths=(3, 3), channels=8),
            PoseCritic(),
            "gan",
            real_poses=torch.randn(4, 17, 3),
            chunk_frames=L,
        )
