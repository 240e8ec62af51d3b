"""Train an SMPL regressor on the latent of the frozen multi-view encoder, then evaluate it on held-out subjects.

Rhodin, Salzmann & Fua, ECCV 2018 learn a 3D latent from multi-view images without labels (novel-view
synthesis, ``python sample/train_enc_dec.py``); a small regressor on that latent then needs few labels. Here the
regressor outputs a whole SMPL body (HMR/SPIN iterative regression, Kanazawa et al. 2018; 6D rotations, Zhou et
al. 2019; :class:`weakpose.models.smpl_regressor.SMPLRegressor`) supervised by

* 3D joints of ONE labelled subject (``data.labelled_subjects``, default S1): H36M-17 regressed from the vertices;
* silhouettes of every training subject in ALL four views, through the soft rasteriser (SoftRas) at a reduced size;
* the SMPL prior (HMR's discriminator, ``runs/smpl_prior/smpl_prior.pt``) when that file exists.

Model selection (best.pt) uses the silhouette IoU on held-out SEQUENCES of the training subjects (every
``data.val_every``-th one: masks only, no extra 3D labels); the test subjects (S9, S11) are only read for the final
report. Every view of every test frame is an input; joint errors are of H36M-17 from the vertices vs the labels,
root-relative in the real camera frame.

Examples:

    python sample/train_SMPL_from_enc.py                       # ~4 min on CPU, needs runs/enc_dec/enc_dec.pt
    python sample/train_SMPL_from_enc.py --data data/h36m_crops encoder=runs/enc_dec/enc_dec.pt
    python sample/train_SMPL_from_enc.py use_prior=false loss.weight_joints=0   # silhouettes only
    python sample/train_SMPL_from_enc.py --resume               # continue a killed run

Writes runs/smpl_from_enc/{regressor.pt, metrics.csv, eval.csv, eval.json, summary.json (the trained regressor
and, for comparison, its starting point: the mean parameters)},
images/smpl_from_enc_overlays.png (meshes over the held-out input crops) and images/smpl_from_enc_curves.png.
"""
from __future__ import annotations

import copy
import dataclasses
import json
import sys
import time
from pathlib import Path
from typing import List, Optional, Sequence

import numpy as np
import torch

from weakpose.data.image_layout import MultiViewImageDataset
from weakpose.data.synthetic_images import DEFAULT_IMAGE_ROOT, ensure_synthetic_images
from weakpose.evaluation import report
from weakpose.geometry.rotations import matrix_to_rot6d
from weakpose.io_utils import atomic_write_path, atomic_write_text
from weakpose.metrics import Protocol, mpjpe, n_mpjpe, p_mpjpe
from weakpose.models.smpl_regressor import SMPLRegressor, chordal_mean_rotation
from weakpose.tasks.smpl_from_enc import LatentFrames, SMPLFromEncTask, collate_frames, encode_dataset
from weakpose.train import TrainConfig, Trainer, start_run
from weakpose.train.startup import run_script
from weakpose.viz import plot_metric_curves

@dataclasses.dataclass
class DataConfig:
    """root: a crop layout (weakpose.data.image_layout). val_every: every val_every-th sequence of the training
    subjects is held out for model selection (0 = none). silhouette_size: side of the rendered silhouettes and
    downsampled masks (px). test_stride: every test_stride-th test frame is evaluated."""

    root: str = DEFAULT_IMAGE_ROOT
    train_subjects: List[str] = dataclasses.field(default_factory=lambda: ["S1", "S5", "S6", "S7", "S8"])
    test_subjects: List[str] = dataclasses.field(default_factory=lambda: ["S9", "S11"])
    labelled_subjects: List[str] = dataclasses.field(default_factory=lambda: ["S1"])
    val_every: int = 5
    stride: int = 1
    test_stride: int = 1
    silhouette_size: int = 64


@dataclasses.dataclass
class ModelConfig:
    """mean_pose: where the iterative regression starts: 'mocap' (as HMR: the chordal mean of each joint's
    rotation over the embedded CMU training motion retargeted to SMPL, weakpose.data.smpl_params) or 'zero' (the
    T-pose). Either way the root starts upright and facing the camera, betas at 0."""

    hidden: int = 1024   # HMR/SPIN
    iterations: int = 3  # HMR/SPIN
    dropout: float = 0.5
    mean_pose: str = "mocap"


@dataclasses.dataclass
class LossConfig:
    """weight_joints multiplies a mean squared joint distance in m²; silhouette_kind 'mse' | 'iou'; sigma: the
    soft rasteriser's sharpness in px² at the silhouette size; input_views: views used as input per training frame
    (each prediction is rendered into all views; 0 = all)."""

    weight_joints: float = 10.0
    weight_silhouette: float = 1.0
    weight_prior: float = 1.0
    weight_betas: float = 1e-3
    silhouette_kind: str = "iou"
    sigma: float = 0.1
    input_views: int = 1


@dataclasses.dataclass
class OptimConfig:
    lr: float = 5e-5
    weight_decay: float = 0.0


@dataclasses.dataclass
class Config:
    data: DataConfig = dataclasses.field(default_factory=DataConfig)
    model: ModelConfig = dataclasses.field(default_factory=ModelConfig)
    loss: LossConfig = dataclasses.field(default_factory=LossConfig)
    optim: OptimConfig = dataclasses.field(default_factory=OptimConfig)
    train: TrainConfig = dataclasses.field(default_factory=lambda: TrainConfig(
        out_dir="runs/smpl_from_enc", max_steps=300, batch_size=8, log_every=25, val_every=100, ckpt_every=100,
        best_metric="val/iou", best_mode="max"))
    encoder: str = "runs/enc_dec/enc_dec.pt"
    prior: str = "runs/smpl_prior/smpl_prior.pt"
    use_prior: bool = True  # use the prior file when it exists
    encode_batch_size: int = 32
    overlay_samples: int = 4
    images_dir: str = "images"
    num_threads: int = 1  # small CPU ops: one thread is fastest on a shared box (0 = torch's default)


def _data_argv(argv: Optional[Sequence[str]]) -> List[str]:
    """``--data ROOT`` (or ``--data=ROOT``) -> the override ``data.root=ROOT``."""
    args = list(sys.argv[1:] if argv is None else argv)
    out: List[str] = []
    i = 0
    while i < len(args):
        if args[i] == "--data":
            if i + 1 >= len(args):
                raise ValueError("--data needs a folder (a crop layout with index.json)")
            out.append(f"data.root={args[i + 1]}")
            i += 2
            continue
        out.append(f"data.root={args[i][7:]}" if args[i].startswith("--data=") else args[i])
        i += 1
    return out


def load_encoder(path: str):
    from weakpose.models.encoder_decoder import EncoderDecoder

    if not Path(path).is_file():
        raise FileNotFoundError(f"{path}: no encoder checkpoint; train the multi-view encoder first with "
                                f"`python sample/train_enc_dec.py` (or point at one with encoder=<file>)")
    encoder = EncoderDecoder.load(path, map_location="cpu").eval()
    encoder.requires_grad_(False)
    return encoder


def load_prior(cfg: Config):
    if not cfg.use_prior:
        print("SMPL prior: off (use_prior=false)")
        return None
    path = Path(cfg.prior)
    if not path.is_file():
        print(f"SMPL prior: {path} not found, training without it (make it with python sample/train_GAN.py)")
        return None
    from weakpose.priors.smpl_discriminator import SMPLDiscriminator

    prior = SMPLDiscriminator.load(path)
    print(f"SMPL prior: {path} (weight {cfg.loss.weight_prior})")
    return prior


def mocap_mean_pose(num_joints: int = 23) -> torch.Tensor:
    """``(23, 3, 3)``: per body joint, the chordal mean rotation of the embedded CMU training motion on SMPL."""
    from weakpose.data.smpl_params import embedded_smpl_params
    from weakpose.geometry.rotations import axis_angle_to_matrix

    params = embedded_smpl_params(max_frames=50)
    rot = axis_angle_to_matrix(torch.as_tensor(params.body_pose, dtype=torch.float64).reshape(-1, num_joints, 3))
    return chordal_mean_rotation(rot).float()


def summarise(views: dict, iou: np.ndarray, frame_subjects: Sequence[str], subjects: Sequence[str]) -> dict:
    """Frame-weighted joint errors (mm) and silhouette IoU (own input view / the other views), overall and per
    subject, from :meth:`SMPLFromEncTask.evaluate`'s output."""
    own = np.einsum("fvv->fv", iou)
    v = iou.shape[1]
    others = (iou.sum((1, 2)) - own.sum(1)) / max(1, v * (v - 1))
    out = {}
    for name in ["all", *subjects]:
        keys = [k for k in views if name == "all" or k[0] == name]
        if not keys:
            continue
        p = np.concatenate([views[k][0] for k in keys]).astype(np.float64)
        g = np.concatenate([views[k][1] for k in keys]).astype(np.float64)
        sel = np.array([name == "all" or s == name for s in frame_subjects])
        out[name] = {"views": int(len(p)), "mpjpe_mm": 1000 * float(mpjpe(p, g)),
                     "p_mpjpe_mm": 1000 * float(p_mpjpe(p, g)), "n_mpjpe_mm": 1000 * float(n_mpjpe(p, g)),
                     "iou_own_view": float(own[sel].mean()), "iou_other_views": float(others[sel].mean())}
    return out


def split_sequences(dataset: MultiViewImageDataset, every: int) -> tuple[list, list]:
    """Frame indices (train, val): every ``every``-th sequence of the dataset (in index order) is held out — the
    same sequences sample/train_enc_dec.py holds out with the same ``val_every``."""
    train, val = [], []
    for i in range(len(dataset)):
        entry, _ = dataset.item_info(i)
        seq = dataset.sequences.index(entry)
        (val if every and seq % every == every - 1 else train).append(i)
    return train, val


# ----------------------------------------------------------------------------------------------------------- images


def _vertex_normals(vertices: torch.Tensor, faces: torch.Tensor) -> torch.Tensor:
    tri = vertices[:, faces]  # (B, F, 3, 3)
    n = torch.cross(tri[:, :, 1] - tri[:, :, 0], tri[:, :, 2] - tri[:, :, 0], dim=-1)
    out = torch.zeros_like(vertices)
    for k in range(3):
        out.index_add_(1, faces[:, k], n)
    return torch.nn.functional.normalize(out, dim=-1)


@torch.no_grad()
def save_overlays(path: Path, dataset: MultiViewImageDataset, frames: LatentFrames, task: SMPLFromEncTask,
                  picks: Sequence[int], iou: np.ndarray) -> None:
    """Rows: held-out frames; columns: views. Each cell: the mesh regressed from THAT crop, hard-rendered over
    it (grey, shaded by the normal towards the camera), the ground-truth mask outlined in green."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from weakpose.data.image_layout import crop_cameras
    from weakpose.render import HardRasterizer

    faces = task.body.faces.cpu()
    batch = collate_frames([frames[i] for i in picks])
    batch = {k: (v.to(task.device) if isinstance(v, torch.Tensor) else v) for k, v in batch.items()}
    verts = task.evaluate_batch(batch)["vertices_world"].cpu()  # (P, V, N, 3)
    v = verts.shape[1]
    fig, axes = plt.subplots(len(picks), v, figsize=(2.2 * v, 2.3 * len(picks)), squeeze=False)
    for r, i in enumerate(picks):
        sample = dataset[int(frames.tensors["index"][i])]
        cam = crop_cameras(sample)
        size = sample["image"].shape[-1]
        raster = HardRasterizer((size, size))
        centre = cam.center.reshape(v, 1, 3)
        normals = _vertex_normals(verts[r], faces)
        towards = torch.nn.functional.normalize(centre - verts[r], dim=-1)
        shade = (0.35 + 0.65 * (normals * towards).sum(-1).abs())[..., None] * torch.tensor([0.85, 0.85, 0.95])
        frags = raster.render(verts[r].double(), faces, cam.to(dtype=torch.float64), vertex_colors=shade.double())
        for j in range(v):
            img = sample["image"][j].permute(1, 2, 0).numpy()
            m = frags.mask[j].numpy()[..., None]
            over = np.where(m, 0.3 * img + 0.7 * frags.rgb[j].numpy(), img)
            ax = axes[r, j]
            ax.imshow(np.clip(over, 0, 1), interpolation="nearest")
            ax.contour(sample["mask"][j, 0].numpy(), levels=[0.5], colors="lime", linewidths=0.6)
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(f"{sample['subject']} {sample['action'][:10]} f{sample['frame']}\ncam {j + 1}, "
                         f"IoU {iou[i, j, j]:.2f}", fontsize=7)
    fig.suptitle("SMPL regressed from the frozen encoder's latent of each crop (held-out subjects); "
                 "green: true mask", fontsize=8)
    fig.tight_layout()
    with atomic_write_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)


# ----------------------------------------------------------------------------------------------------------- main


def main(argv=None) -> int:
    cfg, args = start_run(Config, _data_argv(argv))
    t0 = time.perf_counter()
    encoder = load_encoder(cfg.encoder)
    prior = load_prior(cfg)
    root = Path(cfg.data.root)
    if str(root) == DEFAULT_IMAGE_ROOT:
        ensure_synthetic_images(root)  # rendered on first use (the encoder's script normally did that already)
    if not (root / "index.json").is_file():
        raise FileNotFoundError(f"{root}: no crop layout (index.json missing)")

    d = cfg.data
    source = MultiViewImageDataset(root, subjects=d.train_subjects, stride=d.stride)
    if len(source) == 0:
        raise ValueError(f"{root}: no frames of the training subjects {d.train_subjects}")
    frames = encode_dataset(encoder, source, d.labelled_subjects, d.silhouette_size, cfg.encode_batch_size,
                            desc="encode train")
    train_idx, val_idx = split_sequences(source, d.val_every)
    train_ds, val_ds = frames.subset(train_idx), frames.subset(val_idx)
    labelled = int(train_ds.tensors["has_3d"].sum())
    print(f"latents of {len(frames)} frames x {frames.tensors['features'].shape[1]} views cached in "
          f"{time.perf_counter() - t0:.0f} s ({frames.feature_size} features, encoder at {encoder.image_size} px); "
          f"train {len(train_ds)} frames ({labelled} with 3D labels: {d.labelled_subjects}), model selection on "
          f"{len(val_ds)} frames of held-out sequences (silhouette IoU)")

    m, lo = cfg.model, cfg.loss
    regressor = SMPLRegressor(frames.feature_size, hidden=m.hidden, iterations=m.iterations, dropout=m.dropout)
    if m.mean_pose == "mocap":
        rot = regressor.mean_rot6d.clone()
        rot[1:] = matrix_to_rot6d(mocap_mean_pose(regressor.num_joints - 1))
        regressor.set_mean_params(rot)
    elif m.mean_pose != "zero":
        raise ValueError(f"model.mean_pose must be 'mocap' or 'zero', got {m.mean_pose!r}")
    feats = train_ds.tensors["features"].reshape(-1, frames.feature_size)
    regressor.set_input_stats(feats.mean(0), feats.std(0))
    task = SMPLFromEncTask(regressor, prior=prior, lr=cfg.optim.lr, weight_decay=cfg.optim.weight_decay,
                           weight_joints=lo.weight_joints, weight_silhouette=lo.weight_silhouette,
                           weight_prior=lo.weight_prior, weight_betas=lo.weight_betas,
                           silhouette_kind=lo.silhouette_kind, sigma=lo.sigma, input_views=lo.input_views)
    if len(val_ds) == 0 and cfg.train.best_metric is not None:
        print(f"no validation sequences (data.val_every={d.val_every}): keeping the last checkpoint")
        cfg.train.best_metric = None
    trainer = Trainer(task, cfg, train_ds, val_ds if len(val_ds) else None, collate_fn=collate_frames,
                      resume=args.resume)
    result = trainer.fit()
    if result.interrupted or not trainer.is_main:
        return 0

    out, images = Path(cfg.train.out_dir), Path(cfg.images_dir)
    trainer.restore_best(result)
    regressor.cpu().eval()
    payload = {"format": "weakpose.SMPLRegressor/1", "config": regressor.config,
               "meta": {"encoder": cfg.encoder, "data": cfg.data.root, "steps": int(result.step),
                        "labelled_subjects": list(d.labelled_subjects), "prior": prior is not None},
               "state_dict": {k: v.detach().cpu() for k, v in regressor.state_dict().items()}}
    with atomic_write_path(out / "regressor.pt") as tmp:
        torch.save(payload, tmp)
    task.to(trainer.device)

    test_source = MultiViewImageDataset(root, subjects=d.test_subjects, stride=d.test_stride)
    if len(test_source) == 0:
        raise ValueError(f"{root}: no frames of the test subjects {d.test_subjects}")
    test = encode_dataset(encoder, test_source, (), d.silhouette_size, cfg.encode_batch_size, desc="encode test")
    views, iou = task.evaluate(test, batch_size=16)
    protocol = Protocol(
        joints="H36M-17 regressed from the SMPL vertices, root included, every camera as input",
        alignment="MPJPE root-relative in the real camera frame (P1); P-MPJPE similarity Procrustes (P2); "
                  "N-MPJPE least-squares scale",
        two_d_source="none: RGB crops through the frozen NVS encoder", stride=d.test_stride, averaging="actions")
    report(views, protocol, out, f"\nTest subjects {d.test_subjects}; 3D labels of {d.labelled_subjects} only, "
                                 f"silhouettes of {d.train_subjects}", metrics=("mpjpe", "p_mpjpe", "n_mpjpe"))

    # The same evaluation of the regression's starting point (the mean parameters, whatever the image): what
    # the trained regressor has to beat.
    start = copy.deepcopy(regressor)
    torch.nn.init.zeros_(start.decoder.weight)
    torch.nn.init.zeros_(start.decoder.bias)
    baseline = SMPLFromEncTask(start, body=task.body).to(trainer.device)
    views_0, iou_0 = baseline.evaluate(test, batch_size=16, desc="evaluate mean")
    summary = {"protocol": protocol.to_dict(), "silhouette_size": d.silhouette_size, "iou_threshold": 0.5,
               "iou_renderer": "HardRasterizer", "test_subjects": list(d.test_subjects),
               "trained": summarise(views, iou, test.subjects, d.test_subjects),
               "mean_parameters": summarise(views_0, iou_0, test.subjects, d.test_subjects)}
    atomic_write_text(out / "summary.json", json.dumps(summary, indent=1))
    print(f"\nFrame-weighted over every view of {d.test_subjects} (mm; silhouette IoU at {d.silhouette_size} px, "
          f"hard render vs mask > 0.5; 'own' = the input view, 'other' = the other 3 views):")
    print(f"{'':34s} {'MPJPE':>7s} {'P-MPJPE':>8s} {'N-MPJPE':>8s} {'IoU own':>8s} {'IoU other':>9s}")
    for label, key in (("mean parameters (regression start)", "mean_parameters"), ("trained regressor", "trained")):
        r = summary[key]["all"]
        print(f"{label:34s} {r['mpjpe_mm']:7.1f} {r['p_mpjpe_mm']:8.1f} {r['n_mpjpe_mm']:8.1f} "
              f"{r['iou_own_view']:8.3f} {r['iou_other_views']:9.3f}")
    for s_ in d.test_subjects:
        r = summary["trained"].get(s_)
        if r:
            print(f"{'  trained, ' + s_:34s} {r['mpjpe_mm']:7.1f} {r['p_mpjpe_mm']:8.1f} {r['n_mpjpe_mm']:8.1f} "
                  f"{r['iou_own_view']:8.3f} {r['iou_other_views']:9.3f}")

    n = min(cfg.overlay_samples, len(test))
    picks = [int(round(k * (len(test) - 1) / max(1, n - 1))) for k in range(n)] if n > 1 else [0]
    save_overlays(images / "smpl_from_enc_overlays.png", test_source, test, task, picks, iou)
    plot_metric_curves(out / "metrics.csv", images / "smpl_from_enc_curves.png",
                       keys=["train/loss_joints", "train/loss_silhouette", "train/loss_prior", "val/mpjpe",
                             "val/p_mpjpe", "val/iou"],
                       title="SMPL from encoder: losses; validation errors (m), IoU")
    print(f"\nfinished {result.step} steps in {time.perf_counter() - t0:.0f} s")
    print(f"wrote {out}/regressor.pt, {out}/eval.csv, {out}/summary.json, {images}/smpl_from_enc_overlays.png, "
          f"{images}/smpl_from_enc_curves.png")
    return 0


if __name__ == "__main__":
    sys.exit(run_script(main))
