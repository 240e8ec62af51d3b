"""Batched pinhole cameras with radial-tangential distortion, and the Human3.6M camera readers.

Units and frames: 3D points are METRES, ``(..., J, 3)``; ``x_cam = R @ X_world + t`` (so ``t`` is in metres);
2D points are PIXELS, ``(..., J, 2)``, continuous coordinates (a horizontal mirror maps ``u -> w - u``).
Camera frame: x right, y down, z forward (the H36M / OpenCV convention).

A :class:`Camera` holds torch tensors with any leading batch shape; those batch dimensions broadcast against the
dimensions in front of ``(J, 3)`` of the points (a batch of 4 cameras and points ``(4, J, 3)`` project each set
through its camera; points ``(N, 4, J, 3)`` also work). Methods accept numpy or torch and return the input's
type; computation happens in the points' dtype/device (a float64 camera projects float32 predictions in float32
and keeps their gradient).

Distortion coefficients are stored in weakpose's order ``dist = [k1, k2, k3, p1, p2]``. With normalised
coordinates ``x = X/Z, y = Y/Z``, ``r2 = x² + y²`` and ``radial = 1 + k1 r2 + k2 r2² + k3 r2³``, the tangential term
comes in three published forms, chosen by ``distortion_model``:

* ``"h36m"`` (default) - the Human3.6M toolkit (``ProjectPointRadial``, Ionescu et al. 2014; also Martinez et
  al. 2017): ``x_d = x·radial + p1·x·y + p2·(r2 + x²)``, ``y_d = y·radial + p1·(r2 + y²) + p2·x·y``.
  This is the projection shipped by the dataset authors with these calibration numbers, so it is the default.
* ``"videopose3d"`` - Pavllo et al. 2019, ``common/camera.py``: ``x_d = x·(radial + p1·x + p2·y) + p1·r2``,
  ``y_d = y·(radial + p1·x + p2·y) + p2·r2`` (p1 and p2 trade roles relative to the toolkit; use it to reproduce
  VideoPose3D's ``data_2d_h36m_gt.npz``, which was made with it). VideoPose3D also clamps x, y to [-1, 1]; we do not.
* ``"opencv"`` - Brown-Conrady as in OpenCV's ``projectPoints``: ``x_d = x·radial + 2·p1·x·y + p2·(r2 + 2x²)``,
  ``y_d = y·radial + p1·(r2 + 2y²) + 2·p2·x·y``.

The three differ only in the tangential terms; with H36M's |p| ~ 1e-3 they agree to under 1 px over the image.
Pixels: ``u = fx·x_d + s·y_d + cx``, ``v = fy·y_d + cy`` with ``K = [[fx, s, cx], [0, fy, cy], [0, 0, 1]]``.

Human3.6M camera parameters: ``weakpose/data/assets/h36m_cameras.json`` is a copy of ``camera-parameters.json``
from Karim Iskakov's learnable-triangulation project (MIT licence, Copyright (c) 2019 Karim Iskakov, full text in
``weakpose/data/assets/LICENSE-h36m-cameras``); the numbers come from the Human3.6M metadata (Ionescu et al. 2014).
"""

from __future__ import annotations

import os
from typing import Any, Optional, Sequence, Tuple, Union

import numpy as np
import torch

from weakpose.arrays import from_torch, to_torch

__all__ = [
    "Camera",
    "DISTORTION_MODELS",
    "normalize_screen_coordinates",
    "unnormalize_screen_coordinates",
    "screen_intrinsics",
    "flip_screen_intrinsics",
    "scale_intrinsics",
    "reproject",
]

DISTORTION_MODELS = ("h36m", "videopose3d", "opencv")

PathLike = Union[str, os.PathLike]


# ---------------------------------------------------------------------------------------------------------------
# screen normalisation (VideoPose3D)


def normalize_screen_coordinates(uv, w, h):
    """Pixels -> ``u' = u/w·2 - 1``, ``v' = v/w·2 - h/w`` (both axes scaled by the width, so the aspect is kept).

    Pavllo et al. 2019. ``w``, ``h`` are numbers or arrays broadcastable to ``uv[..., 0]``. numpy or torch.
    """
    x, was_np = to_torch(uv, "uv")
    _check_points(x, 2, "normalize_screen_coordinates(uv)")
    w, h = _as_like(w, x), _as_like(h, x)
    out = torch.stack([x[..., 0] / w * 2 - 1, x[..., 1] / w * 2 - h / w], dim=-1)
    return from_torch(out, was_np)


def unnormalize_screen_coordinates(uv_n, w, h):
    """Inverse of :func:`normalize_screen_coordinates`: ``u = (u' + 1)·w/2``, ``v = (v' + h/w)·w/2``."""
    x, was_np = to_torch(uv_n, "uv_n")
    _check_points(x, 2, "unnormalize_screen_coordinates(uv_n)")
    w, h = _as_like(w, x), _as_like(h, x)
    out = torch.stack([(x[..., 0] + 1) * w / 2, (x[..., 1] + h / w) * w / 2], dim=-1)
    return from_torch(out, was_np)


def _as_like(v, like: torch.Tensor) -> torch.Tensor:
    if isinstance(v, torch.Tensor):
        return v.to(dtype=like.dtype, device=like.device)
    return torch.as_tensor(np.asarray(v, dtype=np.float64), dtype=like.dtype, device=like.device)


def _check_points(x: torch.Tensor, dim: int, what: str) -> None:
    if x.dim() < 1 or x.shape[-1] != dim:
        raise ValueError(f"{what}: expected shape (..., {dim}), got {tuple(x.shape)}")


# ---------------------------------------------------------------------------------------------------------------
# distortion models (pure functions of normalised coordinates)


def _distort(xy: torch.Tensor, dist: torch.Tensor, model: str) -> torch.Tensor:
    """xy (..., J, 2) normalised; dist (..., 5) = [k1, k2, k3, p1, p2] broadcastable to xy[..., 0, :]."""
    x, y = xy[..., 0], xy[..., 1]
    k1, k2, k3, p1, p2 = (dist[..., i, None] for i in range(5))  # (..., 1): broadcast over joints
    r2 = x * x + y * y
    radial = 1 + r2 * (k1 + r2 * (k2 + r2 * k3))
    if model == "h36m":
        xd = x * radial + p1 * x * y + p2 * (r2 + x * x)
        yd = y * radial + p1 * (r2 + y * y) + p2 * x * y
    elif model == "videopose3d":
        tan = p1 * x + p2 * y
        xd = x * (radial + tan) + p1 * r2
        yd = y * (radial + tan) + p2 * r2
    else:  # opencv
        xd = x * radial + 2 * p1 * x * y + p2 * (r2 + 2 * x * x)
        yd = y * radial + p1 * (r2 + 2 * y * y) + 2 * p2 * x * y
    return torch.stack([xd, yd], dim=-1)


# Index (into [k1,k2,k3,p1,p2]) of the tangential coefficient that multiplies the x-odd terms; mirroring x -> -x
# is the same as negating it (see Camera.flipped).
_MIRROR_COEFF = {"h36m": 4, "opencv": 4, "videopose3d": 3}


# ---------------------------------------------------------------------------------------------------------------
# Camera


class Camera:
    """Batched pinhole camera ``x_cam = R X + t`` (metres), intrinsics ``K`` (pixels), distortion ``dist``.

    Args:
        R: ``(..., 3, 3)`` world->camera rotation.
        t: ``(..., 3)`` world->camera translation in METRES (``-R @ centre``).
        K: ``(..., 3, 3)`` intrinsics, last row ``[0, 0, 1]``.
        dist: ``(..., 5)`` = [k1, k2, k3, p1, p2] (None: no distortion).
        image_size: ``(w, h)`` pixels, or ``(..., 2)`` per camera; needed by the screen normalisation and flips.
        name: free label (a camera id, or a tuple of ids for a stacked batch).
        distortion_model: ``"h36m"`` (default), ``"videopose3d"`` or ``"opencv"``; see the module docstring.
        device: optional device for the stored tensors.

    numpy/torch inputs are stored as torch tensors of their common floating dtype (float64 from numpy float64).
    """

    def __init__(
        self,
        R,
        t,
        K,
        dist=None,
        image_size=None,
        name: Any = None,
        distortion_model: str = "h36m",
        device: Optional[Union[str, torch.device]] = None,
    ):
        if distortion_model not in DISTORTION_MODELS:
            raise ValueError(f"Camera: distortion_model must be one of {DISTORTION_MODELS}, got {distortion_model!r}")
        R, _ = to_torch(R, "R")
        t, _ = to_torch(t, "t")
        K, _ = to_torch(K, "K")
        dist = torch.zeros(5, dtype=R.dtype) if dist is None else to_torch(dist, "dist")[0]
        if R.dim() < 2 or R.shape[-2:] != (3, 3):
            raise ValueError(f"Camera: R must have shape (..., 3, 3), got {tuple(R.shape)}")
        if t.dim() < 1 or t.shape[-1] != 3:
            hint = " (squeeze a (3, 1) column vector)" if t.shape[-2:] == (3, 1) else ""
            raise ValueError(f"Camera: t must have shape (..., 3), got {tuple(t.shape)}{hint}")
        if K.dim() < 2 or K.shape[-2:] != (3, 3):
            raise ValueError(f"Camera: K must have shape (..., 3, 3), got {tuple(K.shape)}")
        if dist.dim() < 1 or dist.shape[-1] != 5:
            raise ValueError(f"Camera: dist must have shape (..., 5) = [k1, k2, k3, p1, p2], got {tuple(dist.shape)}")
        size = None
        if image_size is not None:
            size, _ = to_torch(image_size, "image_size")
            if size.dim() < 1 or size.shape[-1] != 2:
                raise ValueError(f"Camera: image_size must be (w, h) or shape (..., 2), got {tuple(size.shape)}")
        dtype = R.dtype  # image_size (often a tuple of ints) does not take part in choosing the dtype
        for x in (t, K, dist):
            dtype = torch.promote_types(dtype, x.dtype)
        device = torch.device(device) if device is not None else R.device
        try:
            batch = torch.broadcast_shapes(
                R.shape[:-2],
                t.shape[:-1],
                K.shape[:-2],
                dist.shape[:-1],
                *([size.shape[:-1]] if size is not None else []),
            )
        except RuntimeError:
            raise ValueError(
                f"Camera: batch shapes do not broadcast: R {tuple(R.shape)}, t {tuple(t.shape)}, K {tuple(K.shape)}, "
                f"dist {tuple(dist.shape)}" + (f", image_size {tuple(size.shape)}" if size is not None else "")
            ) from None
        conv = lambda x, tail: x.to(dtype=dtype, device=device).expand(batch + tail).contiguous()  # noqa: E731
        self.R = conv(R, (3, 3))
        self.t = conv(t, (3,))
        self.K = conv(K, (3, 3))
        self.dist = conv(dist, (5,))
        self.image_size = conv(size, (2,)) if size is not None else None
        self.name = name
        self.distortion_model = distortion_model

    # -- basic properties -------------------------------------------------------------------------------------
    @property
    def batch_shape(self) -> torch.Size:
        return self.R.shape[:-2]

    @property
    def dtype(self) -> torch.dtype:
        return self.R.dtype

    @property
    def device(self) -> torch.device:
        return self.R.device

    @property
    def center(self) -> torch.Tensor:
        """``(..., 3)`` camera centre in world coordinates (metres): ``-Rᵀ t``."""
        return -(self.R.mT @ self.t[..., None])[..., 0]

    @property
    def focal(self) -> torch.Tensor:
        """``(..., 2)`` = (fx, fy) pixels."""
        return torch.stack([self.K[..., 0, 0], self.K[..., 1, 1]], dim=-1)

    @property
    def principal_point(self) -> torch.Tensor:
        """``(..., 2)`` = (cx, cy) pixels."""
        return self.K[..., :2, 2]

    def __len__(self) -> int:
        if not self.batch_shape:
            raise TypeError("len() of an unbatched Camera")
        return self.batch_shape[0]

    def __repr__(self) -> str:
        return (
            f"Camera(name={self.name!r}, batch_shape={tuple(self.batch_shape)}, dtype={self.dtype}, "
            f"device={self.device}, distortion_model={self.distortion_model!r})"
        )

    def replace(self, **changes) -> "Camera":
        """A copy with some of R, t, K, dist, image_size, name, distortion_model replaced."""
        kw = dict(
            R=self.R,
            t=self.t,
            K=self.K,
            dist=self.dist,
            image_size=self.image_size,
            name=self.name,
            distortion_model=self.distortion_model,
        )
        unknown = set(changes) - set(kw)
        if unknown:
            raise TypeError(f"Camera.replace: unknown fields {sorted(unknown)}; fields are {sorted(kw)}")
        kw.update(changes)
        return Camera(**kw)

    def to(self, device=None, dtype=None) -> "Camera":
        cam = self.replace()
        for attr in ("R", "t", "K", "dist", "image_size"):
            v = getattr(cam, attr)
            if v is not None:
                setattr(
                    cam,
                    attr,
                    v.to(
                        device=device if device is not None else v.device, dtype=dtype if dtype is not None else v.dtype
                    ),
                )
        return cam

    def __getitem__(self, index) -> "Camera":
        """Index the batch dimensions like a tensor (``cams[0]``, ``cams[1:3]``, ``cams[[0, 2]]``)."""
        if not self.batch_shape:
            raise IndexError("cannot index an unbatched Camera")
        name = self.name
        if isinstance(name, (tuple, list)) and len(self.batch_shape) == 1:
            name = np.asarray(name, dtype=object)[index]
            name = tuple(name) if isinstance(name, np.ndarray) else name
        return Camera(
            self.R[index],
            self.t[index],
            self.K[index],
            self.dist[index],
            None if self.image_size is None else self.image_size[index],
            name,
            self.distortion_model,
        )

    index = __getitem__

    @staticmethod
    def stack(cameras: Sequence["Camera"], dim: int = 0) -> "Camera":
        """Stack cameras of equal batch shape into one batch (names become a tuple)."""
        cameras = list(cameras)
        if not cameras:
            raise ValueError("Camera.stack: no cameras given")
        models = {c.distortion_model for c in cameras}
        if len(models) != 1:
            raise ValueError(f"Camera.stack: cameras use different distortion models {sorted(models)}")
        sizes = [c.image_size for c in cameras]
        if any(s is None for s in sizes) and not all(s is None for s in sizes):
            raise ValueError("Camera.stack: some cameras have an image_size and some do not")
        shapes = {tuple(c.batch_shape) for c in cameras}
        if len(shapes) != 1:
            raise ValueError(f"Camera.stack: cameras have different batch shapes {sorted(shapes)}")
        st = lambda attr: torch.stack([getattr(c, attr).to(cameras[0].dtype) for c in cameras], dim=dim)  # noqa
        return Camera(
            st("R"),
            st("t"),
            st("K"),
            st("dist"),
            None if sizes[0] is None else st("image_size"),
            tuple(c.name for c in cameras),
            cameras[0].distortion_model,
        )

    # -- helpers ----------------------------------------------------------------------------------------------
    def _points(self, x, dim: int, what: str) -> Tuple[torch.Tensor, bool]:
        p, was_np = to_torch(x, what)
        if p.dim() < 2 or p.shape[-1] != dim:
            raise ValueError(f"Camera.{what}: expected points of shape (..., J, {dim}), got {tuple(p.shape)}")
        return p, was_np

    def _param(self, attr: str, like: torch.Tensor) -> torch.Tensor:
        v = getattr(self, attr)
        return v.to(dtype=like.dtype, device=like.device)

    def _size(self, like: torch.Tensor, what: str) -> Tuple[torch.Tensor, torch.Tensor]:
        if self.image_size is None:
            raise ValueError(f"Camera.{what}: this camera has no image_size; pass image_size=(w, h) when building it")
        s = self._param("image_size", like)
        return s[..., 0, None], s[..., 1, None]  # (..., 1): broadcast over joints

    # -- frames -----------------------------------------------------------------------------------------------
    def world_to_camera(self, X):
        """``(..., J, 3)`` world metres -> camera-frame metres, ``R X + t``."""
        p, was_np = self._points(X, 3, "world_to_camera")
        out = p @ self._param("R", p).mT + self._param("t", p)[..., None, :]
        return from_torch(out, was_np)

    def camera_to_world(self, Xc):
        """``(..., J, 3)`` camera-frame metres -> world metres, ``Rᵀ (Xc - t)``."""
        p, was_np = self._points(Xc, 3, "camera_to_world")
        out = (p - self._param("t", p)[..., None, :]) @ self._param("R", p)
        return from_torch(out, was_np)

    # -- distortion -------------------------------------------------------------------------------------------
    def distort(self, xy):
        """``(..., J, 2)`` undistorted normalised coordinates (X/Z, Y/Z) -> distorted normalised coordinates."""
        p, was_np = self._points(xy, 2, "distort")
        return from_torch(_distort(p, self._param("dist", p), self.distortion_model), was_np)

    def undistort(self, xy_distorted, iterations: int = 20):
        """Inverse of :meth:`distort` by fixed-point iteration (as OpenCV's ``undistortPoints``).

        ``x <- (x_d - tangential(x)) / radial(x)``; converges to ~1e-12 within 20 iterations for the mild
        distortion of H36M-like lenses (|k1 r²| << 1) over the image.
        """
        p, was_np = self._points(xy_distorted, 2, "undistort")
        dist = self._param("dist", p)
        zero_k = dist.clone()
        zero_k[..., :3] = 0  # with k = 0, _distort returns xy + tangential(xy)
        k1, k2, k3 = (dist[..., i, None, None] for i in range(3))  # (..., 1, 1): broadcast over (J, 2)
        x = p
        for _ in range(iterations):
            r2 = (x * x).sum(-1, keepdim=True)
            radial = 1 + r2 * (k1 + r2 * (k2 + r2 * k3))
            tangential = _distort(x, zero_k, self.distortion_model) - x
            x = (p - tangential) / radial
        return from_torch(x, was_np)

    # -- projection -------------------------------------------------------------------------------------------
    def project_camera(self, Xc):
        """``(..., J, 3)`` camera-frame metres -> ``(..., J, 2)`` pixels: divide by z, distort, apply K.

        No clipping: points behind the camera (z <= 0) give meaningless pixels.
        """
        p, was_np = self._points(Xc, 3, "project_camera")
        xy = p[..., :2] / p[..., 2:3]
        xy = _distort(xy, self._param("dist", p), self.distortion_model)
        K = self._param("K", p)
        uv = xy @ K[..., :2, :2].mT + K[..., None, :2, 2]
        return from_torch(uv, was_np)

    def project(self, X_world):
        """``(..., J, 3)`` world metres -> ``(..., J, 2)`` pixels."""
        p, was_np = self._points(X_world, 3, "project")
        return from_torch(self.project_camera(self.world_to_camera(p)), was_np)

    def pixels_to_normalized(self, uv, undistort: bool = True):
        """``(..., J, 2)`` pixels -> normalised camera coordinates (X/Z, Y/Z); undistorted unless told not to."""
        p, was_np = self._points(uv, 2, "pixels_to_normalized")
        K = self._param("K", p)
        fx, fy, s = K[..., 0, 0, None], K[..., 1, 1, None], K[..., 0, 1, None]
        cx, cy = K[..., 0, 2, None], K[..., 1, 2, None]
        y = (p[..., 1] - cy) / fy
        x = (p[..., 0] - cx - s * y) / fx
        xy = torch.stack([x, y], dim=-1)
        if undistort:
            xy = self.undistort(xy)
        return from_torch(xy, was_np)

    def backproject(self, uv, depth):
        """Pixels ``(..., J, 2)`` and camera-frame depths z ``(..., J)`` -> camera-frame points ``(..., J, 3)``."""
        p, was_np = self._points(uv, 2, "backproject")
        z, _ = to_torch(depth, "depth")
        z = z.to(dtype=p.dtype, device=p.device)
        if z.shape != p.shape[:-1]:
            try:
                z = z.expand(p.shape[:-1])
            except RuntimeError:
                raise ValueError(
                    f"Camera.backproject: depth shape {tuple(z.shape)} does not match uv "
                    f"{tuple(p.shape)} (expected (..., J))"
                ) from None
        xy = self.pixels_to_normalized(p)
        return from_torch(torch.cat([xy * z[..., None], z[..., None]], dim=-1), was_np)

    # -- screen normalisation ---------------------------------------------------------------------------------
    def normalize_screen(self, uv):
        """Pixels -> ``u' = u/w·2 - 1``, ``v' = v/w·2 - h/w`` with this camera's (w, h) (Pavllo et al. 2019)."""
        p, was_np = self._points(uv, 2, "normalize_screen")
        w, h = self._size(p, "normalize_screen")
        return from_torch(normalize_screen_coordinates(p, w, h), was_np)

    def unnormalize_screen(self, uv_n):
        """Inverse of :meth:`normalize_screen`."""
        p, was_np = self._points(uv_n, 2, "unnormalize_screen")
        w, h = self._size(p, "unnormalize_screen")
        return from_torch(unnormalize_screen_coordinates(p, w, h), was_np)

    # -- mirroring --------------------------------------------------------------------------------------------
    def flipped(self) -> "Camera":
        """The horizontally mirrored camera: ``cx -> w - cx``, skew ``s -> -s``, the x-odd tangential coefficient
        negated (p2 for "h36m"/"opencv", p1 for "videopose3d"); R and t unchanged.

        For camera-frame points ``Xc`` and ``M = diag(-1, 1, 1)``:
        ``flipped().project_camera(M Xc) == (w - u, v)`` where ``(u, v) = project_camera(Xc)``. Mirroring a skeleton
        also swaps left/right joints (``weakpose.skeleton.flip_joints(Xc, order, axis=0)``): the camera handles
        each point and does not care about joint names. For world points use :meth:`mirror_world`.
        """
        if self.image_size is None:
            raise ValueError("Camera.flipped: this camera has no image_size; the mirror needs the image width")
        K = self.K.clone()
        K[..., 0, 2] = self.image_size[..., 0] - self.K[..., 0, 2]
        K[..., 0, 1] = -self.K[..., 0, 1]
        dist = self.dist.clone()
        i = _MIRROR_COEFF[self.distortion_model]
        dist[..., i] = -self.dist[..., i]
        return self.replace(K=K, dist=dist)

    def mirror_world(self, X):
        """Reflect world points ``(..., J, 3)`` in this camera's y-z plane (through its centre), i.e. negate their
        camera-frame x: ``flipped().project(mirror_world(X)) == (w - u, v)``. Joints keep their labels."""
        p, was_np = self._points(X, 3, "mirror_world")
        xc = self.world_to_camera(p)
        xc = torch.cat([-xc[..., :1], xc[..., 1:]], dim=-1)
        return from_torch(self.camera_to_world(xc), was_np)


def scale_intrinsics(K: torch.Tensor, factor: float) -> torch.Tensor:
    """``K`` of a crop resampled by ``factor`` (new size / old size): focal lengths and principal point scale
    (pixel (x, y) covers [x, x+1) × [y, y+1), so continuous image coordinates simply scale)."""
    K = K.clone()
    K[..., :2, :] *= factor
    return K


# ---------------------------------------------------------------------------------------------------------------
# the screen-normalised intrinsics vector of the lifters (VideoPose3D's camera input)


def screen_intrinsics(K, dist, w, h):
    """Pixel intrinsics ``K`` (..., 3, 3) and ``dist`` (..., 5) = [k1, k2, k3, p1, p2] of a ``w`` x ``h`` image ->
    ``(..., 9)`` = [fx, fy, cx, cy, k1, k2, k3, p1, p2] in normalised screen units: ``f·2/w`` and the principal
    point normalised like a pixel (:func:`normalize_screen_coordinates`). What :func:`reproject` takes."""
    K_t, was_np = to_torch(K, "K")
    d = to_torch(dist, "dist")[0].to(K_t)
    f = torch.stack([K_t[..., 0, 0], K_t[..., 1, 1]], -1) / w * 2.0
    c = normalize_screen_coordinates(torch.stack([K_t[..., 0, 2], K_t[..., 1, 2]], -1), w, h)
    return from_torch(torch.cat([f, c, d], -1), was_np)


def flip_screen_intrinsics(intrinsics, distortion_model: str = "h36m"):
    """The screen intrinsics ``(..., 9)`` of the horizontally mirrored camera (:meth:`Camera.flipped` in normalised
    units): ``cx -> -cx`` (``w - cx`` in pixels) and the x-odd tangential coefficient negated."""
    k, was_np = to_torch(intrinsics, "intrinsics")
    out = k.clone()
    out[..., 2] = -k[..., 2]
    i = 4 + _MIRROR_COEFF[distortion_model]
    out[..., i] = -k[..., i]
    return from_torch(out, was_np)


def _root_like(pose: torch.Tensor, root: torch.Tensor) -> torch.Tensor:
    """Root ``(..., 3)`` or ``(..., 1, 3)`` -> ``(..., 1, 3)`` matching ``pose (..., J, 3)``."""
    if root.shape[-1] != 3:
        raise ValueError(f"reproject: root must have shape (..., 3) or (..., 1, 3); got {tuple(root.shape)}")
    if root.dim() == pose.dim() - 1:
        root = root.unsqueeze(-2)
    elif not (root.dim() == pose.dim() and root.shape[-2] == 1):
        raise ValueError(
            f"reproject: root shape {tuple(root.shape)} does not fit pose shape {tuple(pose.shape)} "
            f"(expected (..., 3) or (..., 1, 3) with the pose's leading dimensions)"
        )
    return root


def reproject(pose_rel, root, intrinsics, distortion_model: str = "h36m"):
    """Project root-relative poses plus their root through normalised intrinsics to normalised screen coordinates.

    Args:
        pose_rel: ``(..., J, 3)`` root-relative camera-frame metres (a ``TemporalLifter`` output).
        root: ``(..., 3)`` or ``(..., 1, 3)`` camera-frame root position, metres (a ``TrajectoryModel`` output).
        intrinsics: ``(..., 9)`` = [fx, fy, cx, cy, k1, k2, k3, p1, p2] as ``weakpose.data.datasets.poses`` gives
            them (:func:`screen_intrinsics`):
            ``f = f_px·2/w``, ``c`` = the principal point normalised like a pixel (``c_px/w·2 - 1``,
            ``c_px/w·2 - h/w``), distortion in weakpose's order. Its leading dims are the FIRST leading dims of
            ``pose_rel`` (``(B, 9)`` for poses ``(B, T, J, 3)``: one camera per sequence) or broadcast against them.
        distortion_model: as :class:`weakpose.geometry.Camera` (``"h36m"``, the datasets' cameras' default).

    Returns ``(..., J, 2)`` in the normalised screen coordinates of the 2D inputs; equals
    ``cam.normalize_screen(cam.project_camera(pose_rel + root))`` for a skew-free camera (no clipping: points at or
    behind the camera give meaningless values). This is VideoPose3D's weak supervision for unlabelled video.
    numpy or torch; returns the type of ``pose_rel``; differentiable in torch.
    """
    if distortion_model not in DISTORTION_MODELS:
        raise ValueError(f"reproject: distortion_model must be one of {DISTORTION_MODELS}; got {distortion_model!r}")
    pose, was_np = to_torch(pose_rel, "pose_rel")
    if pose.dim() < 2 or pose.shape[-1] != 3:
        raise ValueError(f"reproject: pose_rel must have shape (..., J, 3); got {tuple(pose.shape)}")
    r = _root_like(pose, to_torch(root, "root")[0].to(pose))
    k = to_torch(intrinsics, "intrinsics")[0].to(pose)
    lead = pose.dim() - 2  # the pose's dimensions in front of (J, 3)
    if k.dim() < 1 or k.shape[-1] != 9 or k.dim() - 1 > lead:
        raise ValueError(
            f"reproject: intrinsics must have shape (..., 9) = [fx, fy, cx, cy, k1, k2, k3, p1, p2] "
            f"with at most the {lead} leading dims of pose_rel {tuple(pose.shape)}; got {tuple(k.shape)}"
        )
    # (B, 9) for poses (B, T, J, 3): one camera per sequence, as VideoPose3D passes them
    k = k.reshape(k.shape[:-1] + (1,) * (lead - (k.dim() - 1)) + (9,))
    X = pose + r
    xy = _distort(X[..., :2] / X[..., 2:3], k[..., 4:9], distortion_model)
    uv = xy * k[..., None, 0:2] + k[..., None, 2:4]
    return from_torch(uv, was_np)
