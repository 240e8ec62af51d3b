"""Train the multi-view encoder-decoder (Rhodin et al., ECCV 2018) by novel-view synthesis: no 3D labels.

With no arguments this runs on the embedded default (synthetic multi-view crops rendered from real CMU motion into
data/synthetic_images on first use) for a few minutes on a CPU. Examples:

    python sample/train_enc_dec.py                                   # embedded default
    python sample/train_enc_dec.py --data data/h36m_crops            # a converted Human3.6M crop layout
    python sample/train_enc_dec.py --budget-minutes 30 train.device=cuda data.image_size=128 model.backbone=resnet50
    python sample/train_enc_dec.py --config configs/enc_dec_gpu.yaml   # the paper's 128 px, ResNet-50, on a GPU
    python sample/train_enc_dec.py model.backbone_weights=resnet18-f37072fd.pth   # start from your ImageNet weights
    python sample/train_enc_dec.py --resume                          # continue a killed run

Trains on the training subjects only (every ``data.val_every``-th of their sequences is held out to validate and
pick the checkpoint); the test subjects (S9, S11) are never read. Writes runs/enc_dec/enc_dec.pt (load with
``weakpose.models.encoder_decoder.EncoderDecoder.load``; sample/train_3d_pose_from_enc.py and
sample/train_SMPL_from_enc.py read it as model.encoder_path), metrics.csv, and in runs/enc_dec/images/
(run.images_dir elsewhere; run.images_dir=images regenerates the README's figures) enc_dec_reconstructions.png
(input view, target view, re-rendered view, target background) as training proceeds, plus enc_dec_curves.png.
"""

from __future__ import annotations

import dataclasses
import sys
import time
from pathlib import Path
from typing import List

import torch

from weakpose.data.datasets.multiview import held_out_sequences
from weakpose.data.datasets.nvs_pairs import NVSPairDataset, flatten_pairs
from weakpose.data.synthetic.images import DEFAULT_IMAGE_ROOT, ensure_synthetic_images
from weakpose.models.encoder_decoder import EncoderDecoder, EncoderDecoderConfig, reconstruct
from weakpose.tasks.nvs import ComputeConfig, LossConfig, NVSTask, OptimConfig
from weakpose.train import Callback, TrainConfig, Trainer, start_run
from weakpose.train.run_config import RunConfig, run_shortcuts
from weakpose.train.startup import run_script
from weakpose.viz import plot_metric_curves, save_image_rows

TRAIN_SUBJECTS = ["S1", "S5", "S6", "S7", "S8"]


@dataclasses.dataclass
class DataConfig:
    """root: a crop layout (weakpose.data.datasets.multiview). val_every: every val_every-th sequence of the training
    subjects is held out for validation. image_size: crops are resized to this (the model's input size)."""

    root: str = DEFAULT_IMAGE_ROOT  # a crop layout (weakpose.data.datasets.multiview)
    train_subjects: List[str] = dataclasses.field(default_factory=lambda: list(TRAIN_SUBJECTS))
    val_every: int = 5  # every val_every-th training sequence is held out to validate
    val_pairs_per_frame: int = 2  # camera pairs per held-out frame (of 12) scored at each validation
    image_size: int = 64  # crop side in pixels (the paper: 128)
    stride: int = 1  # keep every n-th frame


@dataclasses.dataclass
class ModelConfig:
    backbone: str = "resnet18"  # resnet18 | resnet34 | resnet50 | resnext50_32x4d (the paper: resnet50)
    backbone_weights: str = ""  # torchvision-format ResNet weights to start the encoder from (optional)
    init_from: str = ""  # a saved enc_dec.pt to start all weights from (new data, longer training); fresh optimiser
    num_points: int = 200  # the 3D latent: num_points x 3
    appearance_dim: int = 128  # the appearance latent swapped between frames
    decoder_width: int = 256
    hidden: int = 1024


@dataclasses.dataclass
class Config:
    data: DataConfig = dataclasses.field(default_factory=DataConfig)
    model: ModelConfig = dataclasses.field(default_factory=ModelConfig)
    loss: LossConfig = dataclasses.field(default_factory=LossConfig)
    optim: OptimConfig = dataclasses.field(default_factory=OptimConfig)
    compute: ComputeConfig = dataclasses.field(default_factory=ComputeConfig)
    train: TrainConfig = dataclasses.field(
        default_factory=lambda: TrainConfig(
            out_dir="runs/enc_dec",
            max_steps=600,
            batch_size=8,
            log_every=20,
            val_every=150,
            ckpt_every=150,
            best_metric="val/l1",
        )
    )
    figure_rows: int = 6  # rows of the reconstruction figure (pairs of views of held-out frames)
    run: RunConfig = dataclasses.field(default_factory=RunConfig)  # convolutions use both cores well


SHORTCUTS = run_shortcuts("a crop layout (weakpose.data.datasets.multiview), e.g. data/h36m_crops")


class ReconstructionFigure(Callback):
    """Redraw the (input, target, re-rendered, background) grid after every validation."""

    def __init__(self, path: Path, batch: dict, title: str):
        self.path, self.batch, self.title = path, batch, title

    def draw(self, task: NVSTask, step: int) -> None:
        model = task.model
        was_training = model.training
        model.eval()
        with torch.no_grad():
            b = {k: (v.to(task.device) if torch.is_tensor(v) else v) for k, v in self.batch.items()}
            pred = reconstruct(model, b).cpu()
        model.train(was_training)
        rows = [
            [self.batch["source"][i], self.batch["target"][i], pred[i], self.batch["target_background"][i]]
            for i in range(len(pred))
        ]
        save_image_rows(
            self.path,
            rows,
            ["input view", "target view", "re-rendered", "target background"],
            title=f"{self.title}, step {step}",
        )

    def on_validation_end(self, trainer, step, metrics) -> None:
        if trainer.is_main:
            self.draw(trainer.task, step)


def start_weights_from(model: EncoderDecoder, path: str) -> None:
    """Copy every weight of a saved encoder-decoder into ``model`` (same architecture and image size required)."""
    saved = EncoderDecoder.load(path)
    if dataclasses.asdict(saved.config) != dataclasses.asdict(model.config):
        differ = {
            k: (v, getattr(model.config, k))
            for k, v in dataclasses.asdict(saved.config).items()
            if getattr(model.config, k) != v
        }
        raise ValueError(
            f"model.init_from={path}: its architecture differs from this run's as (saved, this run): "
            f"{differ}; set data.image_size / model.* to match"
        )
    model.load_state_dict(saved.state_dict())


def main(argv=None) -> int:
    cfg, args = start_run(Config, argv, description=__doc__, shortcuts=SHORTCUTS)
    t0 = time.perf_counter()
    root = Path(cfg.data.root)
    if str(root) == DEFAULT_IMAGE_ROOT:
        ensure_synthetic_images(root)

    keep, held = held_out_sequences(cfg.data.val_every)
    d = cfg.data
    train_ds = NVSPairDataset(root, d.train_subjects, d.image_size, d.stride, seed=cfg.train.seed, sequence_filter=keep)
    val_ds = (
        NVSPairDataset(
            root,
            d.train_subjects,
            d.image_size,
            d.stride,
            seed=cfg.train.seed + 1,
            sequence_filter=held,
            pairs_per_frame=d.val_pairs_per_frame,
        )
        if held
        else None
    )
    print(
        f"novel-view synthesis on {len(train_ds.frames)} frames of {d.train_subjects} ({len(train_ds)} view pairs)"
        f"; validating on {len(val_ds.frames) if val_ds else 0} frames of held-out sequences; {d.image_size} px"
    )

    m = cfg.model
    model = EncoderDecoder(
        EncoderDecoderConfig(
            image_size=d.image_size,
            backbone=m.backbone,
            num_points=m.num_points,
            appearance_dim=m.appearance_dim,
            decoder_width=m.decoder_width,
            hidden=m.hidden,
        )
    )
    if m.init_from:
        start_weights_from(model, m.init_from)
        print(f"weights initialised from {m.init_from}")
    if m.backbone_weights:
        report = model.load_backbone_weights(m.backbone_weights)
        print(f"encoder backbone initialised from {m.backbone_weights} (skipped: {report.get('skipped')})")
    task = NVSTask.from_config(model, loss=cfg.loss, optim=cfg.optim, compute=cfg.compute)

    figure_ds = val_ds or train_ds
    picks = torch.linspace(0, len(figure_ds) - 1, max(1, cfg.figure_rows // 2)).long().tolist()
    fixed = flatten_pairs(torch.utils.data.default_collate([figure_ds[i] for i in picks]))
    images = cfg.run.images(cfg.train.out_dir)
    figure = ReconstructionFigure(
        images / "enc_dec_reconstructions.png",
        fixed,
        "held-out sequences of the training subjects" if val_ds else "training frames",
    )
    callbacks = [figure, *cfg.run.budget_callbacks()]
    trainer = Trainer(task, cfg, train_ds, val_ds, resume=args.resume, callbacks=callbacks)
    result = trainer.fit()
    if result.interrupted or not trainer.is_main:
        return 0

    trainer.restore_best(result)
    out = Path(cfg.train.out_dir)
    model.cpu().eval()
    val = result.last_validation
    model.save(
        out / "enc_dec.pt",
        meta={
            "data": str(root),
            "train_subjects": list(d.train_subjects),
            "steps": int(result.step),
            "feature_loss": cfg.loss.feature_loss,
            "best_step": result.best_step,
            "init_from": m.init_from or None,
            "val_l1": None if result.best_value is None else float(result.best_value),
        },
    )
    task.to(torch.device("cpu"))
    figure.draw(task, result.best_step or result.step)
    plot_metric_curves(
        out / "metrics.csv",
        images / "enc_dec_curves.png",
        keys=["train/l1", "val/l1", "val/ssim"],
        log_y=False,
        title="encoder-decoder: L1 of re-rendered target views; SSIM",
    )
    print(
        f"\nfinished {result.step} steps in {time.perf_counter() - t0:.0f} s; validation (held-out sequences of "
        f"the training subjects): " + ", ".join(f"{k} {v:.4f}" for k, v in sorted(val.items()))
    )
    print(f"wrote {out / 'enc_dec.pt'}, {images / 'enc_dec_reconstructions.png'}, {images / 'enc_dec_curves.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(run_script(main))
