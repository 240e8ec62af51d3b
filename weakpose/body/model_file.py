"""SMPL-format body-model files: load (.npz, official chumpy .pkl), validate, save, and ``weakpose convert-smpl``.

The shared layout (see ``docs/formats.md``, "SMPL model files", and SMPL, Loper et al. 2015), all lengths in
METRES, SMPL's own frame (Y up, the person faces +Z):

=====================  ================  ===========================================================================
key                    shape             meaning
=====================  ================  ===========================================================================
``v_template``         (V, 3)            rest-pose mean-shape vertices
``shapedirs``          (V, 3, B)         shape blend shapes (principal components), B ≥ 10 for SMPL
``posedirs``           (V, 3, 207)       pose correctives on features ``R_j − I`` of joints 1..23 (may be all zero)
``J_regressor``        (24, V)           rest joints from vertices (dense here; a scipy sparse matrix in .pkl files)
``weights``            (V, 24)           skinning weights, rows sum to 1
``kintree_table``      (2, 24) int       row 0 = parents; the root's entry is -1 (or 4294967295 in SMPL pickles)
``f``                  (F, 3) int        triangles (vertex indices)
``J_regressor_h36m``   (17, V)           optional: Human3.6M-17 joints from vertices (as in SPIN)
``vertex_colors``      (V, 3)            optional: RGB in [0, 1]
``part_labels``        (V,) int          optional: the joint (0..23) that dominates each vertex
``meta``               JSON string       optional: name, licence, provenance
=====================  ================  ===========================================================================

Official SMPL ``.pkl`` files are Python-2 pickles of chumpy objects; chumpy does not import on current Python/NumPy,
so :class:`_BodyModelUnpickler` maps chumpy classes to a stub that keeps the pickled value (``x``) and old scipy
sparse classes to a stub rebuilt from ``data/indices/indptr``, and refuses any other global it does not know.
The SMPL licence forbids redistribution, so tests use generated files of the same structure.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import sys
import zipfile
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Dict, List, Optional, Union

import numpy as np

from weakpose.io_utils import atomic_write_path
from weakpose.safe_npz import RefusedPickleError, RestrictedUnpickler

__all__ = [
    "BodyModelData",
    "BodyModelFileError",
    "MissingKeyError",
    "REQUIRED_KEYS",
    "OPTIONAL_KEYS",
    "load_body_model_file",
    "save_body_model_file",
    "validate_body_model",
    "convert_smpl",
    "main",
]

PathLike = Union[str, os.PathLike]

REQUIRED_KEYS = ("v_template", "shapedirs", "posedirs", "J_regressor", "weights", "kintree_table", "f")
OPTIONAL_KEYS = ("J_regressor_h36m", "vertex_colors", "part_labels", "meta")
SMPL_NUM_JOINTS = 24
H36M_NUM_JOINTS = 17
_FLOAT_KEYS = ("v_template", "shapedirs", "posedirs", "J_regressor", "weights", "J_regressor_h36m", "vertex_colors")
_INT_KEYS = ("kintree_table", "f", "part_labels")
_WEIGHT_SUM_TOLERANCE = 1e-3


class BodyModelFileError(ValueError):
    """A body-model file (or in-memory model) that cannot be used; the message names the file, key and shape."""


class MissingKeyError(BodyModelFileError, KeyError):
    """A required key is absent from a body-model file."""

    def __str__(self) -> str:  # KeyError would print the message with quotes around it
        return str(self.args[0])


@dataclass
class BodyModelData:
    """The arrays of one SMPL-format body model (float64 / int64 NumPy, metres), see the module docstring."""

    v_template: np.ndarray
    shapedirs: np.ndarray
    posedirs: np.ndarray
    J_regressor: np.ndarray
    weights: np.ndarray
    kintree_table: np.ndarray
    f: np.ndarray
    J_regressor_h36m: Optional[np.ndarray] = None
    vertex_colors: Optional[np.ndarray] = None
    part_labels: Optional[np.ndarray] = None
    meta: Dict[str, Any] = field(default_factory=dict)
    source: str = "<in-memory body model>"

    @property
    def num_vertices(self) -> int:
        return int(self.v_template.shape[0])

    @property
    def num_joints(self) -> int:
        return int(self.J_regressor.shape[0])

    @property
    def num_betas(self) -> int:
        return int(self.shapedirs.shape[-1])

    @property
    def num_faces(self) -> int:
        return int(self.f.shape[0])

    @property
    def parents(self) -> np.ndarray:
        """``(J,)`` int64 parent of every joint, -1 for the root (any table entry outside 0..J-1 means root)."""
        row = np.asarray(self.kintree_table[0], dtype=np.int64)
        return np.where((row < 0) | (row >= row.shape[0]), -1, row)

    def arrays(self) -> Dict[str, np.ndarray]:
        """The present array keys as a dict (``meta`` and ``source`` excluded)."""
        out = {}
        for fld in fields(self):
            value = getattr(self, fld.name)
            if fld.name not in ("meta", "source") and value is not None:
                out[fld.name] = value
        return out


# ---------------------------------------------------------------------------------------------------------------
# validation


def _shape_str(shape) -> str:
    return "(" + ", ".join(str(s) for s in shape) + ")"


_MAX_BODY_EXTENT_M = 10.0  # a template larger than this (metres) is in other units


def validate_body_model(data: BodyModelData, num_joints: Optional[int] = SMPL_NUM_JOINTS) -> BodyModelData:
    """Check shapes, their mutual consistency, finiteness and index ranges; return ``data`` or raise.

    ``num_joints``: required joint count (24 for SMPL files); ``None`` accepts any tree (tiny test models).
    Raises :class:`BodyModelFileError` naming ``data.source``, the key and the offending shape or value.
    """
    src = data.source

    def fail(key: str, msg: str) -> None:
        raise BodyModelFileError(f"{src}: key '{key}' {msg}")

    def check_ndim(key: str, ndim: int, layout: str) -> np.ndarray:
        arr = getattr(data, key)
        if not isinstance(arr, np.ndarray) or arr.ndim != ndim:
            shape = _shape_str(arr.shape) if hasattr(arr, "shape") else type(arr).__name__
            fail(key, f"has shape {shape}, expected {layout}")
        return arr

    v_template = check_ndim("v_template", 2, "(V, 3)")
    if v_template.shape[1] != 3 or v_template.shape[0] < 1:
        fail("v_template", f"has shape {_shape_str(v_template.shape)}, expected (V, 3)")
    num_vertices = v_template.shape[0]
    regressor = check_ndim("J_regressor", 2, f"(J, V) = (J, {num_vertices})")
    joints = regressor.shape[0]
    if num_joints is not None and joints != num_joints:
        fail(
            "J_regressor",
            f"has shape {_shape_str(regressor.shape)}, expected ({num_joints}, {num_vertices}): "
            f"SMPL-format models have {num_joints} joints",
        )
    if regressor.shape[1] != num_vertices:
        fail(
            "J_regressor",
            f"has shape {_shape_str(regressor.shape)}, expected ({joints}, {num_vertices}) "
            f"(V = {num_vertices} from v_template)",
        )
    shapedirs = check_ndim("shapedirs", 3, f"(V, 3, B) = ({num_vertices}, 3, B)")
    if shapedirs.shape[:2] != (num_vertices, 3) or shapedirs.shape[2] < 1:
        fail("shapedirs", f"has shape {_shape_str(shapedirs.shape)}, expected ({num_vertices}, 3, B) with B >= 1")
    num_pose = 9 * (joints - 1)
    posedirs = check_ndim("posedirs", 3, f"(V, 3, P) = ({num_vertices}, 3, {num_pose})")
    if posedirs.shape != (num_vertices, 3, num_pose):
        fail(
            "posedirs",
            f"has shape {_shape_str(posedirs.shape)}, expected ({num_vertices}, 3, {num_pose}) "
            f"(9 features for each of the {joints - 1} non-root joints)",
        )
    weights = check_ndim("weights", 2, f"(V, J) = ({num_vertices}, {joints})")
    if weights.shape != (num_vertices, joints):
        fail("weights", f"has shape {_shape_str(weights.shape)}, expected ({num_vertices}, {joints})")
    kintree = check_ndim("kintree_table", 2, f"(2, J) = (2, {joints})")
    if kintree.shape != (2, joints):
        fail("kintree_table", f"has shape {_shape_str(kintree.shape)}, expected (2, {joints})")
    faces = check_ndim("f", 2, "(F, 3)")
    if faces.shape[1] != 3:
        fail("f", f"has shape {_shape_str(faces.shape)}, expected (F, 3)")

    for key in _FLOAT_KEYS:
        arr = getattr(data, key)
        if arr is not None and not np.all(np.isfinite(arr)):
            bad = np.argwhere(~np.isfinite(arr))
            fail(
                key,
                f"(shape {_shape_str(arr.shape)}) has {len(bad)} non-finite values, first at index "
                f"{tuple(int(i) for i in bad[0])}",
            )

    # Units: every body model weakpose reads is in metres (SMPL stands about 1.7 m tall). Millimetre or centimetre
    # files would load and pose silently a thousand (hundred) times too large.
    extent = float(np.ptp(v_template, axis=0).max())
    if extent > _MAX_BODY_EXTENT_M:
        fail(
            "v_template",
            f"spans {extent:.4g} units: body models are read in metres (SMPL is about 1.7 m tall), "
            f"this one looks like millimetres or centimetres; scale the file's vertex arrays "
            f"(v_template, shapedirs, posedirs) to metres first",
        )

    parents = data.parents
    if parents[0] != -1:
        fail("kintree_table", f"row 0 gives joint 0 the parent {int(kintree[0, 0])}; joint 0 must be the root")
    for j in range(1, joints):
        if not 0 <= parents[j] < j:
            fail(
                "kintree_table",
                f"row 0 gives joint {j} the parent {int(kintree[0, j])}; every non-root joint "
                f"needs a parent in 0..{j - 1} (parents before children)",
            )
    if faces.size and (faces.min() < 0 or faces.max() >= num_vertices):
        fail(
            "f",
            f"(shape {_shape_str(faces.shape)}) has vertex indices in [{int(faces.min())}, "
            f"{int(faces.max())}], outside 0..{num_vertices - 1}",
        )
    sums = weights.sum(axis=1)
    worst = int(np.argmax(np.abs(sums - 1)))
    if abs(sums[worst] - 1) > _WEIGHT_SUM_TOLERANCE:
        fail(
            "weights",
            f"(shape {_shape_str(weights.shape)}) rows must sum to 1 for skinning; vertex {worst} "
            f"sums to {sums[worst]:.6g}",
        )

    if data.J_regressor_h36m is not None:
        h36m = data.J_regressor_h36m
        if h36m.ndim != 2 or h36m.shape != (H36M_NUM_JOINTS, num_vertices):
            fail(
                "J_regressor_h36m", f"has shape {_shape_str(h36m.shape)}, expected ({H36M_NUM_JOINTS}, {num_vertices})"
            )
    if data.vertex_colors is not None:
        colors = data.vertex_colors
        if colors.shape != (num_vertices, 3):
            fail("vertex_colors", f"has shape {_shape_str(colors.shape)}, expected ({num_vertices}, 3)")
        if colors.min() < 0 or colors.max() > 1:
            fail("vertex_colors", f"has values in [{colors.min():.4g}, {colors.max():.4g}], expected [0, 1]")
    if data.part_labels is not None:
        labels = data.part_labels
        if labels.shape != (num_vertices,):
            fail("part_labels", f"has shape {_shape_str(labels.shape)}, expected ({num_vertices},)")
        if labels.size and (labels.min() < 0 or labels.max() >= joints):
            fail("part_labels", f"has labels in [{int(labels.min())}, {int(labels.max())}], outside 0..{joints - 1}")
    if not isinstance(data.meta, dict):
        fail("meta", f"must be a dict (a JSON object in files), got {type(data.meta).__name__}")
    return data


# ---------------------------------------------------------------------------------------------------------------
# chumpy-free unpickling of official SMPL .pkl files


class _ChumpyStub:
    """Stands in for any chumpy class; keeps the pickled ``__dict__`` (a plain ``Ch`` keeps its value in ``x``)."""

    chumpy_class = "chumpy.Ch"
    state: Dict[str, Any] = {}  # replaced per instance by __setstate__ (unpickling skips __init__)

    def __init__(self, *args, **kwargs):
        self.state = {"x": args[0]} if args else {}

    def __setstate__(self, state):
        if isinstance(state, tuple) and len(state) == 2:  # (dict state, slot state)
            state = {**(state[0] or {}), **(state[1] or {})}
        self.state = dict(state) if isinstance(state, dict) else {"x": state}

    def value(self, key: str, source: str) -> Any:
        for name in ("x", "r", "_r"):
            if name in self.state and self.state[name] is not None:
                return self.state[name]
        raise BodyModelFileError(
            f"{source}: key '{key}' is a chumpy expression ({self.chumpy_class}) without a stored value "
            f"(attributes {sorted(self.state)}); only plain chumpy arrays can be read without chumpy"
        )


class _SparseStub:
    """Stands in for a scipy sparse matrix pickled by any scipy version; rebuilt from its compressed arrays."""

    sparse_format = "csc"
    state: Dict[str, Any] = {}  # replaced per instance by __setstate__ (unpickling skips __init__)

    def __init__(self, *args, **kwargs):
        self.state = {}

    def __setstate__(self, state):
        if isinstance(state, tuple) and len(state) == 2:
            state = {**(state[0] or {}), **(state[1] or {})}
        self.state = dict(state)

    def dense(self, key: str, source: str) -> np.ndarray:
        import scipy.sparse as sp

        st = self.state
        try:
            shape = st.get("_shape", st.get("shape"))
            if self.sparse_format in ("csc", "csr"):
                cls = sp.csc_matrix if self.sparse_format == "csc" else sp.csr_matrix
                mat = cls(
                    (np.asarray(st["data"]), np.asarray(st["indices"]), np.asarray(st["indptr"])),
                    shape=tuple(int(s) for s in shape),
                )
            elif self.sparse_format == "coo":
                mat = sp.coo_matrix(
                    (np.asarray(st["data"]), (np.asarray(st["row"]), np.asarray(st["col"]))),
                    shape=tuple(int(s) for s in shape),
                )
            else:
                raise KeyError(f"format {self.sparse_format}")
        except Exception as exc:
            raise BodyModelFileError(
                f"{source}: key '{key}' is a pickled scipy sparse matrix "
                f"({self.sparse_format}) that cannot be rebuilt: {exc}"
            ) from exc
        return np.asarray(mat.toarray())


def _make_stub(base: type, attr: str, value: str) -> type:
    return type(base.__name__, (base,), {attr: value})


# Beyond the data-only allow-list of RestrictedUnpickler: what chumpy objects' pickles use to rebuild themselves.
_EXTRA_BUILTINS = {"object", "slice", "range"}
_SAFE_COPYREG = {"_reconstructor", "__newobj__", "__newobj_ex__"}


class _BodyModelUnpickler(RestrictedUnpickler):
    """Loads SMPL pickles without chumpy and without running arbitrary code from the file.

    On top of :class:`weakpose.safe_npz.RestrictedUnpickler` (NumPy arrays, containers, numbers, strings): chumpy
    classes (stubbed), scipy sparse matrices (stubbed, whatever module path the scipy version that wrote them used),
    ``np.matrix`` and the copyreg helpers that rebuild such objects.
    """

    def find_extra(self, module: str, name: str):
        top = module.split(".")[0]
        if top == "chumpy":
            return _make_stub(_ChumpyStub, "chumpy_class", f"{module}.{name}")
        if module.startswith("scipy.sparse"):
            for fmt in ("csc", "csr", "coo"):
                if name == f"{fmt}_matrix" or name == f"{fmt}_array":
                    return _make_stub(_SparseStub, "sparse_format", fmt)
        if top == "numpy" and name == "matrix":
            return np.matrix
        if module in ("copyreg", "copy_reg") and name in _SAFE_COPYREG:
            return pickle.Unpickler.find_class(self, "copyreg", name)
        if module in ("builtins", "__builtin__") and name in _EXTRA_BUILTINS:
            return pickle.Unpickler.find_class(self, "builtins", name)
        return None


def _plain_value(value: Any, key: str, source: str) -> Any:
    """Chumpy stubs, sparse matrices and np.matrix -> plain ndarrays (recursively through chumpy values)."""
    for _ in range(8):  # a Ch may wrap another Ch
        if isinstance(value, _ChumpyStub):
            value = value.value(key, source)
        else:
            break
    if isinstance(value, _SparseStub):
        return value.dense(key, source)
    if hasattr(value, "toarray") and type(value).__module__.startswith("scipy.sparse"):
        return np.asarray(value.toarray())
    if isinstance(value, np.matrix):
        return np.asarray(value)
    return value


# ---------------------------------------------------------------------------------------------------------------
# loading


def _read_npz(path: Path) -> Dict[str, Any]:
    try:
        with np.load(path, allow_pickle=False) as npz:
            out = {}
            for key in npz.files:
                try:
                    out[key] = npz[key]
                except ValueError as exc:
                    if "allow_pickle" in str(exc):
                        raise BodyModelFileError(
                            f"{path}: key '{key}' holds a pickled Python object, which weakpose does not load from "
                            f".npz files; store it as a plain array (a sparse J_regressor as a dense (J, V) array)"
                        ) from None
                    raise
            return out
    except BodyModelFileError:
        raise
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, KeyError) as exc:
        raise BodyModelFileError(
            f"{path}: not a readable .npz body-model file (truncated or corrupt?): {type(exc).__name__}: {exc}"
        ) from exc


def _read_pickle(path: Path) -> Dict[str, Any]:
    try:
        with open(path, "rb") as fh:
            obj = _BodyModelUnpickler(fh, str(path)).load()
    except BodyModelFileError:
        raise
    except RefusedPickleError as exc:
        raise BodyModelFileError(
            f"{path}: refusing to load {exc.global_name} from the pickle; body-model pickles "
            f"hold only NumPy, scipy sparse and chumpy arrays (nothing was run)"
        ) from None
    except (
        pickle.UnpicklingError,
        EOFError,
        ValueError,
        TypeError,
        AttributeError,
        IndexError,
        UnicodeDecodeError,
        ImportError,
    ) as exc:
        raise BodyModelFileError(
            f"{path}: not a readable SMPL .pkl body-model file (truncated or corrupt?): {type(exc).__name__}: {exc}"
        ) from exc
    if not isinstance(obj, dict):
        raise BodyModelFileError(f"{path}: the pickle holds a {type(obj).__name__}, expected a dict of arrays")
    # Only the format's keys are converted: official files carry extras (chumpy expressions among them) we ignore.
    wanted = set(REQUIRED_KEYS + OPTIONAL_KEYS)
    return {str(k): (_plain_value(v, str(k), str(path)) if str(k) in wanted else v) for k, v in obj.items()}


def _coerce(raw: Dict[str, Any], source: str) -> BodyModelData:
    """Raw key -> value dict (as read) -> BodyModelData with float64/int64 arrays; missing keys reported together."""
    missing = [k for k in REQUIRED_KEYS if k not in raw]
    if missing:
        raise MissingKeyError(
            f"{source}: missing required key(s) {missing}; found keys {sorted(raw)}. A SMPL-format "
            f"body model needs {list(REQUIRED_KEYS)}"
        )
    values: Dict[str, Any] = {}
    for key in REQUIRED_KEYS + OPTIONAL_KEYS[:-1]:
        if key not in raw or raw[key] is None:
            continue
        value = raw[key]
        try:
            arr = np.asarray(value)
        except Exception as exc:  # pragma: no cover - exotic objects
            raise BodyModelFileError(f"{source}: key '{key}' is not an array ({type(value).__name__})") from exc
        if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
            raise BodyModelFileError(
                f"{source}: key '{key}' holds {arr.dtype} data of shape {_shape_str(arr.shape)}, expected numbers"
            )
        if key in _INT_KEYS:
            if np.issubdtype(arr.dtype, np.floating):
                if not np.all(np.isfinite(arr)) or not np.all(arr == np.round(arr)):
                    raise BodyModelFileError(
                        f"{source}: key '{key}' (shape {_shape_str(arr.shape)}) must hold integers"
                    )
            arr = arr.astype(np.int64)
        else:
            arr = arr.astype(np.float64)
        values[key] = arr
    meta: Dict[str, Any] = {}
    if raw.get("meta") is not None:
        text = raw["meta"]
        text = text.item() if isinstance(text, np.ndarray) else text
        text = text.decode("utf-8") if isinstance(text, bytes) else text
        if isinstance(text, dict):
            meta = dict(text)
        else:
            try:
                meta = json.loads(str(text))
            except json.JSONDecodeError as exc:
                raise BodyModelFileError(f"{source}: key 'meta' is not valid JSON: {exc}") from exc
            if not isinstance(meta, dict):
                raise BodyModelFileError(f"{source}: key 'meta' must be a JSON object, got {type(meta).__name__}")
    return BodyModelData(**values, meta=meta, source=source)


def load_body_model_file(path: PathLike, num_joints: Optional[int] = SMPL_NUM_JOINTS) -> BodyModelData:
    """Read and validate a SMPL-format body model: weakpose ``.npz`` or an official (chumpy) SMPL ``.pkl``.

    The format is recognised from the file's first bytes (zip = npz, otherwise pickle), not its name. Arrays come
    back as float64/int64; ``J_regressor`` dense. Raises ``FileNotFoundError`` for a missing path and
    :class:`BodyModelFileError` (a ``ValueError``; :class:`MissingKeyError` is also a ``KeyError``) naming the file,
    key and shape for anything unusable.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"body-model file not found: {path}")
    with open(path, "rb") as fh:
        head = fh.read(4)
    if not head:
        raise BodyModelFileError(f"{path}: the file is empty")
    raw = _read_npz(path) if head.startswith(b"PK") else _read_pickle(path)
    return validate_body_model(_coerce(raw, str(path)), num_joints=num_joints)


# ---------------------------------------------------------------------------------------------------------------
# saving and conversion


def save_body_model_file(data: BodyModelData, path: PathLike, compress: bool = False) -> Path:
    """Validate ``data`` and write it atomically as a weakpose ``.npz`` (root parent stored as -1, meta as JSON)."""
    path = Path(path)
    if path.suffix != ".npz":
        raise ValueError(f"{path}: body-model files are written as .npz")
    validate_body_model(data, num_joints=None)
    arrays = data.arrays()
    kintree = np.array(arrays["kintree_table"], dtype=np.int64)
    kintree[0] = data.parents
    arrays["kintree_table"] = kintree
    arrays["meta"] = np.array(json.dumps(data.meta, sort_keys=True))
    with atomic_write_path(path) as tmp:
        (np.savez_compressed if compress else np.savez)(tmp, **arrays)
    return path


def with_h36m_regressor(data: BodyModelData, path: PathLike) -> BodyModelData:
    """``data`` with ``J_regressor_h36m`` read from a ``.npy`` of shape (17, V) (e.g. SPIN's
    ``J_regressor_h36m.npy``), read without pickle; an unusable file raises an error naming it and the shape."""
    reg_path = Path(path)
    if not reg_path.is_file():
        raise FileNotFoundError(f"H36M regressor file not found: {reg_path}")
    try:
        reg = np.load(reg_path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise BodyModelFileError(f"{reg_path}: not a readable .npy array: {exc}") from exc
    if isinstance(reg, np.lib.npyio.NpzFile):
        reg.close()
        raise BodyModelFileError(
            f"{reg_path}: expected a .npy array of shape ({H36M_NUM_JOINTS}, {data.num_vertices}), got an .npz archive"
        )
    if reg.ndim != 2 or reg.shape != (H36M_NUM_JOINTS, data.num_vertices):
        raise BodyModelFileError(
            f"{reg_path}: H36M regressor has shape {_shape_str(reg.shape)}, expected "
            f"({H36M_NUM_JOINTS}, {data.num_vertices}) for this {data.num_vertices}-vertex model"
        )
    return replace(data, J_regressor_h36m=np.asarray(reg, dtype=np.float64))


def convert_smpl(
    pkl_path: PathLike, out_path: PathLike, h36m_regressor: Optional[PathLike] = None, compress: bool = False
) -> BodyModelData:
    """Convert an official SMPL ``.pkl`` (or any readable body-model file) to a weakpose ``.npz``.

    ``h36m_regressor``: optional ``.npy`` of shape (17, V), e.g. SPIN's ``J_regressor_h36m.npy``, stored as
    ``J_regressor_h36m``. Only the keys of the shared format are kept. Returns the data written.
    """
    data = load_body_model_file(pkl_path)
    if h36m_regressor is not None:
        data = with_h36m_regressor(data, h36m_regressor)
    meta = dict(data.meta)
    meta.setdefault("name", Path(pkl_path).stem)
    meta.setdefault("converted_from", Path(pkl_path).name)
    meta.setdefault("converted_by", "weakpose convert-smpl")
    if h36m_regressor is not None:
        meta.setdefault("h36m_regressor_from", Path(h36m_regressor).name)
    meta.setdefault("licence", "as the source model (the SMPL licence forbids redistribution)")
    data = replace(data, meta=meta, source=str(out_path))
    save_body_model_file(data, out_path, compress=compress)
    return data


def main(argv: Optional[List[str]] = None) -> int:
    """``weakpose convert-smpl IN.pkl OUT.npz [--h36m-regressor J_regressor_h36m.npy]``."""
    parser = argparse.ArgumentParser(
        prog="weakpose convert-smpl",
        description="Convert an official SMPL .pkl (chumpy pickle; chumpy not needed) to weakpose's .npz "
        "body-model format (metres, dense J_regressor).",
    )
    parser.add_argument("input", help="SMPL model file (.pkl, or an .npz to re-validate)")
    parser.add_argument("output", help="output .npz path (written atomically)")
    parser.add_argument(
        "--h36m-regressor",
        default=None,
        help="optional (17, V) .npy regressing Human3.6M-17 joints from vertices (e.g. SPIN's J_regressor_h36m.npy)",
    )
    parser.add_argument("--compress", action="store_true", help="write a compressed .npz")
    args = parser.parse_args(argv)
    try:
        data = convert_smpl(args.input, args.output, h36m_regressor=args.h36m_regressor, compress=args.compress)
    except (BodyModelFileError, FileNotFoundError, ValueError) as exc:
        print(f"weakpose convert-smpl: error: {exc}", file=sys.stderr)
        return 1
    print(
        f"wrote {args.output}: {data.num_vertices} vertices, {data.num_faces} faces, {data.num_joints} joints, "
        f"{data.num_betas} shape components, H36M regressor: "
        f"{'yes' if data.J_regressor_h36m is not None else 'no'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
