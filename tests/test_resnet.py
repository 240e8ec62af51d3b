"""ResNet/ResNeXt backbones: published parameter counts, torchvision key layout, block maths, weight loading."""

import pytest
import torch
import torch.nn.functional as F

from weakpose.models.resnet import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    RESNET_NAMES,
    BasicBlock,
    Bottleneck,
    ResNet,
    build_resnet,
    load_torchvision_weights,
    normalize_imagenet,
    resnet18,
    resnet34,
    resnet50,
    resnext50_32x4d,
)

# Published torchvision parameter counts (1000-way fc).
PUBLISHED_PARAMS = {
    "resnet18": 11_689_512,
    "resnet34": 21_797_672,
    "resnet50": 25_557_032,
    "resnext50_32x4d": 25_028_904,
}


def _randomize_bn(model: torch.nn.Module, seed: int = 0) -> None:
    """Non-trivial BN statistics and affine parameters, so eval-mode BN is not the identity."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                n = m.num_features
                m.running_mean.copy_(torch.randn(n, generator=g) * 0.1)
                m.running_var.copy_(torch.rand(n, generator=g) + 0.5)
                m.weight.copy_(torch.rand(n, generator=g) + 0.5)
                m.bias.copy_(torch.randn(n, generator=g) * 0.1)


@pytest.mark.parametrize("name", list(PUBLISHED_PARAMS))
def test_parameter_counts_match_published(name):
    torch.manual_seed(0)
    model = build_resnet(name)
    assert sum(p.numel() for p in model.parameters()) == PUBLISHED_PARAMS[name]


def test_known_torchvision_keys_and_shapes():
    torch.manual_seed(0)
    expected = {
        resnet18: {
            "conv1.weight": (64, 3, 7, 7),
            "bn1.running_var": (64,),
            "layer1.0.conv1.weight": (64, 64, 3, 3),
            "layer2.0.downsample.0.weight": (128, 64, 1, 1),
            "layer2.0.downsample.1.weight": (128,),
            "layer4.1.bn2.num_batches_tracked": (),
            "layer4.1.conv2.weight": (512, 512, 3, 3),
            "fc.weight": (1000, 512),
            "fc.bias": (1000,),
        },
        resnet50: {
            "conv1.weight": (64, 3, 7, 7),
            "layer1.0.conv1.weight": (64, 64, 1, 1),
            "layer1.0.conv3.weight": (256, 64, 1, 1),
            "layer1.0.downsample.0.weight": (256, 64, 1, 1),
            "layer1.0.downsample.1.running_mean": (256,),
            "layer2.0.conv2.weight": (128, 128, 3, 3),
            "layer3.5.bn3.weight": (1024,),
            "layer4.2.conv3.weight": (2048, 512, 1, 1),
            "layer4.1.bn2.num_batches_tracked": (),
            "fc.weight": (1000, 2048),
        },
        resnext50_32x4d: {
            "layer1.0.conv1.weight": (128, 64, 1, 1),
            "layer1.0.conv2.weight": (128, 4, 3, 3),
            "layer2.0.conv2.weight": (256, 8, 3, 3),  # 32 groups: 256 / 32 = 8 input channels per group
            "layer4.0.conv2.weight": (1024, 32, 3, 3),
            "layer4.0.downsample.0.weight": (2048, 1024, 1, 1),
            "fc.weight": (1000, 2048),
        },
    }
    counts = {resnet18: 122, resnet50: 320, resnext50_32x4d: 320}  # state-dict entries in the torchvision layout
    for factory, keys in expected.items():
        sd = factory().state_dict()
        assert len(sd) == counts[factory]
        for k, shape in keys.items():
            assert k in sd, (factory.__name__, k)
            assert tuple(sd[k].shape) == shape, (factory.__name__, k, tuple(sd[k].shape))
    # No key outside the torchvision naming scheme.
    prefixes = ("conv1.", "bn1.", "layer1.", "layer2.", "layer3.", "layer4.", "fc.")
    assert all(k.startswith(prefixes) for k in resnet18().state_dict())


def _bn(x, bn):
    return F.batch_norm(x, bn.running_mean, bn.running_var, bn.weight, bn.bias, training=False, eps=bn.eps)


def test_basic_block_matches_functional_computation():
    torch.manual_seed(1)
    down = torch.nn.Sequential(torch.nn.Conv2d(8, 16, 1, stride=2, bias=False), torch.nn.BatchNorm2d(16))
    block = BasicBlock(8, 16, stride=2, downsample=down)
    _randomize_bn(block, seed=1)
    block.eval()
    x = torch.randn(2, 8, 9, 10)
    with torch.no_grad():
        out = block(x)
        h = F.relu(_bn(F.conv2d(x, block.conv1.weight, stride=2, padding=1), block.bn1))
        h = _bn(F.conv2d(h, block.conv2.weight, stride=1, padding=1), block.bn2)
        sc = _bn(F.conv2d(x, down[0].weight, stride=2), down[1])
        ref = F.relu(h + sc)
    assert out.shape == (2, 16, 5, 5)
    torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-5)

    # Identity shortcut: the input itself is added.
    block2 = BasicBlock(8, 8)
    _randomize_bn(block2, seed=2)
    block2.eval()
    with torch.no_grad():
        h = F.relu(_bn(F.conv2d(x, block2.conv1.weight, padding=1), block2.bn1))
        ref2 = F.relu(_bn(F.conv2d(h, block2.conv2.weight, padding=1), block2.bn2) + x)
        torch.testing.assert_close(block2(x), ref2, rtol=1e-5, atol=1e-5)


def test_grouped_bottleneck_matches_functional_computation():
    torch.manual_seed(2)
    down = torch.nn.Sequential(torch.nn.Conv2d(16, 32, 1, stride=2, bias=False), torch.nn.BatchNorm2d(32))
    block = Bottleneck(16, 8, stride=2, downsample=down, groups=4, base_width=8)  # width = int(8*8/64)*4 = 4
    assert block.conv2.weight.shape == (4, 1, 3, 3)
    _randomize_bn(block, seed=3)
    block.eval()
    x = torch.randn(2, 16, 7, 7)
    with torch.no_grad():
        h = F.relu(_bn(F.conv2d(x, block.conv1.weight), block.bn1))
        # grouped 3x3 computed group by group (one input/output channel per group here)
        w = block.conv2.weight
        g = torch.cat([F.conv2d(h[:, i : i + 1], w[i : i + 1], stride=2, padding=1) for i in range(4)], dim=1)
        h = F.relu(_bn(g, block.bn2))
        h = _bn(F.conv2d(h, block.conv3.weight), block.bn3)
        ref = F.relu(h + _bn(F.conv2d(x, down[0].weight, stride=2), down[1]))
        torch.testing.assert_close(block(x), ref, rtol=1e-5, atol=1e-5)


def test_zero_init_residual_makes_blocks_identity():
    torch.manual_seed(3)
    model = resnet18(zero_init_residual=True).eval()
    assert all(float(b.bn2.weight.detach().abs().max()) == 0.0 for layer in (model.layer1, model.layer2) for b in layer)
    x = torch.randn(1, 64, 8, 8)
    with torch.no_grad():
        # layer1.1 has an identity shortcut: relu(0 * branch + bn_bias(=0) + x) = relu(x)
        torch.testing.assert_close(model.layer1[1](x), F.relu(x))


@pytest.mark.parametrize("size", [64, 128])
def test_stage_spatial_sizes_and_channels(size):
    torch.manual_seed(4)
    for factory, chans in ((resnet18, (64, 64, 128, 256, 512)), (resnet50, (64, 256, 512, 1024, 2048))):
        model = factory(num_classes=None).eval()
        assert model.stage_channels == chans
        assert model.feature_channels == chans[-1]
        with torch.no_grad():
            stages = model.forward_features(torch.rand(1, 3, size, size), return_stages=True)
        assert len(stages) == 5
        for t, c, stride in zip(stages, chans, (4, 4, 8, 16, 32)):
            assert tuple(t.shape) == (1, c, size // stride, size // stride)
    assert resnext50_32x4d(num_classes=None).feature_channels == 2048


def test_forward_pools_features_and_applies_fc():
    torch.manual_seed(5)
    model = resnet18(num_classes=7).eval()
    x = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        fmap = model.forward_features(x)
        pooled = fmap.mean(dim=(2, 3))
        logits = model(x)
    torch.testing.assert_close(logits, pooled @ model.fc.weight.T + model.fc.bias, rtol=1e-5, atol=1e-5)
    backbone = resnet18(num_classes=None).eval()
    assert backbone.fc is None
    backbone.load_state_dict({k: v for k, v in model.state_dict().items() if not k.startswith("fc.")})
    with torch.no_grad():
        torch.testing.assert_close(backbone(x), pooled)
    # in_channels
    gray = resnet18(in_channels=1, num_classes=None)
    assert gray.conv1.weight.shape == (64, 1, 7, 7)
    with pytest.raises(ValueError, match=r"\(B, 1, H, W\)"):
        gray(torch.rand(1, 3, 32, 32))


def test_build_resnet_names_and_errors():
    assert set(RESNET_NAMES) == set(PUBLISHED_PARAMS)
    assert isinstance(build_resnet("ResNet18", num_classes=None), ResNet)
    assert resnet34().layers_per_stage == (3, 4, 6, 3)
    with pytest.raises(ValueError, match="resnext50_32x4d") as info:
        build_resnet("resnet101")
    assert "resnet101" in str(info.value)
    with pytest.raises(ValueError, match="groups=1"):
        BasicBlock(64, 64, groups=2)


def test_round_trip_through_file(tmp_path):
    torch.manual_seed(6)
    src = resnet18(num_classes=10)
    _randomize_bn(src, seed=6)
    path = tmp_path / "resnet18-test.pth"
    torch.save(src.state_dict(), path)
    dst = resnet18(num_classes=10)
    info = load_torchvision_weights(dst, path)
    assert info["missing"] == [] and info["unexpected"] == [] and info["skipped"] == []
    src.eval(), dst.eval()
    x = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(src(x), dst(x))
    for k, v in src.state_dict().items():
        assert torch.equal(v, dst.state_dict()[k]), k


def test_round_trip_resnext_with_module_prefix_and_wrapper(tmp_path):
    torch.manual_seed(7)
    src = resnext50_32x4d(num_classes=None)
    _randomize_bn(src, seed=7)
    wrapped = {"epoch": 3, "state_dict": {"module." + k: v for k, v in src.state_dict().items()}}
    path = tmp_path / "wrapped.pt"
    torch.save(wrapped, path)
    dst = resnext50_32x4d(num_classes=None)
    load_torchvision_weights(dst, path)
    src.eval(), dst.eval()
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(src(x), dst(x))
    # The prefixed dict given directly (no file) loads too.
    dst2 = resnext50_32x4d(num_classes=None)
    load_torchvision_weights(dst2, wrapped["state_dict"])
    assert torch.equal(dst2.layer2[0].conv2.weight, src.layer2[0].conv2.weight)


def test_fc_handling():
    torch.manual_seed(8)
    src = resnet18()  # 1000 classes
    sd = src.state_dict()
    backbone = resnet18(num_classes=None)
    info = load_torchvision_weights(backbone, sd)
    assert sorted(info["skipped"]) == ["fc.bias", "fc.weight"]
    assert torch.equal(backbone.conv1.weight, src.conv1.weight)

    head = resnet18(num_classes=5)
    fc_before = head.fc.weight.clone()
    with pytest.warns(UserWarning, match="1000 classes"):
        info = load_torchvision_weights(head, sd)
    assert sorted(info["skipped"]) == ["fc.bias", "fc.weight"]
    assert torch.equal(head.fc.weight, fc_before)  # its own fc kept
    assert torch.equal(head.layer4[1].conv2.weight, src.layer4[1].conv2.weight)


def test_mismatched_shape_raises_naming_key_and_file(tmp_path):
    torch.manual_seed(9)
    sd = resnet18().state_dict()
    sd["layer2.0.conv1.weight"] = torch.zeros(128, 64, 5, 5)
    path = tmp_path / "bad-weights.pth"
    torch.save(sd, path)
    model = resnet18()
    before = model.conv1.weight.clone()
    with pytest.raises(ValueError) as info:
        load_torchvision_weights(model, path)
    msg = str(info.value)
    assert "layer2.0.conv1.weight" in msg and "bad-weights.pth" in msg
    assert "(128, 64, 5, 5)" in msg and "(128, 64, 3, 3)" in msg
    assert torch.equal(model.conv1.weight, before)  # nothing loaded
    # Wrong architecture: resnet50 weights into resnet18.
    with pytest.raises(ValueError, match="shape mismatch"):
        load_torchvision_weights(resnet18(), resnet50().state_dict())


def test_missing_and_unexpected_keys():
    torch.manual_seed(10)
    sd = resnet18().state_dict()
    sd.pop("layer3.1.bn1.weight")
    sd["extra.head.weight"] = torch.zeros(3)
    with pytest.raises(ValueError) as info:
        load_torchvision_weights(resnet18(), sd)
    msg = str(info.value)
    assert "layer3.1.bn1.weight (256,)" in msg and "extra.head.weight (3,)" in msg
    model = resnet18()
    info = load_torchvision_weights(model, sd, strict=False)
    assert info["missing"] == ["layer3.1.bn1.weight"] and info["unexpected"] == ["extra.head.weight"]
    assert torch.equal(model.layer3[1].bn2.weight, sd["layer3.1.bn2.weight"])
    # Old checkpoints without num_batches_tracked load strictly.
    old = {k: v for k, v in resnet18().state_dict().items() if not k.endswith("num_batches_tracked")}
    assert load_torchvision_weights(resnet18(), old)["missing"] == []


def test_bad_sources(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.pth"):
        load_torchvision_weights(resnet18(), tmp_path / "nope.pth")
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="junk.pth"):
        load_torchvision_weights(resnet18(), junk)
    notdict = tmp_path / "list.pth"
    torch.save([torch.zeros(1)], notdict)
    with pytest.raises(ValueError, match="list.pth"):
        load_torchvision_weights(resnet18(), notdict)


def test_normalize_imagenet_values():
    x = torch.rand(2, 3, 4, 5, generator=torch.Generator().manual_seed(11))
    y = normalize_imagenet(x)
    for c in range(3):
        torch.testing.assert_close(y[:, c], (x[:, c] - IMAGENET_MEAN[c]) / IMAGENET_STD[c])
    # A mean-coloured image maps to zero; one std above to one.
    mean_img = torch.tensor(IMAGENET_MEAN).view(3, 1, 1).expand(3, 2, 2)
    torch.testing.assert_close(normalize_imagenet(mean_img), torch.zeros(3, 2, 2))
    torch.testing.assert_close(
        normalize_imagenet(mean_img + torch.tensor(IMAGENET_STD).view(3, 1, 1)), torch.ones(3, 2, 2)
    )
    with pytest.raises(ValueError, match=r"\(2, 4, 4\)"):
        normalize_imagenet(torch.rand(2, 4, 4))


@pytest.mark.parametrize(
    "cin, cout, k, stride, pad, dil, size, bias",
    [
        (8, 6, 3, 1, 1, 1, 2, False),
        (8, 6, 3, 2, 1, 1, 4, True),
        (5, 7, 1, 2, 0, 1, 3, False),
        (4, 4, 3, 1, 2, 2, 4, True),
    ],
)
def test_small_map_conv_is_nn_conv2d(cin, cout, k, stride, pad, dil, size, bias):
    """The matrix-product path of tiny output maps computes F.conv2d's values and gradients (float64)."""
    from weakpose.models.resnet import Conv2d

    torch.manual_seed(0)
    conv = Conv2d(cin, cout, k, stride=stride, padding=pad, dilation=dil, bias=bias).double()
    x = torch.randn(3, cin, size, size, dtype=torch.float64, requires_grad=True)
    out = conv(x)
    assert out.shape[-1] * out.shape[-2] <= Conv2d.SMALL_MAP  # the matrix-product path ran
    ref = torch.nn.functional.conv2d(x, conv.weight, conv.bias, stride, pad, dil)
    torch.testing.assert_close(out, ref)
    g = torch.randn_like(ref)
    grads = torch.autograd.grad(out, [x, conv.weight], g)
    ref_grads = torch.autograd.grad(ref, [x, conv.weight], g)
    for a, b in zip(grads, ref_grads):
        torch.testing.assert_close(a, b)
    assert torch.autograd.gradcheck(conv, (x,))
    big = torch.randn(1, cin, 16, 16, dtype=torch.float64)  # larger maps take nn.Conv2d's own path
    torch.testing.assert_close(conv(big), torch.nn.functional.conv2d(big, conv.weight, conv.bias, stride, pad, dil))
