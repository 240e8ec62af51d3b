"""Score lifted views under a stated protocol: per-action tables (:class:`weakpose.metrics.EvaluationTable`), the
protocol line of a lifter evaluation, and the report a training script prints and writes."""

from __future__ import annotations

from typing import Dict, Iterable, Tuple

import numpy as np

from weakpose.metrics import EvaluationTable, Protocol


def evaluate_views(
    views: Dict[Tuple[str, str, str], Tuple[np.ndarray, np.ndarray]],
    metrics: Iterable[str] = ("mpjpe", "p_mpjpe", "n_mpjpe", "mpjve"),
    roots: Dict[Tuple[str, str, str], Tuple[np.ndarray, np.ndarray]] = None,
) -> EvaluationTable:
    """Score every (subject, action, camera) view; cameras of one sequence pool into its (subject, action) row.
    With ``roots`` (:func:`predict_roots`) the absolute metrics "mrpe" and "abs_mpjpe" can be asked for."""
    table = EvaluationTable(metrics=tuple(metrics))
    for key, (pred, target) in sorted(views.items()):
        pr, tr = roots[key] if roots is not None else (None, None)
        table.add(key[0], key[1], pred, target, pred_root=pr, target_root=tr)
    return table


def report(
    views,
    protocol: Protocol,
    out_dir,
    header: str = "",
    metrics: Iterable[str] = ("mpjpe", "p_mpjpe", "n_mpjpe", "mpjve"),
    roots=None,
) -> EvaluationTable:
    """Score ``views`` (see :func:`predict_views`; ``roots`` see :func:`evaluate_views`), print the per-action
    table under ``protocol`` and write it to ``out_dir/eval.csv`` and ``out_dir/eval.json``."""
    from pathlib import Path

    table = evaluate_views(views, metrics, roots=roots)
    if header:
        print(header)
    print(table.format(protocol))
    table.save_csv(Path(out_dir) / "eval.csv", protocol)
    table.save_json(Path(out_dir) / "eval.json", protocol)
    return table


def lifter_protocol(
    two_d_source: str,
    exclusions: Iterable[str] = (),
    stride: int = 1,
    flip_augmentation: bool = False,
    absolute: bool = False,
    joints: str = "H36M-17, root included, all 4 cameras",
) -> Protocol:
    """The protocol line of a single-camera lifter evaluated on all frames of every test view; ``absolute``: the
    table also has MRPE / Abs-MPJPE from the lifter's trajectory model."""
    alignment = (
        "MPJPE root-relative (P1); P-MPJPE similarity Procrustes, no reflection (P2); N-MPJPE least-squares scale"
    )
    if absolute:
        alignment += "; MRPE and Abs-MPJPE camera frame, predicted root, no alignment"
    return Protocol(
        joints=joints,
        alignment=alignment,
        two_d_source=two_d_source,
        stride=stride,
        flip_augmentation=flip_augmentation,
        exclusions=tuple(exclusions),
        averaging="actions",
    )


__all__ = ["evaluate_views", "report", "lifter_protocol"]
