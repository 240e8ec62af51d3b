"""Benchmark: the temporal lifter's training and inference paths, old against new in one run, on this CPU.

Training (supervised, full 3D labels; one step = assemble the batch + forward + backward + Adam/amsgrad), samples/s
= supervised output frames per second, for receptive fields 27, 81 and 243 at 1024 channels:

  old     the previous path: per-sample ``PoseWindowDataset[i]`` + default collate, batch 128, the pose AND trajectory
          networks as the conv1d strided twin (:func:`weakpose.models.temporal.conv1d_network`);
  twin    the batched generator (``get_batch``), batch 1024, the pose network alone, matrix-product strided twin;
  chunked the batched generator on chunks of L consecutive outputs (``chunk_frames=L``), the dilated network in one
          pass per chunk, ~1024 outputs per step.

Inference, frames/s of output: old = every frame's own window through the conv1d dilated network, batches of 1024
windows from ``PoseWindowDataset`` (what ``predict_views`` did); new = ``lift_sequence`` on the whole sequence.

Evaluation: ``weakpose evaluate``'s work (load the VideoPose3D npz pair, whole-sequence inference, per-action
tables) on a Human3.6M-sized test set: ``weakpose make-synthetic --max-frames 0 --copies 38`` trimmed to 520 k
test frames (130 k frames x 4 cameras), the shipped 27-frame lifter.

    python bench/bench_lifter.py [--fields 27 81 243] [--threads 1 2] [--quick] [--eval-data DIR]

Nothing is asserted; ratios come from the same run. Timings on a shared machine vary: threads beyond the idle
cores collapse (the load average is printed).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import default_collate

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import print_table, time_it  # noqa: E402
from weakpose.data.datasets.poses import PoseWindowDataset  # noqa: E402
from weakpose.data.h36m.loaders import load_videopose3d  # noqa: E402
from weakpose.data.synthetic.keypoints import make_synthetic  # noqa: E402
from weakpose.models.temporal import TemporalLifter, TrajectoryModel, conv1d_network  # noqa: E402

TARGETS = {
    "train_27_1thread": 560,
    "chunk_over_twin_243": 3.0,
    "infer_27_1thread": 6000,
    "infer_ratio_27": 10.0,
    "infer_ratio_243": 50.0,
    "eval_seconds": 60.0,
}


def widths(rf: int):
    out, n = [], rf
    while n > 1 and n % 3 == 0:
        out.append(3)
        n //= 3
    if n != 1 or not out:
        raise SystemExit(f"receptive field {rf} is not a power of 3")
    return tuple(out)


def _adam(params):
    return torch.optim.Adam(params, lr=1e-3, amsgrad=True)


def train_rates(data, rf: int, steps: int, batch_new: int, chunk: int, old_batch: int = 128) -> dict:
    """Samples/s of the three training paths (median over ``steps`` timed steps after one warm-up)."""
    torch.manual_seed(0)
    kw = dict(filter_widths=widths(rf), channels=1024)
    pose, traj = TemporalLifter(**kw), TrajectoryModel(**kw)
    windows = PoseWindowDataset(data, receptive_field=rf)
    chunks = PoseWindowDataset(data, receptive_field=rf, chunk_frames=chunk)
    rng = np.random.default_rng(0)
    opt_old, opt_new = _adam(list(pose.parameters()) + list(traj.parameters())), _adam(pose.parameters())

    def old():
        idx = rng.integers(0, len(windows), old_batch)
        b = default_collate([windows[int(i)] for i in idx])
        opt_old.zero_grad(set_to_none=True)
        p = conv1d_network(pose, b["keypoints_2d"], windows=True)[:, 0]
        r = conv1d_network(traj, b["keypoints_2d"], windows=True)[:, 0, 0]
        loss = (p - b["pose_3d"]).norm(dim=-1).mean() + (r - b["root_3d"]).norm(dim=-1).mean()
        loss.backward()
        opt_old.step()
        return old_batch

    def twin():
        b = windows.get_batch(rng.integers(0, len(windows), batch_new))
        opt_new.zero_grad(set_to_none=True)
        (pose.forward_windows(b["keypoints_2d"])[:, 0] - b["pose_3d"]).norm(dim=-1).mean().backward()
        opt_new.step()
        return batch_new

    per_step = max(1, batch_new // chunk)

    def chunked():
        b = chunks.get_batch(rng.integers(0, len(chunks), per_step))
        opt_new.zero_grad(set_to_none=True)
        valid = b["target_valid"]
        (pose(b["keypoints_2d"])[valid] - b["pose_3d"][valid]).norm(dim=-1).mean().backward()
        opt_new.step()
        return int(valid.sum())

    out = {}
    for name, fn in (("old", old), ("twin", twin), ("chunked", chunked)):
        pose.train()
        traj.train()
        fn()  # warm-up
        rates = []
        for _ in range(steps):
            t = time.perf_counter()
            n = fn()
            rates.append(n / (time.perf_counter() - t))
        out[name] = float(np.median(rates))
    return out


def infer_rates(data, rf: int, repeats: int) -> dict:
    torch.manual_seed(0)
    model = TemporalLifter(filter_widths=widths(rf), channels=1024).eval()
    seq = max(data.sequences, key=lambda s: s.num_frames)
    windows = PoseWindowDataset([seq], receptive_field=rf, cameras=[seq.camera_ids[0]])
    frames = len(windows)
    kp = torch.from_numpy(next(windows.view_arrays())[1])

    old_frames = min(frames, 4096 // (rf // 27))  # the old path is slow at 243 frames: a shorter stretch

    def old():
        with torch.no_grad():
            for start in range(0, old_frames, 1024):
                b = default_collate([windows[i] for i in range(start, min(old_frames, start + 1024))])
                conv1d_network(model, b["keypoints_2d"])

    def new():
        model.lift_sequence(kp)

    t_old = time_it(old, repeats=max(1, repeats // 2))
    t_new = time_it(new, repeats=repeats)
    return {"frames": frames, "old": old_frames / t_old, "new": frames / t_new}


def evaluation_time(eval_dir: Path, frames: int = 520_000) -> dict:
    """Seconds for weakpose evaluate's work on ``frames`` test frames: load, lift whole sequences, tables."""
    from weakpose.evaluation import evaluate_views, predict_sequences
    from weakpose.lifters import load_lifter
    from weakpose.pretrained import pretrained_path

    t0 = time.perf_counter()
    data = load_videopose3d(
        eval_dir / "data_3d_synthetic.npz", eval_dir / "data_2d_synthetic_gt.npz", subjects=["S9", "S11"]
    )
    seqs, total = [], 0
    for s in data.sequences:  # trim to Human3.6M's test size (frames x cameras)
        if total >= frames:
            break
        seqs.append(s)
        total += s.num_frames * len(s.camera_ids)
    t1 = time.perf_counter()
    model, _ = load_lifter(pretrained_path("temporal_lifter"))
    ds = PoseWindowDataset(seqs, receptive_field=model.receptive_field())
    views = predict_sequences(model, ds)
    t2 = time.perf_counter()
    table = evaluate_views(views)
    table.summary()
    t3 = time.perf_counter()
    return {
        "frames": sum(len(p) for p, _ in views.values()),
        "load": t1 - t0,
        "predict": t2 - t1,
        "metrics": t3 - t2,
        "total": t3 - t0,
    }


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--fields", type=int, nargs="+", default=[27, 81, 243])
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    p.add_argument("--steps", type=int, default=3, help="timed training steps per path")
    p.add_argument(
        "--chunk",
        type=int,
        nargs="+",
        default=[128, 128, 512],
        help="chunk length L per receptive field (27, 81, 243 order)",
    )
    p.add_argument("--eval-data", default="data/h36m_size", help="Human3.6M-sized synthetic set (made if missing)")
    p.add_argument("--no-eval", action="store_true")
    p.add_argument("--quick", action="store_true", help="27 frames, 1 thread, 2 steps, no evaluation")
    args = p.parse_args(argv)
    if args.quick:
        args.fields, args.threads, args.steps, args.no_eval = [27], [1], 2, True
    chunk_of = dict(zip([27, 81, 243], args.chunk))

    small = make_synthetic(ROOT / "data" / "bench_lifter", max_frames=0, include_bvh=False)
    data = load_videopose3d(small.data_3d, small.data_2d, subjects=["S1", "S5"])
    train_rows, infer_rows = [], []
    for threads in args.threads:
        torch.set_num_threads(threads)
        for rf in args.fields:
            L = chunk_of.get(rf, 128)
            r = train_rates(data, rf, args.steps, batch_new=1024 if rf < 243 else 512, chunk=L)
            train_rows.append(
                [
                    rf,
                    threads,
                    f"{r['old']:.0f}",
                    f"{r['twin']:.0f}",
                    f"{r['twin'] / r['old']:.1f}x",
                    L,
                    f"{r['chunked']:.0f}",
                    f"{r['chunked'] / r['twin']:.1f}x",
                ]
            )
            print("  train", train_rows[-1], flush=True)
            i = infer_rates(data, rf, repeats=3)
            infer_rows.append(
                [rf, threads, i["frames"], f"{i['old']:.0f}", f"{i['new']:.0f}", f"{i['new'] / i['old']:.1f}x"]
            )
            print("  infer", infer_rows[-1], flush=True)

    print_table(
        "Temporal lifter training, samples/s (supervised output frames per second)",
        "1024 channels, filter widths 3^n, full supervision, Adam (amsgrad); old = per-sample dataset + "
        "collate, batch 128, pose + trajectory conv1d twins; twin = get_batch, batch 1024 (512 at 243), pose "
        f"network, matrix-product twin; chunked = get_batch chunks of L outputs, dilated network; median of "
        f"{args.steps} steps; targets: twin >= {TARGETS['train_27_1thread']} at 27 frames on 1 thread, "
        f"chunked >= {TARGETS['chunk_over_twin_243']:.0f}x twin at 243",
        ["rf", "threads", "old", "twin", "twin/old", "L", "chunked", "chunked/twin"],
        train_rows,
    )
    print_table(
        "Temporal lifter inference, output frames/s on one sequence",
        "1024 channels, eval, no grad; old = each frame's window through the conv1d network, batches of 1024 "
        "windows from PoseWindowDataset (predict_views before); new = lift_sequence (whole sequence, "
        f"chunks of 4096); targets: new >= {TARGETS['infer_27_1thread']} at 27 on 1 thread, new/old >= "
        f"{TARGETS['infer_ratio_27']:.0f}x at 27 and >= {TARGETS['infer_ratio_243']:.0f}x at 243",
        ["rf", "threads", "frames", "old", "new", "new/old"],
        infer_rows,
    )

    if not args.no_eval:
        eval_dir = Path(args.eval_data)
        if not (eval_dir / "data_3d_synthetic.npz").is_file():
            print(f"making the Human3.6M-sized set in {eval_dir} (about a minute)", flush=True)
            make_synthetic(eval_dir, max_frames=0, copies=38, include_bvh=False)
        torch.set_num_threads(2)
        e = evaluation_time(eval_dir)
        print_table(
            "weakpose evaluate's work on a Human3.6M-sized test set",
            f"shipped 27-frame lifter, {e['frames']:,} test frames (views x frames, S9/S11 of "
            f"make-synthetic --max-frames 0 --copies 38), 2 threads; target total < "
            f"{TARGETS['eval_seconds']:.0f} s",
            ["frames", "load s", "predict s", "metrics s", "total s"],
            [
                [
                    f"{e['frames']:,}",
                    f"{e['load']:.1f}",
                    f"{e['predict']:.1f}",
                    f"{e['metrics']:.1f}",
                    f"{e['total']:.1f}",
                ]
            ],
        )
    print(f"load average 1/5/15 min: {' / '.join(f'{v:.1f}' for v in os.getloadavg())} on {os.cpu_count()} cores")
    return 0


if __name__ == "__main__":
    sys.exit(main())
