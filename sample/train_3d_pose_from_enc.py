"""3D pose from the encoder-decoder's latent with the 3D labels of ONE training subject (Rhodin et al. 2018).

Run sample/train_enc_dec.py first (it writes runs/enc_dec/enc_dec.pt). Then:

    python sample/train_3d_pose_from_enc.py                       # frozen NVS encoder + MLP, S1 labels
    python sample/train_3d_pose_from_enc.py --encoder all         # the ablation: NVS / random frozen / end-to-end
    python sample/train_3d_pose_from_enc.py --encoder end-to-end  # encoder trained on S1's labels only
    python sample/train_3d_pose_from_enc.py --data data/h36m_crops model.encoder_path=runs/enc_dec/enc_dec.pt

Encoders (``model.encoder_variant``, or ``--encoder``): ``nvs`` (the novel-view-synthesis encoder of
``model.encoder_path``, frozen), ``random`` (the same architecture, randomly initialised, frozen), ``end-to-end``
(randomly initialised and trained with the regressor on the labels), ``all`` (the three in turn: the ablation).
The regressor is the same in all three: two fully connected layers of 2048, batch norm, dropout 0.5, trained once
per ``optim.weight_decays`` value (AdamW) and kept where the labelled subject's validation MPJPE is lowest.
Labels: ``data.labelled_subjects`` only (every ``data.val_every``-th of their sequences is held out to pick the
checkpoint); errors are reported on the test subjects S9 and S11 (root-relative H36M-17, all frames and the four
cameras): MPJPE, N-MPJPE (scale-aligned) and P-MPJPE (Procrustes-aligned), in mm.
``augment.turn=on`` (or ``both``: each encoder with and without, as separate rows) turns the latent and the target
together by random angles about the vertical while training (our addition to the paper; see
weakpose.tasks.pose_from_latent); those runs go to <encoder>_turns/.
Writes runs/pose_from_enc/<encoder>/ (eval.json; checkpoints and metrics.csv in wd_<decay>/),
runs/pose_from_enc/ablation.json and .md with --encoder all, and runs/pose_from_enc/images/
pose_from_enc_predictions.png (run.images_dir elsewhere; run.images_dir=images regenerates the README's figure).
"""

from __future__ import annotations

import copy
import dataclasses
import json
import sys
import time
from pathlib import Path
from typing import List, Literal

import numpy as np
import torch

from weakpose.data.datasets.latents import LatentCache, encode_views
from weakpose.data.datasets.multiview import held_out_sequences
from weakpose.data.datasets.nvs_pairs import SingleViewDataset
from weakpose.data.synthetic.images import DEFAULT_IMAGE_ROOT, ensure_synthetic_images
from weakpose.evaluation.references import closest_pose
from weakpose.io_utils import atomic_write_text
from weakpose.metrics import pose_errors
from weakpose.models.encoder_decoder import EncoderDecoder, EncoderDecoderConfig
from weakpose.models.latent_pose import LatentPoseRegressor
from weakpose.tasks.pose_from_latent import OptimConfig, PoseFromLatentTask
from weakpose.train import Shortcut, TrainConfig, Trainer, start_run
from weakpose.train.precision import ComputeConfig
from weakpose.train.run_config import RunConfig, run_shortcuts
from weakpose.train.startup import run_script
from weakpose.viz import save_pose_comparison

ENCODERS = ("nvs", "random", "end-to-end")


@dataclasses.dataclass
class DataConfig:
    root: str = DEFAULT_IMAGE_ROOT  # a crop layout (weakpose.data.datasets.multiview)
    labelled_subjects: List[str] = dataclasses.field(default_factory=lambda: ["S1"])  # whose 3D labels train
    test_subjects: List[str] = dataclasses.field(default_factory=lambda: ["S9", "S11"])
    val_every: int = 5  # every val_every-th sequence of the labelled subjects is held out to pick the checkpoint


@dataclasses.dataclass
class ModelConfig:
    encoder_path: str = "runs/enc_dec/enc_dec.pt"  # the trained encoder-decoder (sample/train_enc_dec.py)
    # which encoder the regressor reads: nvs (encoder_path, frozen) | random (its architecture, random, frozen) |
    # end-to-end (random, trained with the regressor on the labels) | all (the three in turn: the ablation)
    encoder_variant: Literal["nvs", "random", "end-to-end", "all"] = "nvs"  # all: the ablation (or --encoder)
    hidden: int = 2048  # the regressor's two fully connected layers
    dropout: float = 0.5


@dataclasses.dataclass
class AugmentConfig:
    # turn latent and target together about the vertical (weakpose.tasks.pose_from_latent): off (the paper's
    # recipe) | on | both (each encoder twice, reported as separate rows; S1's validation cannot judge turns it
    # never shows, so this is not chosen on validation)
    turn: Literal["off", "on", "both"] = "off"  # turn latent and target about the vertical (both: two rows)


@dataclasses.dataclass
class Config:
    data: DataConfig = dataclasses.field(default_factory=DataConfig)
    model: ModelConfig = dataclasses.field(default_factory=ModelConfig)
    optim: OptimConfig = dataclasses.field(default_factory=OptimConfig)
    augment: AugmentConfig = dataclasses.field(default_factory=AugmentConfig)
    compute: ComputeConfig = dataclasses.field(default_factory=ComputeConfig)  # the end-to-end encoder's step
    train: TrainConfig = dataclasses.field(
        default_factory=lambda: TrainConfig(
            out_dir="runs/pose_from_enc",
            max_steps=2000,
            batch_size=64,
            log_every=50,
            val_every=250,
            ckpt_every=500,
            best_metric="val/mpjpe_mm",
        )
    )
    run: RunConfig = dataclasses.field(default_factory=RunConfig)


SHORTCUTS = (
    *run_shortcuts("a crop layout (weakpose.data.datasets.multiview), e.g. data/h36m_crops"),
    Shortcut(
        "--encoder",
        "model.encoder_variant",
        "nvs | random | end-to-end | all: which encoder the regressor reads; 'all' runs the ablation",
        choices=ENCODERS + ("all",),
    ),
)


def _encoder_for(mode: str, cfg: Config) -> EncoderDecoder:
    trained = EncoderDecoder.load(cfg.model.encoder_path)
    if mode == "nvs":
        return trained
    torch.manual_seed(cfg.train.seed)
    return EncoderDecoder(EncoderDecoderConfig(**dataclasses.asdict(trained.config)))  # same architecture, random


def _cached_latents(datasets: dict, mode: str, split: str, encoder: EncoderDecoder) -> dict:
    """A frozen encoder's latents of one split, computed once per run (the encoder is the same for every fit)."""
    key = f"latents/{mode}/{split}"
    if key not in datasets:
        datasets[key] = encode_views(encoder, datasets[split])
    return datasets[key]


def fit_one(mode: str, weight_decay: float, turns: bool, cfg: Config, args, datasets: dict):
    """Train the regressor (and, end to end, the encoder) once; returns (best validation MPJPE, regressor,
    encoder, training result)."""
    encoder = _encoder_for(mode, cfg)
    regressor = LatentPoseRegressor(
        in_features=encoder.config.num_points * 3, hidden=cfg.model.hidden, dropout=cfg.model.dropout
    )
    train_ds, val_ds = datasets["train"], datasets["val"]
    if mode == "end-to-end":
        cfg.train.max_steps = cfg.optim.end_to_end_steps
        cfg.train.batch_size = min(cfg.train.batch_size, 32)
        cfg.train.val_every = max(1, cfg.optim.end_to_end_steps // 4)
        task = PoseFromLatentTask.from_config(
            regressor, encoder, optim=cfg.optim, weight_decay=weight_decay, turn_augment=turns, compute=cfg.compute
        )
        fit_train, fit_val = train_ds, val_ds
    else:
        for p in encoder.parameters():
            p.requires_grad_(False)
        fit_train = LatentCache(_cached_latents(datasets, mode, "train", encoder))
        fit_val = LatentCache(_cached_latents(datasets, mode, "val", encoder)) if val_ds is not None else None
        task = PoseFromLatentTask.from_config(regressor, optim=cfg.optim, weight_decay=weight_decay, turn_augment=turns)
    print(f"\n== encoder: {mode}, regressor weight decay {weight_decay:g}{', turns' if turns else ''} ==")
    trainer = Trainer(task, cfg, fit_train, fit_val, resume=args.resume, callbacks=cfg.run.budget_callbacks())
    result = trainer.fit()
    if not result.interrupted:
        trainer.restore_best(result)
    best = result.best_value if result.best_value is not None else float("inf")
    return best, regressor, encoder, result


def run_one(mode: str, turns: bool, cfg: Config, args, datasets: dict) -> dict:
    """Train the regressor for one encoder mode (with or without turns), once per weight decay of
    ``cfg.optim.weight_decays``, keep the one with the lowest validation MPJPE (the labelled subject's held-out
    sequences), and report its test errors."""
    fits = []
    for wd in cfg.optim.weight_decays:
        run_cfg = copy.deepcopy(cfg)
        run_cfg.train.out_dir = str(
            Path(cfg.train.out_dir)
            / (f"{mode}_turns" if turns else mode)
            / (f"wd_{wd:g}" if len(cfg.optim.weight_decays) > 1 else "")
        )
        fit = fit_one(mode, wd, turns, run_cfg, args, datasets)
        if fit[3].interrupted:
            return {}
        fits.append((fit[0], wd, run_cfg, fit))
    val_mpjpe, weight_decay, cfg, (_, regressor, encoder, result) = min(fits, key=lambda f: f[0])
    test_ds = datasets["test"]
    regressor.cpu().eval()
    encoder.cpu().eval()
    encoded = encode_views(encoder, test_ds)
    with torch.no_grad():
        pred = torch.cat([regressor(chunk) for chunk in encoded["latent"].split(256)])
    errors = grouped_errors(pred, encoded["pose_3d"], datasets)
    report = {
        "encoder": mode,
        "turn_augment": turns,
        "steps": result.step,
        "best_step": result.best_step,
        "test": errors,
        "weight_decay": weight_decay,
        "val_mpjpe_mm": val_mpjpe,
        "val_by_weight_decay": {f"{f[1]:g}": f[0] for f in fits},
        "num_test_views": int(len(pred)),
        "labelled_subjects": list(cfg.data.labelled_subjects),
        "num_train_views": len(datasets["train"]),
    }
    atomic_write_text(
        Path(cfg.train.out_dir).parent / "eval.json" if len(fits) > 1 else Path(cfg.train.out_dir) / "eval.json",
        json.dumps(report, indent=1),
    )
    report["pred"], report["target"] = pred, encoded["pose_3d"]
    return report


def _poses(dataset) -> torch.Tensor:
    return torch.stack([dataset.cache.view(f, c)["pose_3d"] for f, c in dataset._items])


def _view_field(dataset, field: str) -> np.ndarray:
    """``subject`` or ``action`` of every view of a SingleViewDataset, in item order."""
    return np.array([getattr(dataset.frames.item_info(f)[0], field) for f, _ in dataset._items])


def view_groups(datasets: dict) -> dict:
    """Boolean masks over the test views: per test subject, and split by whether the labelled subject performed
    the view's action (``seen actions`` / ``unseen actions``; on Human3.6M every subject performs every action,
    so only the first exists)."""
    test = datasets["test"]
    subjects, actions = _view_field(test, "subject"), _view_field(test, "action")
    labelled = {
        a
        for split in ("train", "val")
        if datasets.get(split) is not None
        for a in _view_field(datasets[split], "action")
    }
    seen = np.isin(actions, sorted(labelled))
    groups = {str(s): subjects == s for s in sorted(set(subjects))}
    groups.update({"seen actions": seen, "unseen actions": ~seen})
    return {name: torch.from_numpy(mask) for name, mask in groups.items() if mask.any()}


def grouped_errors(pred: torch.Tensor, target: torch.Tensor, datasets: dict) -> dict:
    """Errors over all test views and over each group of :func:`view_groups`."""
    if "groups" not in datasets:
        datasets["groups"] = view_groups(datasets)
    errors = {"all": pose_errors(pred, target)}
    for name, keep in datasets["groups"].items():
        errors[name] = {**pose_errors(pred[keep], target[keep]), "views": int(keep.sum())}
    return errors


def references(datasets: dict) -> dict:
    """What a regressor trained on the labelled subject is measured against: predicting that subject's mean pose
    for every test view, and (an oracle) the labelled training pose closest to each test pose."""
    train, target = _poses(datasets["train"]), _poses(datasets["test"])
    mean = train.mean(0, keepdim=True).expand_as(target)
    return {
        "mean pose": grouped_errors(mean, target, datasets),
        "closest pose": grouped_errors(closest_pose(train, target), target, datasets),
    }


def table(reports: List[dict], cfg: Config, n_frames: int, refs: dict) -> str:
    """The ablation as a markdown table; MPJPE is split by whether the labelled subject performed the test
    view's action when the test set has both kinds."""
    who = "+".join(cfg.data.labelled_subjects)
    split = all(g in reports[0]["test"] for g in ("seen actions", "unseen actions"))
    head = "| encoder | MPJPE | N-MPJPE | P-MPJPE |"
    if split:
        counts = [reports[0]["test"][g]["views"] for g in ("seen actions", "unseen actions")]
        head += f" MPJPE, actions {who} performed ({counts[0]} views) | MPJPE, other actions ({counts[1]} views) |"
    head += " regressor weight decay (chosen on validation) |"
    lines = [
        f"3D pose from the encoder latent, labels of {who} only; test subjects "
        f"{'+'.join(cfg.data.test_subjects)}, {n_frames} views (every frame x 4 cameras), root-relative H36M-17, "
        "mean over views (mm)",
        "",
        head,
        "|---" * head.count(" | ") + "|---|",
    ]

    def row(name: str, errors: dict, extra: str) -> str:
        e = errors["all"]
        cells = [name, f"{e['mpjpe_mm']:.1f}", f"{e['n_mpjpe_mm']:.1f}", f"{e['p_mpjpe_mm']:.1f}"]
        if split:
            cells += [f"{errors[g]['mpjpe_mm']:.1f}" for g in ("seen actions", "unseen actions")]
        return "| " + " | ".join(cells + [extra]) + " |"

    names = {
        "nvs": "(a) NVS-pretrained, frozen",
        "random": "(b) random init, frozen",
        "end-to-end": f"(c) trained end-to-end on {who}",
    }
    for r in reports:
        name = names[r["encoder"]] + (", + latent turns" if r.get("turn_augment") else "")
        lines.append(row(name, r["test"], f"{r['weight_decay']:g}"))
    lines.append(row(f"reference: {who}'s mean pose for every view", refs["mean pose"], ""))
    lines.append(row(f"oracle: the {who} training pose closest to each test pose", refs["closest pose"], ""))
    return "\n".join(lines)


def main(argv=None) -> int:
    cfg, args = start_run(Config, argv, description=__doc__, shortcuts=SHORTCUTS)
    t0 = time.perf_counter()
    d, variant = cfg.data, cfg.model.encoder_variant
    if not Path(cfg.model.encoder_path).is_file():
        print(
            f"{cfg.model.encoder_path}: no encoder-decoder yet; run `python sample/train_enc_dec.py` first "
            f"(or point at one with model.encoder_path=<file>)",
            file=sys.stderr,
        )
        return 2
    if d.root == DEFAULT_IMAGE_ROOT:
        ensure_synthetic_images(d.root)
    size = EncoderDecoder.load(cfg.model.encoder_path).image_size
    keep, held = held_out_sequences(d.val_every)
    labelled = list(d.labelled_subjects)
    datasets = {
        "train": SingleViewDataset(d.root, labelled, size, labelled_subjects=labelled, sequence_filter=keep),
        "val": SingleViewDataset(d.root, labelled, size, labelled_subjects=labelled, sequence_filter=held),
        "test": SingleViewDataset(d.root, d.test_subjects, size, labelled_subjects=d.test_subjects),
    }
    if len(datasets["val"]) == 0:
        datasets["val"] = None
    print(
        f"3D labels: {len(datasets['train'])} views of {labelled} (+{len(datasets['val'] or [])} held "
        f"out to validate); test: {len(datasets['test'])} views of {d.test_subjects}"
    )
    turn_choices = {"off": (False,), "on": (True,), "both": (False, True)}
    modes = [(m, t) for t in turn_choices[cfg.augment.turn] for m in (ENCODERS if variant == "all" else (variant,))]
    reports = [r for r in (run_one(m, t, cfg, args, datasets) for m, t in modes) if r]
    if len(reports) != len(modes):
        return 0
    refs = references(datasets)
    text = table(reports, cfg, len(datasets["test"]), refs)
    print("\n" + text)
    out = Path(cfg.train.out_dir)
    if variant == "all":
        atomic_write_text(out / "ablation.md", text + "\n")
        atomic_write_text(
            out / "ablation.json",
            json.dumps(
                [{k: v for k, v in r.items() if k not in ("pred", "target")} for r in reports]
                + [{"encoder": f"reference: {name}", "test": errors} for name, errors in refs.items()],
                indent=1,
            ),
        )
    first = reports[0]
    picks = np.linspace(0, len(first["pred"]) - 1, 4).astype(int)
    image = cfg.run.images(out) / "pose_from_enc_predictions.png"
    save_pose_comparison(
        image,
        poses_2d=None,
        poses_pred=[first["pred"][i].numpy() for i in picks],
        poses_true=[first["target"][i].numpy() for i in picks],
        titles=[f"test view {i}" for i in picks],
        up_axis="-y",
    )
    print(
        f"finished in {time.perf_counter() - t0:.0f} s; wrote {image}"
        + (f", {out / 'ablation.md'}" if variant == "all" else "")
    )
    return 0


if __name__ == "__main__":
    sys.exit(run_script(main))
