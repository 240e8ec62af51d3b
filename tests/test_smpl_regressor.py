"""SMPL regressor on the encoder latent: mean initialisation, unrestricted 6D rotations, body placement, the losses
against hand computations, a few optimisation steps, the task on a tiny rendered crop set, and the sample script."""

import importlib.util
import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from weakpose.body import BodyModel
from weakpose.data.datasets.latents import collate_frames, encode_frames
from weakpose.data.datasets.multiview import resize_images
from weakpose.geometry.camera import Camera, scale_intrinsics
from weakpose.geometry.rotations import axis_angle_to_matrix, matrix_to_rot6d, rot6d_to_matrix
from weakpose.geometry.virtual_camera import place_body, virtual_rotation
from weakpose.losses.body import joint_loss, silhouette_loss
from weakpose.metrics import silhouette_iou
from weakpose.models.encoder_decoder import latent_features
from weakpose.models.smpl_regressor import SMPLRegressor, chordal_mean_rotation, upright_facing_camera
from weakpose.render import HardRasterizer
from weakpose.skeleton import SMPL24
from weakpose.tasks.smpl_from_enc import SMPLFromEncTask
from weakpose.train import TrainConfig, Trainer

ROOT = Path(__file__).resolve().parents[1]
SIL = 32


@pytest.fixture(scope="module")
def body():
    return BodyModel.default(num_betas=10)


def _tiny_encoder(size: int):
    """The lead's EncoderDecoder, tiny and randomly initialised; a stand-in with the same encode() otherwise."""
    torch.manual_seed(0)
    try:
        from weakpose.models.encoder_decoder import EncoderDecoder
    except ImportError:  # pragma: no cover - only while the encoder module does not exist
        EncoderDecoder = None
    if EncoderDecoder is not None:
        return EncoderDecoder(image_size=size, hidden=32, num_points=10, appearance_dim=4, decoder_width=32).eval()

    class StandIn(nn.Module):  # pragma: no cover
        image_size = size

        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(3 * size * size, 34)

        def encode(self, images):
            from types import SimpleNamespace

            h = self.lin(images.flatten(1))
            return SimpleNamespace(points=h[:, :30].reshape(-1, 10, 3), appearance=h[:, 30:])

    return StandIn().eval()


@pytest.fixture(scope="module")
def crops(tmp_path_factory):
    """A tiny rendered crop set (S1 labelled, S9 not; 3 frames each, 4 views, 32 px) and its cached latents."""
    from weakpose.data.datasets.multiview import MultiViewImageDataset
    from weakpose.data.synthetic.images import make_synthetic_images
    from weakpose.data.synthetic.keypoints import make_synthetic

    kp = tmp_path_factory.mktemp("kp")
    make_synthetic(kp, max_frames=30, include_bvh=False, actions=["Walking"])
    out = tmp_path_factory.mktemp("crops")
    make_synthetic_images(
        out, subjects=["S1", "S9"], max_frames=3, sampled_frames=0, image_size=32, keypoint_dir=str(kp)
    )
    dataset = MultiViewImageDataset(out)
    encoder = _tiny_encoder(32)
    frames = encode_frames(encoder, dataset, ["S1"], silhouette_size=SIL, batch_size=4, progress=False)
    return dataset, encoder, frames, out


# ----------------------------------------------------------------------------------------------- regressor


def test_zero_last_layer_outputs_the_mean_parameters_exactly():
    torch.manual_seed(0)
    reg = SMPLRegressor(in_features=7, hidden=16, dropout=0.0)
    mats = axis_angle_to_matrix(torch.randn(24, 3))
    rot = matrix_to_rot6d(mats)
    betas, root = torch.randn(10), torch.tensor([0.1, -0.2, 0.3])
    reg.set_mean_params(rot, betas, root)
    nn.init.zeros_(reg.decoder.weight)
    out = reg(torch.randn(5, 7))
    assert torch.equal(out.rot6d, rot.expand(5, 24, 6))
    assert torch.equal(out.betas, betas.expand(5, 10))
    assert torch.equal(out.root_offset, root.expand(5, 3))
    torch.testing.assert_close(out.rotmat, mats.expand(5, 24, 3, 3), atol=1e-6, rtol=0)
    # each of the 3 iterations adds the decoder's output: with zero weights, the bias, un-squashed (no tanh)
    nn.init.constant_(reg.decoder.bias, 2.5)
    out = reg(torch.randn(2, 7))
    torch.testing.assert_close(out.betas, (betas + 3 * 2.5).expand(2, 10))
    torch.testing.assert_close(out.root_offset, (root + 7.5).expand(2, 3))
    with pytest.raises(ValueError, match=r"\(B, 7\)"):
        reg(torch.zeros(2, 8))
    with pytest.raises(ValueError, match="rot6d"):
        reg.set_mean_params(torch.zeros(23, 6))


def test_default_mean_is_upright_and_facing_the_camera(body):
    reg = SMPLRegressor(in_features=3, hidden=8)
    np.testing.assert_array_equal(upright_facing_camera().numpy(), np.diag([1.0, -1.0, -1.0]))
    nn.init.zeros_(reg.decoder.weight)
    with torch.no_grad():
        out = reg.eval()(torch.zeros(1, 3))
    posed = body(betas=out.betas, global_orient=out.rotmat[:, 0], body_pose=out.rotmat[:, 1:], pose_type="matrix")
    j = posed.joints[0]
    idx = SMPL24.index
    assert float(j[idx("head"), 1] - j[idx("pelvis"), 1]) < -0.5  # camera y points down: the head is at -y
    for side in ("l", "r"):  # toes point at the camera (-z) from the ankles: the body faces the camera
        assert float(j[idx(f"{side}_foot"), 2] - j[idx(f"{side}_ankle"), 2]) < -0.08
    assert float(j[idx("l_hip"), 0] - j[idx("r_hip"), 0]) > 0.15  # its left is on the image's right
    torch.testing.assert_close(out.rotmat[0, 1:], torch.eye(3).expand(23, 3, 3))
    assert torch.equal(out.betas, torch.zeros(1, 10))


def test_six_d_output_represents_a_subject_facing_away_exactly(body):
    """A 180° yaw (about the camera's vertical axis) of the facing pose: a rotation that tanh-squashed outputs of
    an axis-angle or a clamped parameterisation near the mean could not reach; 6D holds it exactly."""
    yaw = axis_angle_to_matrix(torch.tensor([0.0, math.pi, 0.0]))  # R_y(180°), about the camera's vertical
    away = torch.diag(torch.tensor([-1.0, -1.0, 1.0]))
    torch.testing.assert_close(yaw @ upright_facing_camera(), away, atol=1e-6, rtol=0)
    reg = SMPLRegressor(in_features=3, hidden=8)
    rot = reg.mean_rot6d.clone()
    rot[0] = matrix_to_rot6d(away)
    reg.set_mean_params(rot)
    nn.init.zeros_(reg.decoder.weight)
    with torch.no_grad():
        out = reg(torch.zeros(2, 3))
    torch.testing.assert_close(out.rotmat[:, 0], away.expand(2, 3, 3), atol=0, rtol=0)
    j = body(global_orient=out.rotmat[:1, 0], pose_type="matrix").joints[0]
    assert float(j[SMPL24.index("l_foot"), 2] - j[SMPL24.index("l_ankle"), 2]) > 0.08  # toes away from camera
    assert float(j[SMPL24.index("head"), 1]) < -0.5  # still upright
    # and a 6D vector far from unit length is a valid rotation too (nothing is clamped)
    big = torch.tensor([[-40.0, 3.0, 0.0, 50.0, 0.5, 2.0]])
    m = rot6d_to_matrix(big)[0]
    torch.testing.assert_close(m @ m.T, torch.eye(3), atol=1e-6, rtol=0)
    assert float(torch.det(m)) == pytest.approx(1.0, abs=1e-6)


def test_chordal_mean_rotation():
    # about one axis the chordal mean of angles a ± d is the rotation by a
    rz = lambda a: axis_angle_to_matrix(torch.tensor([0.0, 0.0, a], dtype=torch.float64))  # noqa: E731
    mean = chordal_mean_rotation(torch.stack([rz(0.2), rz(1.0)]))
    torch.testing.assert_close(mean, rz(0.6), atol=1e-6, rtol=0)
    # per joint: a proper rotation, and the nearest one to the arithmetic mean (its defining property)
    g = torch.Generator().manual_seed(0)
    R = axis_angle_to_matrix(torch.randn(50, 4, 3, generator=g, dtype=torch.float64) * 0.4)
    m = chordal_mean_rotation(R)
    assert m.shape == (4, 3, 3)
    torch.testing.assert_close(m @ m.transpose(-1, -2), torch.eye(3, dtype=torch.float64).expand(4, 3, 3))
    np.testing.assert_allclose(torch.det(m).numpy(), 1.0, atol=1e-12)
    avg = R.mean(0)
    for j in range(4):  # no other rotation nearby is closer to the arithmetic mean (Frobenius)
        best = float(torch.linalg.matrix_norm(m[j] - avg[j]))
        for _ in range(20):
            other = axis_angle_to_matrix(torch.randn(3, generator=g, dtype=torch.float64) * 0.05) @ m[j]
            assert float(torch.linalg.matrix_norm(other - avg[j])) >= best - 1e-12
    with pytest.raises(ValueError, match="N, ..., 3, 3"):
        chordal_mean_rotation(torch.zeros(0, 3, 3))


# ----------------------------------------------------------------------------------------------- geometry, losses


def test_place_body_matches_a_numpy_transform():
    g = np.random.default_rng(0)
    B, N = 3, 5
    verts = g.normal(size=(B, N, 3))
    joints = g.normal(size=(B, 17, 3))
    R = axis_angle_to_matrix(g.normal(size=(B, 3)))
    root = g.normal(size=(B, 3))
    offset = g.normal(size=(B, 3)) * 0.1
    t = lambda a: torch.as_tensor(a)  # noqa: E731
    vw, jw = place_body(t(verts), t(joints), t(R), t(root), t(offset))
    for b in range(B):
        expect_v = np.stack([R[b].T @ (x - joints[b, 0] + offset[b]) + root[b] for x in verts[b]])
        expect_j = np.stack([R[b].T @ (x - joints[b, 0] + offset[b]) + root[b] for x in joints[b]])
        np.testing.assert_allclose(vw[b].numpy(), expect_v, atol=1e-12)
        np.testing.assert_allclose(jw[b].numpy(), expect_j, atol=1e-12)
    np.testing.assert_allclose(jw[:, 0].numpy(), root + np.einsum("bji,bj->bi", R, offset), atol=1e-12)
    with pytest.raises(ValueError, match="R_v"):
        place_body(t(verts), t(joints), t(R)[:2], t(root), t(offset))


def test_joint_loss_by_hand():
    # 2 joints, 3 samples; R_look = 90° about z for sample 0, identity otherwise
    pred = torch.tensor(
        [[[1.0, 1.0, 1.0], [1.0, 2.0, 1.0]], [[0.0, 0.0, 0.0], [0.0, 0.0, 3.0]], [[5.0, 5.0, 5.0], [9.0, 9.0, 9.0]]]
    )
    target = torch.tensor(
        [
            [[7.0, 7.0, 7.0], [8.0, 7.0, 7.0]],  # root-relative (1, 0, 0) -> rotated (0, 1, 0)
            [[0.0, 0.0, 0.0], [0.0, 0.0, 1.0]],
            [[0.0, 0.0, 0.0], [0.0, 0.0, 0.0]],
        ]
    )
    rz = torch.tensor([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    R_look = torch.stack([rz, torch.eye(3), torch.eye(3)])
    # sample 0: pred rel (0, 1, 0) vs (0, 1, 0): 0; sample 1: (0, 0, 3) vs (0, 0, 1): squared 4 at joint 1,
    # mean over the 2 joints = 2; sample 2 is unlabelled.
    has = torch.tensor([True, True, False])
    assert float(joint_loss(pred, target, R_look, has)) == pytest.approx((0.0 + 2.0) / 2)
    assert float(joint_loss(pred, target, R_look, torch.tensor([0, 1, 0]))) == pytest.approx(2.0)
    # sample 2 alone: rel (4,4,4) vs 0 -> 48 at joint 1 -> 24
    assert float(joint_loss(pred, target, R_look, torch.tensor([False, False, True]))) == pytest.approx(24.0)
    p = pred.clone().requires_grad_(True)
    none = joint_loss(p, target, R_look, torch.zeros(3, dtype=torch.bool))
    assert float(none.detach()) == 0.0
    none.backward()  # still a graph, zero gradient
    assert torch.equal(p.grad, torch.zeros_like(p))
    with pytest.raises(ValueError, match="has_3d"):
        joint_loss(pred, target, R_look, has[:2])


def test_silhouette_loss_and_iou_by_hand():
    r = torch.tensor([[[1.0, 0.5], [0.0, 0.0]], [[0.0, 0.0], [0.0, 0.0]]])
    m = torch.tensor([[[1.0, 1.0], [0.0, 1.0]], [[0.0, 0.0], [0.0, 0.0]]])
    # squared errors: image 0: 0, 0.25, 0, 1; image 1: 0 -> mean over 8 pixels
    assert float(silhouette_loss(r, m)) == pytest.approx(1.25 / 8)
    # soft IoU image 0: inter = 1 + 0.5 = 1.5; union = (1+1-1) + (0.5+1-0.5) + 0 + 1 = 3 -> 0.5; image 1 empty -> 1
    assert float(silhouette_loss(r, m, "iou")) == pytest.approx(((1 - 0.5) + 0.0) / 2)
    with pytest.raises(ValueError, match="kind"):
        silhouette_loss(r, m, "l1")
    # hard IoU at 0.5: pred {(0,0)} (0.5 is not > 0.5) vs mask {(0,0),(0,1),(1,1)} -> 1/3; empty/empty -> 1
    np.testing.assert_allclose(silhouette_iou(r, m).numpy(), [1 / 3, 1.0], rtol=1e-6)
    np.testing.assert_allclose(silhouette_iou(m, r).numpy(), [1 / 3, 1.0], rtol=1e-6)
    with pytest.raises(ValueError, match="same"):
        silhouette_iou(r, m[:1])


def test_resize_and_scaled_intrinsics():
    x = torch.arange(16.0).reshape(1, 1, 4, 4)
    np.testing.assert_allclose(resize_images(x, 2)[0, 0].numpy(), [[2.5, 4.5], [10.5, 12.5]])  # 2x2 block means
    assert resize_images(x, 4) is x
    K = torch.tensor([[100.0, 0.0, 31.0], [0.0, 90.0, 33.0], [0.0, 0.0, 1.0]])
    cam = Camera(R=torch.eye(3), t=torch.tensor([0.0, 0.0, 4.0]), K=K, image_size=(64, 64))
    half = cam.replace(K=scale_intrinsics(K, 0.5), image_size=(32, 32))
    pts = torch.tensor([[0.3, -0.2, 0.1], [-0.5, 0.4, 0.0]])
    np.testing.assert_allclose(half.project(pts).numpy(), 0.5 * cam.project(pts).numpy(), atol=1e-5)


# ----------------------------------------------------------------------------------------------- cache, task


def test_cache_holds_what_the_encoder_and_dataset_give(crops):
    dataset, encoder, frames, _ = crops
    assert len(frames) == len(dataset) == 6
    i = 4
    sample = dataset[i]
    with torch.no_grad():
        expect = latent_features(encoder.encode(sample["image"]))  # already at the encoder's 32 px
    torch.testing.assert_close(frames[i]["features"], expect, atol=1e-5, rtol=1e-5)
    assert frames[i]["features"].shape == (4, expect.shape[1])
    torch.testing.assert_close(frames[i]["mask"], sample["mask"][:, 0])  # same size: unchanged
    torch.testing.assert_close(
        frames[i]["R_v"], virtual_rotation(sample["R"], sample["t"], sample["root_world"]), atol=1e-5, rtol=0
    )
    assert [bool(frames[k]["has_3d"]) for k in range(6)] == [s == "S1" for s in frames.subjects]
    assert frames.subjects.count("S1") == 3


def test_ground_truth_body_is_reproduced_through_the_virtual_frame(crops, body):
    """The labels' own SMPL parameters, expressed in each view's virtual frame (root R_v·R), placed back with
    place_body: the world body, zero joint loss against pose_3d, and its hard silhouette matches the cached mask."""
    dataset, _, frames, _ = crops
    sample, item = dataset[1], frames[1]
    go = axis_angle_to_matrix(sample["global_orient"])
    world = body(
        betas=sample["betas"][None],
        global_orient=sample["global_orient"][None],
        body_pose=sample["body_pose"][None],
        transl=sample["transl"][None],
    )
    v = item["R_v"].shape[0]
    pose = axis_angle_to_matrix(sample["body_pose"].reshape(23, 3))
    virt = body(
        betas=sample["betas"][None].expand(v, 10),
        global_orient=item["R_v"] @ go,
        body_pose=pose.expand(v, 23, 3, 3),
        pose_type="matrix",
    )
    vw, jw = place_body(
        virt.vertices, virt.joints_h36m17, item["R_v"], item["root_world"].expand(v, 3), torch.zeros(v, 3)
    )
    torch.testing.assert_close(vw, world.vertices.expand(v, -1, -1), atol=2e-5, rtol=0)
    R_look = item["R_v"] @ item["R"].transpose(-1, -2)
    assert float(joint_loss(virt.joints_h36m17, item["pose_3d"], R_look, torch.ones(v, dtype=torch.bool))) < 1e-10
    cam = Camera(R=item["R"], t=item["t"], K=item["K"], dist=item["dist"], image_size=(SIL, SIL))
    sil = HardRasterizer((SIL, SIL)).silhouette(vw, body.faces, cam)
    assert float(silhouette_iou(sil, item["mask"]).min()) > 0.8


def _task(frames, **kw):
    torch.manual_seed(0)
    reg = SMPLRegressor(frames.feature_size, hidden=32, dropout=0.0)
    feats = frames.tensors["features"].reshape(-1, frames.feature_size)
    reg.set_input_stats(feats.mean(0), feats.std(0))
    return SMPLFromEncTask(reg, **kw)


@pytest.mark.parametrize("term", ["joints", "silhouette"])
def test_a_few_steps_reduce_each_loss(crops, term):
    """Eight Adam steps on one labelled frame (its 4 views as inputs, each rendered into all 4 views at 32 px),
    with only the term under test switched on, lower that term on the same inputs."""
    _, _, frames, _ = crops
    weights = {
        "weight_joints": float(term == "joints"),
        "weight_silhouette": float(term == "silhouette"),
        "weight_prior": 0.0,
        "weight_betas": 0.0,
    }
    task = _task(frames, lr=3e-3, input_views=0, **weights)
    batch = collate_frames([frames[0]])
    assert bool(batch["has_3d"][0])
    frame, view = torch.zeros(4, dtype=torch.long), torch.arange(4)

    def value():
        with torch.no_grad():
            return float(task.losses(batch, task.predict(batch, frame, view))[term])

    before = value()
    logged = [task.training_step(batch, step) for step in range(8)]
    after = value()
    assert after < 0.85 * before, (term, before, after)
    assert logged[0][f"loss_{term}"] == pytest.approx(before, rel=1e-5)  # the step logs the pre-update loss
    if term == "joints":
        assert "iou_soft" not in logged[0]  # no silhouettes rendered when they do not count


def test_prior_term_is_the_priors_loss_of_the_regressed_parameters(crops):
    from weakpose.priors.smpl_critic import SMPLCritic

    _, _, frames, _ = crops
    torch.manual_seed(1)
    prior = SMPLCritic(joint_width=8, full_width=16)
    task = _task(frames, prior=prior, weight_prior=0.5)
    assert not any(p.requires_grad for p in prior.parameters())
    batch = collate_frames([frames[i] for i in (0, 3)])
    frame, view = torch.tensor([0, 1]), torch.tensor([2, 0])
    pred = task.predict(batch, frame, view)
    terms = task.losses(batch, pred)
    torch.testing.assert_close(terms["prior"], prior.loss(pred.regression.rotmat[:, 1:], pred.regression.betas))
    torch.testing.assert_close(terms["betas"], (pred.regression.betas**2).mean())
    # only S1 (frame 0) is labelled: the joint term is that sample's alone
    R_look = batch["R_v"][0, 2] @ batch["R"][0, 2].T
    alone = joint_loss(pred.joints_v[:1], batch["pose_3d"][0, 2][None], R_look[None], torch.ones(1, dtype=bool))
    torch.testing.assert_close(terms["joints"], alone)


def test_task_trains_three_steps_validates_and_evaluates(crops, tmp_path):
    _, _, frames, _ = crops
    task = _task(frames, lr=1e-3)
    cfg = TrainConfig(
        out_dir=str(tmp_path / "run"),
        max_steps=3,
        batch_size=2,
        log_every=1,
        val_every=3,
        ckpt_every=0,
        progress=False,
        tensorboard=False,
        best_metric="val/iou",
        best_mode="max",
    )
    result = Trainer(task, cfg, frames.subset([0, 1, 2]), frames.subset([3, 4, 5]), collate_fn=collate_frames).fit()
    assert result.step == 3
    val = result.last_validation
    for key in ("val/mpjpe", "val/p_mpjpe", "val/n_mpjpe", "val/iou"):
        assert math.isfinite(val[key]), key
    assert 0.0 <= val["val/iou"] <= 1.0 and val["val/p_mpjpe"] <= val["val/mpjpe"] + 1e-9
    views, iou = task.evaluate(frames.subset([3, 4, 5]), batch_size=2, progress=False)
    assert iou.shape == (3, 4, 4) and sorted({k[0] for k in views}) == ["S9"]
    pred, target = views[sorted(views)[0]]
    assert pred.shape == target.shape == (3, 17, 3)
    np.testing.assert_allclose(pred[:, 0], 0.0, atol=1e-6)  # root-relative
    assert float(np.mean(iou)) == pytest.approx(val["val/iou"], abs=1e-5)  # same frames, same metric


def test_sample_script_end_to_end(crops, tmp_path):
    _, encoder, _, root = crops
    enc_path = encoder.save(tmp_path / "enc.pt")
    spec = importlib.util.spec_from_file_location("train_SMPL_from_enc", ROOT / "sample" / "train_SMPL_from_enc.py")
    script = importlib.util.module_from_spec(spec)
    sys.modules["train_SMPL_from_enc"] = script
    spec.loader.exec_module(script)
    with pytest.raises(FileNotFoundError, match="missing.pt: no encoder checkpoint.*train_enc_dec.py"):
        script.main([f"model.encoder_path={tmp_path / 'missing.pt'}"])
    out = tmp_path / "run"
    rc = script.main(
        [
            "--data",
            str(root),
            f"model.encoder_path={enc_path}",
            f"model.prior_path={tmp_path / 'none.pt'}",
            "data.train_subjects=[S1]",
            "data.test_subjects=[S9]",
            "data.val_every=0",
            f"data.silhouette_size={SIL}",
            "model.hidden=32",
            "train.max_steps=2",
            "train.batch_size=2",
            "train.progress=false",
            "train.tensorboard=false",
            f"train.out_dir={out}",
            f"run.images_dir={tmp_path / 'images'}",
            "figure_rows=2",
        ]
    )
    assert rc == 0
    for name in ("regressor.pt", "eval.csv", "summary.json", "metrics.csv"):
        assert (out / name).is_file(), name
    assert (tmp_path / "images" / "smpl_from_enc_overlays.png").stat().st_size > 1000
    saved = torch.load(out / "regressor.pt", weights_only=True)  # a plain weight file
    reg = SMPLRegressor(**saved["config"])
    reg.load_state_dict(saved["state_dict"])
    torch.testing.assert_close(SMPLRegressor.load(out / "regressor.pt").state_dict(), reg.state_dict())
    summary = json.loads((out / "summary.json").read_text())
    for key in ("trained", "mean_parameters"):
        row = summary[key]["S9"]
        assert row["views"] == 12 and 0.0 <= row["iou_own_view"] <= 1.0 and row["p_mpjpe_mm"] <= row["mpjpe_mm"]
    # the regression starts from the mocap mean pose: arms down, not the T-pose
    shoulder = reg.mean_rot6d[SMPL24.index("l_shoulder")]
    assert float(torch.linalg.matrix_norm(rot6d_to_matrix(shoulder) - torch.eye(3))) > 1.0


def test_task_from_config_reads_the_sections(body):
    """The loss and optim sections live beside the task: their defaults are the constructor's, their values reach it."""
    from weakpose.tasks.smpl_from_enc import LossConfig, OptimConfig

    def reg():
        return SMPLRegressor(16, hidden=8, dropout=0.0)

    default, built = SMPLFromEncTask(reg(), body=body), SMPLFromEncTask.from_config(reg(), body=body)
    assert built.weights == default.weights and built.input_views == default.input_views == LossConfig.input_views
    assert built.optimizer.param_groups[0]["lr"] == default.optimizer.param_groups[0]["lr"] == OptimConfig.lr
    task = SMPLFromEncTask.from_config(
        reg(),
        body=body,
        loss=LossConfig(weight_joints=2.0, weight_betas=0.5, silhouette_kind="mse", input_views=0),
        optim=OptimConfig(lr=1e-3, weight_decay=1e-4),
    )
    assert task.weights == {"joints": 2.0, "silhouette": 1.0, "prior": 1.0, "betas": 0.5}
    assert (task.silhouette_kind, task.input_views) == ("mse", 0)
    group = task.optimizer.param_groups[0]
    assert (group["lr"], group["weight_decay"]) == (1e-3, 1e-4)


def _script():
    spec = importlib.util.spec_from_file_location("train_SMPL_from_enc", ROOT / "sample" / "train_SMPL_from_enc.py")
    script = importlib.util.module_from_spec(spec)
    sys.modules["train_SMPL_from_enc"] = script
    spec.loader.exec_module(script)
    return script


def test_script_body_file_option(tmp_path, capsys):
    """model.body_path takes a SMPL file as downloaded (a .pkl without an H36M regressor) plus
    model.h36m_regressor_path; the joints it regresses are the regressor's rows applied to the vertices."""
    sys.path.insert(0, str(ROOT / "tests"))
    from body_fixtures import make_smpl_sized_model, write_plain_pkl

    script = _script()
    arrays = make_smpl_sized_model(seed=3)
    pkl = write_plain_pkl(arrays, tmp_path / "SMPL_NEUTRAL.pkl")
    reg = tmp_path / "J_regressor_h36m.npy"
    np.save(reg, arrays["J_regressor_h36m"])

    cfg = script.Config()
    assert script.load_body(cfg).num_vertices == BodyModel.default().num_vertices  # the open body by default
    cfg.model.body_path = str(pkl)
    with pytest.raises(ValueError, match="no Human3.6M-17 joint regressor.*model.h36m_regressor_path"):
        script.load_body(cfg)
    cfg.model.h36m_regressor_path = str(reg)
    body = script.load_body(cfg)
    assert body.num_vertices == 6890 and "SMPL_NEUTRAL.pkl (6890 vertices" in capsys.readouterr().out
    out = body(betas=torch.zeros(1, 10))
    expected = arrays["J_regressor_h36m"] @ out.vertices[0].double().numpy()
    np.testing.assert_allclose(out.joints_h36m17[0].double().numpy(), expected, atol=1e-5)
    cfg.model.body_path = ""
    with pytest.raises(ValueError, match="h36m_regressor_path is set but model.body_path is not"):
        script.load_body(cfg)


def test_script_falls_back_to_the_shipped_prior(tmp_path, capsys):
    from weakpose.priors.smpl_critic import SMPLCritic

    script = _script()
    cfg = script.Config()
    cfg.model.prior_path = str(tmp_path / "none.pt")
    prior = script.load_prior(cfg)
    shipped = SMPLCritic.pretrained()
    assert all(torch.equal(a, b) for a, b in zip(prior.state_dict().values(), shipped.state_dict().values()))
    assert "not found, using the prior shipped with weakpose" in capsys.readouterr().out
    cfg.loss.use_prior = False
    assert script.load_prior(cfg) is None
