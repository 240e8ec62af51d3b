"""``weakpose evaluate`` and ``weakpose lift``: use a saved lifter (:mod:`weakpose.lifters`) on data files.

    weakpose evaluate --checkpoint runs/video_gan/lifter.pt --data3d data_3d_h36m.npz [--data2d D2.npz] [--flip]
    weakpose evaluate --checkpoint lifter.pt --data3d h36m/ --detections StackedHourglass     # Martinez tree
    weakpose lift --keypoints alphapose-results.json --video clip.mp4                         # the shipped lifter
    weakpose lift --checkpoint runs/video_gan/lifter.pt --keypoints openpose_json/ --width 1920 --height 1080

``evaluate`` scores the test subjects (S9, S11 by default) per action, prints the table with its protocol line
(15-action mean and frame mean) and writes it as JSON; a lifter with a trajectory model adds the root position
error (MRPE) and the absolute camera-frame MPJPE. Checkpoint selection belongs to training (on a validation split
of the training subjects); this command only measures.
``lift`` reads any 2D file :mod:`weakpose.data.keypoint_files` knows, lifts every video in it
(:mod:`weakpose.lifting`) and writes one npz of plain arrays plus an mp4 (or GIF) per video.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Optional, Sequence, Tuple

import numpy as np

from weakpose.data.datasets.poses import PoseFrameDataset, PoseWindowDataset
from weakpose.data.h36m.loaders import TEST_SUBJECTS
from weakpose.evaluation.predict import predict_sequences, predict_views
from weakpose.evaluation.tables import evaluate_views, lifter_protocol
from weakpose.lifters import lift_batch, load_lifter, receptive_field


def _dataset(data, model, require_3d: bool):
    rf = receptive_field(model)
    if rf > 1:
        return PoseWindowDataset(
            data, receptive_field=rf, require_3d=require_3d, causal=getattr(model, "causal", False)
        )
    return PoseFrameDataset(data, require_3d=require_3d)


def _predict(model, ds, batch_size: int, flip: bool):
    """Temporal lifters lift each view as a whole sequence; single-frame lifters take batches of frames."""
    if callable(getattr(model, "lift_sequence", None)):
        return predict_sequences(model, ds, flip=flip)
    if flip:
        raise ValueError("--flip: test-time flip averaging is implemented for temporal lifters")
    return predict_views(lambda b: lift_batch(model, b["keypoints_2d"]), ds, batch_size=batch_size)


def evaluate_main(argv: Optional[Sequence[str]] = None) -> int:
    p = argparse.ArgumentParser(
        prog="weakpose evaluate",
        description="Per-action MPJPE / P-MPJPE / N-MPJPE / MPJVE (and MRPE / absolute "
        "MPJPE when the lifter has a trajectory model) of a saved lifter on the test subjects, with the protocol line.",
        epilog="Sources: a VideoPose3D data_3d_*.npz (+ --data2d detections), a Martinez h36m tree (+ --detections "
        "StackedHourglass), an original-release tree (S*/MyPoseFeatures/D3_Positions/*.cdf), or HumanEva-I in "
        "VideoPose3D's humaneva15 layout (data_3d_humaneva15.npz + a 2D file). See docs/formats.md.",
    )
    p.add_argument("--checkpoint", required=True, help="a lifter file (runs/<name>/lifter.pt)")
    p.add_argument("--data3d", required=True, help="3D source: VideoPose3D npz, Martinez tree or original release tree")
    p.add_argument(
        "--data2d",
        default=None,
        help="2D npz (detections) for a VideoPose3D source; default: the ground-truth projection",
    )
    p.add_argument("--detections", default=None, help="detections folder of a Martinez tree, e.g. StackedHourglass")
    p.add_argument("--subjects", nargs="+", default=None, help="default S9 S11 (HumanEva: the Validate/ subjects)")
    p.add_argument("--actions", nargs="+", default=None, help="only these actions (base names, e.g. Walking)")
    p.add_argument("--by-subject", action="store_true", help="also a table per subject")
    p.add_argument("--out", default=None, help="JSON output (default: eval_<2D source>.json next to the checkpoint)")
    p.add_argument("--batch-size", type=int, default=1024)
    p.add_argument(
        "--flip",
        action="store_true",
        help="average with the mirrored sequence (VideoPose3D's test-time flip augmentation; temporal lifters)",
    )
    args = p.parse_args(argv)
    _check_batch_size(p, args.batch_size)
    try:
        return _evaluate(args)
    except (OSError, KeyError, ValueError) as e:
        print(f"weakpose evaluate: {e}", file=sys.stderr)
        return 2


def _load_evaluation_data(args):
    """(test data, 2D source label, exclusions, joints label) from any source the readers know."""
    from weakpose.data.h36m.loaders import detect_source, load_h36m

    kind = detect_source(args.data3d)
    subjects = args.subjects or list(TEST_SUBJECTS)
    kwargs = dict(subjects=subjects, actions=args.actions)
    if kind == "videopose3d":
        data = load_h36m(args.data3d, args.data2d, **kwargs)
        source = "GT projection" if args.data2d is None else Path(args.data2d).name
    else:
        if args.data2d is not None:
            raise ValueError(
                f"--data2d goes with a VideoPose3D npz; {args.data3d} is a {kind} tree (use "
                f"--detections for the Martinez tree's detection folders)"
            )
        if args.detections is not None and kind != "martinez":
            raise ValueError(f"--detections: {args.data3d} is not a Martinez tree (S*/MyPoses)")
        if args.detections is not None:
            kwargs["detections"] = args.detections
        data = load_h36m(args.data3d, **kwargs)
        source = args.detections or "GT projection"
    test = data.select(subjects=subjects)
    if len(test) == 0:
        raise ValueError(
            f"no sequences of {subjects}{' ' + str(args.actions) if args.actions else ''} in {args.data3d}"
        )
    exclusions = [f"{e.subject}/{e.action}" for e in data.report.entries if e.reason == "excluded"]
    return test, source, exclusions, "H36M-17, root included, all cameras"


def _evaluate(args) -> int:
    from weakpose.evaluation.predict import predict_roots
    from weakpose.lifters import load_trajectory

    model, info = load_lifter(args.checkpoint)
    if Path(args.data3d).suffix == ".npz":
        from weakpose.data.humaneva import is_humaneva_file

        if is_humaneva_file(args.data3d):
            return _evaluate_humaneva(args, model, info)
    trajectory = load_trajectory(args.checkpoint) if info.get("has_trajectory") else None
    test, source, exclusions, joints = _load_evaluation_data(args)
    ds = _dataset(test, model, require_3d=True)
    canonical = info.get("output_frame") == "canonical"
    metrics = ("p_mpjpe",) if canonical else ("mpjpe", "p_mpjpe", "n_mpjpe", "mpjve")
    views = _predict(model, ds, args.batch_size, args.flip)
    roots = None
    if trajectory is not None:
        roots = predict_roots(
            trajectory,
            ds
            if callable(getattr(ds, "view_arrays", None))
            else PoseWindowDataset(test, receptive_field=receptive_field(trajectory), require_3d=True),
            flip=args.flip,
        )
        metrics += ("mrpe", "abs_mpjpe")
    protocol = lifter_protocol(
        source, exclusions, flip_augmentation=args.flip, absolute=roots is not None, joints=joints
    )
    table = evaluate_views(views, metrics=metrics, roots=roots)
    print(
        f"{Path(args.checkpoint)} ({info['kind']}, receptive field {receptive_field(model)}, "
        f"output frame {info.get('output_frame', 'camera')}"
        f"{', trajectory' if trajectory is not None else ''}) on {test.subjects()}"
    )
    print(table.format(protocol))
    out = (
        Path(args.out)
        if args.out
        else Path(args.checkpoint).with_name(
            f"eval_{Path(args.data2d).stem if args.data2d else (args.detections or 'gt')}.json"
        )
    )
    table.save_json(out, protocol)
    print(f"wrote {out}")
    if args.by_subject:
        for subject in test.subjects():
            mine = {k: v for k, v in views.items() if k[0] == subject}
            sub_roots = None if roots is None else {k: v for k, v in roots.items() if k[0] == subject}
            sub = evaluate_views(mine, metrics=metrics, roots=sub_roots)
            print(f"\nSubject {subject}")
            print(sub.format(protocol))
            sub_out = out.with_name(f"{out.stem}_{subject.replace('/', '_')}{out.suffix}")
            sub.save_json(sub_out, protocol)
            print(f"wrote {sub_out}")
    return 0


def _evaluate_humaneva(args, model, info) -> int:
    """HumanEva-I (VideoPose3D's humaneva15 npz pair): P-MPJPE on its own 15 joints against the world 3D (the npz
    has no cameras), per action; the Validate/ subjects by default."""
    from weakpose.data.humaneva import evaluate_humaneva, load_humaneva

    if args.data2d is None:
        raise ValueError(
            f"{args.data3d}: HumanEva-I needs its 2D file (--data2d data_2d_humaneva15_gt.npz or a "
            f"detector's): the npz holds no cameras to project the 3D with"
        )
    views = load_humaneva(args.data3d, args.data2d, subjects=args.subjects, actions=args.actions)
    table, protocol = evaluate_humaneva(
        model, views, flip=args.flip, two_d_source=Path(args.data2d).name, batch_size=args.batch_size
    )
    subjects = sorted({v.subject for v in views})
    print(
        f"{Path(args.checkpoint)} ({info['kind']}, receptive field {receptive_field(model)}) on HumanEva-I {subjects}"
    )
    print(table.format(protocol))
    out = Path(args.out) if args.out else Path(args.checkpoint).with_name(f"eval_{Path(args.data2d).stem}.json")
    table.save_json(out, protocol)
    print(f"wrote {out}")
    if args.by_subject:
        table, protocol = evaluate_humaneva(
            model,
            views,
            flip=args.flip,
            two_d_source=Path(args.data2d).name,
            by_subject=True,
            batch_size=args.batch_size,
        )
        print(table.format(protocol))
    return 0


def _check_batch_size(parser: argparse.ArgumentParser, batch_size: int) -> None:
    if batch_size < 1:
        parser.error(f"--batch-size must be >= 1, got {batch_size}")


def _image_size_option(args) -> Optional[Tuple[int, int]]:
    """--width/--height (or the older --image-size W H), both or neither."""
    if args.image_size is not None:
        return tuple(args.image_size)
    if (args.width is None) != (args.height is None):
        raise ValueError("--width and --height go together")
    return None if args.width is None else (args.width, args.height)


def _render_path(args, out: Path, video: str, several: bool) -> Optional[Path]:
    """Where the picture of one video goes: --render PATH (.mp4 or .gif), default ``<out stem>.mp4`` (a GIF when
    imageio-ffmpeg is not installed); '' or --no-render: none."""
    if args.no_render or args.render == "":
        return None
    if args.render is not None:
        path = Path(args.render)
    else:
        from weakpose.viz.video import has_ffmpeg

        path = out.with_suffix(".mp4" if has_ffmpeg() else ".gif")
    if several:
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in video)
        path = path.with_name(f"{path.stem}_{safe}{path.suffix}")
    return path


def _render(path: Path, result, source_video: Optional[str], camera) -> None:
    from weakpose.viz.video import write_lift_gif, write_lift_video

    K = None if camera is None or not getattr(camera, "intrinsics_given", True) else np.asarray(camera.K, np.float64)
    reprojected, how = result.reprojected_2d(K)
    poses = result.camera_frame if result.camera_frame is not None else result.relative
    fps = result.fps or 25.0
    title = f"{Path(result.lifter).name}: {result.output_frame} frame; yellow = 3D reprojected ({how})"
    if path.suffix.lower() == ".gif":
        write_lift_gif(
            path,
            result.keypoints_2d,
            poses,
            result.image_size,
            fps,
            reprojected_2d=reprojected,
            confidences=result.confidences,
            title=title,
        )
    else:
        # the source video's path: ffmpeg decodes and scales its frames to the panel, streamed
        write_lift_video(
            path,
            result.keypoints_2d,
            poses,
            result.image_size,
            fps,
            frames=source_video,
            reprojected_2d=reprojected,
            confidences=result.confidences,
            title=title,
        )


def lift_main(argv: Optional[Sequence[str]] = None) -> int:
    p = argparse.ArgumentParser(
        prog="weakpose lift",
        description="Lift a 2D keypoint file to 3D with a saved lifter: an npz of root-relative "
        "(and, with a trajectory model, camera- and world-frame) poses, and an mp4 of the result.",
        epilog="Keypoint files: VideoPose3D npz (with or without metadata), COCO-format results JSON (mmpose, "
        "Detectron2), AlphaPose JSON (COCO-17, Halpe-26), an OpenPose folder of per-frame BODY-25 JSON, or a plain "
        ".npy/.npz array (T, J, 2|3) with --layout. Missing detections are filled by interpolation along time. "
        "See docs/formats.md.",
    )
    p.add_argument("--keypoints", required=True, help="the 2D file or OpenPose folder (pixels)")
    p.add_argument(
        "--layout",
        default=None,
        help="2D layout where the file does not say: coco17, h36m17, mpii16, halpe26, body25, h36m32",
    )
    p.add_argument(
        "--checkpoint",
        default=None,
        help="a lifter file (runs/<name>/lifter.pt); default: the "
        "27-frame temporal lifter shipped with weakpose (trained on CMU motion, see README)",
    )
    p.add_argument(
        "--video",
        default=None,
        help="the source video: image size and fps from it, frames drawn under the keypoints in the mp4",
    )
    p.add_argument(
        "--width",
        type=int,
        default=None,
        help="image width in pixels (overrides the file's metadata and --video; needed when neither gives it)",
    )
    p.add_argument("--height", type=int, default=None, help="image height in pixels")
    p.add_argument("--image-size", type=int, nargs=2, metavar=("W", "H"), default=None, help=argparse.SUPPRESS)
    p.add_argument(
        "--fps", type=float, default=None, help="frames per second (default: --video's, else the file's, else 50)"
    )
    p.add_argument(
        "--camera",
        default=None,
        help="extrinsics for world-frame output: a JSON with R (3x3), t "
        "(metres, x_cam = R X + t) and optional K, or h36m:<subject>:<camera id>",
    )
    p.add_argument("--flip", action="store_true", help="test-time flip averaging (temporal lifters)")
    p.add_argument("--out", default=None, help="output npz (default: <keypoints>_3d.npz)")
    p.add_argument(
        "--render",
        default=None,
        help="picture of the result: PATH.mp4 (any length, the video's fps) or "
        "PATH.gif (short clips); default <out>.mp4 next to the npz",
    )
    p.add_argument("--no-render", action="store_true", help="write the npz only")
    p.add_argument("--gif", default=None, help=argparse.SUPPRESS)  # older spelling of --render PATH
    p.add_argument("--batch-size", type=int, default=1024, help="frames per forward pass of single-frame lifters")
    args = p.parse_args(argv)
    _check_batch_size(p, args.batch_size)
    if args.gif is not None and args.render is None:
        args.render = args.gif
    try:
        return _lift(args)
    except (OSError, KeyError, ValueError, ImportError) as e:
        print(f"weakpose lift: {e}", file=sys.stderr)
        return 2


def _lift(args) -> int:
    from weakpose.data.keypoint_files import read_keypoints
    from weakpose.lifting import camera_from, lift_track, resolve_checkpoint, save_results

    if args.checkpoint is None:
        print(f"using the shipped temporal lifter {resolve_checkpoint(None)}")
    size_option = _image_size_option(args)
    fps_option = args.fps
    if args.video is not None:
        from weakpose.viz.video import video_info

        info = video_info(args.video)
        size_option = size_option or (info.width, info.height)
        fps_option = fps_option or info.fps
    tracks = read_keypoints(args.keypoints, layout=args.layout).videos
    if args.video is not None and len(tracks) != 1:
        raise ValueError(f"{args.keypoints}: --video needs a file with one video; it holds {len(tracks)}")
    camera = camera_from(args.camera)
    results = {}
    for name, track in tracks.items():
        size = size_option or track.image_size
        if size is None:
            raise ValueError(
                f"{args.keypoints}: no image size for video {name!r} (the file has no video_metadata "
                f"for it); pass --width W --height H (or --video with the source video)"
            )
        if size_option and track.image_size and tuple(track.image_size) != tuple(size_option):
            print(
                f"note: {name}: using {size_option[0]}x{size_option[1]}, not the file's "
                f"{track.image_size[0]}x{track.image_size[1]}"
            )
        where = f"{args.keypoints}: video {name!r}"
        results[name] = lift_track(
            track,
            image_size=size,
            fps=fps_option or track.fps or 50.0,
            checkpoint=args.checkpoint,
            camera=camera,
            flip=args.flip,
            name=where,
            batch_size=args.batch_size,
        )
    out = Path(args.out) if args.out else Path(args.keypoints).with_name(Path(args.keypoints).stem + "_3d.npz")
    save_results(out, results)
    for r in results.values():
        print(r.summary())
        for note in dict.fromkeys(r.notes):
            print(f"  note: {note}")
    print(f"lifted {sum(r.num_frames for r in results.values())} frames of {len(results)} video(s) -> {out}")
    for name, r in results.items():
        render = _render_path(args, out, name, len(results) > 1)
        if render is not None:
            _render(render, r, args.video, camera)
            print(f"wrote {render}")
    return 0


__all__ = ["evaluate_main", "lift_main"]
