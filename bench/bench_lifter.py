"""Benchmark: TemporalLifter training and inference frames/s on CPU for receptive fields 27, 81 and 243.

Training (one step = forward + backward + Adam step, MSE to random targets, train mode with dropout 0.25) on a batch
of receptive-field windows (B, rf, 17, 2), at the published architecture (1024 channels, filter widths 3,...,3),
timed for two implementations of the SAME module and weights:

  (a) weakpose: the strided training twin (``TemporalLifter.forward_windows``), which computes only the features the
      window's single output needs;
  (b) straightforward: the dilated network of the published design applied to the same windows (``forward``),
      which is what a plain implementation of the paper trains with.

Training frames/s = windows (= supervised output frames) per second. Inference: the dilated twin on one whole
sequence in eval mode without gradients (both implementations infer this way), frames/s = output frames per second.
The two training variants are timed interleaved (an (a) repeat, then a (b) repeat, ...) so load changes on a shared
machine hit both alike. Target: (a) at least 1.5x the training frames/s of (b). Nothing is asserted.

    python bench/bench_lifter.py [--fields 27 81 243] [--threads 1 2] [--batch 64] [--repeats 3] [--quick]
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import print_table, time_interleaved, time_it  # noqa: E402
from weakpose.models.temporal import TemporalLifter  # noqa: E402

TARGET_SPEEDUP = 1.5


def _widths(rf: int):
    """27 -> (3, 3, 3): the published configurations are powers of 3."""
    widths, n = [], rf
    while n > 1 and n % 3 == 0:
        widths.append(3)
        n //= 3
    if n != 1 or not widths:
        raise SystemExit(f"receptive field {rf} is not a power of 3 (3, 9, 27, 81, 243, ...)")
    return tuple(widths)




def _train_step(model, forward, opt, x, y):
    def step():
        opt.zero_grad(set_to_none=True)
        loss = torch.nn.functional.mse_loss(forward(x), y)
        loss.backward()
        opt.step()
    return step


def _adam(model):
    """Adam with amsgrad as VideoPose3D trains; the fused CPU kernel where this torch has it (the same optimizer
    for both variants: it takes the per-step fixed cost of updating the weights out of the comparison's way)."""
    try:
        return torch.optim.Adam(model.parameters(), lr=1e-3, amsgrad=True, fused=True), "fused"
    except (RuntimeError, TypeError):  # older torch: no fused CPU Adam
        return torch.optim.Adam(model.parameters(), lr=1e-3, amsgrad=True), "for-loop"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fields", type=int, nargs="+", default=[27, 81, 243])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--batch", type=int, default=64, help="training windows per step")
    parser.add_argument("--frames", type=int, default=2000, help="output frames of the inference sequence")
    parser.add_argument("--channels", type=int, default=1024)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="batch 16, 500 inference frames, 2 repeats")
    args = parser.parse_args(argv)
    if args.quick:
        args.batch, args.frames, args.repeats = 16, 500, 2

    rows, adam_kind = [], "?"
    for rf in args.fields:
        torch.manual_seed(0)
        model = TemporalLifter(filter_widths=_widths(rf), channels=args.channels)
        params = sum(p.numel() for p in model.parameters())
        opt, adam_kind = _adam(model)
        x = torch.randn(args.batch, rf, 17, 2)
        y = torch.randn(args.batch, 1, 17, 3)
        seq = torch.randn(1, args.frames + rf - 1, 17, 2)
        for threads in args.threads:
            torch.set_num_threads(threads)
            model.train()
            t_strided, t_dilated = time_interleaved(
                [_train_step(model, model.forward_windows, opt, x, y), _train_step(model, model.forward, opt, x, y)],
                args.repeats)
            model.eval()
            with torch.no_grad():
                t_inf = time_it(lambda: model(seq), repeats=args.repeats)
            fps_a, fps_b = args.batch / t_strided, args.batch / t_dilated
            speedup = fps_a / fps_b
            rows.append([rf, f"{params:,}", threads, f"{fps_a:.0f}", f"{fps_b:.0f}", f"{speedup:.2f}x",
                         "yes" if speedup >= TARGET_SPEEDUP else "NO", f"{args.frames / t_inf:.0f}"])
            print(f"  rf {rf}, {threads} thread(s): step {t_strided * 1e3:.0f} ms (a) vs {t_dilated * 1e3:.0f} ms (b); "
                  f"inference {t_inf * 1e3:.0f} ms for {args.frames} frames", flush=True)

    print_table(
        "TemporalLifter on CPU: training frames/s (a) strided training twin vs (b) dilated network on the same "
        "windows; inference frames/s of the dilated twin on a whole sequence",
        f"float32, {args.channels} channels, filter widths 3^n, 17 joints in/out, dropout 0.25; training step = "
        f"forward + backward + Adam (amsgrad, {adam_kind}) on {args.batch} windows of rf frames, train mode; "
        f"inference = one sequence of {args.frames} output frames, eval, no grad; median of {args.repeats} (a)/(b) "
        f"interleaved; target speed-up >= {TARGET_SPEEDUP}x",
        ["rf", "params", "threads", "train fps (a) weakpose", "train fps (b) straightforward", "speed-up",
         f">= {TARGET_SPEEDUP}x", "inference fps"],
        rows)
    print(f"load average over the last 1/5/15 min during the run: {' / '.join(f'{v:.1f}' for v in os.getloadavg())} "
          f"on {os.cpu_count()} logical cores (other jobs share this machine when it exceeds the threads used)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
