"""Hard z-buffer rasteriser for data generation: nearest face per pixel, depth, barycentrics, mask and
vertex-colour images, with no gradients.

A pixel is covered by a face when its centre ``(x + 0.5, y + 0.5)`` lies inside or ON the face's edges (either
winding); among the faces covering it, the one with the smallest camera-frame depth at the pixel centre wins (ties
go to the lower face index, so results are deterministic). Depth is perspective-correct: ``1/z`` is interpolated
linearly in screen space, which is exact for a planar face seen through a pinhole (distortion is applied to the
vertices only, see :mod:`weakpose.render.culling`). Faces with a corner at ``z <= near`` and faces of zero pixel
area are skipped. Pixel convention as in :mod:`weakpose.render.culling` (v grows downward, no row flip).

Only the pixels inside each face's own pixel box are tested, in chunks of ``max_pairs``, so the cost grows with
the covered area, not with faces x pixels.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Optional, Sequence

import numpy as np
import torch

from ..geometry.camera import Camera
from .culling import as_faces, as_vertex_colors, as_vertices, iter_pairs, local_corners, project_faces, screen_faces
from .rasterize import _face_table, _gather, image_size_of

__all__ = ["Fragments", "HardRasterizer"]


@dataclass
class Fragments:
    """What a hard rasterisation sees at each pixel (background where ``mask`` is False).

    face_index: ``(B, H, W)`` int64 index into the mesh's faces, -1 on background.
    depth: ``(B, H, W)`` camera-frame z in metres, 0 on background.
    bary: ``(B, H, W, 3)`` perspective-correct barycentric weights of the face's 3 corners, 0 on background.
    mask: ``(B, H, W)`` bool, True where a face covers the pixel centre.
    rgb: ``(B, H, W, 3)`` interpolated vertex colours over the background colour, or None without colours.

    numpy arrays if the vertices were numpy, else torch tensors; no batch dimension for ``(V, 3)`` vertices.
    """

    face_index: object
    depth: object
    bary: object
    mask: object
    rgb: object = None


class HardRasterizer:
    """Non-differentiable z-buffer renderer (fast, exact coverage) with the same camera and pixel conventions
    as :class:`~weakpose.render.SoftRasterizer`.

    Args:
        image_size: ``(w, h)`` pixels; None takes the cameras' ``image_size``.
        near: metres; faces with a corner at ``z <= near`` are skipped.
        background: RGB of uncovered pixels in :attr:`Fragments.rgb`.
        max_pairs: (face, pixel) pairs tested at once (bounds peak memory).
    """

    def __init__(
        self,
        image_size: Optional[Sequence[int]] = None,
        near: float = 0.1,
        background: Sequence[float] = (0.0, 0.0, 0.0),
        max_pairs: int = 1 << 16,
    ):
        if not near > 0:
            raise ValueError(f"near must be positive, got {near}")
        self.image_size = None if image_size is None else tuple(int(x) for x in image_size)
        self.near = float(near)
        self.background = tuple(float(c) for c in background)
        if len(self.background) != 3:
            raise ValueError(f"background: expected an RGB triple, got {background!r}")
        self.max_pairs = int(max_pairs)

    def __repr__(self) -> str:
        return f"HardRasterizer(image_size={self.image_size}, near={self.near})"

    def silhouette(self, vertices, faces, camera: Camera):
        """Binary silhouettes ``(B, H, W)`` as floats (1 covered, 0 background)."""
        frags = self.render(vertices, faces, camera)
        m = frags.mask
        return m.astype(np.float32) if isinstance(m, np.ndarray) else m.to(torch.get_default_dtype())

    @torch.no_grad()
    def render(self, vertices, faces, camera: Camera, vertex_colors=None) -> Fragments:
        """Rasterise meshes ``vertices (B, V, 3)`` (world metres; ``(V, 3)`` for one) with ``faces (F, 3)`` or
        ``(B, F, 3)`` through ``camera`` (unbatched or batch B). ``vertex_colors`` ``(V, 3)`` / ``(B, V, 3)``
        fills :attr:`Fragments.rgb`."""
        if not isinstance(camera, Camera):
            raise TypeError(f"camera: expected a weakpose.geometry.Camera, got {type(camera).__name__}")
        v, was_np, unbatched = as_vertices(vertices)
        B, V = v.shape[:2]
        f_all = as_faces(faces, V, B, v.device)
        F_ = f_all.shape[1]
        w, h = image_size_of(self.image_size, camera)
        tri_uv, tri_z = project_faces(v, f_all, camera)
        sf = screen_faces(tri_uv, tri_z, w, h, reach=0.0, near=self.near, min_area=0.0)
        npix = B * h * w
        best_z = torch.full((npix,), float("inf"), dtype=v.dtype, device=v.device)
        best_f = torch.full((npix,), -1, dtype=torch.long, device=v.device)
        table = _face_table(local_corners(sf))
        inv_z = 1.0 / sf.z  # (N, 3)
        for f, pix, px, py in iter_pairs(sf, w, h, self.max_pairs):
            lam = _barycentrics(table, f, px, py)
            covered = (lam >= 0).all(0).nonzero()[:, 0]  # on an edge counts as covered
            f, pix, lam = f.index_select(0, covered), pix.index_select(0, covered), lam.index_select(1, covered)
            z = 1.0 / (lam * inv_z.index_select(0, f).T).sum(0)
            _zbuffer_update(best_z, best_f, pix, z, f)
        hit = (best_f >= 0).nonzero()[:, 0]
        fi = best_f.index_select(0, hit)
        in_image = hit % (w * h)
        row = torch.div(in_image, w, rounding_mode="floor")
        col = in_image - row * w
        px = (col - sf.x0.index_select(0, fi)).to(v.dtype) + 0.5
        py = (row - sf.y0.index_select(0, fi)).to(v.dtype) + 0.5
        lam = _barycentrics(table, fi, px, py).clamp_(min=0.0)
        persp = lam * inv_z.index_select(0, fi).T
        persp = (persp / persp.sum(0, keepdim=True)).T  # (n, 3) perspective-correct weights

        face_index = torch.full((npix,), -1, dtype=torch.long, device=v.device)
        face_index[hit] = sf.index.index_select(0, fi) % F_
        depth = torch.zeros(npix, dtype=v.dtype, device=v.device)
        depth[hit] = best_z[hit]
        bary = torch.zeros(npix, 3, dtype=v.dtype, device=v.device)
        bary[hit] = persp
        mask = best_f >= 0
        rgb = None
        if vertex_colors is not None:
            cols = as_vertex_colors(vertex_colors, v)
            corner_ids = f_all.reshape(B * F_, 3).index_select(0, sf.index.index_select(0, fi))  # (n, 3)
            batch = sf.batch.index_select(0, fi)
            corner_cols = cols[batch[:, None], corner_ids]  # (n, 3 corners, 3 channels)
            rgb = torch.tensor(self.background, dtype=v.dtype, device=v.device).repeat(npix, 1)
            rgb[hit] = (persp[..., None] * corner_cols).sum(1)
            rgb = rgb.view(B, h, w, 3)
        out = Fragments(face_index.view(B, h, w), depth.view(B, h, w), bary.view(B, h, w, 3), mask.view(B, h, w), rgb)
        for fld in fields(out):
            x = getattr(out, fld.name)
            if x is not None:
                x = x[0] if unbatched else x
                setattr(out, fld.name, x.cpu().numpy() if was_np else x)
        return out


def _barycentrics(table: torch.Tensor, f: torch.Tensor, px: torch.Tensor, py: torch.Tensor) -> torch.Tensor:
    """Screen-space barycentrics ``(3, P)`` of pixel centres (box-local ``px``, ``py``) in faces ``f``: the weight
    of corner k is the signed area of the triangle (pixel, other two corners) over the face's signed area, so it
    is winding-independent and all three are >= 0 exactly when the centre is inside or on an edge."""
    vx, vy, ex, ey, _ = _gather(table, f).unbind(0)
    cross = torch.addcmul(ex * (py - vy), ey, px - vx, value=-1.0)  # cross_k: edge k x (pixel - corner k)
    area2 = cross.sum(0, keepdim=True)  # the three sub-areas sum to the face's area
    return cross.roll(-1, dims=0) / area2  # corner k is opposite edge k+1


def _zbuffer_update(best_z, best_f, pix, z, f) -> None:
    """Keep, per pixel, the nearest candidate; among equal depths the lowest face index. Chunks arrive in
    increasing face order, so a later chunk only wins with a strictly smaller depth."""
    new_z = best_z.clone()
    new_z.scatter_reduce_(0, pix, z, reduce="amin", include_self=True)
    win = ((z == new_z.index_select(0, pix)) & (z < best_z.index_select(0, pix))).nonzero()[:, 0]
    if win.numel():
        wp = pix.index_select(0, win)
        cand = torch.full_like(best_f, torch.iinfo(torch.long).max)
        cand.scatter_reduce_(0, wp, f.index_select(0, win), reduce="amin", include_self=True)
        changed = cand < torch.iinfo(torch.long).max
        best_f[changed] = cand[changed]
    best_z.copy_(new_z)
