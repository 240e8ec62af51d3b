"""The repository passes ``ruff check`` with the settings of pyproject.toml ([tool.ruff])."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_ruff_check_passes():
    # ruff comes with the test extra (setup.py): if it is missing this fails with ruff's own error, it does not skip.
    proc = subprocess.run([sys.executable, "-m", "ruff", "check", "."], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, f"ruff check . failed (exit {proc.returncode}):\n{proc.stdout}{proc.stderr}"
