"""Training items for the multi-view encoder-decoder (novel-view synthesis), and single views for regressors on it.

Rhodin et al. (ECCV 2018) learn a geometry-aware latent by re-rendering view B of a frame from view A's latent
rotated by ``R_B · R_Aᵀ``. Two more ingredients keep the latent about pose: the *appearance* latent is swapped
between two frames of the same subject (so appearance cannot carry the pose), and the decoder gets the target view's
*background* (so the latent need not encode the room).

:class:`NVSPairDataset` therefore yields two frames of one subject per item, each as a (source view, target view)
pair with the target's background crop and both virtual-camera rotations; collated batches are flattened by
:func:`flatten_pairs` to ``2B`` frames where frames ``2k`` and ``2k + 1`` swap appearance
(:func:`weakpose.models.encoder_decoder.appearance_swap_index`). Every ordered pair of distinct cameras of every
frame is an item, so an epoch sees each frame from all view pairs.

Images are resized once to the model's ``image_size`` and kept in memory as uint8 (the embedded set: ~17 MB at
64 px), which keeps data loading out of the training time on a CPU.
"""

from __future__ import annotations

import hashlib
import logging
import os
import sys
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset
from tqdm.auto import tqdm

from weakpose.data.datasets.multiview import INDEX_NAME, MultiViewImageDataset
from weakpose.geometry.virtual_camera import virtual_rotation
from weakpose.io_utils import atomic_write_path

log = logging.getLogger(__name__)

PathLike = Union[str, os.PathLike]
__all__ = ["ViewCache", "NVSPairDataset", "SingleViewDataset", "flatten_pairs"]


def _resize(x: torch.Tensor, size: int) -> torch.Tensor:
    """(C, S, S) float -> (C, size, size); area averaging when shrinking (no aliasing)."""
    if x.shape[-1] == size:
        return x
    mode = "area" if size < x.shape[-1] else "bilinear"
    kw = {} if mode == "area" else {"align_corners": False}
    return F.interpolate(x[None], size=(size, size), mode=mode, **kw)[0]


class ViewCache:
    """Frames of a crop layout, one view at a time, resized to ``image_size`` and cached as uint8.

    view(index, camera) -> dict with ``image`` (3,s,s) float, ``background`` (3,s,s) float (if ``backgrounds``),
    ``mask`` (1,s,s) float (if ``masks``), ``R_virtual`` (3,3) world->virtual camera, ``R_look`` (3,3) real->virtual
    camera, ``pose_3d`` (17,3) root-relative metres in the VIRTUAL camera frame, ``subject``.

    Without :meth:`prepare`, each view is decoded on first use. :meth:`prepare` decodes every view once into
    contiguous uint8 arrays (``pixels[kind][row]``, row = :meth:`row` of the view) kept as memory-mapped ``.npy``
    files under the layout's ``cache/`` folder, so later runs and the other scripts on the same crops decode
    nothing, and batches are gathered by index arithmetic (:meth:`NVSPairDataset.get_batch`).
    """

    KINDS = ("image", "background", "mask")

    def __init__(self, frames: MultiViewImageDataset, image_size: int, backgrounds: bool = True, masks: bool = False):
        self.frames = frames
        self.image_size = int(image_size)
        self.backgrounds = backgrounds
        self.masks = masks
        self._cache: Dict[Tuple[int, str], dict] = {}
        self.pixels: Optional[Dict[str, np.ndarray]] = None
        self._rows: Dict[Tuple[int, str], int] = {}

    def cameras(self, index: int) -> List[str]:
        return list(self.frames.item_info(index)[0].camera_ids)

    def subject(self, index: int) -> str:
        return self.frames.item_info(index)[0].subject

    def _kinds(self) -> List[str]:
        return ["image"] + (["background"] if self.backgrounds else []) + (["mask"] if self.masks else [])

    def _geometry(self, index: int, camera: str, s: Optional[dict] = None) -> dict:
        s = s if s is not None else self.frames.load(index, [camera], pixels=False)
        R, t, root = s["R"][0].double(), s["t"][0].double(), s["root_world"].double()
        R_v = virtual_rotation(R, t, root)
        R_look = R_v @ R.T
        return {
            "R_virtual": R_v.float(),
            "R_look": R_look.float(),
            "pose_3d": (s["pose_3d"][0].double() @ R_look.T).float(),
            "subject": s["subject"],
        }

    def _decode(self, index: int, camera: str) -> dict:
        """The view with its pixels as uint8 (the one place views are decoded and resized)."""
        s = self.frames.load(index, [camera])
        item = self._geometry(index, camera, s)
        for kind in self._kinds():
            item[kind] = (_resize(s[kind][0], self.image_size) * 255 + 0.5).to(torch.uint8)
        return item

    def row(self, index: int, camera: str) -> int:
        """Row of view (index, camera) in the prepared arrays."""
        return self._rows[(index, camera)]

    def view(self, index: int, camera: str) -> dict:
        key = (index, camera)
        if key not in self._cache:
            if self.pixels is not None:
                item = self._geometry(index, camera)
                for kind in self._kinds():
                    item[kind] = torch.from_numpy(np.array(self.pixels[kind][self._rows[key]]))
            else:
                item = self._decode(index, camera)
            self._cache[key] = item
        item = dict(self._cache[key])
        for k in self.KINDS:
            if k in item:
                item[k] = item[k].float() / 255.0
        return item

    def prepare(self, cache_root: Optional[PathLike] = None, progress: bool = True) -> None:
        """Decode every view once into uint8 arrays, memory-mapped from ``cache_root`` (default: the layout's
        ``cache/`` folder; nothing is written when it cannot be). The files are named by a digest of the layout's
        index, the image size and the views, so a changed layout or selection is decoded afresh."""
        if self.pixels is not None:
            return
        keys = [(i, c) for i in range(len(self.frames)) for c in self.cameras(i)]
        self._rows = {k: r for r, k in enumerate(keys)}
        folder = Path(cache_root) if cache_root is not None else Path(self.frames.root) / "cache"
        folder = folder / f"views-{self._digest(keys)}"
        kinds = self._kinds()
        if all((folder / f"{k}.npy").is_file() for k in kinds):
            self.pixels = {k: np.load(folder / f"{k}.npy", mmap_mode="r", allow_pickle=False) for k in kinds}
            return
        arrays = {k: np.empty((len(keys), 1 if k == "mask" else 3, self.image_size, self.image_size), np.uint8)
                  for k in kinds}  # fmt: skip
        log.info("decoding %d views of %s once (kept in %s)", len(keys), self.frames.root, folder)
        bar = tqdm(keys, desc="decode views", unit="view", disable=not (progress and sys.stderr.isatty()))
        for r, (i, c) in enumerate(bar):
            item = self._decode(i, c)
            for k in kinds:
                arrays[k][r] = item[k].numpy()
        self.pixels = arrays
        try:
            folder.mkdir(parents=True, exist_ok=True)
            for k in kinds:
                with atomic_write_path(folder / f"{k}.npy") as tmp:
                    with open(tmp, "wb") as fh:
                        np.save(fh, arrays[k], allow_pickle=False)
        except OSError as exc:  # a read-only layout: keep the arrays in memory
            log.info("views decoded in memory only (cannot write %s: %s)", folder, exc)

    def _digest(self, keys: List[Tuple[int, str]]) -> str:
        h = hashlib.sha1()
        index_file = Path(self.frames.root) / INDEX_NAME
        h.update(index_file.read_bytes() if index_file.is_file() else b"")
        h.update(repr((self.image_size, self.backgrounds, self.masks)).encode())
        for i, c in keys:
            entry, f = self.frames.item_info(i)
            h.update(f"{entry.folder(c)}:{f};".encode())
        return h.hexdigest()[:16]


class NVSPairDataset(Dataset):
    """Items of two same-subject frames, each a (source, target) view pair; see the module docstring.

    Item keys (leading dim 2 = the two frames): ``source``, ``target``, ``target_background`` (2,3,s,s) in [0,1];
    ``R_source``, ``R_target`` (2,3,3) world->virtual camera; ``subject`` (str); ``target_mask`` (2,1,s,s) when
    ``masks``. ``pairs_per_frame``: all ordered camera pairs of each frame (None), or that many drawn once per
    frame (e.g. 1 for a quick validation set). ``sequence_filter`` keeps the sequences it accepts (see
    MultiViewImageDataset). The second frame is drawn from the same subject's other frames by a generator seeded
    from (seed, index), so resumed runs see the same items.
    """

    def __init__(
        self,
        root: PathLike,
        subjects: Optional[Iterable[str]] = None,
        image_size: int = 64,
        stride: int = 1,
        seed: int = 0,
        sequence_filter=None,
        masks: bool = False,
        pairs_per_frame: Optional[int] = None,
    ):
        self.frames = MultiViewImageDataset(
            root,
            subjects=subjects,
            stride=stride,
            load_masks=masks,
            load_backgrounds=True,
            sequence_filter=sequence_filter,
        )
        if len(self.frames) == 0:
            raise ValueError(f"{root}: no frames for subjects {subjects}")
        self.cache = ViewCache(self.frames, image_size, backgrounds=True, masks=masks)
        self._rotations: Dict[Tuple[int, str], torch.Tensor] = {}
        self.seed = seed
        self._by_subject: Dict[str, np.ndarray] = {}
        subjects_of = np.array([self.cache.subject(i) for i in range(len(self.frames))])
        for s in np.unique(subjects_of):
            self._by_subject[str(s)] = np.flatnonzero(subjects_of == s)
        self._items: List[Tuple[int, str, str]] = []
        for i in range(len(self.frames)):
            cams = self.cache.cameras(i)
            if len(cams) < 2:
                continue
            pairs = [(i, a, b) for a in cams for b in cams if a != b]
            if pairs_per_frame is not None and pairs_per_frame < len(pairs):
                pick = np.random.default_rng([seed, i]).choice(len(pairs), size=pairs_per_frame, replace=False)
                pairs = [pairs[int(k)] for k in sorted(pick)]
            self._items += pairs
        if not self._items:
            raise ValueError(f"{root}: novel-view synthesis needs frames seen by at least two cameras")

    @property
    def image_size(self) -> int:
        return self.cache.image_size

    def __len__(self) -> int:
        return len(self._items)

    def partner(self, index: int) -> Tuple[int, str, str]:
        """The second frame of item ``index``: another frame of the same subject, with a random view pair."""
        frame, _, _ = self._items[index]
        g = np.random.default_rng([self.seed, index])
        pool = self._by_subject[self.cache.subject(frame)]
        other = int(pool[g.integers(len(pool))]) if len(pool) > 1 else frame
        if other == frame and len(pool) > 1:
            other = int(pool[(np.searchsorted(pool, frame) + 1) % len(pool)])
        cams = self.cache.cameras(other)
        a, b = g.choice(len(cams), size=2, replace=False)
        return other, cams[int(a)], cams[int(b)]

    def __getitem__(self, index: int) -> dict:
        pairs = [self._items[index], self.partner(index)]
        src = [self.cache.view(f, a) for f, a, _ in pairs]
        tgt = [self.cache.view(f, b) for f, _, b in pairs]
        return {
            "source": torch.stack([v["image"] for v in src]),
            "target": torch.stack([v["image"] for v in tgt]),
            "target_background": torch.stack([v["background"] for v in tgt]),
            "R_source": torch.stack([v["R_virtual"] for v in src]),
            "R_target": torch.stack([v["R_virtual"] for v in tgt]),
            "subject": src[0]["subject"],
            **({"target_mask": torch.stack([v["mask"] for v in tgt])} if "mask" in tgt[0] else {}),
        }

    def prepare(self) -> None:
        """Decode every view once into memory-mapped arrays (:meth:`ViewCache.prepare`); the Trainer calls this
        before its first batch, and :meth:`get_batch` then gathers batches by index."""
        self.cache.prepare()

    def get_batch(self, indices) -> dict:
        """The collated items ``indices`` (equal to ``default_collate([self[i] for i in indices])``), pixels
        gathered from the prepared arrays in one indexing operation per kind."""
        self.prepare()
        cache = self.cache
        pairs = [[self._items[int(i)], self.partner(int(i))] for i in indices]
        src = np.array([[cache.row(f, a) for f, a, _ in p] for p in pairs])  # (B, 2)
        tgt = np.array([[cache.row(f, b) for f, _, b in p] for p in pairs])

        def pixels(kind: str, rows: np.ndarray) -> torch.Tensor:
            flat = torch.from_numpy(cache.pixels[kind][rows.ravel()])
            return (flat.float() / 255.0).view(*rows.shape, *flat.shape[1:])

        def rotations(which: int) -> torch.Tensor:
            return torch.stack([torch.stack([self._rotation(p[k][0], p[k][which]) for k in range(2)]) for p in pairs])

        out = {
            "source": pixels("image", src),
            "target": pixels("image", tgt),
            "target_background": pixels("background", tgt),
            "R_source": rotations(1),
            "R_target": rotations(2),
            "subject": [cache.subject(p[0][0]) for p in pairs],
        }
        if cache.masks:
            out["target_mask"] = pixels("mask", tgt)
        return out

    def _rotation(self, frame: int, camera: str) -> torch.Tensor:
        """World -> virtual camera rotation of a view (its geometry only; cached)."""
        key = (frame, camera)
        if key not in self._rotations:
            self._rotations[key] = self.cache._geometry(frame, camera)["R_virtual"]
        return self._rotations[key]


def flatten_pairs(batch: dict) -> dict:
    """A collated :class:`NVSPairDataset` batch ``(B, 2, ...)`` -> ``(2B, ...)``: frames 2k, 2k+1 share a subject."""
    return {k: (v.flatten(0, 1) if torch.is_tensor(v) else v) for k, v in batch.items()}


class SingleViewDataset(Dataset):
    """One (frame, camera) per item, for regressors on the encoder's latent.

    Keys: ``image`` (3,s,s), ``pose_3d`` (17,3) root-relative metres in the virtual camera frame of that view,
    ``R_virtual``, ``R_look`` (3,3), ``has_3d`` (bool: the subject is in ``labelled_subjects``), ``subject``,
    ``index`` (frame index), ``camera`` (id), ``world_up`` (3,) the world z axis in the virtual camera frame;
    ``mask``/``background`` when asked for.
    """

    def __init__(
        self,
        root: PathLike,
        subjects: Optional[Iterable[str]] = None,
        image_size: int = 64,
        labelled_subjects: Optional[Sequence[str]] = None,
        stride: int = 1,
        masks: bool = False,
        backgrounds: bool = False,
        cameras: Optional[Iterable[str]] = None,
        sequence_filter=None,
    ):
        self.frames = MultiViewImageDataset(
            root,
            subjects=subjects,
            stride=stride,
            load_masks=masks,
            load_backgrounds=backgrounds,
            cameras=cameras,
            sequence_filter=sequence_filter,
        )
        self.cache = ViewCache(self.frames, image_size, backgrounds=backgrounds, masks=masks)
        self.labelled = None if labelled_subjects is None else set(labelled_subjects)
        self._items = [(i, c) for i in range(len(self.frames)) for c in self.cache.cameras(i)]

    def __len__(self) -> int:
        return len(self._items)

    def __getitem__(self, index: int) -> dict:
        frame, cam = self._items[index]
        item = self.cache.view(frame, cam)
        item["has_3d"] = self.labelled is None or item["subject"] in self.labelled
        item["index"] = frame
        item["camera"] = cam
        item["world_up"] = item["R_virtual"][:, 2]  # the world's vertical (z, Human3.6M) in this view's frame
        return item
