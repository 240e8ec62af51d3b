"""Mesh rendering: a differentiable SoftRas silhouette/colour rasteriser in pure PyTorch, a fast hard z-buffer for
data generation, and an optional neural_renderer backend, all on :class:`weakpose.geometry.Camera` (with lens
distortion) and pixel coordinates (pixel (x, y) sampled at (x + 0.5, y + 0.5), v grows downward, no flips).

    from weakpose.render import SoftRasterizer, HardRasterizer
    soft = SoftRasterizer(image_size=(128, 128), sigma=0.1)      # sigma in px²
    sil = soft.silhouette(vertices, faces, camera)                # (B, H, W), differentiable
    frags = HardRasterizer((128, 128)).render(vertices, faces, camera, vertex_colors)

Liu et al. 2019 (SoftRas) for the soft rasteriser; Kato et al. 2018 for neural_renderer.
"""

from .backends import RENDERER_BACKENDS, NeuralRendererBackend, get_renderer
from .culling import project_faces
from .primitives import body_mesh, front_camera, uv_sphere
from .rasterize import SoftRasterizer, soft_silhouette
from .zbuffer import Fragments, HardRasterizer

__all__ = [
    "SoftRasterizer",
    "soft_silhouette",
    "HardRasterizer",
    "Fragments",
    "get_renderer",
    "NeuralRendererBackend",
    "RENDERER_BACKENDS",
    "project_faces",
    "body_mesh",
    "front_camera",
    "uv_sphere",
]
