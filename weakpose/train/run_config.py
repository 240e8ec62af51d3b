"""The ``run`` section every sample script shares: where figures go, CPU threads, a wall-clock budget.

One dataclass, one spelling in every script::

    run.images_dir=...       figures; "" (default) = <train.out_dir>/images, so a run writes only into its run
                             folder; run.images_dir=images regenerates the figures the README shows
    run.num_threads=1        > 0 pins torch's CPU thread count (0 = torch's default)
    run.budget_minutes=30    > 0 stops training after that much wall-clock time (then evaluates as usual)

A script declares it as ``run: RunConfig = dataclasses.field(default_factory=RunConfig)`` (or with its own
defaults, ``default_factory=lambda: RunConfig(num_threads=1)``), and after :func:`weakpose.train.start_run`::

    cfg, args = start_run(Config, argv, description=__doc__, shortcuts=(*run_shortcuts(), ...))  # pins threads
    images = cfg.run.images(cfg.train.out_dir)
    trainer = Trainer(task, cfg, train_ds, val_ds, callbacks=cfg.run.budget_callbacks())
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import List

from weakpose.train.config import ConfigError, Shortcut

__all__ = ["RunConfig", "run_shortcuts", "README_IMAGES_DIR"]

# Figures the README shows live here (tracked by git); a run writes there only when asked with run.images_dir=images.
README_IMAGES_DIR = "images"


@dataclasses.dataclass
class RunConfig:
    """Options of a script's run that are not training hyperparameters (see the module docstring)."""

    images_dir: str = ""  # figures; "" = <train.out_dir>/images; 'images' regenerates the README's figures
    num_threads: int = 0  # > 0 pins torch's CPU threads; 0 = torch's default
    budget_minutes: float = 0.0  # > 0: stop training after this much wall-clock time, then evaluate

    def __post_init__(self) -> None:
        if self.num_threads < 0:
            raise ConfigError(f"run.num_threads must be >= 0, got {self.num_threads}")
        if not self.budget_minutes >= 0:
            raise ConfigError(f"run.budget_minutes must be >= 0, got {self.budget_minutes}")

    def images(self, out_dir: str | Path) -> Path:
        """The folder figures go to: ``images_dir``, or ``<out_dir>/images`` when it is empty."""
        return Path(self.images_dir) if self.images_dir else Path(out_dir) / "images"

    def set_threads(self) -> None:
        """Pin torch's CPU thread count when ``num_threads`` > 0."""
        if self.num_threads > 0:
            import torch

            torch.set_num_threads(self.num_threads)

    def budget_callbacks(self) -> List:
        """``[WallClockBudget(budget_minutes)]`` when a budget is set, else ``[]`` (Trainer callbacks)."""
        if self.budget_minutes > 0:
            from weakpose.train.loop import WallClockBudget

            return [WallClockBudget(self.budget_minutes)]
        return []


def run_shortcuts(data_help: str = "the data to train on") -> tuple:
    """The flags every sample script takes: ``--data PATH`` (= ``data.root``) and ``--budget-minutes N``
    (= ``run.budget_minutes``)."""
    return (
        Shortcut("--data", "data.root", data_help),
        Shortcut("--budget-minutes", "run.budget_minutes", "stop training after N minutes of wall-clock time"),
    )
