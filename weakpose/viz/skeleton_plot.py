"""Skeleton drawings in 2D (pixels) and 3D (metres), left limbs blue and right limbs red, written atomically."""

from __future__ import annotations

from typing import Optional, Sequence

import matplotlib

matplotlib.use("Agg")  # figures are files; never require a display
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from weakpose.io_utils import atomic_write_path  # noqa: E402
from weakpose.skeleton import H36M17, JointOrder  # noqa: E402

_LEFT, _RIGHT, _MID = "tab:blue", "tab:red", "0.3"


def _bone_colour(order: JointOrder, child: int) -> str:
    if child in order.left:
        return _LEFT
    if child in order.right:
        return _RIGHT
    return _MID


def plot_pose_2d(ax, pose: np.ndarray, order: JointOrder = H36M17, image_size=None, style="-", alpha=1.0):
    """Draw one 2D pose ``(J, 2)`` in pixel coordinates (v grows downwards, as in the image)."""
    pose = np.asarray(pose)
    for child, parent in order.bones:
        ax.plot(
            pose[[child, parent], 0],
            pose[[child, parent], 1],
            style,
            color=_bone_colour(order, child),
            lw=2,
            alpha=alpha,
        )
    if image_size is not None:
        ax.set_xlim(0, image_size[0])
        ax.set_ylim(image_size[1], 0)
    elif not ax.yaxis_inverted():
        ax.invert_yaxis()
    ax.set_aspect("equal")


def plot_pose_3d(
    ax, pose: np.ndarray, order: JointOrder = H36M17, style="-", alpha=1.0, radius=0.8, up_axis: str = "z"
):
    """Draw one 3D pose ``(J, 3)`` in metres, centred on its root, in a cube of half-side ``radius`` metres.

    ``up_axis``: 'z' for world coordinates (Human3.6M, CMU), '-y' for camera coordinates (y points down).
    """
    pose = np.asarray(pose, dtype=float) - np.asarray(pose, dtype=float)[0]
    if up_axis == "-y":  # camera frame -> x right, z forward (depth), -y up
        pose = np.stack([pose[:, 0], pose[:, 2], -pose[:, 1]], axis=-1)
    for child, parent in order.bones:
        ax.plot(*pose[[child, parent]].T, style, color=_bone_colour(order, child), lw=2, alpha=alpha)
    ax.set_xlim(-radius, radius)
    ax.set_ylim(-radius, radius)
    ax.set_zlim(-radius, radius)
    ax.set_box_aspect((1, 1, 1))
    ax.set_xticklabels([])
    ax.set_yticklabels([])
    ax.set_zticklabels([])


def save_pose_comparison(
    path,
    poses_2d: Optional[Sequence[np.ndarray]],
    poses_pred: Sequence[np.ndarray],
    poses_true: Optional[Sequence[np.ndarray]] = None,
    titles: Optional[Sequence[str]] = None,
    order: JointOrder = H36M17,
    up_axis: str = "-y",
    image_size=None,
) -> None:
    """A grid with one column per example: the 2D input on top, predicted (solid) vs true (dashed) 3D below."""
    n = len(poses_pred)
    rows = 2 if poses_2d is not None else 1
    fig = plt.figure(figsize=(3.2 * n, 3.2 * rows))
    for i in range(n):
        if poses_2d is not None:
            ax = fig.add_subplot(rows, n, i + 1)
            plot_pose_2d(ax, poses_2d[i], order, image_size=image_size)
            ax.set_title(titles[i] if titles else f"input {i}", fontsize=9)
            ax.set_xticks([])
            ax.set_yticks([])
        ax = fig.add_subplot(rows, n, (rows - 1) * n + i + 1, projection="3d")
        if poses_true is not None:
            plot_pose_3d(ax, poses_true[i], order, style="--", alpha=0.5, up_axis=up_axis)
        plot_pose_3d(ax, poses_pred[i], order, up_axis=up_axis)
        ax.view_init(elev=15, azim=-70)
        if poses_2d is None and titles:
            ax.set_title(titles[i], fontsize=9)
    fig.text(0.01, 0.01, "solid: prediction, dashed: ground truth; blue left, red right", fontsize=8)
    fig.tight_layout()
    with atomic_write_path(path) as tmp:
        fig.savefig(tmp, dpi=100)
    plt.close(fig)
