"""Image reconstruction losses for the encoder-decoder: SSIM, feature ("perceptual") losses, and the
foreground-weighted L1 of novel-view synthesis (:func:`background_attention`, :func:`weighted_l1`).

A perceptual loss compares images in the feature space of a network (Johnson et al., ECCV 2016; Rhodin et al. 2018
add one to the L1 pixel loss of their novel-view synthesis). The usual network is ImageNet-trained, but weakpose
ships and downloads no weights, so :class:`FeatureLoss` offers:

* ``"imagenet:<path>"``: the user's own torchvision-format ResNet weights (``resnet18-*.pth`` / ``resnet50-*.pth``;
  the architecture is read from the file's layer shapes), features of its first three stages;
* ``"random"``: the same stages of a ResNet-18 with *fixed random* weights (seeded He initialisation, batch norm
  in eval mode with identity statistics). Random convolutional features still respond to edges and local texture
  at several scales, so they penalise blur in a way plain L1 does not;
* ``"ssim"``: no network: 1 − SSIM (Wang et al., IEEE TIP 2004), a local structure/contrast term;
* ``"none"``: L1 only.

Which default reconstructs better on the embedded data is measured by ``bench/bench_nvs_feature_loss.py``.
"""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["ssim", "FeatureLoss", "FEATURE_LOSSES", "background_attention", "weighted_l1"]

FEATURE_LOSSES = ("none", "random", "ssim", "imagenet:<path to torchvision ResNet weights>")


def background_attention(target: torch.Tensor, background: torch.Tensor, scale: float = 0.1) -> torch.Tensor:
    """``(B, 1, H, W)`` in [0, 1]: the mean absolute colour difference from the background, divided by ``scale``
    and clipped (differences above ``scale`` count fully)."""
    return ((target - background).abs().mean(dim=1, keepdim=True) / scale).clamp(max=1.0)


def weighted_l1(pred: torch.Tensor, target: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Σ w·|pred − target| / Σ w (weights broadcast over channels): a weighted mean absolute error."""
    w = weights.expand_as(pred)
    return (w * (pred - target).abs()).sum() / w.sum()


def _gaussian_window(size: int, sigma: float, dtype, device) -> torch.Tensor:
    x = torch.arange(size, dtype=dtype, device=device) - (size - 1) / 2
    g = torch.exp(-0.5 * (x / sigma) ** 2)
    return g / g.sum()


def ssim(
    x: torch.Tensor, y: torch.Tensor, window: int = 11, sigma: float = 1.5, data_range: float = 1.0, reduce: bool = True
) -> torch.Tensor:
    """Structural similarity of images ``(B, C, H, W)`` (Wang et al. 2004): Gaussian window, C1=(0.01·L)²,
    C2=(0.03·L)², statistics over the 'valid' region (no padding). Mean over everything, or per image."""
    if x.shape != y.shape or x.dim() != 4:
        raise ValueError(f"ssim: images must both be (B, C, H, W); got {tuple(x.shape)} and {tuple(y.shape)}")
    if min(x.shape[-2:]) < window:
        raise ValueError(f"ssim: images {tuple(x.shape[-2:])} smaller than the {window}-pixel window")
    c = x.shape[1]
    g = _gaussian_window(window, sigma, x.dtype, x.device)
    gx = g.view(1, 1, 1, -1).expand(c, 1, 1, window)
    gy = g.view(1, 1, -1, 1).expand(c, 1, window, 1)

    def blur(t):
        return F.conv2d(F.conv2d(t, gx, groups=c), gy, groups=c)

    mx, my = blur(x), blur(y)
    vx = blur(x * x) - mx * mx
    vy = blur(y * y) - my * my
    cxy = blur(x * y) - mx * my
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    s = ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))
    return s.mean() if reduce else s.flatten(1).mean(1)


class FeatureLoss(nn.Module):
    """Mean L1 distance of feature maps (stem, layer1, layer2 of a ResNet), or 1 − SSIM; see the module docstring.

    ``kind``: "none" | "random" | "ssim" | "imagenet:<path>". Frozen: no parameters are trained, and the module
    stays in eval mode whatever its parent does.
    """

    def __init__(self, kind: str = "random", seed: int = 0, stages: int = 3):
        super().__init__()
        from weakpose.models.resnet import load_torchvision_weights, resnet18, resnet50

        self.kind = kind
        self.net: Optional[nn.Module] = None
        self.stages = stages
        if kind in ("none", "ssim"):
            return
        if kind == "random":
            g = torch.random.fork_rng()
            with g:
                torch.manual_seed(seed)
                net = resnet18(num_classes=None)
        elif kind.startswith("imagenet:"):
            path = Path(kind.split(":", 1)[1])
            if not path.is_file():
                raise FileNotFoundError(f"{path}: feature-loss weights not found (feature_loss='imagenet:<path>')")
            state = torch.load(path, map_location="cpu", weights_only=True)
            state = state.get("state_dict", state) if isinstance(state, dict) else state
            wide = any(k.endswith("layer1.0.conv3.weight") for k in state)  # bottlenecks: a ResNet-50
            net = resnet50(num_classes=None) if wide else resnet18(num_classes=None)
            load_torchvision_weights(net, state, strict=False)
        else:
            raise ValueError(f"feature loss {kind!r}: expected one of {FEATURE_LOSSES}")
        net.eval()
        for p in net.parameters():
            p.requires_grad_(False)
        self.net = net

    def train(self, mode: bool = True) -> "FeatureLoss":
        super().train(mode)
        if self.net is not None:
            self.net.eval()  # batch-norm statistics stay fixed
        return self

    def features(self, x: torch.Tensor) -> List[torch.Tensor]:
        from weakpose.models.resnet import normalize_imagenet

        return self.net.forward_features(normalize_imagenet(x), return_stages=True)[: self.stages]

    def forward(self, prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if self.kind == "none":
            return prediction.new_zeros(())
        if self.kind == "ssim":
            return 1.0 - ssim(prediction, target)
        with torch.no_grad():
            ft = self.features(target)
        fp = self.features(prediction)
        return sum(F.l1_loss(a, b) for a, b in zip(fp, ft)) / len(fp)
