import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from weakpose.body.retarget import kabsch_rotation, retarget_h36m17, swing_rotation
from weakpose.skeleton import H36M17, SMPL24

S = SMPL24.index
# H36M-17 joint -> SMPL joint whose position stands in for it in the constructed test skeleton
H36M_FROM_SMPL = {
    "Hip": "pelvis",
    "RHip": "r_hip",
    "RKnee": "r_knee",
    "RFoot": "r_ankle",
    "LHip": "l_hip",
    "LKnee": "l_knee",
    "LFoot": "l_ankle",
    "Spine": "spine1",
    "Thorax": "neck",
    "Neck/Nose": "neck",
    "Head": "head",
    "LShoulder": "l_shoulder",
    "LElbow": "l_elbow",
    "LWrist": "l_wrist",
    "RShoulder": "r_shoulder",
    "RElbow": "r_elbow",
    "RWrist": "r_wrist",
}
MAP = np.array([S(H36M_FROM_SMPL[name]) for name in H36M17.joints])


def _rest_skeleton():
    """A Y-up SMPL-like rest skeleton with a straight vertical spine (spine1..head collinear)."""
    J = np.zeros((24, 3))
    J[S("pelvis")] = [0, 0.9, 0]
    for name, x in (("l_hip", 0.09), ("r_hip", -0.09)):
        J[S(name)] = [x, 0.82, 0.0]
        J[S(name.replace("hip", "knee"))] = [x * 1.1, 0.45, 0.01]
        J[S(name.replace("hip", "ankle"))] = [x * 1.1, 0.07, -0.02]
        J[S(name.replace("hip", "foot"))] = [x * 1.1, 0.02, 0.1]
    for name, y in (("spine1", 1.0), ("spine2", 1.12), ("spine3", 1.25), ("neck", 1.45), ("head", 1.6)):
        J[S(name)] = [0, y, 0]
    for side, x in (("l", 1), ("r", -1)):
        J[S(f"{side}_collar")] = [0.07 * x, 1.4, 0]
        J[S(f"{side}_shoulder")] = [0.18 * x, 1.42, 0]
        J[S(f"{side}_elbow")] = [0.45 * x, 1.42, -0.01]
        J[S(f"{side}_wrist")] = [0.7 * x, 1.42, 0]
        J[S(f"{side}_hand")] = [0.78 * x, 1.42, 0]
    return J


def _fk(J, local, transl):
    n = local.shape[0]
    G = np.zeros((n, 24, 3, 3))
    P = np.zeros((n, 24, 3))
    for j, p in enumerate(SMPL24.parents):
        if p < 0:
            G[:, j], P[:, j] = local[:, j], J[j]
        else:
            G[:, j] = G[:, p] @ local[:, j]
            P[:, j] = P[:, p] + np.einsum("nij,j->ni", G[:, p], J[j] - J[p])
    return P + transl[:, None]


def test_swing_and_kabsch_against_scipy(rng):
    a, b = rng.normal(size=(50, 3)), rng.normal(size=(50, 3))
    R = swing_rotation(a, b)
    np.testing.assert_allclose(
        np.einsum("nij,nj->ni", R, a / np.linalg.norm(a, axis=1, keepdims=True)),
        b / np.linalg.norm(b, axis=1, keepdims=True),
        atol=1e-12,
    )
    np.testing.assert_allclose(np.linalg.det(R), 1.0, atol=1e-12)
    # minimal: the rotation angle equals the angle between the vectors
    ang = Rotation.from_matrix(R).magnitude()
    cos = np.sum(a * b, 1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
    np.testing.assert_allclose(ang, np.arccos(cos), atol=1e-9)
    opp = swing_rotation(np.array([1.0, 0, 0]), np.array([-1.0, 0, 0]))
    np.testing.assert_allclose(opp @ [1.0, 0, 0], [-1, 0, 0], atol=1e-12)

    src = rng.normal(size=(2, 3))
    true = Rotation.random(random_state=1)
    dst = true.apply(src)
    np.testing.assert_allclose(kabsch_rotation(src, dst), true.as_matrix(), atol=1e-9)


def test_retarget_recovers_a_pose_of_the_same_skeleton(rng):
    """Targets made by FK of the same skeleton: retargeted joints must land exactly on them."""
    J = _rest_skeleton()
    n = 20
    local = np.broadcast_to(np.eye(3), (n, 24, 3, 3)).copy()
    for name in ("pelvis", "spine1", "neck", "l_hip", "r_hip", "l_shoulder", "r_shoulder"):
        local[:, S(name)] = Rotation.from_rotvec(rng.normal(scale=0.6, size=(n, 3))).as_matrix()
    for name in ("l_knee", "r_knee", "l_elbow", "r_elbow"):  # hinge-like bends
        local[:, S(name)] = Rotation.from_rotvec(rng.uniform(0.1, 1.5, size=(n, 1)) * [1, 0, 0]).as_matrix()
    # spine3 twists about the (vertical) spine axis so spine1..neck stay collinear as the mapping assumes
    local[:, S("spine3")] = Rotation.from_rotvec(rng.normal(scale=0.5, size=(n, 1)) * [0, 1, 0]).as_matrix()
    # the world is Z-up: the root rotation must absorb the axis change
    y_to_z = Rotation.from_euler("x", 90, degrees=True).as_matrix()
    local[:, 0] = y_to_z @ local[:, 0]
    transl = rng.normal(size=(n, 3))
    posed = _fk(J, local, transl)
    targets = posed[:, MAP]

    res = retarget_h36m17(J, targets)
    np.testing.assert_allclose(res.joints[:, MAP], targets, atol=1e-9)
    np.testing.assert_allclose(_fk(J, res.local_rotations, res.transl), res.joints, atol=1e-9)
    np.testing.assert_allclose(np.linalg.det(res.local_rotations), 1.0, atol=1e-9)


def test_retarget_keeps_body_bone_lengths_and_track_directions(rng):
    J = _rest_skeleton()
    track = _fk(
        J * 1.15,
        np.broadcast_to(Rotation.random(8, random_state=3).as_matrix()[:, None], (8, 24, 3, 3)).copy(),
        np.zeros((8, 3)),
    )[:, MAP]
    res = retarget_h36m17(J, track)
    l_knee, l_ankle = S("l_knee"), S("l_ankle")
    shin = np.linalg.norm(res.joints[:, l_ankle] - res.joints[:, l_knee], axis=-1)
    np.testing.assert_allclose(shin, np.linalg.norm(J[l_ankle] - J[l_knee]), atol=1e-12)
    d_body = res.joints[:, l_ankle] - res.joints[:, l_knee]
    d_track = track[:, H36M17.index("LFoot")] - track[:, H36M17.index("LKnee")]
    cos = np.sum(d_body * d_track, -1) / np.linalg.norm(d_body, axis=-1) / np.linalg.norm(d_track, axis=-1)
    np.testing.assert_allclose(cos, 1.0, atol=1e-12)


def test_retarget_rejects_bad_input():
    with pytest.raises(ValueError, match=r"\(N, 17, 3\)"):
        retarget_h36m17(_rest_skeleton(), np.zeros((4, 16, 3)))
    with pytest.raises(ValueError, match="NaN"):
        retarget_h36m17(_rest_skeleton(), np.full((1, 17, 3), np.nan))
