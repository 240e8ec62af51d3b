"""Metric loggers: CSV and JSON-lines files (flushed after every row) and TensorBoard when it is installed.

Each row is ``{"step": int, <name>: number, ...}``. The CSV header grows when a new metric name appears (the file
is rewritten once, atomically, with the wider header; earlier rows get empty cells). On resume, rows logged after
the checkpoint's step are dropped, so the files read as one uninterrupted run.

Named ``metrics_log`` rather than ``logging`` so it never shadows the standard library module.
"""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path
from typing import Any, Mapping, Protocol, Sequence

from weakpose.io_utils import atomic_write_text

__all__ = [
    "MetricLogger",
    "CSVLogger",
    "JSONLLogger",
    "TensorBoardLogger",
    "MultiLogger",
    "tensorboard_available",
    "make_loggers",
    "read_csv_log",
    "read_jsonl_log",
]


class MetricLogger(Protocol):
    def log(self, step: int, metrics: Mapping[str, Any]) -> None: ...

    def close(self) -> None: ...


def _plain(value: Any) -> Any:
    """Numbers as Python scalars (tensors and NumPy scalars via ``.item()``); strings kept."""
    if hasattr(value, "item") and callable(value.item):
        value = value.item()
    return value


class CSVLogger:
    """Append rows to a CSV file; ``resume_step`` keeps an existing file's rows up to that step."""

    def __init__(self, path: str | os.PathLike, resume_step: int | None = None) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.fieldnames: list[str] = ["step"]
        rows: list[dict[str, str]] = []
        if resume_step is not None and self.path.is_file():
            with open(self.path, newline="", encoding="utf-8") as f:
                reader = csv.DictReader(f)
                if reader.fieldnames:
                    self.fieldnames = list(reader.fieldnames)
                rows = [r for r in reader if r.get("step") and int(r["step"]) <= resume_step]
        self._rewrite(rows)

    def _rewrite(self, rows: Sequence[Mapping[str, Any]]) -> None:
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=self.fieldnames, restval="", lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        atomic_write_text(self.path, buf.getvalue())
        self._file = open(self.path, "a", newline="", encoding="utf-8")

    def log(self, step: int, metrics: Mapping[str, Any]) -> None:
        row = {"step": int(step), **{k: _plain(v) for k, v in metrics.items() if k != "step"}}
        new = [k for k in row if k not in self.fieldnames]
        if new:
            # Widen the header: re-read the rows written so far and rewrite the file with the new columns.
            self._file.close()
            with open(self.path, newline="", encoding="utf-8") as f:
                old_rows = list(csv.DictReader(f))
            self.fieldnames.extend(new)
            self._rewrite(old_rows)
        writer = csv.DictWriter(self._file, fieldnames=self.fieldnames, restval="", lineterminator="\n")
        writer.writerow(row)
        self._file.flush()  # a killed run keeps every row it logged

    def close(self) -> None:
        if not self._file.closed:
            self._file.close()


class JSONLLogger:
    """Append one JSON object per row; ``resume_step`` keeps an existing file's rows up to that step."""

    def __init__(self, path: str | os.PathLike, resume_step: int | None = None) -> None:
        self.path = Path(path)
        lines: list[str] = []
        if resume_step is not None and self.path.is_file():
            for line in self.path.read_text(encoding="utf-8").splitlines():
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:  # a line cut by a kill mid-write
                    continue
                if int(record.get("step", -1)) <= resume_step:
                    lines.append(line + "\n")
        atomic_write_text(self.path, "".join(lines))
        self._file = open(self.path, "a", encoding="utf-8")

    def log(self, step: int, metrics: Mapping[str, Any]) -> None:
        row = {"step": int(step), **{k: _plain(v) for k, v in metrics.items() if k != "step"}}
        self._file.write(json.dumps(row) + "\n")
        self._file.flush()

    def close(self) -> None:
        if not self._file.closed:
            self._file.close()


def tensorboard_available() -> bool:
    try:
        import tensorboard  # noqa: F401
        from torch.utils.tensorboard import SummaryWriter  # noqa: F401
    except Exception:
        return False
    return True


class TensorBoardLogger:
    """Scalars to TensorBoard event files (needs the ``tensorboard`` package)."""

    def __init__(self, log_dir: str | os.PathLike, resume_step: int | None = None) -> None:
        from torch.utils.tensorboard import SummaryWriter

        # purge_step discards events a killed run wrote after its last checkpoint.
        purge = resume_step + 1 if resume_step is not None else None
        self.writer = SummaryWriter(log_dir=str(log_dir), purge_step=purge)

    def log(self, step: int, metrics: Mapping[str, Any]) -> None:
        for k, v in metrics.items():
            v = _plain(v)
            if k not in ("step", "epoch") and isinstance(v, (int, float)) and not isinstance(v, bool):
                self.writer.add_scalar(k, v, global_step=int(step))
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()


class MultiLogger:
    """Fan a row out to several loggers."""

    def __init__(self, loggers: Sequence[MetricLogger]) -> None:
        self.loggers = list(loggers)

    def log(self, step: int, metrics: Mapping[str, Any]) -> None:
        for logger in self.loggers:
            logger.log(step, metrics)

    def close(self) -> None:
        for logger in self.loggers:
            logger.close()


def make_loggers(out_dir: str | os.PathLike, resume_step: int | None = None, tensorboard: bool = True) -> MultiLogger:
    """``metrics.csv`` and ``metrics.jsonl`` in ``out_dir``, plus ``tb/`` when asked for and installed."""
    out_dir = Path(out_dir)
    loggers: list[MetricLogger] = [
        CSVLogger(out_dir / "metrics.csv", resume_step),
        JSONLLogger(out_dir / "metrics.jsonl", resume_step),
    ]
    if tensorboard and tensorboard_available():
        loggers.append(TensorBoardLogger(out_dir / "tb", resume_step))
    return MultiLogger(loggers)


def read_csv_log(path: str | os.PathLike) -> list[dict[str, float]]:
    """Rows of a CSV log as dicts of floats (empty cells omitted; ``step`` as int)."""
    out = []
    with open(path, newline="", encoding="utf-8") as f:
        for r in csv.DictReader(f):
            row: dict[str, Any] = {}
            for k, v in r.items():
                if v in ("", None):
                    continue
                try:
                    row[k] = int(v) if k == "step" else float(v)
                except ValueError:
                    row[k] = v
            out.append(row)
    return out


def read_jsonl_log(path: str | os.PathLike) -> list[dict[str, Any]]:
    """Rows of a JSON-lines log."""
    return [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]
