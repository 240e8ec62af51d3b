"""Encoder-decoder training step speed on this CPU, and reconstruction quality at an equal wall-clock budget.

    python bench/bench_enc_dec.py [--threads 1 2] [--steps 12] [--budget-minutes 4] [--budget-threads 2]

Speed: one novel-view-synthesis step of sample/train_enc_dec.py's default model (64 px, ResNet-18, 8 pairs = 16
frames) on the same real batches of the embedded synthetic set, for each change on top of the previous path
("previous": float32, contiguous tensors, Adam's per-tensor loop, every convolution through oneDNN): fused Adam,
channels-last, bf16 autocast, and all together with tiny-map convolutions as a matrix product (the default now,
weakpose.models.resnet.Conv2d). Steps are timed interleaved (one of each in turn, median of ``--steps``) so that
load from other processes hits every variant alike; the data is prepared before timing (identical for all).

Quality: the previous path and the default each train from the same initial weights for
``--budget-minutes`` of wall-clock time on ``--budget-threads`` threads (shuffled batches of the real dataset;
every view is decoded into memory before the runs start, so none pays for decoding), then all are scored on the
same held-out validation items (sequences of the training subjects; 2 ordered camera pairs per frame; appearance
swapped as in training): L1 and SSIM of the re-rendered target view, in float32.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))
from common import print_table  # noqa: E402

from weakpose.data.datasets.multiview import held_out_sequences  # noqa: E402
from weakpose.data.datasets.nvs_pairs import NVSPairDataset, flatten_pairs  # noqa: E402
from weakpose.data.synthetic.images import DEFAULT_IMAGE_ROOT, ensure_synthetic_images  # noqa: E402
from weakpose.losses import ssim  # noqa: E402
from weakpose.models.encoder_decoder import EncoderDecoder, EncoderDecoderConfig, reconstruct  # noqa: E402
from weakpose.models.resnet import Conv2d  # noqa: E402
from weakpose.tasks.nvs import NVSTask  # noqa: E402
from weakpose.train.precision import native_bf16  # noqa: E402

SUBJECTS = ["S1", "S5", "S6", "S7", "S8"]
# name -> (precision, channels_last, fused Adam, small-map convolutions as a matrix product)
VARIANTS = {
    "previous (float32, contiguous, Adam loop)": ("float32", False, False, False),
    "+ fused Adam": ("float32", False, True, False),
    "+ fused Adam + channels-last": ("float32", True, True, False),
    "+ fused Adam + bf16 autocast": ("bfloat16", False, True, False),
    "+ fused Adam + channels-last + bf16": ("bfloat16", True, True, False),
    "default: all four (+ small-map matmul)": ("bfloat16", True, True, True),
}


def make_task(model: EncoderDecoder, precision: str, channels_last: bool, fused: bool, small_map: bool) -> NVSTask:
    task = NVSTask(copy.deepcopy(model), precision=precision, channels_last=channels_last)
    if not fused:  # the previous path: Adam's default per-tensor loop
        task.optimizer = torch.optim.Adam(task.model.parameters(), lr=1e-3)
    task.small_map = small_map
    return task


def step(task: NVSTask, batch: dict) -> None:
    Conv2d.SMALL_MAP = 16 if task.small_map else 0  # 0: every convolution through nn.Conv2d, as before
    task.training_step(batch, 0)


@torch.no_grad()
def score(model: EncoderDecoder, dataset, batch_size: int = 16) -> dict:
    model.eval()
    l1 = ss = n = 0.0
    for batch in torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=False):
        b = flatten_pairs(batch)
        pred = reconstruct(model, b).float()
        k = len(pred)
        l1 += float((pred - b["target"]).abs().mean()) * k
        ss += float(ssim(pred, b["target"])) * k
        n += k
    return {"l1": l1 / n, "ssim": ss / n}


def train_for(task: NVSTask, dataset, seconds: float, seed: int = 0) -> int:
    """Train ``task`` on shuffled batches of 8 items until ``seconds`` of wall time have passed; the step count."""
    loader = torch.utils.data.DataLoader(
        dataset, batch_size=8, shuffle=True, drop_last=True, generator=torch.Generator().manual_seed(seed)
    )
    steps, t0 = 0, time.perf_counter()
    task.model.train()
    while True:
        for batch in loader:
            step(task, batch)
            steps += 1
            if time.perf_counter() - t0 >= seconds:
                return steps


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    p.add_argument("--steps", type=int, default=12, help="timed steps per variant (median)")
    p.add_argument("--budget-minutes", type=float, default=4.0, help="0 skips the quality comparison")
    p.add_argument("--budget-threads", type=int, default=2)
    args = p.parse_args(argv)

    root = Path(DEFAULT_IMAGE_ROOT)
    ensure_synthetic_images(root)
    keep, held = held_out_sequences(5)
    train = NVSPairDataset(root, SUBJECTS, 64, seed=0, sequence_filter=keep)
    val = NVSPairDataset(root, SUBJECTS, 64, seed=1, sequence_filter=held, pairs_per_frame=2)
    rng = np.random.default_rng(0)
    batches = [
        torch.utils.data.default_collate([train[int(i)] for i in rng.integers(0, len(train), 8)]) for _ in range(4)
    ]
    torch.manual_seed(0)
    base = EncoderDecoder(EncoderDecoderConfig(image_size=64))

    rows = []
    for threads in args.threads:
        torch.set_num_threads(threads)
        tasks = {name: make_task(base, *spec) for name, spec in VARIANTS.items()}
        times = {name: [] for name in tasks}
        for name, task in tasks.items():  # warm-up: first steps allocate and pick kernels
            step(task, batches[0])
        for i in range(args.steps):
            for name, task in tasks.items():
                t = time.perf_counter()
                step(task, batches[i % len(batches)])
                times[name].append(time.perf_counter() - t)
        first = statistics.median(times[next(iter(tasks))])
        for name in tasks:
            med = statistics.median(times[name])
            rows.append([name, threads, f"{1000 * med:.0f}", f"{1 / med:.2f}", f"{first / med:.2f}x"])
    print_table(
        "encoder-decoder training step (sample/train_enc_dec.py defaults: 64 px, ResNet-18, 8 pairs = 16 frames)",
        f"the same 4 prepared batches of the embedded set for every variant, steps interleaved, median of "
        f"{args.steps} after one warm-up step; CPU bf16 native: {native_bf16(torch.device('cpu'))}",
        ["variant", "threads", "ms/step", "steps/s", "speed-up"],
        rows,
    )

    if args.budget_minutes > 0:
        torch.set_num_threads(args.budget_threads)
        for ds in (train, val):  # decode every view once, so neither run pays the other's decoding
            for i in range(len(ds.frames)):
                for cam in ds.cache.cameras(i):
                    ds.cache.view(i, cam)
        qrows = []
        for name in ("previous (float32, contiguous, Adam loop)", "default: all four (+ small-map matmul)"):
            task = make_task(base, *VARIANTS[name])
            torch.manual_seed(0)
            n = train_for(task, train, 60 * args.budget_minutes)
            figures = score(task.model, val)
            qrows.append(
                [name, n, f"{n / (60 * args.budget_minutes):.2f}", f"{figures['l1']:.4f}", f"{figures['ssim']:.4f}"]
            )
        print_table(
            "reconstruction at an equal wall-clock budget",
            f"{args.budget_minutes:g} min of training each on {args.budget_threads} threads from the same initial "
            f"weights and data order (views decoded beforehand); scored on {len(val)} held-out validation items "
            f"(training subjects' held-out sequences), float32; lower L1 / higher SSIM is better",
            ["variant", "steps", "steps/s", "val L1", "val SSIM"],
            qrows,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
