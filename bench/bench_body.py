"""Benchmark: weakpose BodyModel vs smplx.SMPL on a generated SMPL-sized model (6890 vertices, 24 joints, 10 betas).

Times a forward pass (no grad) and a forward+backward pass (gradients to betas, global_orient, body_pose and
transl from the sum of vertices and joints) at several batch sizes and torch thread counts. Both libraries run in
float32 on CPU on the same arrays (random axis-angle poses, N(0, 0.5) per component, random betas and
translations). The two are timed interleaved (a weakpose repeat, then an smplx repeat, ...) so load changes on a
shared machine hit both alike. Prints one table; nothing is asserted.

    python bench/bench_body.py [--batches 1 8 64] [--threads 1 2] [--repeats 15]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from body_fixtures import make_smpl_sized_model, write_npz, write_plain_pkl  # noqa: E402

from bench.common import print_table, time_interleaved  # noqa: E402
from weakpose.body import BodyModel  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 8, 64])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args(argv)
    try:
        import smplx
    except ImportError:  # pragma: no cover
        print("smplx is not installed: pip install smplx")
        return 1

    tmp = Path(tempfile.mkdtemp(prefix="bench_body_"))
    model = make_smpl_sized_model(seed=0)
    npz, pkl = write_npz(model, tmp / "model.npz"), write_plain_pkl(model, tmp / "model.pkl")
    ours = BodyModel.from_file(npz, num_betas=10)

    load_before = os.getloadavg()[0]
    rows = []
    for threads in args.threads:
        torch.set_num_threads(threads)
        for batch in args.batches:
            ref = smplx.SMPL(model_path=str(pkl), batch_size=batch, num_betas=10)
            gen = torch.Generator().manual_seed(batch)
            inputs = dict(
                betas=torch.randn(batch, 10, generator=gen),
                global_orient=0.5 * torch.randn(batch, 3, generator=gen),
                body_pose=0.5 * torch.randn(batch, 69, generator=gen),
                transl=torch.randn(batch, 3, generator=gen),
            )

            def run(module, grad: bool):
                def fn():
                    if not grad:
                        with torch.no_grad():
                            return module(**inputs)
                    leaves = {k: v.clone().requires_grad_(True) for k, v in inputs.items()}
                    out = module(**leaves)
                    (out.vertices.sum() + out.joints[:, :24].sum()).backward()

                return fn

            fwd_ours, fwd_ref = time_interleaved([run(ours, False), run(ref, False)], args.repeats, warmup=2)
            fb_ours, fb_ref = time_interleaved([run(ours, True), run(ref, True)], args.repeats, warmup=2)
            rows.append(
                [
                    threads,
                    batch,
                    f"{fwd_ours * 1e3:.2f}",
                    f"{fwd_ref * 1e3:.2f}",
                    f"{fwd_ref / fwd_ours:.2f}x",
                    f"{fb_ours * 1e3:.2f}",
                    f"{fb_ref * 1e3:.2f}",
                    f"{fb_ref / fb_ours:.2f}x",
                ]
            )
    print_table(
        "BodyModel vs smplx.SMPL (generated SMPL-sized model, float32, CPU)",
        f"median of {args.repeats} interleaved repeats after 2 warm-ups; ms per call; forward under no_grad; "
        f"fwd+bwd = forward + backward of sum(vertices)+sum(joints) to betas/orient/pose/transl; "
        f"speed-up = smplx/weakpose; 1-min load average {load_before:.2f} at start, "
        f"{os.getloadavg()[0]:.2f} at end (threads above free cores make timings noisy)",
        ["threads", "batch", "weakpose fwd", "smplx fwd", "speed-up", "weakpose fwd+bwd", "smplx fwd+bwd", "speed-up"],
        rows,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
