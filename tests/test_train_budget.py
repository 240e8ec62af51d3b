import time

import pytest
import torch

from weakpose.train import TrainConfig, Trainer, TrainTask, WallClockBudget


class _SlowTask(TrainTask):
    def __init__(self):
        self.model = torch.nn.Linear(2, 1)
        self.opt = torch.optim.SGD(self.model.parameters(), lr=0.1)

    def training_step(self, batch, step):
        time.sleep(0.01)
        loss = self.model(batch).pow(2).mean()
        self.optimizer_step(self.opt, loss)
        return {"loss": loss.detach()}


def test_wall_clock_budget_finishes_cleanly(tmp_path):
    cfg = TrainConfig(out_dir=str(tmp_path), max_steps=10_000, batch_size=4, progress=False, log_every=5)
    trainer = Trainer(_SlowTask(), cfg, torch.randn(64, 2), callbacks=[WallClockBudget(0.2 / 60)])
    start = time.perf_counter()
    result = trainer.fit()
    assert not result.interrupted and 5 <= result.step < 10_000
    assert time.perf_counter() - start < 5
    assert torch.load(tmp_path / "last.pt", weights_only=True)["step"] == result.step
    with pytest.raises(ValueError, match="positive"):
        WallClockBudget(0)
