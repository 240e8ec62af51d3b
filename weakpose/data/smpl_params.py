"""Sets of SMPL parameters (pose and shape) to learn a parameter prior from (:class:`weakpose.body.params.SMPLParams`).

An SMPL-parameter prior (e.g. the discriminator of HMR, Kanazawa et al., CVPR 2018) needs examples of real body
poses and shapes as SMPL parameters, not images. Three sources are read here, all into :class:`SMPLParams`:

* SURREAL's per-clip ``*_info.mat`` files (Varol et al., CVPR 2017; MATLAB v5): ``pose`` (72, T) axis-angle, the
  first three the global orientation, and ``shape`` (10, T) betas; columns are frames.
* ``.npz`` files, either weakpose-style (``global_orient`` (T, 3), ``body_pose`` (T, 69), ``betas`` (T, 10) or
  (10,)) or AMASS-style (``poses`` (T, >= 72) axis-angle, ``betas`` (>= 10,)).
* :func:`embedded_smpl_params`, the default that needs no download: the CMU motion shipped with weakpose,
  retargeted onto the body model (:func:`weakpose.body.retarget.retarget_h36m17`), plus sampled shapes.

Axis-angle everywhere (radians, SMPL joint order :data:`weakpose.skeleton.SMPL24`; ``body_pose`` holds joints
1..23, i.e. everything but the pelvis).
"""

from __future__ import annotations

import os
import zlib
from pathlib import Path
from typing import Optional, Union

import numpy as np

from weakpose.body.params import NUM_BODY_JOINTS, SMPLParams, mirror_axis_angle, mirror_params  # noqa: F401
from weakpose.safe_npz import NpzFileError, SafeNpz
from weakpose.skeleton import H36M17

__all__ = [
    "load_surreal_info",
    "load_smpl_npz",
    "load_smpl_param_files",
    "embedded_smpl_params",
]

PathLike = Union[str, os.PathLike]
# ----------------------------------------------------------------------------------------------- files


def _fit_betas(betas: np.ndarray, num_betas: int) -> np.ndarray:
    """(N, k) -> (N, num_betas): extra coefficients dropped, missing ones zero (the mean shape along them)."""
    if betas.shape[1] >= num_betas:
        return betas[:, :num_betas]
    return np.pad(betas, ((0, 0), (0, num_betas - betas.shape[1])))


def _frames_matrix(value: np.ndarray, width: int, path: Path, key: str) -> np.ndarray:
    """A per-frame matrix from a MATLAB array stored ``(width, T)``: returns (T, width).

    Accepts (width, T), the T = 1 squeezed forms (width,) and (1, width) (scipy writes 1-D arrays as rows), and
    (T, width) when T != width would make that ambiguous."""
    a = np.asarray(value)
    if a.dtype == object or not np.issubdtype(a.dtype, np.number):
        raise ValueError(f"{path}: key {key!r} is not numeric (dtype {a.dtype})")
    a = a.astype(np.float64)
    if a.ndim == 1 and a.size == width:
        return a[None]
    if a.ndim == 2 and a.shape[0] == width:
        return a.T
    if a.ndim == 2 and a.shape[1] == width:
        return a
    raise ValueError(f"{path}: key {key!r} has shape {a.shape}; expected ({width}, T) (columns are frames)")


def load_surreal_info(path: PathLike, num_betas: int = 10, stride: int = 1) -> SMPLParams:
    """One SURREAL ``*_info.mat`` file -> :class:`SMPLParams` (T frames; every ``stride``-th kept).

    Reads ``pose`` (72, T) (global orientation + 23 body joints, axis-angle) and ``shape`` (10, T). A ``shape``
    with a single column is used for every frame. The global orientation is SURREAL's own (its camera setup), which
    a body-pose prior does not use.
    """
    from scipy.io import loadmat

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"SURREAL info file not found: {path}")
    try:
        mat = loadmat(str(path))
    except NotImplementedError as exc:  # MATLAB v7.3 = HDF5
        raise ValueError(f"{path}: MATLAB v7.3 (HDF5) files are not supported; save as v5 (-v7): {exc}") from exc
    except Exception as exc:
        raise ValueError(f"{path}: not a readable MATLAB v5 .mat file ({type(exc).__name__}: {exc})") from exc
    for key in ("pose", "shape"):
        if key not in mat:
            keys = sorted(k for k in mat if not k.startswith("__"))
            raise KeyError(
                f"{path}: missing key {key!r} (SURREAL *_info.mat files have 'pose' (72, T) and "
                f"'shape' (10, T)); found {keys}"
            )
    pose = _frames_matrix(mat["pose"], 72, path, "pose")
    shape = np.asarray(mat["shape"], dtype=np.float64)
    if shape.ndim == 1:
        shape = shape[:, None]
    if shape.ndim != 2:
        raise ValueError(f"{path}: key 'shape' has shape {shape.shape}; expected (num_betas, T)")
    if shape.shape[0] == 1 and shape.shape[1] > 1:
        betas = shape  # one shape written as a 1-D array (scipy stores it as a row): used for every frame
    elif shape.shape[1] == len(pose) or shape.shape[1] == 1:
        betas = shape.T
    elif shape.shape[0] == len(pose):  # (T, k) already frame-major
        betas = shape
    else:
        raise ValueError(
            f"{path}: key 'shape' has shape {shape.shape}, which fits neither the {len(pose)} frames "
            "of 'pose' nor a single shape"
        )
    if len(betas) == 1 and len(pose) > 1:
        betas = np.repeat(betas, len(pose), axis=0)
    pose, betas = pose[::stride], betas[::stride]
    return _make(path, pose[:, :3], pose[:, 3:72], _fit_betas(betas, num_betas), "surreal")


def _make(path: Path, go, bp, betas, kind: str) -> SMPLParams:
    try:
        return SMPLParams(go, bp, betas, source=f"{kind}:{path}", sequence=np.full(len(bp), str(path)))
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from exc


def load_smpl_npz(path: PathLike, num_betas: int = 10, stride: int = 1) -> SMPLParams:
    """An ``.npz`` of SMPL parameters -> :class:`SMPLParams`.

    weakpose-style keys ``global_orient`` (T, 3), ``body_pose`` (T, 69) or (T, 23, 3), ``betas`` (T, k) or (k,);
    or AMASS-style ``poses`` (T, >= 72) and ``betas`` (k,). AMASS stores SMPL-H/SMPL-X poses (156/165 values) whose
    joints 22-23 are finger joints, not SMPL's hands: for those the two hand rotations are set to zero.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"SMPL parameter file not found: {path}")
    z = SafeNpz(path)  # refuses .npy and non-zip files in one line naming the file
    with z:
        files = set(z.files)

        def get(key):
            try:
                a = np.asarray(z[key], dtype=np.float64)
            except NpzFileError:
                raise
            except (ValueError, TypeError) as exc:
                raise ValueError(f"{path}: key {key!r} is not a numeric array ({exc})") from exc
            return a

        if "body_pose" in files:
            for key in ("global_orient", "betas"):
                if key not in files:
                    raise KeyError(f"{path}: has 'body_pose' but no {key!r}; found keys {sorted(files)}")
            bp = get("body_pose")
            bp = bp.reshape(len(bp), -1) if bp.ndim == 3 else bp
            go = get("global_orient")
            betas = get("betas")
            kind = "npz"
        elif "poses" in files:
            if "betas" not in files:
                raise KeyError(f"{path}: has 'poses' but no 'betas'; found keys {sorted(files)}")
            poses = get("poses")
            if poses.ndim != 2 or poses.shape[1] < 72:
                raise ValueError(f"{path}: key 'poses' has shape {poses.shape}; expected (T, >= 72) axis-angle")
            poses = poses[:, :72].copy()
            if z["poses"].shape[1] > 72:
                poses[:, 66:72] = 0.0  # SMPL-H/X: these are the first finger joints, not SMPL's hand joints
            go, bp, betas = poses[:, :3], poses[:, 3:], get("betas")
            kind = "amass"
        else:
            raise KeyError(
                f"{path}: no SMPL parameters: expected keys ('global_orient', 'body_pose', 'betas') or "
                f"('poses', 'betas'); found {sorted(files)}"
            )
    if bp.ndim != 2:
        raise ValueError(f"{path}: body pose has shape {bp.shape}; expected (T, 69)")
    if betas.ndim == 1:
        betas = np.repeat(betas[None], len(bp), axis=0)
    if betas.ndim != 2 or len(betas) != len(bp):
        raise ValueError(f"{path}: key 'betas' has shape {betas.shape}; expected (k,) or ({len(bp)}, k)")
    go, bp, betas = go[::stride], bp[::stride], betas[::stride]
    return _make(path, go, bp, _fit_betas(betas, num_betas), kind)


def load_smpl_param_files(
    paths_or_dir, num_betas: int = 10, stride: int = 1, max_files: Optional[int] = None, progress: bool = True
) -> SMPLParams:
    """Read SURREAL ``*_info.mat`` and ``.npz`` parameter files into one set (each file one sequence).

    ``paths_or_dir``: a directory (searched recursively for ``*_info.mat`` and ``*.npz``, sorted), one file, or a
    list of files. ``stride`` keeps every n-th frame (SURREAL is 30 fps: neighbouring frames repeat each other).
    """
    from tqdm.auto import tqdm

    if isinstance(paths_or_dir, (str, os.PathLike)):
        root = Path(paths_or_dir)
        if root.is_dir():
            files = sorted(set(root.rglob("*_info.mat")) | set(root.rglob("*.npz")))
            if not files:
                raise FileNotFoundError(f"no SMPL parameter files (*_info.mat, *.npz) under {root}")
        elif root.exists():
            files = [root]
        else:
            raise FileNotFoundError(f"SMPL parameter path not found: {root}")
    else:
        files = [Path(p) for p in paths_or_dir]
        if not files:
            raise ValueError("load_smpl_param_files: empty list of files")
    if max_files is not None:
        files = files[:max_files]
    parts = []
    for f in tqdm(files, desc="SMPL parameter files", disable=not progress or len(files) < 20):
        if f.suffix == ".mat":
            parts.append(load_surreal_info(f, num_betas=num_betas, stride=stride))
        elif f.suffix == ".npz":
            parts.append(load_smpl_npz(f, num_betas=num_betas, stride=stride))
        else:
            raise ValueError(f"{f}: unknown SMPL parameter file type (expected *_info.mat or .npz)")
    parts = [p for p in parts if len(p)]
    if not parts:
        raise ValueError(f"no frames in {len(files)} SMPL parameter files")
    where = paths_or_dir if isinstance(paths_or_dir, (str, os.PathLike)) else f"{len(files)} files"
    return SMPLParams.concatenate(parts, source=f"files:{where}")


# ----------------------------------------------------------------------------------------------- embedded


def _sequence_seed(seed: int, label: str) -> np.random.Generator:
    """A generator that depends only on the seed and the sequence (not on which other sequences are read)."""
    return np.random.default_rng([int(seed) & 0xFFFFFFFF, zlib.crc32(label.encode())])


def embedded_tracks(include_test: bool = False):
    """The shipped CMU motion as H36M-17 world tracks (metres, Z up, 50 Hz), one per source sequence:
    ``list of (label, (N, 17, 3) float64)``. By default only the sequences the keypoint default gives to its
    TRAINING subjects (:func:`weakpose.data.synthetic.keypoints.split_sources`), so a prior trained on these has never
    seen the motion of the test subjects. The root is moved to the hip midpoint, as the keypoint default does."""
    from weakpose.data.synthetic.keypoints import SyntheticConfig, load_source_clips, split_sources

    cfg = SyntheticConfig()
    assignment = split_sources(load_source_clips(), cfg)
    subjects = tuple(cfg.train_subjects) + (tuple(cfg.test_subjects) if include_test else ())
    hips = [H36M17.index("RHip"), H36M17.index("LHip")]
    out = []
    for subject in subjects:
        for clip in assignment[subject]:
            p = np.asarray(clip.positions, dtype=np.float64).copy()
            p[:, 0] = p[:, hips].mean(axis=1)
            out.append((clip.source_id, p))
    return sorted(out, key=lambda t: t[0])


def embedded_smpl_params(
    num_betas: int = 10, seed: int = 0, max_frames: Optional[int] = None, beta_std: float = 1.0, body=None, tracks=None
) -> SMPLParams:
    """The default training set of an SMPL-parameter prior, built in a few seconds without files or downloads.

    Real CMU motion (:func:`embedded_tracks`: training-side sequences only) retargeted onto the body model: per
    sequence a shape ``betas ~ N(0, beta_std²)`` is drawn (seeded by ``seed`` and the sequence name), the body's
    rest joints for that shape computed, and :func:`weakpose.body.retarget.retarget_h36m17` gives joint
    rotations whose bones point along the track's bones. Twist about limb axes is not observable from joint
    positions and is zero, as are the joints the track does not drive (collars, wrists, hands, feet, spine2,
    head): the set is real motion, but of a simplified kind. ``max_frames``: at most that many frames per sequence,
    evenly spaced. ``body``: a :class:`weakpose.body.BodyModel` (default :meth:`BodyModel.default`).
    ``tracks``: other world tracks to retarget instead, ``[(label, (N, 17, 3))]`` in the same convention
    (e.g. :func:`weakpose.recipes.split.cmu_tracks`); ``None`` = :func:`embedded_tracks`.
    """
    import torch

    from weakpose.body import BodyModel
    from weakpose.body.retarget import retarget_h36m17
    from weakpose.geometry.rotations import matrix_to_axis_angle

    if body is None:
        body = BodyModel.default(num_betas=num_betas)
    if num_betas > body.num_betas:
        raise ValueError(f"embedded_smpl_params: num_betas={num_betas} but the body model has {body.num_betas}")
    if tracks is None:
        tracks = embedded_tracks()
    else:
        tracks = [(str(label), np.asarray(t, dtype=np.float64)) for label, t in tracks]
        if not tracks:
            raise ValueError("embedded_smpl_params: empty list of tracks")
        for label, t in tracks:
            if t.ndim != 3 or t.shape[1:] != (H36M17.num_joints, 3) or len(t) == 0:
                raise ValueError(
                    f"embedded_smpl_params: track {label!r} has shape {t.shape}; expected (N, 17, 3) "
                    "H36M-17 world positions"
                )
    if max_frames is not None:
        tracks = [
            (label, t[np.linspace(0, len(t) - 1, max_frames).round().astype(int)] if len(t) > max_frames else t)
            for label, t in tracks
        ]
    all_betas = np.stack(
        [_sequence_seed(seed, label).standard_normal(num_betas) * beta_std for label, _ in tracks]
    ).astype(np.float32)
    with torch.no_grad():  # every sequence's rest skeleton in one batched call
        rest = body(betas=torch.as_tensor(all_betas)).joints.double().cpu().numpy()
    parts = []
    for (label, track), betas, rest_joints in zip(tracks, all_betas, rest):
        res = retarget_h36m17(rest_joints, track)
        parts.append((label, res.local_rotations.astype(np.float32), betas))
    local = np.concatenate([r for _, r, _ in parts])
    aa = np.asarray(matrix_to_axis_angle(local))  # (N, 24, 3), one conversion for all frames
    n = len(aa)
    return SMPLParams(
        aa[:, 0],
        aa[:, 1:].reshape(n, -1),
        np.concatenate([np.repeat(b[None], len(r), 0) for _, r, b in parts]),
        source="embedded CMU motion retargeted to the body model",
        sequence=np.concatenate([np.full(len(r), label) for label, r, _ in parts]),
    )
