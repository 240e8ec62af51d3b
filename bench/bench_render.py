"""Silhouette rendering throughput and memory on this machine: SoftRas soft rasteriser (forward, forward+backward)
and the hard z-buffer, at 64/128/256 px for ~1k/7k/14k-face body meshes, batch 8, 1 and 2 torch threads.

    python bench/bench_render.py [--quick] [--sigma 0.1] [--threads 1 2]

Meshes: weakpose.render.body_mesh (a generated 1.74 m mannequin of 11 closed ellipsoids, no licensed data) with
1000, 7000 and 14000 faces, seen from 3 m by weakpose.render.front_camera so that the body fills 85% of the image
height; the 8 batch elements are turned by 0, 45, ..., 315 degrees about the vertical axis (front, oblique and
side views). The issue's target - a 6890-vertex mesh at 128x128, batch 8, forward + backward - is timed on
body_mesh(6890) (13736 faces) and, when it exists, on the template of weakpose/body/assets/open_body.npz.

Timing: median of 5 runs after a warm-up; "fwd" runs under torch.no_grad (bench/common.time_it), "fwd+bwd"
renders with vertices requiring grad and back-propagates a weighted sum of the silhouettes to the vertices; its
process CPU time is shown next to the wall time because on a shared machine the wall time includes waiting for
the cores (2-thread runs suffer most: each parallel region waits for the slower thread).
Memory: torch's CPU allocator is invisible to tracemalloc, and the resident set of a process on this machine
drifts with page-level housekeeping, so the peak is counted from torch.profiler(profile_memory=True): every tensor
allocation and free during one forward+backward, in order; the largest running total is the most tensor memory
live at once (the renderer's saved pairs, one chunk of temporaries, per-face tensors and the autograd graph; the
input vertices and the weights existed before and are not counted). Checked against the peak-RSS growth of fresh
processes on a quiet machine: within 10%.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))
from common import print_table, time_it  # noqa: E402

from weakpose.render import HardRasterizer, SoftRasterizer, body_mesh, front_camera, soft_kernels  # noqa: E402
from weakpose.render.rasterize import KERNELS  # noqa: E402

BATCH = 8
OPEN_BODY = ROOT / "weakpose" / "body" / "assets" / "open_body.npz"


def mesh_with_faces(num_faces: int):
    """body_mesh has faces = 2 * vertices - 44 (11 closed parts)."""
    return body_mesh((num_faces + 44) // 2)


def batch_vertices(verts: np.ndarray, batch: int = BATCH) -> torch.Tensor:
    """Centre the mesh's box at (0, 0.87, 0) (the camera's aim) and turn copy b by b * 360/batch degrees."""
    lo, hi = verts.min(0), verts.max(0)
    v = verts - (lo + hi) / 2 + np.array([0.0, 0.87, 0.0])
    out = []
    for b in range(batch):
        a = 2 * math.pi * b / batch
        R = np.array([[math.cos(a), 0, math.sin(a)], [0, 1, 0], [-math.sin(a), 0, math.cos(a)]])
        c = np.array([0.0, 0.87, 0.0])
        out.append((v - c) @ R.T + c)
    return torch.tensor(np.stack(out), dtype=torch.float32)


def load_mesh(spec: str):
    if spec == "open_body":
        d = np.load(OPEN_BODY)
        return np.asarray(d["v_template"], np.float64), np.asarray(d["f"], np.int64)
    if spec.startswith("v"):
        return body_mesh(int(spec[1:]))
    return mesh_with_faces(int(spec))


def fwd_bwd(renderer, v, faces, cam, weights):
    vv = v.detach().requires_grad_(True)
    sil = renderer.silhouette(vv, faces, cam)
    (sil * weights).sum().backward()
    return vv.grad


def time_wall_cpu(fn, repeats: int):
    """Median wall time and median process CPU time (all threads) of ``fn`` in seconds, after one warm-up.
    CPU time shows what the work costs when other processes share the cores (wall time then includes waiting)."""
    fn()
    walls, cpus = [], []
    for _ in range(repeats):
        c, w = time.process_time(), time.perf_counter()
        fn()
        walls.append(time.perf_counter() - w)
        cpus.append(time.process_time() - c)
    return statistics.median(walls), statistics.median(cpus)


@contextlib.contextmanager
def _quiet_stderr():
    """Silence the profiler's start/stop lines, which C++ writes straight to file descriptor 2."""
    sys.stderr.flush()
    saved = os.dup(2)
    with open(os.devnull, "w") as devnull:
        os.dup2(devnull.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def peak_tensor_memory(fn) -> int:
    """Peak bytes of tensor memory live at once during ``fn()``, counted from the allocation and free events that
    torch.profiler(profile_memory=True) records (tensors that existed before the call are not counted)."""
    from torch.profiler import ProfilerActivity, profile

    with _quiet_stderr(), profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        fn()
    events = sorted(
        (e for e in prof.profiler.kineto_results.events() if e.name() == "[memory]"), key=lambda e: e.start_ns()
    )
    live = peak = 0
    for e in events:
        live += e.nbytes()  # negative for a free
        peak = max(peak, live)
    return peak


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="128 px and 7k faces only, 1 thread, 3 repeats")
    p.add_argument(
        "--sigma", type=float, default=SoftRasterizer().sigma, help="SoftRas sigma in px² (default %(default)s)"
    )
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    p.add_argument(
        "--kernels",
        nargs="+",
        default=None,
        choices=list(KERNELS[1:]),
        help="silhouette kernels to compare (default: torch, and numba when installed)",
    )
    args = p.parse_args(argv)
    kernels = args.kernels or (["torch", "numba"] if soft_kernels.available() else ["torch"])

    sizes = (128,) if args.quick else (64, 128, 256)
    face_counts = (7000,) if args.quick else (1000, 7000, 14000)
    threads = (1,) if args.quick else tuple(args.threads)
    repeats = 3 if args.quick else 5
    soft = SoftRasterizer(sigma=args.sigma, kernel=kernels[-1])
    hard = HardRasterizer()
    meshes = {n: mesh_with_faces(n) for n in face_counts}

    rows = []
    load0 = os.getloadavg()[0]
    for size in sizes:
        cam = front_camera((size, size))
        weights = torch.rand(BATCH, size, size)
        for n in face_counts:
            verts, faces = meshes[n]
            v = batch_vertices(verts)
            torch.set_num_threads(1)
            mem = f"{peak_tensor_memory(lambda: fwd_bwd(soft, v, faces, cam, weights)) / 2**20:.0f}"
            with torch.no_grad():
                cover = float(hard.silhouette(v, faces, cam).mean())
            for th in threads:
                torch.set_num_threads(th)
                t_hard = time_it(lambda: hard.render(v, faces, cam), repeats=repeats)
                with torch.no_grad():
                    t_fwd = time_it(lambda: soft.silhouette(v, faces, cam), repeats=repeats)
                t_fb, cpu_fb = time_wall_cpu(lambda: fwd_bwd(soft, v, faces, cam, weights), repeats)
                rows.append(
                    [
                        f"{size}x{size}",
                        len(faces),
                        f"{100 * cover:.0f}%",
                        th,
                        f"{BATCH / t_fwd:.0f}",
                        f"{BATCH / t_fb:.0f}",
                        f"{1000 * t_fb:.0f}",
                        f"{1000 * cpu_fb:.0f}",
                        f"{BATCH / t_hard:.0f}",
                        mem,
                    ]
                )
    load = os.getloadavg()[0]
    print_table(
        "weakpose.render silhouettes: SoftRas soft rasteriser vs hard z-buffer",
        f"kernel {kernels[-1]}, batch {BATCH}, float32 CPU, sigma={args.sigma} px², eps={soft.eps} "
        f"(reach {soft.reach:.2f} px), body_mesh "
        f"turned 0..315 deg, median of {repeats}; silhouettes/s = {BATCH} / batch time; peak MB = most tensor "
        f"memory live at once during one fwd+bwd (torch.profiler allocation events; the numba kernel's NumPy "
        f"buffers, 13 bytes per pair saved for the backward, are not counted); ms = wall time per batch, "
        f"CPU ms = process CPU time per batch (all threads); 1-min load average at the start {load0:.2f}, at the "
        f"end {load:.2f} (other processes on the same cores slow the wall times, 2-thread ones most)",
        [
            "image",
            "faces",
            "cover",
            "threads",
            "fwd sil/s",
            "fwd+bwd sil/s",
            "fwd+bwd ms",
            "fwd+bwd CPU ms",
            "hard sil/s",
            "peak MB",
        ],
        rows,
    )

    # the targets: a 6890-vertex (SMPL-size) mesh, 128x128, batch 8, forward + backward: >= 225 silhouettes/s per
    # thread, and 2 threads faster than 1; every kernel in the same run, so the speed-ups are measured here
    specs = [("v6890", "body_mesh(6890)")] + ([("open_body", "open_body.npz template")] if OPEN_BODY.exists() else [])
    cam = front_camera((128, 128))
    weights = torch.rand(BATCH, 128, 128)
    target_rows, lines = [], []
    for spec, label in specs:
        verts, faces = load_mesh(spec)
        v = batch_vertices(verts)
        base = {}
        for kernel in kernels:
            r = SoftRasterizer(sigma=args.sigma, kernel=kernel)
            res = {}
            for th in (1, 2):
                torch.set_num_threads(th)
                res[th] = time_wall_cpu(lambda: fwd_bwd(r, v, faces, cam, weights), repeats)
                base.setdefault(th, res[th][0])
                rate = BATCH / res[th][0]
                target_rows.append(
                    [
                        label,
                        len(faces),
                        kernel,
                        th,
                        f"{1000 * res[th][0]:.1f}",
                        f"{1000 * res[th][1]:.1f}",
                        f"{rate:.0f}",
                        f"{rate / th:.0f}",
                        f"{base[th] / res[th][0]:.2f}x",
                    ]
                )
            per_thread = BATCH / res[1][0]
            lines.append(
                f"{label}, kernel {kernel}: {per_thread:.0f} silhouettes/s on 1 thread (target >= 225: "
                f"{'MET' if per_thread >= 225 else 'NOT met'}); 2 threads {res[1][0] / res[2][0]:.2f}x the 1-thread "
                f"rate (target > 1: {'MET' if res[2][0] < res[1][0] else 'NOT met'})"
            )
    print_table(
        "SoftRas fwd+bwd on an SMPL-size mesh: each silhouette kernel in one run",
        f"128x128, batch {BATCH}, sigma={args.sigma} px², median of {repeats} after a warm-up; speed-up = the first "
        f"kernel's wall time at the same thread count / this one's",
        ["mesh", "faces", "kernel", "threads", "wall ms", "CPU ms", "sil/s", "sil/s per thread", "speed-up"],
        target_rows,
    )
    if not OPEN_BODY.exists():
        lines.append(f"({OPEN_BODY.relative_to(ROOT)} not present: the target ran on the generated mesh only)")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
