"""Shared helpers for benchmarks: machine description, timing, and table printing (timings are never asserted)."""

from __future__ import annotations

import os
import platform
import statistics
import time
from typing import Callable, List, Sequence

import torch


def machine_line() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            names = [l.split(":", 1)[1].strip() for l in f if l.startswith("model name")]
        if names:
            cpu = names[0]
    except OSError:
        pass
    return (
        f"machine: {cpu}, {os.cpu_count()} logical cores | python {platform.python_version()} | "
        f"torch {torch.__version__} | {platform.system()} {platform.release()}"
    )


def time_it(fn: Callable[[], object], repeats: int = 5, warmup: int = 1) -> float:
    """Median wall time of ``fn`` over ``repeats`` runs, in seconds."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def time_interleaved(fns, repeats: int, warmup: int = 1) -> List[float]:
    """Median seconds of each function, their repeats interleaved so load changes hit all of them alike."""
    for fn in fns:
        for _ in range(warmup):
            fn()
    times = [[] for _ in fns]
    for _ in range(repeats):
        for i, fn in enumerate(fns):
            t = time.perf_counter()
            fn()
            times[i].append(time.perf_counter() - t)
    return [statistics.median(t) for t in times]


def print_table(title: str, protocol: str, header: Sequence[str], rows: List[Sequence[object]]) -> str:
    widths = [max(len(str(h)), *(len(str(r[i])) for r in rows)) for i, h in enumerate(header)]
    lines = [
        title,
        f"protocol: {protocol}",
        machine_line(),
        "  ".join(str(h).ljust(w) for h, w in zip(header, widths)),
        "  ".join("-" * w for w in widths),
    ]
    lines += ["  ".join(str(c).ljust(w) for c, w in zip(r, widths)) for r in rows]
    text = "\n".join(lines)
    print(text + "\n")
    return text
