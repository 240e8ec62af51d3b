"""Accuracy after a fixed wall-clock budget: the temporal lifter under full / semi / GAN-only supervision.

    python bench/bench_lifter_budget.py [--minutes 2.5] [--supervision gan semi full] [-- extra overrides]

Each setting runs sample/train_video_gan.py with --budget-minutes on the same data (the embedded default unless
overrides such as data.root=... are given) and reads its eval.json: MPJPE (P1) and P-MPJPE (P2) on S9/S11, mean
over actions and frame-weighted. Checkpoints are chosen on the validation split of the labelled subjects.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "sample"))
from common import print_table  # noqa: E402


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--minutes", type=float, default=2.5)
    p.add_argument("--supervision", nargs="+", default=["gan", "semi", "full"])
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--twin-comparison", action="store_true",
                   help="instead: full supervision trained with the strided twin vs the dilated network on the same "
                        "windows (a straightforward implementation), equal architecture and budget")
    args, extra = p.parse_known_args(argv)
    import train_video_gan  # noqa: E402  (sample script)

    rows = []
    out_root = Path(tempfile.mkdtemp(prefix="bench_lifter_budget_"))
    settings = ([("full", "strided twin", ["model.training_twin=true"]),
                 ("full", "dilated on windows", ["model.training_twin=false"])] if args.twin_comparison
                else [(m, "strided twin", []) for m in args.supervision])
    for mode, how, more in settings:
        out = out_root / f"{mode}_{len(rows)}"
        start = time.perf_counter()
        train_video_gan.main(["--supervision", mode, "--budget-minutes", str(args.minutes),
                              f"train.out_dir={out}", f"images_dir={out / 'images'}", f"num_threads={args.threads}",
                              *more, *extra])
        wall = time.perf_counter() - start
        result = json.loads((out / "eval.json").read_text())
        a, f = result["mean_over_actions"], result["frame_weighted_mean"]
        steps = json.loads((out / "metrics.jsonl").read_text().splitlines()[-1])["step"]
        rows.append((mode, how, steps, f"{wall / 60:.1f}", f"{a['mpjpe_mm']:.1f}", f"{a['p_mpjpe_mm']:.1f}",
                     f"{f['mpjpe_mm']:.1f}", f"{f['p_mpjpe_mm']:.1f}"))
    print_table(f"Temporal lifter after a {args.minutes}-minute training budget",
                f"sample/train_video_gan.py defaults + {extra or 'no overrides'}; {args.threads} torch thread(s); "
                "S9/S11, all 4 cameras, GT 2D unless overridden; wall time includes data loading and evaluation",
                ("supervision", "training path", "steps", "wall min", "MPJPE actions", "P-MPJPE actions", "MPJPE frames", "P-MPJPE frames"),
                rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
