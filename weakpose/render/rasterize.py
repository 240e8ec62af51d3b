"""Soft rasteriser (SoftRas, Liu, Li, Chen & Li, "Soft Rasterizer: A Differentiable Renderer for Image-based 3D
Reasoning", ICCV 2019), batched, in pure PyTorch so that it runs on CPU.

Each face j contributes to pixel i a probability ``D_j(i) = sigmoid(delta_ij * d2(i, j) / sigma)`` where ``d2`` is the
squared distance (pixels²) from the pixel centre to the face's edges in the image and ``delta = +1`` inside the
face, ``-1`` outside. Silhouettes aggregate them as ``A(i) = 1 - prod_j (1 - D_j(i))`` (computed as
``1 - exp(-sum_j softplus(delta d2 / sigma))``, exact and stable). Colour uses the paper's depth-aware softmax:
``I(i) = (sum_j w_j C_j(i) + w_b C_b) / (sum_j w_j + w_b)`` with ``w_j = D_j exp(z_j / gamma)``,
``w_b = exp(eps_b / gamma)``, ``z_j`` the normalised inverse depth ``(1/z - 1/far) / (1/near - 1/far)`` of face j
under the pixel (1 at ``near``, 0 at ``far``) and ``C_j(i)`` the perspective-correct interpolation of the vertex
colours at the barycentrics clipped to the face.

Units: ``sigma`` is in PIXELS SQUARED (SoftRas works in [-1, 1] screen units; its sigma = 1e-4 equals
``1e-4 * (S/2)²`` px² for an S-pixel image, i.e. 0.1 px² at 64 px and 0.41 px² at 128 px). Pixel convention:
see :mod:`weakpose.render.culling` (pixel (x, y) is sampled at (x + 0.5, y + 0.5), v grows downward, no flips).
Faces of either winding render the same. Faces with a corner at depth <= ``near`` are dropped (not clipped).

Soft outlines sit slightly OUTSIDE the mesh: every face near a background pixel adds to ``1 - prod(1 - D_j)``,
and on a finely tessellated closed mesh many faces (front and back) meet at the outline, so ``A = 0.5`` lies about
``sqrt(sigma * ln(n / ln 2))`` px outside it for n such faces (measured on a 6890-vertex body at 128 px: IoU of
``A > 0.5`` with the hard mask 0.99 at sigma = 1e-3, 0.90 at 0.1, 0.76 at 0.5 px², always a superset). Fitting a
mesh to a hard target silhouette at a fixed large sigma therefore shrinks it a little: anneal sigma towards
~0.05 px² at the end (as tests/test_render.py does) or keep it small.

Cost: a face only touches the pixels within ``reach = sqrt(sigma * ln(1/eps))`` of its pixel box, where
``D < eps``; contributions beyond are dropped (forward and backward agree, so gradients are exact gradients of
the truncated sum). Silhouettes use a custom autograd function that evaluates (face, pixel) pairs in chunks of
``max_pairs`` and keeps 20 bytes per pair with ``D >= eps`` for a closed-form backward, so memory is that plus one
chunk of temporaries, whatever the image size. ``rgb`` uses plain autograd over the same pairs (more memory).
"""

from __future__ import annotations

import math
from typing import Optional, Sequence, Tuple

import torch
import torch.nn.functional as F

from ..geometry.camera import Camera
from . import soft_kernels
from .culling import (
    ScreenFaces,
    as_faces,
    as_vertex_colors,
    as_vertices,
    iter_pairs,
    local_corners,
    project_faces,
    screen_faces,
)

__all__ = ["SoftRasterizer", "soft_silhouette", "image_size_of", "KERNELS", "use_numba_kernel"]


def image_size_of(image_size, camera: Camera) -> Tuple[int, int]:
    """``(w, h)`` from the renderer's setting, else from the camera (all cameras of a batch must agree)."""
    if image_size is not None:
        w, h = (int(x) for x in image_size)
    else:
        if camera.image_size is None:
            raise ValueError("image size unknown: give the renderer image_size=(w, h) or a camera with image_size")
        sizes = torch.unique(camera.image_size.reshape(-1, 2), dim=0)
        if sizes.shape[0] != 1:
            raise ValueError(
                f"cameras of one batch have different image sizes {sizes.tolist()}; give the renderer image_size=(w, h)"
            )
        w, h = (int(round(float(x))) for x in sizes[0])
    if w <= 0 or h <= 0:
        raise ValueError(f"image_size must be positive (w, h), got {(w, h)}")
    return w, h


# ---------------------------------------------------------------------------------------------------------------
# per-pair geometry


def _face_table(tri: torch.Tensor) -> torch.Tensor:
    """``(N, 3, 2)`` corners -> ``(5, 3, N)`` table [corner x, corner y, edge x, edge y, 1/|edge|²] for each edge k
    (edge k runs from corner k to corner k+1). Edge-major so that each gathered row is contiguous (fast)."""
    e = tri.roll(-1, dims=1) - tri
    ee = (e * e).sum(-1)
    inv = 1.0 / ee.clamp_min(torch.finfo(tri.dtype).tiny ** 0.5)  # a zero-length edge acts as a point
    return torch.stack([tri[..., 0], tri[..., 1], e[..., 0], e[..., 1], inv], dim=0).transpose(1, 2).contiguous()


def _gather(table: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
    """``table[..., f]`` for a ``(5, 3, N)`` table, one 1-D gather per row (several times faster than
    ``index_select`` on the last dimension)."""
    flat = table.reshape(-1, table.shape[-1])
    if flat.requires_grad and torch.is_grad_enabled():  # out= does not record a graph
        return torch.stack([row.index_select(0, f) for row in flat]).view(*table.shape[:-1], f.numel())
    out = table.new_empty(flat.shape[0], f.numel())
    for i in range(flat.shape[0]):
        torch.index_select(flat[i], 0, f, out=out[i])
    return out.view(*table.shape[:-1], f.numel())


def _edge_terms(rows: torch.Tensor, px: torch.Tensor, py: torch.Tensor):
    """For pairs: ``rows`` (5, 3, P) gathered face table, pixel centres ``px``, ``py`` (P,).

    Returns ``(t, qx, qy, d2, cross)`` per edge, each (3, P): the clamped projection parameter of the pixel on the
    edge, the vector from the closest edge point to the pixel, its squared length, and the 2D cross product
    edge x (pixel - corner) whose sign says on which side of the edge the pixel is."""
    vx, vy, ex, ey, inv = rows.unbind(0)
    wx = px - vx
    wy = py - vy
    t = torch.addcmul(wx * ex, wy, ey).mul_(inv).clamp_(0.0, 1.0)
    qx = torch.addcmul(wx, t, ex, value=-1.0)
    qy = torch.addcmul(wy, t, ey, value=-1.0)
    d2 = torch.addcmul(qx * qx, qy, qy)
    cross = torch.addcmul(ex * wy, ey, wx, value=-1.0)
    return t, qx, qy, d2, cross


def _inside(cross: torch.Tensor) -> torch.Tensor:
    """Strictly inside for either winding: the pixel is on the same side of all three edges. (Elementwise
    min/max of the three rows: several times faster than ``aminmax`` over the first dimension.)"""
    c0, c1, c2 = cross.unbind(0)
    lo = torch.minimum(torch.minimum(c0, c1), c2)
    hi = torch.maximum(torch.maximum(c0, c1), c2)
    return (lo > 0) | (hi < 0)


def _signed_scaled_d2(rows, px, py, inv_sigma: float):
    """``s = delta * d2 / sigma`` per pair, plus the pieces the backward pass needs."""
    t, qx, qy, d2, cross = _edge_terms(rows, px, py)
    d2min = d2.amin(0)
    inside = _inside(cross)
    s = torch.where(inside, d2min, -d2min).mul_(inv_sigma)
    return s, inside, d2min, d2, t, qx, qy


def _closest_edge(d2: torch.Tensor, d2min: torch.Tensor):
    """Masks ``(is0, is1)`` of the pairs whose closest edge is edge 0 / edge 1 (else edge 2; first on ties)."""
    is0 = d2[0] == d2min
    is1 = (d2[1] == d2min) & ~is0
    return is0, is1


def _pick(x: torch.Tensor, is0: torch.Tensor, is1: torch.Tensor) -> torch.Tensor:
    """Row 0, 1 or 2 of ``x`` (3, P) per pair (elementwise selects beat ``gather`` along dim 0)."""
    return torch.where(is0, x[0], torch.where(is1, x[1], x[2]))


class _SoftLogTransmittance(torch.autograd.Function):
    """``log prod_j (1 - D_j)`` per pixel of the flattened ``(B*H*W)`` image, from pixel corners ``tri (N, 3, 2)``.

    Gradient, in closed form: for the closest edge from corner a to corner b with clamped parameter t and offset
    q = p - (a + t (b - a)), d(d2)/da = -2 (1 - t) q and d(d2)/db = -2 t q (envelope theorem: t minimises the
    distance, so its own change does not count); the inside/outside sign is piecewise constant and passes no
    gradient, as in SoftRas. Forward stores, per pair with ``D >= eps``, only the pixel, the corner index, t and
    the scaled q (20 bytes), so backward is two gathers and two scatter-adds.
    """

    @staticmethod
    def forward(
        ctx,
        tri,
        sf: ScreenFaces,
        width: int,
        height: int,
        num_pixels: int,
        inv_sigma: float,
        cut: float,
        max_pairs: int,
    ):
        table = _face_table(local_corners(sf))
        out = tri.new_zeros(num_pixels)
        need_grad = ctx.needs_input_grad[0]
        saved = []
        for f, pix, px, py in iter_pairs(sf, width, height, max_pairs):
            s, inside, d2min, d2, t, qx, qy = _signed_scaled_d2(_gather(table, f), px, py, inv_sigma)
            keep = (s > -cut).nonzero()[:, 0]
            if need_grad:
                is0, is1 = _closest_edge(d2, d2min)
                # d(-softplus(s))/d(d2) = -sigmoid(s) * delta / sigma; times d(d2)/dcorner = -2 (.) q
                coef = torch.where(inside, 2.0 * inv_sigma, -2.0 * inv_sigma)
                slot = f * 4 + is1.long() + 2 * (~(is0 | is1)).long()  # face f's corner k sits in slot 4f + k
                extra = [slot, coef, _pick(t, is0, is1), _pick(qx, is0, is1), _pick(qy, is0, is1)]
            if keep.numel() < s.numel():  # filter 1-D arrays only (index_select along dim 1 is slow)
                pix, s = pix.index_select(0, keep), s.index_select(0, keep)
                if need_grad:
                    extra = [x.index_select(0, keep) for x in extra]
            out.index_add_(0, pix, -F.softplus(s))
            if need_grad:
                slot, coef, t, qx, qy = extra
                coef.mul_(torch.sigmoid(s))
                saved.append((pix.to(torch.int32), slot.to(torch.int32), t, qx.mul_(coef), qy.mul_(coef)))
        if need_grad:
            ctx.chunks = saved  # intermediates, not inputs/outputs: plain attributes are fine and avoid a concat
            ctx.num_faces = tri.shape[0]
        return out

    @staticmethod
    def backward(ctx, grad_out):
        grad_out = grad_out.contiguous()
        # one spare slot per face: edge 2's far corner (corner 0) lands in slot 3 and is folded back below,
        # which saves a modulo per pair
        gx = torch.zeros(ctx.num_faces * 4, dtype=grad_out.dtype, device=grad_out.device)
        gy = torch.zeros_like(gx)
        for pix, slot, t, qx, qy in ctx.chunks:
            pix, slot = pix.long(), slot.long()  # int32 to store; int64 to index (index_add_ is slow with int32)
            g = grad_out.index_select(0, pix)
            ga, gb = g * (1.0 - t), g * t
            gx.index_add_(0, slot, qx * ga)
            gy.index_add_(0, slot, qy * ga)
            slot += 1
            gx.index_add_(0, slot, qx * gb)
            gy.index_add_(0, slot, qy * gb)
        grad = torch.stack([gx, gy], dim=-1).view(-1, 4, 2)
        grad[:, 0] += grad[:, 3]
        return grad[:, :3], None, None, None, None, None, None, None


class _SoftTransmittanceKernel(torch.autograd.Function):
    """The transmittance ``T = prod_j (1 - D_j)`` per pixel (so ``exp`` of :class:`_SoftLogTransmittance`) and its
    closed-form gradient with respect to the pixel corners ``tri_uv (B, F, 3, 2)``, culled and evaluated by the
    fused numba kernels of :mod:`weakpose.render.soft_kernels` (CPU)."""

    @staticmethod
    def forward(ctx, tri_uv, tri_z, width: int, height: int, reach: float, near: float, inv_sigma: float, cut: float):
        B = tri_uv.shape[0]
        tri = tri_uv.detach().reshape(-1, 6).contiguous().numpy()
        z = tri_z.detach().reshape(-1, 3).to(tri_uv.dtype).contiguous().numpy()
        boxes = soft_kernels.face_boxes(tri, z, B, width, height, reach, near, torch.get_num_threads())
        save = ctx.needs_input_grad[0]
        t, saved = soft_kernels.transmittance(boxes, B, width, height, inv_sigma, cut, save)
        t = torch.from_numpy(t)
        if save:
            ctx.boxes, ctx.saved, ctx.size = boxes, saved, (width, height)
            ctx.save_for_backward(t)
        ctx.shape = tri_uv.shape
        return t

    @staticmethod
    def backward(ctx, grad_t):
        (t,) = ctx.saved_tensors
        g_log = (grad_t * t).to(t.dtype).contiguous().numpy()  # d/d(log T) = T d/dT
        grad = soft_kernels.transmittance_backward(ctx.boxes, ctx.saved, *ctx.size, g_log)
        return torch.from_numpy(grad).view(ctx.shape), None, None, None, None, None, None, None


#: ``kernel`` choices of :func:`soft_silhouette`: "auto" uses the numba kernels on CPU tensors when numba is
#: installed (the fast path), "numba" requires them, "torch" always uses the PyTorch pairs (any device).
KERNELS = ("auto", "numba", "torch")


def use_numba_kernel(kernel: str, tensor: torch.Tensor) -> bool:
    """Whether :func:`soft_silhouette` evaluates ``tensor``'s silhouettes with the numba kernels."""
    if kernel not in KERNELS:
        raise ValueError(f"kernel must be one of {KERNELS}, got {kernel!r}")
    if kernel == "torch":
        return False
    if kernel == "numba":
        if not soft_kernels.available():
            raise ImportError("kernel='numba' needs numba: pip install weakpose[fast] (or numba)")
        if tensor.device.type != "cpu":
            raise ValueError(f"kernel='numba' runs on CPU tensors only, got device {tensor.device}")
        return True
    return soft_kernels.available() and tensor.device.type == "cpu" and tensor.dtype in (torch.float32, torch.float64)


def soft_silhouette(
    tri_uv: torch.Tensor,
    tri_z: torch.Tensor,
    width: int,
    height: int,
    sigma: float = 0.1,
    eps: float = 1e-4,
    near: float = 0.1,
    max_pairs: int = 1 << 16,
    kernel: str = "auto",
) -> torch.Tensor:
    """SoftRas silhouettes ``(B, H, W)`` in [0, 1] from pixel-space faces ``tri_uv (B, F, 3, 2)`` and their
    camera depths ``tri_z (B, F, 3)`` (only used to drop faces behind ``near``). ``sigma`` in px². ``kernel``: see
    :data:`KERNELS` (``max_pairs`` bounds the PyTorch path's temporaries; the numba kernels need none)."""
    if tri_uv.dim() != 4 or tri_uv.shape[-2:] != (3, 2):
        raise ValueError(f"soft_silhouette: tri_uv must be (B, F, 3, 2) pixels, got {tuple(tri_uv.shape)}")
    if tri_z.shape != tri_uv.shape[:-1]:
        raise ValueError(f"soft_silhouette: tri_z must be {tuple(tri_uv.shape[:-1])}, got {tuple(tri_z.shape)}")
    _check_positive(sigma=sigma, eps=eps)
    cut = math.log((1.0 - eps) / eps)  # D = sigmoid(s) < eps  <=>  s < -cut
    reach = math.sqrt(sigma * cut)
    B = tri_uv.shape[0]
    if use_numba_kernel(kernel, tri_uv):
        t = _SoftTransmittanceKernel.apply(tri_uv, tri_z, width, height, reach, near, 1.0 / sigma, cut)
        return (1.0 - t).view(B, height, width)
    sf = screen_faces(tri_uv, tri_z, width, height, reach, near)
    logt = _SoftLogTransmittance.apply(sf.tri, sf, width, height, B * height * width, 1.0 / sigma, cut, int(max_pairs))
    return -torch.expm1(logt).view(B, height, width)


def _check_positive(**values):
    for name, v in values.items():
        if not (isinstance(v, (int, float)) and v > 0 and math.isfinite(v)):
            raise ValueError(f"{name} must be a positive number, got {v!r}")


# ---------------------------------------------------------------------------------------------------------------
# renderer


class SoftRasterizer:
    """Differentiable SoftRas renderer of silhouettes and vertex-coloured images (see the module docstring).

    Args:
        image_size: ``(w, h)`` pixels; None takes the cameras' ``image_size``.
        sigma: sharpness, px² (smaller = sharper edges, shorter gradient reach). 0.1 px² by default (SoftRas's
            1e-4 at 64 px).
        gamma: colour-aggregation temperature on normalised inverse depth (smaller = harder z-test). 1e-4.
        eps: contributions with ``D_j < eps`` are dropped (sets the reach); 1e-4.
        near, far: metres. Faces with a corner at ``z <= near`` are dropped; both set the inverse-depth
            normalisation of the colour term.
        background_eps: SoftRas's background weight ``exp(background_eps / gamma)``; 1e-3.
        max_pairs: (face, pixel) pairs evaluated at once; bounds the temporaries (~250 bytes a pair; small chunks
            also stay in cache, so 65536 is as fast as larger ones).
        kernel: how silhouettes are evaluated, one of :data:`KERNELS`: "auto" (numba's fused CPU kernels when
            installed and the tensors are on the CPU, else PyTorch), "numba" or "torch".
    """

    def __init__(
        self,
        image_size: Optional[Sequence[int]] = None,
        sigma: float = 0.1,
        gamma: float = 1e-4,
        eps: float = 1e-4,
        near: float = 0.1,
        far: float = 100.0,
        background_eps: float = 1e-3,
        max_pairs: int = 1 << 16,
        kernel: str = "auto",
    ):
        if kernel not in KERNELS:
            raise ValueError(f"kernel must be one of {KERNELS}, got {kernel!r}")
        _check_positive(sigma=sigma, gamma=gamma, eps=eps, near=near, far=far, max_pairs=max_pairs)
        if not far > near:
            raise ValueError(f"far ({far}) must be greater than near ({near})")
        if eps >= 0.5:
            raise ValueError(f"eps must be below 0.5, got {eps}")
        self.image_size = None if image_size is None else tuple(int(x) for x in image_size)
        self.sigma, self.gamma, self.eps = float(sigma), float(gamma), float(eps)
        self.near, self.far, self.background_eps = float(near), float(far), float(background_eps)
        self.max_pairs = int(max_pairs)
        self.kernel = kernel

    def __repr__(self) -> str:
        return (
            f"SoftRasterizer(image_size={self.image_size}, sigma={self.sigma} px², gamma={self.gamma}, "
            f"eps={self.eps}, near={self.near}, far={self.far})"
        )

    @property
    def reach(self) -> float:
        """Pixels beyond a face's edges where its contribution falls below ``eps``."""
        return math.sqrt(self.sigma * math.log((1.0 - self.eps) / self.eps))

    def _prepare(self, vertices, faces, camera: Camera):
        if not isinstance(camera, Camera):
            raise TypeError(f"camera: expected a weakpose.geometry.Camera, got {type(camera).__name__}")
        v, was_np, unbatched = as_vertices(vertices)
        f = as_faces(faces, v.shape[1], v.shape[0], v.device)
        w, h = image_size_of(self.image_size, camera)
        tri_uv, tri_z = project_faces(v, f, camera)
        return v, f, tri_uv, tri_z, w, h, was_np, unbatched

    def silhouette(self, vertices, faces, camera: Camera):
        """Soft silhouettes ``(B, H, W)`` in [0, 1] of meshes ``vertices (B, V, 3)`` (world metres; ``(V, 3)``
        gives ``(H, W)``) with ``faces (F, 3)`` or ``(B, F, 3)``, seen by ``camera`` (unbatched or batch B)."""
        v, _, tri_uv, tri_z, w, h, was_np, unbatched = self._prepare(vertices, faces, camera)
        sil = soft_silhouette(tri_uv, tri_z, w, h, self.sigma, self.eps, self.near, self.max_pairs, self.kernel)
        return _output(sil, was_np, unbatched)

    def rgb(self, vertices, faces, camera: Camera, vertex_colors, background=None, return_alpha: bool = False):
        """Soft colour images ``(B, H, W, 3)`` (and silhouettes ``(B, H, W)`` if ``return_alpha``).

        ``vertex_colors`` ``(V, 3)`` or ``(B, V, 3)``; ``background`` an RGB triple (default black) or an image
        ``(B, H, W, 3)``. Differentiable w.r.t. vertices and colours (plain autograd over the pairs with
        ``D >= eps``, so memory grows with them; use :meth:`silhouette` when only the mask is needed).
        """
        v, f, tri_uv, tri_z, w, h, was_np, unbatched = self._prepare(vertices, faces, camera)
        B, V = v.shape[:2]
        cols = as_vertex_colors(vertex_colors, v)
        tri_c = cols.gather(1, f.reshape(B, -1, 1).expand(-1, -1, 3)).reshape(B, -1, 3, 3)
        bg = _background(background, B, h, w, v)
        rgb, alpha = self._soft_rgb(tri_uv, tri_z, tri_c, bg, w, h)
        if return_alpha:
            return _output(rgb, was_np, unbatched), _output(alpha, was_np, unbatched)
        return _output(rgb, was_np, unbatched)

    def _soft_rgb(self, tri_uv, tri_z, tri_c, bg, w, h):
        B, F_ = tri_uv.shape[:2]
        cut = math.log((1.0 - self.eps) / self.eps)
        inv_sigma = 1.0 / self.sigma
        sf = screen_faces(tri_uv, tri_z, w, h, self.reach, self.near)
        npix = B * h * w
        # 1) find the pairs with D >= eps, without a graph
        fs, pixs, pxs, pys = [], [], [], []
        with torch.no_grad():
            table = _face_table(local_corners(sf).detach())
            for f, pix, px, py in iter_pairs(sf, w, h, self.max_pairs):
                s = _signed_scaled_d2(_gather(table, f), px, py, inv_sigma)[0]
                keep = (s > -cut).nonzero()[:, 0]
                for out, x in zip((fs, pixs, pxs, pys), (f, pix, px, py)):
                    out.append(x.index_select(0, keep))
        f, pix, px, py = (torch.cat(x) for x in (fs, pixs, pxs, pys))
        # 2) differentiable evaluation on those pairs
        rows = _gather(_face_table(local_corners(sf)), f)
        _, _, _, d2, cross = _edge_terms(rows, px, py)
        d2min = d2.amin(0)
        s = torch.where(_inside(cross), d2min, -d2min) * inv_sigma
        logt = s.new_zeros(npix).index_add(0, pix, -F.softplus(s))
        alpha = -torch.expm1(logt)
        prob = torch.sigmoid(s)
        # screen barycentrics: corner k's weight is cross_{k+1} / (twice the signed area), clipped to the face
        area2 = cross.sum(0, keepdim=True)
        area2 = torch.where(area2.abs() > 1e-12, area2, torch.full_like(area2, 1e-12))
        lam = (cross.roll(-1, dims=0) / area2).clamp(min=0.0)
        lam = lam / lam.sum(0, keepdim=True).clamp_min(1e-12)
        lz = lam / sf.z.index_select(0, f).T  # 1/z is linear in screen space
        inv_z = lz.sum(0)
        persp = lz / inv_z  # perspective-correct barycentrics (3, P)
        corner_cols = tri_c.reshape(B * F_, 3, 3).index_select(0, sf.index.index_select(0, f))  # (P, 3, 3)
        color = (persp.T[..., None] * corner_cols).sum(1)
        zn = (inv_z - 1.0 / self.far) / (1.0 / self.near - 1.0 / self.far)
        g = 1.0 / self.gamma
        with torch.no_grad():  # per-pixel max for a stable softmax (the shift cancels, so no gradient is lost)
            zmax = torch.full((npix,), self.background_eps, dtype=s.dtype, device=s.device)
            zmax.scatter_reduce_(0, pix, zn.detach(), reduce="amax")
        wgt = prob * torch.exp((zn - zmax.index_select(0, pix)) * g)
        w_bg = torch.exp((self.background_eps - zmax) * g)
        num = s.new_zeros(npix, 3).index_add(0, pix, wgt[:, None] * color)
        den = s.new_zeros(npix).index_add(0, pix, wgt) + w_bg
        rgb = (num + w_bg[:, None] * bg.reshape(npix, 3)) / den[:, None]
        return rgb.view(B, h, w, 3), alpha.view(B, h, w)


def _background(background, B, h, w, like: torch.Tensor) -> torch.Tensor:
    if background is None:
        return like.new_zeros(B, h, w, 3)
    bg = torch.as_tensor(background, dtype=like.dtype, device=like.device)
    if bg.shape == (3,):
        return bg.expand(B, h, w, 3)
    try:
        return bg.expand(B, h, w, 3)
    except RuntimeError:
        raise ValueError(
            f"background: expected an RGB triple or an image broadcastable to (B={B}, H={h}, W={w}, 3), "
            f"got {tuple(bg.shape)}"
        ) from None


def _output(x: torch.Tensor, was_np: bool, unbatched: bool):
    if unbatched:
        x = x[0]
    return x.detach().cpu().numpy() if was_np else x
