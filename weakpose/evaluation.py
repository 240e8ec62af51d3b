"""Evaluate a 2D->3D lifter on whole sequences and report per-action tables under a stated protocol."""
from __future__ import annotations

from typing import Callable, Dict, Iterable, List, Tuple

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from weakpose.metrics import EvaluationTable, Protocol

Predictor = Callable[[Dict[str, torch.Tensor]], torch.Tensor]


def collate_keep_lists(items: List[dict]) -> dict:
    """Stack tensors, keep other values (strings, camera-id lists) as per-sample lists."""
    out = {}
    for k in items[0]:
        v = [it[k] for it in items]
        out[k] = torch.stack(v) if isinstance(v[0], torch.Tensor) else v
    return out


@torch.no_grad()
def predict_views(predict: Predictor, dataset: Dataset, batch_size: int = 1024,
                  device: torch.device | str = "cpu") -> Dict[Tuple[str, str, str], Tuple[np.ndarray, np.ndarray]]:
    """Run ``predict`` over a pose dataset in order; return ``{(subject, action, camera): (pred, target)}``.

    ``pred``/``target`` are ``(N, J, 3)`` root-relative camera-frame metres, frames in sequence order.
    """
    out: Dict[Tuple[str, str, str], Tuple[list, list]] = {}
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False, collate_fn=collate_keep_lists)
    for batch in loader:
        moved = {k: (v.to(device) if isinstance(v, torch.Tensor) else v) for k, v in batch.items()}
        pred = predict(moved).detach().cpu().numpy()
        target = batch["pose_3d"].numpy()
        for i, key in enumerate(zip(batch["subject"], batch["action"], batch["camera"])):
            p, t = out.setdefault(key, ([], []))
            p.append(pred[i])
            t.append(target[i])
    return {k: (np.stack(p), np.stack(t)) for k, (p, t) in out.items()}


def evaluate_views(views: Dict[Tuple[str, str, str], Tuple[np.ndarray, np.ndarray]],
                   metrics: Iterable[str] = ("mpjpe", "p_mpjpe", "n_mpjpe", "mpjve")) -> EvaluationTable:
    """Score every (subject, action, camera) view; cameras of one sequence pool into its (subject, action) row."""
    table = EvaluationTable(metrics=tuple(metrics))
    for (subject, action, _camera), (pred, target) in sorted(views.items()):
        table.add(subject, action, pred, target)
    return table


def report(views, protocol: Protocol, out_dir, header: str = "",
           metrics: Iterable[str] = ("mpjpe", "p_mpjpe", "n_mpjpe", "mpjve")) -> EvaluationTable:
    """Score ``views`` (see :func:`predict_views`), print the per-action table under ``protocol`` and write it to
    ``out_dir/eval.csv`` and ``out_dir/eval.json``."""
    from pathlib import Path

    table = evaluate_views(views, metrics)
    if header:
        print(header)
    print(table.format(protocol))
    table.save_csv(Path(out_dir) / "eval.csv", protocol)
    table.save_json(Path(out_dir) / "eval.json", protocol)
    return table


def lifter_protocol(two_d_source: str, exclusions: Iterable[str] = (), stride: int = 1,
                    flip_augmentation: bool = False) -> Protocol:
    """The protocol line of a single-camera lifter evaluated on all frames of every test view."""
    return Protocol(
        joints="H36M-17, root included, all 4 cameras",
        alignment="MPJPE root-relative (P1); P-MPJPE similarity Procrustes, no reflection (P2); "
                  "N-MPJPE least-squares scale",
        two_d_source=two_d_source,
        stride=stride,
        flip_augmentation=flip_augmentation,
        exclusions=tuple(exclusions),
        averaging="actions",
    )


__all__ = ["predict_views", "evaluate_views", "report", "lifter_protocol"]
