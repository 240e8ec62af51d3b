"""Training curves from the metric logs the training loop writes (CSV with a `step` column)."""

from __future__ import annotations

import csv
import math
from typing import Iterable, Optional

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from weakpose.io_utils import atomic_write_path  # noqa: E402


def _read_csv(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def plot_metric_curves(
    csv_path, out_path, keys: Optional[Iterable[str]] = None, log_y: bool = True, title: str = ""
) -> list:
    """Plot every numeric column (or ``keys``) of a metrics CSV against its ``step`` column; returns the keys."""
    rows = _read_csv(csv_path)
    if not rows:
        raise ValueError(f"{csv_path}: no rows to plot")
    if "step" not in rows[0]:
        raise KeyError(f"{csv_path}: no 'step' column (columns: {list(rows[0])})")
    keys = list(keys) if keys is not None else [k for k in rows[0] if k not in ("step", "epoch", "time", "split")]
    series = {}
    for k in keys:
        pts = []
        for r in rows:
            try:
                v = float(r.get(k, "") or "nan")
                pts.append((float(r["step"]), v))
            except ValueError:
                continue
        pts = [(s, v) for s, v in pts if math.isfinite(v)]
        if pts:
            series[k] = pts
    fig, ax = plt.subplots(figsize=(6, 4))
    for k, pts in series.items():
        ax.plot([p[0] for p in pts], [p[1] for p in pts], label=k, marker="." if len(pts) < 30 else None)
    if log_y and all(v > 0 for pts in series.values() for _, v in pts):
        ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.legend(fontsize=8)
    ax.set_title(title)
    fig.tight_layout()
    with atomic_write_path(out_path) as tmp:
        fig.savefig(tmp, dpi=100)
    plt.close(fig)
    return list(series)
