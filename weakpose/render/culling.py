"""Screen-space culling shared by the soft and hard rasterisers: project faces, drop the unusable ones, and list
only the (face, pixel) pairs that can matter, in bounded-memory chunks.

Pixel convention (the same everywhere in :mod:`weakpose.render`): :meth:`Camera.project` gives continuous pixel
coordinates ``(u, v)``, ``u`` to the right, ``v`` DOWN; pixel ``(row y, column x)`` of an image ``[..., y, x]``
covers ``[x, x+1) x [y, y+1)`` and is sampled at its centre ``(x + 0.5, y + 0.5)``. So a point projected to
``(u, v)`` lands in pixel ``(row floor(v), column floor(u))``, with no row flip, and mirroring the image
(``img[..., ::-1]``) matches :meth:`Camera.flipped` (``u -> w - u``).

Why pairs rather than full images: a 13k-face body at 128x128 has most faces under 2 px wide; testing every face
against every pixel would be 13k x 16k = 2e8 evaluations per image, while each face's own pixel box (grown by
the reach of the soft rasteriser's sigmoid) holds only ~10-30 pixels. Pairs are enumerated per face box (exact,
no tile padding) with ``repeat_interleave``, and split into chunks of at most ``max_pairs`` so that memory
stays bounded at any resolution.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Optional, Tuple

import torch

from ..geometry.camera import Camera

__all__ = [
    "ScreenFaces",
    "project_faces",
    "screen_faces",
    "face_boxes",
    "iter_pairs",
    "chunk_bounds",
    "as_vertices",
    "as_faces",
    "as_vertex_colors",
    "local_corners",
    "twice_area",
]


def as_vertices(vertices, what: str = "vertices") -> Tuple[torch.Tensor, bool, bool]:
    """-> ``(vertices (B, V, 3) float tensor, was_numpy, was_unbatched)``; numpy or torch, (V, 3) or (B, V, 3)."""
    was_np = not isinstance(vertices, torch.Tensor)
    v = torch.as_tensor(vertices)
    if not v.is_floating_point():
        v = v.to(torch.get_default_dtype())
    if v.dim() == 2 and v.shape[-1] == 3:
        return v[None], was_np, True
    if v.dim() != 3 or v.shape[-1] != 3:
        raise ValueError(f"{what}: expected shape (B, V, 3) or (V, 3) in metres, got {tuple(v.shape)}")
    return v, was_np, False


def as_vertex_colors(vertex_colors, vertices: torch.Tensor) -> torch.Tensor:
    """-> ``(B, V, 3)`` colours in the vertices' dtype/device; a shared ``(V, 3)`` is expanded, not copied."""
    B, V = vertices.shape[:2]
    cols = torch.as_tensor(vertex_colors, device=vertices.device).to(vertices.dtype)
    if cols.dim() == 2:
        cols = cols[None].expand(B, -1, -1)
    if cols.shape != (B, V, 3):
        raise ValueError(f"vertex_colors: expected (V={V}, 3) or (B={B}, V, 3), got {tuple(cols.shape)}")
    return cols


def as_faces(faces, num_vertices: int, batch: int, device) -> torch.Tensor:
    """-> ``(B, F, 3)`` int64 (a shared ``(F, 3)`` is expanded, not copied); checks the index range."""
    f = torch.as_tensor(faces, device=device)
    if f.is_floating_point() or f.dtype == torch.bool:
        raise ValueError(f"faces: expected integer vertex indices, got dtype {f.dtype}")
    f = f.long()
    if f.dim() == 2 and f.shape[-1] == 3:
        f = f[None].expand(batch, -1, -1)
    elif f.dim() != 3 or f.shape[-1] != 3 or f.shape[0] != batch:
        raise ValueError(f"faces: expected shape (F, 3) or (B={batch}, F, 3), got {tuple(f.shape)}")
    if f.numel() and (int(f.min()) < 0 or int(f.max()) >= num_vertices):
        raise ValueError(
            f"faces: indices must lie in [0, {num_vertices}) for {num_vertices} vertices, "
            f"got range [{int(f.min())}, {int(f.max())}]"
        )
    return f


def project_faces(vertices: torch.Tensor, faces: torch.Tensor, camera: Camera) -> Tuple[torch.Tensor, torch.Tensor]:
    """World vertices ``(B, V, 3)`` + faces ``(B, F, 3)`` -> pixel corners ``(B, F, 3, 2)`` and camera-frame
    depths ``(B, F, 3)`` (metres). Distortion is applied to the vertices; faces stay straight-edged between the
    distorted corners (exact in the limit of small faces, as for any mesh rasteriser)."""
    if camera.batch_shape not in ((), (vertices.shape[0],)):
        raise ValueError(
            f"camera: batch shape {tuple(camera.batch_shape)} does not match vertices "
            f"{tuple(vertices.shape)} (expected an unbatched camera or batch ({vertices.shape[0]},))"
        )
    xc = camera.world_to_camera(vertices)
    uv = camera.project_camera(xc)
    B, F = faces.shape[:2]
    flat = faces.reshape(B, F * 3, 1)
    tri_uv = uv.gather(1, flat.expand(-1, -1, 2)).reshape(B, F, 3, 2)
    tri_z = xc[..., 2].gather(1, flat[..., 0]).reshape(B, F, 3)
    return tri_uv, tri_z


@dataclass
class ScreenFaces:
    """The faces that survive culling, flattened over the batch.

    tri: ``(N, 3, 2)`` pixel corners (keeps the autograd graph back to the vertices).
    z: ``(N, 3)`` camera-frame depth of the corners, metres.
    index: ``(N,)`` int64 position in the flattened ``(B * F)`` faces, i.e. ``b * F + f``.
    batch: ``(N,)`` int64 batch element ``b``.
    x0, y0, nx, ny: ``(N,)`` int64 pixel box: columns ``x0 .. x0+nx-1``, rows ``y0 .. y0+ny-1`` (all > 0).
    """

    tri: torch.Tensor
    z: torch.Tensor
    index: torch.Tensor
    batch: torch.Tensor
    x0: torch.Tensor
    y0: torch.Tensor
    nx: torch.Tensor
    ny: torch.Tensor

    @property
    def num_pairs(self) -> int:
        return int((self.nx * self.ny).sum())


def face_boxes(tri: torch.Tensor, reach: float, width: int, height: int) -> Tuple[torch.Tensor, ...]:
    """Pixel boxes ``(x0, y0, nx, ny)`` of the pixels whose centres lie within ``reach`` px of each face's
    bounding box (clipped to the image); ``nx``/``ny`` are 0 for faces off the image. ``tri`` ``(..., 3, 2)``."""
    with torch.no_grad():
        t = tri.detach().nan_to_num(nan=-1e9).clamp(-1e7, 1e7)  # keep far-away corners finite for floor/ceil
        a, b, c = t.unbind(-2)  # elementwise min/max of three corners: much faster than amin over a middle dim
        lo = torch.minimum(torch.minimum(a, b), c)
        hi = torch.maximum(torch.maximum(a, b), c)
        # centre x + 0.5 in [lo - reach, hi + reach]  <=>  x in [ceil(lo - reach - 0.5), floor(hi + reach - 0.5)]
        first = torch.ceil(lo - reach - 0.5).clamp_min(0)
        last = torch.floor(hi + reach - 0.5)
        last = torch.minimum(last, torch.tensor([width - 1.0, height - 1.0], dtype=last.dtype, device=last.device))
        n = (last - first + 1).clamp_min(0).long()
        first = first.long()
    return first[..., 0], first[..., 1], n[..., 0], n[..., 1]


def screen_faces(
    tri_uv: torch.Tensor,
    tri_z: torch.Tensor,
    width: int,
    height: int,
    reach: float,
    near: float,
    min_area: Optional[float] = None,
) -> ScreenFaces:
    """Cull faces: any corner at depth <= ``near`` (no clipping), a pixel box off the image, or (if ``min_area``
    is given) twice the signed pixel area not above ``min_area`` in magnitude (degenerate / edge-on faces)."""
    B, F = tri_uv.shape[:2]
    tri = tri_uv.reshape(B * F, 3, 2)
    z = tri_z.reshape(B * F, 3)
    x0, y0, nx, ny = face_boxes(tri, reach, width, height)
    with torch.no_grad():
        zd = z.detach()
        keep = (torch.minimum(torch.minimum(zd[:, 0], zd[:, 1]), zd[:, 2]) > near) & (nx > 0) & (ny > 0)
        keep &= torch.isfinite(tri.detach().sum((1, 2)))  # a NaN or infinite corner makes the sum non-finite
        if min_area is not None:
            keep &= twice_area(tri.detach()).abs() > min_area
        index = keep.nonzero()[:, 0]
    return ScreenFaces(
        tri.index_select(0, index),
        z.index_select(0, index),
        index,
        torch.div(index, F, rounding_mode="floor"),
        x0[index],
        y0[index],
        nx[index],
        ny[index],
    )


def twice_area(tri: torch.Tensor) -> torch.Tensor:
    """Twice the signed area of pixel triangles ``(..., 3, 2)``: positive when the corners run clockwise on screen
    (v grows downward), negative otherwise; the renderers accept both."""
    e1 = tri[..., 1, :] - tri[..., 0, :]
    e2 = tri[..., 2, :] - tri[..., 0, :]
    return e1[..., 0] * e2[..., 1] - e1[..., 1] * e2[..., 0]


def chunk_bounds(counts: torch.Tensor, max_pairs: int) -> list:
    """Split faces with ``counts`` pairs each into consecutive runs ``[(start, stop), ...]`` of at most
    ``max_pairs`` pairs (a single face larger than that gets a run of its own)."""
    n = counts.numel()
    if n == 0:
        return []
    cum = torch.cumsum(counts, 0)
    total = int(cum[-1])
    if total <= max_pairs:
        return [(0, n)]
    bounds, start, done = [], 0, 0
    while start < n:
        # last face whose cumulative count stays within this chunk's budget
        stop = int(torch.searchsorted(cum, done + max_pairs, right=True))
        stop = max(stop, start + 1)
        bounds.append((start, stop))
        done = int(cum[stop - 1])
        start = stop
    return bounds


def iter_pairs(
    faces: ScreenFaces, width: int, height: int, max_pairs: int
) -> Iterator[Tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]]:
    """Yield chunks ``(face, pixel, px, py)``: ``face`` indexes ``faces`` (int64), ``pixel`` the flattened
    ``(B * H * W)`` image (int64), and ``px``/``py`` the pixel centre RELATIVE TO THE FACE'S BOX ORIGIN
    ``(x0, y0)`` in the faces' dtype (so callers subtract the origin from the corners once per face instead of
    gathering it per pair; see :func:`local_corners`)."""
    counts = faces.nx * faces.ny
    base = (faces.batch * height + faces.y0) * width + faces.x0  # flat index of each box's top-left pixel
    dtype = faces.tri.dtype
    for start, stop in chunk_bounds(counts, max_pairs):
        c = counts[start:stop]
        f = torch.repeat_interleave(torch.arange(start, stop, device=c.device), c)
        first = torch.cumsum(c, 0) - c  # position of each face's first pair within the chunk
        local = torch.arange(f.numel(), device=c.device) - first.index_select(0, f - start)
        nx = faces.nx.index_select(0, f)
        row = torch.div(local, nx, rounding_mode="floor")
        col = local - row * nx
        pixel = base.index_select(0, f) + row * width + col
        yield f, pixel, col.to(dtype) + 0.5, row.to(dtype) + 0.5


def local_corners(faces: ScreenFaces) -> torch.Tensor:
    """``(N, 3, 2)`` pixel corners minus each face's box origin ``(x0, y0)``, matching :func:`iter_pairs`."""
    origin = torch.stack([faces.x0, faces.y0], dim=-1).to(faces.tri.dtype)
    return faces.tri - origin[:, None, :]
