"""The multi-view encoder-decoder: virtual cameras and latent rotation, pairing and appearance swap, background
crops, image losses, the model's file round trip, and that training steps reduce the loss."""

import numpy as np
import pytest
import torch
from scipy.ndimage import correlate1d

from weakpose.data.datasets.multiview import MultiViewImageDataset
from weakpose.data.datasets.nvs_pairs import NVSPairDataset, SingleViewDataset, flatten_pairs
from weakpose.data.synthetic.images import make_synthetic_images
from weakpose.data.synthetic.keypoints import make_synthetic
from weakpose.geometry.rotations import axis_angle_to_matrix
from weakpose.geometry.virtual_camera import latent_rotation, look_at_rotation, rotate_points, virtual_rotation
from weakpose.losses import FeatureLoss, ssim
from weakpose.losses.image import background_attention, weighted_l1
from weakpose.models.encoder_decoder import EncoderDecoder, appearance_swap_index
from weakpose.tasks.nvs import NVSTask


@pytest.fixture(scope="module")
def crops(tmp_path_factory):
    kp = tmp_path_factory.mktemp("kp")
    make_synthetic(kp, max_frames=30, include_bvh=False, actions=["Walking"])
    out = tmp_path_factory.mktemp("img")
    make_synthetic_images(out, subjects=["S9"], max_frames=3, sampled_frames=2, image_size=48, keypoint_dir=str(kp))
    return out


def _random_rotations(n, seed):
    g = torch.Generator().manual_seed(seed)
    return axis_angle_to_matrix(torch.randn(n, 3, generator=g, dtype=torch.float64))


# -- virtual cameras and the latent rotation ------------------------------------------------------------


def test_look_at_rotation_is_a_rotation_taking_the_ray_to_the_axis():
    d = torch.tensor([[0.3, -0.2, 1.0], [0.0, 0.0, 2.0], [-0.9, 0.4, 0.2]], dtype=torch.float64)
    R = look_at_rotation(d)
    eye = torch.eye(3, dtype=torch.float64)
    assert torch.allclose(R @ R.transpose(-1, -2), eye.expand_as(R), atol=1e-12)
    assert torch.allclose(torch.det(R), torch.ones(3, dtype=torch.float64), atol=1e-12)
    unit = d / d.norm(dim=-1, keepdim=True)
    assert torch.allclose((R @ unit[..., None])[..., 0], torch.tensor([0, 0, 1.0], dtype=torch.float64), atol=1e-12)
    assert torch.allclose(R[1], eye, atol=1e-12)  # on-axis: nothing to turn
    # minimal: the rotation axis is perpendicular to both the ray and the optical axis
    axis = torch.cross(unit[0], torch.tensor([0, 0, 1.0], dtype=torch.float64), dim=0)
    assert torch.allclose(R[0] @ axis, axis, atol=1e-12)
    with pytest.raises(ValueError, match="behind"):
        look_at_rotation(torch.tensor([0.0, 0.0, -1.0]))


def test_virtual_camera_puts_the_root_on_its_optical_axis():
    R = _random_rotations(4, 0)
    root = torch.tensor([0.4, -1.2, 0.9], dtype=torch.float64)
    centres = torch.tensor([[4.0, 1, 1.5], [-3, 2, 1], [0.5, -4, 2], [2, 3, 1.2]], dtype=torch.float64)
    # make each camera see the root in front of it: flip R so its z axis points roughly at the root
    Rs = []
    for Ri, c in zip(R, centres):
        z = (root - c) / (root - c).norm()
        x = torch.linalg.cross(Ri[0], z)
        x = x / x.norm()
        y = torch.linalg.cross(z, x)
        tilt = axis_angle_to_matrix(torch.tensor([0.1, -0.15, 0.05], dtype=torch.float64))
        Rs.append(tilt @ torch.stack([x, y, z]))  # optical axis ~10 degrees off the root
    Rs = torch.stack(Rs)
    t = -(Rs @ centres[..., None])[..., 0]
    Rv = virtual_rotation(Rs, t, root)
    root_virtual = (Rv @ (root - centres)[..., None])[..., 0]
    assert torch.allclose(root_virtual[:, :2], torch.zeros(4, 2, dtype=torch.float64), atol=1e-12)
    assert torch.allclose(root_virtual[:, 2], (root - centres).norm(dim=-1), atol=1e-12)


def test_latent_rotation_round_trip_and_camera_swap():
    points = torch.randn(3, 200, 3, dtype=torch.float64)
    R = _random_rotations(3, 1)
    back = rotate_points(rotate_points(points, R), R.transpose(-1, -2))
    assert torch.allclose(back, points, atol=1e-12)
    # two cameras on a circle around the root (at the origin), the second 90 degrees further round: the latent
    # of camera A becomes camera B's by a 90-degree turn about the vertical (camera y) axis
    d = 3.0
    R_a = torch.eye(3, dtype=torch.float64)  # at (0, 0, -3), looking along +z
    turn = axis_angle_to_matrix(torch.tensor([0.0, np.pi / 2, 0.0], dtype=torch.float64))
    R_b = R_a @ turn.T  # the same camera carried round the root by ``turn``
    C_a = torch.tensor([0.0, 0.0, -d], dtype=torch.float64)
    C_b = turn @ C_a
    t_a, t_b = -R_a @ C_a, -R_b @ C_b
    root = torch.zeros(3, dtype=torch.float64)
    Rv_a, Rv_b = virtual_rotation(R_a, t_a, root), virtual_rotation(R_b, t_b, root)
    M = latent_rotation(Rv_a, Rv_b)
    expected = torch.tensor([[0.0, 0, -1], [0, 1, 0], [1, 0, 0]], dtype=torch.float64)  # R_y(-90 deg)
    assert torch.allclose(M, expected, atol=1e-12)
    # and in general: root-relative world points seen in A's virtual frame land in B's
    world = torch.randn(50, 3, dtype=torch.float64)
    q_a, q_b = world @ Rv_a.T, world @ Rv_b.T
    assert torch.allclose(rotate_points(q_a[None], M[None])[0], q_b, atol=1e-12)


# -- pairing, appearance swap, backgrounds --------------------------------------------------------------


def test_appearance_swap_index():
    assert appearance_swap_index(6).tolist() == [1, 0, 3, 2, 5, 4]
    with pytest.raises(ValueError, match="even"):
        appearance_swap_index(5)


def test_pair_dataset_items(crops):
    ds = NVSPairDataset(crops, image_size=32, masks=True)
    frames = len(ds.frames)
    assert len(ds) == frames * 4 * 3  # every ordered pair of distinct cameras of every frame
    item = ds[7]
    frame, a, b = ds._items[7]
    other, a2, b2 = ds.partner(7)
    assert a != b and a2 != b2 and other != frame
    assert ds.cache.subject(other) == ds.cache.subject(frame)
    assert item["source"].shape == (2, 3, 32, 32) and item["target_mask"].shape == (2, 1, 32, 32)
    # the rotations are the virtual cameras of those views
    sample = ds.frames.load(frame, [a, b])
    expected = virtual_rotation(sample["R"].double(), sample["t"].double(), sample["root_world"].double())
    assert torch.allclose(item["R_source"][0].double(), expected[0], atol=1e-6)
    assert torch.allclose(item["R_target"][0].double(), expected[1], atol=1e-6)
    assert torch.equal(ds[7]["source"], item["source"])  # deterministic (resumable)
    few = NVSPairDataset(crops, image_size=32, pairs_per_frame=2, seed=4)
    assert len(few) == 2 * frames and all(a != b for _, a, b in few._items)
    assert len({(f, a, b) for f, a, b in few._items}) == len(few)
    batch = flatten_pairs(torch.utils.data.default_collate([ds[0], ds[5]]))
    assert batch["source"].shape == (4, 3, 32, 32)
    swap = appearance_swap_index(4)
    # each frame's appearance comes from the other frame of its own item: the same subject
    assert torch.equal(batch["source"][swap][0], ds[0]["source"][1])


def test_background_crops_match_the_empty_pixels_of_the_images(crops):
    ds = MultiViewImageDataset(crops, load_backgrounds=True)
    s = ds[3]
    empty = s["mask"] < 0.01  # (V,1,S,S)
    diff = (s["image"] - s["background"]).abs().mean(1, keepdim=True)[empty]
    assert diff.numel() > 1000
    assert float(diff.mean()) < 0.02  # JPEG and one resampling apart
    assert float((s["image"] - s["background"]).abs().mean(1, keepdim=True)[s["mask"] > 0.99].mean()) > 0.05


def test_single_view_pose_is_in_the_virtual_frame(crops):
    ds = SingleViewDataset(crops, image_size=32, labelled_subjects=["S1"])
    item = ds[5]
    sample = ds.frames.load(item["index"], [item["camera"]])
    R_v = virtual_rotation(sample["R"][0].double(), sample["t"][0].double(), sample["root_world"].double())
    world = sample["joints_h36m17"].double()
    expected = (world - world[0]) @ R_v.T
    assert torch.allclose(item["pose_3d"].double(), expected, atol=1e-5)
    assert item["has_3d"] is False  # S9 is not labelled


# -- losses ------------------------------------------------------------------------------------------


def _ssim_numpy(x, y, window=11, sigma=1.5):
    coords = np.arange(window) - (window - 1) / 2
    g = np.exp(-0.5 * (coords / sigma) ** 2)
    g /= g.sum()
    h = window // 2

    def blur(a):
        a = correlate1d(correlate1d(a, g, axis=-1, mode="constant"), g, axis=-2, mode="constant")
        return a[..., h : a.shape[-2] - h, h : a.shape[-1] - h]  # the 'valid' region

    mx, my = blur(x), blur(y)
    vx, vy, cxy = blur(x * x) - mx**2, blur(y * y) - my**2, blur(x * y) - mx * my
    c1, c2 = 0.01**2, 0.03**2
    return np.mean(((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx**2 + my**2 + c1) * (vx + vy + c2)))


def test_ssim_against_numpy():
    g = np.random.default_rng(0)
    x = g.random((2, 3, 24, 20))
    y = np.clip(x + 0.1 * g.standard_normal(x.shape), 0, 1)
    assert float(ssim(torch.from_numpy(x), torch.from_numpy(y))) == pytest.approx(_ssim_numpy(x, y), abs=1e-10)
    assert float(ssim(torch.from_numpy(x), torch.from_numpy(x))) == pytest.approx(1.0, abs=1e-12)
    with pytest.raises(ValueError, match="smaller"):
        ssim(torch.zeros(1, 3, 8, 8), torch.zeros(1, 3, 8, 8))


def test_feature_losses(tmp_path):
    g = torch.Generator().manual_seed(0)
    x = torch.rand(2, 3, 32, 32, generator=g)
    y = (x + 0.2 * torch.randn(2, 3, 32, 32, generator=g)).clamp(0, 1)
    for kind in ("random", "ssim"):
        loss = FeatureLoss(kind)
        assert float(loss(x, x)) == pytest.approx(0.0, abs=1e-6)
        p = y.clone().requires_grad_(True)
        value = loss(p, x)
        value.backward()
        assert float(value.detach()) > 0 and p.grad.abs().sum() > 0
    assert float(FeatureLoss("none")(x, y)) == 0.0
    # the random network is fixed by its seed: the same loss in two constructions
    assert float(FeatureLoss("random")(x, y)) == pytest.approx(float(FeatureLoss("random")(x, y)), rel=1e-6)
    # user weights: a torchvision-format file; features then come from those weights
    from weakpose.models.resnet import resnet18

    torch.manual_seed(3)
    net = resnet18()
    torch.save(net.state_dict(), tmp_path / "resnet18-test.pth")
    user = FeatureLoss(f"imagenet:{tmp_path / 'resnet18-test.pth'}")
    assert torch.equal(user.net.conv1.weight, net.conv1.weight)
    assert not any(p.requires_grad for p in user.parameters())
    with pytest.raises(FileNotFoundError, match="nope.pth"):
        FeatureLoss(f"imagenet:{tmp_path / 'nope.pth'}")
    with pytest.raises(ValueError, match="feature loss"):
        FeatureLoss("vgg")


# -- model and training ------------------------------------------------------------------------------------


def test_encoder_decoder_shapes_file_and_errors(tmp_path):
    torch.manual_seed(0)
    model = EncoderDecoder(image_size=32, decoder_width=64, hidden=128).eval()
    x, bg = torch.rand(4, 3, 32, 32), torch.rand(4, 3, 32, 32)
    latent = model.encode(x)
    assert latent.points.shape == (4, 200, 3) and latent.appearance.shape == (4, 128)
    out = model(x, _random_rotations(4, 2).float(), bg, appearance_swap_index(4))
    assert out.shape == (4, 3, 32, 32) and 0 <= float(out.detach().min()) and float(out.detach().max()) <= 1
    # rotation by the identity and no swap == decoding the encoder's own latent
    ident = model(x, torch.eye(3).expand(4, 3, 3), bg)
    assert torch.allclose(ident, model.decode(latent.points, latent.appearance, bg), atol=1e-6)
    path = model.save(tmp_path / "m.pt", meta={"steps": 3})
    loaded = EncoderDecoder.load(path)
    assert loaded.meta == {"steps": 3}
    assert torch.allclose(loaded(x, torch.eye(3).expand(4, 3, 3), bg), ident, atol=1e-6)
    with pytest.raises(ValueError, match=r"\(B, 3, 32, 32\)"):
        model.encode(torch.rand(2, 3, 48, 48))
    (tmp_path / "bad.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="bad.pt"):
        EncoderDecoder.load(tmp_path / "bad.pt")
    with pytest.raises(ValueError, match="multiple of 16"):
        EncoderDecoder(image_size=40)


def test_training_steps_reduce_the_reconstruction_loss(crops):
    torch.manual_seed(0)
    ds = NVSPairDataset(crops, image_size=32)
    batch = torch.utils.data.default_collate([ds[i] for i in range(0, len(ds), len(ds) // 4)][:4])
    task = NVSTask(
        EncoderDecoder(image_size=32, decoder_width=64, hidden=128), feature_loss="ssim", lr=2e-3, foreground_weight=4.0
    )
    first = task.validation_step(batch)["loss"]
    for step in range(25):
        task.training_step(batch, step)
    assert task.validation_step(batch)["loss"] < 0.8 * first


def test_background_attention_and_weighted_l1():
    bg = torch.zeros(1, 3, 2, 2)
    target = torch.tensor([0.0, 0.02, 0.3, 0.05]).view(1, 1, 2, 2).expand(1, 3, 2, 2)
    a = background_attention(target, bg, scale=0.1)
    assert torch.allclose(a.flatten(), torch.tensor([0.0, 0.2, 1.0, 0.5]))
    pred = torch.zeros(1, 3, 2, 2)
    w = 1 + 3 * a  # [1, 1.6, 4, 2.5]
    expected = (1 * 0.0 + 1.6 * 0.02 + 4 * 0.3 + 2.5 * 0.05) / (1 + 1.6 + 4 + 2.5)
    assert float(weighted_l1(pred, target, w)) == pytest.approx(expected, rel=1e-6)
    assert float(weighted_l1(pred, target, torch.ones(1, 1, 2, 2))) == pytest.approx(float(target.mean()), rel=1e-6)


def test_held_out_sequences_split_every_nth(crops):
    from weakpose.data.datasets.multiview import held_out_sequences, read_index

    keep, held = held_out_sequences(2)
    train = MultiViewImageDataset(crops, sequence_filter=keep)
    val = MultiViewImageDataset(crops, sequence_filter=held)
    names = [(e["subject"], e["action"], e["subaction"]) for e in read_index(crops)["sequences"]]
    key = lambda e: (e.subject, e.action, e.subaction)  # noqa: E731
    assert [key(e) for e in train.sequences] == names[0::2]
    assert [key(e) for e in val.sequences] == names[1::2]
    everything, nothing = held_out_sequences(0)
    assert len(MultiViewImageDataset(crops, sequence_filter=everything).sequences) == len(names)


def test_task_from_config_reads_the_sections():
    """The loss and optim sections live beside the task: their defaults are the constructor's, their values reach it."""
    from weakpose.tasks.nvs import LossConfig, OptimConfig

    model = EncoderDecoder(image_size=32, decoder_width=16, hidden=16)
    default, built = NVSTask(model), NVSTask.from_config(model)
    for task in (default, built):
        assert (task.feature_weight, task.foreground_weight) == (
            LossConfig.weight_feature,
            LossConfig.foreground_weight,
        )
        assert task.optimizer.param_groups[0]["lr"] == OptimConfig.lr
    task = NVSTask.from_config(
        model,
        loss=LossConfig(feature_loss="none", weight_feature=0.5, foreground_weight=0.0),
        optim=OptimConfig(lr=2e-4),
        weight_decay=1e-5,
    )
    assert (task.feature_weight, task.foreground_weight) == (0.5, 0.0)
    assert (task.optimizer.param_groups[0]["lr"], task.optimizer.param_groups[0]["weight_decay"]) == (2e-4, 1e-5)


def test_bf16_and_channels_last_steps_match_float32(crops):
    """The fast path computes the same losses and gradients as plain float32: channels-last to float rounding, bf16
    to its ~3 significant digits. Batch norm runs on its running statistics here: with batch statistics of an
    untrained network (nearly constant activations) it amplifies any rounding, bf16's most (see
    weakpose.train.precision), which would test batch norm's conditioning rather than the precision path."""
    import copy

    from weakpose.train.precision import resolve_precision

    torch.manual_seed(0)
    ds = NVSPairDataset(crops, image_size=32)
    batch = torch.utils.data.default_collate([ds[i] for i in range(4)])
    base = EncoderDecoder(image_size=32, decoder_width=32, hidden=64)

    def loss_and_grads(precision, channels_last):
        task = NVSTask(copy.deepcopy(base), precision=precision, channels_last=channels_last)
        task.model.eval()
        out = task._losses(batch)
        out["loss"].backward()
        grads = torch.cat([p.grad.flatten() for p in task.model.parameters()]).double()
        return out["loss"].item(), grads, out["pred"].detach()

    def cosine(a, b):
        return float(a @ b / (a.norm() * b.norm()))

    ref_loss, ref_grad, ref_pred = loss_and_grads("float32", False)
    cl_loss, cl_grad, cl_pred = loss_and_grads("float32", True)
    bf_loss, bf_grad, bf_pred = loss_and_grads("bfloat16", True)
    assert ref_pred.dtype == bf_pred.dtype == torch.float32  # the losses see float32 either way
    assert cl_loss == pytest.approx(ref_loss, rel=1e-6) and float((cl_pred - ref_pred).abs().max()) < 1e-5
    assert cosine(cl_grad, ref_grad) > 1 - 1e-9
    assert bf_loss == pytest.approx(ref_loss, rel=1e-3) and float((bf_pred - ref_pred).abs().max()) < 1e-2
    assert cosine(bf_grad, ref_grad) > 0.999
    assert resolve_precision("float32", torch.device("cpu")) is None
    assert resolve_precision("bfloat16", torch.device("cpu")) == torch.bfloat16
    with pytest.raises(ValueError, match="precision must be one of"):
        NVSTask(base, precision="half")


def test_prepared_views_gather_the_same_batches_and_are_reused(crops, tmp_path, monkeypatch):
    """get_batch gathers from decoded, memory-mapped arrays exactly what the per-item path collates; a second
    dataset on the same crops reads the arrays back without decoding a single image."""
    ds = NVSPairDataset(crops, image_size=32, masks=True, seed=3)
    ds.cache.prepare(cache_root=tmp_path)
    indices = [len(ds) - 1, 0, 5, 5, 2]
    batch = ds.get_batch(indices)
    fresh = NVSPairDataset(crops, image_size=32, masks=True, seed=3)  # decodes view by view, nothing prepared
    expected = torch.utils.data.default_collate([fresh[i] for i in indices])
    assert sorted(batch) == sorted(expected)
    for key, value in expected.items():
        assert torch.equal(batch[key], value) if torch.is_tensor(value) else batch[key] == value, key

    again = NVSPairDataset(crops, image_size=32, masks=True, seed=3)
    real_load = again.frames.load

    def no_decoding(index, cams, pixels=True):
        assert not pixels, "a prepared dataset decoded an image"
        return real_load(index, cams, pixels=False)

    monkeypatch.setattr(again.frames, "load", no_decoding)
    again.cache.prepare(cache_root=tmp_path)
    assert isinstance(again.cache.pixels["image"], np.memmap)
    assert torch.equal(again.get_batch(indices)["target_mask"], expected["target_mask"])
    assert torch.equal(again[2]["source"], fresh[2]["source"])
    # another image size is another set of arrays
    NVSPairDataset(crops, image_size=48, seed=3).cache.prepare(cache_root=tmp_path)
    assert len(list(tmp_path.iterdir())) == 2
