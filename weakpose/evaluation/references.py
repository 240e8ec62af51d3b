"""Reference predictions a model is measured against (not models, not metrics).

:func:`closest_pose` is an ORACLE: it looks at the test pose and answers with the nearest candidate, so it is no
error function (it returns poses, chosen with the answer in hand) and no method either; scored with
:mod:`weakpose.metrics` it tells how well a pool of labelled poses covers the test poses.
"""

from __future__ import annotations

import torch

__all__ = ["closest_pose"]


@torch.no_grad()
def closest_pose(candidates: torch.Tensor, targets: torch.Tensor, chunk: int = 512) -> torch.Tensor:
    """For each ``(T, J, 3)`` target, the ``(C, J, 3)`` candidate with the lowest MPJPE to it: ``(T, J, 3)``.

    With the labelled subject's training poses as candidates this is an oracle (it looks at the test pose): the
    error left if every test view were answered with the best pose that subject ever made, i.e. how well the
    labelled poses cover the test poses.
    """
    if candidates.ndim != 3 or targets.ndim != 3 or candidates.shape[1:] != targets.shape[1:]:
        raise ValueError(
            f"closest_pose: candidates {tuple(candidates.shape)} and targets {tuple(targets.shape)} "
            "must both be (N, joints, 3) with the same joints"
        )
    picks = []
    for block in targets.split(chunk):
        dist = (block[:, None] - candidates[None]).norm(dim=-1).mean(-1)  # (chunk, C) MPJPE to every candidate
        picks.append(dist.argmin(dim=1))
    return candidates[torch.cat(picks)]
