"""``weakpose evaluate`` and ``weakpose lift``: use a saved lifter (:mod:`weakpose.lifters`) on data files.

    weakpose evaluate --checkpoint runs/lifter_baseline/lifter.pt --data3d data_3d_h36m.npz [--data2d D2.npz]
    weakpose lift --checkpoint runs/lifter_baseline/lifter.pt --keypoints data_2d_custom_myvideos.npz
    weakpose lift --keypoints data_2d_custom_myvideos.npz      # the shipped lifter (weakpose.pretrained)

``evaluate`` scores the test subjects (S9, S11 by default) per action, prints the table with its protocol line
(15-action mean and frame mean) and writes it as JSON. Checkpoint selection belongs to training (on a validation
split of the training subjects); this command only measures.
``lift`` turns a VideoPose3D-layout 2D file (custom in-the-wild layout, one "subject" per video; COCO-17 and
MPII-16 are converted to H36M-17) into root-relative 3D in each camera's frame, written as an npz, and draws an
animated skeleton GIF of the first video.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import numpy as np

from weakpose.data.datasets import PoseFrameDataset, PoseWindowDataset
from weakpose.data.h36m import TEST_SUBJECTS, load_videopose3d
from weakpose.evaluation import evaluate_views, lifter_protocol, predict_sequences, predict_views
from weakpose.io_utils import atomic_write_path
from weakpose.lifters import lift_batch, load_lifter, receptive_field


def _dataset(data, model, require_3d: bool):
    rf = receptive_field(model)
    if rf > 1:
        return PoseWindowDataset(data, receptive_field=rf, require_3d=require_3d, causal=getattr(model, "causal", False))
    return PoseFrameDataset(data, require_3d=require_3d)


def _predict(model, ds, batch_size: int, flip: bool):
    """Temporal lifters lift each view as a whole sequence; single-frame lifters take batches of frames."""
    if callable(getattr(model, "lift_sequence", None)):
        return predict_sequences(model, ds, flip=flip)
    if flip:
        raise ValueError("--flip: test-time flip averaging is implemented for temporal lifters")
    return predict_views(lambda b: lift_batch(model, b["keypoints_2d"]), ds, batch_size=batch_size)


def evaluate_main(argv: Optional[Sequence[str]] = None) -> int:
    p = argparse.ArgumentParser(prog="weakpose evaluate", description="Per-action MPJPE/P-MPJPE/N-MPJPE/MPJVE of "
                                "a saved lifter on the test subjects, with the protocol line.")
    p.add_argument("--checkpoint", required=True, help="a lifter file (runs/<name>/lifter.pt)")
    p.add_argument("--data3d", required=True, help="VideoPose3D-format 3D npz (e.g. data_3d_h36m.npz)")
    p.add_argument("--data2d", default=None, help="2D npz (detections); default: ground-truth projection")
    p.add_argument("--subjects", nargs="+", default=list(TEST_SUBJECTS))
    p.add_argument("--out", default=None, help="JSON output (default: eval_<2D source>.json next to the checkpoint)")
    p.add_argument("--batch-size", type=int, default=1024)
    p.add_argument("--flip", action="store_true", help="average with the mirrored sequence (VideoPose3D's test-time "
                   "flip augmentation; temporal lifters)")
    args = p.parse_args(argv)
    _check_batch_size(p, args.batch_size)
    try:
        model, info = load_lifter(args.checkpoint)
        data = load_videopose3d(args.data3d, args.data2d, subjects=args.subjects)
    except (OSError, KeyError, ValueError) as e:
        print(f"weakpose evaluate: {e}", file=sys.stderr)
        return 2
    test = data.select(subjects=args.subjects)
    if len(test) == 0:
        print(f"weakpose evaluate: no sequences of {args.subjects} in {args.data3d}", file=sys.stderr)
        return 2
    ds = _dataset(test, model, require_3d=True)
    canonical = info.get("output_frame") == "canonical"
    metrics = ("p_mpjpe",) if canonical else ("mpjpe", "p_mpjpe", "n_mpjpe", "mpjve")
    try:
        views = _predict(model, ds, args.batch_size, args.flip)
    except ValueError as e:
        print(f"weakpose evaluate: {e}", file=sys.stderr)
        return 2
    table = evaluate_views(views, metrics=metrics)
    source = "GT projection" if args.data2d is None else Path(args.data2d).name
    exclusions = [f"{e.subject}/{e.action}" for e in data.report.entries if e.reason == "excluded"]
    protocol = lifter_protocol(source, exclusions, flip_augmentation=args.flip)
    print(f"{Path(args.checkpoint)} ({info['kind']}, receptive field {receptive_field(model)}, "
          f"output frame {info.get('output_frame', 'camera')}) on {args.subjects}")
    print(table.format(protocol))
    out = Path(args.out) if args.out else Path(args.checkpoint).with_name(
        f"eval_{Path(args.data2d).stem if args.data2d else 'gt'}.json")
    table.save_json(out, protocol)
    print(f"wrote {out}")
    return 0


def _write_gif(path: Path, poses: np.ndarray, keypoints: np.ndarray, image_size, fps: float = 25.0,
               max_frames: int = 150) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.animation import FuncAnimation, PillowWriter

    from weakpose.viz import plot_pose_2d, plot_pose_3d

    n = min(len(poses), max_frames)
    fig = plt.figure(figsize=(7, 3.5))
    ax2, ax3 = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2, projection="3d")

    def draw(i):
        ax2.clear()
        ax3.clear()
        plot_pose_2d(ax2, keypoints[i], image_size=image_size)
        ax2.set_title(f"2D input, frame {i}", fontsize=8)
        ax2.set_xticks([]), ax2.set_yticks([])
        plot_pose_3d(ax3, poses[i], up_axis="-y")
        ax3.view_init(elev=15, azim=-70)
        ax3.set_title("lifted 3D", fontsize=8)
        return []

    anim = FuncAnimation(fig, draw, frames=n, blit=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write_path(path) as tmp:
        anim.save(tmp, writer=PillowWriter(fps=fps))
    plt.close(fig)


def _check_batch_size(parser: argparse.ArgumentParser, batch_size: int) -> None:
    if batch_size < 1:
        parser.error(f"--batch-size must be >= 1, got {batch_size}")


def _fill_image_sizes(data, keypoints: str, image_size: Optional[Sequence[int]]) -> None:
    """Every view needs its image size (2D is normalised by the width): from the file's ``video_metadata``, else
    ``--image-size``; a view with neither is refused naming the video."""
    for seq in data.sequences:
        for cam in seq.camera_ids:
            if cam in seq.image_sizes:
                continue
            if image_size is None:
                raise ValueError(f"{keypoints}: no image size for video {seq.subject!r} (the file's metadata has no "
                                 f"video_metadata[{seq.subject!r}] with 'w' and 'h'); pass --image-size W H")
            if min(image_size) < 1:
                raise ValueError(f"--image-size must be positive, got {list(image_size)}")
            seq.image_sizes[cam] = (int(image_size[0]), int(image_size[1]))
    for seq in data.sequences:
        for cam, xy in seq.positions_2d.items():
            _check_inside_image(xy, seq.image_sizes[cam], f"{keypoints}: video {seq.subject!r} view {cam}")


def _check_inside_image(xy: np.ndarray, size: Sequence[int], where: str) -> None:
    """Detectors write keypoints inside the image; most of them far outside means the image size is wrong (the 2D
    would be normalised by the wrong width)."""
    w, h = size
    found = np.isfinite(xy).all(-1) & (xy != 0).any(-1)  # (0, 0) marks a joint the detector did not find
    pts = xy[found]
    if not len(pts):
        return
    outside = (pts[:, 0] < -0.5 * w) | (pts[:, 0] > 1.5 * w) | (pts[:, 1] < -0.5 * h) | (pts[:, 1] > 1.5 * h)
    if outside.mean() > 0.5:
        raise ValueError(f"{where}: {outside.mean():.0%} of the keypoints lie far outside the {w}x{h} image (x in "
                         f"[{pts[:, 0].min():.0f}, {pts[:, 0].max():.0f}], y in [{pts[:, 1].min():.0f}, "
                         f"{pts[:, 1].max():.0f}]); give the video's real size (video_metadata or --image-size W H)")


def lift_main(argv: Optional[Sequence[str]] = None) -> int:
    p = argparse.ArgumentParser(prog="weakpose lift", description="Lift a 2D keypoint file to 3D with a saved lifter.")
    p.add_argument("--checkpoint", default=None, help="a lifter file (runs/<name>/lifter.pt); default: the "
                   "27-frame temporal lifter shipped with weakpose (trained on CMU motion, see README)")
    p.add_argument("--keypoints", required=True, help="VideoPose3D-layout 2D npz (custom videos or Human3.6M)")
    p.add_argument("--layout", default=None, help="2D layout if the file's metadata lacks it (coco17, h36m17, ...)")
    p.add_argument("--out", default=None, help="output npz (default: <keypoints>_3d.npz)")
    p.add_argument("--gif", default="images/lift.gif", help="animated skeleton of the first video ('' for none)")
    p.add_argument("--image-size", type=int, nargs=2, metavar=("W", "H"), default=None,
                   help="image width and height in pixels, for videos the file's metadata gives no size for")
    p.add_argument("--batch-size", type=int, default=1024)
    args = p.parse_args(argv)
    _check_batch_size(p, args.batch_size)
    try:
        if args.checkpoint is None:
            from weakpose.pretrained import pretrained_path

            args.checkpoint = str(pretrained_path("temporal_lifter"))
            print(f"using the shipped temporal lifter {args.checkpoint}")
        model, info = load_lifter(args.checkpoint)
        data = load_videopose3d(path_2d=args.keypoints, layout=args.layout)
        _fill_image_sizes(data, args.keypoints, args.image_size)
    except (OSError, KeyError, ValueError) as e:
        print(f"weakpose lift: {e}", file=sys.stderr)
        return 2
    ds = _dataset(data, model, require_3d=False)
    views = _predict(model, ds, args.batch_size, flip=False)
    lifted: Dict[str, Dict[str, List[np.ndarray]]] = {}
    for (subject, action, camera), (pred, _) in sorted(views.items()):
        lifted.setdefault(subject, {}).setdefault(action, []).append(pred.astype(np.float32))
    out = Path(args.out) if args.out else Path(args.keypoints).with_name(Path(args.keypoints).stem + "_3d.npz")
    with atomic_write_path(out) as tmp:
        np.savez_compressed(tmp, positions_3d=np.array(lifted, dtype=object), metadata=np.array({
            "units": "metres", "frame": f"{info.get('output_frame', 'camera')} frame of each view, root-relative",
            "joints": "h36m17", "views": "list per video in the 2D file's camera order",
            "lifter": str(args.checkpoint), "kind": info["kind"]}, dtype=object))
    print(f"lifted {sum(len(pred) for pred, _ in views.values())} frames of {len(lifted)} video(s) -> {out}")
    if args.gif:
        seq = data.sequences[0]
        cam = seq.camera_ids[0]
        _write_gif(Path(args.gif), lifted[seq.subject][seq.action][0], seq.positions_2d[cam], seq.image_size(cam))
        print(f"wrote {args.gif}")
    return 0


__all__ = ["evaluate_main", "lift_main"]
