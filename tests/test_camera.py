"""Camera projection against hand-written scalar formulas, H36M file readers (JSON and a Martinez-layout h5 written
here from the JSON numbers), frame round trips, screen normalisation, mirroring and bad input."""

import json

import h5py
import numpy as np
import pytest
import torch

from weakpose.data.h36m.cameras import (
    H36M_CAMERA_IDS,
    H36M_IMAGE_SIZES,
    default_h36m_cameras_path,
    get_camera,
    get_subject_cameras,
    load_h36m_cameras_json,
    load_martinez_cameras_h5,
)
from weakpose.geometry import Camera, normalize_screen_coordinates, unnormalize_screen_coordinates

JSON_PATH = default_h36m_cameras_path()


@pytest.fixture(scope="module")
def raw():
    with open(JSON_PATH, encoding="utf-8") as f:
        return json.load(f)


@pytest.fixture(scope="module")
def cams():
    return load_h36m_cameras_json()


def _points_in_front(rng, n=20):
    """Camera-frame points 3-6 m away spread over the image (normalised coords up to ~0.45)."""
    z = rng.uniform(3, 6, n)
    xy = rng.uniform(-0.45, 0.45, (n, 2)) * z[:, None]
    return np.concatenate([xy, z[:, None]], axis=1)


# -- independent scalar references, written from the published formulas -----------------------------------------


def _scalar_project(xc, fx, fy, cx, cy, k1, k2, k3, p1, p2, model, skew=0.0):
    X, Y, Z = (float(v) for v in xc)
    x, y = X / Z, Y / Z
    r2 = x * x + y * y
    radial = 1.0 + k1 * r2 + k2 * r2**2 + k3 * r2**3
    if model == "h36m":  # H36M toolkit ProjectPointRadial: tan = p1*y + p2*x; XXX = XX*(radial+tan) + [p2; p1]*r2
        tan = p1 * y + p2 * x
        xd, yd = x * (radial + tan) + p2 * r2, y * (radial + tan) + p1 * r2
    elif model == "videopose3d":  # Pavllo et al.: tan = p1*x + p2*y; XXX = XX*(radial+tan) + [p1; p2]*r2
        tan = p1 * x + p2 * y
        xd, yd = x * (radial + tan) + p1 * r2, y * (radial + tan) + p2 * r2
    else:  # OpenCV projectPoints
        xd = x * radial + 2 * p1 * x * y + p2 * (r2 + 2 * x * x)
        yd = y * radial + p1 * (r2 + 2 * y * y) + 2 * p2 * x * y
    return fx * xd + skew * yd + cx, fy * yd + cy


def _raw_params(raw, subject, cam_id):
    K = np.array(raw["intrinsics"][cam_id]["calibration_matrix"])
    k1, k2, p1, p2, k3 = raw["intrinsics"][cam_id]["distortion"]
    R = np.array(raw["extrinsics"][subject][cam_id]["R"])
    t_mm = np.array(raw["extrinsics"][subject][cam_id]["t"]).reshape(3)
    return R, t_mm, K, (k1, k2, k3, p1, p2)


@pytest.mark.parametrize("model", ["h36m", "videopose3d", "opencv"])
def test_projection_with_distortion_matches_hand_formula(raw, rng, model):
    subject, cam_id = "S9", "58860488"
    R, t_mm, K, (k1, k2, k3, p1, p2) = _raw_params(raw, subject, cam_id)
    cam = load_h36m_cameras_json(distortion_model=model)[subject][cam_id]
    xc = _points_in_front(rng)
    world = (xc - t_mm / 1000.0) @ R  # R^T (xc - t), metres
    uv = cam.project(world)
    for p, (u, v) in zip(xc, uv):
        eu, ev = _scalar_project(p, K[0, 0], K[1, 1], K[0, 2], K[1, 2], k1, k2, k3, p1, p2, model)
        assert abs(u - eu) < 1e-8 and abs(v - ev) < 1e-8
    # distortion is really on: without it the pixels move by more than a pixel somewhere
    pinhole = xc[:, :2] / xc[:, 2:] * [K[0, 0], K[1, 1]] + [K[0, 2], K[1, 2]]
    assert np.abs(uv - pinhole).max() > 1.0


def test_distortion_models_differ_only_slightly(cams, rng):
    xc = _points_in_front(rng)
    uv = {
        m: cams["S1"]["54138969"].replace(distortion_model=m).project_camera(xc)
        for m in ("h36m", "videopose3d", "opencv")
    }
    for a in uv:
        for b in uv:
            assert np.abs(uv[a] - uv[b]).max() < 1.5  # tangential terms only, |p| ~ 1e-3


def test_skew_and_pinhole_by_hand(rng):
    R = np.eye(3)
    K = np.array([[800.0, 3.0, 320.0], [0.0, 790.0, 240.0], [0.0, 0.0, 1.0]])
    dist = [0.1, -0.05, 0.01, 0.002, -0.003]
    cam = Camera(R, np.zeros(3), K, dist, image_size=(640, 480), distortion_model="opencv")
    xc = _points_in_front(rng, 5)
    uv = cam.project_camera(xc)
    for p, (u, v) in zip(xc, uv):
        eu, ev = _scalar_project(p, 800, 790, 320, 240, 0.1, -0.05, 0.01, 0.002, -0.003, "opencv", skew=3.0)
        assert abs(u - eu) < 1e-9 and abs(v - ev) < 1e-9
    plain = Camera(R, np.zeros(3), K)  # no distortion: u ~ K [x/z, y/z, 1]
    hom = (K @ (xc / xc[:, 2:]).T).T
    np.testing.assert_allclose(plain.project_camera(xc), hom[:, :2], atol=1e-9)


# -- the H36M files -------------------------------------------------------------------------------------------------


def test_json_reader_units_order_and_sizes(raw, cams):
    assert list(cams) == [f"S{i}" for i in range(1, 12)]
    for subject, per_cam in cams.items():
        assert tuple(per_cam) == H36M_CAMERA_IDS
        for cam_id, cam in per_cam.items():
            R, t_mm, K, dist = _raw_params(raw, subject, cam_id)
            assert cam.dtype == torch.float64 and cam.name == cam_id
            np.testing.assert_array_equal(cam.R.numpy(), R)
            np.testing.assert_allclose(cam.t.numpy(), t_mm / 1000.0, rtol=1e-15)
            np.testing.assert_array_equal(cam.K.numpy(), K)
            np.testing.assert_array_equal(cam.dist.numpy(), dist)  # [k1, k2, k3, p1, p2]
            assert tuple(cam.image_size.tolist()) == H36M_IMAGE_SIZES[cam_id]
    assert H36M_IMAGE_SIZES["54138969"] == (1000, 1002) and H36M_IMAGE_SIZES["55011271"] == (1000, 1000)
    licence = JSON_PATH.parent / "LICENSE-h36m-cameras"
    assert "MIT License" in licence.read_text() and "Karim Iskakov" in licence.read_text()


def test_real_cameras_look_at_the_capture_area(cams):
    """Physical check of the world->camera convention with the real numbers: the cameras hang ~1.5 m up, 4-6 m
    from the origin, and a point 1 m above the floor centre lands inside every image."""
    for subject in cams:
        batch = get_subject_cameras(cams, subject)
        assert np.all(np.abs(batch.center[:, 2].numpy() - 1.55) < 0.15)
        dist = np.linalg.norm(batch.center[:, :2].numpy(), axis=1)
        assert np.all((dist > 3.5) & (dist < 6.5))
        uv = batch.project(np.array([[0.0, 0.0, 1.0]]))[:, 0]
        assert np.all((uv > 250) & (uv < 750))
        wrong = Camera(batch.R.mT, batch.t, batch.K, batch.dist)  # the classic transposed-R mistake
        assert np.abs(wrong.project(np.array([[0.0, 0.0, 1.0]]))[:, 0] - uv).max() > 100


def _write_martinez_h5(path, raw, name_as="dataset_codes", skip=None, untransposed=False):
    """The published Martinez layout: subject{n}/camera{k}/{R (transposed), T (centre, mm), f, c, k, p, Name}."""
    with h5py.File(path, "w") as f:
        for subject, per_cam in raw["extrinsics"].items():
            for index, cam_id in enumerate(H36M_CAMERA_IDS, start=1):
                R, t_mm, K, (k1, k2, k3, p1, p2) = _raw_params(raw, subject, cam_id)
                g = f.create_group(f"subject{int(subject[1:])}/camera{index}")
                fields = {
                    "R": R if untransposed else R.T,
                    "T": (-R.T @ t_mm).reshape(3, 1),
                    "f": np.array([[K[0, 0]], [K[1, 1]]]),
                    "c": np.array([[K[0, 2]], [K[1, 2]]]),
                    "k": np.array([[k1], [k2], [k3]]),
                    "p": np.array([[p1], [p2]]),
                }
                for key, value in fields.items():
                    if key != skip:
                        g.create_dataset(key, data=value)
                if name_as == "dataset_codes":
                    g.create_dataset("Name", data=np.frombuffer(cam_id.encode(), dtype=np.uint8))
                elif name_as == "attr_bytes":
                    g.attrs["Name"] = np.bytes_(cam_id)
                elif name_as == "dataset_string":
                    g.create_dataset("Name", data=cam_id)


@pytest.mark.parametrize("name_as", ["dataset_codes", "attr_bytes", "dataset_string", None])
def test_martinez_h5_and_json_project_identically(tmp_path, raw, cams, rng, name_as):
    path = tmp_path / "cameras.h5"
    _write_martinez_h5(path, raw, name_as=name_as)
    h5cams = load_martinez_cameras_h5(path)
    assert list(h5cams) == list(cams)
    xc = _points_in_front(rng, 10)
    for subject in cams:
        for cam_id in H36M_CAMERA_IDS:
            a, b = cams[subject][cam_id], h5cams[subject][cam_id]
            world = a.camera_to_world(xc)
            assert np.abs(a.project(world) - b.project(world)).max() < 1e-6
            np.testing.assert_allclose(b.center.numpy(), a.center.numpy(), atol=1e-12)
            assert b.image_size.tolist() == a.image_size.tolist()


def test_martinez_h5_subject_filter_and_bad_files(tmp_path, raw):
    path = tmp_path / "cameras.h5"
    _write_martinez_h5(path, raw)
    assert list(load_martinez_cameras_h5(path, subjects=[9, "S11"])) == ["S9", "S11"]
    with pytest.raises(KeyError, match="S42"):
        load_martinez_cameras_h5(path, subjects=["S42"])

    missing = tmp_path / "missing_p.h5"
    _write_martinez_h5(missing, raw, skip="p")
    with pytest.raises(KeyError, match=r"missing_p\.h5.*subject1/camera1.*'p'"):
        load_martinez_cameras_h5(missing)

    with h5py.File(tmp_path / "wrong_name.h5", "w") as f:
        g = f.create_group("subject1/camera2")
        g.create_dataset("Name", data=np.frombuffer(b"54138969", dtype=np.uint8))
    with pytest.raises(ValueError, match=r"subject1/camera2.*'54138969'.*55011271"):
        load_martinez_cameras_h5(tmp_path / "wrong_name.h5")

    with h5py.File(tmp_path / "bad_shape.h5", "w") as f:
        g = f.create_group("subject1/camera1")
        for key, shape in {"R": (3, 2), "T": (3, 1), "f": (2, 1), "c": (2, 1), "k": (3, 1), "p": (2, 1)}.items():
            g.create_dataset(key, data=np.zeros(shape))
    with pytest.raises(ValueError, match=r"bad_shape\.h5.*subject1/camera1/R.*\(3, 3\).*\(3, 2\)"):
        load_martinez_cameras_h5(tmp_path / "bad_shape.h5")

    with h5py.File(tmp_path / "empty.h5", "w") as f:
        f.create_group("poses")
    with pytest.raises(KeyError, match=r"empty\.h5.*subject"):
        load_martinez_cameras_h5(tmp_path / "empty.h5")
    with pytest.raises(FileNotFoundError, match="nope.h5"):
        load_martinez_cameras_h5(tmp_path / "nope.h5")


def test_json_bad_files(tmp_path, raw):
    broken = json.loads(json.dumps(raw))
    del broken["intrinsics"]["55011271"]["distortion"]
    (tmp_path / "a.json").write_text(json.dumps(broken))
    with pytest.raises(KeyError, match=r"a\.json.*intrinsics/55011271/distortion"):
        load_h36m_cameras_json(tmp_path / "a.json")
    broken = json.loads(json.dumps(raw))
    broken["extrinsics"]["S5"]["60457274"]["t"] = [1, 2]
    (tmp_path / "b.json").write_text(json.dumps(broken))
    with pytest.raises(ValueError, match=r"b\.json.*extrinsics/S5/60457274/t.*\(3,\).*\(2,\)"):
        load_h36m_cameras_json(tmp_path / "b.json")
    (tmp_path / "c.json").write_text('{"extrinsics": {}}')
    with pytest.raises(KeyError, match=r"c\.json.*'intrinsics'"):
        load_h36m_cameras_json(tmp_path / "c.json")
    with pytest.raises(FileNotFoundError, match="none.json"):
        load_h36m_cameras_json(tmp_path / "none.json")


def test_get_camera_lookup(cams):
    cam = cams["S11"]["60457274"]
    assert get_camera(cams, "S11", "60457274") is cam
    assert get_camera(cams, 11, 60457274) is cam and get_camera(cams, "subject11", "60457274") is cam
    with pytest.raises(KeyError, match=r"'S12'.*subjects available.*S1"):
        get_camera(cams, "S12", "60457274")
    with pytest.raises(KeyError, match=r"12345.*cameras available.*54138969"):
        get_camera(cams, "S1", 12345)
    with pytest.raises(KeyError, match="not an index"):
        get_camera(cams, "S1", 1)


# -- frames, normalisation, mirroring ----------------------------------------------------------------------------


def test_world_camera_round_trip_and_centre(cams, rng):
    cam = cams["S5"]["55011271"]
    world = rng.normal(size=(7, 17, 3))
    xc = cam.world_to_camera(world)
    np.testing.assert_allclose(xc, world @ cam.R.numpy().T + cam.t.numpy(), atol=1e-12)
    np.testing.assert_allclose(cam.camera_to_world(xc), world, atol=1e-12)
    np.testing.assert_allclose(cam.world_to_camera(cam.center.numpy()[None]), np.zeros((1, 3)), atol=1e-12)


def test_normalize_screen_known_values_and_round_trip(cams, rng):
    w, h = 1000, 1002
    uv = np.array([[0.0, 0.0], [1000.0, 1002.0], [500.0, 501.0], [250.0, 100.0]])
    expected = np.array([[-1.0, -1.002], [1.0, 1.002], [0.0, 0.0], [-0.5, 0.2 - 1.002]])
    np.testing.assert_allclose(normalize_screen_coordinates(uv, w, h), expected, atol=1e-15)
    np.testing.assert_allclose(unnormalize_screen_coordinates(expected, w, h), uv, atol=1e-12)
    # per-camera sizes in a batch: 54138969 is 1000x1002, 55011271 is 1000x1000
    batch = get_subject_cameras(cams, "S1")
    pts = torch.from_numpy(rng.uniform(0, 1000, size=(4, 5, 2)))
    n = batch.normalize_screen(pts)
    assert isinstance(n, torch.Tensor)
    np.testing.assert_allclose(n[0].numpy(), normalize_screen_coordinates(pts[0].numpy(), 1000, 1002))
    np.testing.assert_allclose(n[1].numpy(), normalize_screen_coordinates(pts[1].numpy(), 1000, 1000))
    torch.testing.assert_close(batch.unnormalize_screen(n), pts)


@pytest.mark.parametrize("model", ["h36m", "videopose3d", "opencv"])
def test_flipped_camera_mirrors_the_image(cams, rng, model):
    cam = cams["S7"]["60457274"].replace(distortion_model=model)
    K = cam.K.clone()
    K[0, 1] = 2.5  # exercise the skew rule too
    cam = cam.replace(K=K)
    w = float(cam.image_size[0])
    xc = _points_in_front(rng)
    uv = cam.project_camera(xc)
    mirrored = xc * np.array([-1.0, 1.0, 1.0])
    flip = cam.flipped()
    np.testing.assert_allclose(flip.project_camera(mirrored), np.stack([w - uv[:, 0], uv[:, 1]], 1), atol=1e-9)
    assert abs(float(flip.K[0, 2]) - (w - float(cam.K[0, 2]))) < 1e-12
    world = cam.camera_to_world(xc[None])
    np.testing.assert_allclose(
        flip.project(cam.mirror_world(world))[0], np.stack([w - uv[:, 0], uv[:, 1]], 1), atol=1e-9
    )
    twice = flip.flipped()
    np.testing.assert_allclose(twice.K.numpy(), cam.K.numpy(), atol=1e-12)
    np.testing.assert_array_equal(twice.dist.numpy(), cam.dist.numpy())


def test_flip_rule_names_p2_for_the_toolkit_model(cams):
    cam = cams["S1"]["54138969"]
    d, f = cam.dist.numpy(), cam.flipped().dist.numpy()
    np.testing.assert_array_equal(f, [d[0], d[1], d[2], d[3], -d[4]])  # [k1, k2, k3, p1, -p2]


def test_undistort_and_backproject(cams, rng):
    cam = cams["S6"]["58860488"]
    xc = _points_in_front(rng)
    xy = xc[:, :2] / xc[:, 2:]
    np.testing.assert_allclose(cam.undistort(cam.distort(xy)), xy, atol=1e-10)
    np.testing.assert_allclose(cam.backproject(cam.project_camera(xc), xc[:, 2]), xc, atol=1e-9)


# -- batching, types, gradients ----------------------------------------------------------------------------------


def test_batched_projection_matches_per_camera(cams, rng):
    batch = get_subject_cameras(cams, "S8")
    assert batch.batch_shape == (4,) and batch.name == H36M_CAMERA_IDS and batch[2].name == "58860488"
    world = rng.normal(size=(6, 4, 17, 3)) * 0.5 + [0, 0, 1]  # (frames, cameras, J, 3)
    per_frame = batch.project(world)  # camera batch broadcasts against the dims before (J, 3)
    assert per_frame.shape == (6, 4, 17, 2)
    for i, cam_id in enumerate(H36M_CAMERA_IDS):
        np.testing.assert_allclose(per_frame[:, i], cams["S8"][cam_id].project(world[:, i]), atol=1e-9)
    same = batch.project(world[0, 0])  # one skeleton (J, 3) seen by all 4 cameras -> (4, J, 2)
    assert same.shape == (4, 17, 2)
    for i, cam_id in enumerate(H36M_CAMERA_IDS):
        np.testing.assert_allclose(same[i], cams["S8"][cam_id].project(world[0, 0]), atol=1e-9)
    sub = batch[1:3]
    assert sub.batch_shape == (2,) and sub.name == ("55011271", "58860488")


def test_types_dtypes_and_gradients(cams, rng):
    cam = cams["S1"]["54138969"]
    world = rng.normal(size=(3, 17, 3)) * 0.4 + [0, 0, 1]
    np_uv = cam.project(world)
    assert isinstance(np_uv, np.ndarray) and np_uv.dtype == np.float64
    x32 = torch.tensor(world, dtype=torch.float32, requires_grad=True)
    uv32 = cam.project(x32)
    assert uv32.dtype == torch.float32
    np.testing.assert_allclose(uv32.detach().numpy(), np_uv, atol=1e-2)
    uv32.sum().backward()
    assert x32.grad is not None and torch.isfinite(x32.grad).all()
    # gradient against central finite differences (float64)
    x = torch.tensor(world[:1, :2], requires_grad=True)
    assert torch.autograd.gradcheck(lambda p: cam.project(p), (x,))
    c32 = cam.to(dtype=torch.float32)
    assert c32.dtype == torch.float32 and c32.image_size.dtype == torch.float32


def test_constructor_dtype_follows_input_and_broadcasts():
    R = torch.eye(3, dtype=torch.float32)
    cam = Camera(R, torch.zeros(3, dtype=torch.float32), torch.eye(3, dtype=torch.float32), image_size=(640, 480))
    assert cam.dtype == torch.float32 and cam.batch_shape == ()
    many = Camera(np.broadcast_to(np.eye(3), (5, 3, 3)), np.zeros(3), np.eye(3))
    assert many.batch_shape == (5,) and many.dtype == torch.float64 and many.t.shape == (5, 3)


def test_bad_input_messages():
    eye, zero = np.eye(3), np.zeros(3)
    with pytest.raises(ValueError, match=r"K must have shape \(\.\.\., 3, 3\), got \(2, 3\)"):
        Camera(eye, zero, np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"R must have shape"):
        Camera(np.eye(4), zero, eye)
    with pytest.raises(ValueError, match=r"t must have shape \(\.\.\., 3\), got \(3, 1\).*squeeze"):
        Camera(eye, np.zeros((3, 1)), eye)
    with pytest.raises(ValueError, match=r"dist must have shape \(\.\.\., 5\)"):
        Camera(eye, zero, eye, dist=np.zeros(4))
    with pytest.raises(ValueError, match="distortion_model"):
        Camera(eye, zero, eye, distortion_model="fisheye")
    with pytest.raises(ValueError, match="do not broadcast"):
        Camera(np.broadcast_to(eye, (4, 3, 3)), np.zeros((3, 3)), eye)
    cam = Camera(eye, zero, eye)
    with pytest.raises(ValueError, match=r"project: expected points of shape \(\.\.\., J, 3\), got \(5, 2\)"):
        cam.project(np.zeros((5, 2)))
    with pytest.raises(ValueError, match=r"\(\.\.\., J, 3\), got \(3,\)"):
        cam.world_to_camera(np.zeros(3))
    with pytest.raises(ValueError, match="no image_size"):
        cam.flipped()
    with pytest.raises(ValueError, match="no image_size"):
        cam.normalize_screen(np.zeros((2, 2)))


@pytest.mark.parametrize("model", ["h36m", "videopose3d", "opencv"])
def test_screen_intrinsics_and_their_flip_reproject_like_the_camera(cams, rng, model):
    """The 9-value intrinsics the lifters take reproject as the camera does, and their flip is the flipped camera's."""
    from weakpose.geometry.camera import flip_screen_intrinsics, reproject, screen_intrinsics

    cam = cams["S7"]["60457274"].replace(distortion_model=model)
    w, h = (float(v) for v in cam.image_size)
    k = screen_intrinsics(cam.K.numpy(), cam.dist.numpy(), w, h)
    # by hand: f * 2 / w, the principal point normalised like a pixel, the distortion as stored
    K = cam.K.numpy()
    np.testing.assert_allclose(k[:4], [K[0, 0] * 2 / w, K[1, 1] * 2 / w, K[0, 2] * 2 / w - 1, K[1, 2] * 2 / w - h / w])
    np.testing.assert_allclose(k[4:], cam.dist.numpy())
    flip = cam.flipped()
    np.testing.assert_allclose(
        flip_screen_intrinsics(k, model), screen_intrinsics(flip.K.numpy(), flip.dist.numpy(), w, h), atol=1e-12
    )
    xc = _points_in_front(rng)
    root = xc[:1]
    got = reproject(xc - root, root[0], k, distortion_model=model)
    np.testing.assert_allclose(got, cam.normalize_screen(cam.project_camera(xc)), atol=1e-9)
