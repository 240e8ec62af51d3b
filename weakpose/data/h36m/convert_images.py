"""``weakpose convert-h36m-images``: the original Human3.6M release -> the multi-view crop layout of
:mod:`weakpose.data.datasets.multiview`, so the image pipeline (``sample/train_enc_dec.py --data <out>``) trains on real
frames.

Inputs, per subject ``S1, S5, S6, S7, S8, S9, S11`` of the release root (Ionescu et al. 2014):

* poses ``S1/MyPoseFeatures/D3_Positions/Walking 1.cdf`` (variable ``Pose`` (1, N, 96) mm, 32 joints, world frame);
* frames, either the videos ``S1/Videos/Walking 1.54138969.mp4`` (50 fps; needs the optional extra
  ``pip install weakpose[h36m-video]``: imageio with PyAV or imageio-ffmpeg) or frames already extracted to
  ``S1/Images/Walking 1.54138969/frame_000001.jpg`` (or ``img_000001.jpg``; numbered from 1, as ffmpeg writes
  them, or from 0); an extracted folder is preferred when both exist;
* optionally the foreground masks of the separate ``ground_truth_bs`` release,
  ``S1/MySegmentsMat/ground_truth_bs/Walking 1.54138969.mat``: MATLAB v7.3 (HDF5) files whose dataset ``Masks``
  holds one object reference per frame, each a 2-D logical array stored transposed (MATLAB is column-major).
  Without them the set is converted without masks (a warning; ``index.json`` says ``"masks": false``).

Per sequence every ``frame_step``-th frame is kept; each camera's crop is the root-centred square of
:func:`weakpose.data.synthetic.scene.crop_box` (a ``cube_size`` cube facing the camera at the pelvis, as Rhodin et al.
2018 crop), resampled to ``image_size`` pixels (Pillow's antialiased bilinear resize over the exact fractional box;
pixels outside the frame are black, masks become 0..255 coverage). Per subject and camera the empty room is the
temporal median of ``background_frames`` frames spread uniformly over that camera's videos (the person moves,
the room does not), written to ``backgrounds/s_09_ca_01.jpg`` at ``background_scale`` of the full resolution.

Naming: action ids follow the release's numbering (2 Directions ... 16 WalkTogether, see :data:`ACTION_IDS`),
names the canonical weakpose spelling (``TakingPhoto`` -> ``Photo``, ``WalkingDog`` -> ``WalkDog``). The two
sequences of an action are numbered 1, 2 in the order of the number in their file names (none counts as 0):
``Walking`` -> 1, ``Walking 1`` -> 2; ``Sitting 1`` -> 1, ``Sitting 2`` -> 2 (a fixed rule, not the per-subject
table of the release's metadata.xml); each sequence's ``action`` in ``index.json`` keeps its file's full name.

Resumable: a sequence whose annotation npz exists is skipped (its images are written first, the npz last and
atomically), a background whose jpg exists is kept, and ``index.json`` (rewritten after every sequence) also lists
what earlier runs converted into the same folder. Human3.6M's licence forbids redistribution of the converted data.
"""

from __future__ import annotations

import argparse
import re
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterable, Iterator, List, Optional, Sequence, Tuple, Union

import numpy as np

from weakpose.data.datasets.multiview import (
    INDEX_NAME,
    SequenceEntry,
    annotation_name,
    background_name,
    camera_index,
    frame_name,
    read_index,
    sequence_folder,
    write_index,
)
from weakpose.data.h36m.cameras import H36M_CAMERA_IDS, H36M_IMAGE_SIZES
from weakpose.data.h36m.readers import (
    ACTION_ALIASES,
    H36MFormatError,
    action_base,
    canonical_action_name,
    list_files,
    read_cdf_3d,
    subject_dirs,
)
from weakpose.data.synthetic.scene import crop_box
from weakpose.io_utils import atomic_write_path, clean_output_folder

PathLike = Union[str, Path]

#: Action ids of the release (its metadata numbers ``_ALL`` as 1), under weakpose's canonical names.
ACTION_IDS: Dict[str, int] = {
    "Directions": 2,
    "Discussion": 3,
    "Eating": 4,
    "Greeting": 5,
    "Phoning": 6,
    "Posing": 7,
    "Purchases": 8,
    "Sitting": 9,
    "SittingDown": 10,
    "Smoking": 11,
    "Photo": 12,
    "Waiting": 13,
    "Walking": 14,
    "WalkDog": 15,
    "WalkTogether": 16,
}
#: S11 Directions: its 54138969 video is corrupt (VideoPose3D and Martinez et al. drop the sequence too).
DEFAULT_EXCLUSIONS: Tuple[Tuple[str, str], ...] = (("S11", "Directions"),)
VIDEO_EXTRA = "h36m-video"
GENERATOR = "weakpose.data.h36m.convert_images"
_FRAME_FILE = re.compile(r"^(?:frame|img)_(\d+)\.(?:jpe?g|png)$", re.IGNORECASE)


# ----------------------------------------------------------------------------------------------------------------
# background


def temporal_median_background(frames: Iterable[np.ndarray]) -> np.ndarray:
    """Per-pixel, per-channel median over time of ``(H, W, 3)`` uint8 frames -> ``(H, W, 3)`` uint8.

    Why: a person who moves covers any given pixel in fewer than half of the frames, so the median there is the
    static room. The frames are stacked (keep them to about 100 of them; downscale first for big images).
    """
    stack = [np.asarray(f) for f in frames]
    if not stack:
        raise ValueError("temporal_median_background: no frames given")
    shape = stack[0].shape
    for i, f in enumerate(stack):
        if f.shape != shape or f.ndim != 3:
            raise ValueError(
                f"temporal_median_background: frame {i} has shape {f.shape}; expected {shape} (H, W, 3) like frame 0"
            )
    med = np.median(np.stack(stack), axis=0)
    return np.clip(np.rint(med), 0, 255).astype(np.uint8)


# ----------------------------------------------------------------------------------------------------------------
# masks (ground_truth_bs, MATLAB v7.3)


class MatMasks:
    """Foreground masks of one ``ground_truth_bs/<Action>.<camera>.mat``, read a frame at a time.

    ``len()`` is the number of frames; ``masks[i]`` (0-based) is the ``(H, W)`` uint8 mask with 255 on the person.
    The file is HDF5 (MATLAB v7.3): dataset ``Masks`` of object references, one per frame, each pointing to a
    2-D array that MATLAB wrote column-major, i.e. transposed as HDF5 sees it.
    """

    def __init__(self, path: PathLike):
        import h5py

        self.path = Path(path)
        try:
            self._file = h5py.File(self.path, "r")
        except FileNotFoundError:
            raise FileNotFoundError(f"{self.path}: mask file missing") from None
        except OSError as e:
            raise H36MFormatError(f"{self.path}: not a MATLAB v7.3 (HDF5) mask file ({e})") from None
        try:
            if "Masks" not in self._file:
                raise H36MFormatError(f"{self.path}: no dataset 'Masks' (keys: {sorted(self._file.keys())})")
            refs = self._file["Masks"]
            if refs.dtype != h5py.ref_dtype:
                raise H36MFormatError(
                    f"{self.path}: 'Masks' holds {refs.dtype}, expected object references "
                    f"(one per frame, a MATLAB cell array)"
                )
            self._refs = np.asarray(refs[()]).reshape(-1)
        except Exception:
            self._file.close()
            raise

    def __len__(self) -> int:
        return len(self._refs)

    def __getitem__(self, index: int) -> np.ndarray:
        if not 0 <= index < len(self._refs):
            raise IndexError(f"{self.path}: frame {index + 1} requested, the file has {len(self._refs)} masks")
        try:
            raw = np.asarray(self._file[self._refs[index]][()])
        except (KeyError, ValueError, OSError, TypeError) as e:
            raise H36MFormatError(
                f"{self.path}: cannot read mask of frame {index + 1} ({type(e).__name__}: {e})"
            ) from None
        if raw.ndim != 2:
            raise H36MFormatError(f"{self.path}: mask of frame {index + 1} has shape {raw.shape}; expected 2-D")
        mask = raw.T  # MATLAB column-major -> (H, W)
        if mask.dtype == bool or mask.max(initial=0) <= 1:
            return (mask > 0).astype(np.uint8) * 255
        return np.clip(mask, 0, 255).astype(np.uint8)

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> "MatMasks":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


# ----------------------------------------------------------------------------------------------------------------
# frames: an extracted folder or a video


class FrameSource:
    """Frames of one (sequence, camera); ``num_frames`` may be ``None`` where the container does not say."""

    path: Path
    num_frames: Optional[int]

    def read(self, index: int) -> np.ndarray:
        """Frame ``index`` (0-based) as ``(H, W, 3)`` uint8 RGB."""
        raise NotImplementedError

    def iter_frames(self, indices: Sequence[int]) -> Iterator[Tuple[int, np.ndarray]]:
        """``(index, frame)`` for the ascending 0-based ``indices``."""
        for i in indices:
            yield int(i), self.read(int(i))

    def nearest_available(self, index: int) -> int:
        return index

    def close(self) -> None:
        pass


def _read_rgb(path: Path) -> np.ndarray:
    from PIL import Image

    try:
        with Image.open(path) as im:
            return np.asarray(im.convert("RGB"), dtype=np.uint8)
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: frame missing") from None
    except OSError as e:
        raise H36MFormatError(f"{path}: unreadable image ({e})") from None


class FolderFrames(FrameSource):
    """A folder of extracted frames ``frame_000001.jpg`` / ``img_000001.jpg`` (numbered from 1, or from 0 when a
    file numbered 0 exists). ``num_frames`` is the highest frame number (a folder may hold every n-th frame only)."""

    def __init__(self, folder: PathLike):
        self.path = Path(folder)
        files = {}
        for p in self.path.iterdir():
            m = _FRAME_FILE.match(p.name)
            if m and not p.name.startswith("."):
                files[int(m.group(1))] = p
        if not files:
            raise FileNotFoundError(f"{self.path}: no frames named frame_000001.jpg or img_000001.jpg")
        self.offset = 0 if 0 in files else 1  # file number of frame index 0
        self._files = files
        self._sorted = np.array(sorted(files))
        self.num_frames = int(self._sorted[-1]) - self.offset + 1

    def _file(self, index: int) -> Path:
        number = index + self.offset
        if number not in self._files:
            raise FileNotFoundError(
                f"{self.path}: no file for frame number {number} (the folder holds {len(self._files)} frames "
                f"numbered {self._sorted[0]}..{self._sorted[-1]}; does frame_step match how it was extracted?)"
            )
        return self._files[number]

    def read(self, index: int) -> np.ndarray:
        return _read_rgb(self._file(index))

    def nearest_available(self, index: int) -> int:
        k = int(np.argmin(np.abs(self._sorted - (index + self.offset))))
        return int(self._sorted[k]) - self.offset


def _video_plugin() -> str:
    """The imageio plugin that decodes mp4 here: PyAV, else imageio-ffmpeg; a clear error naming the extra."""
    try:
        import imageio.v3  # noqa: F401
    except ImportError:
        raise ImportError(
            f"reading Human3.6M videos needs imageio with PyAV or imageio-ffmpeg: "
            f"pip install weakpose[{VIDEO_EXTRA}] (or extract the frames to "
            f"S*/Images/<Action>.<camera>/frame_000001.jpg, which needs only Pillow)"
        ) from None
    try:
        import av  # noqa: F401

        return "pyav"
    except ImportError:
        pass
    try:
        import imageio_ffmpeg  # noqa: F401

        return "FFMPEG"
    except ImportError:
        raise ImportError(
            f"reading Human3.6M videos needs PyAV or imageio-ffmpeg next to imageio: "
            f"pip install weakpose[{VIDEO_EXTRA}]"
        ) from None


class VideoFrames(FrameSource):
    """An mp4 decoded with imageio (PyAV or imageio-ffmpeg plugin): sequential decoding for the kept frames,
    seeking for the few background frames. One handle serves all seeks (closing one costs a garbage collection
    in imageio's PyAV plugin); :meth:`close` releases it."""

    def __init__(self, path: PathLike):
        self.path = Path(path)
        self.plugin = _video_plugin()
        self._reader = None
        try:
            reader = self._open_reader()
            if self.plugin == "pyav":
                n = reader.properties().n_images
            else:
                meta = reader.metadata()
                n = meta.get("nframes")
                if not (n and np.isfinite(n)) and meta.get("duration") and meta.get("fps"):
                    n = round(float(meta["duration"]) * float(meta["fps"]))
            self.num_frames = int(n) if n and np.isfinite(n) else None
        except Exception as e:  # noqa: BLE001 - decoders raise many types on a broken file
            self.close()
            raise H36MFormatError(f"{self.path}: cannot open the video ({type(e).__name__}: {e})") from None

    def _open_reader(self):
        import imageio.v3 as iio

        if self._reader is None:
            self._reader = iio.imopen(self.path, "r", plugin=self.plugin)
        return self._reader

    def close(self) -> None:
        if self._reader is not None:
            reader, self._reader = self._reader, None
            reader.close()

    def read(self, index: int) -> np.ndarray:
        try:
            return np.asarray(self._open_reader().read(index=int(index)))[..., :3]
        except Exception as e:  # noqa: BLE001
            raise H36MFormatError(f"{self.path}: cannot decode frame {index + 1} ({type(e).__name__}: {e})") from None

    def iter_frames(self, indices: Sequence[int]) -> Iterator[Tuple[int, np.ndarray]]:
        import imageio.v3 as iio

        wanted = [int(i) for i in indices]
        if not wanted:
            return
        k, last = 0, -1
        try:
            with iio.imopen(self.path, "r", plugin=self.plugin) as f:
                for i, frame in enumerate(f.iter()):
                    last = i
                    if i == wanted[k]:
                        yield i, np.asarray(frame)[..., :3]
                        k += 1
                        if k == len(wanted):
                            return
        except H36MFormatError:
            raise
        except Exception as e:  # noqa: BLE001
            raise H36MFormatError(
                f"{self.path}: decoding failed after frame {last + 1} ({type(e).__name__}: {e})"
            ) from None
        raise H36MFormatError(f"{self.path}: the video ended after {last + 1} frames, frame {wanted[k] + 1} was needed")


def frame_source_candidates(root: Path, subject: str, stems: Sequence[str], camera_id: str) -> List[Path]:
    """Where the frames of one view may be, in the order tried: extracted folders, then videos."""
    sdir = root / subject
    folders = [sdir / "Images" / f"{s}.{camera_id}" for s in stems]
    videos = [sdir / "Videos" / f"{s}.{camera_id}.mp4" for s in stems]
    return folders + videos


def open_frame_source(root: PathLike, subject: str, stems: Sequence[str], camera_id: str) -> FrameSource:
    """The frames of ``subject``'s sequence (file stems ``stems``, first the CDF's own) through ``camera_id``:
    an extracted frames folder if there is one, else the video; an error naming every path tried."""
    tried = frame_source_candidates(Path(root), subject, stems, camera_id)
    for p in tried:
        if p.suffix == ".mp4" and p.is_file():
            return VideoFrames(p)
        if p.suffix != ".mp4" and p.is_dir() and any(_FRAME_FILE.match(q.name) for q in p.iterdir()):
            return FolderFrames(p)
    raise FileNotFoundError(
        f"no frames for {subject} {stems[0]!r} camera {camera_id}; tried "
        + ", ".join(str(p) + ("/frame_000001.jpg|img_000001.jpg" if p.suffix != ".mp4" else "") for p in tried)
    )


def _name_variants(stem: str) -> List[str]:
    """The file stem and its other spellings in the release (``TakingPhoto 1`` <-> ``Photo 1``,
    ``WalkingDog`` <-> ``WalkDog``), the stem's own first."""
    base, sep, rest = stem.partition(" ")
    names = [stem]
    for alias, canon in ACTION_ALIASES.items():
        for a, b in ((alias, canon), (canon, alias)):
            if base == a:
                names.append(b + sep + rest)
    return list(dict.fromkeys(names))


# ----------------------------------------------------------------------------------------------------------------
# cropping


def crop_resample(image: np.ndarray, box: np.ndarray, size: int) -> np.ndarray:
    """The square ``box = (x0, y0, side)`` (continuous full-image pixels, pixel ``i`` covering ``[i, i+1)``) of
    ``image`` ((H, W, 3) or (H, W) uint8) resampled to ``size``² with Pillow's antialiased bilinear filter; what lies
    outside the image is black. A mask (H, W) thereby becomes its coverage 0..255."""
    from PIL import Image

    x0, y0, side = (float(v) for v in np.asarray(box, dtype=np.float64).reshape(3))
    if not side > 0:
        raise ValueError(f"crop side must be positive; got box {box}")
    pad = int(np.ceil(side / size)) + 2  # the filter's reach: black beyond the image, whatever the scale
    ix0, iy0 = int(np.floor(x0)) - pad, int(np.floor(y0)) - pad
    ix1, iy1 = int(np.ceil(x0 + side)) + pad, int(np.ceil(y0 + side)) + pad
    im = Image.fromarray(np.ascontiguousarray(image))
    sub = im.crop((ix0, iy0, ix1, iy1))  # zero-padded where it leaves the image
    out = sub.resize((size, size), Image.BILINEAR, box=(x0 - ix0, y0 - iy0, x0 + side - ix0, y0 + side - iy0))
    return np.asarray(out, dtype=np.uint8)


def _encode_to(path: Path, array: np.ndarray, fmt: str, quality: int = 92) -> None:
    from PIL import Image

    with atomic_write_path(path) as tmp:
        if fmt == "JPEG":
            Image.fromarray(array).save(tmp, format="JPEG", quality=int(quality))
        else:
            Image.fromarray(array).save(tmp, format="PNG")


def _downscale(frame: np.ndarray, scale: float) -> np.ndarray:
    from PIL import Image

    h, w = frame.shape[:2]
    size = (max(1, int(round(w * scale))), max(1, int(round(h * scale))))
    return np.asarray(Image.fromarray(frame).resize(size, Image.BILINEAR), dtype=np.uint8)


# ----------------------------------------------------------------------------------------------------------------
# the release's sequences


@dataclass
class ReleaseSequence:
    """One pose file of the release and where it goes in the layout."""

    subject: str
    stem: str  # the file's own name without .cdf ('TakingPhoto 1')
    action: str  # canonical full name ('Photo 1')
    action_id: int
    subaction: int
    cdf: Path

    @property
    def annotation(self) -> str:
        return annotation_name(self.subject, self.action_id, self.subaction)


def _sub_number(name: str) -> int:
    rest = name.partition(" ")[2].strip()
    return int(rest) if rest.isdigit() else 0


def find_release_sequences(
    release_root: PathLike,
    subjects: Optional[Iterable[str]] = None,
    actions: Optional[Iterable[str]] = None,
    exclude: Iterable[Tuple[str, str]] = DEFAULT_EXCLUSIONS,
) -> List[ReleaseSequence]:
    """The CDF pose files of the release, numbered into (action id, sub-action) (see the module docstring).

    ``subjects``: e.g. ``["S1", "S9"]``; ``actions``: base (``Walking``) or full (``Walking 1``) canonical names,
    or the release's spelling (``TakingPhoto``). ``exclude``: (subject, base or full action) pairs left out.
    Errors name the folder or file expected when a requested subject or action has no pose file.
    """
    root = Path(release_root)
    found = dict(subject_dirs(root))
    if subjects is not None:
        subjects = [f"S{int(str(s).lstrip('Ss'))}" for s in subjects]
        missing = [s for s in subjects if s not in found]
        if missing:
            raise FileNotFoundError(f"subjects {missing} have no folder under {root} (found {sorted(found)})")
    else:
        subjects = list(found)
    want = None if actions is None else {canonical_action_name(a) for a in actions}
    excluded = {(s, canonical_action_name(a)) for s, a in exclude}
    out: List[ReleaseSequence] = []
    for subject in subjects:
        pose_dir = found[subject] / "MyPoseFeatures" / "D3_Positions"
        files = [f for f in list_files(pose_dir, ".cdf") if not f.stem.startswith("_")]
        if not files:
            raise FileNotFoundError(f"{pose_dir}: no pose files (<Action>.cdf of the D3_Positions release)")
        by_base: Dict[str, List[Path]] = {}
        for f in files:
            base = action_base(f.stem)
            if base not in ACTION_IDS:
                warnings.warn(f"{f}: action {base!r} is not one of the 15 Human3.6M actions; skipped", stacklevel=2)
                continue
            by_base.setdefault(base, []).append(f)
        for base, group in sorted(by_base.items(), key=lambda kv: ACTION_IDS[kv[0]]):
            group = sorted(group, key=lambda f: (_sub_number(f.stem), f.stem))
            for sub, f in enumerate(group, start=1):
                action = canonical_action_name(f.stem)
                if want is not None and action not in want and base not in want:
                    continue
                if (subject, action) in excluded or (subject, base) in excluded:
                    continue
                out.append(ReleaseSequence(subject, f.stem, action, ACTION_IDS[base], sub, f))
        if want is not None:
            got = {s.action for s in out if s.subject == subject} | {
                action_base(s.action) for s in out if s.subject == subject
            }
            for a in sorted(want - got):
                if (subject, a) in excluded or (subject, action_base(a)) in excluded:
                    continue
                raise FileNotFoundError(
                    f"{pose_dir / (a + '.cdf')}: no pose file for {subject} {a!r} (found {[f.name for f in files]})"
                )
    return out


# ----------------------------------------------------------------------------------------------------------------
# conversion


@dataclass
class _Options:
    out: Path
    release_root: Path
    masks_root: Path
    frame_step: int
    image_size: int
    cube_size: float
    max_frames: Optional[int]
    jpeg_quality: int
    frame_count_tolerance: int
    progress: bool


def _mask_path(opts: _Options, seq: ReleaseSequence, camera_id: str) -> Optional[Path]:
    for stem in _name_variants(seq.stem):
        p = opts.masks_root / seq.subject / "MySegmentsMat" / "ground_truth_bs" / f"{stem}.{camera_id}.mat"
        if p.is_file():
            return p
    return None


def _usable_count(num_poses: int, counts: Dict[Path, Optional[int]], tolerance: int, cdf: Path) -> int:
    """Frames usable by poses, images and masks alike: the shortest, when every file is within ``tolerance``
    frames of the poses (some videos carry a few extra frames); otherwise an error naming the file."""
    n = num_poses
    for path, count in counts.items():
        if count is None or count == num_poses:
            continue
        if abs(count - num_poses) > tolerance:
            raise H36MFormatError(
                f"{path}: {count} frames, but the poses {cdf} have {num_poses} "
                f"(more than {tolerance} apart: not the same sequence?)"
            )
        warnings.warn(
            f"{path}: {count} frames, poses {cdf.name} have {num_poses}: using the first {min(count, num_poses)}",
            stacklevel=3,
        )
        n = min(n, count)
    return n


def _convert_sequence(seq: ReleaseSequence, cams: dict, opts: _Options) -> Tuple[SequenceEntry, bool]:
    from tqdm.auto import tqdm

    from weakpose.skeleton import h36m32_to_17

    joints = np.asarray(h36m32_to_17(read_cdf_3d(seq.cdf)), dtype=np.float64)  # (N, 17, 3) metres
    cam_ids = [c for c in H36M_CAMERA_IDS if c in cams]
    stems = _name_variants(seq.stem)
    mask_paths = {c: _mask_path(opts, seq, c) for c in cam_ids}
    masks: Dict[str, MatMasks] = {}
    sources: Dict[str, FrameSource] = {}
    try:
        for c in cam_ids:
            sources[c] = open_frame_source(opts.release_root, seq.subject, stems, c)
        for c, p in mask_paths.items():
            if p is None:
                tried = opts.masks_root / seq.subject / "MySegmentsMat" / "ground_truth_bs" / f"{seq.stem}.{c}.mat"
                warnings.warn(
                    f"{tried}: no mask file (ground_truth_bs release); {seq.subject} {seq.action} "
                    f"camera {c} converted without masks",
                    stacklevel=3,
                )
            else:
                masks[c] = MatMasks(p)
        counts: Dict[Path, Optional[int]] = {sources[c].path: sources[c].num_frames for c in cam_ids}
        counts.update({m.path: len(m) for m in masks.values()})
        n_use = _usable_count(len(joints), counts, opts.frame_count_tolerance, seq.cdf)
        idx = np.arange(0, n_use, opts.frame_step)
        if opts.max_frames is not None:
            idx = idx[: opts.max_frames]
        if len(idx) == 0:
            raise H36MFormatError(f"{seq.cdf}: no frames to convert ({n_use} usable)")
        kept = joints[idx]
        boxes = np.stack([crop_box(cams[c], kept[:, 0], opts.cube_size) for c in cam_ids])  # (C, n, 3)
        S = opts.image_size
        bar = tqdm(
            total=len(idx) * len(cam_ids),
            desc=f"{seq.subject} {seq.action}",
            unit="img",
            leave=False,
            disable=not opts.progress,
            dynamic_ncols=True,
        )
        for ci, c in enumerate(cam_ids):
            folder = sequence_folder(seq.subject, seq.action_id, seq.subaction, camera_index(c))
            w, h = (int(v) for v in np.asarray(cams[c].image_size).reshape(2))
            for k, (i, frame) in enumerate(sources[c].iter_frames(idx)):
                if frame.shape[:2] != (h, w):
                    raise H36MFormatError(
                        f"{sources[c].path}: frame {i + 1} is {frame.shape[1]}x{frame.shape[0]}, "
                        f"the calibration of camera {c} is {w}x{h} (frames must be full size)"
                    )
                number = int(i) + 1
                _encode_to(
                    opts.out / "images" / folder / frame_name(folder, number, ".jpg"),
                    crop_resample(frame, boxes[ci, k], S),
                    "JPEG",
                    opts.jpeg_quality,
                )
                if c in masks:
                    mask = masks[c][int(i)]
                    if mask.shape != (h, w):
                        raise H36MFormatError(
                            f"{masks[c].path}: mask of frame {number} is {mask.shape[1]}x"
                            f"{mask.shape[0]} (after MATLAB's transpose), the frames are {w}x{h}"
                        )
                    _encode_to(
                        opts.out / "masks" / folder / frame_name(folder, number, ".png"),
                        crop_resample(mask, boxes[ci, k], S),
                        "PNG",
                    )
                bar.update(1)
        bar.close()
    finally:
        for m in masks.values():
            m.close()
        for src in sources.values():
            src.close()
    _write_annotation(opts.out / "annotations" / seq.annotation, kept, idx + 1, cams, cam_ids, boxes)
    entry = SequenceEntry(
        subject=seq.subject,
        action=seq.action,
        action_id=seq.action_id,
        subaction=seq.subaction,
        camera_ids=cam_ids,
        num_frames=len(idx),
    )
    return entry, len(masks) == len(cam_ids)


def _write_annotation(
    path: Path, joints: np.ndarray, frame_numbers: np.ndarray, cams: dict, cam_ids: Sequence[str], boxes: np.ndarray
) -> None:
    with atomic_write_path(path) as tmp:
        np.savez_compressed(
            tmp,
            joints_h36m17=joints.astype(np.float32),
            frame_indices=np.asarray(frame_numbers, dtype=np.int64),
            camera_ids=np.array(list(cam_ids)),
            crop_boxes=boxes.astype(np.float64),
            R=np.stack([np.asarray(cams[c].R, dtype=np.float64) for c in cam_ids]),
            t=np.stack([np.asarray(cams[c].t, dtype=np.float64) for c in cam_ids]),
            K=np.stack([np.asarray(cams[c].K, dtype=np.float64) for c in cam_ids]),
            dist=np.stack([np.asarray(cams[c].dist, dtype=np.float64) for c in cam_ids]),
            image_sizes=np.stack([np.asarray(cams[c].image_size) for c in cam_ids]),
        )


def _existing_entry(seq: ReleaseSequence, opts: _Options) -> Tuple[SequenceEntry, bool]:
    """The entry of a sequence an earlier run converted (from its annotation npz)."""
    from weakpose.data.datasets.multiview import load_annotation

    ann = load_annotation(opts.out / "annotations" / seq.annotation)
    cam_ids = [str(c) for c in ann["camera_ids"]]
    entry = SequenceEntry(
        subject=seq.subject,
        action=seq.action,
        action_id=seq.action_id,
        subaction=seq.subaction,
        camera_ids=cam_ids,
        num_frames=int(len(ann["joints_h36m17"])),
    )
    first = int(ann["frame_indices"][0]) if "frame_indices" in ann else 1
    has_masks = all(
        (opts.out / "masks" / entry.folder(c) / frame_name(entry.folder(c), first, ".png")).is_file() for c in cam_ids
    )
    return entry, has_masks


def _make_background(
    subject: str, camera_id: str, seqs: List[ReleaseSequence], num_frames: int, scale: float, opts: _Options
) -> np.ndarray:
    """Median of ``num_frames`` frames spread uniformly over all of ``subject``'s sequences seen by the camera
    (each frame downscaled by ``scale`` before the median, to keep the stack small)."""
    sources: List[FrameSource] = []
    try:
        lengths = []
        for seq in seqs:
            src = open_frame_source(opts.release_root, seq.subject, _name_variants(seq.stem), camera_id)
            sources.append(src)
            n = src.num_frames
            lengths.append(int(n if n is not None else len(read_cdf_3d(seq.cdf))))
        total = int(sum(lengths))
        count = max(1, min(int(num_frames), total))
        picks = np.unique(((np.arange(count) + 0.5) * total / count).astype(np.int64))
        starts = np.cumsum([0] + lengths[:-1])
        frames = []
        for g in picks:
            s = int(np.searchsorted(starts, g, side="right") - 1)
            src = sources[s]
            frames.append(_downscale(src.read(src.nearest_available(int(g - starts[s]))), scale))
    finally:
        for src in sources:
            src.close()
    return temporal_median_background(frames)


def _merge_index(
    out: Path,
    entries: Dict[str, SequenceEntry],
    no_masks: set,
    backgrounds: Dict[str, Dict[str, str]],
    opts: _Options,
    background_scale: float,
) -> dict:
    """Entries and backgrounds of an existing ``index.json`` (earlier runs into the same folder), checked for the
    same crop settings."""
    if not (out / INDEX_NAME).is_file():
        return {}
    old = read_index(out)
    if old.get("generator") != GENERATOR:
        raise ValueError(
            f"{out / INDEX_NAME}: {out} holds a set made by {old.get('generator')!r}, not by the "
            f"Human3.6M converter; convert into another folder"
        )
    for key, mine in (("image_size", opts.image_size), ("cube_size", opts.cube_size)):
        if key in old and float(old[key]) != float(mine):
            raise ValueError(
                f"{out / INDEX_NAME}: {out} holds crops with {key}={old[key]}, this run asks for "
                f"{mine}; convert into another folder"
            )
    old_step = old.get("config", {}).get("frame_step")
    if old_step is not None and int(old_step) != opts.frame_step:
        raise ValueError(
            f"{out / INDEX_NAME}: {out} was converted with frame_step={old_step}, this run asks "
            f"for {opts.frame_step}; convert into another folder"
        )
    old_scale = old.get("background_scale")
    if old_scale is not None and float(old_scale) != float(background_scale) and old.get("backgrounds"):
        raise ValueError(
            f"{out / INDEX_NAME}: backgrounds were written at background_scale={old_scale}, this run "
            f"asks for {background_scale}; convert into another folder"
        )
    for raw in old.get("sequences", []):
        e = SequenceEntry(**raw)
        if (out / "annotations" / e.annotation).is_file():
            entries.setdefault(e.annotation, e)
    no_masks.update(old.get("sequences_without_masks", []))
    for s, per_cam in old.get("backgrounds", {}).items():
        for c, rel in per_cam.items():
            if (out / rel).is_file():
                backgrounds.setdefault(s, {}).setdefault(c, rel)
    return old


def convert_h36m_images(
    release_root: PathLike,
    out_dir: PathLike,
    subjects: Optional[Iterable[str]] = None,
    actions: Optional[Iterable[str]] = None,
    frame_step: int = 5,
    image_size: int = 128,
    cube_size: float = 2.0,
    background_frames: int = 50,
    max_frames: Optional[int] = None,
    jpeg_quality: int = 92,
    progress: bool = True,
    *,
    background_scale: float = 0.5,
    masks_root: Optional[PathLike] = None,
    cameras="h36m",
    camera_ids: Optional[Iterable[str]] = None,
    exclude: Iterable[Tuple[str, str]] = DEFAULT_EXCLUSIONS,
    frame_count_tolerance: int = 10,
) -> Path:
    """Convert the original release under ``release_root`` into the crop layout in ``out_dir``; returns the path
    of the written ``index.json`` (see the module docstring for inputs, naming and resuming).

    frame_step: keep every n-th 50 Hz frame (5 -> 10 Hz). max_frames: at most this many kept frames per sequence.
    background_frames: frames in each (subject, camera) median background (0: no backgrounds).
    masks_root: where the ``ground_truth_bs`` tree (``S*/MySegmentsMat/ground_truth_bs``) lies, default the
    release root. cameras: ``"h36m"`` (the shipped calibration), a ``camera-parameters.json`` or a Martinez
    ``cameras.h5``. camera_ids: the views to convert (default: the four Human3.6M cameras; every one needs frames
    for every sequence, a view without them is an error naming the paths tried). frame_count_tolerance: videos
    or mask files this many frames longer or shorter than the poses are trimmed to the shortest (with a
    warning); more is an error.
    """
    from tqdm.auto import tqdm

    from weakpose.data.h36m.loaders import resolve_cameras

    if frame_step < 1 or image_size < 8 or cube_size <= 0 or not 0 < background_scale <= 1:
        raise ValueError(
            f"need frame_step >= 1, image_size >= 8, cube_size > 0 and 0 < background_scale <= 1; "
            f"got {frame_step}, {image_size}, {cube_size}, {background_scale}"
        )
    root, out = Path(release_root), Path(out_dir)
    opts = _Options(
        out=out,
        release_root=root,
        masks_root=Path(masks_root) if masks_root else root,
        frame_step=int(frame_step),
        image_size=int(image_size),
        cube_size=float(cube_size),
        max_frames=None if max_frames is None else int(max_frames),
        jpeg_quality=int(jpeg_quality),
        frame_count_tolerance=int(frame_count_tolerance),
        progress=progress,
    )
    seqs = find_release_sequences(root, subjects, actions, exclude)
    if not seqs:
        raise FileNotFoundError(
            f"no Human3.6M sequences selected under {root} (subjects={subjects}, actions={actions})"
        )
    all_cams = resolve_cameras(cameras)
    wanted_ids = list(H36M_CAMERA_IDS) if camera_ids is None else [str(c) for c in camera_ids]
    unknown = [c for c in wanted_ids if c not in H36M_CAMERA_IDS]
    if unknown or not wanted_ids:
        raise KeyError(f"camera_ids {unknown or wanted_ids}: Human3.6M cameras are {list(H36M_CAMERA_IDS)}")
    cams_of = {}
    for s in sorted({q.subject for q in seqs}):
        missing = [c for c in wanted_ids if c not in all_cams.get(s, {})]
        if missing:
            raise KeyError(f"no camera calibration for {s} cameras {missing} in {cameras!r}")
        cams_of[s] = {c: all_cams[s][c] for c in H36M_CAMERA_IDS if c in wanted_ids}
        for c, cam in cams_of[s].items():
            if cam.image_size is None:
                cams_of[s][c] = cam.replace(image_size=H36M_IMAGE_SIZES[c])

    entries: Dict[str, SequenceEntry] = {}
    no_masks: set = set()
    backgrounds: Dict[str, Dict[str, str]] = {}
    out.mkdir(parents=True, exist_ok=True)
    clean_output_folder(out, recursive=True)  # crops and annotations a killed conversion left half-written
    _merge_index(out, entries, no_masks, backgrounds, opts, background_scale)
    config = {
        "frame_step": opts.frame_step,
        "image_size": opts.image_size,
        "cube_size": opts.cube_size,
        "background_frames": int(background_frames),
        "max_frames": opts.max_frames,
        "jpeg_quality": opts.jpeg_quality,
    }

    def flush() -> Path:
        ordered = sorted(entries.values(), key=lambda e: (int(e.subject[1:]), e.action_id, e.subaction))
        return write_index(
            out,
            ordered,
            opts.image_size,
            opts.cube_size,
            extra={
                "actions": {str(v): k for k, v in ACTION_IDS.items()},
                "generator": GENERATOR,
                "source": "Human3.6M original release",
                "config": config,
                "masks": not (no_masks & set(entries)),
                "sequences_without_masks": sorted(no_masks & set(entries)),
                "background_scale": float(background_scale),
                "backgrounds": {
                    s: dict(sorted(backgrounds[s].items(), key=lambda kv: camera_index(kv[0])))
                    for s in sorted(backgrounds, key=lambda s: int(s[1:]))
                },
                "credits": "Human3.6M (Ionescu, Papava, Olaru, Sminchisescu, TPAMI 2014); its licence forbids "
                "redistributing these crops. Cameras: Human3.6M calibration.",
            },
        )

    index_path = out / INDEX_NAME
    by_subject: Dict[str, List[ReleaseSequence]] = {}
    for q in seqs:
        by_subject.setdefault(q.subject, []).append(q)
    outer = tqdm(total=len(seqs), desc="convert-h36m-images", unit="seq", disable=not progress, dynamic_ncols=True)
    for subject, subject_seqs in by_subject.items():
        cams = cams_of[subject]
        if background_frames > 0:
            for c in cams:
                rel = background_name(subject, c)
                if not (out / rel).is_file():
                    outer.set_postfix_str(f"median background {subject} camera {c}")
                    bg = _make_background(subject, c, subject_seqs, background_frames, background_scale, opts)
                    _encode_to(out / rel, bg, "JPEG", opts.jpeg_quality)
                backgrounds.setdefault(subject, {})[c] = rel
        for seq in subject_seqs:
            no_masks.discard(seq.annotation)
            if (out / "annotations" / seq.annotation).is_file():
                entry, has_masks = _existing_entry(seq, opts)
            else:
                entry, has_masks = _convert_sequence(seq, cams, opts)
            entries[seq.annotation] = entry
            if not has_masks:
                no_masks.add(seq.annotation)
            index_path = flush()
            outer.set_postfix_str("")
            outer.update(1)
    outer.close()
    return index_path


# ----------------------------------------------------------------------------------------------------------------
# CLI


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="weakpose convert-h36m-images",
        description="Convert the original Human3.6M release (D3_Positions CDF poses, videos or extracted frames, "
        "optional ground_truth_bs masks) into weakpose's multi-view crop layout "
        "(images/, masks/, annotations/, backgrounds/, index.json). Resumable.",
    )
    p.add_argument("release_root", help="release root holding S1, S5, ... folders")
    p.add_argument("out_dir", help="output folder (a second run continues where the first stopped)")
    p.add_argument("--subjects", nargs="+", default=None, help="e.g. S1 S5 (default: all found)")
    p.add_argument("--actions", nargs="+", default=None, help="e.g. Walking 'Walking 1' Photo (default: all)")
    p.add_argument("--frame-step", type=int, default=5, help="keep every n-th 50 Hz frame (default 5)")
    p.add_argument("--image-size", type=int, default=128, help="crop size in pixels (default 128)")
    p.add_argument("--cube-size", type=float, default=2.0, help="metres of the root-centred cube (default 2)")
    p.add_argument("--max-frames", type=int, default=None, help="at most this many frames per sequence")
    p.add_argument(
        "--background-frames", type=int, default=50, help="frames in each median background (default 50; 0: none)"
    )
    p.add_argument(
        "--background-scale",
        type=float,
        default=0.5,
        help="backgrounds at this fraction of the full resolution (default 0.5)",
    )
    p.add_argument("--jpeg-quality", type=int, default=92)
    p.add_argument(
        "--masks-root",
        default=None,
        help="root of the ground_truth_bs release (S*/MySegmentsMat/ground_truth_bs; default: release_root)",
    )
    p.add_argument(
        "--cameras",
        default="h36m",
        help="camera-parameters.json or Martinez cameras.h5 (default: the calibration shipped with weakpose)",
    )
    p.add_argument(
        "--camera-ids", nargs="+", default=None, help="views to convert, e.g. 54138969 60457274 (default: all four)"
    )
    p.add_argument(
        "--keep-excluded",
        action="store_true",
        help="also convert S11 Directions (its 54138969 video is corrupt; left out by default)",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    """``weakpose convert-h36m-images <release_root> <out_dir> [...]``."""
    args = build_parser().parse_args(argv)
    try:
        index = convert_h36m_images(
            args.release_root,
            args.out_dir,
            subjects=args.subjects,
            actions=args.actions,
            frame_step=args.frame_step,
            image_size=args.image_size,
            cube_size=args.cube_size,
            background_frames=args.background_frames,
            max_frames=args.max_frames,
            jpeg_quality=args.jpeg_quality,
            progress=not args.no_progress,
            background_scale=args.background_scale,
            masks_root=args.masks_root,
            cameras=args.cameras,
            camera_ids=args.camera_ids,
            exclude=() if args.keep_excluded else DEFAULT_EXCLUSIONS,
        )
    except (OSError, ValueError, KeyError, ImportError) as e:
        print(f"weakpose convert-h36m-images: error: {e}", file=sys.stderr)
        return 1
    idx = read_index(Path(args.out_dir))
    n = sum(s["num_frames"] * len(s["camera_ids"]) for s in idx["sequences"])
    print(
        f"{len(idx['sequences'])} sequences, {n} crops in {args.out_dir} (index: {index}"
        f"{'' if idx.get('masks') else '; some or all without masks'})"
    )
    return 0


__all__ = [
    "ACTION_IDS",
    "DEFAULT_EXCLUSIONS",
    "VIDEO_EXTRA",
    "temporal_median_background",
    "MatMasks",
    "FrameSource",
    "FolderFrames",
    "VideoFrames",
    "open_frame_source",
    "crop_resample",
    "ReleaseSequence",
    "find_release_sequences",
    "convert_h36m_images",
    "build_parser",
    "main",
]


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
