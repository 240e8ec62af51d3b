import numpy as np
import pytest

from weakpose.data.h36m.cameras import load_h36m_cameras_json
from weakpose.data.synthetic.scene import RoomStyle, crop_box, crop_camera, render_room


@pytest.fixture(scope="module")
def cam():
    return load_h36m_cameras_json()["S9"]["58860488"]


def test_crop_camera_is_the_affine_crop_of_the_projection(cam, rng):
    X = rng.normal([0, 0, 1], 0.4, size=(30, 3))
    box = np.array([250.0, 120.0, 500.0])
    cc = crop_camera(cam, box, 128)
    expect = (np.asarray(cam.project(X)) - box[:2]) * (128 / 500.0)
    np.testing.assert_allclose(np.asarray(cc.project(X)), expect, atol=1e-9)
    assert [int(v) for v in cc.image_size] == [128, 128]


def test_crop_box_is_centred_on_the_root_and_spans_the_cube_at_its_depth(cam):
    root = np.array([[0.2, -0.3, 0.9], [1.0, 0.5, 1.0]])
    boxes = crop_box(cam, root, cube_size=2.0)
    R, t = np.asarray(cam.R), np.asarray(cam.t)
    f = max(np.asarray(cam.focal))
    for r, (x0, y0, side) in zip(root, boxes):
        z = (R @ r + t)[2]
        assert side == pytest.approx(f * 2.0 / z)
        u, v = np.asarray(cam.project(r[None]))[0]
        assert (x0 + side / 2, y0 + side / 2) == pytest.approx((u, v))
        # the cube's face at the root's depth fits in the box (up to the lens distortion)
        right = np.linalg.solve(R, (R @ r + t) + [1.0, 0, 0] - t)
        assert np.asarray(cam.project(right[None]))[0, 0] == pytest.approx(x0 + side, rel=0.02)
    with pytest.raises(ValueError, match="behind camera"):
        crop_box(cam, np.asarray(cam.center).reshape(3) - 2 * R[2])


@pytest.mark.parametrize("point", [(0.3, 0.3, 0.0), (-0.9, 1.5, 0.0), (0.3, 0.9, 0.0)])
def test_room_pixel_sees_the_floor_tile_under_it(cam, point):
    """A one-pixel crop centred on the projection of a floor point shows that point's checker tile."""
    style = RoomStyle()
    P = np.array(point)
    u, v = np.asarray(cam.project(P[None]))[0]
    one = crop_camera(cam, np.array([u - 1.0, v - 1.0, 2.0]), 1)  # pixel centre (0.5, 0.5) <- (u, v)
    rgb = render_room(one, 1, 1, style)[0, 0]
    tile = int(np.floor(P[0] / style.floor_tile) + np.floor(P[1] / style.floor_tile)) % 2
    shade = 1 - 0.25 * min(np.hypot(P[0], P[1]) / style.wall_radius, 1)
    np.testing.assert_allclose(rgb, np.array(style.floor_colours[tile]) * shade, atol=1e-4)


def test_room_views_are_static_and_distinct(cam):
    small = crop_camera(cam, np.array([0.0, 0.0, 1000.0]), 64)
    img1, img2 = render_room(small, 64, 64), render_room(small, 64, 64)
    np.testing.assert_array_equal(img1, img2)
    other = load_h36m_cameras_json()["S9"]["54138969"]
    img3 = render_room(crop_camera(other, np.array([0.0, 0.0, 1000.0]), 64), 64, 64)
    assert np.abs(img1 - img3).mean() > 0.02
    assert img1.dtype == np.float32 and 0 <= img1.min() and img1.max() <= 1
