"""ResNet-18/34/50 and ResNeXt-50 (32x4d) image backbones, laid out so torchvision-format weights load in one call.

Implemented from the papers' descriptions, not from another library's source:

* He, Zhang, Ren & Sun, *Deep Residual Learning for Image Recognition*, CVPR 2016: a 7x7/2 convolution and a
  3x3/2 max-pool stem, then four stages of residual blocks (64, 128, 256, 512 base widths; each stage after the
  first halves the resolution), global average pooling and one fully connected layer. ResNet-18/34 use the
  two-3x3 "basic" block, ResNet-50 the 1x1-3x3-1x1 "bottleneck" block with a 4x wider output; a projection
  shortcut (1x1 convolution + batch norm) is used where a block changes width or resolution (option B).
* Xie, Girshick, Dollar, Tu & He, *Aggregated Residual Transformations for Deep Neural Networks*, CVPR 2017:
  ResNeXt replaces the bottleneck's 3x3 convolution by a grouped one; "32x4d" means 32 groups of width 4 in the
  first stage (a 128-wide 3x3 instead of 64), doubling per stage like the plain widths.

The bottleneck puts its stride on the 3x3 convolution (the widely used "v1.5" variant; the paper strides the first
1x1). The parameter count is the same either way, but pretrained weights are only right for the variant they were
trained with, and the commonly distributed ones are v1.5.

Parameter names follow the common torchvision layout (``conv1``, ``bn1``, ``layer1.0.conv1``, ...,
``layer1.0.downsample.0`` / ``.1``, ``fc``), so a user holding such weights loads them with one call::

    model = resnet50(num_classes=None)
    load_torchvision_weights(model, "resnet50-0676ba61.pth")

No weights are shipped or downloaded: ``source`` is a file you already have (or a state dict). Feed such
pretrained networks RGB images in [0, 1] passed through :func:`normalize_imagenet`.

Shapes: input ``(B, in_channels, H, W)``; :meth:`ResNet.forward_features` gives the layer4 map
``(B, feature_channels, ceil(H/32), ceil(W/32))`` (strides 4, 4, 8, 16, 32 for stem, layer1..layer4).
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Type, Union

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "BasicBlock",
    "Bottleneck",
    "ResNet",
    "resnet18",
    "resnet34",
    "resnet50",
    "resnext50_32x4d",
    "build_resnet",
    "RESNET_NAMES",
    "load_torchvision_weights",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "normalize_imagenet",
]

#: Per-channel RGB mean and std of ImageNet, the normalisation that torchvision-format pretrained ResNets expect.
IMAGENET_MEAN: Tuple[float, float, float] = (0.485, 0.456, 0.406)
IMAGENET_STD: Tuple[float, float, float] = (0.229, 0.224, 0.225)


def normalize_imagenet(x: torch.Tensor) -> torch.Tensor:
    """``(x - mean) / std`` per RGB channel for images ``(..., 3, H, W)`` with values in [0, 1]."""
    if not torch.is_tensor(x) or x.dim() < 3 or x.shape[-3] != 3:
        shape = tuple(x.shape) if torch.is_tensor(x) else type(x).__name__
        raise ValueError(f"normalize_imagenet expects RGB images (..., 3, H, W) in [0, 1], got {shape}")
    if not x.is_floating_point():
        raise ValueError(f"normalize_imagenet expects a floating-point tensor in [0, 1], got dtype {x.dtype}")
    mean = torch.tensor(IMAGENET_MEAN, dtype=x.dtype, device=x.device).view(3, 1, 1)
    std = torch.tensor(IMAGENET_STD, dtype=x.dtype, device=x.device).view(3, 1, 1)
    return (x - mean) / std


class Conv2d(nn.Conv2d):
    """``nn.Conv2d`` (same parameters, state-dict names and numbers up to float rounding) that evaluates a
    convolution with a tiny output map on the CPU as ``unfold`` + one matrix product.

    Why: on small crops the last stages see 2x2 or 4x4 maps (64-px input: layer4 is 2x2), where oneDNN's
    convolution backward is 2-4x slower than the equivalent matrix product (measured for 512 -> 512 channels, 3x3,
    batch 16: 27 ms vs 13 ms in float32, 22 ms vs 7 ms in bf16), and those weight-heavy layers dominate the step.
    """

    #: output maps of at most this many pixels take the matrix-product path
    SMALL_MAP = 16

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.device.type != "cpu" or self.groups != 1 or self.padding_mode != "zeros" or isinstance(self.padding, str):
            return super().forward(x)
        (kh, kw), (sh, sw), (ph, pw), (dh, dw) = self.kernel_size, self.stride, self.padding, self.dilation
        h = (x.shape[-2] + 2 * ph - dh * (kh - 1) - 1) // sh + 1
        w = (x.shape[-1] + 2 * pw - dw * (kw - 1) - 1) // sw + 1
        if h * w > self.SMALL_MAP or x.dim() != 4:
            return super().forward(x)
        cols = F.unfold(x, self.kernel_size, dilation=self.dilation, padding=self.padding, stride=self.stride)
        y = torch.matmul(self.weight.flatten(1), cols)  # (B, out, h * w)
        if self.bias is not None:
            y = y + self.bias[:, None]
        return y.view(x.shape[0], self.out_channels, h, w)


def _conv3x3(cin: int, cout: int, stride: int = 1, groups: int = 1) -> nn.Conv2d:
    return Conv2d(cin, cout, kernel_size=3, stride=stride, padding=1, groups=groups, bias=False)


def _conv1x1(cin: int, cout: int, stride: int = 1) -> nn.Conv2d:
    return Conv2d(cin, cout, kernel_size=1, stride=stride, bias=False)


class BasicBlock(nn.Module):
    """relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x)), two 3x3 convolutions (He et al. 2016, ResNet-18/34).

    ``downsample`` is the projection shortcut (``None`` = identity). Grouped/wider variants are not defined for
    this block in either paper, so ``groups`` must be 1 and ``base_width`` 64.
    """

    expansion = 1

    def __init__(
        self,
        inplanes: int,
        planes: int,
        stride: int = 1,
        downsample: Optional[nn.Module] = None,
        groups: int = 1,
        base_width: int = 64,
    ):
        super().__init__()
        if groups != 1 or base_width != 64:
            raise ValueError(
                f"BasicBlock supports only groups=1, base_width=64 (got groups={groups}, "
                f"base_width={base_width}); use Bottleneck for ResNeXt"
            )
        self.conv1 = _conv3x3(inplanes, planes, stride)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = _conv3x3(planes, planes)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class Bottleneck(nn.Module):
    """1x1 reduce, 3x3 (grouped for ResNeXt, strided), 1x1 expand to ``4 * planes``, plus the shortcut.

    Inner width = ``int(planes * base_width / 64) * groups``: 64 for ResNet-50's first stage, 32 groups x 4 = 128
    for ResNeXt-50 32x4d (Xie et al. 2017, "cardinality" = groups).
    """

    expansion = 4

    def __init__(
        self,
        inplanes: int,
        planes: int,
        stride: int = 1,
        downsample: Optional[nn.Module] = None,
        groups: int = 1,
        base_width: int = 64,
    ):
        super().__init__()
        width = int(planes * (base_width / 64.0)) * groups
        self.conv1 = _conv1x1(inplanes, width)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = _conv3x3(width, width, stride, groups)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = _conv1x1(width, planes * self.expansion)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


Block = Union[Type[BasicBlock], Type[Bottleneck]]


class ResNet(nn.Module):
    """A ResNet/ResNeXt with torchvision-compatible parameter names.

    block: :class:`BasicBlock` or :class:`Bottleneck`; layers: blocks per stage, e.g. ``(2, 2, 2, 2)``.
    num_classes: size of the final ``fc``; ``None`` builds no ``fc`` and :meth:`forward` returns the pooled
    ``(B, feature_channels)`` features (a backbone for pose/shape regression or feature losses).
    in_channels: input channels (3 for RGB; with another value ``conv1`` no longer matches RGB weights).
    groups, width_per_group: ResNeXt cardinality and per-group width (1, 64 = plain ResNet).
    zero_init_residual: start each block's last batch-norm scale at 0 so every residual branch begins as the
    identity (Goyal et al. 2017, "Accurate, Large Minibatch SGD"); helps training from scratch.
    """

    def __init__(
        self,
        block: Block,
        layers: Sequence[int],
        num_classes: Optional[int] = 1000,
        in_channels: int = 3,
        groups: int = 1,
        width_per_group: int = 64,
        zero_init_residual: bool = False,
    ):
        super().__init__()
        if block not in (BasicBlock, Bottleneck):
            raise ValueError(f"block must be BasicBlock or Bottleneck, got {block!r}")
        layers = tuple(int(n) for n in layers)
        if len(layers) != 4 or min(layers) < 1:
            raise ValueError(f"layers must be 4 positive block counts, got {layers}")
        if num_classes is not None and int(num_classes) < 1:
            raise ValueError(f"num_classes must be a positive int or None, got {num_classes}")
        if int(in_channels) < 1:
            raise ValueError(f"in_channels must be positive, got {in_channels}")
        if int(groups) < 1 or int(width_per_group) < 1:
            raise ValueError(f"groups and width_per_group must be positive, got {groups}, {width_per_group}")
        self.block = block
        self.layers_per_stage = layers
        self.num_classes = None if num_classes is None else int(num_classes)
        self.in_channels = int(in_channels)
        self.groups = int(groups)
        self.base_width = int(width_per_group)
        self.inplanes = 64

        self.conv1 = nn.Conv2d(self.in_channels, 64, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(64, layers[0], stride=1)
        self.layer2 = self._make_layer(128, layers[1], stride=2)
        self.layer3 = self._make_layer(256, layers[2], stride=2)
        self.layer4 = self._make_layer(512, layers[3], stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc: Optional[nn.Linear] = (
            nn.Linear(512 * block.expansion, self.num_classes) if self.num_classes is not None else None
        )

        # He et al. 2015 ("Delving deep into rectifiers") initialisation for the ReLU network; BN starts as identity.
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        if zero_init_residual:
            for m in self.modules():
                if isinstance(m, Bottleneck):
                    nn.init.zeros_(m.bn3.weight)
                elif isinstance(m, BasicBlock):
                    nn.init.zeros_(m.bn2.weight)

    def _make_layer(self, planes: int, blocks: int, stride: int) -> nn.Sequential:
        out = planes * self.block.expansion
        downsample = None
        if stride != 1 or self.inplanes != out:
            downsample = nn.Sequential(_conv1x1(self.inplanes, out, stride), nn.BatchNorm2d(out))
        mods = [self.block(self.inplanes, planes, stride, downsample, self.groups, self.base_width)]
        self.inplanes = out
        for _ in range(1, blocks):
            mods.append(self.block(self.inplanes, planes, 1, None, self.groups, self.base_width))
        return nn.Sequential(*mods)

    @property
    def feature_channels(self) -> int:
        """Channels of the layer4 map and of the pooled features (512 for ResNet-18/34, 2048 for -50/ResNeXt-50)."""
        return 512 * self.block.expansion

    @property
    def stage_channels(self) -> Tuple[int, int, int, int, int]:
        """Channels of the maps returned by ``forward_features(x, return_stages=True)``: stem, layer1..layer4."""
        e = self.block.expansion
        return (64, 64 * e, 128 * e, 256 * e, 512 * e)

    def _check_input(self, x: torch.Tensor) -> None:
        if not torch.is_tensor(x) or x.dim() != 4 or x.shape[1] != self.in_channels:
            shape = tuple(x.shape) if torch.is_tensor(x) else type(x).__name__
            raise ValueError(f"ResNet expects images (B, {self.in_channels}, H, W), got {shape}")

    def forward_features(self, x: torch.Tensor, return_stages: bool = False) -> Union[torch.Tensor, List[torch.Tensor]]:
        """The layer4 map ``(B, feature_channels, h, w)``; with ``return_stages`` the list
        ``[stem, layer1, layer2, layer3, layer4]`` (strides 4, 4, 8, 16, 32; channels :attr:`stage_channels`),
        e.g. for perceptual losses or an encoder that keeps only the early stages."""
        self._check_input(x)
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        stages = [x]
        for layer in (self.layer1, self.layer2, self.layer3, self.layer4):
            x = layer(x)
            stages.append(x)
        return stages if return_stages else x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``(B, num_classes)``, or the pooled features ``(B, feature_channels)`` when there is no ``fc``."""
        feats = torch.flatten(self.avgpool(self.forward_features(x)), 1)
        return feats if self.fc is None else self.fc(feats)


def resnet18(**kw: Any) -> ResNet:
    """ResNet-18 (He et al. 2016): basic blocks (2, 2, 2, 2); 11.7 M parameters with a 1000-way fc."""
    return ResNet(BasicBlock, (2, 2, 2, 2), **kw)


def resnet34(**kw: Any) -> ResNet:
    """ResNet-34 (He et al. 2016): basic blocks (3, 4, 6, 3); 21.8 M parameters with a 1000-way fc."""
    return ResNet(BasicBlock, (3, 4, 6, 3), **kw)


def resnet50(**kw: Any) -> ResNet:
    """ResNet-50 (He et al. 2016): bottleneck blocks (3, 4, 6, 3); 25.6 M parameters with a 1000-way fc."""
    return ResNet(Bottleneck, (3, 4, 6, 3), **kw)


def resnext50_32x4d(**kw: Any) -> ResNet:
    """ResNeXt-50 32x4d (Xie et al. 2017): ResNet-50 layout with 32 groups of width 4; 25.0 M parameters."""
    for k in ("groups", "width_per_group"):
        if k in kw:
            raise TypeError(f"resnext50_32x4d fixes {k}; build ResNet(Bottleneck, ...) directly for other values")
    return ResNet(Bottleneck, (3, 4, 6, 3), groups=32, width_per_group=4, **kw)


_FACTORIES: Dict[str, Callable[..., ResNet]] = {
    "resnet18": resnet18,
    "resnet34": resnet34,
    "resnet50": resnet50,
    "resnext50_32x4d": resnext50_32x4d,
}
#: Names accepted by :func:`build_resnet`.
RESNET_NAMES: Tuple[str, ...] = tuple(_FACTORIES)


def build_resnet(name: str, **kw: Any) -> ResNet:
    """Build a network by name (one of :data:`RESNET_NAMES`), e.g. from a config string."""
    key = str(name).strip().lower()
    if key not in _FACTORIES:
        raise ValueError(f"unknown ResNet name {name!r}; valid names: {', '.join(RESNET_NAMES)}")
    return _FACTORIES[key](**kw)


_MAX_LISTED = 5


def _describe(keys: Sequence[str], shapes: Optional[Mapping[str, Any]] = None) -> str:
    items = []
    for k in list(keys)[:_MAX_LISTED]:
        items.append(f"{k} {tuple(shapes[k].shape)}" if shapes is not None and k in shapes else k)
    more = f" (+{len(keys) - _MAX_LISTED} more)" if len(keys) > _MAX_LISTED else ""
    return ", ".join(items) + more


def load_torchvision_weights(
    model: ResNet, source: Union[str, os.PathLike, Mapping[str, torch.Tensor]], strict: bool = True
) -> Dict[str, List[str]]:
    """Load torchvision-layout ResNet weights (a ``.pth``/``.pt`` path or a state dict) into ``model``.

    Files are read with ``torch.load(..., map_location="cpu", weights_only=True)`` (no code runs from the file).
    Tolerated: a ``{"state_dict": ...}`` wrapper, a ``module.`` prefix (DataParallel / DDP checkpoints), missing
    ``*.num_batches_tracked`` buffers (checkpoints saved before PyTorch 0.4.1; they stay at the model's value).
    The classifier: a model without ``fc`` ignores the checkpoint's ``fc.*``; a model whose ``num_classes``
    differs from the checkpoint's keeps its own (fresh) ``fc`` and warns. Both are listed under ``skipped``.

    Any other shape mismatch raises ``ValueError``, as do (with ``strict``) missing or unexpected keys; the
    message names the source and the first few offending keys with their shapes, and nothing is loaded.
    Returns ``{"missing": [...], "unexpected": [...], "skipped": [...]}`` (the first two empty when strict).
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module (a ResNet), got {type(model).__name__}")
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        where = f"file {str(path)!r}"
        if not path.is_file():
            raise FileNotFoundError(f"ResNet weights file not found: {str(path)!r}")
        try:
            raw = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as err:  # pickle/zip errors name neither the file nor the cause clearly
            raise ValueError(f"could not read ResNet weights from {where}: {err}") from err
    elif isinstance(source, Mapping):
        raw, where = source, "the given state dict"
    else:
        raise TypeError(f"source must be a path or a state dict, got {type(source).__name__}")

    if isinstance(raw, Mapping) and "state_dict" in raw and isinstance(raw["state_dict"], Mapping):
        raw = raw["state_dict"]
    if not isinstance(raw, Mapping):
        raise ValueError(f"{where} does not hold a state dict (got {type(raw).__name__})")

    state: Dict[str, torch.Tensor] = {}
    for k, v in raw.items():
        if not isinstance(k, str):
            raise ValueError(f"{where}: state dict key {k!r} is not a string")
        name = k[len("module.") :] if k.startswith("module.") else k
        if not torch.is_tensor(v):
            raise ValueError(f"{where}: entry {k!r} is a {type(v).__name__}, not a tensor")
        if name in state:
            raise ValueError(f"{where}: key {name!r} appears both with and without the 'module.' prefix")
        state[name] = v

    own = model.state_dict()
    skipped: List[str] = []
    fc_keys = [k for k in state if k.startswith("fc.")]
    model_fc = getattr(model, "fc", None)
    if fc_keys and model_fc is None:
        skipped += fc_keys  # a feature backbone: the classifier is irrelevant
    elif fc_keys and isinstance(model_fc, nn.Linear) and "fc.weight" in state:
        w = state["fc.weight"]
        if w.dim() == 2 and w.shape[0] != model_fc.out_features and w.shape[1] == model_fc.in_features:
            skipped += fc_keys
            warnings.warn(
                f"{where}: checkpoint fc has {w.shape[0]} classes, model has "
                f"{model_fc.out_features}; keeping the model's own fc (not loaded)",
                stacklevel=2,
            )
    for k in skipped:
        state.pop(k)

    mismatched = [k for k in state if k in own and tuple(state[k].shape) != tuple(own[k].shape)]
    if mismatched:
        detail = "; ".join(
            f"{k}: file {tuple(state[k].shape)} vs model {tuple(own[k].shape)}" for k in mismatched[:_MAX_LISTED]
        )
        more = f" (+{len(mismatched) - _MAX_LISTED} more)" if len(mismatched) > _MAX_LISTED else ""
        raise ValueError(
            f"shape mismatch loading ResNet weights from {where}: {detail}{more}. "
            f"Is it the same architecture (resnet18/34/50, resnext50_32x4d) and in_channels?"
        )

    unexpected = [k for k in state if k not in own]
    fc_skipped = bool(skipped)
    missing = [
        k
        for k in own
        if k not in state and not k.endswith(".num_batches_tracked") and not (fc_skipped and k.startswith("fc."))
    ]
    if strict and (missing or unexpected):
        parts = []
        if missing:
            parts.append(f"missing {len(missing)} key(s): {_describe(missing, own)}")
        if unexpected:
            parts.append(f"unexpected {len(unexpected)} key(s): {_describe(unexpected, state)}")
        raise ValueError(f"ResNet weights from {where} do not match the model: " + "; ".join(parts))

    model.load_state_dict({k: v for k, v in state.items() if k in own}, strict=False)
    return {"missing": missing, "unexpected": unexpected, "skipped": skipped}
