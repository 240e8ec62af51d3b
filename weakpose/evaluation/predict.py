"""Lift every view of a dataset: temporal lifters on whole sequences, single-frame lifters in batches; progress
shown as a bar in a terminal, log lines otherwise."""

from __future__ import annotations

import logging
import sys
import time
from typing import Callable, Dict, Tuple

import numpy as np
import torch
from torch.utils.data import Dataset

from weakpose.data.datasets.multiview import collate_keep_lists
from weakpose.train.batching import batched_loader, has_get_batch

log = logging.getLogger(__name__)

Predictor = Callable[[Dict[str, torch.Tensor]], torch.Tensor]


def progress(iterable, total: int, desc: str, unit: str = "it"):
    """A tqdm bar when stderr is a terminal; otherwise a log line at every tenth of the work (batch jobs, CI)."""
    if sys.stderr.isatty():
        from tqdm.auto import tqdm

        yield from tqdm(iterable, total=total, desc=desc, unit=unit, dynamic_ncols=True, leave=False)
        return
    step, start = max(1, total // 10), time.perf_counter()
    for i, item in enumerate(iterable, 1):
        yield item
        if i % step == 0 or i == total:
            log.info("%s: %d/%d %s (%.0f s)", desc, i, total, unit, time.perf_counter() - start)


@torch.no_grad()
def predict_views(
    predict: Predictor, dataset: Dataset, batch_size: int = 1024, device: torch.device | str = "cpu"
) -> Dict[Tuple[str, str, str], Tuple[np.ndarray, np.ndarray]]:
    """Run ``predict`` over a pose dataset in order, a batch at a time; return
    ``{(subject, action, camera): (pred, target)}``.

    ``pred``/``target`` are ``(N, J, 3)`` root-relative camera-frame metres, frames in sequence order. Batches come
    from ``dataset.get_batch`` when it has one. For temporal lifters :func:`predict_sequences` does the same on
    whole sequences, without recomputing every frame's receptive field.
    """
    preds, targets, keys = [], [], []
    loader = batched_loader(
        dataset, batch_size=batch_size, shuffle=False, collate_fn=None if has_get_batch(dataset) else collate_keep_lists
    )
    for batch in progress(loader, len(loader), "predict", "batch"):
        moved = {k: (v.to(device) if isinstance(v, torch.Tensor) else v) for k, v in batch.items()}
        preds.append(predict(moved).detach().cpu().numpy())
        targets.append(batch["pose_3d"].numpy())
        keys += zip(batch["subject"], batch["action"], batch["camera"])
    if not keys:
        return {}
    pred, target = np.concatenate(preds), np.concatenate(targets)
    # The dataset gives each view's frames consecutively: split at the rows where the key changes.
    cuts = [0] + [i for i in range(1, len(keys)) if keys[i] != keys[i - 1]] + [len(keys)]
    out: Dict[Tuple[str, str, str], Tuple[list, list]] = {}
    for a, b in zip(cuts[:-1], cuts[1:]):
        p, t = out.setdefault(keys[a], ([], []))
        p.append(pred[a:b])
        t.append(target[a:b])
    return {k: (np.concatenate(p), np.concatenate(t)) for k, (p, t) in out.items()}


@torch.no_grad()
def predict_sequences(
    model: torch.nn.Module, dataset, flip: bool = False, chunk_frames: int = 4096, device: torch.device | str = "cpu"
) -> Dict[Tuple[str, str, str], Tuple[np.ndarray, np.ndarray]]:
    """A temporal lifter on every view of ``dataset`` (a :class:`~weakpose.data.datasets.poses.PoseWindowDataset`) as a
    whole sequence (:meth:`~weakpose.models.temporal.TemporalLifter.lift_sequence`): the same predictions as
    :func:`predict_views` on every frame's window, without recomputing each frame's receptive field.

    flip: average with the mirrored sequence (VideoPose3D's test-time augmentation; H36M-17 left/right). The model
    is put in eval mode. Returns ``{(subject, action, camera): (pred, target)}`` like :func:`predict_views`.
    """
    return _over_views(
        model,
        dataset,
        "lift sequences",
        device,
        lambda x, flip_order: model.lift_sequence(x, chunk_frames=chunk_frames, flip=flip_order),
        flip,
        target=lambda pose, root: pose,
    )


@torch.no_grad()
def predict_roots(
    trajectory: torch.nn.Module,
    dataset,
    flip: bool = False,
    chunk_frames: int = 4096,
    device: torch.device | str = "cpu",
) -> Dict[Tuple[str, str, str], Tuple[np.ndarray, np.ndarray]]:
    """The decoupled root model (:class:`~weakpose.models.temporal.TrajectoryModel`) on every view of ``dataset``
    as a whole sequence: ``{(subject, action, camera): (root_pred (N, 3), root_target (N, 3))}``, camera-frame
    metres (the target is NaN for views without 3D)."""
    return _over_views(
        trajectory,
        dataset,
        "lift roots",
        device,
        lambda x, flip_order: trajectory.lift_root_sequence(x, chunk_frames=chunk_frames, flip=flip_order),
        flip,
        target=lambda pose, root: root,
    )


def _over_views(model, dataset, desc: str, device, lift, flip: bool, target) -> Dict[Tuple[str, str, str], tuple]:
    """``{key: (lift(view 2D, flip order), target(pose, root))}`` over every view of ``dataset``, model in eval mode."""
    from weakpose.skeleton import H36M17

    model.eval()
    dtype = next(model.parameters()).dtype
    views = list(dataset.view_arrays())
    out = {}
    for key, kp, pose, root in progress(views, len(views), desc, "view"):
        x = torch.from_numpy(kp).to(device=device, dtype=dtype)
        out[key] = (lift(x, H36M17 if flip else None).float().cpu().numpy(), target(pose, root))
    return out


__all__ = ["predict_views", "predict_sequences", "predict_roots", "progress", "collate_keep_lists"]
