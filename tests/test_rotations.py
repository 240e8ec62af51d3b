"""Rotation conversions against scipy.spatial.transform.Rotation (an independent implementation) and closed forms."""

import math

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from weakpose.geometry import rotations as rot


def _random_axis_angle(rng, n, max_angle=math.pi):
    axis = rng.normal(size=(n, 3))
    axis /= np.linalg.norm(axis, axis=1, keepdims=True)
    return axis * rng.uniform(0, max_angle, size=(n, 1))


def _canonical(q):
    """q and -q are one rotation: make w >= 0 (as weakpose returns them)."""
    q = np.array(q, dtype=np.float64)
    q[q[..., 0] < 0] *= -1
    return q


def _scipy_quat_wxyz(r):
    xyzw = r.as_quat()  # scipy stores scalar last
    return _canonical(np.concatenate([xyzw[..., 3:], xyzw[..., :3]], axis=-1))


# -- against scipy -----------------------------------------------------------------------------------------------


def test_axis_angle_to_matrix_matches_scipy(rng):
    aa = _random_axis_angle(rng, 500)
    np.testing.assert_allclose(rot.axis_angle_to_matrix(aa), Rotation.from_rotvec(aa).as_matrix(), atol=1e-12)


def test_matrix_to_axis_angle_matches_scipy(rng):
    mats = Rotation.random(500, random_state=1).as_matrix()
    np.testing.assert_allclose(rot.matrix_to_axis_angle(mats), Rotation.from_matrix(mats).as_rotvec(), atol=1e-10)


def test_quaternions_match_scipy(rng):
    r = Rotation.random(500, random_state=2)
    q = _scipy_quat_wxyz(r)
    np.testing.assert_allclose(rot.matrix_to_quaternion(r.as_matrix()), q, atol=1e-12)
    np.testing.assert_allclose(rot.quaternion_to_matrix(q), r.as_matrix(), atol=1e-12)
    np.testing.assert_allclose(rot.axis_angle_to_quaternion(r.as_rotvec()), q, atol=1e-12)
    np.testing.assert_allclose(rot.quaternion_to_axis_angle(q), r.as_rotvec(), atol=1e-10)


def test_quaternion_inputs_need_not_be_unit_or_positive(rng):
    r = Rotation.random(50, random_state=3)
    q = _scipy_quat_wxyz(r)
    scaled = -q * rng.uniform(0.1, 10, size=(50, 1))  # same rotations: negative and scaled
    np.testing.assert_allclose(rot.quaternion_to_matrix(scaled), r.as_matrix(), atol=1e-12)
    np.testing.assert_allclose(rot.quaternion_to_axis_angle(scaled), r.as_rotvec(), atol=1e-10)


@pytest.mark.parametrize("order", ["ZYX", "XYZ", "YXZ", "ZXY", "XZY", "YZX", "ZXZ", "XYX"])
def test_euler_matches_scipy_intrinsic(rng, order):
    ang = rng.uniform(-math.pi, math.pi, size=(100, 3))
    np.testing.assert_allclose(rot.euler_to_matrix(ang, order), Rotation.from_euler(order, ang).as_matrix(), atol=1e-12)
    deg = np.rad2deg(ang)
    out = rot.euler_to_matrix(torch.from_numpy(deg), order, degrees=True)
    assert isinstance(out, torch.Tensor)
    np.testing.assert_allclose(out.numpy(), Rotation.from_euler(order, deg, degrees=True).as_matrix(), atol=1e-12)


def test_euler_zyx_is_rz_ry_rx_by_hand():
    a, b, c = 0.3, -1.1, 2.0
    rz = np.array([[math.cos(a), -math.sin(a), 0], [math.sin(a), math.cos(a), 0], [0, 0, 1]])
    ry = np.array([[math.cos(b), 0, math.sin(b)], [0, 1, 0], [-math.sin(b), 0, math.cos(b)]])
    rx = np.array([[1, 0, 0], [0, math.cos(c), -math.sin(c)], [0, math.sin(c), math.cos(c)]])
    np.testing.assert_allclose(rot.euler_to_matrix(np.array([a, b, c]), "ZYX"), rz @ ry @ rx, atol=1e-15)


# -- round trips and special angles --------------------------------------------------------------------------------


def test_round_trips(rng):
    aa = _random_axis_angle(rng, 300, max_angle=math.pi - 1e-6)
    np.testing.assert_allclose(rot.matrix_to_axis_angle(rot.axis_angle_to_matrix(aa)), aa, atol=1e-9)
    np.testing.assert_allclose(rot.quaternion_to_axis_angle(rot.axis_angle_to_quaternion(aa)), aa, atol=1e-9)
    mats = rot.axis_angle_to_matrix(aa)
    np.testing.assert_allclose(rot.quaternion_to_matrix(rot.matrix_to_quaternion(mats)), mats, atol=1e-12)
    np.testing.assert_allclose(rot.rot6d_to_matrix(rot.matrix_to_rot6d(mats)), mats, atol=1e-12)


@pytest.mark.parametrize("angle", [0.0, 1e-12, 1e-8, 1e-5, 1e-3, 9.99e-3, 1.001e-2, 0.5])
def test_small_angles_match_scipy(rng, angle):
    axis = rng.normal(size=(4, 3))
    aa = axis / np.linalg.norm(axis, axis=1, keepdims=True) * angle
    r = Rotation.from_rotvec(aa)
    np.testing.assert_allclose(rot.axis_angle_to_matrix(aa), r.as_matrix(), atol=1e-15)
    np.testing.assert_allclose(rot.axis_angle_to_quaternion(aa), _scipy_quat_wxyz(r), atol=1e-15)
    np.testing.assert_allclose(rot.matrix_to_axis_angle(r.as_matrix()), aa, atol=1e-12)
    np.testing.assert_allclose(rot.quaternion_to_axis_angle(_scipy_quat_wxyz(r)), aa, atol=1e-15)


@pytest.mark.parametrize("eps", [0.0, 1e-10, 1e-6, 1e-3])
def test_near_pi(rng, eps):
    axis = rng.normal(size=(6, 3))
    axis /= np.linalg.norm(axis, axis=1, keepdims=True)
    aa = axis * (math.pi - eps)
    mats = rot.axis_angle_to_matrix(aa)
    np.testing.assert_allclose(mats, Rotation.from_rotvec(aa).as_matrix(), atol=1e-12)
    back = rot.matrix_to_axis_angle(mats)
    # at exactly pi, +axis and -axis are the same rotation: compare the rotation and the angle
    np.testing.assert_allclose(np.linalg.norm(back, axis=1), math.pi - eps, atol=1e-9)
    np.testing.assert_allclose(rot.axis_angle_to_matrix(back), mats, atol=1e-9)
    if eps >= 1e-6:
        np.testing.assert_allclose(back, aa, atol=1e-8)


def test_gradients_finite_and_correct_at_zero():
    zero = torch.zeros(3, dtype=torch.float64)
    # dR/d(aa_i) at 0 is the generator [e_i]x, since R ≈ I + [aa]x
    g = torch.autograd.functional.jacobian(rot.axis_angle_to_matrix, zero)  # (3, 3, 3)
    expected = torch.zeros(3, 3, 3, dtype=torch.float64)
    expected[2, 1, 0], expected[1, 2, 0] = 1, -1
    expected[0, 2, 1], expected[2, 0, 1] = 1, -1
    expected[1, 0, 2], expected[0, 1, 2] = 1, -1
    torch.testing.assert_close(g, expected)

    jq = torch.autograd.functional.jacobian(rot.axis_angle_to_quaternion, zero)
    torch.testing.assert_close(jq, torch.cat([torch.zeros(1, 3), 0.5 * torch.eye(3)]).double())

    ident = torch.tensor([1.0, 0, 0, 0], dtype=torch.float64)
    ja = torch.autograd.functional.jacobian(rot.quaternion_to_axis_angle, ident)
    torch.testing.assert_close(ja, torch.cat([torch.zeros(3, 1), 2 * torch.eye(3)], dim=1).double())

    eye = torch.eye(3, dtype=torch.float64, requires_grad=True)
    rot.matrix_to_axis_angle(eye).sum().backward()
    assert torch.isfinite(eye.grad).all()


def test_gradcheck_random_inputs(rng):
    aa = torch.from_numpy(_random_axis_angle(rng, 4, 3.0)).requires_grad_()
    assert torch.autograd.gradcheck(rot.axis_angle_to_matrix, (aa,))
    assert torch.autograd.gradcheck(rot.axis_angle_to_quaternion, (aa,))
    q = torch.from_numpy(_scipy_quat_wxyz(Rotation.random(4, random_state=5))).requires_grad_()
    assert torch.autograd.gradcheck(rot.quaternion_to_axis_angle, (q,))
    assert torch.autograd.gradcheck(rot.quaternion_to_matrix, (q,))
    x6 = torch.from_numpy(rng.normal(size=(4, 6))).requires_grad_()
    assert torch.autograd.gradcheck(rot.rot6d_to_matrix, (x6,))
    mats = torch.from_numpy(Rotation.random(4, random_state=6).as_matrix()).requires_grad_()
    assert torch.autograd.gradcheck(rot.matrix_to_quaternion, (mats,))


# -- 6D --------------------------------------------------------------------------------------------------------------


def test_rot6d_layout_is_first_two_columns():
    mats = Rotation.random(3, random_state=7).as_matrix()
    expected = np.stack([mats[:, 0, 0], mats[:, 0, 1], mats[:, 1, 0], mats[:, 1, 1], mats[:, 2, 0], mats[:, 2, 1]], 1)
    np.testing.assert_array_equal(rot.matrix_to_rot6d(mats), expected)


def test_rot6d_gram_schmidt_matches_numpy(rng):
    x = rng.normal(size=(50, 6))
    out = rot.rot6d_to_matrix(x)
    for xi, m in zip(x, out):
        a1, a2 = xi[[0, 2, 4]], xi[[1, 3, 5]]
        b1 = a1 / np.linalg.norm(a1)
        b2 = a2 - b1 * (b1 @ a2)
        b2 /= np.linalg.norm(b2)
        np.testing.assert_allclose(m, np.stack([b1, b2, np.cross(b1, b2)], axis=1), atol=1e-12)
    np.testing.assert_allclose(out @ out.transpose(0, 2, 1), np.broadcast_to(np.eye(3), out.shape), atol=1e-12)
    np.testing.assert_allclose(np.linalg.det(out), 1.0, atol=1e-12)


# -- types, batching, errors ----------------------------------------------------------------------------------------


def test_types_and_batch_shapes(rng):
    aa32 = torch.from_numpy(_random_axis_angle(rng, 24).astype(np.float32)).reshape(2, 3, 4, 3)
    m = rot.axis_angle_to_matrix(aa32)
    assert m.dtype == torch.float32 and m.shape == (2, 3, 4, 3, 3)
    np.testing.assert_allclose(
        m.reshape(-1, 3, 3).numpy(), Rotation.from_rotvec(aa32.reshape(-1, 3).double().numpy()).as_matrix(), atol=2e-6
    )
    assert isinstance(rot.matrix_to_quaternion(m.numpy()), np.ndarray)
    assert rot.axis_angle_to_matrix(np.zeros(3, dtype=np.int64)).dtype == np.float64


@pytest.mark.parametrize(
    "fn,bad",
    [
        (rot.axis_angle_to_matrix, np.zeros((5, 4))),
        (rot.matrix_to_axis_angle, np.zeros((5, 3, 4))),
        (rot.quaternion_to_matrix, np.zeros((5, 3))),
        (rot.rot6d_to_matrix, np.zeros((5, 9))),
        (rot.matrix_to_rot6d, np.zeros(9)),
    ],
)
def test_bad_shapes_raise(fn, bad):
    with pytest.raises(ValueError, match=r"expected shape .*got"):
        fn(bad)


def test_bad_euler_order():
    with pytest.raises(ValueError, match="uppercase"):
        rot.euler_to_matrix(np.zeros(3), "zyx")
    with pytest.raises(ValueError, match=r"\(\.\.\., 3\)"):
        rot.euler_to_matrix(np.zeros((4, 2)), "ZYX")
