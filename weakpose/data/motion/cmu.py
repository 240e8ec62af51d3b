"""CMU motion capture as H36M-17 joint positions: BVH skeleton mapping and the motion shipped with weakpose.

Output convention everywhere in this module: **metres, world frame with Z up**, H36M-17 joint order
(0 Hip, 1 RHip, 2 RKnee, 3 RFoot, 4 LHip, 5 LKnee, 6 LFoot, 7 Spine, 8 Thorax, 9 Neck/Nose, 10 Head,
11 LShoulder, 12 LElbow, 13 LWrist, 14 RShoulder, 15 RElbow, 16 RWrist).

CMU BVH files are Y up (the legs' rest offsets point to -y, the head's to +y). They are turned Z up by a +90 degree
rotation about X, ``(x, y, z) -> (x, -z, y)``: a proper rotation, so left stays left. In the rest pose the toes
point to +z (forward) and the left leg's offsets to +x, so ``forward = (LHip - RHip) x up`` (the facing test used
by the ``cmu_motion`` data README) agrees with where the subject walks; the tests check this on the clips.

The 38-node CMU skeleton maps to H36M-17 by joint name (evidence in ``assets/cmu/README.md``): Hip = root, hips =
femur heads, knees, ankles as H36M's "Foot", Spine = top of the lower back, Thorax = neck base (where both
clavicles start), Neck/Nose = the head joint (skull base), Head = the head end site, shoulders/elbows/wrists =
upper arm, forearm and hand joints.

The data used in this project was obtained from mocap.cs.cmu.edu. The database was created with funding from
NSF EIA-0196217.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Dict, Optional, Union

import numpy as np

from weakpose.data.motion.bvh import BvhMotion, read_bvh, resample
from weakpose.io_utils import atomic_write_path
from weakpose.safe_npz import SafeNpz
from weakpose.skeleton import H36M17

__all__ = [
    "CMU_UNITS_TO_METRES",
    "CMU_ASSET_DIR",
    "CMU_MOTION_ASSET",
    "CMU_BVH_CLIPS",
    "CMU_ACTION_NAMES",
    "BVH_NAME_TABLES",
    "y_up_to_z_up",
    "match_name_table",
    "bvh_to_h36m17",
    "estimate_floor_z",
    "load_bvh_h36m17",
    "cmu_bvh_clip_paths",
    "load_cmu_bvh_clips",
    "load_cmu_motion",
    "facing_direction",
    "build_cmu_motion_asset",
]

PathLike = Union[str, os.PathLike]

#: CMU's FAQ: ASF/AMC (and cgspeed BVH) lengths are inches scaled by 0.45; multiply by this to get metres.
CMU_UNITS_TO_METRES = 0.0254 / 0.45

CMU_ASSET_DIR = Path(__file__).resolve().parents[1] / "assets" / "cmu"  # weakpose/data/assets/cmu
CMU_MOTION_ASSET = CMU_ASSET_DIR / "cmu_h36m17_50hz.npz"

#: The three CMU subject-131 clips shipped as BVH (already rescaled to metres), and the action each shows.
CMU_BVH_CLIPS: Dict[str, tuple] = {
    "131_01": ("scaled_131_01.bvh", "StartWalk"),
    "131_02": ("scaled_131_02.bvh", "StartWalk"),
    "131_03": ("scaled_131_03.bvh", "Hop"),
}

#: Action names of the shipped CMU motion (source folder names) -> Human3.6M-style capitalised names.
CMU_ACTION_NAMES = {
    "basketball": "Basketball",
    "basketball_signal": "BasketballSignal",
    "directing_traffic": "DirectingTraffic",
    "jumping": "Jumping",
    "running": "Running",
    "soccer": "Soccer",
    "walking": "Walking",
    "washwindow": "WashWindow",
}

# H36M-17 joint -> BVH node name, one table per naming scheme seen in CMU conversions. End sites are
# "<parent>_End" (see weakpose.data.motion.bvh). The "cmu131" names are those of the shipped scaled_131_0x.bvh files.
BVH_NAME_TABLES: Dict[str, tuple] = {
    "cmu131": (
        "Hips",
        "RightHip",
        "RightKnee",
        "RightAnkle",
        "LeftHip",
        "LeftKnee",
        "LeftAnkle",
        "Chest",
        "lowerneck",
        "Head",
        "Head_End",
        "LeftShoulder",
        "LeftElbow",
        "LeftWrist",
        "RightShoulder",
        "RightElbow",
        "RightWrist",
    ),
    "cgspeed": (
        "Hips",
        "RightUpLeg",
        "RightLeg",
        "RightFoot",
        "LeftUpLeg",
        "LeftLeg",
        "LeftFoot",
        "Spine",
        "Neck",
        "Head",
        "Head_End",
        "LeftArm",
        "LeftForeArm",
        "LeftHand",
        "RightArm",
        "RightForeArm",
        "RightHand",
    ),
}
# Nodes whose lowest point touches the floor (ankles, toe joints, toe end sites), per naming scheme.
_FOOT_NODES: Dict[str, tuple] = {
    "cmu131": ("LeftAnkle", "LeftToe", "LeftToe_End", "RightAnkle", "RightToe", "RightToe_End"),
    "cgspeed": ("LeftFoot", "LeftToeBase", "LeftToeBase_End", "RightFoot", "RightToeBase", "RightToeBase_End"),
}


def y_up_to_z_up(points: np.ndarray) -> np.ndarray:
    """Rotate +90 degrees about X: ``(x, y, z) -> (x, -z, y)``. Proper rotation (det +1), so handedness is kept."""
    p = np.asarray(points)
    return np.stack([p[..., 0], -p[..., 2], p[..., 1]], axis=-1)


def match_name_table(motion: BvhMotion) -> str:
    """Name of the :data:`BVH_NAME_TABLES` entry whose 17 names all exist in ``motion``."""
    names = set(motion.names)
    for key, table in BVH_NAME_TABLES.items():
        if names.issuperset(table):
            return key
    missing = {k: sorted(set(t) - names) for k, t in BVH_NAME_TABLES.items()}
    raise KeyError(f"{motion.source}: joint names match no known CMU naming; missing per scheme: {missing}")


def bvh_to_h36m17(motion: BvhMotion, scale: float = 1.0, z_up: bool = True) -> np.ndarray:
    """H36M-17 positions (N, 17, 3) float64 from a CMU BVH: FK, then ``scale`` (file units -> metres), then Z up.

    ``scale`` is 1 for the shipped ``scaled_*`` files (already metres) and :data:`CMU_UNITS_TO_METRES` for
    original cgspeed files.
    """
    table = BVH_NAME_TABLES[match_name_table(motion)]
    all_nodes = motion.forward_kinematics(include_end_sites=True) * scale
    p17 = all_nodes[:, [motion.index(n) for n in table]]
    return y_up_to_z_up(p17) if z_up else p17


def estimate_floor_z(foot_heights: np.ndarray, percentile: float = 2.0) -> float:
    """Floor height: the ``percentile`` of the per-frame lowest foot point. ``foot_heights`` is (N, K) metres.

    A low percentile rather than the minimum ignores the odd frame where a toe marker dips through the floor.
    """
    return float(np.percentile(np.min(np.asarray(foot_heights), axis=1), percentile))


def load_bvh_h36m17(
    path: PathLike,
    fps: Optional[float] = 50.0,
    scale: float = 1.0,
    subtract_floor: bool = True,
) -> np.ndarray:
    """Read a CMU BVH and return float32 (N, 17, 3) metres, Z up, resampled to ``fps`` (None keeps the file's).

    With ``subtract_floor`` the floor (from the ankle, toe and toe-tip nodes, :func:`estimate_floor_z`) is moved
    to z = 0.
    """
    motion = read_bvh(path)
    key = match_name_table(motion)
    p17 = bvh_to_h36m17(motion, scale=scale)
    if subtract_floor:
        feet = y_up_to_z_up(
            motion.forward_kinematics(include_end_sites=True)[:, [motion.index(n) for n in _FOOT_NODES[key]]] * scale
        )
        p17[..., 2] -= estimate_floor_z(feet[..., 2])
    if fps is not None:
        p17 = resample(p17, motion.fps, fps)
    return p17.astype(np.float32)


def cmu_bvh_clip_paths() -> Dict[str, Path]:
    """Shipped BVH clip id -> path. Raises FileNotFoundError if the package data is missing."""
    paths = {clip: CMU_ASSET_DIR / fname for clip, (fname, _) in CMU_BVH_CLIPS.items()}
    missing = [str(p) for p in paths.values() if not p.is_file()]
    if missing:
        raise FileNotFoundError(f"weakpose package data missing (reinstall weakpose): {missing}")
    return paths


def load_cmu_bvh_clips(fps: float = 50.0) -> Dict[str, Dict[str, np.ndarray]]:
    """The shipped BVH clips as ``dict[action][clip_id] -> float32 (N, 17, 3)`` metres, Z up, floor at 0."""
    out: Dict[str, Dict[str, np.ndarray]] = {}
    for clip, path in cmu_bvh_clip_paths().items():
        out.setdefault(CMU_BVH_CLIPS[clip][1], {})[clip] = load_bvh_h36m17(path, fps=fps)
    return out


# ---- the shipped H36M-17 motion (38 CMU sequences, 8 actions) ---------------------------------------------------
# Stored compactly without pickles: per sequence "<action>/<key>/root" float32 (N, 3) metres and
# "<action>/<key>/rel" int16 (N, 17, 3), joints relative to the root in units of _REL_UNIT metres.
_REL_UNIT = 1e-4  # 0.1 mm: root-relative joints stay within +-3.27 m, and quantisation error is <= 0.05 mm


def load_cmu_motion(path: Optional[PathLike] = None) -> Dict[str, Dict[str, np.ndarray]]:
    """The shipped CMU motion: ``dict[action][key] -> float32 (N, 17, 3)`` metres, Z up, 50 Hz, floor at z = 0.

    Actions are the source names (``walking``, ``basketball_signal``...; see :data:`CMU_ACTION_NAMES`), keys the
    source's ``train_<n>``/``test_<n>`` (Li et al.'s split; meaningless here). Provenance is in
    ``assets/cmu/README.md``; positions carry a quantisation error of at most 0.05 mm.
    """
    path = Path(path) if path is not None else CMU_MOTION_ASSET
    if not path.is_file():
        raise FileNotFoundError(f"CMU motion asset not found: {path} (rebuild with tools/build_cmu_asset.py)")
    out: Dict[str, Dict[str, np.ndarray]] = {}
    with np.load(path, allow_pickle=False) as z:
        for name in z["sequences"]:
            action, key = str(name).split("/")
            root = z[f"{name}/root"].astype(np.float64)
            rel = z[f"{name}/rel"].astype(np.float64) * _REL_UNIT
            if rel.shape[1:] != (17, 3) or root.shape != (rel.shape[0], 3):
                raise ValueError(f"{path}: sequence {name!r} has shapes root {root.shape}, rel {rel.shape}")
            out.setdefault(action, {})[key] = (rel + root[:, None, :]).astype(np.float32)
    return out


def build_cmu_motion_asset(source_npz: PathLike, out_path: PathLike = CMU_MOTION_ASSET, fps: float = 50.0) -> dict:
    """Rebuild the compact asset from the shared ``cmu_h36m17.npz`` (120 Hz): subtract each sequence's ``floor_z``,
    resample to ``fps`` by linear interpolation of positions, store as root float32 + root-relative int16.

    Returns a small report (sequences, frames, bytes, source sha256).
    """
    source_npz = Path(source_npz)
    if not source_npz.is_file():
        raise FileNotFoundError(f"source motion file not found: {source_npz}")
    digest = hashlib.sha256(source_npz.read_bytes()).hexdigest()
    with SafeNpz(source_npz) as z:  # pickled dicts, read without running code from the file
        for key in ("positions_3d", "fps", "floor_z"):
            if key not in z:
                raise KeyError(f"{source_npz}: missing key {key!r}; has {z.files}")
        positions = z["positions_3d"]
        floors = z["floor_z"]
        src_fps = float(z["fps"])
    arrays: Dict[str, np.ndarray] = {}
    names = []
    frames = 0
    for action in sorted(positions):
        for key in sorted(positions[action]):
            p = np.asarray(positions[action][key], dtype=np.float64)
            if p.ndim != 3 or p.shape[1:] != (H36M17.num_joints, 3):
                raise ValueError(
                    f"{source_npz}: positions_3d[{action!r}][{key!r}] has shape {p.shape}, expected (N, 17, 3)"
                )
            p = p.copy()
            p[..., 2] -= float(floors[action][key])
            p = resample(p, src_fps, fps)
            root = p[:, 0]
            rel = np.rint((p - root[:, None]) / _REL_UNIT)
            if np.abs(rel).max() > np.iinfo(np.int16).max:
                raise ValueError(f"{action}/{key}: a joint is more than 3.27 m from the root")
            name = f"{action}/{key}"
            names.append(name)
            arrays[f"{name}/root"] = root.astype(np.float32)
            arrays[f"{name}/rel"] = rel.astype(np.int16)
            frames += len(p)
    notes = (
        "H36M-17 joint positions (metres, Z up, floor at z=0) of 38 CMU motion-capture sequences, resampled "
        f"{src_fps:g} -> {fps:g} Hz by linear interpolation of positions, from cmu_h36m17.npz (sha256 {digest}). "
        "root: float32 (N,3) metres; rel: int16 (N,17,3) root-relative in 0.1 mm. "
        "The data used in this project was obtained from mocap.cs.cmu.edu. "
        "The database was created with funding from NSF EIA-0196217."
    )
    with atomic_write_path(out_path) as tmp:
        np.savez_compressed(
            tmp,
            sequences=np.array(names),
            fps=np.float64(fps),
            notes=np.array(notes),
            source_sha256=np.array(digest),
            **arrays,
        )
    return {
        "sequences": len(names),
        "frames": frames,
        "bytes": Path(out_path).stat().st_size,
        "source_sha256": digest,
        "fps": fps,
    }


def facing_direction(poses: np.ndarray) -> np.ndarray:
    """Unit horizontal forward vectors (..., 3) of H36M-17 poses (Z up): ``(LHip - RHip) x up``."""
    p = np.asarray(poses, dtype=np.float64)
    across = p[..., H36M17.index("LHip"), :] - p[..., H36M17.index("RHip"), :]
    forward = np.cross(across, np.array([0.0, 0.0, 1.0]))
    forward[..., 2] = 0.0
    return forward / np.linalg.norm(forward, axis=-1, keepdims=True)
