"""Fused CPU kernels of the soft silhouette (SoftRas, Liu et al. ICCV 2019), compiled by numba when it is installed
(``pip install weakpose[fast]``); :mod:`weakpose.render.rasterize` falls back to its pure-PyTorch pairs otherwise.

Why a kernel: the PyTorch path evaluates (face, pixel) pairs as ~40 whole-array operations, each reading and
writing every pair, so a batch of body silhouettes moves hundreds of megabytes through memory per pass. Here each
pair lives in registers: one loop over a face's pixels computes the edge distances, the inside test and the
face's factor ``1 - D = 1 / (1 + exp(s))``, and multiplies it into the pixel's transmittance ``T = prod (1 - D)``
(a product: one exponential and one division per pair, no logarithm). Culling and pixel boxes are computed in the
same compiled code, and each row of a box is cut to the span that the face's edges, moved out by the reach, leave
(pixels outside it are provably beyond the reach, so the result is unchanged). When a gradient is wanted the
forward pass also keeps, per pair, the closest edge, its parameter t and the scaled offset (13 bytes), so the
backward pass is a gather and four multiply-adds per pair instead of the whole computation again.

Parallelism: batch elements own disjoint pixels, and faces are sorted by batch element (culling keeps their
order), so groups of batch elements run in Python threads (the kernels release the GIL) with no atomics and no
second OpenMP runtime competing with PyTorch's for the cores; the thread count follows ``torch.get_num_threads()``.
The maths, the truncation at ``D < eps`` and the closed-form gradient are those of
:class:`weakpose.render.rasterize._SoftLogTransmittance`; both paths agree to float rounding (tests/test_render.py).
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import List, Optional, Tuple

import numpy as np

try:  # optional: the PyTorch path is used without it
    import numba
except ImportError:  # pragma: no cover - exercised on installs without the extra
    numba = None

__all__ = ["available", "FaceBoxes", "face_boxes", "transmittance", "transmittance_backward"]


def available() -> bool:
    return numba is not None


# --------------------------------------------------------------------------------------------- compiled parts

#: Pixels are kept in a row's span when their centre is within the reach plus this margin (px) of every moved edge
#: line, so rounding never drops a pair the full box would have kept.
SPAN_MARGIN = 1e-3


def _boxes(tri, z, width, height, reach, near, x0, y0, nx, ny):
    """Per face of ``tri (N, 6)`` pixel corners and ``z (N, 3)`` depths: its pixel box (``nx = ny = 0`` for a
    culled face: a corner at depth <= ``near``, a non-finite corner, or a box off the image)."""
    for j in range(tri.shape[0]):
        nx[j] = 0
        ny[j] = 0
        if not (min(z[j, 0], min(z[j, 1], z[j, 2])) > near):
            continue
        finite = True
        for i in range(6):
            finite = finite and math.isfinite(tri[j, i])
        if not finite:
            continue
        lo_x = min(tri[j, 0], min(tri[j, 2], tri[j, 4]))
        hi_x = max(tri[j, 0], max(tri[j, 2], tri[j, 4]))
        lo_y = min(tri[j, 1], min(tri[j, 3], tri[j, 5]))
        hi_y = max(tri[j, 1], max(tri[j, 3], tri[j, 5]))
        # centre x + 0.5 in [lo - reach, hi + reach]  <=>  x in [ceil(lo - reach - 0.5), floor(hi + reach - 0.5)]
        fx = max(math.ceil(max(lo_x, -1e7) - reach - 0.5), 0.0)
        fy = max(math.ceil(max(lo_y, -1e7) - reach - 0.5), 0.0)
        lx = min(math.floor(min(hi_x, 1e7) + reach - 0.5), width - 1.0)
        ly = min(math.floor(min(hi_y, 1e7) + reach - 0.5), height - 1.0)
        if lx < fx or ly < fy:
            continue
        x0[j], y0[j] = int(fx), int(fy)
        nx[j], ny[j] = int(lx - fx) + 1, int(ly - fy) + 1


def _moved_edge(vx, vy, wx, wy, sign, reach):
    """The edge from v to w moved out by the reach, as a bound on the pixel-centre column of row centre py:
    ``(kind, x_at_0, x_per_py)`` with the bound ``x = x_at_0 + x_per_py * py`` a lower bound (kind 1), an upper
    bound (kind -1), or, for a horizontal edge (kind 0), the row is inside when ``x_at_0 + x_per_py * py >= 0``."""
    ex, ey = wx - vx, wy - vy
    # inside <=> sign (ex (py - vy) - ey (px - vx)) >= -(reach + m) |e|  <=>  slope px + a + b py >= 0
    slope = -sign * ey
    a = sign * (ey * vx - ex * vy) + (reach + SPAN_MARGIN) * math.sqrt(ex * ex + ey * ey)
    b = sign * ex
    if slope == 0:
        return 0, a, b
    return (1 if slope > 0 else -1), -a / slope, -b / slope


def _bound(lo, hi, kind, x):
    """``[lo, hi]`` cut by one moved edge's bound ``x`` (see :func:`_moved_edge`; empty as ``hi < lo``)."""
    if kind > 0:
        return max(lo, x), hi
    if kind < 0:
        return lo, min(hi, x)
    return (lo, hi) if x >= 0 else (lo, lo - 1.0)


def _spans(tri, x0, y0, nx, ny, row_offset, reach, span_first, span_stop, count):
    """Per row of every face's box (row ``row_offset[j] + r``): the columns ``[first, stop)`` whose centres can be
    within ``reach`` of the face, i.e. inside all three half-planes of its edges moved out by ``reach`` (plus
    :data:`SPAN_MARGIN`; a degenerate face keeps whole rows); ``count[j]`` the face's pairs."""
    for j in range(tri.shape[0]):
        count[j] = 0
        if nx[j] == 0:
            continue
        ax, ay = tri[j, 0] - x0[j], tri[j, 1] - y0[j]
        bx, by = tri[j, 2] - x0[j], tri[j, 3] - y0[j]
        cx, cy = tri[j, 4] - x0[j], tri[j, 5] - y0[j]
        area2 = (bx - ax) * (cy - ay) - (by - ay) * (cx - ax)
        sign = 1.0 if area2 > 0 else (-1.0 if area2 < 0 else 0.0)
        # edge from v to w: inside the moved edge <=> sign (ex (py - vy) - ey (px - vx)) >= -(reach + m) |e|,
        # i.e. slope * px + a + b * py >= 0 with the terms of _moved_edge
        s0_, a0, b0 = _moved_edge(ax, ay, bx, by, sign, reach)
        s1_, a1, b1 = _moved_edge(bx, by, cx, cy, sign, reach)
        s2_, a2, b2 = _moved_edge(cx, cy, ax, ay, sign, reach)
        n = 0
        for r in range(ny[j]):
            py = r + 0.5
            lo, hi = _bound(0.5, nx[j] - 0.5, s0_, a0 + b0 * py)  # from the centres of the first and last column
            lo, hi = _bound(lo, hi, s1_, a1 + b1 * py)
            lo, hi = _bound(lo, hi, s2_, a2 + b2 * py)
            first = max(int(math.ceil(lo - 0.5)), 0) if hi >= lo else 0
            stop = min(int(math.floor(hi - 0.5)) + 1, nx[j]) if hi >= lo else 0
            span_first[row_offset[j] + r] = first
            span_stop[row_offset[j] + r] = max(stop, first)
            n += max(stop - first, 0)
        count[j] = n


def _forward(
    tri, x0, y0, nx, ny, offset, rows, s0, s1, first, stop, width, height, inv_sigma, cut, out, save, kk, tt, gx, gy
):
    """Faces ``first .. stop-1`` of batch elements whose faces are ``num_faces`` apart: ``out[pixel] *= 1 / (1 +
    exp(s))`` for every pair with ``s > -cut``. With ``save``, the p-th pair of face j (``offset[j] + p``, in row
    and span order) keeps its closest edge ``kk`` (first on ties), ``tt`` (the pixel's clamped parameter along
    it) and the offset q from its closest point to the pixel, scaled by ``d(log T)/d(d2)`` times 2, in ``gx``,
    ``gy`` (0 for pairs out of reach).

    Written out edge by edge with min/max selects rather than helper functions and early returns: the branches
    of a closest-edge search mispredict on every other pixel, and removing them made the loop 1.6x faster."""
    faces_per_image = tri.shape[0] // max(out.shape[0] // (width * height), 1)
    for j in range(first, stop):
        if nx[j] == 0:
            continue
        ax, ay = tri[j, 0] - x0[j], tri[j, 1] - y0[j]
        bx, by = tri[j, 2] - x0[j], tri[j, 3] - y0[j]
        cx, cy = tri[j, 4] - x0[j], tri[j, 5] - y0[j]
        # edge k runs from corner k to corner k+1; a zero-length edge acts as a point
        e0x, e0y, e1x, e1y, e2x, e2y = bx - ax, by - ay, cx - bx, cy - by, ax - cx, ay - cy
        i0 = 1.0 / max(e0x * e0x + e0y * e0y, 1e-30)
        i1 = 1.0 / max(e1x * e1x + e1y * e1y, 1e-30)
        i2 = 1.0 / max(e2x * e2x + e2y * e2y, 1e-30)
        base = ((j // faces_per_image) * height + y0[j]) * width + x0[j]
        p = offset[j]
        for r in range(ny[j]):
            py = r + 0.5
            row = base + r * width
            for col in range(s0[rows[j] + r], s1[rows[j] + r]):
                px = col + 0.5
                w0x, w0y, w1x, w1y, w2x, w2y = px - ax, py - ay, px - bx, py - by, px - cx, py - cy
                t0 = min(max((w0x * e0x + w0y * e0y) * i0, 0.0), 1.0)
                t1 = min(max((w1x * e1x + w1y * e1y) * i1, 0.0), 1.0)
                t2 = min(max((w2x * e2x + w2y * e2y) * i2, 0.0), 1.0)
                q0x, q0y, q1x, q1y = w0x - t0 * e0x, w0y - t0 * e0y, w1x - t1 * e1x, w1y - t1 * e1y
                q2x, q2y = w2x - t2 * e2x, w2y - t2 * e2y
                d0, d1, d2 = q0x * q0x + q0y * q0y, q1x * q1x + q1y * q1y, q2x * q2x + q2y * q2y
                k0, k1, k2 = e0x * w0y - e0y * w0x, e1x * w1y - e1y * w1x, e2x * w2y - e2y * w2x
                lo, hi = min(k0, min(k1, k2)), max(k0, max(k1, k2))
                inside = (lo > 0) | (hi < 0)  # on the same side of all three edges, either winding
                dm = min(d0, min(d1, d2))
                s = dm * inv_sigma if inside else -dm * inv_sigma
                if s > -cut:
                    keep = 1.0 / (1.0 + math.exp(s))  # 1 - D = 1 - sigmoid(s)
                    out[row + col] *= keep
                    if save:
                        first0 = d0 == dm
                        first1 = (d1 == dm) & ~first0
                        k = 0 if first0 else (1 if first1 else 2)
                        t = t0 if first0 else (t1 if first1 else t2)
                        qx = q0x if first0 else (q1x if first1 else q2x)
                        qy = q0y if first0 else (q1y if first1 else q2y)
                        # d(log T)/d(corner) = -sigmoid(s) delta/sigma d(d2)/d(corner), d(d2)/da = -2 (1 - t) q
                        coef = (2.0 if inside else -2.0) * inv_sigma * (1.0 - keep)
                        kk[p] = k
                        tt[p] = t
                        gx[p] = coef * qx
                        gy[p] = coef * qy
                elif save:
                    gx[p] = 0.0
                    gy[p] = 0.0
                p += 1


def _backward(tri, x0, y0, nx, ny, offset, rows, s0, s1, first, stop, width, height, g, kk, tt, gx, gy, grad):
    """Faces ``first .. stop-1``: corner gradients ``grad (N, 6)`` of ``sum(g * log T)`` from the saved pairs."""
    faces_per_image = tri.shape[0] // max(g.shape[0] // (width * height), 1)
    for j in range(first, stop):
        if nx[j] == 0:
            continue
        base = ((j // faces_per_image) * height + y0[j]) * width + x0[j]
        p = offset[j]
        for r in range(ny[j]):
            row = base + r * width
            for col in range(s0[rows[j] + r], s1[rows[j] + r]):
                gp = g[row + col]
                if gp != 0.0 and (gx[p] != 0.0 or gy[p] != 0.0):
                    k = kk[p]
                    k1 = (k + 1) % 3
                    ga, gb = gp * (1.0 - tt[p]), gp * tt[p]
                    grad[j, 2 * k] += ga * gx[p]
                    grad[j, 2 * k + 1] += ga * gy[p]
                    grad[j, 2 * k1] += gb * gx[p]
                    grad[j, 2 * k1 + 1] += gb * gy[p]
                p += 1


if numba is not None:
    _compile = numba.njit(cache=True, nogil=True)
    _moved_edge, _bound = _compile(_moved_edge), _compile(_bound)
    _boxes, _spans = _compile(_boxes), _compile(_spans)
    _forward, _backward = _compile(_forward), _compile(_backward)


# ----------------------------------------------------------------------------------------------- driver


@dataclass
class FaceBoxes:
    """The faces as the kernels see them: ``tri (B*F, 6)`` pixel corners, ``x0, y0, nx, ny`` pixel boxes (``nx``
    0 for culled faces), ``offset`` each face's first pair, ``rows`` each face's first row in ``span_first`` /
    ``span_stop`` (the columns of each box row that can be within reach), ``groups`` face ranges
    ``[(first, stop)]`` of whole batch elements, one per thread, balanced by pair count."""

    tri: np.ndarray
    x0: np.ndarray
    y0: np.ndarray
    nx: np.ndarray
    ny: np.ndarray
    offset: np.ndarray
    rows: np.ndarray
    span_first: np.ndarray
    span_stop: np.ndarray
    num_pairs: int
    groups: List[Tuple[int, int]]


def face_boxes(tri: np.ndarray, z: np.ndarray, num_batch: int, width: int, height: int, reach: float, near: float,
               threads: int) -> FaceBoxes:  # fmt: skip
    """Cull and box the faces ``tri (B*F, 6)`` (pixels), ``z (B*F, 3)`` (metres) of ``num_batch`` images."""
    n = tri.shape[0]
    x0, y0, nx, ny, count = (np.empty(n, np.int64) for _ in range(5))
    _boxes(tri, z, width, height, reach, near, x0, y0, nx, ny)
    row_ends = np.cumsum(ny)
    num_rows = int(row_ends[-1]) if n else 0
    span_first, span_stop = np.empty(num_rows, np.int32), np.empty(num_rows, np.int32)
    rows = row_ends - ny
    _spans(tri, x0, y0, nx, ny, rows, reach, span_first, span_stop, count)
    ends = np.cumsum(count)
    num_pairs = int(ends[-1]) if n else 0
    per_image = n // max(num_batch, 1)
    starts = np.arange(num_batch + 1) * per_image
    groups = _balanced_groups(starts, np.concatenate([[0], ends]), max(1, min(int(threads), num_batch)))
    return FaceBoxes(tri, x0, y0, nx, ny, ends - count, rows, span_first, span_stop, num_pairs, groups)


def _balanced_groups(starts: np.ndarray, pair_ends: np.ndarray, n: int) -> List[Tuple[int, int]]:
    """Split batch elements (faces ``starts[b]:starts[b+1]``) into ``n`` consecutive runs of about equal pairs."""
    pairs_before = pair_ends[starts]  # pairs before each batch element's first face
    total = pairs_before[-1]
    cuts = [0]
    for i in range(1, n):
        b = int(np.searchsorted(pairs_before, total * i / n))
        cuts.append(min(max(b, cuts[-1]), len(starts) - 1))
    cuts.append(len(starts) - 1)
    return [(int(starts[a]), int(starts[b])) for a, b in zip(cuts[:-1], cuts[1:]) if starts[b] > starts[a]]


_pool: Optional[ThreadPoolExecutor] = None


def _run(fn, groups: List[Tuple[int, int]]) -> None:
    """``fn(first, stop)`` for every group, in threads when there are several (the kernels release the GIL)."""
    global _pool
    if len(groups) <= 1:
        for first, stop in groups:
            fn(first, stop)
        return
    if _pool is None or _pool._max_workers < len(groups):
        _pool = ThreadPoolExecutor(max_workers=len(groups), thread_name_prefix="weakpose-soft")
    for future in [_pool.submit(fn, first, stop) for first, stop in groups]:
        future.result()


def transmittance(boxes: FaceBoxes, num_batch: int, width: int, height: int, inv_sigma: float, cut: float, save: bool):
    """``T = prod_j (1 - D_j)`` of the flattened ``(B * H * W)`` image, and the saved pairs (None unless
    ``save``) that :func:`transmittance_backward` needs."""
    dtype = boxes.tri.dtype
    out = np.ones(num_batch * height * width, dtype=dtype)
    n = boxes.num_pairs if save else 0
    saved = (np.empty(n, np.int8), np.empty(n, dtype), np.empty(n, dtype), np.empty(n, dtype))
    b = boxes

    def one(first, stop):
        _forward(
            b.tri, b.x0, b.y0, b.nx, b.ny, b.offset, b.rows, b.span_first, b.span_stop, first, stop, width, height,
            inv_sigma, cut, out, save, *saved,
        )  # fmt: skip

    _run(one, boxes.groups)
    return out, (saved if save else None)


def transmittance_backward(boxes: FaceBoxes, saved, width: int, height: int, g_log: np.ndarray) -> np.ndarray:
    """Gradient ``(B*F, 6)`` with respect to the corners of ``sum(g_log * log T)`` (0 for culled faces)."""
    grad = np.zeros(boxes.tri.shape, dtype=boxes.tri.dtype)
    b = boxes

    def one(first, stop):
        _backward(
            b.tri, b.x0, b.y0, b.nx, b.ny, b.offset, b.rows, b.span_first, b.span_stop, first, stop, width, height,
            g_log, *saved, grad,
        )  # fmt: skip

    _run(one, boxes.groups)
    return grad
