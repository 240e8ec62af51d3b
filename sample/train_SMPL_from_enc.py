"""Train an SMPL regressor on the latent of the frozen multi-view encoder, then evaluate it on held-out subjects.

Rhodin, Salzmann & Fua, ECCV 2018 learn a 3D latent from multi-view images without labels (novel-view
synthesis, ``python sample/train_enc_dec.py``); a small regressor on that latent then needs few labels. Here the
regressor outputs a whole SMPL body (HMR/SPIN iterative regression, Kanazawa et al. 2018; 6D rotations, Zhou et
al. 2019; :class:`weakpose.models.smpl_regressor.SMPLRegressor`) supervised by

* 3D joints of ONE labelled subject (``data.labelled_subjects``, default S1): H36M-17 regressed from the vertices;
* silhouettes of every training subject in ALL four views, through the soft rasteriser (SoftRas) at a reduced size;
* the SMPL prior (HMR's discriminator, here the SMPL-parameter critic; ``model.prior_path``, default
  ``runs/smpl_prior/smpl_prior.pt`` from ``python sample/train_smpl_prior.py``; when that file does not exist, the
  prior shipped with weakpose, ``SMPLCritic.pretrained()``, and the log says which).

The body is weakpose's open body model unless ``model.body_path`` names a SMPL file (the official ``.pkl`` or a
``.npz``; with ``model.h36m_regressor_path=J_regressor_h36m.npy`` when the file has no H36M-17 regressor).

Model selection (best.pt) uses the silhouette IoU on held-out SEQUENCES of the training subjects (every
``data.val_every``-th one: masks only, no extra 3D labels); the test subjects (S9, S11) are only read for the final
report. Every view of every test frame is an input; joint errors are of H36M-17 from the vertices vs the labels,
root-relative in the real camera frame.

Examples:

    python sample/train_SMPL_from_enc.py                       # ~4 min on CPU, needs runs/enc_dec/enc_dec.pt
    python sample/train_SMPL_from_enc.py --data data/h36m_crops model.encoder_path=runs/enc_dec/enc_dec.pt
    python sample/train_SMPL_from_enc.py loss.use_prior=false loss.weight_joints=0   # silhouettes only
    python sample/train_SMPL_from_enc.py model.body_path=data/smpl/SMPL_NEUTRAL.pkl \
        model.h36m_regressor_path=data/smpl/J_regressor_h36m.npy   # the real SMPL model
    python sample/train_SMPL_from_enc.py --resume               # continue a killed run

Writes runs/smpl_from_enc/{regressor.pt, metrics.csv, eval.csv, eval.json, summary.json (the trained regressor
and, for comparison, its starting point: the mean parameters)}, and in runs/smpl_from_enc/images/
(run.images_dir elsewhere; run.images_dir=images regenerates the README's figures) smpl_from_enc_overlays.png
(meshes over the held-out input crops) and smpl_from_enc_curves.png.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import sys
import time
from pathlib import Path
from typing import List, Sequence

import numpy as np
import torch

from weakpose.data.datasets.latents import LatentFrames, collate_frames, encode_frames
from weakpose.data.datasets.multiview import MultiViewImageDataset
from weakpose.data.synthetic.images import DEFAULT_IMAGE_ROOT, ensure_synthetic_images
from weakpose.evaluation import report
from weakpose.geometry.rotations import matrix_to_rot6d
from weakpose.io_utils import atomic_write_text
from weakpose.metrics import Protocol, mpjpe, n_mpjpe, p_mpjpe
from weakpose.models.smpl_regressor import SMPLRegressor, chordal_mean_rotation
from weakpose.tasks.smpl_from_enc import LossConfig, OptimConfig, SMPLFromEncTask
from weakpose.train import TrainConfig, Trainer, start_run
from weakpose.train.run_config import RunConfig, run_shortcuts
from weakpose.train.startup import run_script
from weakpose.viz import plot_metric_curves
from weakpose.viz.report_figures import save_mesh_overlays


@dataclasses.dataclass
class DataConfig:
    """root: a crop layout (weakpose.data.datasets.multiview). val_every: every val_every-th sequence of the training
    subjects is held out for model selection (0 = none). silhouette_size: side of the rendered silhouettes and
    downsampled masks (px). test_stride: every test_stride-th test frame is evaluated."""

    root: str = DEFAULT_IMAGE_ROOT  # a crop layout (weakpose.data.datasets.multiview)
    train_subjects: List[str] = dataclasses.field(default_factory=lambda: ["S1", "S5", "S6", "S7", "S8"])
    test_subjects: List[str] = dataclasses.field(default_factory=lambda: ["S9", "S11"])
    labelled_subjects: List[str] = dataclasses.field(default_factory=lambda: ["S1"])  # whose 3D joints train
    val_every: int = 5  # every val_every-th training sequence is held out for model selection (0 = none)
    stride: int = 1  # keep every n-th training frame
    test_stride: int = 1  # evaluate every n-th test frame
    silhouette_size: int = 64  # side of rendered silhouettes and downsampled masks (px)


@dataclasses.dataclass
class ModelConfig:
    """mean_pose: where the iterative regression starts: 'mocap' (as HMR: the chordal mean of each joint's
    rotation over the embedded CMU training motion retargeted to SMPL, weakpose.data.smpl_params) or 'zero' (the
    T-pose). Either way the root starts upright and facing the camera, betas at 0."""

    encoder_path: str = "runs/enc_dec/enc_dec.pt"  # the trained encoder-decoder (sample/train_enc_dec.py), frozen
    # the SMPL prior (sample/train_smpl_prior.py); when the file does not exist, the prior shipped with weakpose
    prior_path: str = "runs/smpl_prior/smpl_prior.pt"
    # a SMPL model file (.pkl as downloaded, or .npz) used wherever the open body would be; "" = the open body
    body_path: str = ""
    # Human3.6M-17 joint regressor (17, V) .npy for body_path (SPIN's J_regressor_h36m.npy), unless the file has one
    h36m_regressor_path: str = ""
    hidden: int = 1024  # HMR/SPIN
    iterations: int = 3  # HMR/SPIN
    dropout: float = 0.5
    mean_pose: str = "mocap"  # mocap | zero: where the iterative regression starts


@dataclasses.dataclass
class Config:
    data: DataConfig = dataclasses.field(default_factory=DataConfig)
    model: ModelConfig = dataclasses.field(default_factory=ModelConfig)
    loss: LossConfig = dataclasses.field(default_factory=LossConfig)
    optim: OptimConfig = dataclasses.field(default_factory=OptimConfig)
    train: TrainConfig = dataclasses.field(
        default_factory=lambda: TrainConfig(
            out_dir="runs/smpl_from_enc",
            max_steps=300,
            batch_size=8,
            log_every=25,
            val_every=100,
            ckpt_every=100,
            best_metric="val/iou",
            best_mode="max",
        )
    )
    encode_batch_size: int = 32  # crops per forward pass when the frozen encoder caches latents
    figure_rows: int = 4  # test frames in the overlay figure
    # small CPU ops: one thread is fastest on a shared box
    run: RunConfig = dataclasses.field(default_factory=lambda: RunConfig(num_threads=1))


SHORTCUTS = run_shortcuts("a crop layout (weakpose.data.datasets.multiview), e.g. data/h36m_crops")


def load_encoder(path: str):
    from weakpose.models.encoder_decoder import EncoderDecoder

    if not Path(path).is_file():
        raise FileNotFoundError(
            f"{path}: no encoder checkpoint; train the multi-view encoder first with "
            f"`python sample/train_enc_dec.py` (or point at one with model.encoder_path=<file>)"
        )
    encoder = EncoderDecoder.load(path, map_location="cpu").eval()
    encoder.requires_grad_(False)
    return encoder


def load_prior(cfg: Config):
    """The SMPL-parameter critic: ``model.prior_path`` when it exists, else the one shipped with weakpose."""
    from weakpose.priors.smpl_critic import SMPLCritic

    if not cfg.loss.use_prior:
        print("SMPL prior: off (loss.use_prior=false)")
        return None
    path = Path(cfg.model.prior_path)
    if path.is_file():
        prior = SMPLCritic.load(path)
        print(f"SMPL prior: {path} (weight {cfg.loss.weight_prior})")
    else:
        prior = SMPLCritic.pretrained()
        print(
            f"SMPL prior: {path} not found, using the prior shipped with weakpose (SMPLCritic.pretrained(), CMU motion "
            f"on the open body; weight {cfg.loss.weight_prior}); train your own with python sample/train_smpl_prior.py"
        )
    return prior


def load_body(cfg: Config):
    """The body model: ``model.body_path`` (a SMPL file) with its H36M-17 regressor, or the open body."""
    from weakpose.body import BodyModel

    m = cfg.model
    if not m.body_path:
        if m.h36m_regressor_path:
            raise ValueError("model.h36m_regressor_path is set but model.body_path is not: it belongs to a SMPL file")
        print("body model: weakpose's open body (set model.body_path=<SMPL .pkl/.npz> for the real SMPL)")
        return BodyModel.default(num_betas=10)
    body = BodyModel.from_file(m.body_path, num_betas=10, h36m_regressor=m.h36m_regressor_path or None)
    if not body.has_h36m_regressor:
        raise ValueError(
            f"model.body_path={m.body_path}: the file has no Human3.6M-17 joint regressor (J_regressor_h36m); give "
            f"model.h36m_regressor_path=<J_regressor_h36m.npy of shape (17, {body.num_vertices})>"
        )
    print(f"body model: {m.body_path} ({body.num_vertices} vertices, {len(body.faces)} faces)")
    return body


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
        out[name] = {
            "views": int(len(p)),
            "mpjpe_mm": 1000 * float(mpjpe(p, g)),
            "p_mpjpe_mm": 1000 * float(p_mpjpe(p, g)),
            "n_mpjpe_mm": 1000 * float(n_mpjpe(p, g)),
            "iou_own_view": float(own[sel].mean()),
            "iou_other_views": float(others[sel].mean()),
        }
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


@torch.no_grad()
def save_overlays(
    path: Path,
    dataset: MultiViewImageDataset,
    frames: LatentFrames,
    task: SMPLFromEncTask,
    picks: Sequence[int],
    iou: np.ndarray,
) -> None:
    """Rows: held-out frames; columns: views. Each cell: the mesh regressed from THAT crop over it, the
    ground-truth mask outlined in green (:func:`weakpose.viz.report_figures.save_mesh_overlays`)."""
    batch = collate_frames([frames[i] for i in picks])
    batch = {k: (v.to(task.device) if isinstance(v, torch.Tensor) else v) for k, v in batch.items()}
    verts = task.evaluate_batch(batch)["vertices_world"].cpu()  # (P, V, N, 3)
    samples = [dataset[int(frames.tensors["index"][i])] for i in picks]
    own_iou = np.stack([np.diagonal(iou[i]) for i in picks])
    save_mesh_overlays(
        path,
        samples,
        verts,
        task.body.faces.cpu(),
        own_iou,
        title="SMPL regressed from the frozen encoder's latent of each crop (held-out subjects); green: true mask",
    )


# ----------------------------------------------------------------------------------------------------------- main


def main(argv=None) -> int:
    cfg, args = start_run(Config, argv, description=__doc__, shortcuts=SHORTCUTS)
    t0 = time.perf_counter()
    encoder = load_encoder(cfg.model.encoder_path)
    prior = load_prior(cfg)
    body = load_body(cfg)
    root = Path(cfg.data.root)
    if str(root) == DEFAULT_IMAGE_ROOT:
        ensure_synthetic_images(root)  # rendered on first use (the encoder's script normally did that already)
    if not (root / "index.json").is_file():
        raise FileNotFoundError(f"{root}: no crop layout (index.json missing)")

    d = cfg.data
    source = MultiViewImageDataset(root, subjects=d.train_subjects, stride=d.stride)
    if len(source) == 0:
        raise ValueError(f"{root}: no frames of the training subjects {d.train_subjects}")
    frames = encode_frames(
        encoder, source, d.labelled_subjects, d.silhouette_size, cfg.encode_batch_size, desc="encode train"
    )
    train_idx, val_idx = split_sequences(source, d.val_every)
    train_ds, val_ds = frames.subset(train_idx), frames.subset(val_idx)
    labelled = int(train_ds.tensors["has_3d"].sum())
    print(
        f"latents of {len(frames)} frames x {frames.tensors['features'].shape[1]} views cached in "
        f"{time.perf_counter() - t0:.0f} s ({frames.feature_size} features, encoder at {encoder.image_size} px); "
        f"train {len(train_ds)} frames ({labelled} with 3D labels: {d.labelled_subjects}), model selection on "
        f"{len(val_ds)} frames of held-out sequences (silhouette IoU)"
    )

    m = cfg.model
    regressor = SMPLRegressor(frames.feature_size, hidden=m.hidden, iterations=m.iterations, dropout=m.dropout)
    if m.mean_pose == "mocap":
        rot = regressor.mean_rot6d.clone()
        rot[1:] = matrix_to_rot6d(mocap_mean_pose(regressor.num_joints - 1))
        regressor.set_mean_params(rot)
    elif m.mean_pose != "zero":
        raise ValueError(f"model.mean_pose must be 'mocap' or 'zero', got {m.mean_pose!r}")
    feats = train_ds.tensors["features"].reshape(-1, frames.feature_size)
    regressor.set_input_stats(feats.mean(0), feats.std(0))
    task = SMPLFromEncTask.from_config(regressor, body=body, prior=prior, loss=cfg.loss, optim=cfg.optim)
    if len(val_ds) == 0 and cfg.train.best_metric is not None:
        print(f"no validation sequences (data.val_every={d.val_every}): keeping the last checkpoint")
        cfg.train.best_metric = None
    trainer = Trainer(
        task,
        cfg,
        train_ds,
        val_ds if len(val_ds) else None,
        collate_fn=collate_frames,
        resume=args.resume,
        callbacks=cfg.run.budget_callbacks(),
    )
    result = trainer.fit()
    if result.interrupted or not trainer.is_main:
        return 0

    out = Path(cfg.train.out_dir)
    images = cfg.run.images(out)
    trainer.restore_best(result)
    regressor.cpu().eval()
    regressor.save(
        out / "regressor.pt",
        meta={
            "encoder": cfg.model.encoder_path,
            "data": cfg.data.root,
            "steps": int(result.step),
            "labelled_subjects": list(d.labelled_subjects),
            "prior": prior is not None,
        },
    )
    task.to(trainer.device)

    test_source = MultiViewImageDataset(root, subjects=d.test_subjects, stride=d.test_stride)
    if len(test_source) == 0:
        raise ValueError(f"{root}: no frames of the test subjects {d.test_subjects}")
    test = encode_frames(encoder, test_source, (), d.silhouette_size, cfg.encode_batch_size, desc="encode test")
    views, iou = task.evaluate(test, batch_size=16)
    protocol = Protocol(
        joints="H36M-17 regressed from the SMPL vertices, root included, every camera as input",
        alignment="MPJPE root-relative in the real camera frame (P1); P-MPJPE similarity Procrustes (P2); "
        "N-MPJPE least-squares scale",
        two_d_source="none: RGB crops through the frozen NVS encoder",
        stride=d.test_stride,
        averaging="actions",
    )
    report(
        views,
        protocol,
        out,
        f"\nTest subjects {d.test_subjects}; 3D labels of {d.labelled_subjects} only, "
        f"silhouettes of {d.train_subjects}",
        metrics=("mpjpe", "p_mpjpe", "n_mpjpe"),
    )

    # The same evaluation of the regression's starting point (the mean parameters, whatever the image): what
    # the trained regressor has to beat.
    start = copy.deepcopy(regressor)
    torch.nn.init.zeros_(start.decoder.weight)
    torch.nn.init.zeros_(start.decoder.bias)
    baseline = SMPLFromEncTask(start, body=task.body).to(trainer.device)
    views_0, iou_0 = baseline.evaluate(test, batch_size=16, desc="evaluate mean")
    summary = {
        "protocol": protocol.to_dict(),
        "silhouette_size": d.silhouette_size,
        "iou_threshold": 0.5,
        "iou_renderer": "HardRasterizer",
        "test_subjects": list(d.test_subjects),
        "trained": summarise(views, iou, test.subjects, d.test_subjects),
        "mean_parameters": summarise(views_0, iou_0, test.subjects, d.test_subjects),
    }
    atomic_write_text(out / "summary.json", json.dumps(summary, indent=1))
    print(
        f"\nFrame-weighted over every view of {d.test_subjects} (mm; silhouette IoU at {d.silhouette_size} px, "
        f"hard render vs mask > 0.5; 'own' = the input view, 'other' = the other 3 views):"
    )
    print(f"{'':34s} {'MPJPE':>7s} {'P-MPJPE':>8s} {'N-MPJPE':>8s} {'IoU own':>8s} {'IoU other':>9s}")
    for label, key in (("mean parameters (regression start)", "mean_parameters"), ("trained regressor", "trained")):
        r = summary[key]["all"]
        print(
            f"{label:34s} {r['mpjpe_mm']:7.1f} {r['p_mpjpe_mm']:8.1f} {r['n_mpjpe_mm']:8.1f} "
            f"{r['iou_own_view']:8.3f} {r['iou_other_views']:9.3f}"
        )
    for s_ in d.test_subjects:
        r = summary["trained"].get(s_)
        if r:
            print(
                f"{'  trained, ' + s_:34s} {r['mpjpe_mm']:7.1f} {r['p_mpjpe_mm']:8.1f} {r['n_mpjpe_mm']:8.1f} "
                f"{r['iou_own_view']:8.3f} {r['iou_other_views']:9.3f}"
            )

    n = min(cfg.figure_rows, len(test))
    picks = [int(round(k * (len(test) - 1) / max(1, n - 1))) for k in range(n)] if n > 1 else [0]
    save_overlays(images / "smpl_from_enc_overlays.png", test_source, test, task, picks, iou)
    plot_metric_curves(
        out / "metrics.csv",
        images / "smpl_from_enc_curves.png",
        keys=["train/loss_joints", "train/loss_silhouette", "train/loss_prior", "val/mpjpe", "val/p_mpjpe", "val/iou"],
        title="SMPL from encoder: losses; validation errors (m), IoU",
    )
    print(f"\nfinished {result.step} steps in {time.perf_counter() - t0:.0f} s")
    print(
        f"wrote {out}/regressor.pt, {out}/eval.csv, {out}/summary.json, {images}/smpl_from_enc_overlays.png, "
        f"{images}/smpl_from_enc_curves.png"
    )
    return 0


if __name__ == "__main__":
    sys.exit(run_script(main))
