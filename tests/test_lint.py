"""The repository passes `ruff check` and `ruff format --check` with the settings of pyproject.toml."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_ruff_check_passes():
    # ruff comes with the test extra (setup.py): if it is missing this fails with ruff's own error, it does not skip.
    proc = subprocess.run([sys.executable, "-m", "ruff", "check", "."], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, f"ruff check . failed (exit {proc.returncode}):\n{proc.stdout}{proc.stderr}"


def test_ruff_format_leaves_the_tree_unchanged():
    # `ruff format .` is the house style; a change that needs reformatting fails here and names the files.
    proc = subprocess.run(
        [sys.executable, "-m", "ruff", "format", "--check", "."], cwd=ROOT, capture_output=True, text=True
    )
    assert proc.returncode == 0, f"ruff format --check . failed (run `ruff format .`):\n{proc.stdout}{proc.stderr}"
