"""BodyModel / lbs: agreement with smplx on an SMPL-sized model, an independent NumPy LBS on a tiny model, hand-checked
poses, pose-type equivalence, finite-difference gradients, betas handling, dtype and input errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from body_fixtures import make_smpl_sized_model, write_chumpy_pkl, write_npz, write_plain_pkl
from scipy.spatial.transform import Rotation

from weakpose.body import BodyModel, BodyModelData
from weakpose.body import lbs as lbs_module
from weakpose.body import model as model_module
from weakpose.skeleton import SMPL24

# ---------------------------------------------------------------------------------------------------------------
# fixtures


@pytest.fixture(scope="module")
def smpl(tmp_path_factory):
    root = tmp_path_factory.mktemp("body_model")
    arrays = make_smpl_sized_model(seed=0)
    return dict(
        arrays=arrays,
        npz=write_npz(arrays, root / "smpl_like.npz"),
        chumpy_pkl=write_chumpy_pkl(arrays, root / "SMPL_NEUTRAL_like.pkl"),
        plain_pkl=write_plain_pkl(arrays, root / "smpl_plain.pkl"),
    )


def tiny_data(with_posedirs: bool = True, seed: int = 0) -> BodyModelData:
    """3 joints in a chain: root at the origin, joint 1 at (0, 1, 0), joint 2 at (1, 1, 0).

    Vertices 0-2 are bound rigidly to joints 0, 1, 2; vertex 3 is split 50/50 between joints 1 and 2. The regressor
    puts each joint exactly on a vertex (0 -> v4, 1 -> v5, 2 -> v6, bound rigidly to their own joints).
    """
    rng = np.random.default_rng(seed)
    v_template = np.array(
        [
            [0.2, 0.1, 0.0],
            [0.5, 1.0, 0.3],
            [1.4, 1.2, -0.1],
            [1.0, 1.5, 0.0],
            [0.0, 0.0, 0.0],
            [0.0, 1.0, 0.0],
            [1.0, 1.0, 0.0],
        ]
    )
    weights = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [0, 0.5, 0.5], [1, 0, 0], [0, 1, 0], [0, 0, 1]], float)
    J_regressor = np.zeros((3, 7))
    J_regressor[[0, 1, 2], [4, 5, 6]] = 1.0
    shapedirs = 0.1 * rng.standard_normal((7, 3, 2))
    posedirs = 0.05 * rng.standard_normal((7, 3, 18)) if with_posedirs else np.zeros((7, 3, 18))
    return BodyModelData(
        v_template=v_template,
        shapedirs=shapedirs,
        posedirs=posedirs,
        J_regressor=J_regressor,
        weights=weights,
        kintree_table=np.array([[-1, 0, 1], [0, 1, 2]]),
        f=np.array([[0, 1, 2], [1, 2, 3]]),
        source="tiny",
    )


def numpy_lbs(data: BodyModelData, betas, rotations, transl):
    """Independent reference: SMPL (Loper et al. 2015) written as the paper states it, one joint at a time,
    with 4x4 homogeneous transforms. betas (K,), rotations (J, 3, 3), transl (3,) -> (vertices, joints)."""
    J = data.J_regressor.shape[0]
    parents = data.parents
    v_shaped = data.v_template + data.shapedirs[..., : len(betas)] @ betas
    rest = data.J_regressor @ v_shaped
    feats = np.concatenate([(rotations[j] - np.eye(3)).ravel() for j in range(1, J)])
    v_posed = v_shaped + data.posedirs @ feats
    world = []
    for j in range(J):
        local = np.eye(4)
        local[:3, :3] = rotations[j]
        local[:3, 3] = rest[j] - (rest[parents[j]] if parents[j] >= 0 else 0)
        world.append(local if parents[j] < 0 else world[parents[j]] @ local)
    skin = []
    for j in range(J):
        unrest = np.eye(4)
        unrest[:3, 3] = -rest[j]
        skin.append(world[j] @ unrest)
    verts = np.zeros_like(v_posed)
    for i, v in enumerate(v_posed):
        T = sum(data.weights[i, j] * skin[j] for j in range(J))
        verts[i] = (T @ np.append(v, 1.0))[:3]
    joints = np.array([w[:3, 3] for w in world])
    return verts + transl, joints + transl


def random_inputs(batch, num_betas, num_joints, seed, scale=0.7):
    rng = np.random.default_rng(seed)
    return dict(
        betas=rng.standard_normal((batch, num_betas)),
        global_orient=scale * rng.standard_normal((batch, 3)),
        body_pose=scale * rng.standard_normal((batch, 3 * (num_joints - 1))),
        transl=rng.standard_normal((batch, 3)),
    )


# ---------------------------------------------------------------------------------------------------------------
# agreement with smplx on an SMPL-sized model


@pytest.mark.parametrize("which", ["npz", "chumpy_pkl"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_matches_smplx(smpl, which, dtype):
    smplx = pytest.importorskip("smplx")
    batch = 4
    ref = smplx.SMPL(model_path=str(smpl["plain_pkl"]), batch_size=batch, num_betas=10, dtype=torch.float64)
    ours = BodyModel.from_file(smpl[which], num_betas=10, dtype=dtype)
    inputs = {k: torch.as_tensor(v) for k, v in random_inputs(batch, 10, 24, seed=1).items()}
    with torch.no_grad():
        expected = ref(**inputs)
        got = ours(**inputs)
    assert got.vertices.dtype == dtype and got.vertices.shape == (batch, 6890, 3)
    # smplx adds 1e-8 to rotation vectors before taking their norm, hence not bit-identical in float64 either.
    assert torch.allclose(got.vertices.double(), expected.vertices, atol=1e-5, rtol=0)
    assert torch.allclose(got.joints.double(), expected.joints[:, :24], atol=1e-5, rtol=0)
    # H36M joints are the regressor applied to the final mesh.
    h36m = np.einsum("kv,bvc->bkc", smpl["arrays"]["J_regressor_h36m"], expected.vertices.numpy())
    if which == "npz":
        assert np.allclose(got.joints_h36m17.double().numpy(), h36m, atol=1e-5)
    else:  # the pickle carries no H36M regressor
        assert got.joints_h36m17 is None


def test_smpl_sized_model_properties(smpl):
    model = BodyModel.from_file(smpl["npz"])
    assert model.num_vertices == 6890 and model.num_betas == 10 and model.num_joints == 24
    assert model.parents == SMPL24.parents
    assert model.faces.dtype == torch.long and model.faces.shape == (13776, 3)
    assert np.array_equal(model.faces.numpy(), smpl["arrays"]["f"].astype(np.int64))
    assert model.has_h36m_regressor


def test_zero_input_gives_template_and_regressed_joints(smpl):
    model = BodyModel.from_file(smpl["npz"], dtype=torch.float64)
    out = model()
    a = smpl["arrays"]
    assert out.vertices.shape == (1, 6890, 3)
    assert np.allclose(out.vertices[0].numpy(), a["v_template"], atol=1e-12)
    assert np.allclose(out.joints[0].numpy(), a["J_regressor"] @ a["v_template"], atol=1e-12)
    assert np.allclose(out.rotations.numpy(), np.eye(3))
    assert np.array_equal(out.transl.numpy(), np.zeros((1, 3)))


# ---------------------------------------------------------------------------------------------------------------
# tiny model: hand-checkable answers and an independent NumPy reference


def test_tiny_zero_pose_is_template_plus_shape_offsets():
    data = tiny_data()
    model = BodyModel(data, num_betas=None, dtype=torch.float64)
    betas = np.array([[0.7, -1.3]])
    out = model(betas=betas)
    expected = data.v_template + 0.7 * data.shapedirs[..., 0] - 1.3 * data.shapedirs[..., 1]
    assert np.allclose(out.vertices[0].numpy(), expected, atol=1e-12)
    # Joints sit on vertices 4, 5, 6 (the regressor picks them).
    assert np.allclose(out.joints[0].numpy(), expected[[4, 5, 6]], atol=1e-12)


def test_tiny_quarter_turn_of_one_joint_moves_bound_vertices_rigidly():
    model = BodyModel(tiny_data(with_posedirs=False), num_betas=None, dtype=torch.float64)
    # 90 degrees about +z at joint 1 (at (0, 1, 0)): (x, y, z) -> (-(y - 1), x + 1, z) around that joint.
    body_pose = np.array([[0.0, 0.0, np.pi / 2, 0.0, 0.0, 0.0]])
    out = model(body_pose=body_pose)
    v = out.vertices[0].numpy()
    assert np.allclose(v[0], [0.2, 0.1, 0.0], atol=1e-12)  # bound to the root: unmoved
    assert np.allclose(v[1], [0.0, 1.5, 0.3], atol=1e-12)  # (0.5, 1.0, 0.3): 0.5 along +x -> 0.5 along +y
    assert np.allclose(v[2], [-0.2, 2.4, -0.1], atol=1e-12)  # bound to joint 2, carried along by joint 1
    assert np.allclose(v[3], [-0.5, 2.0, 0.0], atol=1e-12)  # both its joints turn the same way
    assert np.allclose(out.joints[0].numpy(), [[0, 0, 0], [0, 1, 0], [0, 2, 0]], atol=1e-12)
    # Adding a root translation shifts everything.
    moved = model(body_pose=body_pose, transl=np.array([[1.0, 2.0, 3.0]]))
    assert np.allclose(moved.vertices[0].numpy(), v + [1, 2, 3], atol=1e-12)


def test_tiny_half_split_vertex_blends_transforms():
    model = BodyModel(tiny_data(with_posedirs=False), num_betas=None, dtype=torch.float64)
    # Turn only joint 2 (at (1, 1, 0)) by 180 degrees about z: vertex 3 at (1, 1.5, 0) goes to (1, 0.5, 0) under
    # joint 2 and stays under joint 1; LBS averages the two positions.
    out = model(body_pose=np.array([[0.0, 0.0, 0.0, 0.0, 0.0, np.pi]]))
    assert np.allclose(out.vertices[0, 3].numpy(), [1.0, 1.0, 0.0], atol=1e-12)


@pytest.mark.parametrize("seed", [0, 1])
def test_tiny_matches_numpy_reference(seed):
    data = tiny_data(seed=seed)
    model = BodyModel(data, num_betas=None, dtype=torch.float64)
    inputs = random_inputs(3, 2, 3, seed=10 + seed, scale=1.0)
    out = model(**inputs)
    for b in range(3):
        rots = Rotation.from_rotvec(
            np.concatenate([inputs["global_orient"][b : b + 1], inputs["body_pose"][b].reshape(2, 3)])
        ).as_matrix()
        verts, joints = numpy_lbs(data, inputs["betas"][b], rots, inputs["transl"][b])
        assert np.allclose(out.vertices[b].numpy(), verts, atol=1e-12)
        assert np.allclose(out.joints[b].numpy(), joints, atol=1e-12)
        assert np.allclose(out.rotations[b].numpy(), rots, atol=1e-12)


def test_functional_lbs_matches_numpy_reference_on_smpl_sized_model(smpl):
    a = smpl["arrays"]
    data = BodyModelData(**{k: (v.astype(np.int64) if k in ("f", "kintree_table") else v) for k, v in a.items()})
    rng = np.random.default_rng(3)
    betas, rots = rng.standard_normal(10), Rotation.from_rotvec(0.6 * rng.standard_normal((24, 3))).as_matrix()
    verts, joints = numpy_lbs(data, betas, rots, np.zeros(3))
    t = lambda x: torch.as_tensor(x, dtype=torch.float64)  # noqa: E731
    got_v, got_j = lbs_module.lbs(
        t(betas[None]),
        t(rots[None]),
        t(a["v_template"]),
        t(a["shapedirs"]),
        t(a["posedirs"]),
        t(a["J_regressor"]),
        t(a["weights"]),
        SMPL24.parents,
    )
    assert np.allclose(got_v[0].numpy(), verts, atol=1e-10)
    assert np.allclose(got_j[0].numpy(), joints, atol=1e-10)


def test_kinematic_chain_handles_any_parent_order():
    # Levels whose parents are scattered (a gather, not a slice) and joints not numbered level by level.
    parents = [-1, 0, 0, 1, 1, 2, 3, 2]
    rng = np.random.default_rng(4)
    rots = Rotation.from_rotvec(rng.standard_normal((8, 3))).as_matrix()
    rest = rng.standard_normal((8, 3))
    joints, glob, trans = lbs_module.rigid_transforms(torch.as_tensor(rots[None]), torch.as_tensor(rest[None]), parents)
    world_r, world_t = [None] * 8, [None] * 8
    for j, p in enumerate(parents):
        if p < 0:
            world_r[j], world_t[j] = rots[j], rest[j]
        else:
            world_r[j] = world_r[p] @ rots[j]
            world_t[j] = world_r[p] @ (rest[j] - rest[p]) + world_t[p]
    assert np.allclose(joints[0].numpy(), np.array(world_t))
    assert np.allclose(glob[0].numpy(), np.array(world_r))
    assert np.allclose(trans[0].numpy(), np.array(world_t) - np.einsum("jab,jb->ja", np.array(world_r), rest))
    with pytest.raises(ValueError, match="parent"):
        lbs_module.kinematic_levels([-1, 2, 0])


# ---------------------------------------------------------------------------------------------------------------
# pose types, betas, dtype, gradients


def test_pose_types_agree(smpl):
    model = BodyModel.from_file(smpl["npz"], dtype=torch.float64)
    inputs = random_inputs(3, 10, 24, seed=5)
    mats = (
        Rotation.from_rotvec(
            np.concatenate([inputs["global_orient"][:, None], inputs["body_pose"].reshape(3, 23, 3)], 1).reshape(-1, 3)
        )
        .as_matrix()
        .reshape(3, 24, 3, 3)
    )
    rot6d = mats[..., :, :2].reshape(3, 24, 6)  # first two columns (Zhou et al. 2019)
    base = model(**inputs)
    per_joint = model(
        betas=inputs["betas"],
        transl=inputs["transl"],
        global_orient=inputs["global_orient"],
        body_pose=inputs["body_pose"].reshape(3, 23, 3),
    )
    as_matrix = model(
        betas=inputs["betas"],
        transl=inputs["transl"],
        global_orient=mats[:, 0],
        body_pose=mats[:, 1:],
        pose_type="matrix",
    )
    as_6d = model(
        betas=inputs["betas"],
        transl=inputs["transl"],
        global_orient=rot6d[:, 0],
        body_pose=rot6d[:, 1:],
        pose_type="rot6d",
    )
    as_6d_flat = model(
        betas=inputs["betas"],
        transl=inputs["transl"],
        global_orient=rot6d[:, 0],
        body_pose=rot6d[:, 1:].reshape(3, -1),
        pose_type="rot6d",
    )
    for other in (per_joint, as_matrix, as_6d, as_6d_flat):
        assert torch.allclose(other.vertices, base.vertices, atol=1e-10)
        assert torch.allclose(other.joints, base.joints, atol=1e-10)
    assert np.allclose(base.rotations.numpy(), mats, atol=1e-12)


def test_fewer_betas_are_zero_padded_and_more_are_refused(smpl):
    model = BodyModel.from_file(smpl["npz"], dtype=torch.float64)
    betas = np.random.default_rng(6).standard_normal((2, 4))
    short = model(betas=betas)
    padded = model(betas=np.concatenate([betas, np.zeros((2, 6))], axis=1))
    assert torch.allclose(short.vertices, padded.vertices, atol=1e-12)
    assert np.allclose(
        short.vertices[0].numpy(),
        smpl["arrays"]["v_template"] + smpl["arrays"]["shapedirs"][..., :4] @ betas[0],
        atol=1e-10,
    )
    with pytest.raises(ValueError, match=r"betas has shape \(2, 11\).*num_betas = 10"):
        model(betas=np.zeros((2, 11)))
    small = BodyModel.from_file(smpl["npz"], num_betas=5, dtype=torch.float64)
    assert small.num_betas == 5
    with pytest.raises(ValueError, match="num_betas = 5"):
        small(betas=np.zeros((1, 6)))
    with pytest.raises(ValueError, match=r"num_betas=11 requested.*10 shape components"):
        BodyModel.from_file(smpl["npz"], num_betas=11)


def test_dtype_follows_to_and_inputs_are_cast(smpl):
    model = BodyModel.from_file(smpl["npz"])
    assert model.dtype == torch.float32
    out32 = model(body_pose=np.full((1, 69), 0.1))  # float64 NumPy in, model dtype out
    assert out32.vertices.dtype == torch.float32
    model64 = model.to(torch.float64)
    assert model64.dtype == torch.float64 and model64.faces.dtype == torch.long
    out64 = model64(body_pose=torch.full((1, 69), 0.1))
    assert out64.vertices.dtype == torch.float64 and out64.joints_h36m17.dtype == torch.float64
    assert torch.allclose(out64.vertices.float(), out32.vertices, atol=1e-5)
    assert model64.device == torch.device("cpu")
    # The arrays are buffers that .to() moves, but not part of a checkpoint (the model is reloaded from its file).
    assert len(model64.state_dict()) == 0


def test_input_errors(smpl):
    model = BodyModel.from_file(smpl["npz"])
    with pytest.raises(ValueError, match=r"body_pose has shape \(2, 23\)"):
        model(body_pose=torch.zeros(2, 23))
    with pytest.raises(ValueError, match="batch sizes differ"):
        model(betas=torch.zeros(2, 10), transl=torch.zeros(3, 3))
    with pytest.raises(ValueError, match="pose_type"):
        model(pose_type="quaternion")
    with pytest.raises(ValueError, match=r"global_orient has shape \(1, 3\); for pose_type='rot6d'"):
        model(global_orient=torch.zeros(1, 3), pose_type="rot6d")


def test_gradients_match_finite_differences():
    model = BodyModel(tiny_data(), num_betas=None, dtype=torch.float64)
    inputs = {k: torch.as_tensor(v).requires_grad_(True) for k, v in random_inputs(2, 2, 3, seed=7).items()}

    def f(betas, global_orient, body_pose, transl):
        out = model(betas=betas, global_orient=global_orient, body_pose=body_pose, transl=transl)
        return out.vertices, out.joints

    assert torch.autograd.gradcheck(f, tuple(inputs.values()), eps=1e-6, atol=1e-7)
    rot6d = torch.randn(2, 3, 6, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda r: model(global_orient=r[:, 0], body_pose=r[:, 1:], pose_type="rot6d").vertices,
        (rot6d,),
        eps=1e-6,
        atol=1e-7,
    )


def test_gradients_flow_on_smpl_sized_model(smpl):
    model = BodyModel.from_file(smpl["npz"])
    inputs = {
        k: torch.as_tensor(v, dtype=torch.float32).requires_grad_(True)
        for k, v in random_inputs(2, 10, 24, seed=8).items()
    }
    out = model(**inputs)
    (out.vertices.square().sum() + out.joints_h36m17.sum()).backward()
    for name, value in inputs.items():
        assert value.grad is not None and torch.isfinite(value.grad).all() and value.grad.abs().sum() > 0, name


def test_default_model(monkeypatch, tmp_path):
    if model_module.DEFAULT_MODEL_PATH.is_file():
        model = BodyModel.default()
        assert model.num_joints == 24 and model.parents == SMPL24.parents
    monkeypatch.setattr(model_module, "DEFAULT_MODEL_PATH", tmp_path / "open_body.npz")
    with pytest.raises(FileNotFoundError, match="open_body.npz"):
        BodyModel.default()
