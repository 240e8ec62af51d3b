"""Rebuild weakpose/data/assets/cmu/cmu_h36m17_50hz.npz from the cmu_motion data release.

    python tools/build_cmu_asset.py PATH/TO/cmu_h36m17.npz [--out weakpose/data/assets/cmu/cmu_h36m17_50hz.npz]

The source file (38 CMU sequences as H36M-17 positions at 120 Hz, see its README) is converted by
weakpose.data.motion.cmu.build_cmu_motion_asset: floor subtracted, resampled to 50 Hz, stored as float32 root + int16
root-relative joints (0.1 mm). The data used in this project was obtained from mocap.cs.cmu.edu. The database was
created with funding from NSF EIA-0196217.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from weakpose.data.motion.cmu import CMU_MOTION_ASSET, build_cmu_motion_asset


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", help="cmu_h36m17.npz of the cmu_motion release (120 Hz)")
    parser.add_argument("--out", default=str(CMU_MOTION_ASSET), help="output npz (default: the package asset)")
    parser.add_argument("--fps", type=float, default=50.0, help="output frame rate (default 50, as Human3.6M)")
    args = parser.parse_args(argv)
    report = build_cmu_motion_asset(args.source, args.out, fps=args.fps)
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
