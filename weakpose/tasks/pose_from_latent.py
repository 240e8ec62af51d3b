"""3D pose from the encoder's geometry latent, with the 3D labels of one subject (Rhodin et al., ECCV 2018, §4).

The regressor is deliberately shallow (two fully connected layers of 2048 with batch norm and dropout 0.5): if the
latent learnt by novel-view synthesis already encodes the pose, a small network and few labels suffice. Predictions
and labels are root-relative H36M-17 joints in metres in the crop's *virtual* camera frame (the latent's frame).

Encoder modes (the ablation of the method's point): ``frozen`` (the novel-view-synthesis encoder, or a randomly
initialised one, kept fixed: its latents are computed once and cached), or ``finetune`` (trained end to end with
the regressor on the labelled subject).

Turn augmentation (``turn_augment``): one subject's frames show the body in few orientations. The latent is a
point cloud in the crop's camera frame that novel-view synthesis trains to rotate with the viewpoint, so turning
the latent and the target pose together by a random angle about the world's vertical axis (expressed in the
crop's virtual camera frame) shows the regressor that subject's poses facing every way. This is our addition,
not part of Rhodin et al.; it is applied to every encoder alike.
"""
from __future__ import annotations

from typing import Any, Mapping, Optional

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import Dataset

from weakpose.geometry.rotations import axis_angle_to_matrix
from weakpose.metrics import mpjpe, n_mpjpe, p_mpjpe
from weakpose.models.encoder_decoder import EncoderDecoder
from weakpose.train import TrainTask

__all__ = ["LatentPoseRegressor", "LatentCache", "PoseFromLatentTask", "encode_dataset", "pose_errors",
           "closest_pose", "random_turns"]


class LatentPoseRegressor(nn.Module):
    """``(B, num_points, 3)`` latent -> ``(B, num_joints, 3)`` root-relative pose (metres)."""

    def __init__(self, in_features: int = 600, hidden: int = 2048, num_layers: int = 2, dropout: float = 0.5,
                 num_joints: int = 17):
        super().__init__()
        layers, width = [], in_features
        for _ in range(num_layers):
            layers += [nn.Linear(width, hidden), nn.BatchNorm1d(hidden), nn.ReLU(inplace=True), nn.Dropout(dropout)]
            width = hidden
        self.body = nn.Sequential(*layers)
        self.out = nn.Linear(width, num_joints * 3)
        self.num_joints = num_joints

    def forward(self, latent: torch.Tensor) -> torch.Tensor:
        return self.out(self.body(latent.flatten(1))).view(-1, self.num_joints, 3)


@torch.no_grad()
def encode_dataset(encoder: EncoderDecoder, dataset: Dataset, batch_size: int = 64, device="cpu",
                   progress: bool = True) -> dict:
    """Latents and labels of every item of a :class:`weakpose.data.datasets.nvs_pairs.SingleViewDataset`:
    ``latent`` (N, P, 3), ``pose_3d`` (N, 17, 3), ``has_3d`` (N,), ``world_up`` (N, 3), ``subject`` list."""
    from tqdm.auto import tqdm

    encoder.eval().to(device)
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=False)
    latents, poses, has, ups, subjects = [], [], [], [], []
    for batch in tqdm(loader, desc="encode", unit="batch", disable=not progress, dynamic_ncols=True):
        latents.append(encoder.encode(batch["image"].to(device)).points.cpu())
        poses.append(batch["pose_3d"])
        has.append(torch.as_tensor(batch["has_3d"]))
        ups.append(batch["world_up"])
        subjects += list(batch["subject"])
    return {"latent": torch.cat(latents), "pose_3d": torch.cat(poses), "has_3d": torch.cat(has),
            "world_up": torch.cat(ups), "subject": subjects}


class LatentCache(Dataset):
    """Items of an :func:`encode_dataset` result (for training a regressor on a frozen encoder)."""

    def __init__(self, encoded: dict):
        self.encoded = encoded

    def __len__(self) -> int:
        return len(self.encoded["latent"])

    def __getitem__(self, i: int) -> dict:
        e = self.encoded
        return {"latent": e["latent"][i], "pose_3d": e["pose_3d"][i], "has_3d": bool(e["has_3d"][i]),
                "world_up": e["world_up"][i]}


def pose_errors(pred: torch.Tensor, target: torch.Tensor) -> dict:
    """MPJPE / N-MPJPE / P-MPJPE in millimetres (root-relative, all 17 joints, mean over frames)."""
    p, t = pred.double(), target.double()
    return {"mpjpe_mm": 1000 * float(mpjpe(p, t)), "n_mpjpe_mm": 1000 * float(n_mpjpe(p, t)),
            "p_mpjpe_mm": 1000 * float(p_mpjpe(p, t))}


@torch.no_grad()
def closest_pose(candidates: torch.Tensor, targets: torch.Tensor, chunk: int = 512) -> torch.Tensor:
    """For each ``(T, J, 3)`` target, the ``(C, J, 3)`` candidate with the lowest MPJPE to it: ``(T, J, 3)``.

    With the labelled subject's training poses as candidates this is an oracle (it looks at the test pose): the
    error left if every test view were answered with the best pose that subject ever made, i.e. how well the
    labelled poses cover the test poses.
    """
    if candidates.ndim != 3 or targets.ndim != 3 or candidates.shape[1:] != targets.shape[1:]:
        raise ValueError(f"closest_pose: candidates {tuple(candidates.shape)} and targets {tuple(targets.shape)} "
                         "must both be (N, joints, 3) with the same joints")
    picks = []
    for block in targets.split(chunk):
        dist = (block[:, None] - candidates[None]).norm(dim=-1).mean(-1)  # (chunk, C) MPJPE to every candidate
        picks.append(dist.argmin(dim=1))
    return candidates[torch.cat(picks)]


def random_turns(world_up: torch.Tensor, generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """``(B, 3, 3)`` rotations by uniform random angles about each ``(B, 3)`` vertical axis (normalised here)."""
    if world_up.ndim != 2 or world_up.shape[1] != 3:
        raise ValueError(f"random_turns: world_up must be (B, 3), got {tuple(world_up.shape)}")
    angle = torch.rand(len(world_up), generator=generator, dtype=world_up.dtype) * (2 * torch.pi)
    axis = world_up / world_up.norm(dim=-1, keepdim=True)
    return axis_angle_to_matrix(axis * angle.to(world_up.device)[:, None])


class PoseFromLatentTask(TrainTask):
    """Batches hold ``latent`` (frozen encoder, cached) or ``image`` (``encoder`` given: trained end to end),
    ``pose_3d``, ``has_3d`` and (for ``turn_augment``) ``world_up``; the loss is the mean squared joint error (m²)
    of the labelled items."""

    def __init__(self, regressor: LatentPoseRegressor, encoder: Optional[EncoderDecoder] = None, lr: float = 1e-3,
                 encoder_lr: Optional[float] = None, weight_decay: float = 0.0, turn_augment: bool = False,
                 generator: Optional[torch.Generator] = None):
        # decoupled weight decay (AdamW; 0 is plain Adam) on the regressor only: with one subject's labels it keeps
        # the regressor off latent directions that only that subject's frames span
        self.regressor = regressor
        self.turn_augment, self.generator = turn_augment, generator
        groups = [{"params": regressor.parameters(), "lr": lr, "weight_decay": weight_decay}]
        if encoder is not None:
            self.encoder = encoder
            groups.append({"params": encoder.parameters(), "lr": encoder_lr or lr, "weight_decay": 0.0})
        self.optimizer = torch.optim.AdamW(groups)

    def latent(self, batch: Mapping[str, Any]) -> torch.Tensor:
        return batch["latent"] if "latent" in batch else self.encoder.encode(batch["image"]).points

    def predict(self, batch: Mapping[str, Any]) -> torch.Tensor:
        return self.regressor(self.latent(batch))

    def training_step(self, batch: Any, step: int) -> Mapping[str, Any]:
        self.regressor.train()
        if hasattr(self, "encoder"):
            self.encoder.train()
        has = torch.as_tensor(batch["has_3d"], device=self.device)
        latent, target = self.latent(batch), batch["pose_3d"]
        if self.turn_augment:  # the same turn of latent and pose (both root-centred in the crop's camera frame)
            turn_t = random_turns(batch["world_up"].cpu(), self.generator).to(latent).transpose(1, 2)
            latent, target = latent @ turn_t, target @ turn_t
        pred = self.regressor(latent)
        if not bool(has.any()):
            return {"loss": 0.0}
        err = (pred - target) ** 2
        loss = err[has].sum(dim=-1).mean()
        self.optimizer_step(self.optimizer, loss)
        return {"loss": loss.item(), "mpjpe_mm": 1000 * float(err[has].detach().sum(-1).sqrt().mean())}

    @torch.no_grad()
    def validation_step(self, batch: Any) -> Mapping[str, Any]:
        self.regressor.eval()
        if hasattr(self, "encoder"):
            self.encoder.eval()
        pred = self.predict(batch)
        return {"loss": F.mse_loss(pred, batch["pose_3d"]).item() * 3, **pose_errors(pred, batch["pose_3d"])}
