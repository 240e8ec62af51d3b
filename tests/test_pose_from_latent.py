"""3D pose from the encoder latent: the regressor, its task (labelled items only), error figures against NumPy,
and the two sample scripts (train_enc_dec, train_3d_pose_from_enc --encoder all) end to end on a tiny crop set."""

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from weakpose.data.synthetic.images import make_synthetic_images
from weakpose.data.synthetic.keypoints import make_synthetic
from weakpose.evaluation.references import closest_pose
from weakpose.metrics import pose_errors
from weakpose.models.encoder_decoder import EncoderDecoder
from weakpose.models.latent_pose import LatentPoseRegressor
from weakpose.tasks.pose_from_latent import PoseFromLatentTask
from weakpose.train import ConfigError, read_csv_log

ROOT = Path(__file__).resolve().parents[1]


def _load_script(name):
    spec = importlib.util.spec_from_file_location(name, ROOT / "sample" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def crops(tmp_path_factory):
    kp = tmp_path_factory.mktemp("kp")
    make_synthetic(kp, max_frames=30, include_bvh=False, actions=["Walking"])
    out = tmp_path_factory.mktemp("img")
    make_synthetic_images(
        out, subjects=["S1", "S9"], max_frames=3, sampled_frames=3, image_size=48, keypoint_dir=str(kp)
    )
    return out


def test_regressor_layers():
    reg = LatentPoseRegressor(in_features=600, hidden=64, dropout=0.5)
    linear = [m for m in reg.modules() if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linear] == [(600, 64), (64, 64), (64, 51)]
    assert sum(isinstance(m, torch.nn.BatchNorm1d) for m in reg.modules()) == 2
    reg.eval()
    x = torch.randn(5, 200, 3)
    assert torch.allclose(reg(x), reg(x.flatten(1).view(5, 200, 3)))
    assert reg(x).shape == (5, 17, 3)


def test_pose_errors_against_numpy():
    g = np.random.default_rng(0)
    target = g.normal(size=(6, 17, 3))
    pred = target + 0.05 * g.normal(size=(6, 17, 3))
    rel = lambda a: a - a[:, :1]  # noqa: E731
    expected = 1000 * np.linalg.norm(rel(pred) - rel(target), axis=-1).mean()
    e = pose_errors(torch.from_numpy(pred), torch.from_numpy(target))
    assert e["mpjpe_mm"] == pytest.approx(expected, rel=1e-9)
    # a scaled prediction: N-MPJPE removes the scale, P-MPJPE too, MPJPE does not
    e2 = pose_errors(torch.from_numpy(1.3 * rel(target)), torch.from_numpy(rel(target)))
    assert e2["n_mpjpe_mm"] == pytest.approx(0.0, abs=1e-6) and e2["p_mpjpe_mm"] == pytest.approx(0.0, abs=1e-6)
    assert e2["mpjpe_mm"] == pytest.approx(1000 * 0.3 * np.linalg.norm(rel(target), axis=-1).mean(), rel=1e-9)


def test_task_uses_labelled_items_only_and_learns():
    torch.manual_seed(0)
    latent = torch.randn(32, 200, 3)
    w = torch.randn(600, 51) * 0.01
    pose = (latent.flatten(1) @ w).view(32, 17, 3)
    has = torch.zeros(32, dtype=torch.bool)
    has[:16] = True
    task = PoseFromLatentTask(LatentPoseRegressor(hidden=128, dropout=0.0), lr=1e-3)
    batch = {"latent": latent, "pose_3d": pose, "has_3d": has}
    # unlabelled items do not enter the loss: corrupting their targets changes nothing
    before = {k: v.clone() for k, v in task.regressor.state_dict().items()}
    torch.manual_seed(1)
    out1 = task.training_step(batch, 0)
    task.regressor.load_state_dict(before)
    task.optimizer = torch.optim.Adam(task.regressor.parameters(), lr=1e-3)
    torch.manual_seed(1)
    out2 = task.training_step({**batch, "pose_3d": torch.where(has[:, None, None], pose, pose + 5.0)}, 0)
    assert out1["loss"] == pytest.approx(out2["loss"], rel=1e-6)
    labelled = {k: v[:16] for k, v in batch.items()}
    first = task.validation_step(labelled)["loss"]
    for step in range(60):
        task.training_step(batch, step)
    assert task.validation_step(labelled)["loss"] < 0.1 * first
    assert task.training_step({**batch, "has_3d": torch.zeros(32, dtype=torch.bool)}, 0) == {"loss": 0.0}


def test_weight_decay_is_decoupled_and_on_the_regressor_only():
    """AdamW: one step with decay w differs from the same step without it by exactly -lr * w * (initial weight)."""
    torch.manual_seed(0)
    batch = {"latent": torch.randn(8, 200, 3), "pose_3d": torch.randn(8, 17, 3), "has_3d": torch.ones(8, dtype=bool)}
    start = LatentPoseRegressor(hidden=16, dropout=0.5).state_dict()
    after = {}
    for wd in (0.0, 0.5):
        regressor = LatentPoseRegressor(hidden=16, dropout=0.5)
        regressor.load_state_dict(start)
        task = PoseFromLatentTask(regressor, lr=1e-2, weight_decay=wd)
        torch.manual_seed(3)  # the same dropout masks
        task.training_step(batch, 0)
        after[wd] = {k: v.clone() for k, v in regressor.state_dict().items()}
    name = "out.weight"
    expected = after[0.0][name] - 1e-2 * 0.5 * start[name]
    assert torch.allclose(after[0.5][name], expected, atol=1e-7)
    enc = EncoderDecoder(image_size=32, decoder_width=32, hidden=32)
    groups = PoseFromLatentTask(LatentPoseRegressor(hidden=16), encoder=enc, weight_decay=0.5).optimizer.param_groups
    assert [g["weight_decay"] for g in groups] == [0.5, 0.0]


def test_task_from_config_reads_the_optim_section():
    """The optim section lives beside the task: its step sizes are the constructor's defaults and reach the task."""
    from weakpose.tasks.pose_from_latent import OptimConfig

    enc = EncoderDecoder(image_size=32, decoder_width=32, hidden=32)
    default = PoseFromLatentTask(LatentPoseRegressor(hidden=16), encoder=enc).optimizer.param_groups
    assert [g["lr"] for g in default] == [OptimConfig.lr, OptimConfig.encoder_lr]
    task = PoseFromLatentTask.from_config(
        LatentPoseRegressor(hidden=16), enc, optim=OptimConfig(lr=5e-3, encoder_lr=5e-5), weight_decay=0.25
    )
    groups = task.optimizer.param_groups
    assert [(g["lr"], g["weight_decay"]) for g in groups] == [(5e-3, 0.25), (5e-5, 0.0)]
    assert len(PoseFromLatentTask.from_config(LatentPoseRegressor(hidden=16)).optimizer.param_groups) == 1


def test_end_to_end_encoder_compute_section():
    """With an encoder trained end to end, compute.* sets its step: bf16 autocast gives the float32 latent to bf16
    precision (batch norm on running statistics), and the latent reaching the regressor is float32 either way."""
    import copy

    from weakpose.train.precision import ComputeConfig

    torch.manual_seed(0)
    enc = EncoderDecoder(image_size=32, decoder_width=32, hidden=32).eval()
    images = {"image": torch.rand(6, 3, 32, 32)}
    latents = {}
    for precision in ("float32", "bfloat16"):
        task = PoseFromLatentTask(
            LatentPoseRegressor(hidden=16), encoder=copy.deepcopy(enc), compute=ComputeConfig(precision=precision)
        )
        task.encoder.eval()
        latents[precision] = task.latent(images).detach()
    assert latents["bfloat16"].dtype == torch.float32
    scale = float(latents["float32"].abs().max())
    assert float((latents["bfloat16"] - latents["float32"]).abs().max()) < 2e-2 * scale
    assert float((latents["bfloat16"] - latents["float32"]).abs().max()) > 0  # bf16 did run
    with pytest.raises(ValueError, match="precision must be one of"):
        PoseFromLatentTask(LatentPoseRegressor(hidden=16), encoder=enc, compute=ComputeConfig(precision="fp8"))


def test_sample_scripts_end_to_end(crops, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    enc_dec = _load_script("train_enc_dec")
    rc = enc_dec.main(
        [
            "--data",
            str(crops),
            "data.image_size=32",
            "data.train_subjects=[S1]",
            "data.val_every=2",
            "model.decoder_width=32",
            "model.hidden=64",
            "train.max_steps=3",
            "train.val_every=3",
            "train.batch_size=2",
            "train.out_dir=runs/enc_dec",
            "run.images_dir=images",
            "train.progress=false",
        ]
    )
    assert rc == 0
    model = EncoderDecoder.load("runs/enc_dec/enc_dec.pt")
    assert model.image_size == 32 and model.meta["steps"] == 3
    assert Path("images/enc_dec_reconstructions.png").stat().st_size > 1000
    assert "val/l1" in read_csv_log("runs/enc_dec/metrics.csv")[-1] or any(
        "val/l1" in r for r in read_csv_log("runs/enc_dec/metrics.csv")
    )

    # model.init_from: a fresh model of the same architecture takes every saved weight; another size is refused
    fresh = EncoderDecoder(model.config)
    enc_dec.start_weights_from(fresh, "runs/enc_dec/enc_dec.pt")
    for name, value in model.state_dict().items():
        assert torch.equal(fresh.state_dict()[name], value), name
    other = EncoderDecoder(type(model.config)(**{**model.config.__dict__, "image_size": 64}))
    with pytest.raises(ValueError, match="init_from=runs/enc_dec/enc_dec.pt.*image_size"):
        enc_dec.start_weights_from(other, "runs/enc_dec/enc_dec.pt")

    pose = _load_script("train_3d_pose_from_enc")
    rc = pose.main(
        [
            "--data",
            str(crops),
            "--encoder",
            "all",
            "data.test_subjects=[S9]",
            "data.val_every=2",
            "model.hidden=32",
            "train.max_steps=4",
            "optim.end_to_end_steps=2",
            "train.batch_size=8",
            "train.progress=false",
            "train.out_dir=runs/pose_from_enc",
            "run.images_dir=images",
        ]
    )
    assert rc == 0
    reports = json.loads(Path("runs/pose_from_enc/ablation.json").read_text())
    assert [r["encoder"] for r in reports] == [
        "nvs",
        "random",
        "end-to-end",
        "reference: mean pose",
        "reference: closest pose",
    ]
    for r in reports[:3]:
        # the regressor kept is the weight decay with the lowest validation MPJPE
        assert set(r["val_by_weight_decay"]) == {f"{w:g}" for w in pose.Config().optim.weight_decays}
        assert r["val_by_weight_decay"][f"{r['weight_decay']:g}"] == min(r["val_by_weight_decay"].values())
        e = r["test"]["all"]
        assert e["p_mpjpe_mm"] <= e["n_mpjpe_mm"] + 1e-6 and np.isfinite(e["mpjpe_mm"])
    assert "(a) NVS-pretrained" in Path("runs/pose_from_enc/ablation.md").read_text()
    # the reference row: S1's mean pose, checked by hand against the test labels
    sys.path.insert(0, str(ROOT / "sample"))
    from weakpose.data.datasets.multiview import held_out_sequences
    from weakpose.data.datasets.nvs_pairs import SingleViewDataset

    train = SingleViewDataset(crops, ["S1"], 32, labelled_subjects=["S1"], sequence_filter=held_out_sequences(2)[0])
    test = SingleViewDataset(crops, ["S9"], 32)
    mean = np.mean([train[i]["pose_3d"].numpy() for i in range(len(train))], axis=0)
    gt = np.stack([test[i]["pose_3d"].numpy() for i in range(len(test))])
    rel = lambda a: a - a[..., :1, :]  # noqa: E731
    expected = 1000 * np.linalg.norm(rel(mean)[None] - rel(gt), axis=-1).mean()
    assert reports[3]["test"]["all"]["mpjpe_mm"] == pytest.approx(expected, rel=1e-4)
    # the oracle row: for each test pose the closest S1 training pose, by brute force
    train_poses = np.stack([train[i]["pose_3d"].numpy() for i in range(len(train))])
    nearest = np.linalg.norm(rel(train_poses)[None] - rel(gt)[:, None], axis=-1).mean(-1).min(1)
    assert reports[4]["test"]["all"]["mpjpe_mm"] == pytest.approx(1000 * nearest.mean(), rel=1e-4)
    assert reports[4]["test"]["all"]["mpjpe_mm"] <= reports[3]["test"]["all"]["mpjpe_mm"]
    assert Path("images/pose_from_enc_predictions.png").is_file()

    # augment.turn=both: the encoder twice, without and with turns, each in its own directory and row
    rc = pose.main(
        [
            "--data",
            str(crops),
            "--encoder",
            "nvs",
            "augment.turn=both",
            "optim.weight_decays=[0]",
            "data.test_subjects=[S9]",
            "data.val_every=2",
            "model.hidden=32",
            "train.max_steps=2",
            "train.batch_size=8",
            "train.progress=false",
            "train.out_dir=runs/turns",
            "run.images_dir=images",
        ]
    )
    assert rc == 0
    plain, turned = (json.loads(Path(f"runs/turns/{d}/eval.json").read_text()) for d in ("nvs", "nvs_turns"))
    assert (plain["turn_augment"], turned["turn_augment"]) == (False, True)
    assert plain["test"]["all"] != turned["test"]["all"]
    with pytest.raises(ConfigError, match="augment.turn.*'off', 'on', 'both'"):
        pose.main(["--data", str(crops), "augment.turn=sometimes", "train.out_dir=runs/bad"])


def test_closest_pose_against_brute_force():
    gen = torch.Generator().manual_seed(0)
    candidates, targets = torch.randn(40, 5, 3, generator=gen), torch.randn(23, 5, 3, generator=gen)
    picked = closest_pose(candidates, targets, chunk=7)  # several chunks, the last one short
    c, t = candidates.numpy(), targets.numpy()
    for i in range(len(t)):
        errors = [np.linalg.norm(c[k] - t[i], axis=-1).mean() for k in range(len(c))]
        assert np.array_equal(picked[i].numpy(), c[int(np.argmin(errors))])
    assert torch.equal(closest_pose(candidates, candidates[[3, 9]]), candidates[[3, 9]])  # exact hits
    with pytest.raises(ValueError, match=r"candidates \(40, 5, 3\).*targets \(2, 4, 3\)"):
        closest_pose(candidates, targets[:2, :4])


def test_test_views_are_split_by_the_labelled_subjects_actions():
    from types import SimpleNamespace

    def fake(views):  # (subject, action) per frame, one camera each
        info = [SimpleNamespace(subject=s, action=a) for s, a in views]
        return SimpleNamespace(
            frames=SimpleNamespace(item_info=lambda f: (info[f],)), _items=[(f, "cam") for f in range(len(views))]
        )

    pose = _load_script("train_3d_pose_from_enc")
    datasets = {
        "train": fake([("S1", "Walking")]),
        "val": fake([("S1", "Jumping")]),
        "test": fake([("S9", "Walking"), ("S9", "Hop"), ("S11", "Jumping"), ("S11", "Hop")]),
    }
    groups = {k: v.tolist() for k, v in pose.view_groups(datasets).items()}
    assert groups == {
        "S11": [False, False, True, True],
        "S9": [True, True, False, False],
        "seen actions": [True, False, True, False],
        "unseen actions": [False, True, False, True],
    }
    pred, target = torch.zeros(4, 17, 3), torch.zeros(4, 17, 3)
    target[1, 1:, 0] = 0.1  # 100 mm off on 16 of 17 joints, in the one unseen-action view of S9
    errors = pose.grouped_errors(pred, target, datasets)
    assert errors["unseen actions"]["mpjpe_mm"] == pytest.approx(100 * 16 / 17 / 2)
    assert errors["seen actions"]["mpjpe_mm"] == pytest.approx(0) and errors["unseen actions"]["views"] == 2
    every_action = fake([("S1", "Walking"), ("S1", "Hop"), ("S1", "Jumping")])
    datasets = {"train": every_action, "val": None, "test": datasets["test"]}
    assert "unseen actions" not in pose.view_groups(datasets)  # every test action was performed: no empty group


def test_random_turns_are_rotations_about_the_given_axis():
    from weakpose.geometry.rotations import random_turns

    gen = torch.Generator().manual_seed(1)
    up = torch.randn(50, 3, dtype=torch.float64, generator=gen) * 3
    R = random_turns(up, torch.Generator().manual_seed(2))
    eye = torch.eye(3, dtype=torch.float64).expand(50, 3, 3)
    assert torch.allclose(R @ R.transpose(1, 2), eye, atol=1e-12)
    assert torch.allclose(torch.linalg.det(R), torch.ones(50, dtype=torch.float64))
    axis = up / up.norm(dim=-1, keepdim=True)
    assert torch.allclose((R @ axis[..., None])[..., 0], axis, atol=1e-12)  # the vertical stays put
    # the angle, from the trace, is the uniform draw the same generator gives
    angle = torch.rand(50, generator=torch.Generator().manual_seed(2), dtype=torch.float64) * 2 * np.pi
    cos = (R.diagonal(dim1=1, dim2=2).sum(-1) - 1) / 2
    assert torch.allclose(cos, torch.cos(angle), atol=1e-12)
    with pytest.raises(ValueError, match=r"world_up must be \(B, 3\), got \(4, 2\)"):
        random_turns(torch.ones(4, 2))


def test_turn_augment_turns_latent_and_target_together():
    from weakpose.geometry.rotations import random_turns

    class Linear(torch.nn.Module):  # not turn-equivariant (a fixed offset), so turning changes the loss
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.tensor(0.5))

        def forward(self, latent):
            return self.w * latent[:, :17] + torch.tensor([1.0, 0.0, 0.0])

    gen = torch.Generator().manual_seed(0)
    batch = {
        "latent": torch.randn(6, 20, 3, generator=gen),
        "pose_3d": torch.randn(6, 17, 3, generator=gen),
        "has_3d": torch.ones(6, dtype=torch.bool),
        "world_up": torch.randn(6, 3, generator=gen),
    }
    task = PoseFromLatentTask(Linear(), lr=0.0, turn_augment=True, generator=torch.Generator().manual_seed(5))
    loss = task.training_step(batch, 0)["loss"]
    R = random_turns(batch["world_up"], torch.Generator().manual_seed(5))
    latent, target = batch["latent"] @ R.transpose(1, 2), batch["pose_3d"] @ R.transpose(1, 2)
    offset = torch.tensor([1.0, 0.0, 0.0])
    assert loss == pytest.approx(float(((0.5 * latent[:, :17] + offset - target) ** 2).sum(-1).mean()), rel=1e-6)
    plain = PoseFromLatentTask(Linear(), lr=0.0)
    unturned = float(((0.5 * batch["latent"][:, :17] + offset - batch["pose_3d"]) ** 2).sum(-1).mean())
    assert plain.training_step(batch, 0)["loss"] == pytest.approx(unturned, rel=1e-6)
    assert abs(loss - unturned) > 1e-3


def test_world_up_points_from_pelvis_to_head(crops):
    from weakpose.data.datasets.nvs_pairs import SingleViewDataset

    ds = SingleViewDataset(crops, ["S1", "S9"], 32)
    cosines = []
    for i in range(len(ds)):
        item = ds[i]
        up, pose = item["world_up"].double(), item["pose_3d"].double()
        torso = pose[10] - pose[0]  # H36M-17: head top minus pelvis; some sampled poses lean
        assert up.norm() == pytest.approx(1.0, abs=1e-6)
        cosines.append(float(up @ torso / torso.norm()))
    assert min(cosines) > 0.5 and np.mean(cosines) > 0.9
