"""Throughput of the foundation pieces on this machine, with 1 and 2 torch threads.

    python bench/bench_foundation.py [--quick]

Rows: camera projection with distortion, P-MPJPE (batched Procrustes), the frame dataset's __getitem__, and one
optimiser step of the MLP lifter baseline (batch 256). Median of 5 runs after a warm-up.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import print_table, time_it  # noqa: E402

from weakpose.data.h36m.cameras import load_h36m_cameras_json  # noqa: E402
from weakpose.metrics import p_mpjpe  # noqa: E402
from weakpose.models import MLPLifter  # noqa: E402


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--quick", action="store_true", help="smaller sizes")
    args = p.parse_args(argv)
    n = 2_000 if args.quick else 20_000
    rng = np.random.default_rng(0)
    cam = load_h36m_cameras_json()["S1"]["54138969"]
    pts = torch.from_numpy(rng.normal([0, 0, 1], 0.3, size=(n, 17, 3))).float()
    pred = torch.from_numpy(rng.normal(size=(n, 17, 3))).float()
    gt = torch.from_numpy(rng.normal(size=(n, 17, 3))).float()

    from weakpose.data.datasets.poses import PoseFrameDataset
    from weakpose.data.h36m.loaders import load_videopose3d
    from weakpose.data.synthetic.keypoints import make_synthetic

    tmp = tempfile.mkdtemp()
    paths = make_synthetic(tmp, max_frames=200, include_bvh=False)
    ds = PoseFrameDataset(load_videopose3d(paths.data_3d, paths.data_2d))
    items = min(len(ds), 2000)

    model = MLPLifter()
    opt = torch.optim.Adam(model.parameters(), 1e-3)
    kp, target = torch.randn(256, 17, 2), torch.randn(256, 17, 3)

    def lifter_step():
        opt.zero_grad()
        loss = (model(kp) - target).norm(dim=-1).mean()
        loss.backward()
        opt.step()

    rows = []
    for threads in (1, 2):
        torch.set_num_threads(threads)
        t_proj = time_it(lambda: cam.project(pts))
        t_pm = time_it(lambda: p_mpjpe(pred, gt))
        t_ds = time_it(lambda: [ds[i] for i in range(items)], repeats=3)
        t_step = time_it(lifter_step, repeats=10, warmup=3)
        rows += [
            (threads, f"Camera.project, {n} frames x 17 joints, float32", f"{n / t_proj:,.0f} frames/s"),
            (threads, f"p_mpjpe, {n} frames", f"{n / t_pm:,.0f} frames/s"),
            (threads, "PoseFrameDataset.__getitem__", f"{items / t_ds:,.0f} samples/s"),
            (threads, "MLPLifter (1024 wide, 2 blocks) Adam step, batch 256", f"{t_step * 1000:.1f} ms/step"),
        ]
    print_table(
        "weakpose foundation throughput",
        "median of repeated runs after warm-up; CPU",
        ("threads", "operation", "throughput"),
        rows,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
