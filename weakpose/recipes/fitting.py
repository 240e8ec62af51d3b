"""The one way the shipped-model recipes run the Trainer: a fixed number of CPU steps in a run folder (a temporary
one unless given), with no TensorBoard and no intermediate checkpoints, refusing an interrupted run."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Optional, Sequence

from weakpose.train import TrainConfig, Trainer, TrainTask

__all__ = ["fit_recipe"]


def fit_recipe(
    name: str,
    task: TrainTask,
    train,
    steps: int,
    batch_size: int,
    seed: int,
    val=None,
    callbacks: Sequence = (),
    work_dir: Optional[Path] = None,
    log_path: Optional[Path] = None,
    log_every: int = 50,
    val_every: int = 0,
) -> None:
    """Train ``task`` for ``steps`` steps; ``log_path`` gets a copy of the run's metrics.csv."""
    with tempfile.TemporaryDirectory(prefix=f"weakpose_{name.replace(' ', '_')}_") as tmp:
        config = TrainConfig(
            out_dir=str(work_dir or tmp),
            seed=seed,
            max_steps=int(steps),
            batch_size=batch_size,
            log_every=log_every,
            val_every=val_every,
            ckpt_every=0,
            device="cpu",
            tensorboard=False,
        )
        result = Trainer(task, config, train, val, callbacks=list(callbacks)).fit()
        if result.interrupted:
            raise RuntimeError(f"training of the {name} was interrupted at step {result.step}")
        if log_path is not None:
            shutil.copyfile(Path(config.out_dir) / "metrics.csv", log_path)
