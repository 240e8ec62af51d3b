"""weakpose.render: SoftRas soft rasteriser, hard z-buffer, backends.

References used here are independent of the code under test: a per-pixel NumPy point-in-triangle loop with
ray-plane depth, finite differences (gradcheck), hand-placed pixel rectangles, and Camera.project itself.
"""

import math
import sys
import types

import numpy as np
import pytest
import torch

from weakpose.geometry import Camera
from weakpose.render import HardRasterizer, SoftRasterizer, body_mesh, front_camera, get_renderer, uv_sphere
from weakpose.render.culling import chunk_bounds

D = torch.float64


def pinhole(f=20.0, c=(6.0, 5.0), size=(12, 10), dist=None, dtype=D):
    K = torch.tensor([[f, 0, c[0]], [0, f, c[1]], [0, 0, 1]], dtype=dtype)
    return Camera(torch.eye(3, dtype=dtype), torch.zeros(3, dtype=dtype), K, dist=dist, image_size=size)


def numpy_zbuffer(uv, xyz, w, h, K=None):
    """Independent reference: for each face, barycentrics of every pixel centre from the inverse of the 2x2 edge
    matrix; depth = where the pixel's ray meets the face's plane (needs an undistorted pinhole K); nearest wins,
    ties to the lower face index."""
    ys, xs = np.mgrid[0:h, 0:w]
    p = np.stack([xs + 0.5, ys + 0.5], -1).reshape(-1, 2)
    best = np.full(len(p), np.inf)
    face = -np.ones(len(p), int)
    if K is not None:
        rays = np.concatenate([p, np.ones((len(p), 1))], 1) @ np.linalg.inv(K).T  # z component 1
    for j in range(uv.shape[0]):
        a, b, c = uv[j]
        M = np.stack([b - a, c - a], 1)
        if abs(np.linalg.det(M)) < 1e-12:
            continue
        lam = (p - a) @ np.linalg.inv(M).T  # (l1, l2) with p = a + l1 (b - a) + l2 (c - a)
        inside = (lam >= 0).all(1) & (lam.sum(1) <= 1)
        z = np.zeros(len(p))
        if K is not None:
            A, B, C = xyz[j]
            n = np.cross(B - A, C - A)
            z = (n @ A) / (rays @ n)
        win = inside & (z < best)
        best[win], face[win] = z[win], j
    mask = face >= 0
    depth = np.where(mask, best, 0.0)
    return mask.reshape(h, w), depth.reshape(h, w), face.reshape(h, w)


def _cross2(u, v):
    return u[0] * v[1] - u[1] * v[0]


def iou(a, b):
    a, b = np.asarray(a, bool), np.asarray(b, bool)
    return (a & b).sum() / max((a | b).sum(), 1)


# ---------------------------------------------------------------------------------------------------------------
# hard z-buffer


def test_hard_matches_numpy_reference(rng):
    w, h = 24, 18
    cam = pinhole(f=30.0, c=(12.0, 9.0), size=(w, h))
    # 6 random triangles in front of the camera, overlapping at different depths and slants
    centres = rng.uniform([-0.25, -0.2, 1.5], [0.25, 0.2, 2.5], size=(6, 1, 3))
    xyz = centres + rng.normal(scale=0.25, size=(6, 3, 3))
    verts = torch.from_numpy(xyz.reshape(-1, 3))
    faces = torch.arange(18).reshape(6, 3)
    frags = HardRasterizer().render(verts, faces, cam)
    uv = cam.project(xyz.reshape(-1, 3)).reshape(6, 3, 2)
    mask, depth, face = numpy_zbuffer(uv, xyz, w, h, cam.K.numpy())
    assert mask.sum() > 50
    np.testing.assert_array_equal(frags.mask.numpy(), mask)
    np.testing.assert_array_equal(frags.face_index.numpy(), face)
    np.testing.assert_allclose(frags.depth.numpy(), depth, atol=1e-9)
    # perspective-correct barycentrics: the weighted corners are the 3D point seen through the pixel centre
    m = mask
    bary = frags.bary.numpy()[m]
    corners = xyz[face[m]]  # (n, 3, 3)
    X = (bary[..., None] * corners).sum(1)
    np.testing.assert_allclose(bary.sum(-1), 1.0, atol=1e-12)
    np.testing.assert_allclose(X[:, 2], depth[m], atol=1e-9)
    ys, xs = np.nonzero(m)
    np.testing.assert_allclose(cam.project(X), np.stack([xs + 0.5, ys + 0.5], -1), atol=1e-7)


def test_hard_rgb_and_chunking(rng):
    verts, faces = uv_sphere(8, 12, radii=(0.3, 0.3, 0.3), center=(0.0, 0.0, 2.0))
    cam = pinhole(f=40.0, c=(16.0, 16.0), size=(32, 32))
    cols = rng.uniform(size=(len(verts), 3))
    a = HardRasterizer(background=(0.2, 0.3, 0.4)).render(verts, faces, cam, vertex_colors=cols)
    b = HardRasterizer(background=(0.2, 0.3, 0.4), max_pairs=1).render(verts, faces, cam, vertex_colors=cols)
    assert isinstance(a.mask, np.ndarray)  # numpy in, numpy out
    for name in ("face_index", "depth", "bary", "mask", "rgb"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    # colour = barycentric blend of the winning face's corner colours; background elsewhere
    m = a.mask
    expect = (a.bary[m][..., None] * cols[faces[a.face_index[m]]]).sum(1)
    np.testing.assert_allclose(a.rgb[m], expect, atol=1e-12)
    np.testing.assert_allclose(a.rgb[~m], np.broadcast_to([0.2, 0.3, 0.4], a.rgb[~m].shape))
    # a sphere's front surface is visible: depth below the centre's
    assert (a.depth[m] < 2.0).all() and (a.depth[m] > 1.69).all()


def test_pixel_convention_rectangle():
    """Corners at u in [3, 7], v in [2, 5] cover exactly columns 3..6 and rows 2..4 (centres at x + 0.5)."""
    w, h = 10, 8
    cam = pinhole(f=10.0, c=(0.0, 0.0), size=(w, h))
    uv = np.array([[3, 2], [7, 2], [7, 5], [3, 5]], float)
    verts = np.concatenate([uv / 10.0, np.ones((4, 1))], 1)  # z = 1 m, so u = 10 X
    faces = np.array([[0, 1, 2], [0, 2, 3]])
    expect = np.zeros((h, w), bool)
    expect[2:5, 3:7] = True
    np.testing.assert_array_equal(HardRasterizer().render(verts, faces, cam).mask, expect)
    soft = SoftRasterizer(sigma=0.01).silhouette(verts, faces, cam)
    np.testing.assert_array_equal(soft > 0.5, expect)
    # SoftRas at a pixel centre 0.5 px outside one edge: 1 - (1 - sigmoid(-0.25 / sigma)) over the one nearby face
    sigma = 0.5
    soft = SoftRasterizer(sigma=sigma, eps=1e-12).silhouette(verts, faces[:1], cam)  # triangle (3,2),(7,2),(7,5)
    assert soft[1, 5] == pytest.approx(1 / (1 + math.exp(0.25 / sigma)), rel=1e-9)  # centre (5.5, 1.5)
    # inside, 0.5 px from the top edge and farther from the others
    assert soft[2, 6] == pytest.approx(1 / (1 + math.exp(-0.25 / sigma)), rel=1e-9)  # centre (6.5, 2.5)


def test_mirror_matches_camera_flipped():
    """Pixel centres at x + 0.5 mirror onto pixel centres under Camera.flipped (u -> w - u): rendering the mirrored
    mesh through the flipped camera gives the left-right flipped image."""
    verts, faces = body_mesh(900)
    verts = verts + [0.2, 0.0, 0.0]  # off-centre, so a wrong mirror would show
    cam = front_camera((40, 36), dist=[0.1, 0.0, 0.0, 0.002, -0.003], dtype=D)
    cam = cam.replace(K=cam.K + torch.tensor([[0, 0, 1.3], [0, 0, -0.7], [0, 0, 0]], dtype=D))
    mirrored = cam.mirror_world(verts)
    hard = HardRasterizer().render(verts, faces, cam)
    hard_m = HardRasterizer().render(mirrored, faces, cam.flipped())
    np.testing.assert_array_equal(hard_m.mask, hard.mask[:, ::-1])
    np.testing.assert_allclose(hard_m.depth, hard.depth[:, ::-1], atol=1e-9)
    soft = SoftRasterizer(sigma=0.3)
    np.testing.assert_allclose(
        soft.silhouette(mirrored, faces, cam.flipped()), soft.silhouette(verts, faces, cam)[:, ::-1], atol=1e-9
    )


def test_winding_does_not_matter(rng):
    verts, faces = body_mesh(800)
    cam = front_camera((48, 48), dtype=D)
    flipped = faces[:, ::-1].copy()
    hard_a = HardRasterizer().render(verts, faces, cam)
    hard_b = HardRasterizer().render(verts, flipped, cam)
    np.testing.assert_array_equal(hard_a.mask, hard_b.mask)
    np.testing.assert_allclose(hard_a.depth, hard_b.depth, atol=1e-12)
    v = torch.tensor(verts, requires_grad=True)
    soft = SoftRasterizer(sigma=0.3)
    wts = torch.from_numpy(rng.uniform(size=(48, 48)))
    sa = soft.silhouette(v, faces, cam)
    (ga,) = torch.autograd.grad((sa * wts).sum(), v)
    sb = soft.silhouette(v, flipped, cam)
    (gb,) = torch.autograd.grad((sb * wts).sum(), v)
    torch.testing.assert_close(sa, sb, atol=1e-12, rtol=0)
    torch.testing.assert_close(ga, gb, atol=1e-10, rtol=1e-9)
    assert ga.abs().sum() > 0


@pytest.mark.parametrize("kernel", ["torch", "numba"])
def test_faces_behind_near_are_dropped(kernel):
    cam = pinhole(f=10.0, c=(5.0, 4.0), size=(10, 8))
    verts = np.array([[-0.3, -0.3, 1.0], [0.3, -0.3, 1.0], [0.0, 0.3, 1.0], [0.0, 0.0, 0.05]])
    faces = np.array([[0, 1, 2], [0, 1, 3]])
    hard = HardRasterizer(near=0.1).render(verts, faces, cam)
    only_front = HardRasterizer(near=0.1).render(verts, faces[:1], cam)
    np.testing.assert_array_equal(hard.mask, only_front.mask)
    np.testing.assert_array_equal(
        SoftRasterizer(near=0.1, kernel=kernel).silhouette(verts, faces, cam),
        SoftRasterizer(near=0.1, kernel=kernel).silhouette(verts, faces[:1], cam),
    )


# ---------------------------------------------------------------------------------------------------------------
# soft rasteriser


@pytest.mark.parametrize("kernel", ["torch", "numba"])
def test_gradcheck_silhouette_with_distortion(kernel):
    cam = pinhole(dist=torch.tensor([0.1, 0.0, 0.0, 0.01, -0.005], dtype=D))
    V = torch.tensor(
        [[[-0.2, -0.15, 1.0], [0.25, -0.1, 1.1], [0.0, 0.2, 0.9], [0.3, 0.25, 1.2]]], dtype=D, requires_grad=True
    )
    faces = torch.tensor([[0, 1, 2], [1, 3, 2]])
    soft = SoftRasterizer(sigma=2.0, eps=1e-30, kernel=kernel)  # no truncation inside this small image
    assert torch.autograd.gradcheck(lambda v: soft.silhouette(v, faces, cam), (V,), eps=1e-6, atol=1e-7)
    # a second, sharper setting where only some pixels feel each face
    soft = SoftRasterizer(sigma=0.7, eps=1e-20, kernel=kernel)
    assert torch.autograd.gradcheck(lambda v: soft.silhouette(v, faces[:1], cam), (V,), eps=1e-6, atol=1e-7)


@pytest.mark.parametrize("kernel", ["torch", "numba"])
def test_gradcheck_camera_translation(kernel):
    """Gradients also reach camera parameters given as tensors that require grad."""
    V = torch.tensor([[-0.2, -0.15, 1.0], [0.25, -0.1, 1.1], [0.0, 0.2, 0.9]], dtype=D)
    K = torch.tensor([[20.0, 0, 6.0], [0, 20.0, 5.0], [0, 0, 1]], dtype=D)
    t = torch.tensor([0.02, -0.01, 0.05], dtype=D, requires_grad=True)
    soft = SoftRasterizer(sigma=1.5, eps=1e-30, kernel=kernel)

    def render(t):
        return soft.silhouette(V, [[0, 1, 2]], Camera(torch.eye(3, dtype=D), t, K, image_size=(12, 10)))

    assert torch.autograd.gradcheck(render, (t,), eps=1e-6, atol=1e-7)


@pytest.mark.parametrize("kernel", ["torch", "numba"])
def test_per_batch_faces(rng, kernel):
    verts, faces = body_mesh(300)
    cam = front_camera((24, 32), dtype=D)
    keep_a = faces[: len(faces) // 2]
    keep_b = faces[len(faces) // 2 :]
    v = np.stack([verts, verts])
    both = np.stack([keep_a, keep_b])  # (B, F, 3): a different mesh per batch element
    soft = SoftRasterizer(sigma=0.3, kernel=kernel)
    sil = soft.silhouette(v, both, cam)
    np.testing.assert_allclose(sil[0], soft.silhouette(verts, keep_a, cam), atol=1e-12)
    np.testing.assert_allclose(sil[1], soft.silhouette(verts, keep_b, cam), atol=1e-12)
    hard = HardRasterizer().render(v, both, cam)
    np.testing.assert_array_equal(hard.face_index[1], HardRasterizer().render(verts, keep_b, cam).face_index)


def test_gradcheck_rgb():
    cam = pinhole(dist=torch.tensor([0.05, 0.0, 0.0, 0.0, 0.0], dtype=D))
    V = torch.tensor(
        [[-0.2, -0.15, 1.0], [0.25, -0.1, 1.1], [0.0, 0.2, 0.9], [0.3, 0.25, 1.2]], dtype=D, requires_grad=True
    )
    cols = torch.tensor(
        [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [0.5, 0.5, 0.5]], dtype=D, requires_grad=True
    )
    faces = torch.tensor([[0, 1, 2], [1, 3, 2]])
    soft = SoftRasterizer(sigma=2.0, eps=1e-30, gamma=0.05, near=0.5, far=3.0)
    assert torch.autograd.gradcheck(
        lambda v, c: soft.rgb(v, faces, cam, c, background=(0.1, 0.2, 0.3), return_alpha=True),
        (V, cols),
        eps=1e-6,
        atol=1e-7,
    )


def test_soft_silhouette_matches_hard_at_small_sigma():
    verts, faces = body_mesh(6890)
    cam = front_camera((128, 128))
    v = torch.tensor(verts, dtype=torch.float32)
    hard = HardRasterizer().render(v, faces, cam).mask
    soft = SoftRasterizer(sigma=1e-3).silhouette(v, faces, cam)
    assert hard.sum() > 1500  # a body filling a decent part of the image
    assert iou(soft > 0.5, hard) >= 0.99
    # larger sigma blurs: values strictly between 0 and 1 appear along the outline, and the mask only grows
    blurry = SoftRasterizer(sigma=0.5).silhouette(v, faces, cam)
    assert ((blurry > 0.05) & (blurry < 0.95)).sum() > 300
    assert bool((blurry[hard] > 0.5).all())


def test_batched_cameras_and_chunking(rng):
    verts, faces = body_mesh(600)
    cams = Camera.stack(
        [front_camera((40, 32), dtype=D), front_camera((40, 32), distance=2.5, dist=[0.2, 0, 0, 0, 0], dtype=D)]
    )
    v = torch.tensor(np.stack([verts, verts + [0.1, 0.0, 0.0]]), requires_grad=True)
    soft = SoftRasterizer(sigma=0.4)
    wts = torch.from_numpy(rng.uniform(size=(2, 32, 40)))
    sil = soft.silhouette(v, faces, cams)
    (g,) = torch.autograd.grad((sil * wts).sum(), v)
    for b in range(2):  # each batch element is rendered through its own camera
        vb = v[b].detach().clone().requires_grad_(True)
        sb = soft.silhouette(vb, faces, cams[b])
        (gb,) = torch.autograd.grad((sb * wts[b]).sum(), vb)
        torch.testing.assert_close(sil[b], sb, atol=1e-12, rtol=0)
        torch.testing.assert_close(g[b], gb, atol=1e-10, rtol=1e-8)
    # tiny chunks give the same values and gradients as one big chunk
    small = SoftRasterizer(sigma=0.4, max_pairs=50)  # hundreds of chunks
    sil2 = small.silhouette(v, faces, cams)
    (g2,) = torch.autograd.grad((sil2 * wts).sum(), v)
    torch.testing.assert_close(sil, sil2, atol=1e-12, rtol=0)
    torch.testing.assert_close(g, g2, atol=1e-10, rtol=1e-8)


def test_distortion_moves_the_silhouette_like_camera_project():
    w, h = 80, 60
    K = torch.tensor([[60.0, 0, 40], [0, 60.0, 30], [0, 0, 1]], dtype=D)
    plain = Camera(torch.eye(3, dtype=D), torch.zeros(3, dtype=D), K, image_size=(w, h))
    barrel = plain.replace(dist=torch.tensor([-0.35, 0.05, 0.0, 0.0, 0.0], dtype=D))
    verts, faces = uv_sphere(10, 16, radii=(0.12, 0.12, 0.12), center=(0.5, 0.3, 1.0))
    uv = barrel.project(verts)
    ref_mask = numpy_zbuffer(uv[faces], None, w, h)[0]
    hard = HardRasterizer().render(verts, faces, barrel).mask
    np.testing.assert_array_equal(hard, ref_mask)
    moved = HardRasterizer().render(verts, faces, plain).mask
    ys, xs = np.nonzero(hard)
    ys0, xs0 = np.nonzero(moved)
    assert xs0.mean() - xs.mean() > 2.5 and ys0.mean() - ys.mean() > 1.5  # barrel distortion pulls it inwards
    soft = SoftRasterizer(sigma=1e-3).silhouette(verts, faces, barrel)
    assert iou(soft > 0.5, ref_mask) > 0.97


def test_soft_rgb_front_face_wins():
    """Two overlapping triangles: the near one (red) covers the far one (green) where they overlap."""
    w, h = 20, 16
    cam = pinhole(f=20.0, c=(10.0, 8.0), size=(w, h))
    near_tri = np.array([[-0.4, -0.3, 1.0], [0.2, -0.3, 1.0], [-0.4, 0.3, 1.0]])
    far_tri = np.array([[-0.3, -0.6, 2.0], [0.8, -0.6, 2.0], [0.8, 0.6, 2.0]])
    verts = np.concatenate([near_tri, far_tri])
    faces = np.array([[0, 1, 2], [3, 4, 5]])
    cols = np.array([[1.0, 0, 0]] * 3 + [[0, 1.0, 0]] * 3)
    hard = HardRasterizer(background=(0, 0, 1.0)).render(verts, faces, cam, vertex_colors=cols)
    soft, alpha = SoftRasterizer(sigma=0.01, gamma=1e-4, near=0.5, far=10.0).rgb(
        verts, faces, cam, cols, background=(0, 0, 1.0), return_alpha=True
    )
    # compare away from edges, where the soft image must equal the hard one
    inner = np.ones((h, w), bool)
    for j in (0, 1):
        e = HardRasterizer().render(verts, faces[j : j + 1], cam).mask
        ring = e ^ _erode(e)
        inner &= ~ring & ~(_dilate(e) ^ e)
    assert inner.sum() > 100 and (hard.face_index[inner] == 0).sum() > 10 and (hard.face_index[inner] == 1).sum() > 10
    np.testing.assert_allclose(soft[inner], hard.rgb[inner], atol=1e-3)
    np.testing.assert_allclose(alpha[inner], hard.mask[inner].astype(float), atol=1e-3)


def _erode(m):
    out = m.copy()
    out[1:] &= m[:-1]
    out[:-1] &= m[1:]
    out[:, 1:] &= m[:, :-1]
    out[:, :-1] &= m[:, 1:]
    return out


def _dilate(m):
    return ~_erode(~m)


def test_optimisation_fits_a_target_silhouette():
    """Gradients of a soft-IoU loss move and scale a sphere onto a target silhouette."""
    torch.manual_seed(0)
    w = h = 64
    cam = pinhole(f=60.0, c=(32.0, 32.0), size=(w, h))
    unit, faces = uv_sphere(10, 16)
    unit = torch.from_numpy(unit)
    target = HardRasterizer().render(unit * 0.3 + torch.tensor([0.1, -0.05, 2.0], dtype=D), faces, cam).mask
    target = target.to(D)
    log_s = torch.tensor(math.log(0.2), dtype=D, requires_grad=True)
    shift = torch.tensor([-0.1, 0.1, 2.0], dtype=D, requires_grad=True)
    opt = torch.optim.Adam([log_s, shift], lr=0.02)

    def hard_iou():
        with torch.no_grad():
            return iou(HardRasterizer().render(unit * log_s.exp() + shift, faces, cam).mask, target.bool())

    start = hard_iou()
    steps = 100
    for i in range(steps):
        # anneal sigma from 1 px² (long reach) to 0.05 px² (soft outlines are dilated by about sqrt(sigma) px,
        # which would otherwise bias the fit towards a smaller sphere)
        soft = SoftRasterizer(sigma=1.0 * 0.05 ** (i / (steps - 1)))
        opt.zero_grad()
        sil = soft.silhouette(unit * log_s.exp() + shift, faces, cam)
        loss = 1 - (sil * target).sum() / (sil + target - sil * target).sum()
        loss.backward()
        opt.step()
    assert start < 0.5
    assert hard_iou() > 0.9
    assert abs(math.exp(log_s.item()) / shift[2].item() - 0.3 / 2.0) < 0.01  # apparent size recovered
    assert abs(shift[0].item() / shift[2].item() - 0.05) < 0.01  # direction of the centre: (0.1, -0.05) / 2
    assert abs(shift[1].item() / shift[2].item() + 0.025) < 0.01


# ---------------------------------------------------------------------------------------------------------------
# interface, errors, backends


def test_bad_inputs_raise_clear_errors():
    cam = pinhole()
    soft = SoftRasterizer()
    verts = np.zeros((4, 2))
    with pytest.raises(ValueError, match=r"\(B, V, 3\).*\(4, 2\)"):
        soft.silhouette(verts, [[0, 1, 2]], cam)
    with pytest.raises(ValueError, match=r"\[0, 4\)"):
        soft.silhouette(np.ones((4, 3)), [[0, 1, 4]], cam)
    with pytest.raises(ValueError, match=r"batch shape \(3,\)"):
        soft.silhouette(np.ones((2, 4, 3)), [[0, 1, 2]], Camera.stack([cam, cam, cam]))
    with pytest.raises(ValueError, match="vertex_colors"):
        soft.rgb(np.ones((4, 3)), [[0, 1, 2]], cam, np.ones((3, 3)))
    with pytest.raises(ValueError, match="sigma"):
        SoftRasterizer(sigma=0)
    no_size = Camera(np.eye(3), np.zeros(3), np.eye(3))
    with pytest.raises(ValueError, match="image_size"):
        soft.silhouette(np.ones((4, 3)), [[0, 1, 2]], no_size)
    with pytest.raises(ValueError, match="unknown renderer backend"):
        get_renderer("opengl")


def test_chunk_bounds():
    counts = torch.tensor([3, 4, 10, 1, 1, 2])
    assert chunk_bounds(counts, 100) == [(0, 6)]
    # each run stays within 7 pairs unless a single face is bigger
    assert chunk_bounds(counts, 7) == [(0, 2), (2, 3), (3, 6)]
    assert chunk_bounds(torch.tensor([], dtype=torch.long), 7) == []


def test_get_renderer_and_missing_neural_renderer(monkeypatch):
    assert isinstance(get_renderer("soft", sigma=0.2), SoftRasterizer)
    assert isinstance(get_renderer("hard"), HardRasterizer)
    monkeypatch.setitem(sys.modules, "neural_renderer", None)  # as if not installed
    with pytest.raises(ImportError, match="pip install neural_renderer_pytorch"):
        get_renderer("neural_renderer")


def test_neural_renderer_backend_coordinates(monkeypatch):
    """Our side of the neural_renderer contract, checked with a stand-in module that rasterises the NDC faces it
    receives by the convention documented in backends.py (pixel (r, c) at x = (2c+1-S)/S, y = (2r+1-S)/S,
    one-sided: only faces whose corners run counter-clockwise in (x, y) are drawn)."""

    def rasterize_silhouettes(faces, image_size, anti_aliasing, near, far, eps):
        S = image_size
        f = faces.detach().cpu().numpy()
        out = np.zeros((f.shape[0], S, S))
        for b in range(f.shape[0]):
            for r in range(S):
                for c in range(S):
                    p = np.array([(2 * c + 1 - S) / S, (2 * r + 1 - S) / S])
                    for tri in f[b]:
                        a, bb, cc = tri[:, :2]
                        cr = [_cross2(bb - a, p - a), _cross2(cc - bb, p - bb), _cross2(a - cc, p - cc)]
                        if min(cr) >= 0 and (tri[:, 2] > near).all():
                            out[b, r, c] = 1.0
                            break
        return torch.from_numpy(out)

    fake = types.ModuleType("neural_renderer")
    fake.rasterize_silhouettes = rasterize_silhouettes
    monkeypatch.setitem(sys.modules, "neural_renderer", fake)
    w, h = 14, 9  # non-square: rendered at 14 x 14 and cropped
    cam = pinhole(f=12.0, c=(7.0, 4.5), size=(w, h))
    verts, faces = uv_sphere(4, 6, radii=(0.3, 0.2, 0.3), center=(0.1, 0.05, 1.0))
    sil = get_renderer("neural_renderer").silhouette(verts, faces, cam)
    np.testing.assert_array_equal(sil > 0.5, HardRasterizer().render(verts, faces, cam).mask)


# ---------------------------------------------------------------------------------------------------------------
# the numba kernels against the PyTorch pairs


def _awkward_triangles(rng, B=3, F=60, w=40, h=30):
    """Pixel triangles of every kind the culling and the row spans must get right: small and large, thin
    slivers, zero-area (a repeated corner, collinear corners), both windings, partly and wholly off the image, one
    behind the near plane and one with a NaN corner."""
    centre = rng.uniform([-5, -5], [w + 5, h + 5], size=(B, F, 1, 2))
    size = rng.choice([0.4, 1.5, 4.0, 15.0], size=(B, F, 1, 1))
    tri = centre + size * rng.normal(size=(B, F, 3, 2))
    tri[:, 0, 1] = tri[:, 0, 0]  # a repeated corner
    tri[:, 1, 2] = 0.5 * (tri[:, 1, 0] + tri[:, 1, 1])  # collinear
    tri[:, 2, 1] = tri[:, 2, 0] + [20.0, 0.3]  # a long sliver
    tri[:, 2, 2] = tri[:, 2, 0] + [0.1, 0.5]
    tri[:, 3] += [-200.0, 0.0]  # off the image
    z = rng.uniform(1.0, 3.0, size=(B, F, 3))
    z[:, 4, 1] = 0.05  # behind the near plane
    tri[0, 5, 0, 0] = np.nan
    return torch.tensor(tri), torch.tensor(z)


@pytest.mark.parametrize("sigma", [0.1, 0.7])
def test_numba_kernel_matches_torch_pairs(rng, sigma):
    from weakpose.render import soft_silhouette

    tri, z = _awkward_triangles(rng)
    weights = torch.tensor(rng.uniform(size=(3, 30, 40)))
    results = {}
    for kernel in ("torch", "numba"):
        t = tri.clone().requires_grad_(True)
        sil = soft_silhouette(t, z, 40, 30, sigma=sigma, kernel=kernel)
        (sil * weights).sum().backward()
        results[kernel] = (sil.detach(), torch.nan_to_num(t.grad))
    np.testing.assert_allclose(results["numba"][0], results["torch"][0], atol=1e-12)
    # faces 0 and 1 have no area: which coincident corner gets their gradient is a tie that float rounding breaks
    np.testing.assert_allclose(results["numba"][1][:, 2:], results["torch"][1][:, 2:], rtol=1e-6, atol=1e-7)
    assert results["torch"][1].abs().max() > 0.1  # gradients exist to compare


def test_numba_kernel_float32_and_threads_agree(rng):
    verts, faces = body_mesh(1500)
    cam = front_camera((64, 64))
    v = torch.tensor(np.stack([verts + [0.02 * b, 0.0, 0.0] for b in range(5)]), dtype=torch.float32)
    weights = torch.rand(5, 64, 64, generator=torch.Generator().manual_seed(0))
    out = {}
    old = torch.get_num_threads()
    try:
        for kernel, threads in (("torch", 1), ("numba", 1), ("numba", 2)):
            torch.set_num_threads(threads)
            vv = v.clone().requires_grad_(True)
            sil = SoftRasterizer(sigma=0.1, kernel=kernel).silhouette(vv, faces, cam)
            (sil * weights).sum().backward()
            out[kernel, threads] = (sil.detach(), vv.grad)
    finally:
        torch.set_num_threads(old)
    # the thread split is by whole batch elements: identical numbers
    assert torch.equal(out["numba", 1][0], out["numba", 2][0]) and torch.equal(out["numba", 1][1], out["numba", 2][1])
    torch.testing.assert_close(out["numba", 1][0], out["torch", 1][0], atol=2e-6, rtol=0)
    scale = out["torch", 1][1].abs().max()
    torch.testing.assert_close(out["numba", 1][1], out["torch", 1][1], atol=1e-4 * float(scale), rtol=1e-3)


def test_kernel_choice_is_checked():
    with pytest.raises(ValueError, match="kernel must be one of"):
        SoftRasterizer(kernel="cuda")
    from weakpose.render.rasterize import use_numba_kernel

    assert not use_numba_kernel("torch", torch.zeros(1))
    assert use_numba_kernel("auto", torch.zeros(1)) and use_numba_kernel("numba", torch.zeros(1, dtype=torch.float64))
