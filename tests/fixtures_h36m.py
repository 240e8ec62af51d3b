"""Write small Human3.6M files in the exact published layouts (for tests; no weakpose code is used to write them).

* VideoPose3D npz: ``np.savez_compressed(path, positions_3d=dict)`` / ``positions_2d=dict, metadata=dict`` --
  nested dicts pickled into 0-d object arrays, as ``data/prepare_data_h36m.py`` of VideoPose3D writes them.
* Martinez et al. h5: ``S{n}/MyPoses/3D_positions/<Action>.h5`` with dataset ``3D_positions`` (96, N) float64 mm,
  joint-major rows; ``S{n}/StackedHourglass/<Action>.<cam>.h5`` with dataset ``poses`` (N, 32) = 16 x (u, v).
* Original release CDF: ``S{n}/MyPoseFeatures/D3_Positions/<Action>.cdf`` with variable ``Pose`` (1, N, 96) mm,
  written with cdflib's writer (row- or column-major, z- or r-variable).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

# Written out here (not imported from weakpose) so the tests stay independent of the code under test.
CAMERA_IDS = ("54138969", "55011271", "58860488", "60457274")
H36M32_TO_17 = [0, 1, 2, 3, 6, 7, 8, 12, 13, 14, 15, 17, 18, 19, 25, 26, 27]


def make_poses_mm(rng: np.random.Generator, n_frames: int, n_joints: int = 32) -> np.ndarray:
    """(N, J, 3) float64 world millimetres: distinct joints inside the H36M capture volume (z up, near the
    origin where all four cameras look), moving smoothly so frames differ."""
    base = np.stack(
        [rng.uniform(-400, 400, n_joints), rng.uniform(-400, 400, n_joints), rng.uniform(50, 1750, n_joints)], axis=-1
    )
    t = np.arange(n_frames)[:, None, None]
    drift = np.array([3.0, -2.0, 0.5]) * t + 20.0 * np.sin(0.3 * t + np.arange(n_joints)[None, :, None])
    return base[None] + drift


def write_videopose3d_3d(path, positions: dict) -> Path:
    """``positions[subject][action] -> (N, J, 3)`` metres, saved as VideoPose3D's ``data_3d_h36m.npz``."""
    np.savez_compressed(path, positions_3d=positions)
    return Path(path)


def write_videopose3d_2d(path, positions_2d: dict, metadata: dict | None = None) -> Path:
    """``positions_2d[subject][action] -> list of (N, J, 2|3)`` pixels per camera (+ ``metadata``)."""
    if metadata is None:
        np.savez_compressed(path, positions_2d=positions_2d)
    else:
        np.savez_compressed(path, positions_2d=positions_2d, metadata=metadata)
    return Path(path)


def write_martinez_3d(root, subject: str, file_action: str, positions_mm: np.ndarray) -> Path:
    """``root/<subject>/MyPoses/3D_positions/<file_action>.h5``, dataset ``3D_positions`` (96, N) float64 mm:
    row ``3*j + c`` holds coordinate ``c`` of joint ``j`` (joint-major), column ``n`` is frame ``n``."""
    import h5py

    folder = Path(root) / subject / "MyPoses" / "3D_positions"
    folder.mkdir(parents=True, exist_ok=True)
    n = positions_mm.shape[0]
    table = np.empty((96, n), dtype=np.float64)
    for j in range(32):
        for c in range(3):
            table[3 * j + c, :] = positions_mm[:, j, c]
    path = folder / f"{file_action}.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("3D_positions", data=table)
    return path


def write_martinez_sh(
    root, subject: str, file_action: str, camera: str, uv_mpii16: np.ndarray, folder_name: str = "StackedHourglass"
) -> Path:
    """``root/<subject>/StackedHourglass/<file_action>.<camera>.h5``, dataset ``poses`` (N, 32):
    columns ``2*j, 2*j+1`` are (u, v) of MPII joint ``j``."""
    import h5py

    folder = Path(root) / subject / folder_name
    folder.mkdir(parents=True, exist_ok=True)
    n = uv_mpii16.shape[0]
    table = np.empty((n, 32), dtype=np.float64)
    for j in range(16):
        table[:, 2 * j] = uv_mpii16[:, j, 0]
        table[:, 2 * j + 1] = uv_mpii16[:, j, 1]
    path = folder / f"{file_action}.{camera}.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("poses", data=table)
    return path


def write_cdf_pose(
    root,
    subject: str,
    file_action: str,
    positions_mm: np.ndarray,
    *,
    majority: str = "Row_major",
    var_type: str = "zVariable",
    dtype=np.float64,
) -> Path:
    """``root/<subject>/MyPoseFeatures/D3_Positions/<file_action>.cdf`` with ``Pose`` (1, N, 96) mm."""
    from cdflib.cdfwrite import CDF

    folder = Path(root) / subject / "MyPoseFeatures" / "D3_Positions"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{file_action}.cdf"
    if path.exists():
        os.remove(path)
    n = positions_mm.shape[0]
    data = positions_mm.reshape(1, n, 96).astype(dtype)
    if majority == "Column_major":
        # cdflib's writer stores the given buffer as is: hand it the Fortran-ordered bytes of the record.
        data = np.ascontiguousarray(data[0].T).reshape(1, 96, n)
    spec = {"Majority": majority}
    var = {
        "Variable": "Pose",
        "Data_Type": CDF.CDF_DOUBLE if dtype == np.float64 else CDF.CDF_FLOAT,
        "Num_Elements": 1,
        "Rec_Vary": True,
    }
    if var_type == "rVariable":
        spec["rDim_sizes"] = [n, 96]
        var.update(Var_Type="rVariable", Dim_Vary=[True, True])
    else:
        var["Dim_Sizes"] = [n, 96]
    cdf = CDF(str(path), cdf_spec=spec)
    cdf.write_var(var, var_data=data)
    cdf.close()
    return path


def truncate_file(path, keep_fraction: float = 0.5) -> Path:
    """Cut a file to a fraction of its bytes (a download that stopped half way)."""
    path = Path(path)
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep_fraction)])
    return path


def load_camera_json(path) -> dict:
    """The raw ``camera-parameters.json`` as a dict (for independent NumPy projections in tests)."""
    import json

    with open(path, encoding="utf-8") as f:
        return json.load(f)


def project_numpy(points_m: np.ndarray, cam_json: dict, subject: str, camera: str) -> np.ndarray:
    """Independent reference projection (Human3.6M toolkit / Martinez ``project_point_radial``) of world metres.

    x_cam = R X + t (t in mm in the file); x = X/Z; radial = 1 + k1 r2 + k2 r2^2 + k3 r2^3;
    tan = p1 y + p2 x; x_d = x (radial + tan) + p2 r2; y_d = y (radial + tan) + p1 r2; u = f x_d + c.
    The JSON stores distortion as [k1, k2, p1, p2, k3].
    """
    ext = cam_json["extrinsics"][subject][camera]
    intr = cam_json["intrinsics"][camera]
    R = np.asarray(ext["R"], dtype=np.float64)
    t = np.asarray(ext["t"], dtype=np.float64).reshape(3) / 1000.0
    K = np.asarray(intr["calibration_matrix"], dtype=np.float64)
    k1, k2, p1, p2, k3 = intr["distortion"]
    xc = np.einsum("ij,...j->...i", R, points_m.astype(np.float64)) + t
    x, y = xc[..., 0] / xc[..., 2], xc[..., 1] / xc[..., 2]
    r2 = x * x + y * y
    radial = 1 + k1 * r2 + k2 * r2**2 + k3 * r2**3
    tan = p1 * y + p2 * x
    xd = x * (radial + tan) + p2 * r2
    yd = y * (radial + tan) + p1 * r2
    return np.stack([K[0, 0] * xd + K[0, 2], K[1, 1] * yd + K[1, 2]], axis=-1)


def world_to_camera_numpy(points_m: np.ndarray, cam_json: dict, subject: str, camera: str) -> np.ndarray:
    ext = cam_json["extrinsics"][subject][camera]
    R = np.asarray(ext["R"], dtype=np.float64)
    t = np.asarray(ext["t"], dtype=np.float64).reshape(3) / 1000.0
    return np.einsum("ij,...j->...i", R, points_m.astype(np.float64)) + t


def write_martinez_cameras_h5(path, cam_json: dict, subjects=("S1", "S5", "S6", "S7", "S8", "S9", "S11")) -> Path:
    """Martinez et al.'s ``cameras.h5``: ``subject{n}/camera{k}`` with ``R`` = TRANSPOSE of world->camera, ``T`` =
    camera centre (3, 1) mm, ``f``, ``c`` (2, 1), ``k`` (3, 1), ``p`` (2, 1), ``Name``."""
    import h5py

    with h5py.File(path, "w") as f:
        for subject in subjects:
            for k, cam in enumerate(CAMERA_IDS, start=1):
                ext, intr = cam_json["extrinsics"][subject][cam], cam_json["intrinsics"][cam]
                R = np.asarray(ext["R"], dtype=np.float64)
                t = np.asarray(ext["t"], dtype=np.float64).reshape(3)
                K = np.asarray(intr["calibration_matrix"], dtype=np.float64)
                k1, k2, p1, p2, k3 = intr["distortion"]
                g = f.create_group(f"subject{subject[1:]}/camera{k}")
                g["R"] = R.T
                g["T"] = (-R.T @ t).reshape(3, 1)
                g["f"] = np.array([[K[0, 0]], [K[1, 1]]])
                g["c"] = np.array([[K[0, 2]], [K[1, 2]]])
                g["k"] = np.array([[k1], [k2], [k3]])
                g["p"] = np.array([[p1], [p2]])
                g["Name"] = np.array([ord(ch) for ch in cam], dtype=np.uint16)
    return Path(path)
