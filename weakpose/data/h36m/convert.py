"""``weakpose convert-h36m``: a Human3.6M release tree -> VideoPose3D-format npz files.

Reads the original release (``S*/MyPoseFeatures/D3_Positions/<Action>.cdf``, mm) or the Martinez et al. h5 tree
(``S*/MyPoses/3D_positions/<Action>.h5``, mm) and writes, atomically:

* ``data_3d_h36m.npz``: ``positions_3d`` = pickled ``dict[subject][action] -> float32 (N, 32, 3)`` world METRES,
  the layout of Pavllo et al. 2019 (VideoPose3D), action names canonical (``Photo``, ``WalkDog``, ``Walking 1``);
* optionally ``data_2d_h36m_gt.npz``: ``positions_2d`` = ``dict[subject][action] -> list of 4 float32 (N, 17, 2)``
  pixels, the 3D projected through each camera (order 54138969, 55011271, 58860488, 60457274; ``None`` where a
  camera is not calibrated), with ``metadata`` = layout 'h36m', 17 joints, left/right symmetry.

Every sequence found is converted, S11 Directions included: its 3D is fine (only its video is corrupt), and the
readers exclude it at load time by default, as VideoPose3D does (``--drop-excluded`` leaves it out of the file
instead). Corrupt files are skipped and reported (``--strict`` makes them fatal).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Tuple, Union

import numpy as np

from weakpose.data.h36m import report as rep
from weakpose.data.h36m.loaders import (
    DEFAULT_EXCLUSIONS,
    CameraSpec,
    detect_source,
    h36m_camera_ids,
    project_to_cameras,
    resolve_cameras,
    scan_cdf_tree,
    scan_martinez_tree,
    select_sources,
    usable_sources,
)
from weakpose.data.h36m.readers import H36MFormatError, write_npz_pair
from weakpose.data.h36m.report import LoadReport
from weakpose.io_utils import atomic_write_path
from weakpose.skeleton import H36M17, h36m32_to_17

PathLike = Union[str, Path]
DEFAULT_3D_NAME = "data_3d_h36m.npz"
DEFAULT_2D_NAME = "data_2d_h36m_gt.npz"


@dataclass
class ConversionResult:
    path_3d: Path
    path_2d: Optional[Path]
    report: LoadReport


def gt_2d_metadata() -> dict:
    """The ``metadata`` written with ground-truth 2D (H36M-17, VideoPose3D's keypoints_symmetry convention)."""
    return {
        "layout_name": "h36m",
        "num_joints": H36M17.num_joints,
        "keypoints_symmetry": [list(H36M17.left), list(H36M17.right)],
    }


def output_paths(out: PathLike, out_2d: Optional[PathLike] = None) -> Tuple[Path, Path]:
    """``out`` ending in ``.npz`` is the 3D file, otherwise a folder receiving ``data_3d_h36m.npz``; the GT 2D
    file defaults to ``data_2d_h36m_gt.npz`` next to the 3D file."""
    out = Path(out)
    path_3d = out if out.suffix == ".npz" else out / DEFAULT_3D_NAME
    return path_3d, Path(out_2d) if out_2d is not None else path_3d.with_name(DEFAULT_2D_NAME)


def convert_h36m_release(
    root: PathLike,
    out: PathLike,
    *,
    source: str = "auto",
    gt_2d: bool = True,
    out_2d: Optional[PathLike] = None,
    cameras: CameraSpec = "h36m",
    subjects: Optional[Iterable[str]] = None,
    exclude: Iterable[Tuple[str, str]] = (),
    strict: bool = False,
) -> ConversionResult:
    """Convert a release tree under ``root`` to VideoPose3D npz files (see the module docstring).

    source: ``"auto"``, ``"cdf"`` (original release) or ``"martinez"``. Returns the written paths and the
    :class:`LoadReport`; raises :class:`H36MFormatError` when no sequence could be converted.
    """
    root = Path(root)
    kind = detect_source(root) if source == "auto" else source
    if kind not in ("cdf", "martinez"):
        raise ValueError(f"cannot convert {str(root)!r}: source must be a CDF or Martinez tree, got {kind!r}")
    report = LoadReport(source=str(root))
    scanned = scan_cdf_tree(root, report) if kind == "cdf" else scan_martinez_tree(root, report=report)
    sources = select_sources(scanned, subjects, None, report)
    if not sources:
        raise FileNotFoundError(
            f"no Human3.6M sequences under {str(root)!r} (expected "
            + ("S*/MyPoseFeatures/D3_Positions/*.cdf" if kind == "cdf" else "S*/MyPoses/3D_positions/*.h5")
            + ")"
        )
    positions: Dict[str, Dict[str, np.ndarray]] = {}
    for src in usable_sources(sources, exclude, report):
        try:
            pos = src.read_3d()
        except H36MFormatError as e:
            if strict:
                raise
            report.add(src.subject, src.action, rep.CORRUPT, str(e))
            continue
        positions.setdefault(src.subject, {})[src.action] = pos.astype(np.float32)
        report.loaded.append((src.subject, src.action))
    if not report.loaded:
        raise H36MFormatError(f"nothing converted from {root}\n{report.summary()}")

    path_3d, path_2d = output_paths(out, out_2d)
    if not gt_2d:
        with atomic_write_path(path_3d) as tmp:
            np.savez_compressed(tmp, positions_3d=positions)
        return ConversionResult(path_3d, None, report)

    # Every input (the cameras among them) is resolved before anything is written, and the two files are written
    # as one stamped pair: a mistyped option or a kill never leaves a new 3D beside an old 2D.
    all_cameras = resolve_cameras(cameras)
    cam_ids = h36m_camera_ids()
    positions_2d: Dict[str, Dict[str, List[Optional[np.ndarray]]]] = {}
    for subject, actions in positions.items():
        subject_cams = all_cameras.get(subject, {})
        for cam in cam_ids:
            if cam not in subject_cams:
                report.add(
                    subject,
                    "*",
                    rep.MISSING_CAMERA,
                    f"no calibration for {subject} camera {cam}: GT 2D of this view written as None",
                    camera=cam,
                )
        for action, pos in actions.items():
            pos17 = h36m32_to_17(pos)
            projected = project_to_cameras(pos17, {c: subject_cams[c] for c in cam_ids if c in subject_cams})
            positions_2d.setdefault(subject, {})[action] = [projected.get(c) for c in cam_ids]
    write_npz_pair(
        path_3d, {"positions_3d": positions}, path_2d, {"positions_2d": positions_2d, "metadata": gt_2d_metadata()}
    )
    return ConversionResult(path_3d, path_2d, report)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="weakpose convert-h36m",
        description="Convert a Human3.6M release (original CDF files or the Martinez et al. h5 tree) into "
        "VideoPose3D-format npz files (3D in metres, 32 joints; optional ground-truth 2D).",
    )
    p.add_argument("--root", required=True, help="release root holding S1, S5, ... folders")
    p.add_argument("--out", required=True, help=f"output .npz for the 3D, or a folder that receives {DEFAULT_3D_NAME}")
    p.add_argument(
        "--source",
        choices=("auto", "cdf", "martinez"),
        default="auto",
        help="release layout (default: detected from the tree)",
    )
    p.add_argument("--no-gt-2d", action="store_true", help=f"do not write {DEFAULT_2D_NAME}")
    p.add_argument(
        "--out-2d", default=None, help=f"ground-truth 2D output (default: {DEFAULT_2D_NAME} next to the 3D file)"
    )
    p.add_argument(
        "--cameras",
        default="h36m",
        help="camera-parameters.json or Martinez cameras.h5 (default: the calibration shipped with weakpose)",
    )
    p.add_argument("--subjects", nargs="+", default=None, help="subjects to convert (default: all found)")
    p.add_argument(
        "--drop-excluded",
        action="store_true",
        help="leave S11 Directions (corrupt video) out of the files; by default it is converted and the "
        "readers exclude it at load time",
    )
    p.add_argument("--strict", action="store_true", help="stop at the first corrupt file instead of skipping it")
    return p


def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        result = convert_h36m_release(
            args.root,
            args.out,
            source=args.source,
            gt_2d=not args.no_gt_2d,
            out_2d=args.out_2d,
            cameras=args.cameras,
            subjects=args.subjects,
            exclude=DEFAULT_EXCLUSIONS if args.drop_excluded else (),
            strict=args.strict,
        )
    except (OSError, ValueError) as e:
        print(f"convert-h36m: error: {e}", file=sys.stderr)
        return 1
    print(result.report.summary())
    print(f"wrote {result.path_3d}" + (f" and {result.path_2d}" if result.path_2d else ""))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
