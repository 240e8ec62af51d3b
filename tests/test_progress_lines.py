"""Training without a terminal (nohup, a batch queue, `| tee`) shows plain progress lines instead of nothing."""

import logging
import re

import _ddp_worker as W

from weakpose.train import Trainer


def test_plain_progress_lines_when_stderr_is_not_a_terminal(tmp_path, caplog):
    cfg = W.make_config(tmp_path, epochs=2, log_every=5, progress=True)
    with caplog.at_level(logging.INFO, logger="weakpose.train"):
        Trainer(W.ToyTask(), cfg, W.ToyData(40), W.ToyData(12, seed=1)).fit()  # pytest's stderr is no terminal
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("step ")]
    assert lines, "no progress line was logged"
    steps = [int(re.match(r"step (\d+)/(\d+)", line).group(1)) for line in lines]
    total = int(re.match(r"step \d+/(\d+)", lines[-1]).group(1))
    assert steps == sorted(steps) and steps[-1] == total and all(s % 5 == 0 or s == total for s in steps)
    assert all("steps/s" in line and "ETA" in line and "train/loss" in line for line in lines)
