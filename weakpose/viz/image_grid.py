"""An overview figure of a multi-view crop set: for a few frames, each camera's full view (the crop pasted back
into its box over the empty room), the crop and its mask."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.patches as patches  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from weakpose.io_utils import atomic_write_path  # noqa: E402


def draw_multiview_overview(dataset, out_path, samples: Sequence[int], full_size: int = 200) -> None:
    """``dataset``: a :class:`weakpose.data.datasets.multiview.MultiViewImageDataset` (all views)."""
    from weakpose.data.h36m.cameras import load_h36m_cameras_json
    from weakpose.data.synthetic.scene import RoomStyle, crop_camera, render_room

    cams = load_h36m_cameras_json()
    rows = len(samples)
    fig, axes = plt.subplots(rows, 12, figsize=(18, 1.7 * rows), squeeze=False)
    for r, idx in enumerate(samples):
        s = dataset[idx]
        seq_i, f = dataset._items[idx]
        ann = dataset.annotations[seq_i]
        ids = [str(c) for c in ann["camera_ids"]]
        for v, cam_id in enumerate(s["camera"][:4]):
            cam = cams[s["subject"]][cam_id]
            w, h = (int(x) for x in np.asarray(cam.image_size).reshape(2))
            side = max(w, h)
            scale = full_size / side
            room = render_room(
                crop_camera(cam, np.array([0.0, 0.0, float(side)]), full_size), full_size, full_size, RoomStyle()
            )
            x0, y0, bs = ann["crop_boxes"][ids.index(cam_id), f] * scale
            crop = s["image"][v].permute(1, 2, 0).numpy()
            n = max(1, int(round(bs)))
            small = (
                torch.nn.functional.interpolate(
                    torch.from_numpy(crop).permute(2, 0, 1)[None], size=(n, n), mode="area"
                )[0]
                .permute(1, 2, 0)
                .numpy()
            )
            full = room.copy()
            xa, ya = int(round(x0)), int(round(y0))
            xs, ys = max(xa, 0), max(ya, 0)
            xe, ye = min(xa + n, full_size), min(ya + n, full_size)
            if xe > xs and ye > ys:
                full[ys:ye, xs:xe] = small[ys - ya : ye - ya, xs - xa : xe - xa]
            ax = axes[r, 3 * v]
            ax.imshow(full)
            ax.add_patch(patches.Rectangle((x0, y0), bs, bs, fill=False, color="yellow", lw=1))
            ax.set_title(f"{s['subject']} {s['action']} cam {cam_id[:4]}", fontsize=7)
            axes[r, 3 * v + 1].imshow(crop)
            axes[r, 3 * v + 1].set_title("crop", fontsize=7)
            axes[r, 3 * v + 2].imshow(s["mask"][v, 0].numpy(), cmap="gray", vmin=0, vmax=1)
            axes[r, 3 * v + 2].set_title("mask", fontsize=7)
    for ax in axes.flat:
        ax.axis("off")
    fig.tight_layout()
    Path(out_path).parent.mkdir(parents=True, exist_ok=True)
    with atomic_write_path(out_path) as tmp:
        fig.savefig(tmp, dpi=90)
    plt.close(fig)


__all__ = ["draw_multiview_overview"]


def save_image_rows(
    out_path,
    rows: Sequence[Sequence[torch.Tensor]],
    column_titles: Sequence[str],
    title: str = "",
    cell_inches: float = 1.4,
) -> Path:
    """A grid figure of images ``(3, H, W)`` in [0, 1]: one row per example, one column per kind (e.g. input
    view, target view, re-rendered view). Written atomically as PNG."""
    n_rows, n_cols = len(rows), len(column_titles)
    if n_rows == 0 or any(len(r) != n_cols for r in rows):
        raise ValueError(f"save_image_rows: every row needs {n_cols} images ({list(column_titles)})")
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(cell_inches * n_cols, cell_inches * n_rows + 0.4), squeeze=False)
    for r, row in enumerate(rows):
        for c, img in enumerate(row):
            ax = axes[r][c]
            ax.imshow(img.detach().float().clamp(0, 1).permute(1, 2, 0).cpu().numpy())
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(column_titles[c], fontsize=8)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write_path(out_path) as tmp:
        fig.savefig(tmp, format="png", dpi=90)
    plt.close(fig)
    return out_path
