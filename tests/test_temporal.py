"""TemporalLifter / TrajectoryModel / reproject: parameter counts from layer shapes, a NumPy reference of the dilated
network, identical twins, causality, and reprojection against weakpose.geometry.Camera."""

import math

import numpy as np
import pytest
import torch

from weakpose.geometry import Camera, axis_angle_to_matrix
from weakpose.models.temporal import StridedTrainingTwin, TemporalLifter, TrajectoryModel, reproject


def _hand_count(widths, joints_in=17, features=2, joints_out=17, channels=1024, dense=False):
    """Parameters from the layer shapes of the published design (no convolution biases except the last layer;
    every batch norm has a scale and a shift)."""
    n = joints_in * features * channels * widths[0] + 2 * channels  # expand conv + BN
    dilation = widths[0]
    for w in widths[1:]:
        kernel = (w - 1) * dilation + 1 if dense else w
        n += channels * channels * kernel + 2 * channels  # temporal conv + BN
        n += channels * channels + 2 * channels  # 1x1 conv + BN
        dilation *= w
    return n + channels * joints_out * 3 + joints_out * 3  # final 1x1 conv with bias


def _count(model):
    return sum(p.numel() for p in model.parameters())


def test_parameter_counts_published_configurations():
    assert _hand_count((3, 3, 3, 3, 3)) == 16_952_371  # the hand formula reproduces the published number
    for widths, rf in (((3, 3, 3), 27), ((3, 3, 3, 3), 81), ((3, 3, 3, 3, 3), 243)):
        model = TemporalLifter(filter_widths=widths)
        assert model.receptive_field() == rf
        assert _count(model) == _hand_count(widths)
    assert _count(TemporalLifter(filter_widths=(3, 3, 3, 3, 3))) == 16_952_371


def test_parameter_counts_variants():
    assert _count(TemporalLifter(filter_widths=(3, 5, 3), channels=32, dense=True)) == _hand_count(
        (3, 5, 3), channels=32, dense=True
    )
    assert _count(TrajectoryModel(filter_widths=(3, 3), channels=16)) == _hand_count((3, 3), channels=16, joints_out=1)
    assert _count(
        TemporalLifter(num_joints_in=16, in_features=3, num_joints_out=14, filter_widths=(5, 3), channels=8)
    ) == _hand_count((5, 3), 16, 3, 14, 8)
    assert TemporalLifter(filter_widths=(3, 5, 7), channels=4).receptive_field() == 105


def _randomise_bn(model, seed=0):
    """Non-trivial running statistics and affine parameters, so eval-mode batch norm is not the identity."""
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm1d):
            m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.3)
            m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
            m.weight.data.copy_(torch.rand(m.num_features, generator=g) + 0.5)
            m.bias.data.copy_(torch.randn(m.num_features, generator=g) * 0.3)
    return model.eval()


def _numpy_reference(model, x, causal):
    """Independent NumPy evaluation of the dilated network (eval mode) from its weights, by explicit loops."""
    p = {k: v.detach().double().numpy() for k, v in model.state_dict().items()}
    eps = 1e-5

    def conv(h, w, dilation):  # h (C_in, T), w (C_out, C_in, k), valid convolution
        k = w.shape[2]
        t_out = h.shape[1] - (k - 1) * dilation
        return sum(w[:, :, i] @ h[:, i * dilation : i * dilation + t_out] for i in range(k))

    def bn_relu(h, name):
        y = (h - p[name + ".running_mean"][:, None]) / np.sqrt(p[name + ".running_var"][:, None] + eps)
        return np.maximum(y * p[name + ".weight"][:, None] + p[name + ".bias"][:, None], 0)

    out = []
    for seq in x.double().numpy():  # (T, J, F)
        h = bn_relu(conv(seq.reshape(seq.shape[0], -1).T, p["expand_conv.weight"], 1), "expand_bn")
        dilation = model.filter_widths[0]
        for i, w in enumerate(model.filter_widths[1:]):
            b = f"blocks.{i}."
            y = bn_relu(conv(h, p[b + "conv.weight"], dilation), b + "bn")
            y = bn_relu(conv(y, p[b + "pointwise.weight"], 1), b + "pointwise_bn")
            shift = (w - 1) * dilation if causal else (w - 1) * dilation // 2  # newest frame / centre frame
            h = h[:, shift : shift + y.shape[1]] + y
            dilation *= w
        y = conv(h, p["shrink.weight"], 1) + p["shrink.bias"][:, None]
        y = y.T.reshape(y.shape[1], -1, 3)
        out.append(y - y[:, :1] if model.root_relative else y)  # joint 0 at the origin by construction
    return np.stack(out)


@pytest.mark.parametrize("causal", [False, True])
def test_dilated_network_matches_numpy_reference(causal):
    torch.manual_seed(1)
    model = _randomise_bn(
        TemporalLifter(num_joints_in=5, num_joints_out=4, filter_widths=(3, 3, 3), channels=6, causal=causal)
    )
    x = torch.randn(2, 33, 5, 2)
    with torch.no_grad():
        y = model(x)
    assert y.shape == (2, 33 - 27 + 1, 4, 3)
    np.testing.assert_allclose(y.double().numpy(), _numpy_reference(model, x, causal), atol=1e-5)
    assert y[..., 0, :].abs().max() == 0  # root-relative by construction
    raw = TemporalLifter(
        num_joints_in=5, num_joints_out=4, filter_widths=(3, 3, 3), channels=6, causal=causal, root_relative=False
    )
    raw.load_state_dict(model.state_dict())
    with torch.no_grad():
        np.testing.assert_allclose(raw.eval()(x).double().numpy(), _numpy_reference(raw, x, causal), atol=1e-5)


@pytest.mark.parametrize("widths", [(3, 3, 3), (3, 3, 3, 3, 3), (5, 3, 1)])
@pytest.mark.parametrize("causal", [False, True])
def test_training_and_inference_twins_identical(widths, causal):
    torch.manual_seed(2)
    model = _randomise_bn(TemporalLifter(filter_widths=widths, channels=8, causal=causal))
    rf = model.receptive_field()
    x = torch.randn(2, rf + 4, 17, 2)
    twin = model.training_twin()
    with torch.no_grad():
        whole = model(x)  # (2, 5, 17, 3)
        windows = torch.cat([twin(x[:, i : i + rf]) for i in range(5)], dim=1)
    assert whole.shape == windows.shape == (2, 5, 17, 3)
    assert whole.abs().max() > 1e-3  # not a trivially zero network
    torch.testing.assert_close(windows, whole, atol=1e-5, rtol=1e-5)


def test_twin_shares_weights_and_mode():
    torch.manual_seed(3)
    model = TemporalLifter(filter_widths=(3, 3), channels=8, dropout=0.0)
    twin = model.training_twin()
    assert isinstance(twin, StridedTrainingTwin) and twin.receptive_field() == 9
    assert {id(p) for p in twin.parameters()} == {id(p) for p in model.parameters()}
    before = model.expand_conv.weight.detach().clone()
    opt = torch.optim.SGD(twin.parameters(), lr=0.1)
    twin(torch.randn(4, 9, 17, 2)).square().sum().backward()
    opt.step()
    assert not torch.equal(model.expand_conv.weight, before)  # a training-twin step moves the inference weights
    twin.eval()
    assert not model.training


def test_output_length_and_edge_padding():
    torch.manual_seed(4)
    model = _randomise_bn(TemporalLifter(filter_widths=(3, 3), channels=8))
    x = torch.randn(1, 20, 17, 2)
    with torch.no_grad():
        assert model(x).shape == (1, 12, 17, 3)
        padded = model(x, pad_edges=True)
        assert padded.shape == (1, 20, 17, 3)
        # centre model: output t of the padded call is the window centred on frame t, edges repeated
        xp = torch.cat([x[:, :1].expand(-1, 4, -1, -1), x, x[:, -1:].expand(-1, 4, -1, -1)], dim=1)
        for t in (0, 3, 10, 19):
            torch.testing.assert_close(padded[:, t : t + 1], model(xp[:, t : t + 9]))


def test_causal_output_uses_only_past_frames():
    torch.manual_seed(5)
    x = torch.randn(1, 40, 17, 2)
    changed = x.clone()
    changed[:, 21:] += torch.randn_like(changed[:, 21:])  # frames after t = 20 change
    for causal in (True, False):
        model = _randomise_bn(TemporalLifter(filter_widths=(3, 3, 3), channels=8, causal=causal))
        with torch.no_grad():
            a, b = model(x, pad_edges=True), model(changed, pad_edges=True)
        if causal:
            assert model.frame_offset == 26
            torch.testing.assert_close(a[:, :21], b[:, :21])  # outputs for frames <= 20: identical
        else:
            assert model.frame_offset == 13
            assert (a[:, 8:21] - b[:, 8:21]).abs().amax(dim=(0, 2, 3)).min() > 1e-6  # the centre model looks ahead
        assert (a[:, 21:] - b[:, 21:]).abs().max() > 1e-4


def test_causal_residual_anchored_on_newest_frame():
    """With every block's convolutions zeroed the blocks pass their residual through, so the output depends only on
    the expand convolution at the frames the residual slices select: the last w0 frames of the window if causal,
    the centre w0 frames otherwise."""
    torch.manual_seed(6)
    for causal, expected in ((True, [24, 25, 26]), (False, [12, 13, 14])):
        model = _randomise_bn(TemporalLifter(filter_widths=(3, 3, 3), channels=8, causal=causal))
        for block in model.blocks:
            block.conv.weight.data.zero_()
            block.pointwise.weight.data.zero_()
            block.pointwise_bn.bias.data.fill_(-10.0)  # ReLU(negative) = 0: the block adds nothing
        x = torch.randn(1, 27, 17, 2)
        with torch.no_grad():
            base = model(x)
            used = [
                f
                for f in range(27)
                if (model(torch.where(torch.arange(27)[None, :, None, None] == f, x + 1.0, x)) - base).abs().max()
                > 1e-6
            ]
        assert used == expected


def test_bad_inputs_raise_clear_errors():
    model = TemporalLifter(filter_widths=(3, 3), channels=4)
    with pytest.raises(ValueError, match=r"\(B, T, 17, 2\)"):
        model(torch.zeros(2, 9, 16, 2))
    with pytest.raises(ValueError, match="shorter than the receptive field 9"):
        model(torch.zeros(2, 8, 17, 2))
    with pytest.raises(ValueError, match="exactly the receptive field 9"):
        model.forward_windows(torch.zeros(2, 11, 17, 2))
    with pytest.raises(ValueError, match="odd"):
        TemporalLifter(filter_widths=(3, 2))
    with pytest.raises(ValueError, match="strided twin"):
        TemporalLifter(filter_widths=(3, 3), channels=4, dense=True).training_twin()
    with pytest.raises(ValueError, match="intrinsics"):
        reproject(torch.zeros(2, 17, 3), torch.ones(2, 3), torch.zeros(2, 8))
    with pytest.raises(ValueError, match="root"):
        reproject(torch.zeros(2, 17, 3), torch.ones(2, 2, 3), torch.zeros(2, 9))


def _random_cameras(rng, n):
    """n skew-free cameras with H36M-like intrinsics and distortion; image 1000 x 1002."""
    R = axis_angle_to_matrix(torch.as_tensor(rng.normal(0, 0.5, (n, 3))))
    t = torch.as_tensor(np.c_[rng.normal(0, 0.3, (n, 2)), rng.uniform(4, 6, n)])
    K = torch.zeros(n, 3, 3, dtype=torch.float64)
    K[:, 0, 0], K[:, 1, 1] = torch.as_tensor(rng.uniform(1100, 1200, n)), torch.as_tensor(rng.uniform(1100, 1200, n))
    K[:, 0, 2], K[:, 1, 2], K[:, 2, 2] = (
        torch.as_tensor(rng.uniform(480, 520, n)),
        torch.as_tensor(rng.uniform(480, 520, n)),
        1.0,
    )
    dist = torch.as_tensor(np.c_[rng.normal(0, 0.2, (n, 3)), rng.normal(0, 0.005, (n, 2))])
    return Camera(R, t, K, dist, image_size=(1000, 1002))


def _normalised_intrinsics(K, dist, w, h):
    """The 9-vector of weakpose.data.datasets.poses, written out: f·2/w, c mapped like a pixel, then
    [k1, k2, k3, p1, p2]."""
    f = np.stack([K[:, 0, 0], K[:, 1, 1]], -1) * 2 / w
    c = np.stack([K[:, 0, 2] / w * 2 - 1, K[:, 1, 2] / w * 2 - h / w], -1)
    return np.concatenate([f, c, dist], -1)


def test_reproject_matches_camera_projection(rng):
    cams = _random_cameras(rng, 4)
    X = torch.as_tensor(rng.normal(0, 0.6, (4, 17, 3)))  # world metres, in front of the cameras
    Xc = cams.world_to_camera(X)
    expected = cams.normalize_screen(cams.project(X)).numpy()
    intr = _normalised_intrinsics(cams.K.numpy(), cams.dist.numpy(), 1000.0, 1002.0)
    root = Xc[:, 0]
    got = reproject(Xc - root[:, None], root, torch.as_tensor(intr))
    np.testing.assert_allclose(got.numpy(), expected, atol=1e-10)
    # numpy in -> numpy out; root as (..., 1, 3); float32 like a network's output
    got_np = reproject((Xc - root[:, None]).numpy(), root[:, None].numpy(), intr)
    assert isinstance(got_np, np.ndarray)
    np.testing.assert_allclose(got_np, expected, atol=1e-10)
    got32 = reproject((Xc - root[:, None]).float(), root.float(), torch.as_tensor(intr).float())
    assert got32.dtype == torch.float32
    np.testing.assert_allclose(got32.numpy(), expected, atol=1e-5)
    # the other distortion models follow Camera too
    for model in ("videopose3d", "opencv"):
        other = cams.replace(distortion_model=model)
        np.testing.assert_allclose(
            reproject(Xc - root[:, None], root, intr, distortion_model=model).numpy(),
            other.normalize_screen(other.project(X)).numpy(),
            atol=1e-10,
        )


def test_reproject_sequence_batch_with_network_outputs(rng):
    """Lifter (B, T, J, 3) + trajectory (B, T, 1, 3) with one camera per sequence (B, 9), as in training."""
    cams = _random_cameras(rng, 3)
    intr = torch.as_tensor(_normalised_intrinsics(cams.K.numpy(), cams.dist.numpy(), 1000.0, 1002.0))
    torch.manual_seed(7)
    inp = torch.randn(3, 12, 17, 2)
    lifter = TemporalLifter(filter_widths=(3, 3), channels=8).double().eval()
    traj = TrajectoryModel(filter_widths=(3, 3), channels=8).double().eval()
    with torch.no_grad():
        pose, root = lifter(inp.double()) * 0.2, traj(inp.double()) * 0.1 + torch.tensor([0.0, 0.0, 5.0]).double()
    assert pose.shape == (3, 4, 17, 3) and root.shape == (3, 4, 1, 3)
    got = reproject(pose, root, intr)
    for b in range(3):  # each sequence through its own camera (camera frame = world frame here)
        cam = Camera(
            torch.eye(3, dtype=torch.float64),
            torch.zeros(3, dtype=torch.float64),
            cams.K[b],
            cams.dist[b],
            image_size=(1000, 1002),
        )
        np.testing.assert_allclose(
            got[b].numpy(), cam.normalize_screen(cam.project_camera(pose[b] + root[b])).numpy(), atol=1e-10
        )


def test_reproject_gradient_matches_finite_differences(rng):
    intr = torch.as_tensor(
        _normalised_intrinsics(
            np.array([[[1150.0, 0, 510], [0, 1140, 495], [0, 0, 1]]]),
            np.array([[-0.2, 0.24, -0.002, -0.001, 0.0015]]),
            1000.0,
            1002.0,
        )
    )
    pose = torch.as_tensor(rng.normal(0, 0.3, (1, 5, 3)), dtype=torch.float64).requires_grad_()
    root = torch.tensor([[0.1, -0.2, 4.5]], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda p, r: reproject(p, r, intr), (pose, root))


def test_trajectory_model_is_the_same_architecture_with_one_joint():
    model = TrajectoryModel(filter_widths=(3, 3, 3), channels=8, causal=True)
    assert model.num_joints_out == 1 and model.receptive_field() == 27 and model.causal
    assert model(torch.zeros(2, 30, 17, 2)).shape == (2, 4, 1, 3)
    assert math.prod(model.filter_widths) == 27


@pytest.mark.parametrize(
    "widths, causal, dense", [((3, 3, 3), False, False), ((3, 5), True, False), ((3, 3, 3), False, True)]
)
def test_matrix_product_layers_equal_conv1d(widths, causal, dense):
    from weakpose.models.temporal import conv1d_network

    torch.manual_seed(0)
    model = TemporalLifter(filter_widths=widths, channels=24, causal=causal, dense=dense).double().eval()
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm1d):
            m.running_mean.uniform_(-0.3, 0.3)
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.2, 0.2)
    rf = model.receptive_field()
    with torch.no_grad():
        seq = torch.randn(2, rf + 20, 17, 2, dtype=torch.float64)
        products = model._forward_products(seq.reshape(*seq.shape[:2], -1))  # what training runs
        torch.testing.assert_close(products, conv1d_network(model, seq, windows=False), rtol=0, atol=1e-12)
        torch.testing.assert_close(model(seq), products, rtol=0, atol=1e-12)  # inference: the conv1d path
        if not dense:
            win = torch.randn(5, rf, 17, 2, dtype=torch.float64)
            torch.testing.assert_close(
                model.forward_windows(win), conv1d_network(model, win, windows=True), rtol=0, atol=1e-12
            )
    # gradients too (training mode, batch statistics): the backward of the products is the convolution's
    model.train()
    model.drop.p = 0.0
    win = torch.randn(6, rf, 17, 2, dtype=torch.float64)
    fn = model.forward_windows if not dense else model.forward
    grads = []
    for f in (fn, lambda x: conv1d_network(model, x, windows=not dense)):
        model.zero_grad()
        f(win).square().sum().backward()
        grads.append([p.grad.clone() for p in model.parameters()])
    for a, b in zip(*grads):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-10)
