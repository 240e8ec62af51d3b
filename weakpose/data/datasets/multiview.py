"""The on-disk layout of root-centred multi-view image crops, and the datasets that read it.

The layout follows the one common for Human3.6M crops (one folder per sequence and camera)::

    <root>/index.json                                      what is there, see below
    <root>/images/s_09_act_02_subact_01_ca_01/s_09_act_02_subact_01_ca_01_000001.jpg
    <root>/masks/s_09_act_02_subact_01_ca_01/s_09_act_02_subact_01_ca_01_000001.png   (optional)
    <root>/annotations/s_09_act_02_subact_01.npz           per sequence, shared by its cameras

Frame numbers start at 1. Subject ``S9`` -> ``s_09``; cameras 1..4 are the H36M ids in their usual order
(54138969, 55011271, 58860488, 60457274); action ids are listed in ``index.json`` (the real release uses 2..16 for
its 15 actions).

Annotation npz keys (N frames of the sequence; metres, world frame Z up, H36M-17 / SMPL-24 joint orders):
``joints_h36m17`` (N,17,3), optional ``joints_smpl24`` (N,24,3), ``global_orient`` (N,3), ``body_pose`` (N,69),
``betas`` (B,), ``transl`` (N,3) (SMPL parameters of the rendered body, when known), ``frame_indices`` (N,) the
frame numbers; and per camera c in ``camera_ids`` (C,): ``crop_boxes`` (C,N,3) = (x0, y0, side) in full-image
pixels, ``R`` (C,3,3), ``t`` (C,3) metres, ``K`` (C,3,3), ``dist`` (C,5) = [k1,k2,k3,p1,p2], ``image_sizes`` (C,2).
A crop of size S is the full image's square (x0, y0, side) resampled to S x S: its camera is
:func:`weakpose.data.synthetic.scene.crop_camera` of the full camera.

Backgrounds (optional, needed by the encoder-decoder, which injects the target view's background in its decoder):
``<root>/backgrounds/s_09_ca_01.jpg`` is camera 1's full image of subject S9's room without the person (the
temporal median of its frames for real data), downscaled by ``index.json["background_scale"]`` (full-image pixel
``(u, v)`` is background pixel ``(u, v) · scale``); ``index.json["backgrounds"]`` maps subject -> camera id -> file.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from torch.utils.data import Dataset

from weakpose.data.h36m.cameras import H36M_CAMERA_IDS
from weakpose.data.synthetic.scene import crop_intrinsics
from weakpose.geometry import Camera
from weakpose.safe_npz import SafeNpz

PathLike = Union[str, os.PathLike]
INDEX_NAME = "index.json"
LAYOUT_VERSION = 1
_FOLDER = re.compile(r"^s_(\d+)_act_(\d+)_subact_(\d+)_ca_(\d+)$")


def sequence_folder(subject: str, action_id: int, subaction: int, camera_index: int) -> str:
    """``("S9", 2, 1, 1)`` -> ``"s_09_act_02_subact_01_ca_01"``."""
    return f"s_{int(subject.lstrip('Ss')):02d}_act_{action_id:02d}_subact_{subaction:02d}_ca_{camera_index:02d}"


def parse_sequence_folder(name: str) -> Tuple[str, int, int, int]:
    """``"s_09_act_02_subact_01_ca_01"`` -> ``("S9", 2, 1, 1)``; a clear error for other names."""
    m = _FOLDER.match(name)
    if not m:
        raise ValueError(f"{name!r} is not a sequence folder name like 's_09_act_02_subact_01_ca_01'")
    s, a, sa, c = (int(g) for g in m.groups())
    return f"S{s}", a, sa, c


def frame_name(folder: str, frame: int, suffix: str) -> str:
    return f"{folder}_{frame:06d}{suffix}"


def background_name(subject: str, camera_id: str) -> str:
    """``("S9", "54138969")`` -> ``"backgrounds/s_09_ca_01.jpg"`` (relative to the layout root)."""
    return f"backgrounds/s_{int(subject.lstrip('Ss')):02d}_ca_{camera_index(camera_id):02d}.jpg"


def crop_background(background: torch.Tensor, boxes: torch.Tensor, size: int, scale: float) -> torch.Tensor:
    """Bilinear crops of a downscaled full background image at crop boxes.

    background: ``(3, H, W)`` float, full-image pixel (u, v) at background pixel (u, v)·scale; boxes: ``(N, 3)``
    ``(x0, y0, side)`` in full-image pixels. Returns ``(N, 3, size, size)``: pixel (i, j) of a crop samples the
    full image at ``x0 + (j + 0.5)·side/size`` (the crop's own pixel centres), as the crops themselves were made.
    """
    boxes = torch.as_tensor(boxes, dtype=background.dtype).reshape(-1, 3)
    centres = (torch.arange(size, dtype=background.dtype) + 0.5) / size
    u = (boxes[:, None, 0] + centres[None] * boxes[:, None, 2]) * scale  # background pixels
    v = (boxes[:, None, 1] + centres[None] * boxes[:, None, 2]) * scale
    h, w = background.shape[-2:]
    gx, gy = u / w * 2 - 1, v / h * 2 - 1  # align_corners=False: pixel k spans [k, k+1)
    grid = torch.stack(torch.broadcast_tensors(gx[:, None, :], gy[:, :, None]), dim=-1)
    return torch.nn.functional.grid_sample(
        background[None].expand(len(boxes), -1, -1, -1),
        grid,
        mode="bilinear",
        padding_mode="border",
        align_corners=False,
    )


def resize_images(images: torch.Tensor, size: int) -> torch.Tensor:
    """Crops ``(B, C, S, S)`` -> ``(B, C, size, size)``: area averaging when shrinking by an integer factor, else
    antialiased bilinear."""
    s = images.shape[-1]
    if s == size:
        return images
    if s > size and s % size == 0:
        return torch.nn.functional.interpolate(images, size=(size, size), mode="area")
    return torch.nn.functional.interpolate(
        images, size=(size, size), mode="bilinear", antialias=True, align_corners=False
    )


def annotation_name(subject: str, action_id: int, subaction: int) -> str:
    return sequence_folder(subject, action_id, subaction, 0).rsplit("_ca_", 1)[0] + ".npz"


@dataclass
class SequenceEntry:
    """One (subject, action, sub-action) sequence seen by several cameras."""

    subject: str
    action: str
    action_id: int
    subaction: int
    camera_ids: List[str]
    num_frames: int

    def folder(self, camera_id: str) -> str:
        return sequence_folder(self.subject, self.action_id, self.subaction, camera_index(camera_id))

    @property
    def annotation(self) -> str:
        return annotation_name(self.subject, self.action_id, self.subaction)


def camera_index(camera_id: str) -> int:
    """1-based index of a Human3.6M camera id, as used in folder names."""
    try:
        return H36M_CAMERA_IDS.index(str(camera_id)) + 1
    except ValueError:
        raise KeyError(f"unknown camera id {camera_id!r}; Human3.6M cameras are {list(H36M_CAMERA_IDS)}") from None


def write_index(
    root: PathLike, sequences: Sequence[SequenceEntry], image_size: int, cube_size: float, extra: Optional[dict] = None
) -> Path:
    from weakpose.io_utils import atomic_write_text

    index = {
        "layout_version": LAYOUT_VERSION,
        "image_size": int(image_size),
        "cube_size": float(cube_size),
        "image_suffix": ".jpg",
        "mask_suffix": ".png",
        "sequences": [s.__dict__ for s in sequences],
        **(extra or {}),
    }
    path = Path(root) / INDEX_NAME
    atomic_write_text(path, json.dumps(index, indent=1))
    return path


def read_index(root: PathLike) -> dict:
    path = Path(root) / INDEX_NAME
    if not path.is_file():
        raise FileNotFoundError(
            f"{path}: no index; generate the images with `weakpose make-synthetic --images` "
            f"or point at a folder holding {INDEX_NAME}"
        )
    try:
        index = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}: not valid JSON ({e})") from None
    for key in ("image_size", "sequences"):
        if key not in index:
            raise KeyError(f"{path}: missing key {key!r}")
    return index


_ANNOTATION_KEYS = ("joints_h36m17", "camera_ids", "crop_boxes", "R", "t", "K", "dist", "image_sizes")


def load_annotation(path: PathLike) -> Dict[str, np.ndarray]:
    path = Path(path)
    try:
        with SafeNpz(path) as z:  # a .npy or a raw pickle is refused naming the file
            ann = {k: z[k] for k in z.files}
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: annotation file missing") from None
    except (ValueError, OSError) as e:
        raise ValueError(f"{path}: unreadable annotation npz ({e})") from None
    missing = [k for k in _ANNOTATION_KEYS if k not in ann]
    if missing:
        raise KeyError(f"{path}: missing keys {missing} (has {sorted(ann)})")
    n, c = ann["joints_h36m17"].shape[0], len(ann["camera_ids"])
    if ann["joints_h36m17"].shape != (n, 17, 3) or ann["crop_boxes"].shape != (c, n, 3):
        raise ValueError(
            f"{path}: joints_h36m17 {ann['joints_h36m17'].shape} and crop_boxes "
            f"{ann['crop_boxes'].shape} do not agree on (cameras={c}, frames={n})"
        )
    return ann


def _read_image(path: Path, mode: str = "RGB") -> np.ndarray:
    """uint8 pixels of an image file (``mode`` 'RGB' for frames, 'L' for masks), with errors naming the file."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            return np.asarray(im.convert(mode), dtype=np.uint8)
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: image missing") from None
    except OSError as e:
        raise ValueError(f"{path}: unreadable image ({e})") from None


class MultiViewImageDataset(Dataset):
    """Frames of the crop layout; each sample holds ``num_views`` synchronised views of one frame.

    Sample keys (V views): ``image`` (V,3,S,S) float in [0,1], ``mask`` (V,1,S,S) (zeros if absent),
    ``K`` (V,3,3) of the crop camera, ``R`` (V,3,3), ``t`` (V,3), ``dist`` (V,5), ``camera`` list of ids,
    ``joints_h36m17`` (17,3) world metres, ``pose_3d`` (V,17,3) root-relative in each camera's frame,
    ``root_world`` (3,), and SMPL parameters when the annotation has them; ``subject``, ``action``, ``frame``.
    views: "all" (every camera, in order), or an int: that many cameras drawn per sample by a generator seeded
    from (seed, index), so a resumed run sees the same views. load_backgrounds: add ``background`` (V,3,S,S), the
    empty room cropped like each view (needs the layout's background images). sequence_filter: keep only the
    sequences (:class:`SequenceEntry`) for which it returns True (e.g. to hold out validation sequences).
    """

    def __init__(
        self,
        root: PathLike,
        subjects: Optional[Iterable[str]] = None,
        views: Union[str, int] = "all",
        cameras: Optional[Iterable[str]] = None,
        stride: int = 1,
        seed: int = 0,
        load_masks: bool = True,
        load_backgrounds: bool = False,
        sequence_filter=None,
    ):
        self.root = Path(root)
        self.index = read_index(self.root)
        self.size = int(self.index["image_size"])
        self.views = views
        self.seed = seed
        self.load_masks = load_masks
        self.load_backgrounds = load_backgrounds
        self._backgrounds: Dict[Tuple[str, str], torch.Tensor] = {}
        wanted = None if subjects is None else set(subjects)
        self.sequences: List[SequenceEntry] = []
        self.annotations: List[Dict[str, np.ndarray]] = []
        self._items: List[Tuple[int, int]] = []
        cameras_present: set = set()
        subjects_present: set = set()
        for raw in self.index["sequences"]:
            entry = SequenceEntry(**raw)
            subjects_present.add(entry.subject)
            if wanted is not None and entry.subject not in wanted:
                continue
            cameras_present.update(map(str, entry.camera_ids))
            if sequence_filter is not None and not sequence_filter(entry):
                continue
            if cameras is not None:
                entry.camera_ids = [c for c in entry.camera_ids if c in set(map(str, cameras))]
            if not entry.camera_ids:
                continue
            ann = load_annotation(self.root / "annotations" / entry.annotation)
            self.sequences.append(entry)
            self.annotations.append(ann)
            self._items += [(len(self.sequences) - 1, f) for f in range(0, entry.num_frames, stride)]
        # A filter that leaves nothing (a mistyped camera id or subject) is said here, not as an empty batch later.
        unknown = sorted(set(map(str, cameras)) - cameras_present) if cameras is not None else []
        if unknown:
            raise ValueError(
                f"{self.root}: camera(s) {unknown} are in none of the selected sequences (cameras "
                f"present: {sorted(cameras_present)}); fix the camera filter (data.cameras)"
            )
        if wanted is not None and not wanted & subjects_present:
            raise ValueError(
                f"{self.root}: subject(s) {sorted(wanted)} are not in the data (subjects present: "
                f"{sorted(subjects_present)}); the subject filter left nothing"
            )
        if load_backgrounds:
            for entry in self.sequences:
                for cam in entry.camera_ids:
                    self.background_path(entry.subject, cam)  # fail now, naming what is missing
        if isinstance(views, int) and views > min((len(s.camera_ids) for s in self.sequences), default=0):
            raise ValueError(f"views={views} but some sequences have fewer cameras")

    def __len__(self) -> int:
        return len(self._items)

    def background_path(self, subject: str, camera_id: str) -> Path:
        table = self.index.get("backgrounds") or {}
        rel = table.get(subject, {}).get(str(camera_id))
        if rel is None or "background_scale" not in self.index:
            raise KeyError(
                f"{self.root / INDEX_NAME}: no background image for {subject} camera {camera_id} "
                f"(index keys 'backgrounds' and 'background_scale'); regenerate the synthetic set with "
                f"`weakpose make-synthetic --images` or convert the release with backgrounds"
            )
        path = self.root / rel
        if not path.is_file():
            raise FileNotFoundError(f"{path}: background image listed in {self.root / INDEX_NAME} is missing")
        return path

    def background(self, subject: str, camera_id: str) -> torch.Tensor:
        """The full (downscaled) background of a subject's camera, ``(3, H, W)`` float in [0, 1], cached."""
        key = (subject, str(camera_id))
        if key not in self._backgrounds:
            pixels = _read_image(self.background_path(subject, camera_id))
            self._backgrounds[key] = torch.from_numpy(pixels.copy()).permute(2, 0, 1).float() / 255.0
        return self._backgrounds[key]

    def _pick_views(self, index: int, cams: List[str]) -> List[str]:
        if self.views == "all":
            return list(cams)
        g = np.random.default_rng([self.seed, index])
        return [cams[i] for i in sorted(g.choice(len(cams), size=int(self.views), replace=False))]

    def item_info(self, index: int) -> Tuple[SequenceEntry, int]:
        """The sequence and the frame position (0-based within the sequence) of sample ``index``."""
        seq_i, f = self._items[index]
        return self.sequences[seq_i], f

    def __getitem__(self, index: int) -> dict:
        entry, _ = self.item_info(index)
        return self.load(index, self._pick_views(index, entry.camera_ids))

    def load(self, index: int, cams: Sequence[str], pixels: bool = True) -> dict:
        """Sample ``index`` seen from the cameras ``cams`` (ids, in the order wanted). ``pixels=False`` reads no
        image, mask or background (the keys are left out): the geometry and labels alone, without decoding."""
        seq_i, f = self._items[index]
        entry, ann = self.sequences[seq_i], self.annotations[seq_i]
        unknown = [c for c in cams if c not in entry.camera_ids]
        if unknown:
            raise KeyError(f"{entry.folder(entry.camera_ids[0])}: no camera {unknown}; has {entry.camera_ids}")
        all_ids = [str(c) for c in ann["camera_ids"]]
        images, masks, Ks, Rs, ts, dists, poses, backgrounds = [], [], [], [], [], [], [], []
        joints = ann["joints_h36m17"][f].astype(np.float64)
        frame_no = int(ann["frame_indices"][f]) if "frame_indices" in ann else f + 1
        for cam_id in cams:
            c = all_ids.index(cam_id)
            folder = entry.folder(cam_id)
            if pixels:
                suffix = self.index.get("image_suffix", ".jpg")
                images.append(_read_image(self.root / "images" / folder / frame_name(folder, frame_no, suffix)))
                mask_path = (
                    self.root / "masks" / folder / frame_name(folder, frame_no, self.index.get("mask_suffix", ".png"))
                )
                masks.append(
                    _read_image(mask_path, "L")
                    if self.load_masks and mask_path.exists()
                    else np.zeros((self.size, self.size), np.uint8)
                )
            Ks.append(crop_intrinsics(ann["K"][c], ann["crop_boxes"][c, f], self.size))
            if self.load_backgrounds and pixels:
                backgrounds.append(
                    crop_background(
                        self.background(entry.subject, cam_id),
                        torch.as_tensor(ann["crop_boxes"][c, f]),
                        self.size,
                        float(self.index["background_scale"]),
                    )[0]
                )
            Rs.append(ann["R"][c])
            ts.append(ann["t"][c])
            dists.append(ann["dist"][c])
            cam_pose = joints @ ann["R"][c].T + ann["t"][c]
            poses.append(cam_pose - cam_pose[:1])
        t = lambda a: torch.as_tensor(np.asarray(a), dtype=torch.float32)  # noqa: E731
        sample = {
            "K": t(Ks),
            "R": t(Rs),
            "t": t(ts),
            "dist": t(dists),
            "pose_3d": t(poses),
            "joints_h36m17": t(joints),
            "root_world": t(joints[0]),
            "camera": cams,
            "subject": entry.subject,
            "action": entry.action,
            "frame": frame_no,
        }
        if pixels:
            sample["image"] = t(np.stack(images)).permute(0, 3, 1, 2) / 255.0
            sample["mask"] = t(np.stack(masks))[:, None] / 255.0
        if self.load_backgrounds and pixels:
            sample["background"] = torch.stack(backgrounds)
        for key in ("global_orient", "body_pose", "transl", "joints_smpl24"):
            if key in ann:
                sample[key] = t(ann[key][f])
        if "betas" in ann:
            sample["betas"] = t(ann["betas"])
        return sample


def held_out_sequences(every: int):
    """``(keep, held)`` sequence filters for :class:`MultiViewImageDataset`: of the sequences that reach the filter
    (index.json order, after the subject selection), every ``every``-th is held out (none for ``every <= 0``). Both
    filters share one numbering, so datasets built with them split the same sequences apart."""
    numbers: Dict[Tuple[str, str, int], int] = {}

    def held(entry: SequenceEntry) -> bool:
        key = (entry.subject, entry.action, entry.subaction)
        numbers.setdefault(key, len(numbers))
        return every > 0 and numbers[key] % every == every - 1

    return (lambda entry: not held(entry)), held


def crop_cameras(sample: dict) -> Camera:
    """The batched crop :class:`Camera` of a sample's views (or of a collated batch)."""
    size = sample["image"].shape[-1]
    return Camera(R=sample["R"], t=sample["t"], K=sample["K"], dist=sample["dist"], image_size=(size, size))


def collate_keep_lists(items: List[dict]) -> dict:
    """Stack tensors, keep other values (strings, camera-id lists) as per-sample lists: the collate of
    :class:`MultiViewImageDataset` samples (torch's default would transpose their camera-id lists)."""
    out = {}
    for k in items[0]:
        v = [it[k] for it in items]
        out[k] = torch.stack(v) if isinstance(v[0], torch.Tensor) else v
    return out


__all__ = [
    "sequence_folder",
    "parse_sequence_folder",
    "frame_name",
    "annotation_name",
    "camera_index",
    "SequenceEntry",
    "background_name",
    "crop_background",
    "held_out_sequences",
    "write_index",
    "read_index",
    "load_annotation",
    "MultiViewImageDataset",
    "crop_cameras",
    "resize_images",
    "collate_keep_lists",
    "INDEX_NAME",
]
