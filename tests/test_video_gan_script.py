"""sample/train_video_gan.py end to end on a tiny set: training paths, what it writes, resume keeps the config."""

import importlib.util
import sys
from pathlib import Path

import pytest
import torch
import yaml

from weakpose.lifters import load_lifter, load_trajectory

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def script():
    spec = importlib.util.spec_from_file_location("train_video_gan", ROOT / "sample" / "train_video_gan.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["train_video_gan"] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    from weakpose.data.synthetic.keypoints import make_synthetic

    d = tmp_path_factory.mktemp("vgs")
    make_synthetic(d, max_frames=40, include_bvh=False, actions=["Walking", "Jumping"])
    return d


def _args(tiny, out, *more):
    return [
        "--supervision",
        "full",
        f"data.synthetic_dir={tiny}",
        "model.filter_widths=[3,3]",
        "model.channels=16",
        "train.max_steps=4",
        "train.val_every=2",
        "train.log_every=1",
        f"train.out_dir={out}",
        f"run.images_dir={out / 'images'}",
        *more,
    ]


def test_chunked_full_supervision_run_and_resume(script, tiny, tmp_path, capsys):
    out = tmp_path / "chunked"
    assert (
        script.main(
            _args(
                tiny,
                out,
                "model.training=chunked",
                "model.chunk_frames=8",
                "train.batch_size=32",
                "model.trajectory=on",
            )
        )
        == 0
    )
    assert "chunked training: 4 chunks of 8 outputs per step" in capsys.readouterr().out
    model, info = load_lifter(out / "lifter.pt")
    assert info["kind"] == "temporal" and model.receptive_field() == 9
    traj = load_trajectory(out / "lifter.pt")  # the decoupled root travels in lifter.pt
    assert info["has_trajectory"] and traj.num_joints_out == 1 and not (out / "trajectory.pt").exists()
    saved = yaml.safe_load((out / "config.yaml").read_text())
    assert saved["train"]["batch_size"] == 32  # output frames, as given: never rewritten to the chunk count
    ckpt = torch.load(out / "last.pt", weights_only=True)
    assert ckpt["batch_size"] == 4  # the Trainer's items per step
    # resuming reads the same config back and continues without a batch-size change warning
    assert (
        script.main(
            _args(
                tiny,
                out,
                "model.training=chunked",
                "model.chunk_frames=8",
                "train.batch_size=32",
                "model.trajectory=on",
                "train.max_steps=6",
                "--resume",
            )
        )
        == 0
    )
    assert torch.load(out / "last.pt", weights_only=True)["step"] == 6


def test_auto_training_and_trajectory_follow_supervision_and_receptive_field(script):
    cfg = script.Config()
    cfg.loss.supervision = "full"
    assert script._chunked_training(cfg, 243) == (script.CHUNKED_FROM is not None)  # measured: the twin wins
    cfg.model.training = "chunked"
    assert script._chunked_training(cfg, 27)
    cfg.model.training = "auto"
    cfg.loss.supervision = "semi"
    assert not script._chunked_training(cfg, 243)
    cfg.model.training = "chunked"
    with pytest.raises(ValueError, match="for supervision 'full'"):
        script._chunked_training(cfg, 27)


def test_validation_views_are_spread_and_capped(script):
    class Seq:
        def __init__(self, n):
            self.num_frames, self.camera_ids = n, ["a", "b"]

    seqs = [Seq(100) for _ in range(10)]  # 2000 views
    assert script._spread(seqs, 0) == seqs and script._spread(seqs, 5000) == seqs
    kept = script._spread(seqs, 600)
    assert sum(s.num_frames * 2 for s in kept) <= 600 and kept == seqs[::4]
    assert script._spread(seqs, 1) == seqs[:1]
