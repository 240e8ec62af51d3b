"""A killed run, resumed from its checkpoint, continues the uninterrupted run's loss curve exactly.

The toy task has dropout (RNG state matters), SGD with momentum (optimiser state matters), an LR schedule stepped
per epoch, and a shuffled data order; logs average over 2 steps, so a checkpoint between two log rows must carry
the partial averages too.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from weakpose.train import (
    Callback,
    TrainConfig,
    Trainer,
    config_to_dict,
    load_checkpoint,
    load_config,
    read_csv_log,
    read_jsonl_log,
)

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent


import _ddp_worker as W  # noqa: E402 - tests/ is on sys.path, as for fixtures_h36m


class SimulatedKill(Exception):
    pass


class Recorder(Callback):
    """Per-step loss; raises SimulatedKill after step ``kill_after`` (no checkpoint is written for it)."""

    def __init__(self, kill_after: int | None = None) -> None:
        self.losses: dict[int, float] = {}
        self.kill_after = kill_after

    def on_step_end(self, trainer, step, outputs):
        self.losses[step] = outputs["loss"].item()
        if self.kill_after is not None and step == self.kill_after:
            raise SimulatedKill


def _weights(task) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in task.model.state_dict().items()}


def _strip_time(rows):
    return [{k: v for k, v in r.items() if not k.startswith("time/")} for r in rows]


def _uninterrupted(out: Path, val: bool = True, **cfg):
    task = W.ToyTask(dropout=0.3)
    rec = Recorder()
    val_data = W.ToyData(12, seed=1) if val else None
    result = Trainer(task, W.make_config(out, **cfg), W.ToyData(40), val_data, callbacks=[rec]).fit()
    return task, rec, result


def test_resume_after_simulated_kill_continues_same_loss_curve(tmp_path):
    cfg = dict(log_every=2, ckpt_every=3)  # 40 samples / batch 8 = 5 steps per epoch, 10 steps in all
    ref_task, ref_rec, _ = _uninterrupted(tmp_path / "ref", **cfg)
    assert sorted(ref_rec.losses) == list(range(1, 11))

    out = tmp_path / "run"
    killed = Recorder(kill_after=5)
    with pytest.raises(SimulatedKill):
        Trainer(
            W.ToyTask(dropout=0.3), W.make_config(out, **cfg), W.ToyData(40), W.ToyData(12, seed=1), callbacks=[killed]
        ).fit()
    ckpt = torch.load(out / "last.pt", weights_only=True)  # plain tensors/containers only
    assert (ckpt["step"], ckpt["epoch"], ckpt["batch_in_epoch"]) == (3, 0, 3)  # mid-epoch
    assert max(r["step"] for r in read_csv_log(out / "metrics.csv")) == 4  # a row past the checkpoint exists

    # A "new process": other initial weights, other RNG states.
    torch.manual_seed(1234)
    task = W.ToyTask(dropout=0.3, init_seed=99)
    rec = Recorder()
    result = Trainer(
        task, W.make_config(out, **cfg), W.ToyData(40), W.ToyData(12, seed=1), callbacks=[rec], resume=True
    ).fit()
    assert result.step == 10 and not result.interrupted
    assert sorted(rec.losses) == list(range(4, 11))
    for step, loss in rec.losses.items():
        assert loss == ref_rec.losses[step], f"step {step}"
    for k, v in _weights(ref_task).items():
        assert torch.equal(_weights(task)[k], v), k
    assert task.sched.get_last_lr() == ref_task.sched.get_last_lr()
    # The logs read as one uninterrupted run: rows after the checkpoint were replaced, partial averages kept.
    assert _strip_time(read_csv_log(out / "metrics.csv")) == _strip_time(read_csv_log(tmp_path / "ref" / "metrics.csv"))
    assert _strip_time(read_jsonl_log(out / "metrics.jsonl")) == _strip_time(
        read_jsonl_log(tmp_path / "ref" / "metrics.jsonl")
    )


def test_logged_train_loss_is_mean_of_step_losses(tmp_path):
    _, rec, _ = _uninterrupted(tmp_path, log_every=3, ckpt_every=0)
    rows = [r for r in read_csv_log(tmp_path / "metrics.csv") if "train/loss" in r]
    assert [r["step"] for r in rows] == [3, 6, 9, 10]  # every 3 steps and at the end
    expected = {3: [1, 2, 3], 6: [4, 5, 6], 9: [7, 8, 9], 10: [10]}
    for r in rows:
        mean = sum(rec.losses[s] for s in expected[r["step"]]) / len(expected[r["step"]])
        assert r["train/loss"] == pytest.approx(mean, rel=1e-12)
        assert r["train/half_loss"] == pytest.approx(mean / 2, rel=1e-6)


def test_best_checkpoint_is_chosen_on_validation_split(tmp_path):
    task, _, result = _uninterrupted(tmp_path, best_metric="val/mse", val_every=2, ckpt_every=0)
    rows = [r for r in read_csv_log(tmp_path / "metrics.csv") if "val/mse" in r]
    assert [r["step"] for r in rows] == [2, 4, 6, 8, 10]
    best_row = min(rows, key=lambda r: r["val/mse"])
    assert result.best_step == best_row["step"] and result.best_value == pytest.approx(best_row["val/mse"])
    best = load_checkpoint(tmp_path / "best.pt")
    assert best["step"] == best_row["step"]
    # The stored val/mse is the sample-weighted mean over the whole validation set with the best weights.
    model = W.make_model()
    model.load_state_dict(best["task"]["modules"]["model"])
    model.eval()
    val = W.ToyData(12, seed=1)
    with torch.no_grad():
        mse = torch.mean((model(val.x) - val.y) ** 2).item()
    assert best_row["val/mse"] == pytest.approx(mse, rel=1e-5)


def _spawn(out: Path, *args: str) -> subprocess.Popen:
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.Popen(
        [
            sys.executable,
            str(TESTS / "_ddp_worker.py"),
            str(out),
            "--epochs",
            "3",
            "--dropout",
            "0.3",
            "--ckpt-every",
            "3",
            "--sleep",
            "0.1",
            *args,
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for(predicate, proc: subprocess.Popen, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if proc.poll() is not None:
            raise AssertionError(f"worker exited early ({proc.returncode}): {proc.stderr.read()}")
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError("worker made no progress")
        time.sleep(0.02)


def _ckpt_step(path: Path) -> int:
    try:
        return int(torch.load(path, weights_only=True)["step"])
    except (FileNotFoundError, RuntimeError, EOFError):
        return -1


def _csv_steps(path: Path) -> list[int]:
    try:
        return [r["step"] for r in read_csv_log(path)]
    except FileNotFoundError:
        return []


def test_sigterm_then_sigkill_then_resume_matches_uninterrupted(tmp_path):
    """Real signals: SIGTERM -> checkpoint at the step boundary; SIGKILL -> only periodic checkpoints survive."""
    ref_task, ref_rec, _ = _uninterrupted(tmp_path / "ref", val=False, epochs=3)  # what the worker runs, uninterrupted
    out = tmp_path / "run"

    proc = _spawn(out)
    _wait_for(lambda: len(_csv_steps(out / "metrics.csv")) >= 4, proc)
    proc.send_signal(signal.SIGTERM)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0, stderr
    assert "interrupted True" in stdout
    stopped = _ckpt_step(out / "last.pt")
    assert stopped == _csv_steps(out / "metrics.csv")[-1] < 15  # saved at the step where it stopped

    proc = _spawn(out, "--resume")
    _wait_for(lambda: _ckpt_step(out / "last.pt") > stopped, proc)  # a periodic checkpoint after the resume
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    killed_at = _ckpt_step(out / "last.pt")
    assert stopped < killed_at < 15 and killed_at % 3 == 0

    torch.manual_seed(4321)
    task = W.ToyTask(dropout=0.3, init_seed=5)
    Trainer(task, W.make_config(out, epochs=3), W.ToyData(40), resume=True).fit()
    rows = read_csv_log(out / "metrics.csv")
    assert [r["step"] for r in rows] == list(range(1, 16))
    assert [r["train/loss"] for r in rows] == [ref_rec.losses[s] for s in range(1, 16)]
    for k, v in _weights(ref_task).items():
        assert torch.equal(_weights(task)[k], v), k


def test_resume_finished_run_does_nothing_and_missing_checkpoint_errors(tmp_path):
    _uninterrupted(tmp_path, ckpt_every=0)
    before = load_checkpoint(tmp_path / "last.pt")["task"]["modules"]["model"]
    rec = Recorder()
    task = W.ToyTask(dropout=0.3, init_seed=3)
    result = Trainer(
        task, W.make_config(tmp_path), W.ToyData(40), W.ToyData(12, seed=1), callbacks=[rec], resume=True
    ).fit()
    assert result.step == 10 and rec.losses == {}
    for k, v in before.items():
        assert torch.equal(task.model.state_dict()[k], v)
    # The resolved config is saved next to the checkpoints and inside them, as plain data.
    assert load_config(TrainConfig, tmp_path / "config.yaml") == W.make_config(tmp_path)
    assert load_checkpoint(tmp_path / "last.pt")["config"] == config_to_dict(W.make_config(tmp_path))
    with pytest.raises(FileNotFoundError, match="nope.pt"):
        Trainer(W.ToyTask(), W.make_config(tmp_path), W.ToyData(40), resume=tmp_path / "nope.pt").fit()
