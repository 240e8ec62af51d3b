"""Test-wide settings: one torch thread (a shared 2-core box makes small ops 10-100x slower with 2)."""

import os

import pytest
import torch

torch.set_num_threads(1)
os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture
def rng():
    return __import__("numpy").random.default_rng(0)
