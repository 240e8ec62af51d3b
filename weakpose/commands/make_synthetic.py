"""``weakpose make-synthetic``: the embedded default's data, keypoints (Human3.6M npz layout) or, with
``--images``, the rendered multi-view image set with an overview figure. A command on the top floor: it joins the
data generators (:mod:`weakpose.data.synthetic.keypoints`, :mod:`weakpose.data.synthetic.images`) with the figures of
:mod:`weakpose.viz`, which the data modules never import."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from weakpose.data.datasets.multiview import MultiViewImageDataset
from weakpose.data.synthetic.images import SyntheticImageConfig, make_synthetic_images
from weakpose.data.synthetic.keypoints import main as keypoints_main
from weakpose.viz import draw_multiview_overview

__all__ = ["main", "images_main"]


def main(argv: Optional[Sequence[str]] = None) -> int:
    """``weakpose make-synthetic [--images] ...``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if "--images" in argv:
        return images_main([a for a in argv if a != "--images"])
    return keypoints_main(argv)


def images_main(argv: Optional[Sequence[str]] = None) -> int:
    """``weakpose make-synthetic --images``: render the multi-view image set, and draw an overview of it."""
    d = SyntheticImageConfig()
    p = argparse.ArgumentParser(
        prog="weakpose make-synthetic --images",
        description="Render the Human3.6M-style multi-view image set (root-centred crops, "
        "masks, 3D joints, SMPL parameters) from the CMU motion.",
    )
    p.add_argument("--out", default="data/synthetic_images", help="output folder (default: data/synthetic_images)")
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--image-size", type=int, default=d.image_size, help="crop size in pixels (default 128)")
    p.add_argument("--max-frames", type=int, default=d.max_frames, help="frames per sequence (default %(default)s)")
    p.add_argument("--frame-step", type=int, default=d.frame_step, help="keep every n-th 50 Hz frame")
    p.add_argument(
        "--sampled-frames",
        type=int,
        default=d.sampled_frames,
        help="frames of sampled poses per subject (default %(default)s)",
    )
    p.add_argument("--subjects", nargs="+", default=None, help="only these subjects (e.g. S1 S9)")
    p.add_argument("--actions", nargs="+", default=None, help="only these CMU actions (e.g. Walking Running)")
    p.add_argument("--model", default=None, help="SMPL-format body model (.npz/.pkl); default: the open body")
    p.add_argument(
        "--figure",
        default=None,
        help="overview figure of frames, crops and masks (default <out>/overview.png; '' for none)",
    )
    p.add_argument(
        "--keypoint-dir",
        default=None,
        help="keypoint default to take the motion from (default: <out>/keypoints, generated if absent)",
    )
    args = p.parse_args(argv)
    cfg = SyntheticImageConfig(
        seed=args.seed,
        image_size=args.image_size,
        max_frames=args.max_frames,
        frame_step=args.frame_step,
        sampled_frames=args.sampled_frames,
        subjects=args.subjects,
        actions=args.actions,
        model_path=args.model,
        keypoint_dir=args.keypoint_dir,
    )
    try:
        result = make_synthetic_images(args.out, cfg)
    except (KeyError, ValueError, FileNotFoundError) as err:
        print(f"weakpose make-synthetic --images: {err}", file=sys.stderr)
        return 2
    print(
        f"wrote {result.num_images} crops of {result.num_sequences} sequences to {result.root} "
        f"in {result.seconds:.0f} s (index: {result.index})"
    )
    figure = Path(args.out) / "overview.png" if args.figure is None else args.figure
    if figure:
        ds = MultiViewImageDataset(result.root)
        # one frame from a few different sequences: spread over subjects and actions
        starts = np.cumsum([0] + [len(range(0, s.num_frames)) for s in ds.sequences])[:-1]
        picks = [
            int(starts[i]) + ds.sequences[i].num_frames // 2
            for i in np.linspace(0, len(ds.sequences) - 1, min(4, len(ds.sequences))).astype(int)
        ]
        draw_multiview_overview(ds, figure, picks)
        print(f"wrote {figure}")
    return 0
