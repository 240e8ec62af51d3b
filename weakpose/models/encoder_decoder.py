"""The multi-view encoder-decoder of Rhodin, Salzmann & Fua, "Unsupervised Geometry-Aware Representation for 3D
Human Pose Estimation", ECCV 2018.

An encoder maps a root-centred crop to a *3D latent* (``num_points`` = 200 points × 3, in the crop's virtual camera
frame) and an *appearance latent* (128-d). To re-render the person from another camera, the 3D latent is rotated by
``R_target · R_sourceᵀ`` (:mod:`weakpose.geometry.virtual_camera`) and decoded, together with an appearance latent
(in training: another frame's, of the same subject) and the target view's background, which is injected into every
decoder scale so the latent need not describe the room. Nothing here needs 3D labels; a pose regressor later reads
the 3D latent.

Encoder: a ResNet (``weakpose.models.resnet``; torchvision-format weights load into ``encoder.backbone``) whose
last feature map is flattened into two linear heads. Decoder: a linear layer to a ``S/16``-sized map and four
(upsample ×2, conv-BN-ReLU ×2) stages, each given the background at its resolution; sigmoid output in [0, 1].
The paper works at 128 px with a ResNet-50 encoder; the CPU default here is 64 px with a ResNet-18.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Mapping, Optional, Union

import torch
import torch.nn.functional as F
from torch import nn

from weakpose.geometry.virtual_camera import latent_rotation, rotate_points
from weakpose.models.resnet import build_resnet, load_torchvision_weights, normalize_imagenet

FILE_FORMAT = "weakpose.encoder_decoder/1"
__all__ = ["NVSLatent", "EncoderDecoderConfig", "EncoderDecoder", "FILE_FORMAT", "reconstruct", "latent_features"]


@dataclass
class NVSLatent:
    points: torch.Tensor  # (B, num_points, 3): the geometry latent, in the input view's virtual camera frame
    appearance: torch.Tensor  # (B, appearance_dim)


@dataclass
class EncoderDecoderConfig:
    image_size: int = 64
    backbone: str = "resnet18"
    num_points: int = 200
    appearance_dim: int = 128
    decoder_width: int = 256  # channels at S/16; halved at each upsampling (not below 32)
    hidden: int = 1024


class _UpBlock(nn.Module):
    """Upsample ×2, concatenate the background at that scale, two conv-BN-ReLU."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(cin + 3, cout, 3, padding=1, bias=False),
            nn.BatchNorm2d(cout),
            nn.ReLU(inplace=True),
            nn.Conv2d(cout, cout, 3, padding=1, bias=False),
            nn.BatchNorm2d(cout),
            nn.ReLU(inplace=True),
        )

    def forward(self, x: torch.Tensor, background: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
        bg = (
            F.interpolate(background, size=x.shape[-2:], mode="area")
            if background.shape[-1] != x.shape[-1]
            else background
        )
        return self.body(torch.cat([x, bg], dim=1))


class EncoderDecoder(nn.Module):
    """See the module docstring. ``encode(images) -> NVSLatent``; ``decode(points, appearance, background)``;
    ``forward(source, rotation, background, appearance=None)`` = encode, rotate, decode."""

    def __init__(self, config: Optional[EncoderDecoderConfig] = None, **overrides):
        super().__init__()
        cfg = config or EncoderDecoderConfig()
        for k, v in overrides.items():
            if not hasattr(cfg, k):
                raise TypeError(f"unknown EncoderDecoderConfig field {k!r}")
            setattr(cfg, k, v)
        if cfg.image_size % 16 or cfg.image_size < 32:
            raise ValueError(f"image_size must be a multiple of 16 and >= 32; got {cfg.image_size}")
        self.config = cfg
        self.backbone = build_resnet(cfg.backbone, num_classes=None)
        grid = -(-cfg.image_size // 32)
        flat = self.backbone.feature_channels * grid * grid
        self.to_hidden = nn.Sequential(nn.Flatten(), nn.Linear(flat, cfg.hidden), nn.ReLU(inplace=True))
        self.to_points = nn.Linear(cfg.hidden, cfg.num_points * 3)
        self.to_appearance = nn.Linear(cfg.hidden, cfg.appearance_dim)
        self.start = cfg.image_size // 16
        widths = [max(32, cfg.decoder_width >> i) for i in range(5)]
        self.from_latent = nn.Sequential(
            nn.Linear(cfg.num_points * 3 + cfg.appearance_dim, widths[0] * self.start**2), nn.ReLU(inplace=True)
        )
        self.up = nn.ModuleList([_UpBlock(widths[i], widths[i + 1]) for i in range(4)])
        self.to_rgb = nn.Conv2d(widths[4] + 3, 3, 3, padding=1)

    @property
    def image_size(self) -> int:
        return self.config.image_size

    def _check(self, images: torch.Tensor, name: str) -> None:
        s = self.config.image_size
        if images.dim() != 4 or images.shape[1:] != (3, s, s):
            raise ValueError(f"EncoderDecoder: {name} must be (B, 3, {s}, {s}) in [0, 1]; got {tuple(images.shape)}")

    def encode(self, images: torch.Tensor) -> NVSLatent:
        self._check(images, "images")
        h = self.to_hidden(self.backbone.forward_features(normalize_imagenet(images)))
        return NVSLatent(points=self.to_points(h).view(-1, self.config.num_points, 3), appearance=self.to_appearance(h))

    def decode(self, points: torch.Tensor, appearance: torch.Tensor, background: torch.Tensor) -> torch.Tensor:
        self._check(background, "background")
        z = torch.cat([points.flatten(1), appearance], dim=1)
        x = self.from_latent(z).view(len(z), -1, self.start, self.start)
        for block in self.up:
            x = block(x, background)
        return torch.sigmoid(self.to_rgb(torch.cat([x, background], dim=1)))

    def forward(
        self,
        source: torch.Tensor,
        rotation: torch.Tensor,
        background: torch.Tensor,
        appearance_index: Optional[torch.Tensor] = None,
    ) -> torch.Tensor:
        """Re-render ``source`` crops from the views ``rotation (B,3,3)`` leads to, over ``background``; with
        ``appearance_index`` frame i is decoded with the appearance of frame ``appearance_index[i]``."""
        latent = self.encode(source)
        appearance = latent.appearance if appearance_index is None else latent.appearance[appearance_index]
        return self.decode(rotate_points(latent.points, rotation), appearance, background)

    # -- files ------------------------------------------------------------------------------------------
    def load_backbone_weights(self, path: Union[str, os.PathLike]) -> dict:
        """Initialise the encoder's ResNet from torchvision-format weights (e.g. ImageNet ``resnet18-*.pth``)."""
        return load_torchvision_weights(self.backbone, path, strict=False)

    def save(self, path: Union[str, os.PathLike], meta: Optional[dict] = None) -> Path:
        """Write a weight file (:mod:`weakpose.weight_files`): config, ``meta`` and weights, atomically."""
        from weakpose.weight_files import write_weights

        return write_weights(path, FILE_FORMAT, self, asdict(self.config), meta)

    @classmethod
    def load(cls, path: Union[str, os.PathLike], map_location="cpu") -> "EncoderDecoder":
        from weakpose.weight_files import load_state, read_weights

        state = read_weights(
            path,
            FILE_FORMAT,
            "an encoder-decoder",
            map_location,
            hint="train one with `python sample/train_enc_dec.py`",
        )
        model = cls(EncoderDecoderConfig(**state["config"]))
        load_state(model, state["state_dict"], path, "encoder-decoder", state["config"])
        model.meta = state.get("meta", {})
        return model.eval()


# ---------------------------------------------------------------------------------------------------------------
# the model applied to a batch, and its latent as a regressor's input


def appearance_swap_index(num_frames: int, device=None) -> torch.Tensor:
    """Index that swaps neighbours: ``[1, 0, 3, 2, ...]``; frame 2k takes the appearance of frame 2k+1 (the
    appearance swap of Rhodin et al. 2018 between the two frames of each pair)."""
    if num_frames % 2:
        raise ValueError(f"appearance swap needs an even number of frames (pairs); got {num_frames}")
    return torch.arange(num_frames, device=device).view(-1, 2).flip(1).reshape(-1)


def reconstruct(model: EncoderDecoder, batch: Mapping[str, Any], swap: bool = True) -> torch.Tensor:
    """The target views of a flattened batch (:func:`weakpose.data.datasets.nvs_pairs.flatten_pairs`) re-rendered
    from its source views (appearance swapped in pairs)."""
    rotation = latent_rotation(batch["R_source"], batch["R_target"])
    index = appearance_swap_index(len(rotation), rotation.device) if swap else None
    return model(batch["source"], rotation, batch["target_background"], index)


def latent_features(latent: NVSLatent) -> torch.Tensor:
    """A regressor's input ``(B, 3·P + A)``: the 3D latent points flattened, then the appearance latent."""
    return torch.cat([latent.points.flatten(1), latent.appearance.flatten(1)], dim=1)
