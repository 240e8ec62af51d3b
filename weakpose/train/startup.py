"""What every sample script does first: log to the console, read its config, pin threads, seed."""
from __future__ import annotations

import logging
from typing import Any, Optional, Sequence, Tuple, Type, TypeVar

import torch

from weakpose.train.config import parse_config_args
from weakpose.train.seeding import seed_everything

C = TypeVar("C")


def start_run(config_cls: Type[C], argv: Optional[Sequence[str]] = None) -> Tuple[C, Any]:
    """Parse ``config_cls`` from ``--config``/``key=value`` arguments, apply its ``num_threads`` (> 0 pins torch's
    thread count) and seed everything from ``train.seed``; returns ``(config, args)`` like ``parse_config_args``."""
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    cfg, args = parse_config_args(config_cls, argv)
    threads = getattr(cfg, "num_threads", 0)
    if threads and threads > 0:
        torch.set_num_threads(threads)
    seed_everything(cfg.train.seed)
    return cfg, args
