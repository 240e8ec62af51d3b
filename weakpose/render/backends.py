"""Renderer selection, and an optional backend on Kato et al.'s Neural 3D Mesh Renderer (CVPR 2018).

``get_renderer("soft")`` is the pure-PyTorch :class:`~weakpose.render.SoftRasterizer` (CPU or GPU);
``get_renderer("hard")`` the non-differentiable :class:`~weakpose.render.HardRasterizer`;
``get_renderer("neural_renderer")`` wraps the ``neural_renderer`` package (PyTorch port,
``pip install neural_renderer_pytorch``, CUDA only) behind the same ``silhouette`` / ``rgb`` interface.

The neural_renderer backend is NOT exercised by weakpose's tests: the package compiles CUDA kernels at install time
and does not build on the CPU-only machines the tests run on. It reuses weakpose's projection (so distortion and the
pixel convention are the same) and hands neural_renderer faces in its screen coordinates: for a square raster of
``S = max(w, h)`` pixels, ``x = 2u/S - 1`` and ``y = 2v/S - 1`` (its ``rasterize_*`` functions return images whose
row r samples y = (2r + 1 - S)/S after their own vertical flip, so rows grow with v as ours do), depth = camera z;
the ``S x S`` result is cropped to ``h x w``. Its rasteriser draws one side of a face only, so every face is also
given with the opposite winding (as its own ``fill_back`` option does). Its images are hard (with 2x supersampled
anti-aliasing) and its gradients are Kato et al.'s approximation, not SoftRas's.
"""

from __future__ import annotations

from typing import Optional, Sequence

import torch

from ..geometry.camera import Camera
from .culling import as_faces, as_vertex_colors, as_vertices, project_faces
from .rasterize import SoftRasterizer, _background, _output, image_size_of
from .zbuffer import HardRasterizer

__all__ = ["get_renderer", "NeuralRendererBackend", "RENDERER_BACKENDS"]

RENDERER_BACKENDS = ("soft", "hard", "neural_renderer")


def get_renderer(backend: str = "soft", **kwargs):
    """A renderer by name: ``"soft"`` (SoftRasterizer), ``"hard"`` (HardRasterizer) or ``"neural_renderer"``
    (NeuralRendererBackend); ``kwargs`` go to its constructor."""
    if backend == "soft":
        return SoftRasterizer(**kwargs)
    if backend == "hard":
        return HardRasterizer(**kwargs)
    if backend in ("neural_renderer", "nr"):
        return NeuralRendererBackend(**kwargs)
    raise ValueError(f"unknown renderer backend {backend!r}; choose one of {RENDERER_BACKENDS}")


def _import_neural_renderer():
    try:
        import neural_renderer  # noqa: F401 - optional, CUDA-only dependency
    except ImportError as exc:
        raise ImportError(
            "the 'neural_renderer' backend needs the neural_renderer package (a CUDA build): "
            "pip install neural_renderer_pytorch  (on a machine with a CUDA toolkit), "
            "or use get_renderer('soft'), which runs anywhere"
        ) from exc
    return neural_renderer


class NeuralRendererBackend:
    """``silhouette`` / ``rgb`` like :class:`~weakpose.render.SoftRasterizer`, drawn by neural_renderer (GPU).

    Args:
        image_size: ``(w, h)``; None takes the cameras' ``image_size``.
        near, far: metres (neural_renderer's clipping range).
        anti_aliasing: neural_renderer's 2x supersampling.
        eps: neural_renderer's rasteriser epsilon.
    """

    def __init__(
        self,
        image_size: Optional[Sequence[int]] = None,
        near: float = 0.1,
        far: float = 100.0,
        anti_aliasing: bool = True,
        eps: float = 1e-4,
    ):
        self.nr = _import_neural_renderer()
        self.image_size = None if image_size is None else tuple(int(x) for x in image_size)
        self.near, self.far, self.anti_aliasing, self.eps = float(near), float(far), bool(anti_aliasing), float(eps)

    def _faces_ndc(self, vertices, faces, camera: Camera):
        v, was_np, unbatched = as_vertices(vertices)
        f = as_faces(faces, v.shape[1], v.shape[0], v.device)
        w, h = image_size_of(self.image_size, camera)
        size = max(w, h)
        tri_uv, tri_z = project_faces(v, f, camera)
        ndc = torch.cat([tri_uv * (2.0 / size) - 1.0, tri_z[..., None]], dim=-1)  # (B, F, 3, 3)
        both = torch.cat([ndc, ndc.flip(2)], dim=1)  # both windings: neural_renderer culls back faces
        return both.float().contiguous(), f, v, w, h, size, was_np, unbatched

    def silhouette(self, vertices, faces, camera: Camera):
        """Silhouettes ``(B, H, W)`` in [0, 1] (anti-aliased hard masks)."""
        ndc, _, v, w, h, size, was_np, unbatched = self._faces_ndc(vertices, faces, camera)
        sil = self.nr.rasterize_silhouettes(ndc, size, self.anti_aliasing, self.near, self.far, self.eps)
        return _output(sil[:, :h, :w].to(v.dtype), was_np, unbatched)

    def rgb(self, vertices, faces, camera: Camera, vertex_colors, background=None, return_alpha: bool = False):
        """Vertex-coloured images ``(B, H, W, 3)`` (and silhouettes if ``return_alpha``). Colours are passed as
        2x2x2 textures holding the linear function of the barycentrics, whose trilinear lookup reproduces linear
        interpolation of the corner colours."""
        ndc, f, v, w, h, size, was_np, unbatched = self._faces_ndc(vertices, faces, camera)
        B, V = v.shape[:2]
        cols = as_vertex_colors(vertex_colors, v)
        corner = cols.gather(1, f.reshape(B, -1, 1).expand(-1, -1, 3)).reshape(B, -1, 3, 3)
        corner = torch.cat([corner, corner.flip(2)], dim=1)
        ijk = torch.stack(torch.meshgrid(*[torch.arange(2.0, device=v.device)] * 3, indexing="ij"), -1)  # (2,2,2,3)
        tex = torch.einsum("ijkc,bfcd->bfijkd", ijk.to(corner.dtype), corner).float().contiguous()
        out = self.nr.rasterize_rgbad(
            ndc,
            tex,
            size,
            self.anti_aliasing,
            self.near,
            self.far,
            self.eps,
            (0.0, 0.0, 0.0),
            return_rgb=True,
            return_alpha=True,
            return_depth=False,
        )
        alpha = out["alpha"][:, :h, :w].to(v.dtype)
        rgb = out["rgb"].permute(0, 2, 3, 1)[:, :h, :w].to(v.dtype)
        bg = _background(background, B, h, w, v)
        rgb = rgb + (1.0 - alpha[..., None]) * bg  # neural_renderer composites over black
        if return_alpha:
            return _output(rgb, was_np, unbatched), _output(alpha, was_np, unbatched)
        return _output(rgb, was_np, unbatched)
