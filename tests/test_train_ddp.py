"""Two CPU processes under torchrun (gloo) reproduce one process training on the union batch, and resume exactly.

The reference is a plain hand-written loop (no Trainer): for each step it concatenates the inputs the two ranks
actually used, takes one gradient of the mean loss and one SGD step.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

from weakpose.train import load_checkpoint, read_csv_log

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
N_SAMPLES, BATCH, EPOCHS = 21, 4, 2  # 21 samples: the sampler pads to 22 so both ranks take 3 steps per epoch


import _ddp_worker as W  # noqa: E402 - tests/ is on sys.path, as for fixtures_h36m


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _torchrun(out: Path, *args: str) -> None:
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    if sys.platform.startswith("linux"):
        env["GLOO_SOCKET_IFNAME"] = "lo"  # keep gloo on the loopback interface
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node",
        "2",
        "--nnodes",
        "1",
        "--master_addr",
        "127.0.0.1",
        "--master_port",
        str(_free_port()),
        str(TESTS / "_ddp_worker.py"),
        str(out),
        "--num-samples",
        str(N_SAMPLES),
        "--batch-size",
        str(BATCH),
        "--epochs",
        str(EPOCHS),
        "--noise",
        "0.1",
        "--record",
        *args,
    ]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, f"torchrun failed:\n{proc.stdout}\n{proc.stderr}"
    assert "rank 0 world 2" in proc.stdout and "rank 1 world 2" in proc.stdout, proc.stdout


@pytest.fixture(scope="module")
def full_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("ddp_full")
    _torchrun(out, "--val-samples", "5")  # 5 validation samples: uneven shards of 3 and 2
    return out, [torch.load(out / f"records_rank{r}.pt", weights_only=True) for r in (0, 1)]


def test_two_process_gradients_match_single_process_on_union_batch(full_run):
    out, (rec0, rec1) = full_run
    steps_per_epoch = 3
    assert len(rec0) == len(rec1) == EPOCHS * steps_per_epoch
    data = W.ToyData(N_SAMPLES)
    ref = W.make_model(dropout=0.0, init_seed=0)  # same construction as the task's model
    opt = torch.optim.SGD(ref.parameters(), lr=0.05, momentum=0.9)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.9)
    ref_losses = []
    for t, (r0, r1) in enumerate(zip(rec0, rec1)):
        idx = torch.cat([r0["index"], r1["index"]])
        x = torch.cat([r0["x"], r1["x"]])
        # The inputs a rank used are its samples plus its own noise: noise streams differ between ranks.
        clean = data.x[r0["index"]]
        assert torch.allclose(r0["x"], clean, atol=0.6) and not torch.allclose(r0["x"], clean)
        loss = nn.functional.mse_loss(ref(x), data.y[idx])
        opt.zero_grad()
        loss.backward()
        for g_ref, g0, g1 in zip([p.grad for p in ref.parameters()], r0["grads"], r1["grads"]):
            torch.testing.assert_close(g0, g_ref, rtol=0, atol=1e-6)
            torch.testing.assert_close(g1, g_ref, rtol=0, atol=1e-6)
        ref_losses.append(loss.item())
        opt.step()
        if (t + 1) % steps_per_epoch == 0:
            sched.step()
    # Final weights written by rank 0 equal the reference's.
    state = load_checkpoint(out / "last.pt")
    assert state["step"] == EPOCHS * steps_per_epoch and state["world_size"] == 2
    for (name, p), q in zip(state["task"]["modules"]["model"].items(), ref.state_dict().values()):
        torch.testing.assert_close(p, q, rtol=0, atol=1e-6, msg=name)
    # Only rank 0 logged, once per step, the loss averaged over ranks (= the union-batch loss: equal shard sizes).
    rows = read_csv_log(out / "metrics.csv")
    assert [r["step"] for r in rows] == list(range(1, EPOCHS * steps_per_epoch + 1))
    for row, ref_loss in zip(rows, ref_losses):
        assert row["train/loss"] == pytest.approx(ref_loss, abs=1e-6)
    # Validation after each epoch (steps 3 and 6) covers all 5 samples once, each weighted equally.
    assert [r["step"] for r in rows if "val/mse" in r] == [3, 6]
    val = W.ToyData(5, seed=1)
    with torch.no_grad():
        ref_mse = torch.mean((ref(val.x) - val.y) ** 2).item()
    assert rows[-1]["val/mse"] == pytest.approx(ref_mse, rel=1e-5)


def test_ranks_shard_one_seeded_permutation(full_run):
    _, (rec0, rec1) = full_run
    for epoch in range(EPOCHS):
        steps = range(3 * epoch, 3 * epoch + 3)
        seen0 = torch.cat([rec0[t]["index"] for t in steps]).tolist()
        seen1 = torch.cat([rec1[t]["index"] for t in steps]).tolist()
        assert len(seen0) == len(seen1) == 11
        # Every sample once, plus one wrapped-round sample padding 21 up to 22.
        assert sorted(set(seen0) | set(seen1)) == list(range(N_SAMPLES))
        assert len(seen0 + seen1) == 22
    order0 = torch.cat([rec0[t]["index"] for t in range(3)])
    order1 = torch.cat([rec0[t]["index"] for t in range(3, 6)])
    assert not torch.equal(order0, order1)  # reshuffled each epoch


def test_two_process_resume_mid_epoch_is_exact_and_manual_averaging_matches_ddp(full_run, tmp_path):
    out_full, (rec0_full, rec1_full) = full_run
    # Stop after 4 steps (epoch 1, batch 1), scramble weights and RNGs, then resume from last.pt to the end
    # (one launch: a second torchrun start would double this test's time on a 2-core machine). This run keeps
    # the model out of DDP (TrainTask.ddp_exclude): optimizer_step averages gradients itself, and must give
    # the same numbers as DDP's averaging in the full run.
    _torchrun(tmp_path, "--restart-at", "4", "--ddp-exclude")
    rec0 = torch.load(tmp_path / "records_rank0.pt", weights_only=True)
    rec1 = torch.load(tmp_path / "records_rank1.pt", weights_only=True)
    assert [r["step"] for r in rec0] == [4, 5]
    for rec, full in ((rec0, rec0_full), (rec1, rec1_full)):
        for r in rec:
            f = full[r["step"]]
            assert torch.equal(r["index"], f["index"])
            torch.testing.assert_close(r["x"], f["x"], rtol=0, atol=1e-7)  # same per-rank noise draws
    last = load_checkpoint(tmp_path / "last.pt")
    assert len(last["rng"]) == 2  # one RNG state per rank
    final = last["task"]["modules"]["model"]
    full = load_checkpoint(out_full / "last.pt")["task"]["modules"]["model"]
    for k in full:
        torch.testing.assert_close(final[k], full[k], rtol=0, atol=1e-7)
    rows, rows_full = read_csv_log(tmp_path / "metrics.csv"), read_csv_log(out_full / "metrics.csv")
    assert [r["step"] for r in rows] == [r["step"] for r in rows_full]
    assert [r["train/loss"] for r in rows] == pytest.approx([r["train/loss"] for r in rows_full], abs=1e-7)
