"""The static scene and the crops of the synthetic image set: a textured room seen through each camera, and the
root-centred crop of a frame (a 2 m cube around the pelvis projected into the image, as Rhodin et al. 2018 crop).

The room is ray-cast, not rasterised: every pixel's ray (lens distortion undone) hits either the floor (z = 0,
a tiled checkerboard) or a cylindrical wall around the capture volume (panels and bands), so each camera sees its
own background, consistent in 3D between views, and a crop camera sees exactly the matching part of it.
Pixel convention: pixel (col, row) covers [col, col+1) x [row, row+1); its centre is (col + 0.5, row + 0.5) in the
continuous image coordinates that :meth:`weakpose.geometry.Camera.project` returns.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Tuple

import numpy as np
import torch

from weakpose.geometry import Camera


@dataclass(frozen=True)
class RoomStyle:
    """Colours and sizes of the procedural room (metres, RGB in [0, 1])."""

    floor_tile: float = 0.6
    floor_colours: Tuple[Tuple[float, float, float], ...] = ((0.55, 0.52, 0.48), (0.38, 0.36, 0.33))
    wall_radius: float = 7.0
    wall_height: float = 3.2
    wall_panels: int = 24
    wall_colours: Tuple[Tuple[float, float, float], ...] = (
        (0.62, 0.66, 0.70),
        (0.70, 0.64, 0.55),
        (0.50, 0.58, 0.52),
        (0.66, 0.60, 0.68),
    )
    ceiling_colour: Tuple[float, float, float] = (0.85, 0.85, 0.82)


def crop_box(camera: Camera, root_world: np.ndarray, cube_size: float = 2.0) -> np.ndarray:
    """Square crop ``(x0, y0, side)`` in pixels: centred on the projected root, as wide as a ``cube_size`` cube
    facing the camera at the root's depth (side = f · cube_size / z).

    Projecting the cube's 8 corners instead blows up when a corner comes close to the camera plane (a subject
    walking up to a camera); the front-facing cube keeps the person at a constant metric scale in the crop.
    ``root_world``: ``(3,)`` or ``(N, 3)`` metres; returns ``(3,)`` or ``(N, 3)``.
    """
    root = np.asarray(root_world, dtype=np.float64)
    if root.shape[-1] != 3:
        raise ValueError(f"root_world must be (..., 3) metres; got {root.shape}")
    pts = root.reshape(-1, 1, 3)
    z = np.asarray(camera.world_to_camera(pts))[:, 0, 2]
    if np.any(z <= 0):
        raise ValueError(f"root behind camera {camera.name or ''}: camera-frame depth {z.min():.3f} m")
    centre = np.asarray(camera.project(pts))[:, 0]
    focal = float(np.asarray(camera.focal).reshape(-1, 2).max())
    side = focal * cube_size / z
    box = np.concatenate([centre - 0.5 * side[:, None], side[:, None]], axis=-1)
    return box.reshape(root.shape[:-1] + (3,))


def crop_intrinsics(K: np.ndarray, box: np.ndarray, out_size: int) -> np.ndarray:
    """``K`` (..., 3, 3) of a full image -> ``K`` of its crop ``box = (x0, y0, side)`` resampled to ``out_size``².

    Cropping and scaling are affine in pixels, after the lens model: f' = f·s, c' = (c − x0)·s with
    s = out_size / side; the distortion coefficients act on normalised coordinates and stay as they are.
    """
    x0, y0, side = (float(v) for v in np.asarray(box, dtype=np.float64).reshape(3))
    if side <= 0:
        raise ValueError(f"crop side must be positive; got {side}")
    s = out_size / side
    K = np.array(K, dtype=np.float64, copy=True)
    K[..., :2, :] *= s
    K[..., 0, 2] -= x0 * s
    K[..., 1, 2] -= y0 * s
    return K


def crop_camera(camera: Camera, box: np.ndarray, out_size: int) -> Camera:
    """The camera whose ``out_size``² image is the crop ``box = (x0, y0, side)`` of ``camera``'s image, resampled
    (see :func:`crop_intrinsics`)."""
    K = torch.as_tensor(
        crop_intrinsics(camera.K.detach().cpu().numpy(), box, out_size), dtype=camera.K.dtype, device=camera.K.device
    )
    return camera.replace(K=K, image_size=(out_size, out_size))


def pixel_centres(width: int, height: int) -> np.ndarray:
    """``(height, width, 2)`` continuous image coordinates (u, v) of every pixel centre."""
    u, v = np.meshgrid(np.arange(width) + 0.5, np.arange(height) + 0.5)
    return np.stack([u, v], axis=-1)


def render_room(camera: Camera, width: int, height: int, style: RoomStyle = RoomStyle()) -> np.ndarray:
    """``(height, width, 3)`` float32 RGB of the empty room as ``camera`` (world Z up, floor z = 0) sees it."""
    uv = pixel_centres(width, height).reshape(1, -1, 2)
    xy = np.asarray(camera.pixels_to_normalized(torch.as_tensor(uv, dtype=torch.float64)))[0]
    rays_cam = np.concatenate([xy, np.ones_like(xy[:, :1])], axis=-1)
    R = np.asarray(camera.R, dtype=np.float64).reshape(3, 3)
    origin = np.asarray(camera.center, dtype=np.float64).reshape(3)
    rays = rays_cam @ R  # world directions: Rᵀ d for every row d
    rays /= np.linalg.norm(rays, axis=-1, keepdims=True)

    # distance along each ray to the wall cylinder x² + y² = r² (the camera stands inside it)
    a = rays[:, 0] ** 2 + rays[:, 1] ** 2
    b = 2 * (origin[0] * rays[:, 0] + origin[1] * rays[:, 1])
    c = origin[0] ** 2 + origin[1] ** 2 - style.wall_radius**2
    t_wall = (-b + np.sqrt(np.maximum(b * b - 4 * a * c, 0))) / np.maximum(2 * a, 1e-12)
    with np.errstate(divide="ignore", invalid="ignore"):
        t_floor = np.where(rays[:, 2] < -1e-9, -origin[2] / rays[:, 2], np.inf)
    hit_floor = t_floor < t_wall
    t = np.where(hit_floor, t_floor, t_wall)
    p = origin + t[:, None] * rays

    rgb = np.empty((rays.shape[0], 3))
    # floor: checkerboard tiles with a slight darkening towards the wall
    tiles = (np.floor(p[:, 0] / style.floor_tile) + np.floor(p[:, 1] / style.floor_tile)).astype(int) % 2
    floor = np.asarray(style.floor_colours)[tiles]
    floor *= (1.0 - 0.25 * np.clip(np.hypot(p[:, 0], p[:, 1]) / style.wall_radius, 0, 1))[:, None]
    # wall: coloured panels by azimuth, a darker skirting band and a lighter band at eye height; ceiling above
    azimuth = (np.arctan2(p[:, 1], p[:, 0]) + np.pi) / (2 * np.pi)
    panel = np.floor(azimuth * style.wall_panels).astype(int)
    wall = np.asarray(style.wall_colours)[panel % len(style.wall_colours)].copy()
    seam = np.abs(azimuth * style.wall_panels - np.round(azimuth * style.wall_panels)) < 0.03
    wall[seam] *= 0.6
    wall[p[:, 2] < 0.15] *= 0.5
    band = (p[:, 2] > 1.4) & (p[:, 2] < 1.6)
    wall[band] = 0.5 * wall[band] + 0.5
    wall[p[:, 2] > style.wall_height] = style.ceiling_colour
    rgb = np.where(hit_floor[:, None], floor, wall)
    return rgb.reshape(height, width, 3).astype(np.float32)


__all__ = ["RoomStyle", "crop_box", "crop_intrinsics", "crop_camera", "pixel_centres", "render_room"]
