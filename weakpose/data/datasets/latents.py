"""The latent cache: a frozen encoder's latents computed ONCE for a dataset, so training a regressor on them runs
only the regressor (and whatever it is compared through), never the encoder.

Two forms live here, one per regressor on the multi-view encoder-decoder
(:class:`weakpose.models.encoder_decoder.EncoderDecoder`, Rhodin et al. 2018):

* per VIEW — :func:`encode_views` of a :class:`weakpose.data.datasets.nvs_pairs.SingleViewDataset` gives a dict of
  the 3D latent points ``latent`` (N, P, 3) and the view's labels (``pose_3d`` root-relative in the VIRTUAL camera
  frame, ``has_3d`` from the dataset, ``world_up``, ``subject``); :class:`LatentCache` serves its items. Used by
  the 3D pose regressor (:class:`weakpose.tasks.pose_from_latent.PoseFromLatentTask`).
* per FRAME, all views together — :func:`encode_frames` of a
  :class:`weakpose.data.datasets.multiview.MultiViewImageDataset` gives :class:`LatentFrames`: the latent points
  AND appearance flattened (:func:`weakpose.models.encoder_decoder.latent_features`), plus every view's mask,
  crop camera (intrinsics scaled to the silhouette size), virtual rotation and REAL-camera-frame labels, with
  ``has_3d`` from ``labelled_subjects``. Used by the SMPL regressor, whose silhouettes are rendered into every view
  of a frame (:class:`weakpose.tasks.smpl_from_enc.SMPLFromEncTask`).

Why two and not one: the items differ in what one sample is (a view vs. a frame of V views), in what is kept of the
latent (points vs. points + appearance), in the frame of the labels (virtual vs. real camera), in where
``has_3d`` comes from, and in how the encoder is handled (:func:`encode_views` moves it to ``device`` and leaves it
in eval mode; :func:`encode_frames` leaves it where it is, moves only the crops, and restores its training mode).
Merging them would change what the two sample scripts train on; they share this module, the collate and the
"encode once under ``no_grad``, then index tensors" shape instead.
"""

from __future__ import annotations

from typing import Any, Dict, Iterable, List, Mapping, Sequence

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset
from tqdm.auto import tqdm

from weakpose.data.datasets.multiview import collate_keep_lists, resize_images
from weakpose.geometry.camera import scale_intrinsics
from weakpose.geometry.virtual_camera import virtual_rotation
from weakpose.models.encoder_decoder import EncoderDecoder, latent_features

__all__ = ["encode_views", "LatentCache", "encode_frames", "LatentFrames", "collate_frames"]


# ---------------------------------------------------------------------------------------------------------------
# per view: the 3D latent of every single view


@torch.no_grad()
def encode_views(
    encoder: EncoderDecoder, dataset: Dataset, batch_size: int = 64, device="cpu", progress: bool = True
) -> dict:
    """Latents and labels of every item of a :class:`weakpose.data.datasets.nvs_pairs.SingleViewDataset`:
    ``latent`` (N, P, 3), ``pose_3d`` (N, 17, 3), ``has_3d`` (N,), ``world_up`` (N, 3), ``subject`` list."""
    encoder.eval().to(device)
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=False)
    latents, poses, has, ups, subjects = [], [], [], [], []
    for batch in tqdm(loader, desc="encode", unit="batch", disable=not progress, dynamic_ncols=True):
        latents.append(encoder.encode(batch["image"].to(device)).points.cpu())
        poses.append(batch["pose_3d"])
        has.append(torch.as_tensor(batch["has_3d"]))
        ups.append(batch["world_up"])
        subjects += list(batch["subject"])
    return {
        "latent": torch.cat(latents),
        "pose_3d": torch.cat(poses),
        "has_3d": torch.cat(has),
        "world_up": torch.cat(ups),
        "subject": subjects,
    }


class LatentCache(Dataset):
    """Items of an :func:`encode_views` result (for training a regressor on a frozen encoder)."""

    def __init__(self, encoded: dict):
        self.encoded = encoded

    def __len__(self) -> int:
        return len(self.encoded["latent"])

    def __getitem__(self, i: int) -> dict:
        e = self.encoded
        return {
            "latent": e["latent"][i],
            "pose_3d": e["pose_3d"][i],
            "has_3d": bool(e["has_3d"][i]),
            "world_up": e["world_up"][i],
        }


# ---------------------------------------------------------------------------------------------------------------
# per frame: every view's latent features, masks and cameras


class LatentFrames(Dataset):
    """Frames with every view's encoder latent precomputed; an item is a dict for ``V`` views:

    ``features`` (V, F), ``mask`` (V, s, s) coverage at the silhouette size s, ``K`` (V, 3, 3) crop intrinsics
    scaled to s, ``R`` (V, 3, 3), ``t`` (V, 3), ``dist`` (V, 5), ``R_v`` (V, 3, 3) world->virtual rotations,
    ``pose_3d`` (V, 17, 3) root-relative real-camera-frame labels, ``root_world`` (3,), ``has_3d`` () bool,
    ``index`` () the frame's index in the source dataset; ``subject``, ``action`` and ``camera`` (list of ids).
    """

    TENSOR_KEYS = ("features", "mask", "K", "R", "t", "dist", "R_v", "pose_3d", "root_world", "has_3d", "index")

    def __init__(
        self,
        tensors: Mapping[str, torch.Tensor],
        subjects: Sequence[str],
        actions: Sequence[str],
        cameras: Sequence[Sequence[str]],
        silhouette_size: int,
    ):
        missing = [k for k in self.TENSOR_KEYS if k not in tensors]
        if missing:
            raise KeyError(f"LatentFrames: missing tensors {missing}")
        n = len(tensors["features"])
        bad = {k: tuple(v.shape) for k, v in tensors.items() if len(v) != n}
        if bad or not (len(subjects) == len(actions) == len(cameras) == n):
            raise ValueError(f"LatentFrames: {n} frames of features but other lengths differ: {bad}")
        self.tensors = dict(tensors)
        self.subjects, self.actions, self.cameras = list(subjects), list(actions), [list(c) for c in cameras]
        self.silhouette_size = int(silhouette_size)

    def __len__(self) -> int:
        return len(self.tensors["features"])

    def __getitem__(self, i: int) -> dict:
        item = {k: v[i] for k, v in self.tensors.items()}
        item.update(subject=self.subjects[i], action=self.actions[i], camera=self.cameras[i])
        return item

    def subset(self, keep: Sequence[int]) -> "LatentFrames":
        idx = torch.as_tensor(list(keep), dtype=torch.long)
        return LatentFrames(
            {k: v[idx] for k, v in self.tensors.items()},
            [self.subjects[i] for i in keep],
            [self.actions[i] for i in keep],
            [self.cameras[i] for i in keep],
            self.silhouette_size,
        )

    @property
    def feature_size(self) -> int:
        return int(self.tensors["features"].shape[-1])


collate_frames = collate_keep_lists  # tensors stacked, camera-id lists and names kept per sample


@torch.no_grad()
def encode_frames(
    encoder: nn.Module,
    dataset: Dataset,
    labelled_subjects: Iterable[str] = ("S1",),
    silhouette_size: int = 64,
    batch_size: int = 16,
    device: torch.device | str = "cpu",
    desc: str = "encode",
    progress: bool = True,
) -> LatentFrames:
    """Run the frozen ``encoder`` once over every view of every frame of a
    :class:`weakpose.data.datasets.multiview.MultiViewImageDataset`-like ``dataset`` and keep what training needs.

    Crops are resized to ``encoder.image_size``; masks are area-averaged to ``silhouette_size`` (coverage kept as
    a fraction) and the crop intrinsics scaled to match. ``has_3d`` is True for ``labelled_subjects``.
    """
    labelled = set(labelled_subjects)
    was_training = encoder.training
    encoder.eval()
    size = int(getattr(encoder, "image_size"))
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False, collate_fn=collate_frames)
    chunks: Dict[str, List[torch.Tensor]] = {k: [] for k in LatentFrames.TENSOR_KEYS}
    subjects: List[str] = []
    actions: List[str] = []
    cameras: List[List[str]] = []
    start = 0
    try:
        for batch in tqdm(loader, desc=desc, disable=not progress, dynamic_ncols=True):
            images = batch["image"]
            if images.ndim != 5 or images.shape[2] != 3:
                raise ValueError(f"encode_frames: sample 'image' must be (V, 3, S, S); got {tuple(images.shape[1:])}")
            b, v, _, s, _ = images.shape
            crops = resize_images(images.reshape(b * v, 3, s, s), size).to(device)
            feats = latent_features(encoder.encode(crops)).float().cpu().reshape(b, v, -1)
            chunks["features"].append(feats)
            chunks["mask"].append(
                resize_images(batch["mask"].reshape(b * v, 1, s, s).float(), silhouette_size).reshape(
                    b, v, silhouette_size, silhouette_size
                )
            )
            chunks["K"].append(scale_intrinsics(batch["K"], silhouette_size / s))
            for k in ("R", "t", "dist", "pose_3d", "root_world"):
                chunks[k].append(batch[k].float())
            chunks["R_v"].append(
                virtual_rotation(
                    batch["R"].double(), batch["t"].double(), batch["root_world"].double()[:, None]
                ).float()
            )
            chunks["has_3d"].append(torch.tensor([s_ in labelled for s_ in batch["subject"]]))
            chunks["index"].append(torch.arange(start, start + b))
            start += b
            subjects += list(batch["subject"])
            actions += list(batch["action"])
            cameras += [list(c) for c in _per_sample_cameras(batch["camera"], b)]
    finally:
        encoder.train(was_training)
    if not subjects:
        raise ValueError("encode_frames: the dataset is empty")
    tensors = {k: torch.cat(v) for k, v in chunks.items()}
    return LatentFrames(tensors, subjects, actions, cameras, silhouette_size)


def _per_sample_cameras(cams: Any, b: int) -> List[List[str]]:
    """Camera ids per sample from a batch (our collate keeps one list per sample)."""
    if len(cams) == b and all(isinstance(c, (list, tuple)) for c in cams):
        return [list(map(str, c)) for c in cams]
    return [list(map(str, c)) for c in zip(*cams)]  # torch's default collate transposes lists
