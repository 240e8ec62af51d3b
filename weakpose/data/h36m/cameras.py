"""Human3.6M calibration: the shipped camera file (MIT, ``weakpose/data/assets/h36m_cameras.json``, the
``camera-parameters.json`` layout) and Martinez et al.'s ``cameras.h5`` (whose stored R is the TRANSPOSE of the
world->camera rotation and T the camera centre), read into :class:`weakpose.geometry.Camera` objects in metres.

``cameras[subject][camera id]`` -> Camera; camera ids and image sizes are in :mod:`weakpose.data.h36m.protocol`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Dict, Iterable, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from weakpose.data.h36m.protocol import H36M_CAMERA_IDS, H36M_IMAGE_SIZES
from weakpose.geometry.camera import Camera

PathLike = Union[str, os.PathLike]
_MM = 1e-3  # files store millimetres; weakpose uses metres

__all__ = [
    "default_h36m_cameras_path",
    "load_h36m_cameras_json",
    "load_martinez_cameras_h5",
    "get_camera",
    "get_subject_cameras",
    "H36M_CAMERA_IDS",
    "H36M_IMAGE_SIZES",
]


def default_h36m_cameras_path() -> Path:
    """The H36M camera JSON shipped with weakpose (MIT, see ``LICENSE-h36m-cameras`` next to it)."""
    return Path(__file__).resolve().parents[1] / "assets" / "h36m_cameras.json"


def _subject_key(subject) -> str:
    """1, "1", "S1", "s1", "subject1" -> "S1"."""
    s = str(subject).strip()
    low = s.lower()
    for prefix in ("subject", "s"):
        if low.startswith(prefix) and low[len(prefix) :].isdigit():
            return f"S{int(low[len(prefix) :])}"
    if s.isdigit():
        return f"S{int(s)}"
    return s


def _camera_sort_key(cam_id: str):
    return (H36M_CAMERA_IDS.index(cam_id), "") if cam_id in H36M_CAMERA_IDS else (len(H36M_CAMERA_IDS), cam_id)


def _array(value, shape: Tuple[int, ...], where: str) -> np.ndarray:
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{where}: expected numbers of shape {shape}, could not read {value!r:.80}") from exc
    if arr.size != int(np.prod(shape)) or (len(shape) == 2 and arr.shape != shape):
        raise ValueError(f"{where}: expected shape {shape}, got {arr.shape}")
    return arr.reshape(shape)


def _h36m_camera(R, t_m, K, dist, cam_id: str, model: str) -> Camera:
    return Camera(R, t_m, K, dist, image_size=H36M_IMAGE_SIZES.get(cam_id), name=cam_id, distortion_model=model)


def load_h36m_cameras_json(
    path: Optional[PathLike] = None, subjects: Optional[Iterable] = None, distortion_model: str = "h36m"
) -> Dict[str, Dict[str, Camera]]:
    """Read ``camera-parameters.json`` (learnable-triangulation layout) -> ``cams["S1"]["54138969"]``.

    Layout: ``intrinsics[cam] = {calibration_matrix: 3x3, distortion: [k1, k2, p1, p2, k3] (OpenCV order)}``,
    ``extrinsics[subject][cam] = {R: 3x3, t: 3x1 mm}`` with ``x_cam = R X + t``. Returns float64 cameras with ``t``
    in metres and ``dist`` reordered to [k1, k2, k3, p1, p2]. ``path=None`` reads the copy shipped with weakpose.
    """
    path = Path(path) if path is not None else default_h36m_cameras_path()
    if not path.is_file():
        raise FileNotFoundError(f"H36M camera JSON not found: {path}")
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON ({exc})") from exc

    def get(d, key, where):
        if not isinstance(d, Mapping) or key not in d:
            have = sorted(d) if isinstance(d, Mapping) else type(d).__name__
            raise KeyError(f"{path}: missing key '{where}' (found {have})")
        return d[key]

    intrinsics = get(data, "intrinsics", "intrinsics")
    extrinsics = get(data, "extrinsics", "extrinsics")
    wanted = None if subjects is None else {_subject_key(s) for s in subjects}
    out: Dict[str, Dict[str, Camera]] = {}
    for subject, per_cam in extrinsics.items():
        skey = _subject_key(subject)
        if wanted is not None and skey not in wanted:
            continue
        cams = {}
        for cam_id in sorted(per_cam, key=_camera_sort_key):
            ext = per_cam[cam_id]
            where = f"extrinsics/{subject}/{cam_id}"
            R = _array(get(ext, "R", where + "/R"), (3, 3), f"{path}: {where}/R")
            t = _array(get(ext, "t", where + "/t"), (3,), f"{path}: {where}/t")
            intr = get(intrinsics, cam_id, f"intrinsics/{cam_id}")
            K = _array(
                get(intr, "calibration_matrix", f"intrinsics/{cam_id}/calibration_matrix"),
                (3, 3),
                f"{path}: intrinsics/{cam_id}/calibration_matrix",
            )
            d = _array(
                get(intr, "distortion", f"intrinsics/{cam_id}/distortion"),
                (5,),
                f"{path}: intrinsics/{cam_id}/distortion",
            )
            k1, k2, p1, p2, k3 = d  # OpenCV order in the file
            cams[str(cam_id)] = _h36m_camera(R, t * _MM, K, [k1, k2, k3, p1, p2], str(cam_id), distortion_model)
        out[skey] = cams
    if wanted is not None and wanted - set(out):
        raise KeyError(f"{path}: subjects {sorted(wanted - set(out))} not in the file (found {sorted(out)})")
    return out


def _decode_name(value) -> str:
    """A camera name stored as str, bytes, a string array, or an array of character codes (MATLAB export)."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace").strip("\x00 ").strip()
    if isinstance(value, str):
        return value.strip("\x00 ").strip()
    arr = np.asarray(value)
    if arr.dtype.kind in "SUO":
        return "".join(_decode_name(v) for v in arr.ravel())
    if arr.dtype.kind in "iuf":
        return "".join(chr(int(c)) for c in arr.ravel() if int(c) != 0).strip()
    raise ValueError(f"cannot decode a camera name from {value!r:.80}")


def load_martinez_cameras_h5(
    path: PathLike, subjects: Optional[Iterable] = None, distortion_model: str = "h36m"
) -> Dict[str, Dict[str, Camera]]:
    """Read Martinez et al.'s ``cameras.h5`` -> ``cams["S1"]["54138969"]`` (same as :func:`load_h36m_cameras_json`).

    Layout: groups ``subject{n}/camera{k}`` (k = 1..4 -> :data:`H36M_CAMERA_IDS`) with datasets ``R`` (3x3, the
    TRANSPOSE of world->camera), ``T`` (3x1 camera centre, mm), ``f``, ``c`` (2x1), ``k`` (3x1 = k1, k2, k3),
    ``p`` (2x1 = p1, p2) and ``Name`` (dataset or attribute; character codes or a string). Hence
    ``x_cam = Rᵀ (X - T)``: we store ``R_w2c = Rᵀ`` and ``t = -R_w2c T``, in metres.
    """
    import h5py  # local: only this reader needs it

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"Martinez cameras.h5 not found: {path}")
    wanted = None if subjects is None else {_subject_key(s) for s in subjects}
    out: Dict[str, Dict[str, Camera]] = {}
    with h5py.File(path, "r") as f:
        subject_groups = [g for g in f if g.lower().startswith("subject") and g[7:].isdigit()]
        if not subject_groups:
            raise KeyError(f"{path}: no 'subject<n>' groups (found {sorted(f)})")
        for gname in sorted(subject_groups, key=lambda g: int(g[7:])):
            skey = _subject_key(gname)
            if wanted is not None and skey not in wanted:
                continue
            cams = {}
            cam_groups = [c for c in f[gname] if c.lower().startswith("camera") and c[6:].isdigit()]
            for cname in sorted(cam_groups, key=lambda c: int(c[6:])):
                grp = f[gname][cname]
                where = f"{path}: {gname}/{cname}"
                index = int(cname[6:])
                if not 1 <= index <= len(H36M_CAMERA_IDS):
                    raise KeyError(f"{where}: camera index {index} is not 1..{len(H36M_CAMERA_IDS)}")
                cam_id = H36M_CAMERA_IDS[index - 1]
                name = None
                if "Name" in grp:
                    name = _decode_name(grp["Name"][()])
                elif "Name" in grp.attrs:
                    name = _decode_name(grp.attrs["Name"])
                if name is not None and name != cam_id:
                    raise ValueError(f"{where}: Name is {name!r} but {cname} should be camera {cam_id}")

                def read(key, shape):
                    if key not in grp:
                        raise KeyError(f"{where}: missing dataset '{key}' (found {sorted(grp)})")
                    return _array(grp[key][()], shape, f"{where}/{key}")

                R_stored = read("R", (3, 3))
                centre = read("T", (3,)) * _MM
                fxy, cxy = read("f", (2,)), read("c", (2,))
                k, p = read("k", (3,)), read("p", (2,))
                R = R_stored.T
                K = np.array([[fxy[0], 0.0, cxy[0]], [0.0, fxy[1], cxy[1]], [0.0, 0.0, 1.0]])
                cams[cam_id] = _h36m_camera(R, -R @ centre, K, np.concatenate([k, p]), cam_id, distortion_model)
            out[skey] = cams
    if wanted is not None and wanted - set(out):
        raise KeyError(f"{path}: subjects {sorted(wanted - set(out))} not in the file (found {sorted(out)})")
    return out


def get_camera(cameras: Mapping[str, Mapping[str, Camera]], subject, camera) -> Camera:
    """``cameras[subject][camera]`` accepting 1 / "S1" / "subject1" and "54138969" / 54138969, with a KeyError
    that names what exists."""
    skey = _subject_key(subject)
    if skey not in cameras:
        raise KeyError(f"no cameras for subject {subject!r}; subjects available: {sorted(cameras)}")
    cid = str(camera).strip()
    if cid not in cameras[skey]:
        hint = " (use the camera id, e.g. H36M_CAMERA_IDS[i], not an index)" if cid.isdigit() and len(cid) < 3 else ""
        raise KeyError(f"no camera {camera!r} for subject {skey}; cameras available: {list(cameras[skey])}{hint}")
    return cameras[skey][cid]


def get_subject_cameras(
    cameras: Mapping[str, Mapping[str, Camera]], subject, camera_ids: Sequence[str] = H36M_CAMERA_IDS
) -> Camera:
    """The cameras of one subject stacked into a batch of ``len(camera_ids)`` (H36M order by default)."""
    return Camera.stack([get_camera(cameras, subject, c) for c in camera_ids])
