"""Toy regression task for the weakpose.train tests, and the script their subprocesses run.

Run as ``python tests/_ddp_worker.py OUT [options]`` (single process, killed/resumed by test_train_resume.py) or
under ``torchrun --nproc_per_node 2`` (test_train_ddp.py). With ``--record`` every rank saves, per step, the
sample indices, the inputs actually used (after random noise), the loss and the gradients after backward (i.e.
after DDP's averaging) to ``OUT/records_rank<r>.pt``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import Dataset

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository root, for `import weakpose`

from weakpose.train import Callback, TrainConfig, Trainer, TrainTask, get_context  # noqa: E402

IN_DIM = 6


class ToyData(Dataset):
    """``n`` samples of y = x·w + 0.1·ε, fixed by ``seed``; items are dicts with the sample index."""

    def __init__(self, n: int = 40, seed: int = 0) -> None:
        g = torch.Generator().manual_seed(seed)
        self.x = torch.randn(n, IN_DIM, generator=g)
        w = torch.randn(IN_DIM, 1, generator=g)
        self.y = self.x @ w + 0.1 * torch.randn(n, 1, generator=g)

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> dict:
        return {"x": self.x[i], "y": self.y[i], "index": torch.tensor(i)}

    def get_batch(self, indices) -> dict:
        """A whole batch by indexing (what collating the items gives): the Trainer then loads through
        weakpose.train.batching, as it does for the pose datasets, so the resume and DDP tests cover that path."""
        idx = torch.as_tensor(list(indices), dtype=torch.long)
        return {"x": self.x[idx], "y": self.y[idx], "index": idx}


def make_model(dropout: float = 0.0, init_seed: int = 0) -> nn.Module:
    torch.manual_seed(init_seed)
    return nn.Sequential(nn.Linear(IN_DIM, 16), nn.Tanh(), nn.Dropout(dropout), nn.Linear(16, 1))


class ToyTask(TrainTask):
    """MLP regression with SGD+momentum (optimiser state matters on resume), optional dropout and input noise."""

    def __init__(
        self,
        dropout: float = 0.0,
        noise: float = 0.0,
        init_seed: int = 0,
        lr: float = 0.05,
        record: bool = False,
        ddp_exclude: bool = False,
    ) -> None:
        if ddp_exclude:  # no DDP wrapper: optimizer_step averages the gradients itself
            self.ddp_exclude = ("model",)
        self.model = make_model(dropout, init_seed)
        self.opt = torch.optim.SGD(self.model.parameters(), lr=lr, momentum=0.9)
        self.sched = torch.optim.lr_scheduler.StepLR(self.opt, step_size=1, gamma=0.9)
        self.noise = noise
        self.record = record
        self.records: list[dict] = []
        self.epochs_ended: list[int] = []

    def training_step(self, batch, step):
        x = batch["x"]
        if self.noise:
            x = x + self.noise * torch.randn_like(x)  # draws from the (per-rank) global RNG
        loss = nn.functional.mse_loss(self.model(x), batch["y"])
        self.optimizer_step(self.opt, loss)
        if self.record:  # .grad still holds the (rank-averaged) gradient the step used
            self.records.append(
                {
                    "step": step,
                    "index": batch["index"].clone(),
                    "x": x.detach().clone(),
                    "loss": loss.detach().clone(),
                    "grads": [p.grad.detach().clone() for p in self.model.parameters()],
                }
            )
        return {"loss": loss, "half_loss": 0.5 * loss.item()}

    def validation_step(self, batch):
        return {"mse": nn.functional.mse_loss(self.model(batch["x"]), batch["y"])}

    def on_epoch_end(self, epoch):
        self.epochs_ended.append(epoch)
        self.sched.step()


class Sleep(Callback):
    """Slow each step down so a test can signal the process mid-run."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def on_step_end(self, trainer, step, outputs):
        time.sleep(self.seconds)


def make_config(out_dir, **overrides) -> TrainConfig:
    base = dict(
        out_dir=str(out_dir),
        seed=7,
        device="cpu",
        epochs=2,
        batch_size=8,
        log_every=1,
        ckpt_every=3,
        progress=False,
        tensorboard=False,
    )
    base.update(overrides)
    return TrainConfig(**base)


def main(argv=None) -> int:
    torch.set_num_threads(1)
    p = argparse.ArgumentParser()
    p.add_argument("out")
    p.add_argument("--num-samples", type=int, default=40)
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--max-steps", type=int, default=None)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--ckpt-every", type=int, default=3)
    p.add_argument("--dropout", type=float, default=0.0)
    p.add_argument("--noise", type=float, default=0.0)
    p.add_argument("--sleep", type=float, default=0.0)
    p.add_argument("--record", action="store_true")
    p.add_argument("--val-samples", type=int, default=0, help="validation set size (0: none)")
    p.add_argument("--resume", action="store_true")
    p.add_argument("--ddp-exclude", action="store_true", help="keep the model out of DDP (manual gradient averaging)")
    p.add_argument(
        "--restart-at",
        type=int,
        default=None,
        help="stop after this many steps, then resume in this process from a scrambled state",
    )
    a = p.parse_args(argv)
    cfg = make_config(a.out, epochs=a.epochs, max_steps=a.max_steps, batch_size=a.batch_size, ckpt_every=a.ckpt_every)
    callbacks = [Sleep(a.sleep)] if a.sleep else []
    resume = True if a.resume else None
    if a.restart_at is not None:
        first = make_config(
            a.out, epochs=a.epochs, max_steps=a.restart_at, batch_size=a.batch_size, ckpt_every=a.ckpt_every
        )
        task = ToyTask(dropout=a.dropout, noise=a.noise, ddp_exclude=a.ddp_exclude)
        Trainer(task, first, ToyData(a.num_samples), resume=resume).fit()
        # Everything a restarted process would not have: other weights, other RNG states.
        torch.manual_seed(12345 + get_context().rank)
        resume = True
    task = ToyTask(
        dropout=a.dropout,
        noise=a.noise,
        record=a.record,
        ddp_exclude=a.ddp_exclude,
        init_seed=99 if a.restart_at is not None else 0,
    )
    val = ToyData(a.val_samples, seed=1) if a.val_samples else None
    trainer = Trainer(task, cfg, ToyData(a.num_samples), val, resume=resume, callbacks=callbacks)
    result = trainer.fit()
    if a.record:
        torch.save(task.records, Path(a.out) / f"records_rank{get_context().rank}.pt")
    print(
        f"rank {get_context().rank} world {get_context().world_size} step {result.step} "
        f"interrupted {result.interrupted} pid {os.getpid()}",
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
