"""Generated SMPL-format body models for tests (the SMPL licence forbids shipping the real one).

``make_smpl_sized_model`` builds arrays with SMPL's exact sizes and layout (6890 vertices, 13776 faces, 24 joints in
SMPL-24 order with SMPL's kinematic tree, 10 shape components, 207 pose correctives): a smooth template made of
capsules around a T-pose skeleton, normalised skinning weights that blend each part with its parent and child,
a J_regressor whose rows average rings of vertices around each joint (rows sum to 1), smooth shape and pose
blend shapes. No weakpose code is used to write the files:

* ``write_npz``          -- weakpose's .npz layout (``np.savez``);
* ``write_chumpy_pkl``   -- an official-style Python-2 pickle: arrays wrapped in ``chumpy.ch.Ch`` objects (a fake
                            chumpy module exists only while pickling), ``J_regressor`` a ``scipy.sparse.csc_matrix``
                            under the old ``scipy.sparse.csc`` module path, NumPy under ``numpy.core``, strings and
                            array buffers as Python-2 ``str`` opcodes, root parent 4294967295;
* ``write_plain_pkl``    -- a pickle of plain arrays, the form ``smplx.SMPL(model_path=...)`` loads without chumpy.
"""

from __future__ import annotations

import contextlib
import io
import pickle
import struct
import sys
import types
from pathlib import Path
from typing import Dict

import numpy as np
import scipy.sparse as sp

from weakpose.skeleton import SMPL24

NUM_VERTICES = 6890
NUM_FACES = 13776
NUM_BETAS = 10
RING = 12  # vertices per ring of a capsule

# Approximate SMPL neutral rest joints (metres, Y up, facing +Z), SMPL-24 order.
REST_JOINTS = np.array(
    [
        [0.00, -0.22, 0.03],
        [0.06, -0.31, 0.02],
        [-0.06, -0.31, 0.02],
        [0.00, -0.11, 0.00],
        [0.10, -0.69, 0.02],
        [-0.10, -0.69, 0.02],
        [0.00, 0.03, 0.03],
        [0.09, -1.09, -0.02],
        [-0.09, -1.09, -0.02],
        [0.00, 0.08, 0.03],
        [0.12, -1.15, 0.10],
        [-0.12, -1.15, 0.10],
        [0.00, 0.29, 0.00],
        [0.08, 0.19, 0.01],
        [-0.08, 0.19, 0.01],
        [0.00, 0.36, 0.05],
        [0.19, 0.23, -0.01],
        [-0.19, 0.23, -0.01],
        [0.45, 0.21, -0.03],
        [-0.45, 0.21, -0.03],
        [0.70, 0.22, -0.03],
        [-0.70, 0.22, -0.03],
        [0.78, 0.21, -0.04],
        [-0.78, 0.21, -0.04],
    ]
)
PART_RADIUS = np.array(
    [
        0.12,
        0.08,
        0.08,
        0.12,
        0.06,
        0.06,
        0.13,
        0.05,
        0.05,
        0.13,
        0.04,
        0.04,
        0.06,
        0.05,
        0.05,
        0.10,
        0.05,
        0.05,
        0.04,
        0.04,
        0.03,
        0.03,
        0.03,
        0.03,
    ]
)


def _perpendicular_frame(axis: np.ndarray):
    axis = axis / np.linalg.norm(axis)
    helper = np.array([0.0, 0.0, 1.0]) if abs(axis[2]) < 0.9 else np.array([1.0, 0.0, 0.0])
    u = np.cross(axis, helper)
    u /= np.linalg.norm(u)
    return u, np.cross(axis, u)


def make_smpl_sized_model(seed: int = 0) -> Dict[str, np.ndarray]:
    """Arrays of a SMPL-sized model (float64; kintree root = 4294967295 and faces uint32, as in SMPL pickles)."""
    rng = np.random.default_rng(seed)
    parents = np.array(SMPL24.parents)
    num_joints = len(parents)
    children = {j: [c for c in range(num_joints) if parents[c] == j] for j in range(num_joints)}
    counts = np.full(num_joints, NUM_VERTICES // num_joints)
    counts[: NUM_VERTICES - counts.sum()] += 1

    verts, owner, along = [], [], []
    for j in range(num_joints):
        if children[j]:
            end = REST_JOINTS[children[j]].mean(axis=0)
        else:  # leaf: extend along the parent bone
            end = REST_JOINTS[j] + 0.5 * (REST_JOINTS[j] - REST_JOINTS[parents[j]])
        axis = end - REST_JOINTS[j]
        if np.linalg.norm(axis) < 1e-6:
            axis = np.array([0.0, 0.05, 0.0])
        u, w = _perpendicular_frame(axis)
        n = counts[j]
        rings = int(np.ceil(n / RING))
        i = np.arange(n)
        s = (i // RING) / max(rings - 1, 1)
        phi = 2 * np.pi * (i % RING) / RING + 0.1 * j
        radius = PART_RADIUS[j] * (1.0 + 0.15 * np.sin(np.pi * s))  # smooth bulge along the part
        pts = (
            REST_JOINTS[j] + s[:, None] * axis + radius[:, None] * (np.cos(phi)[:, None] * u + np.sin(phi)[:, None] * w)
        )
        verts.append(pts)
        owner.append(np.full(n, j))
        along.append(s)
    v_template = np.concatenate(verts)
    owner = np.concatenate(owner)
    along = np.concatenate(along)

    # Skinning weights: own part dominates; blend towards the parent near the start, towards a child near the end.
    weights = np.zeros((NUM_VERTICES, num_joints))
    weights[np.arange(NUM_VERTICES), owner] = 0.6 + 0.4 * rng.random(NUM_VERTICES)
    has_parent = parents[owner] >= 0
    weights[np.flatnonzero(has_parent), parents[owner[has_parent]]] += 0.4 * (1 - along[has_parent])
    first_child = np.array([children[j][0] if children[j] else -1 for j in range(num_joints)])
    has_child = first_child[owner] >= 0
    weights[np.flatnonzero(has_child), first_child[owner[has_child]]] += 0.3 * along[has_child]
    weights /= weights.sum(axis=1, keepdims=True)

    # Joint regressor: average of the ring at the start of the joint's own part (sits around the joint).
    J_regressor = np.zeros((num_joints, NUM_VERTICES))
    for j in range(num_joints):
        ring = np.flatnonzero((owner == j) & (along == 0))
        J_regressor[j, ring] = 0.5 + rng.random(len(ring))
    J_regressor /= J_regressor.sum(axis=1, keepdims=True)

    # Shape blend shapes: smooth (affine + low-frequency) fields of a few centimetres per unit beta.
    shapedirs = np.zeros((NUM_VERTICES, 3, NUM_BETAS))
    for k in range(NUM_BETAS):
        A = 0.03 * rng.standard_normal((3, 3))
        freq = rng.standard_normal((3, 3)) * 2.0
        shapedirs[:, :, k] = v_template @ A.T + 0.01 * np.sin(v_template @ freq.T)
    # Pose correctives: smooth, millimetres to a centimetre per unit feature.
    omega = rng.standard_normal((3, 3 * 207)) * 3.0
    phase = rng.uniform(0, 2 * np.pi, 3 * 207)
    posedirs = (0.004 * np.sin(v_template @ omega + phase)).reshape(NUM_VERTICES, 3, 207)

    # Faces: each capsule is a closed tube (quads between consecutive rings, wrapping around) with fan caps;
    # SMPL's count is F = 2V - 4 = 13776 (a closed genus-0 mesh).
    faces, quads = [], []
    start = 0
    for j in range(num_joints):
        full_rings = counts[j] // RING
        ring = lambda r, k: start + r * RING + (k % RING)  # noqa: E731
        for r in range(full_rings - 1):
            for k in range(RING):
                faces.append((ring(r, k), ring(r, k + 1), ring(r + 1, k)))
                faces.append((ring(r, k + 1), ring(r + 1, k + 1), ring(r + 1, k)))
                quads.append((ring(r, k), ring(r, k + 1), ring(r + 1, k + 1)))  # the other diagonal
        for k in range(1, RING - 1):
            faces.append((ring(0, 0), ring(0, k + 1), ring(0, k)))
            last = full_rings - 1
            faces.append((ring(last, 0), ring(last, k), ring(last, k + 1)))
        start += counts[j]
    # The few hundred faces still missing (partial rings are left open) are the quads' other diagonals.
    faces = np.array((faces + quads)[:NUM_FACES], dtype=np.uint32)

    kintree = np.stack([parents, np.arange(num_joints)]).astype(np.int64)
    kintree[0, 0] = 4294967295
    h36m = rng.random((17, NUM_VERTICES)) * (rng.random((17, NUM_VERTICES)) < 0.01)
    h36m /= h36m.sum(axis=1, keepdims=True)
    return dict(
        v_template=v_template,
        shapedirs=shapedirs,
        posedirs=posedirs,
        J_regressor=J_regressor,
        weights=weights,
        kintree_table=kintree,
        f=faces,
        J_regressor_h36m=h36m,
    )


def write_npz(model: Dict[str, np.ndarray], path, with_h36m: bool = True) -> Path:
    arrays = {k: v for k, v in model.items() if with_h36m or k != "J_regressor_h36m"}
    np.savez(path, **arrays)
    return Path(path)


def write_plain_pkl(model: Dict[str, np.ndarray], path) -> Path:
    """Plain arrays, ``J_regressor`` as scipy csc: what smplx's SMPL loader reads directly."""
    data = {k: v for k, v in model.items() if k != "J_regressor_h36m"}
    data["J_regressor"] = sp.csc_matrix(model["J_regressor"])
    with open(path, "wb") as fh:
        pickle.dump(data, fh, protocol=2)
    return Path(path)


@contextlib.contextmanager
def _fake_chumpy():
    """Install a minimal ``chumpy`` / ``chumpy.ch`` in sys.modules (only so that pickle can name ``chumpy.ch.Ch``)."""
    saved = {name: sys.modules.get(name) for name in ("chumpy", "chumpy.ch")}
    chumpy = types.ModuleType("chumpy")
    ch = types.ModuleType("chumpy.ch")

    class Ch:
        def __init__(self, x):
            # What a leaf chumpy Ch pickles (its __getstate__ drops _parents and _cache).
            self.x = x
            self._dirty_vars = set()
            self._itr = None
            self._depends_on_deps = {}
            self._make_dense = False
            self._make_sparse = False

    Ch.__module__ = "chumpy.ch"
    Ch.__qualname__ = "Ch"
    ch.Ch = Ch
    chumpy.ch = ch
    chumpy.Ch = Ch
    sys.modules["chumpy"], sys.modules["chumpy.ch"] = chumpy, ch
    try:
        yield Ch
    finally:
        for name, mod in saved.items():
            if mod is None:
                sys.modules.pop(name, None)
            else:  # pragma: no cover - a real chumpy was installed
                sys.modules[name] = mod


class _Python2StylePickler(pickle._Pickler):
    """Writes ``bytes`` and ``str`` as Python-2 ``str`` (BINSTRING) opcodes, as cPickle did for SMPL's files."""

    dispatch = dict(pickle._Pickler.dispatch)

    def _save_py2_str(self, obj):
        data = obj if isinstance(obj, bytes) else obj.encode("latin1")
        if len(data) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(data)]) + data)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(data)) + data)
        self.memoize(obj)

    dispatch[bytes] = _save_py2_str
    dispatch[str] = _save_py2_str


def write_chumpy_pkl(model: Dict[str, np.ndarray], path, drop_keys=(), python2_style: bool = True) -> Path:
    """An official-style SMPL pickle (see the module docstring); ``drop_keys`` leaves keys out (bad-file tests)."""
    with _fake_chumpy() as Ch:
        data = {
            "v_template": Ch(model["v_template"]),
            "shapedirs": Ch(model["shapedirs"]),
            "posedirs": model["posedirs"],
            "J_regressor": sp.csc_matrix(model["J_regressor"]),
            "J_regressor_prior": sp.csc_matrix(model["J_regressor"]),
            "weights": Ch(model["weights"]),
            "weights_prior": model["weights"],
            "kintree_table": model["kintree_table"],
            "f": model["f"],
            "J": Ch(model["J_regressor"] @ model["v_template"]),
            "bs_style": "lbs",
            "bs_type": "lrotmin",
            "vert_sym_idxs": np.arange(NUM_VERTICES),
        }
        for key in drop_keys:
            data.pop(key)
        buf = io.BytesIO()
        (_Python2StylePickler(buf, protocol=2) if python2_style else pickle.Pickler(buf, protocol=2)).dump(data)
    raw = buf.getvalue()
    # Module paths as the 2015 files have them.
    raw = raw.replace(b"cscipy.sparse._csc\ncsc_matrix\n", b"cscipy.sparse.csc\ncsc_matrix\n")
    raw = raw.replace(b"cnumpy._core.multiarray\n", b"cnumpy.core.multiarray\n")
    Path(path).write_bytes(raw)
    return Path(path)
