"""The end-of-run figures the sample scripts draw: predicted vs true poses on a few test views, and meshes over
the crops they were regressed from. Written atomically; no display needed.

* :func:`spread_picks` -- ``count`` items spread evenly over a sequence (subjects, actions and cameras alike);
* :func:`save_view_predictions` -- a lifter's predictions on a few test views (2D input above, 3D below);
* :func:`save_mesh_overlays` -- meshes hard-rendered over the crops of a multi-view sample, true mask outlined.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Hashable, List, Mapping, Optional, Sequence, Tuple

import numpy as np

__all__ = ["spread_picks", "save_view_predictions", "vertex_normals", "save_mesh_overlays"]


def spread_picks(items: Sequence[Any], count: int) -> List[Any]:
    """At most ``count`` elements of ``items`` at evenly spread positions (the first one always included)."""
    n = len(items)
    return [items[(i * n) // count] for i in range(min(count, n))] if count > 0 else []


def save_view_predictions(
    path: str | Path,
    views: Mapping[Tuple[Hashable, ...], Sequence[np.ndarray]],
    inputs_2d: Optional[Mapping[Tuple[Hashable, ...], np.ndarray]] = None,
    count: int = 5,
    up_axis: str = "-y",
) -> List[Tuple[Hashable, ...]]:
    """Predicted (solid) against true (dashed) 3D on the middle frame of ``count`` test views spread over
    ``views``; with ``inputs_2d`` (same keys, (T, J, 2) pixels) the 2D input is drawn above.

    ``views``: ``{(subject, action, camera): (pred (T, J, 3), true (T, J, 3))}`` as
    :func:`weakpose.evaluation.predict_views` / ``predict_sequences`` return them. Returns the keys drawn.
    """
    from weakpose.viz.skeleton_plot import save_pose_comparison

    picks = spread_picks(sorted(views), count)
    frames = [len(views[k][0]) // 2 for k in picks]
    save_pose_comparison(
        path,
        poses_2d=None if inputs_2d is None else [inputs_2d[k][f] for k, f in zip(picks, frames)],
        poses_pred=[views[k][0][f] for k, f in zip(picks, frames)],
        poses_true=[views[k][1][f] for k, f in zip(picks, frames)],
        titles=[", camera ".join((" ".join(map(str, k[:-1])), str(k[-1]))) for k in picks],
        up_axis=up_axis,
    )
    return picks


def vertex_normals(vertices, faces):
    """Unit vertex normals ``(B, N, 3)`` of meshes ``(B, N, 3)`` with faces ``(F, 3)`` (area-weighted)."""
    import torch

    tri = vertices[:, faces]  # (B, F, 3, 3)
    n = torch.cross(tri[:, :, 1] - tri[:, :, 0], tri[:, :, 2] - tri[:, :, 0], dim=-1)
    out = torch.zeros_like(vertices)
    for k in range(3):
        out.index_add_(1, faces[:, k], n)
    return torch.nn.functional.normalize(out, dim=-1)


def save_mesh_overlays(
    path: str | Path,
    samples: Sequence[Mapping[str, Any]],
    vertices,
    faces,
    iou: Optional[np.ndarray] = None,
    title: str = "",
) -> None:
    """Rows: samples of a multi-view crop dataset (:class:`weakpose.data.datasets.multiview.MultiViewImageDataset`);
    columns: their views. Each cell: the mesh of that view, hard-rendered over the crop (grey, shaded by the
    normal towards the camera), the true mask outlined in green.

    ``vertices``: ``(P, V, N, 3)`` world metres, one mesh per sample and view; ``faces``: ``(F, 3)``;
    ``iou``: optional ``(P, V)`` silhouette IoU printed in each title.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import torch

    from weakpose.data.datasets.multiview import crop_cameras
    from weakpose.io_utils import atomic_write_path
    from weakpose.render import HardRasterizer

    faces = torch.as_tensor(faces).cpu()
    verts = torch.as_tensor(vertices).detach().cpu()
    v = verts.shape[1]
    fig, axes = plt.subplots(len(samples), v, figsize=(2.2 * v, 2.3 * len(samples)), squeeze=False)
    with torch.no_grad():
        for r, sample in enumerate(samples):
            cam = crop_cameras(sample)
            size = sample["image"].shape[-1]
            raster = HardRasterizer((size, size))
            centre = cam.center.reshape(v, 1, 3)
            normals = vertex_normals(verts[r], faces)
            towards = torch.nn.functional.normalize(centre - verts[r], dim=-1)
            shade = (0.35 + 0.65 * (normals * towards).sum(-1).abs())[..., None] * torch.tensor([0.85, 0.85, 0.95])
            frags = raster.render(verts[r].double(), faces, cam.to(dtype=torch.float64), vertex_colors=shade.double())
            for j in range(v):
                img = sample["image"][j].permute(1, 2, 0).numpy()
                m = frags.mask[j].numpy()[..., None]
                over = np.where(m, 0.3 * img + 0.7 * frags.rgb[j].numpy(), img)
                ax = axes[r, j]
                ax.imshow(np.clip(over, 0, 1), interpolation="nearest")
                ax.contour(sample["mask"][j, 0].numpy(), levels=[0.5], colors="lime", linewidths=0.6)
                ax.set_xticks([])
                ax.set_yticks([])
                score = "" if iou is None else f", IoU {iou[r, j]:.2f}"
                ax.set_title(
                    f"{sample['subject']} {sample['action'][:10]} f{sample['frame']}\ncam {j + 1}{score}", fontsize=7
                )
    if title:
        fig.suptitle(title, fontsize=8)
    fig.tight_layout()
    with atomic_write_path(Path(path)) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)
