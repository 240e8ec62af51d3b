"""Trainer callbacks the recipes share (the base :class:`~weakpose.train.loop.Callback` and the wall-clock budget
live beside the loop)."""

from __future__ import annotations

from typing import Dict, Mapping, Optional

import torch
from torch import nn

from weakpose.train.loop import Callback

__all__ = ["KeepBestWeights"]


class KeepBestWeights(Callback):
    """Keep, in memory, the weights of ``module`` at the validation with the highest ``metric`` among those at
    step >= ``start_step``.

    Unlike ``train.best_metric`` (which writes best.pt with the whole run state), this keeps one network's weights
    only, for recipes that ship that network and nothing else; ``history`` maps every validated step to the value.
    """

    def __init__(self, module: nn.Module, metric: str, start_step: int = 0):
        self.module, self.metric, self.start_step = module, metric, int(start_step)
        self.best_value: Optional[float] = None
        self.best_step: Optional[int] = None
        self.state: Optional[Dict[str, torch.Tensor]] = None
        self.history: Dict[int, float] = {}

    def on_validation_end(self, trainer, step: int, metrics: Mapping[str, float]) -> None:
        if self.metric not in metrics:
            raise KeyError(f"selection metric {self.metric!r} is not among the validation metrics {sorted(metrics)}")
        value = float(metrics[self.metric])
        self.history[int(step)] = round(value, 6)
        if step >= self.start_step and (self.best_value is None or value > self.best_value):
            self.best_value, self.best_step = value, int(step)
            self.state = {k: v.detach().cpu().clone() for k, v in self.module.state_dict().items()}

    def restore(self) -> Optional[int]:
        """Load the kept weights into ``module``; the step they come from (None when nothing was kept)."""
        if self.state is None:
            return None
        self.module.load_state_dict(self.state)
        return self.best_step
