"""Accuracy after a fixed wall-clock training budget: the temporal lifter's training paths side by side.

    python bench/bench_lifter_budget.py old-vs-new [--minutes 8] [--old-rev REV]
    python bench/bench_lifter_budget.py twin-vs-chunked [--minutes 3] [--fields 27 81 243]
    python bench/bench_lifter_budget.py supervision [--minutes 2.5]          # gan / semi / full, embedded default

Every setting runs ``sample/train_video_gan.py`` in its own process with ``--budget-minutes`` and one torch thread;
two settings run at a time (one per core of this 2-core machine), the pair being the comparison, so load hits
both alike. Each run's checkpoint is chosen on held-out sequences of its training subjects; the table shows the
test errors its own final report wrote (S9/S11, mean over actions and frame-weighted, whole-sequence inference).

Data, unless overridden with ``--data``: for ``old-vs-new`` and ``twin-vs-chunked`` a Human3.6M-sized synthetic set
(``weakpose make-synthetic --max-frames 0 --copies 38``: 1.49 M training windows over 4 cameras) whose test
subjects are trimmed to about 20 k frames, so that the final reports (the old one lifts frame by frame) take
seconds, not hours. ``old-vs-new`` runs the script of ``--old-rev`` (a git worktree of this repository) against
this checkout's, both with their own defaults and ``--supervision full``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.common import print_table  # noqa: E402

OLD_REV = "53fa48d"  # main before the batched generator / whole-sequence work (issue #14)


def budget_set(out: Path, test_frames: int = 20_000) -> Path:
    """The Human3.6M-sized set with its test subjects trimmed to ``test_frames`` frames (written once)."""
    from weakpose.data.h36m.readers import read_videopose3d_2d, read_videopose3d_3d, write_npz_pair
    from weakpose.data.synthetic.keypoints import DATA_2D_NAME, DATA_3D_NAME, make_synthetic

    if (out / DATA_3D_NAME).is_file() and (out / DATA_2D_NAME).is_file():
        return out
    full = out.parent / (out.name + "_full")
    if not (full / DATA_3D_NAME).is_file():
        print(f"making the Human3.6M-sized set in {full}", flush=True)
        make_synthetic(full, max_frames=0, copies=38, include_bvh=False)
    pos3d = read_videopose3d_3d(full / DATA_3D_NAME)
    pos2d, meta = read_videopose3d_2d(full / DATA_2D_NAME)
    for subject in ("S9", "S11"):
        kept, total = {}, 0
        for action in sorted(pos3d[subject]):
            if total >= test_frames // 2:
                break
            kept[action] = pos3d[subject][action]
            total += len(kept[action])
        pos3d[subject] = kept
        pos2d[subject] = {a: pos2d[subject][a] for a in kept}
    write_npz_pair(
        out / DATA_3D_NAME, {"positions_3d": pos3d}, out / DATA_2D_NAME, {"positions_2d": pos2d, "metadata": meta}
    )
    return out


def _run(script_root: Path, out: Path, minutes: float, args: list, log: Path) -> subprocess.Popen:
    script = script_root / "sample" / "train_video_gan.py"
    run = "run." if "run: RunConfig" in script.read_text() else ""  # an older revision's keys had no run section
    cmd = [
        sys.executable,
        str(script),
        "--budget-minutes",
        str(minutes),
        f"train.out_dir={out}",
        f"{run}images_dir={out / 'images'}",
        f"{run}num_threads=1",
        *args,
    ]
    env = dict(os.environ, PYTHONPATH=str(script_root), OMP_NUM_THREADS="1")
    return subprocess.Popen(cmd, cwd=script_root, env=env, stdout=open(log, "w"), stderr=subprocess.STDOUT)


def _row(name: str, out: Path, wall: float) -> list:
    result = json.loads((out / "eval.json").read_text())
    a, f = result["mean_over_actions"], result["frame_weighted_mean"]
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    steps = rows[-1]["step"]
    best = min((r["val/mpjpe"] for r in rows if "val/mpjpe" in r), default=float("nan"))
    return [
        name,
        steps,
        f"{wall / 60:.1f}",
        f"{best * 1000:.1f}",
        f"{a['mpjpe_mm']:.1f}",
        f"{a['p_mpjpe_mm']:.1f}",
        f"{f['mpjpe_mm']:.1f}",
        f"{f['p_mpjpe_mm']:.1f}",
    ]


def run_pairs(pairs, minutes: float, work: Path) -> list:
    """``pairs``: lists of (name, script root, extra args); each pair runs concurrently, pairs one after another."""
    rows = []
    for pair in pairs:
        procs = []
        for name, root, extra in pair:
            out = work / name.replace(" ", "_").replace("/", "_")
            start = time.perf_counter()
            procs.append((name, out, start, _run(root, out, minutes, extra, work / f"{out.name}.log")))
            print(f"started {name}: {' '.join(extra)}", flush=True)
        for name, out, start, proc in procs:
            if proc.wait() != 0:
                raise SystemExit(f"{name} failed; see {work / (out.name + '.log')}")
            rows.append(_row(name, out, time.perf_counter() - start))
            print("  ", rows[-1], flush=True)
    return rows


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("comparison", choices=("old-vs-new", "twin-vs-chunked", "supervision"))
    p.add_argument("--minutes", type=float, default=None)
    p.add_argument("--fields", type=int, nargs="+", default=[27, 81, 243])
    p.add_argument(
        "--chunk",
        type=int,
        nargs="+",
        default=[32, 64, 128],
        help="chunk length L for twin-vs-chunked, one per --fields entry in the same order",
    )
    p.add_argument(
        "--chunk-args",
        nargs="*",
        default=[],
        help="extra key=value settings for the chunked runs only (e.g. train.batch_size=1024)",
    )
    p.add_argument("--old-rev", default=OLD_REV)
    p.add_argument("--data", default=None, help="a VideoPose3D npz folder (default: the budget set, see above)")
    p.add_argument("--work", default=None, help="where runs are written (default: a temporary folder)")
    args, extra = p.parse_known_args(argv)
    work = Path(args.work or tempfile.mkdtemp(prefix="bench_lifter_budget_"))
    work.mkdir(parents=True, exist_ok=True)
    if args.comparison == "supervision":
        minutes = args.minutes or 2.5
        data = [] if args.data is None else [f"data.synthetic_dir={args.data}"]
        pairs = [[(m, ROOT, ["--supervision", m, *data, *extra])] for m in ("gan", "semi", "full")]
        pairs = [pairs[0] + pairs[1], pairs[2]]
    else:
        data_dir = Path(args.data) if args.data else budget_set(ROOT / "data" / "h36m_size_budget")
        data = [f"data.synthetic_dir={data_dir}"]
        if args.comparison == "old-vs-new":
            minutes = args.minutes or 8.0
            old_root = work / "old_checkout"
            if not old_root.exists():
                subprocess.run(
                    ["git", "-C", str(ROOT), "worktree", "add", "--detach", str(old_root), args.old_rev],
                    check=True,
                    capture_output=True,
                )
            pairs = [
                [
                    (f"old ({args.old_rev})", old_root, ["--supervision", "full", *data, *extra]),
                    ("new", ROOT, ["--supervision", "full", *data, *extra]),
                ]
            ]
        else:
            minutes = args.minutes or 3.0
            pairs = []
            if len(args.chunk) < len(args.fields):
                p.error(f"--chunk needs one length per --fields entry ({args.fields}); got {args.chunk}")
            chunk_of = dict(zip(args.fields, args.chunk))
            for rf in args.fields:
                widths = "[" + ",".join(["3"] * {27: 3, 81: 4, 243: 5}[rf]) + "]"
                common = ["--supervision", "full", f"model.filter_widths={widths}", *data, *extra]
                pairs.append(
                    [
                        (f"{rf} twin", ROOT, [*common, "model.training=twin"]),
                        (
                            f"{rf} chunked L={chunk_of[rf]}",
                            ROOT,
                            [*common, "model.training=chunked", f"model.chunk_frames={chunk_of[rf]}", *args.chunk_args],
                        ),
                    ]
                )
    rows = run_pairs(pairs, minutes, work)
    print_table(
        f"Temporal lifter after a {minutes:g}-minute training budget ({args.comparison})",
        f"sample/train_video_gan.py, 1 torch thread per run, two runs at a time; data "
        f"{data or 'embedded default'}; extra {extra or 'none'}; val = best held-out MPJPE of the training "
        "subjects (mm); test = S9/S11 (mm); wall includes data loading and the final report",
        (
            "setting",
            "steps",
            "wall min",
            "val MPJPE",
            "MPJPE actions",
            "P-MPJPE actions",
            "MPJPE frames",
            "P-MPJPE frames",
        ),
        rows,
    )
    print(f"runs in {work}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
