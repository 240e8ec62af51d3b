"""Readers of the published Human3.6M file formats, one function per format, with strict validation.

Each reader opens ONE file and returns arrays in weakpose units (metres, pixels) in the file's own joint order;
:mod:`weakpose.data.h36m.loaders` assembles them into sequences. Any problem raises :class:`H36MFormatError` (a
``ValueError``) or ``FileNotFoundError`` whose message names the file, the key and the shape involved.

Formats (see ``docs/formats.md``):

* VideoPose3D npz (Pavllo et al. 2019): ``positions_3d`` -> pickled ``dict[subject][action] -> (N, 32|17, 3)``
  world metres; ``positions_2d`` -> ``dict[subject][action] -> list of (N, J, 2|3)`` pixels (third column:
  confidence) in camera order 54138969, 55011271, 58860488, 60457274, plus ``metadata``.
* Martinez et al. 2017 h5 tree: ``S{n}/MyPoses/3D_positions/<Action>.h5`` dataset ``3D_positions`` (96, N) mm,
  joint-major (x, y, z of joint 0, then joint 1, ...); ``S{n}/StackedHourglass/<Action>.<cam>.h5`` dataset
  ``poses`` (N, 32) = 16 MPII joints x (u, v) pixels ((N, 16, 2) is accepted too).
* Original release CDF: ``S{n}/MyPoseFeatures/D3_Positions/<Action>.cdf`` variable ``Pose`` (1, N, 96) mm.
"""

from __future__ import annotations

import contextlib
import re
import uuid
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import numpy as np

from weakpose.io_utils import atomic_write_path, clean_output_folder
from weakpose.safe_npz import NpzFileError, SafeNpz
from weakpose.skeleton import get_order

# The 15 Human3.6M actions under the names VideoPose3D writes; weakpose uses these everywhere.
H36M_ACTIONS = (
    "Directions",
    "Discussion",
    "Eating",
    "Greeting",
    "Phoning",
    "Photo",
    "Posing",
    "Purchases",
    "Sitting",
    "SittingDown",
    "Smoking",
    "Waiting",
    "WalkDog",
    "Walking",
    "WalkTogether",
)
# Names used by the original release and the Martinez et al. files for two of them.
ACTION_ALIASES = {"TakingPhoto": "Photo", "WalkingDog": "WalkDog"}

# A person in a capture room never spans 100 m; a larger coordinate means the file is not in metres.
_MAX_ABS_METRES = 100.0
# ... and a millimetre file whose coordinates all stay under 20 mm is not a person either (probably metres).
_MIN_MAX_ABS_MM = 20.0


class H36MFormatError(ValueError):
    """A Human3.6M file that cannot be read as its published layout (message names file, key and shape)."""


# ---------------------------------------------------------------------------------------------------------
# names


def canonical_action_name(name: str) -> str:
    """Map a file's action name to weakpose's (VideoPose3D's) spelling.

    ``_`` becomes a space (Stacked-Hourglass file names write ``Walking_1``), and the base name before the
    sub-action number is de-aliased: ``TakingPhoto`` -> ``Photo``, ``WalkingDog`` -> ``WalkDog``.
    ``"TakingPhoto_1"`` -> ``"Photo 1"``; ``"Walking"`` stays ``"Walking"``.
    """
    name = name.replace("_", " ").strip()
    base, sep, rest = name.partition(" ")
    return ACTION_ALIASES.get(base, base) + sep + rest


def action_base(name: str) -> str:
    """The action without its sub-action number: ``"Walking 1"`` -> ``"Walking"`` (how results are averaged)."""
    return canonical_action_name(name).partition(" ")[0]


def is_h36m_subject(subject: str) -> bool:
    return re.fullmatch(r"S\d+", subject) is not None


def subject_dirs(root: Path) -> List[Tuple[str, Path]]:
    """``(subject, path)`` for every ``S<number>`` folder of a release root, in numeric order."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"Human3.6M root {str(root)!r} is not a directory")
    dirs = [(p.name, p) for p in root.iterdir() if p.is_dir() and is_h36m_subject(p.name)]
    return sorted(dirs, key=lambda sp: int(sp[0][1:]))


def split_sh_file_name(file_name: str) -> Tuple[str, str]:
    """``"Walking_1.54138969.h5"`` -> ``("Walking 1", "54138969")`` (canonical action, camera id)."""
    stem = file_name[:-3] if file_name.endswith(".h5") else file_name
    action, dot, cam = stem.rpartition(".")
    if not dot or not action:
        raise H36MFormatError(f"{file_name!r}: expected '<Action>.<camera>.h5'")
    return canonical_action_name(action), cam


# ---------------------------------------------------------------------------------------------------------
# validation shared by all readers


def check_positions_3d(arr, where: str) -> np.ndarray:
    """Validate 3D positions in METRES, ``(N, 32|17, 3)``; return them as float32.

    ``where`` names the file and key for the error message.
    """
    arr = _numeric_array(arr, where)
    if arr.ndim != 3 or arr.shape[-1] != 3 or arr.shape[1] not in (17, 32):
        raise H36MFormatError(f"{where}: 3D positions must have shape (N, 32, 3) or (N, 17, 3); got {arr.shape}")
    if arr.shape[0] == 0:
        raise H36MFormatError(f"{where}: 3D positions have no frames (shape {arr.shape})")
    _check_finite(arr, where)
    biggest = float(np.abs(arr).max())
    if biggest > _MAX_ABS_METRES:
        raise H36MFormatError(
            f"{where}: 3D coordinates reach {biggest:.1f}; expected metres (a file in "
            f"millimetres must be divided by 1000)"
        )
    return arr.astype(np.float32, copy=False)


def mm_to_metres(arr: np.ndarray, where: str) -> np.ndarray:
    """Millimetres (as the Martinez and CDF files store them) -> metres float32, refusing data already in metres."""
    _check_finite(arr, where)
    if arr.size and float(np.abs(arr).max()) < _MIN_MAX_ABS_MM:
        raise H36MFormatError(
            f"{where}: coordinates never exceed {_MIN_MAX_ABS_MM} mm "
            f"(max {float(np.abs(arr).max()):.3g}); the file does not hold millimetres"
        )
    return check_positions_3d(np.asarray(arr, dtype=np.float64) / 1000.0, where)


def check_keypoints_2d(
    arr, where: str, num_joints: Optional[int] = None, allow_missing: bool = False
) -> Tuple[np.ndarray, Optional[np.ndarray]]:
    """Validate 2D keypoints ``(N, J, 2)`` or ``(N, J, 3)`` (third column = confidence) in pixels.

    Returns ``(xy float32 (N, J, 2), confidence float32 (N, J) or None)``. NaN/inf values are refused unless
    ``allow_missing`` (detections: they mark joints not found, which
    :func:`weakpose.data.keypoint_files.fill_missing` fills).
    """
    arr = _numeric_array(arr, where)
    if arr.ndim != 3 or arr.shape[-1] not in (2, 3):
        raise H36MFormatError(f"{where}: 2D keypoints must have shape (N, J, 2) or (N, J, 3); got {arr.shape}")
    if num_joints is not None and arr.shape[1] != num_joints:
        raise H36MFormatError(f"{where}: expected {num_joints} joints, got shape {arr.shape}")
    if arr.shape[0] == 0:
        raise H36MFormatError(f"{where}: 2D keypoints have no frames (shape {arr.shape})")
    if not allow_missing:
        _check_finite(arr, where)
    xy = arr[..., :2].astype(np.float32)
    conf = arr[..., 2].astype(np.float32) if arr.shape[-1] == 3 else None
    return xy, conf


# 2D read from files is in pixels; a whole view whose coordinates all lie within this bound is normalised
# (screen [-1, 1] or [0, 1] fractions): no person spans 1.5 pixels.
NORMALISED_LIMIT = 1.5


def check_pixel_units(xy: np.ndarray, where: str) -> None:
    """Refuse 2D keypoints that are normalised coordinates rather than pixels (lifting them as pixels is silently
    wrong). Exact zeros are left out: detectors write (0, 0) for joints they did not find."""
    values = xy[np.isfinite(xy) & (xy != 0)]
    if values.size and float(np.abs(values).max()) <= NORMALISED_LIMIT:
        raise H36MFormatError(
            f"{where}: every coordinate is within [{values.min():.3g}, {values.max():.3g}]: these are normalised "
            f"coordinates, not pixels; weakpose reads 2D keypoints in pixels of the image (scale [0, 1] fractions by "
            f"the image width and height; undo VideoPose3D's screen normalisation with u = (x + 1) * w / 2, "
            f"v = (y + h / w) * w / 2)"
        )


def _numeric_array(arr, where: str) -> np.ndarray:
    try:
        out = np.asarray(arr)
    except Exception as e:  # ragged lists and the like
        raise H36MFormatError(f"{where}: not an array ({e})") from None
    if not (np.issubdtype(out.dtype, np.floating) or np.issubdtype(out.dtype, np.integer)):
        raise H36MFormatError(
            f"{where}: expected a numeric array, got dtype {out.dtype} (shape {getattr(out, 'shape', None)})"
        )
    return out


def _check_finite(arr: np.ndarray, where: str) -> None:
    if np.issubdtype(arr.dtype, np.floating):
        bad = ~np.isfinite(arr)
        if bad.any():
            frames = np.unique(np.nonzero(bad)[0])
            raise H36MFormatError(
                f"{where}: {int(bad.sum())} NaN/inf values in {len(frames)} frames "
                f"(first frame {int(frames[0])}) of an array of shape {arr.shape}"
            )


def _require_file(path) -> Path:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{str(path)!r} does not exist or is not a file")
    return path


# ---------------------------------------------------------------------------------------------------------
# VideoPose3D npz


def read_npz_object(path, key: str):
    """The object stored under ``key`` of an npz (what ``np.load(allow_pickle=True)[key].item()`` gives).

    Pickled entries are rebuilt by :class:`weakpose.safe_npz.RestrictedUnpickler`: only arrays, numbers, strings
    and containers of them; a file asking for anything else is refused and nothing from it runs.
    """
    path = _require_file(path)
    try:
        with SafeNpz(path) as npz:
            if key not in npz:
                raise H36MFormatError(f"{path}: no key {key!r} in the npz (keys: {sorted(npz.files)})")
            return npz[key]
    except NpzFileError as e:
        raise H36MFormatError(str(e)) from None


def _as_nested_dict(value, path, key: str) -> Dict[str, dict]:
    if not isinstance(value, dict):
        raise H36MFormatError(
            f"{path}: {key!r} must be a pickled dict subject -> action -> data; got {type(value).__name__}"
        )
    for subject, actions in value.items():
        if not isinstance(actions, dict):
            raise H36MFormatError(
                f"{path}: {key}[{subject!r}] must be a dict action -> data; got {type(actions).__name__}"
            )
    return value


def read_videopose3d_3d(path) -> Dict[str, Dict[str, np.ndarray]]:
    """``positions_3d`` of a VideoPose3D ``data_3d_*.npz``: ``dict[subject][action] -> array`` as stored.

    The arrays are NOT validated here (one bad sequence should not hide the others): pass each to
    :func:`check_positions_3d`. Names are returned as written in the file.
    """
    return _as_nested_dict(read_npz_object(path, "positions_3d"), path, "positions_3d")


def read_videopose3d_2d(path) -> Tuple[Dict[str, Dict[str, list]], dict]:
    """``positions_2d`` and ``metadata`` of a VideoPose3D ``data_2d_*.npz``.

    Returns ``(positions, metadata)`` with ``positions[subject][action]`` a list of per-camera arrays (or
    ``None`` where a release lacks a camera) exactly as stored. A missing ``metadata`` key gives ``{}``
    (then the layout is inferred from the joint count).
    """
    positions = _as_nested_dict(read_npz_object(path, "positions_2d"), path, "positions_2d")
    for subject, actions in positions.items():
        for action, views in actions.items():
            if isinstance(views, np.ndarray) and views.dtype != object:
                # Some writers store a single (C, N, J, 2) array instead of a list of cameras.
                views = list(views) if views.ndim == 4 else [views]
            if not isinstance(views, (list, tuple, np.ndarray)):
                raise H36MFormatError(
                    f"{path}: positions_2d[{subject!r}][{action!r}] must be a list of "
                    f"per-camera arrays; got {type(views).__name__}"
                )
            actions[action] = list(views)
    try:
        metadata = read_npz_object(path, "metadata")
    except H36MFormatError as e:
        if "no key 'metadata'" not in str(e):
            raise
        metadata = {}
    if not isinstance(metadata, dict):
        raise H36MFormatError(f"{path}: 'metadata' must be a pickled dict; got {type(metadata).__name__}")
    return positions, metadata


# A 3D file and the 2D file made from it are stamped with one id when written together, so a pair in which one
# file was replaced by an interrupted or failed later write is caught when loaded (other tools ignore the key).
PAIR_ID_KEY = "weakpose_pair_id"


def write_npz_pair(path_3d, entries_3d: Dict[str, object], path_2d, entries_2d: Dict[str, object]) -> str:
    """Write a 3D and a 2D npz that belong together: both complete in temporary files first, then renamed, each
    stamped with one fresh :data:`PAIR_ID_KEY`; returns the id. Dict entries are stored as 0-d object arrays,
    as VideoPose3D's files hold them. On any error neither file is replaced."""
    pair_id = uuid.uuid4().hex
    for folder in {Path(path_3d).parent, Path(path_2d).parent}:
        clean_output_folder(folder)  # temporaries of an earlier killed write
    with contextlib.ExitStack() as stack:
        tmp_3d = stack.enter_context(atomic_write_path(path_3d))
        tmp_2d = stack.enter_context(atomic_write_path(path_2d))
        for tmp, entries in ((tmp_3d, entries_3d), (tmp_2d, entries_2d)):
            np.savez_compressed(
                tmp, **{k: _object_entry(v) for k, v in entries.items()}, **{PAIR_ID_KEY: np.array(pair_id)}
            )
    return pair_id


def _object_entry(value):
    if isinstance(value, dict):
        out = np.empty((), dtype=object)
        out[()] = value
        return out
    return value


def read_pair_id(path) -> Optional[str]:
    """The pair id a weakpose writer stamped on ``path``, or None (files written by other tools have none)."""
    try:
        with SafeNpz(_require_file(path)) as npz:
            return str(npz[PAIR_ID_KEY]) if PAIR_ID_KEY in npz else None
    except NpzFileError as e:
        raise H36MFormatError(str(e)) from None


def check_pair(path_3d, path_2d) -> None:
    """Refuse a 3D file and a 2D file that were written as a pair by different runs (one was replaced alone)."""
    id_3d, id_2d = read_pair_id(path_3d), read_pair_id(path_2d)
    if id_3d is not None and id_2d is not None and id_3d != id_2d:
        raise H36MFormatError(
            f"{path_3d} and {path_2d} were written by different runs (pair ids {id_3d[:8]} and {id_2d[:8]}): one "
            f"was replaced by a later write that did not finish; write both again (weakpose convert-h36m or "
            f"weakpose make-synthetic)"
        )


#: 2D layouts that convert to H36M-17 (:func:`weakpose.skeleton.to_h36m17`).
LAYOUTS_2D = ("h36m17", "h36m32", "coco17", "mpii16", "halpe26", "body25")
# Joint counts that name one layout (17 does not: H36M-17 and COCO-17 share it).
_LAYOUT_BY_COUNT = {16: "mpii16", 25: "body25", 26: "halpe26", 32: "h36m32"}


def resolve_2d_layout(metadata: dict, num_joints: int, where: str, layout: Optional[str] = None) -> str:
    """The joint layout ('h36m17', 'h36m32', 'coco17', 'mpii16', 'halpe26', 'body25') of a VideoPose3D 2D file.

    ``metadata['layout_name']`` decides when present ('h36m' with 17 or 32 joints, 'coco', 'mpii'/'mpii16',
    'halpe'/'halpe26', 'body25'/'body_25'/'openpose'); without it the joint count does (VideoPose3D's GT files:
    17 -> H36M-17 when ``keypoints_symmetry`` says so; its Stacked-Hourglass files: 16 -> MPII-16 as in Martinez
    et al.; 25 -> BODY-25, 26 -> Halpe-26, 32 -> H36M-32). ``layout`` overrides both.
    ``metadata['keypoints_symmetry']``, when present, must match the layout's left/right joints, so a file in an
    unexpected order fails loudly.
    """
    declared = metadata.get("num_joints")
    if declared is not None and int(declared) != num_joints:
        raise H36MFormatError(f"{where}: metadata says num_joints={declared} but the arrays have {num_joints}")
    name = (layout or metadata.get("layout_name") or "").lower()
    if not name and num_joints == 17:
        name = _layout_of_17_joints(metadata, where)
    if name in ("", "h36m"):
        by_count = _LAYOUT_BY_COUNT if not name else {17: "h36m17", 32: "h36m32"}
        if num_joints not in by_count:
            raise H36MFormatError(
                f"{where}: cannot tell the joint layout of {num_joints} joints "
                f"(layout_name={metadata.get('layout_name')!r}); pass layout="
            )
        name = by_count[num_joints]
    try:
        order = get_order(name)
    except KeyError:
        raise H36MFormatError(
            f"{where}: unknown 2D layout {name!r}; known: h36m, h36m32, coco, mpii16, halpe26, body25"
        ) from None
    if order.name not in LAYOUTS_2D:
        raise H36MFormatError(f"{where}: 2D layout {order.name!r} cannot be converted to H36M-17")
    if order.num_joints != num_joints:
        raise H36MFormatError(f"{where}: layout {order.name!r} has {order.num_joints} joints, arrays have {num_joints}")
    symmetry = metadata.get("keypoints_symmetry")
    if symmetry is not None and layout is None:
        left, right = ({int(i) for i in np.asarray(s).ravel()} for s in symmetry)
        if left != set(order.left) or right != set(order.right):
            raise H36MFormatError(
                f"{where}: keypoints_symmetry {[sorted(left), sorted(right)]} does not match "
                f"layout {order.name!r} (left {sorted(order.left)}, right "
                f"{sorted(order.right)}); pass layout= if the file is right"
            )
    return order.name


# ---------------------------------------------------------------------------------------------------------
# Martinez et al. h5


def _layout_of_17_joints(metadata: dict, where: str) -> str:
    """H36M-17 or COCO-17 for a 17-joint file without ``layout_name``: its ``keypoints_symmetry`` decides; with
    neither, refuse (read as the other layout, every joint would be silently wrong)."""
    symmetry = metadata.get("keypoints_symmetry")
    if symmetry is not None:
        left, right = ({int(i) for i in np.asarray(s).ravel()} for s in symmetry)
        for name in ("h36m17", "coco17"):
            order = get_order(name)
            if left == set(order.left) and right == set(order.right):
                return name
    raise H36MFormatError(
        f"{where}: 17 joints and no metadata layout_name (or keypoints_symmetry) to tell "
        f"H36M-17 from COCO-17; pass the layout (--layout coco17 or --layout h36m17, "
        f"layout= in Python)"
    )


def _read_h5_dataset(path, key: str) -> np.ndarray:
    import h5py

    path = _require_file(path)
    try:
        with h5py.File(path, "r") as f:
            if key not in f:
                raise H36MFormatError(f"{path}: no dataset {key!r} (keys: {sorted(f.keys())})")
            return np.asarray(f[key][()])
    except H36MFormatError:
        raise
    except (OSError, KeyError, ValueError, TypeError) as e:
        raise H36MFormatError(
            f"{path}: cannot read dataset {key!r} as HDF5 ({type(e).__name__}: {e}); truncated or not an h5 file?"
        ) from None


def read_martinez_3d(path) -> np.ndarray:
    """``3D_positions`` of a Martinez ``MyPoses/3D_positions/<Action>.h5``: (96, N) mm -> (N, 32, 3) metres.

    Rows are joint-major (row ``3*j + c`` is coordinate ``c`` of joint ``j``), so the array is transposed to
    (N, 96) and then split into 32 joints of 3 coordinates.
    """
    where = f"{path}:3D_positions"
    raw = _numeric_array(_read_h5_dataset(path, "3D_positions"), where)
    if raw.ndim != 2 or raw.shape[0] != 96:
        raise H36MFormatError(f"{where}: expected shape (96, N) (32 joints x 3, joint-major, mm); got {raw.shape}")
    return mm_to_metres(raw.T.reshape(-1, 32, 3), where)


def read_martinez_sh(path) -> np.ndarray:
    """``poses`` of a Stacked-Hourglass ``<Action>.<cam>.h5``: (N, 32) -> (N, 16, 2) pixels, MPII-16 order."""
    where = f"{path}:poses"
    raw = _numeric_array(_read_h5_dataset(path, "poses"), where)
    if raw.ndim == 2 and raw.shape[1] == 32:
        raw = raw.reshape(-1, 16, 2)  # 16 joints x (u, v), joint-major
    elif not (raw.ndim == 3 and raw.shape[1:] == (16, 2)):
        raise H36MFormatError(f"{where}: expected shape (N, 32) = 16 joints x (u, v) or (N, 16, 2); got {raw.shape}")
    xy, _ = check_keypoints_2d(raw, where, num_joints=16)
    return xy


# ---------------------------------------------------------------------------------------------------------
# original release CDF


def read_cdf_3d(path) -> np.ndarray:
    """Variable ``Pose`` of an original-release ``D3_Positions/<Action>.cdf``: (1, N, 96) mm -> (N, 32, 3) m."""
    import cdflib

    path = _require_file(path)
    where = f"{path}:Pose"
    try:
        cdf = cdflib.CDF(str(path))
        info = cdf.cdf_info()
        names = list(info.zVariables) + list(info.rVariables)
        if "Pose" not in names:
            raise H36MFormatError(f"{path}: no variable 'Pose' in the CDF (variables: {names})")
        raw = cdf.varget("Pose")
    except H36MFormatError:
        raise
    except Exception as e:  # cdflib raises assorted types (struct.error, IndexError, OSError) on a bad file
        raise H36MFormatError(
            f"{path}: cannot read variable 'Pose' as CDF ({type(e).__name__}: {e}); truncated or not a CDF file?"
        ) from None
    raw = _numeric_array(raw, where)
    if raw.ndim == 3 and raw.shape[0] == 1:
        raw = raw[0]
    if raw.ndim != 2 or raw.shape[1] != 96:
        raise H36MFormatError(f"{where}: expected shape (1, N, 96) (32 joints x 3, mm); got {np.shape(raw)}")
    return mm_to_metres(raw.reshape(-1, 32, 3), where)


def list_files(folder: Path, suffix: str) -> List[Path]:
    """Files in ``folder`` ending in ``suffix``, sorted, hidden files (``._`` macOS forks, temp files) left out."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_file() and p.name.endswith(suffix) and not p.name.startswith("."))


__all__ = [
    "H36M_ACTIONS",
    "ACTION_ALIASES",
    "H36MFormatError",
    "canonical_action_name",
    "action_base",
    "is_h36m_subject",
    "subject_dirs",
    "split_sh_file_name",
    "check_positions_3d",
    "check_keypoints_2d",
    "check_pixel_units",
    "NORMALISED_LIMIT",
    "LAYOUTS_2D",
    "mm_to_metres",
    "read_npz_object",
    "read_videopose3d_3d",
    "read_videopose3d_2d",
    "resolve_2d_layout",
    "PAIR_ID_KEY",
    "write_npz_pair",
    "read_pair_id",
    "check_pair",
    "read_martinez_3d",
    "read_martinez_sh",
    "read_cdf_3d",
    "list_files",
]
