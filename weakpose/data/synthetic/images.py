"""The embedded default of the image pipeline: a Human3.6M-style multi-view image set rendered on the CPU.

``make_synthetic_images(out_dir)`` (``weakpose make-synthetic --images``) poses the body model (the open default, or
any SMPL-format file) with the real CMU motion of the keypoint default, adds sampled poses, dresses each subject in
its own clothes, and renders every frame through the four real Human3.6M cameras of that subject in front of a
static textured room (also written once per subject and camera, without the person, as the layout's background
image), as root-centred crops (a ``cube_size`` cube around the pelvis projected into the image and
resampled to ``image_size`` pixels, as Rhodin et al. 2018 crop). Output: the layout of
:mod:`weakpose.data.datasets.multiview` (per-sequence-and-camera folders of JPEG frames and PNG masks, per-sequence
annotations with H36M-17 and SMPL-24 3D joints, SMPL parameters, cameras and crop boxes, and ``index.json``).

How the motion becomes body poses: the keypoint default's H36M-17 world tracks (its subjects' own bone lengths)
are retargeted onto each subject's body (:func:`weakpose.body.retarget.retarget_h36m17`): joint rotations whose
bones point where the track's do. The labels written are the rendered body's own joints, so images and labels
agree exactly. The "Sampled" action perturbs such poses (hips, shoulders, spine, neck) for pose variety.
Anti-aliasing: each crop is rasterised at ``supersample`` x the output size and box-filtered down, which also
makes the mask a coverage fraction.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from tqdm.auto import tqdm

from weakpose.body.appearance import sample_clothing, vertex_colours
from weakpose.body.retarget import retarget_h36m17
from weakpose.data.datasets.multiview import (
    SequenceEntry,
    annotation_name,
    background_name,
    camera_index,
    frame_name,
    sequence_folder,
    write_index,
)
from weakpose.data.h36m.cameras import H36M_CAMERA_IDS, load_h36m_cameras_json
from weakpose.data.synthetic.scene import RoomStyle, crop_box, crop_camera, render_room
from weakpose.geometry import Camera
from weakpose.geometry.rotations import axis_angle_to_matrix, matrix_to_axis_angle
from weakpose.io_utils import atomic_write_path, clean_output_folder

SAMPLED_ACTION = "Sampled"


@dataclass
class SyntheticImageConfig:
    """Size and content of the rendered set (defaults: the small set that generates in a few minutes).

    frame_step: keep every ``frame_step``-th 50 Hz frame (5 -> 10 Hz, consecutive frames still differ).
    max_frames: frames kept per sequence (after the step). sampled_frames: frames of the "Sampled" action per
    subject. model_path: an SMPL-format .npz/.pkl; unset = weakpose's open body model. background_scale: the
    room is ray-cast once per camera at this fraction of the full image resolution and resampled into each crop.
    """

    seed: int = 0
    image_size: int = 128
    supersample: int = 2
    cube_size: float = 2.0
    frame_step: int = 5
    max_frames: int = 24
    sampled_frames: int = 24
    beta_scale: float = 1.0
    actions: Optional[List[str]] = None
    subjects: Optional[List[str]] = None
    model_path: Optional[str] = None
    keypoint_dir: Optional[str] = None
    jpeg_quality: int = 92
    background_scale: float = 0.4
    light_direction: Tuple[float, float, float] = (0.3, -0.5, 1.0)


# ----------------------------------------------------------------------------------------------------------------
# motion -> body


def _load_tracks(cfg: SyntheticImageConfig, out_dir: Path) -> Dict[str, Dict[str, np.ndarray]]:
    """H36M-17 world tracks (metres, Z up, 50 Hz) of the keypoint default, per subject and action."""
    from weakpose.data.synthetic.keypoints import ensure_synthetic

    keypoint_dir = Path(cfg.keypoint_dir) if cfg.keypoint_dir else out_dir / "keypoints"
    paths = ensure_synthetic(keypoint_dir, seed=cfg.seed, **({"actions": cfg.actions} if cfg.actions else {}))
    from weakpose.data.h36m.readers import read_videopose3d_3d

    tracks = read_videopose3d_3d(paths.data_3d)  # a user's --keypoint-dir file: read without unpickling code
    if cfg.subjects:
        missing = sorted(set(cfg.subjects) - set(tracks))
        if missing:
            raise KeyError(f"subjects {missing} are not in {paths.data_3d} (has {sorted(tracks)})")
        tracks = {s: tracks[s] for s in cfg.subjects}
    return tracks


def _vertex_normals(vertices: torch.Tensor, faces: torch.Tensor) -> torch.Tensor:
    tri = vertices[:, faces]  # (B, F, 3, 3)
    n = torch.cross(tri[:, :, 1] - tri[:, :, 0], tri[:, :, 2] - tri[:, :, 0], dim=-1)
    normals = torch.zeros_like(vertices)
    for k in range(3):
        normals.index_add_(1, faces[:, k], n)
    return normals / normals.norm(dim=-1, keepdim=True).clamp_min(1e-12)


def _shade(colours: np.ndarray, normals: torch.Tensor, light: np.ndarray) -> torch.Tensor:
    """Lambert with a two-sided ambient term: faces turned away from the light stay visible."""
    lam = (normals @ torch.as_tensor(light, dtype=normals.dtype)).clamp_min(0)
    return torch.as_tensor(colours, dtype=normals.dtype) * (0.45 + 0.6 * lam)[..., None]


def _sample_poses(local_rotations: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    """Perturb randomly chosen retargeted frames: more varied poses that stay anatomically plausible."""
    from weakpose.skeleton import SMPL24

    picks = local_rotations[rng.integers(0, len(local_rotations), size=count)].copy()
    joints = [SMPL24.index(n) for n in ("l_hip", "r_hip", "spine1", "spine3", "neck", "l_shoulder", "r_shoulder")]
    noise = rng.normal(scale=0.35, size=(count, len(joints), 3))
    picks[:, joints] = np.asarray(axis_angle_to_matrix(noise)) @ picks[:, joints]
    return picks


# ----------------------------------------------------------------------------------------------------------------
# rendering


def _batched_crop_cameras(camera: Camera, boxes: np.ndarray, size: int) -> Camera:
    return Camera.stack([crop_camera(camera, b, size) for b in boxes])


def room_image(camera: Camera, style: RoomStyle, scale: float) -> torch.Tensor:
    """The room as ``camera`` sees it, ``(3, H, W)`` at ``scale`` x the camera's resolution (square, top-left)."""
    side = int(max(float(v) for v in np.asarray(camera.image_size).reshape(2)))
    n = max(8, int(round(side * scale)))
    small = crop_camera(camera, np.array([0.0, 0.0, float(side)]), n)
    return torch.from_numpy(render_room(small, n, n, style)).permute(2, 0, 1)


def sample_crops(room: torch.Tensor, boxes: np.ndarray, size: int, scale: float) -> torch.Tensor:
    """Bilinear samples of a :func:`room_image` at the pixel centres of ``size``² crops ``(N, 3)`` boxes:
    ``(N, size, size, 3)``."""
    boxes_t = torch.as_tensor(boxes, dtype=torch.float32)
    centres = (torch.arange(size, dtype=torch.float32) + 0.5) / size  # fraction of the crop side
    u = boxes_t[:, None, 0] + centres[None] * boxes_t[:, None, 2]  # (N, size) full-image pixels
    v = boxes_t[:, None, 1] + centres[None] * boxes_t[:, None, 2]
    n_pix = room.shape[-1]
    full = n_pix / scale  # full-image pixels spanned by the room image
    gx = (u / full) * 2 - 1
    gy = (v / full) * 2 - 1
    grid = torch.stack(torch.broadcast_tensors(gx[:, None, :], gy[:, :, None]), dim=-1)  # (N, size, size, 2)
    img = torch.nn.functional.grid_sample(
        room[None].expand(len(boxes), -1, -1, -1).float(),
        grid,
        mode="bilinear",
        padding_mode="border",
        align_corners=False,
    )
    return img.permute(0, 2, 3, 1)


def _downsample(x: torch.Tensor, factor: int) -> torch.Tensor:
    """Box filter (B, H, W, C) by an integer factor."""
    if factor == 1:
        return x
    b, h, w, c = x.shape
    return x.reshape(b, h // factor, factor, w // factor, factor, c).mean(dim=(2, 4))


def _write_png(path: Path, array: np.ndarray) -> None:
    from PIL import Image

    with atomic_write_path(path) as tmp:
        Image.fromarray(array).save(tmp, format="PNG")


def _write_jpeg(path: Path, array: np.ndarray, quality: int) -> None:
    from PIL import Image

    with atomic_write_path(path) as tmp:
        Image.fromarray(array).save(tmp, format="JPEG", quality=quality)


@dataclass
class SyntheticImagePaths:
    root: Path
    index: Path
    num_sequences: int
    num_images: int
    seconds: float


def make_synthetic_images(out_dir, config: Optional[SyntheticImageConfig] = None, **overrides) -> SyntheticImagePaths:
    """Render the image set into ``out_dir`` (see the module docstring); returns where it went."""
    from weakpose.body import BodyModel
    from weakpose.render import HardRasterizer

    cfg = config or SyntheticImageConfig()
    for k, v in overrides.items():
        if not hasattr(cfg, k):
            raise TypeError(f"unknown SyntheticImageConfig field {k!r}")
        setattr(cfg, k, v)
    start = time.perf_counter()
    out = Path(out_dir)
    rng = np.random.default_rng(cfg.seed)
    body = BodyModel.from_file(cfg.model_path) if cfg.model_path else BodyModel.default()
    if not body.has_h36m_regressor:
        raise ValueError(
            f"{body.source}: the body model has no J_regressor_h36m; convert it with "
            f"`weakpose convert-smpl --h36m-regressor J_regressor_h36m.npy`"
        )
    faces = body.faces
    tracks = _load_tracks(cfg, out)
    clean_output_folder(out, recursive=True)  # images a killed render left half-written
    cams_by_subject = load_h36m_cameras_json()
    room = RoomStyle()
    light = np.asarray(cfg.light_direction, dtype=np.float64)
    light /= np.linalg.norm(light)
    hi = cfg.image_size * cfg.supersample
    raster = HardRasterizer(image_size=(hi, hi), background=(0.0, 0.0, 0.0))
    action_names = sorted({a.split(" ")[0] for s in tracks.values() for a in s} | {SAMPLED_ACTION})
    action_ids = {a: i + 2 for i, a in enumerate(action_names)}  # Human3.6M numbers its actions from 2
    entries: List[SequenceEntry] = []
    subjects = sorted(tracks, key=lambda s: int(s[1:]))
    work = [(s, a) for s in subjects for a in sorted(tracks[s])]
    if cfg.sampled_frames > 0:
        work += [(s, SAMPLED_ACTION) for s in subjects]
    num_images = 0
    subject_state = {}
    backgrounds: Dict[Tuple[str, str], torch.Tensor] = {}
    with torch.no_grad():
        for i, subject in enumerate(subjects):
            betas = torch.as_tensor(rng.normal(scale=cfg.beta_scale, size=(1, body.num_betas)), dtype=torch.float32)
            rest = body(betas=betas)
            style = sample_clothing(rng, i, len(subjects))
            labels = _part_labels(body)
            colours = vertex_colours(rest.vertices[0].numpy(), labels, rest.joints[0].numpy(), style)
            subject_state[subject] = (betas, rest.joints[0].double().numpy(), colours, asdict(style))

        for subject, action in tqdm(work, desc="render", unit="seq", dynamic_ncols=True):
            betas, rest_joints, colours, style = subject_state[subject]
            if action == SAMPLED_ACTION:
                base = np.concatenate([t[:: cfg.frame_step] for t in tracks[subject].values()])
                res = retarget_h36m17(rest_joints, base)
                local = _sample_poses(res.local_rotations, cfg.sampled_frames, rng)
                transl = res.transl[rng.integers(0, len(base), size=cfg.sampled_frames)]
            else:
                track = tracks[subject][action][:: cfg.frame_step][: cfg.max_frames]
                res = retarget_h36m17(rest_joints, track)
                local, transl = res.local_rotations, res.transl
            n = len(local)
            local_t = torch.as_tensor(local, dtype=torch.float32)
            posed = body(
                betas=betas.expand(n, -1),
                global_orient=local_t[:, 0],
                body_pose=local_t[:, 1:],
                transl=torch.as_tensor(transl, dtype=torch.float32),
                pose_type="matrix",
            )
            shaded = _shade(colours, _vertex_normals(posed.vertices, faces), light)
            root = posed.joints_h36m17[:, 0].double().numpy()
            name, _, sub = action.partition(" ")
            subaction = int(sub) if sub.isdigit() else 1
            cams = cams_by_subject[subject]
            cam_ids = [c for c in H36M_CAMERA_IDS if c in cams]
            boxes = np.stack([crop_box(cams[c], root, cfg.cube_size) for c in cam_ids])  # (C, N, 3)
            for c_i, cam_id in enumerate(cam_ids):
                key = (subject, cam_id)
                if key not in backgrounds:
                    backgrounds[key] = room_image(cams[cam_id], room, cfg.background_scale)
                crop = _batched_crop_cameras(cams[cam_id], boxes[c_i], hi)
                frags = raster.render(posed.vertices.double(), faces, crop, vertex_colors=shaded.double())
                mask_hi = frags.mask.float()[..., None]
                bg_hi = sample_crops(backgrounds[key], boxes[c_i], hi, cfg.background_scale)
                image = _downsample(frags.rgb.float() * mask_hi + (1 - mask_hi) * bg_hi, cfg.supersample)
                cover = _downsample(mask_hi, cfg.supersample)
                folder = sequence_folder(subject, action_ids[name], subaction, camera_index(cam_id))
                for f in range(n):
                    _write_jpeg(
                        out / "images" / folder / frame_name(folder, f + 1, ".jpg"),
                        (image[f].clamp(0, 1) * 255 + 0.5).to(torch.uint8).numpy(),
                        cfg.jpeg_quality,
                    )
                    _write_png(
                        out / "masks" / folder / frame_name(folder, f + 1, ".png"),
                        (cover[f, ..., 0] * 255 + 0.5).to(torch.uint8).numpy(),
                    )
                num_images += n
            _write_annotation(
                out / "annotations" / annotation_name(subject, action_ids[name], subaction),
                posed,
                local,
                betas,
                transl,
                cams,
                cam_ids,
                boxes,
            )
            entries.append(
                SequenceEntry(
                    subject=subject,
                    action=action,
                    action_id=action_ids[name],
                    subaction=subaction,
                    camera_ids=cam_ids,
                    num_frames=n,
                )
            )
    background_files = {}
    for (subject, cam_id), bg in backgrounds.items():
        rel = background_name(subject, cam_id)
        _write_jpeg(out / rel, (bg.permute(1, 2, 0).clamp(0, 1) * 255 + 0.5).to(torch.uint8).numpy(), cfg.jpeg_quality)
        background_files.setdefault(subject, {})[cam_id] = rel
    index = write_index(
        out,
        entries,
        cfg.image_size,
        cfg.cube_size,
        extra={
            "background_scale": float(cfg.background_scale),
            "backgrounds": background_files,
            "actions": {str(v): k for k, v in action_ids.items()},
            "generator": "weakpose.data.synthetic_images",
            "config": {k: v for k, v in asdict(cfg).items()},
            "body_model": str(body.source),
            "subjects": {
                s: {"betas": subject_state[s][0][0].tolist(), "clothing": subject_state[s][3]} for s in subjects
            },
            "credits": "Motion: The data used in this project was obtained from mocap.cs.cmu.edu. The database was "
            "created with funding from NSF EIA-0196217. Cameras: Human3.6M calibration (MIT).",
        },
    )
    return SyntheticImagePaths(out, index, len(entries), num_images, time.perf_counter() - start)


def _part_labels(body) -> np.ndarray:
    """The SMPL-24 joint that dominates each vertex's skinning."""
    return body.lbs_weights.argmax(dim=-1).cpu().numpy()


def _write_annotation(
    path: Path,
    posed,
    local: np.ndarray,
    betas: torch.Tensor,
    transl: np.ndarray,
    cams: Dict[str, Camera],
    cam_ids: Sequence[str],
    boxes: np.ndarray,
) -> None:
    arr = lambda x: np.asarray(x, dtype=np.float32)  # noqa: E731
    axis_angle = np.asarray(matrix_to_axis_angle(torch.as_tensor(local, dtype=torch.float64)))
    with atomic_write_path(path) as tmp:
        np.savez_compressed(
            tmp,
            joints_h36m17=arr(posed.joints_h36m17),
            joints_smpl24=arr(posed.joints),
            global_orient=arr(axis_angle[:, 0]),
            body_pose=arr(axis_angle[:, 1:].reshape(len(local), -1)),
            betas=arr(betas[0]),
            transl=arr(transl),
            frame_indices=np.arange(1, len(local) + 1),
            camera_ids=np.array(list(cam_ids)),
            crop_boxes=boxes.astype(np.float64),
            R=np.stack([np.asarray(cams[c].R) for c in cam_ids]),
            t=np.stack([np.asarray(cams[c].t) for c in cam_ids]),
            K=np.stack([np.asarray(cams[c].K) for c in cam_ids]),
            dist=np.stack([np.asarray(cams[c].dist) for c in cam_ids]),
            image_sizes=np.stack([np.asarray(cams[c].image_size) for c in cam_ids]),
        )


DEFAULT_IMAGE_ROOT = "data/synthetic_images"


def ensure_synthetic_images(root=DEFAULT_IMAGE_ROOT) -> Path:
    """The embedded default image set at ``root``, rendered on first use (about a minute and a half on 2 cores).

    A set written by an older weakpose without background images is rendered again; a folder holding another
    layout (e.g. converted Human3.6M) is returned as it is.
    """
    import json

    from weakpose.data.datasets.multiview import INDEX_NAME

    root = Path(root)
    index_path = root / INDEX_NAME
    if index_path.is_file():
        index = json.loads(index_path.read_text(encoding="utf-8"))
        if index.get("generator") != "weakpose.data.synthetic_images" or "backgrounds" in index:
            return root
        print(f"{root}: synthetic images without backgrounds (older weakpose); rendering them again")
    else:
        print(f"{root}: no image set yet; rendering the embedded synthetic default (about 1-2 minutes)")
    make_synthetic_images(root)
    return root


__all__ = [
    "ensure_synthetic_images",
    "DEFAULT_IMAGE_ROOT",
    "SyntheticImageConfig",
    "SyntheticImagePaths",
    "make_synthetic_images",
    "SAMPLED_ACTION",
]
