"""Which reconstruction loss should the encoder-decoder use without ImageNet weights? A small ablation.

    python bench/bench_nvs_feature_loss.py [--steps 500] [--losses none random ssim] [--threads 2] [-- overrides]

Each setting runs sample/train_enc_dec.py for the same number of steps on the same data (the embedded default
unless data.root=... is given) with L1 + 1.0 x one of: nothing ("none"), the L1 distance of features of a ResNet-18
with fixed random weights ("random"), 1 - SSIM ("ssim"); "+fg4" also weights the L1 by 1 + 4 x the target's
difference from the known background (weakpose.losses.image.background_attention). Every setting is then scored the
same way on the held-out validation sequences (training subjects; 4 camera pairs per frame; appearance swapped as in
training; the checkpoint each run chose on that split): L1 and SSIM of the whole re-rendered target view, and L1 on
the person (pixels of the target mask > 0.5, where the background given to the decoder does not help). Lower L1,
higher SSIM are better.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "sample"))
from common import print_table  # noqa: E402


@torch.no_grad()
def score(model, dataset, batch_size: int = 8) -> dict:
    from weakpose.data.datasets.nvs_pairs import flatten_pairs
    from weakpose.losses import ssim
    from weakpose.models.encoder_decoder import reconstruct

    model.eval()
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=False)
    l1 = ss = fg = fg_n = n = 0.0
    for batch in loader:
        b = flatten_pairs(batch)
        pred = reconstruct(model, b)
        k = len(pred)
        l1 += float((pred - b["target"]).abs().mean()) * k
        ss += float(ssim(pred, b["target"])) * k
        person = (b["target_mask"] > 0.5).expand_as(pred)
        fg += float((pred - b["target"]).abs()[person].sum())
        fg_n += float(person.sum())
        n += k
    return {"l1": l1 / n, "ssim": ss / n, "person_l1": fg / max(fg_n, 1)}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--steps", type=int, default=500)
    p.add_argument(
        "--losses",
        nargs="+",
        default=["none", "random", "ssim", "ssim+fg4"],
        help="feature term, optionally '+fg<λ>': L1 weighted 1 + λ x difference from the background",
    )
    p.add_argument("--threads", type=int, default=2)
    args, extra = p.parse_known_args(argv)
    import train_enc_dec  # noqa: E402  (sample script)

    from weakpose.data.datasets.multiview import held_out_sequences
    from weakpose.data.datasets.nvs_pairs import NVSPairDataset
    from weakpose.models.encoder_decoder import EncoderDecoder
    from weakpose.train import parse_config_args

    torch.set_num_threads(args.threads)
    out_root = Path(tempfile.mkdtemp(prefix="bench_nvs_loss_"))
    rows = []
    for setting in args.losses:
        kind, _, fg = setting.partition("+fg")
        out = out_root / setting
        t = time.perf_counter()
        overrides = [
            f"loss.feature_loss={kind}",
            f"loss.foreground_weight={float(fg or 0)}",
            f"train.max_steps={args.steps}",
            f"train.out_dir={out}",
            f"run.images_dir={out / 'images'}",
            f"run.num_threads={args.threads}",
            "train.progress=false",
            *extra,
        ]
        rc = train_enc_dec.main(overrides)
        if rc:
            return rc
        seconds = time.perf_counter() - t
        cfg, _ = parse_config_args(train_enc_dec.Config, overrides)
        _, held = held_out_sequences(cfg.data.val_every)
        model = EncoderDecoder.load(out / "enc_dec.pt")
        val = NVSPairDataset(
            cfg.data.root,
            cfg.data.train_subjects,
            model.image_size,
            seed=cfg.train.seed + 1,
            sequence_filter=held,
            masks=True,
            pairs_per_frame=4,
        )
        s = score(model, val)
        rows.append(
            [setting, args.steps, f"{seconds:.0f}", f"{s['l1']:.4f}", f"{s['ssim']:.3f}", f"{s['person_l1']:.4f}"]
        )
    print_table(
        "encoder-decoder reconstruction loss ablation (L1 + 1.0 x feature term; +fgλ: background-"
        "difference weighted L1)",
        f"{args.steps} steps each, batch 8 pairs of frames, 64 px, ResNet-18 encoder; scored on held-out "
        f"sequences of the training subjects (appearance swapped); threads={args.threads}",
        ["feature term", "steps", "train s", "L1", "SSIM", "person L1"],
        rows,
    )
    print(f"(runs in {out_root})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
