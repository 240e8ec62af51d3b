"""Generated closed meshes for tests, benchmarks and demos (no licensed files needed).

* :func:`uv_sphere` - a latitude/longitude sphere (or ellipsoid) with two pole vertices.
* :func:`body_mesh` - a body-sized union of ellipsoids (head, torso, pelvis, upper/lower arms and legs) in
  SMPL's frame (METRES, Y up, the person faces +Z, feet near y = 0), with a chosen number of vertices; every
  part is a closed genus-0 surface, so ``faces = 2 * (vertices - 2 * parts)``.
* :func:`front_camera` - a pinhole :class:`~weakpose.geometry.Camera` looking at such a body from the front.

Faces are wound counter-clockwise seen from outside (outward normals), but the renderers accept either winding.
"""

from __future__ import annotations

import math
from typing import List, Sequence, Tuple

import numpy as np
import torch

from ..geometry.camera import Camera

__all__ = ["uv_sphere", "body_mesh", "front_camera", "BODY_PARTS"]


def uv_sphere(
    n_lat: int, n_lon: int, radii=(1.0, 1.0, 1.0), center=(0.0, 0.0, 0.0), axis=(0.0, 1.0, 0.0)
) -> Tuple[np.ndarray, np.ndarray]:
    """A closed ellipsoid: ``n_lat`` rings of ``n_lon`` vertices plus two poles.

    Returns ``(vertices (n_lat*n_lon + 2, 3) float64, faces (2*n_lat*n_lon, 3) int64)``. ``radii`` are the
    semi-axes before rotation, the second one along ``axis`` (the pole direction); ``center`` in the same units.
    """
    if n_lat < 1 or n_lon < 3:
        raise ValueError(f"uv_sphere: need n_lat >= 1 and n_lon >= 3, got n_lat={n_lat}, n_lon={n_lon}")
    theta = np.pi * (np.arange(n_lat) + 1) / (n_lat + 1)  # polar angle of each ring, poles excluded
    phi = 2 * np.pi * np.arange(n_lon) / n_lon
    st, ct = np.sin(theta)[:, None], np.cos(theta)[:, None]
    ring = np.stack([st * np.cos(phi), np.broadcast_to(ct, (n_lat, n_lon)), -st * np.sin(phi)], -1).reshape(-1, 3)
    verts = np.concatenate([[[0.0, 1.0, 0.0]], ring, [[0.0, -1.0, 0.0]]]) * np.asarray(radii, dtype=np.float64)
    top, bottom = 0, n_lat * n_lon + 1
    idx = lambda i, j: 1 + i * n_lon + (j % n_lon)  # noqa: E731 - ring i, column j
    faces: List[Tuple[int, int, int]] = []
    for j in range(n_lon):
        faces.append((top, idx(0, j), idx(0, j + 1)))
        faces.append((bottom, idx(n_lat - 1, j + 1), idx(n_lat - 1, j)))
        for i in range(n_lat - 1):
            a, b, c, d = idx(i, j), idx(i, j + 1), idx(i + 1, j), idx(i + 1, j + 1)
            faces += [(a, c, d), (a, d, b)]
    verts = _rotate_y_to(verts, np.asarray(axis, dtype=np.float64)) + np.asarray(center, dtype=np.float64)
    return verts, np.asarray(faces, dtype=np.int64)


def _rotate_y_to(v: np.ndarray, axis: np.ndarray) -> np.ndarray:
    """Rotate points so that +Y goes to ``axis`` (Rodrigues' formula)."""
    a = axis / np.linalg.norm(axis)
    y = np.array([0.0, 1.0, 0.0])
    k = np.cross(y, a)
    s, c = np.linalg.norm(k), float(y @ a)
    if s < 1e-12:
        return v if c > 0 else v * np.array([1.0, -1.0, -1.0])  # identity or a half-turn about x
    k = k / s
    K = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    R = np.eye(3) + s * K + (1 - c) * K @ K
    return v @ R.T


#: (name, centre (m), semi-axes (m; the second along the part's axis), axis, share of the vertices)
BODY_PARTS: Tuple[Tuple[str, Sequence[float], Sequence[float], Sequence[float], float], ...] = (
    ("head", (0.0, 1.62, 0.0), (0.09, 0.12, 0.10), (0, 1, 0), 0.10),
    ("torso", (0.0, 1.25, 0.0), (0.17, 0.27, 0.11), (0, 1, 0), 0.22),
    ("pelvis", (0.0, 0.95, 0.0), (0.16, 0.11, 0.11), (0, 1, 0), 0.08),
    ("l_upper_arm", (0.27, 1.30, 0.0), (0.05, 0.16, 0.05), (0.6, -1, 0), 0.06),
    ("r_upper_arm", (-0.27, 1.30, 0.0), (0.05, 0.16, 0.05), (-0.6, -1, 0), 0.06),
    ("l_forearm", (0.40, 1.05, 0.03), (0.04, 0.15, 0.04), (0.3, -1, 0.2), 0.05),
    ("r_forearm", (-0.40, 1.05, 0.03), (0.04, 0.15, 0.04), (-0.3, -1, 0.2), 0.05),
    ("l_thigh", (0.10, 0.68, 0.0), (0.08, 0.22, 0.08), (0.05, 1, 0), 0.1),
    ("r_thigh", (-0.10, 0.68, 0.0), (0.08, 0.22, 0.08), (-0.05, 1, 0), 0.1),
    ("l_shin", (0.12, 0.25, 0.0), (0.055, 0.22, 0.055), (0, 1, 0), 0.09),
    ("r_shin", (-0.12, 0.25, 0.0), (0.055, 0.22, 0.055), (0, 1, 0), 0.09),
)


def _grid(n: int) -> Tuple[int, int]:
    """n_lat x n_lon close to n vertices with about twice as many columns as rings."""
    n_lat = max(1, int(round(math.sqrt(n / 2))))
    return n_lat, max(3, int(round(n / n_lat)))


def body_mesh(num_vertices: int = 6890) -> Tuple[np.ndarray, np.ndarray]:
    """A body-sized mesh (1.74 m tall, SMPL frame: metres, Y up, facing +Z) with exactly ``num_vertices``.

    Eleven ellipsoids (:data:`BODY_PARTS`) overlap at the joints like a mannequin, so its silhouette has limbs and
    gaps as a person's does. ``faces = 2 * num_vertices - 44``: 6890 vertices give 13736 faces (SMPL: 13776).
    Returns ``(vertices (V, 3) float64, faces (F, 3) int64)``.
    """
    parts = len(BODY_PARTS)
    budget = num_vertices - 2 * parts  # ring vertices to share out
    if budget < 3 * parts:
        raise ValueError(f"body_mesh: need at least {5 * parts} vertices, got {num_vertices}")
    shares = np.array([p[4] for p in BODY_PARTS])
    grids = [_grid(int(budget * s / shares.sum())) for s in shares]
    # the last part takes what is left; nudge the first part until the remainder factors into a sensible grid
    for _ in range(1000):
        rest = budget - sum(a * b for a, b in grids[:-1])
        n_lat = _divisor_near(rest, math.sqrt(rest / 2))
        if n_lat is not None:
            grids[-1] = (n_lat, rest // n_lat)
            break
        a, b = grids[0]
        grids[0] = (a, b - 1 if b > 3 else b + 1)
    else:  # pragma: no cover - every integer >= 3 has a grid (n_lat = 1 at worst)
        raise RuntimeError("body_mesh: could not split the vertices into parts")
    verts, faces, offset = [], [], 0
    for (name, center, radii, axis, _), (n_lat, n_lon) in zip(BODY_PARTS, grids):
        v, f = uv_sphere(n_lat, n_lon, radii, center, axis)
        verts.append(v)
        faces.append(f + offset)
        offset += len(v)
    return np.concatenate(verts), np.concatenate(faces)


def _divisor_near(n: int, target: float):
    """A divisor d of n with d <= n/d/1.2 (rings fewer than columns), closest to target; None if only tiny ones."""
    best = None
    for d in range(1, int(math.sqrt(n)) + 1):
        if n % d == 0 and n // d >= 3 and (best is None or abs(d - target) < abs(best - target)):
            best = d
    return best if best is not None and best >= max(2, target / 3) else None


def front_camera(
    image_size=(128, 128),
    distance: float = 3.0,
    fill: float = 0.85,
    height: float = 0.87,
    dist=None,
    dtype=torch.float32,
) -> Camera:
    """A camera ``distance`` metres in front of a standing body (looking along world -Z, image up = world +Y),
    with the focal length chosen so that 1.74 m fill ``fill`` of the image height. Principal point at the image
    centre; ``dist`` = [k1, k2, k3, p1, p2] (default none)."""
    w, h = image_size
    f = fill * h * distance / 1.74
    R = torch.tensor([[1.0, 0, 0], [0, -1.0, 0], [0, 0, -1.0]], dtype=torch.float64)  # camera x = X, y = -Y, z = -Z
    centre = torch.tensor([0.0, height, distance], dtype=torch.float64)
    K = torch.tensor([[f, 0, w / 2], [0, f, h / 2], [0, 0, 1]], dtype=torch.float64)
    return Camera(R.to(dtype), (-R @ centre).to(dtype), K.to(dtype), dist, image_size=(w, h))
