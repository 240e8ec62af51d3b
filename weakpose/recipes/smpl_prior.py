"""How the shipped SMPL-parameter prior (``smpl_prior.pt``) is trained and measured.

The prior is HMR's factorised discriminator of SMPL body pose and shape, here a critic (Kanazawa et al., "End-to-end
Recovery of Human Shape and Pose", CVPR 2018, Sec. 3.3) trained as a least-squares GAN (Mao et al., ICCV 2017)
against a small generator (:class:`weakpose.tasks.smpl_prior.SMPLPriorTask`), with the architecture, optimiser and
augmentation of ``sample/train_GAN.py``'s defaults (left/right mirror of half of each real batch; real betas redrawn
from N(0, 1)).

Data: the CMU motion shipped with weakpose (*The data used in this project was obtained from mocap.cs.cmu.edu. The
database was created with funding from NSF EIA-0196217.*), split by whole sequence
(:func:`weakpose.recipes.split.cmu_tracks`), retargeted onto the default body with a sampled shape per sequence
(:func:`weakpose.data.smpl_params.embedded_smpl_params`). Checkpoint selection, if any, uses a few whole TRAINING
sequences (:data:`VAL_SEQUENCES`, left out of the gradient steps); the held-out split is only ever evaluated.

Figures (:func:`evaluate_smpl_prior`): a prior should score real bodies above broken copies of the same bodies, so
for every corruption of :func:`weakpose.priors.corruptions.implausible_versions` the card gives the fraction of
held-out real frames scored above their own corrupted copy, plus the mean score of the real frames. They are
computed with the weights exactly as stored (the written file is loaded back), on the whole held-out split and on
the small stored slice (:func:`weakpose.pretrained.slice_path`) that the tests re-score.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import platform
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Tuple

import numpy as np
import torch

from weakpose.body.params import SMPLParams
from weakpose.data.datasets.pose_pool import SMPLParamDataset
from weakpose.data.smpl_params import embedded_smpl_params
from weakpose.geometry.rotations import axis_angle_to_matrix
from weakpose.io_utils import atomic_write_path
from weakpose.priors.corruptions import implausible_versions
from weakpose.priors.generators import SMPLGenerator
from weakpose.priors.smpl_critic import NUM_BODY_JOINTS, SMPLCritic
from weakpose.tasks.smpl_prior import SMPLPriorTask
from weakpose.train import TrainConfig, Trainer
from weakpose.train.callbacks import KeepBestWeights

__all__ = [
    "smpl_prior_params",
    "evaluate_smpl_prior",
    "train_smpl_prior",
    "load_smpl_prior_slice",
    "SMPLPriorRecipe",
    "VAL_SEQUENCES",
    "ACKNOWLEDGEMENT",
    "SLICE_FRAMES_PER_SEQUENCE",
    "EVAL_SEED",
    "HALF_TOLERANCE",
]

ACKNOWLEDGEMENT = (
    "The data used in this project was obtained from mocap.cs.cmu.edu. The database was created with "
    "funding from NSF EIA-0196217."
)

#: Whole TRAINING sequences kept out of the gradient steps to choose the checkpoint (one per action that has
#: five training takes; never a held-out sequence).
VAL_SEQUENCES: Tuple[str, ...] = (
    "basketball/train_5",
    "jumping/train_5",
    "running/train_5",
    "soccer/train_5",
    "walking/train_5",
)
VAL_BETAS_STREAM = 20240601  # second seed word of the validation frames' betas
#: The stored slice: this many evenly spaced frames of every held-out sequence (8 sequences -> 256 frames).
SLICE_FRAMES_PER_SEQUENCE = 32
#: Seed of the corruptions on the card (random rotations, which joint is randomised).
EVAL_SEED = 1
#: Half-precision storage is kept only if no card fraction moves by more than this (1 percentage point).
HALF_TOLERANCE = 0.01


@dataclasses.dataclass
class SMPLPriorRecipe:
    """Hyperparameters: ``sample/train_GAN.py``'s defaults (HMR widths; Adam lr 1e-4, beta1 0.5; batch 128)."""

    num_betas: int = 10
    beta_std: float = 1.0  # shapes drawn per sequence, and redrawn for every real batch (resample_betas_std)
    joint_width: int = 32
    full_width: int = 1024
    noise_dim: int = 32
    generator_width: int = 256
    generator_layers: int = 2
    lr: float = 1e-4
    beta1: float = 0.5
    beta2: float = 0.999
    mirror: bool = True
    #: checkpoint chosen by this validation metric (higher is better; mean over the corruptions, on
    #: VAL_SEQUENCES); None = the last step
    selection_metric: Optional[str] = "val/real_above_broken"
    #: only checkpoints from this fraction of the steps on are candidates: before it the critic still
    #: judges a poor generator (real score well below its 0.5 equilibrium) and wins the ranking figures cheaply
    selection_start: float = 0.5
    train: TrainConfig = dataclasses.field(
        default_factory=lambda: TrainConfig(
            out_dir="runs/pretrained_smpl_prior",
            max_steps=5000,
            batch_size=128,
            log_every=50,
            val_every=100,
            ckpt_every=0,
            device="cpu",
            progress=False,
            tensorboard=False,
        )
    )


class _SelectingTask(SMPLPriorTask):
    """:class:`SMPLPriorTask` whose validation also reports one number to select on: ``real_above_broken``, the
    mean over the corruptions of the fraction of validation frames scored above their broken copy."""

    def validation_step(self, batch):
        out = dict(super().validation_step(batch))
        fractions = [v for k, v in out.items() if k.startswith("real_above_")]
        out["real_above_broken"] = float(np.mean(fractions))
        return out


# ----------------------------------------------------------------------------------------------- data


def smpl_prior_params(
    split: str, seed: int = 0, max_frames: Optional[int] = None, num_betas: int = 10, beta_std: float = 1.0
) -> SMPLParams:
    """SMPL parameters of ``cmu_tracks(split)`` (``"train"`` or ``"held_out"``) retargeted onto the default body,
    one shape ``betas ~ N(0, beta_std²)`` per sequence drawn from ``seed`` and the sequence name;
    ``max_frames``: at most that many evenly spaced frames per sequence."""
    from weakpose.recipes.split import cmu_tracks

    params = embedded_smpl_params(
        num_betas=num_betas, seed=seed, max_frames=max_frames, beta_std=beta_std, tracks=cmu_tracks(split)
    )
    params.source = f"CMU motion ({split} split) retargeted to the default body, betas ~ N(0, {beta_std:g}²)"
    return params


def _evenly(n: int, k: int) -> np.ndarray:
    return np.arange(n) if n <= k else np.linspace(0, n - 1, k).round().astype(int)


def _slice_of(params: SMPLParams, per_sequence: int = SLICE_FRAMES_PER_SEQUENCE) -> SMPLParams:
    """``per_sequence`` evenly spaced frames of every sequence, sequences in order."""
    rows = []
    for name in params.sequences:
        idx = np.flatnonzero(params.sequence == name)
        rows.append(idx[_evenly(len(idx), per_sequence)])
    return params.subset(np.concatenate(rows))


# ----------------------------------------------------------------------------------------------- figures


def _figure_key(name: str) -> str:
    return "real_above_" + name.replace(" ", "_")


def evaluate_smpl_prior(
    critic: SMPLCritic, params: SMPLParams, seed: int = EVAL_SEED, max_frames: Optional[int] = None
) -> Dict[str, Any]:
    """Card figures of an SMPL prior on real parameters (deterministic given ``seed``).

    For every corruption of :func:`implausible_versions` (random rotations, knees backwards, one joint random,
    betas x5), ``real_above_<name>``: the fraction of the real frames whose score (mean of the 25 outputs) is above
    that of their own corrupted copy; ``broken_score_mean_<name>``; ``real_score_mean``/``real_score_std``;
    ``real_above_broken``: the mean of the fractions; ``frames``. ``max_frames``: evaluate at most that many frames,
    evenly spaced over the set (all when None). Scores in the network's own dtype, one batch.
    """
    if len(params) == 0:
        raise ValueError("evaluate_smpl_prior: no frames")
    if max_frames is not None and len(params) > max_frames:
        params = params.subset(_evenly(len(params), int(max_frames)))
    was_training = critic.training
    critic.eval()
    try:
        rot = axis_angle_to_matrix(torch.from_numpy(params.body_pose).reshape(-1, NUM_BODY_JOINTS, 3))
        betas = torch.from_numpy(params.betas)
        real = critic.score(rot, betas)
        figures: Dict[str, Any] = {
            "frames": int(len(params)),
            "real_score_mean": float(real.mean()),
            "real_score_std": float(real.std()),
        }
        fractions = []
        for name, (r, b) in implausible_versions(rot, betas, torch.Generator().manual_seed(int(seed))).items():
            broken = critic.score(r, b)
            frac = float((real > broken).double().mean())
            figures[_figure_key(name)] = frac
            figures["broken_score_mean_" + name.replace(" ", "_")] = float(broken.mean())
            fractions.append(frac)
        figures["real_above_broken"] = float(np.mean(fractions))
    finally:
        critic.train(was_training)
    return figures


def _largest_fraction_change(a: Mapping[str, Any], b: Mapping[str, Any]) -> float:
    return max(abs(a[k] - b[k]) for k in a if k.startswith("real_above_"))


# ----------------------------------------------------------------------------------------------- slice file


def _write_slice(path: Path, sl: SMPLParams, figures: Mapping[str, Any], seed: int) -> Path:
    names = sorted(k for k, v in figures.items() if isinstance(v, float))
    with atomic_write_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.savez_compressed(
                f,
                global_orient=sl.global_orient,
                body_pose=sl.body_pose,
                betas=sl.betas,
                sequence=sl.sequence.astype(str),
                figure_names=np.asarray(names, dtype=str),
                figure_values=np.asarray([figures[k] for k in names], dtype=np.float64),
                eval_seed=np.int64(seed),
            )
    return path


def load_smpl_prior_slice(path=None) -> Tuple[SMPLParams, Dict[str, float], int]:
    """The stored held-out slice: (parameters, the figures stored with it, the corruption seed)."""
    from weakpose.pretrained import slice_path

    path = Path(path) if path is not None else slice_path("smpl_prior")
    if not path.is_file():
        raise FileNotFoundError(f"SMPL prior slice not found: {path}")
    with np.load(path, allow_pickle=False) as z:
        missing = sorted(
            {"global_orient", "body_pose", "betas", "sequence", "figure_names", "figure_values", "eval_seed"}
            - set(z.files)
        )
        if missing:
            raise KeyError(f"{path}: missing keys {missing}")
        params = SMPLParams(
            z["global_orient"], z["body_pose"], z["betas"], source=f"slice:{path}", sequence=z["sequence"]
        )
        figures = {str(k): float(v) for k, v in zip(z["figure_names"], z["figure_values"])}
        seed = int(z["eval_seed"])
    return params, figures, seed


# ----------------------------------------------------------------------------------------------- training


def _stored_copy(critic: SMPLCritic, half: bool) -> SMPLCritic:
    out = copy.deepcopy(critic).cpu().eval()
    return out.half() if half else out.float()


def _store_and_measure(
    critic: SMPLCritic, half: bool, path: Path, held: SMPLParams, sl: SMPLParams
) -> Tuple[Dict[str, Any], Dict[str, Any]]:
    """Write ``critic`` (half or float32 storage) to ``path``, load it back, return its (held-out, slice) figures."""
    _stored_copy(critic, half).save(path)
    loaded = SMPLCritic.load(path)
    return evaluate_smpl_prior(loaded, held), evaluate_smpl_prior(loaded, sl)


def train_smpl_prior(
    out_path,
    steps: int = 5000,
    seed: int = 0,
    work_dir=None,
    half: bool = True,
    slice_out=None,
    recipe: Optional[SMPLPriorRecipe] = None,
    num_threads: Optional[int] = 1,
    verbose: bool = True,
) -> Dict[str, Any]:
    """Train the shipped SMPL prior, write it to ``out_path`` and its held-out slice; return the model card.

    ``steps`` optimiser steps of :class:`SMPLPriorTask` (batch 128) on ``smpl_prior_params("train", seed)`` minus
    :data:`VAL_SEQUENCES`, validating on those every ``recipe.train.val_every`` steps and keeping the weights of
    the best validation by ``recipe.selection_metric`` in the last ``1 - recipe.selection_start`` of the steps.
    ``work_dir``: where the run's checkpoints and metrics go (a temporary directory, removed afterwards, when None).
    ``half``: store float16 weights (half the file) if no held-out fraction moves by more than
    :data:`HALF_TOLERANCE` against float32 storage; both are in the card.
    ``slice_out``: where the slice goes (default :func:`weakpose.pretrained.slice_path` ``("smpl_prior")``).
    Both files are written atomically; every figure is measured with the weights loaded back from the file.
    """
    from weakpose.pretrained import slice_path
    from weakpose.recipes.split import HELD_OUT_SEQUENCES

    t_start = time.perf_counter()
    out_path = Path(out_path)
    slice_out = Path(slice_out) if slice_out is not None else slice_path("smpl_prior")
    recipe = copy.deepcopy(recipe) if recipe is not None else SMPLPriorRecipe()
    recipe.train = dataclasses.replace(recipe.train, max_steps=int(steps), seed=int(seed))
    old_threads = torch.get_num_threads()
    if num_threads:
        torch.set_num_threads(int(num_threads))
    tmp_dir = None
    if work_dir is None:
        tmp_dir = tempfile.TemporaryDirectory(prefix="weakpose_smpl_prior_")
        work_dir = tmp_dir.name
    recipe.train = dataclasses.replace(recipe.train, out_dir=str(work_dir))
    say = print if verbose else (lambda *a, **k: None)
    try:
        params = smpl_prior_params("train", seed=seed, num_betas=recipe.num_betas, beta_std=recipe.beta_std)
        unknown = sorted(set(VAL_SEQUENCES) - set(params.sequences))
        if unknown:
            raise KeyError(f"validation sequences {unknown} are not in the training split")
        train = params.subset(~np.isin(params.sequence, list(VAL_SEQUENCES)))
        val = params.select_sequences(VAL_SEQUENCES)
        # Training redraws the real betas every batch, so a sequence's own draw means nothing; validation gets one
        # fixed draw per FRAME, so that 'betas x5' is judged on hundreds of shapes rather than five.
        val.betas = (
            np.random.default_rng([int(seed), VAL_BETAS_STREAM]).standard_normal(val.betas.shape) * recipe.beta_std
        ).astype(np.float32)
        held = smpl_prior_params("held_out", seed=seed, num_betas=recipe.num_betas, beta_std=recipe.beta_std)
        sl = _slice_of(held)
        say(
            f"SMPL prior: {len(train)} training frames ({len(train.sequences)} sequences), validation {len(val)} "
            f"frames ({len(VAL_SEQUENCES)} training sequences), held out {len(held)} frames "
            f"({len(held.sequences)} sequences), {steps} steps"
        )

        torch.manual_seed(seed)  # the initial weights; the Trainer seeds the data order and noise itself
        critic = SMPLCritic(num_betas=recipe.num_betas, joint_width=recipe.joint_width, full_width=recipe.full_width)
        gen = SMPLGenerator(
            noise_dim=recipe.noise_dim,
            width=recipe.generator_width,
            num_layers=recipe.generator_layers,
            num_betas=recipe.num_betas,
        )
        task = _SelectingTask(
            critic,
            gen,
            lr=recipe.lr,
            betas=(recipe.beta1, recipe.beta2),
            mirror=recipe.mirror,
            resample_betas_std=recipe.beta_std,
        )
        keep = None
        if recipe.selection_metric:
            keep = KeepBestWeights(critic, recipe.selection_metric, math.ceil(recipe.selection_start * steps))
        trainer = Trainer(
            task, recipe, SMPLParamDataset(train), SMPLParamDataset(val), callbacks=[keep] if keep is not None else []
        )
        t_fit = time.perf_counter()
        result = trainer.fit()
        fit_seconds = time.perf_counter() - t_fit
        if result.interrupted:
            raise RuntimeError(
                f"training of the SMPL prior was interrupted at step {result.step}; checkpoint in {work_dir}"
            )
        critic = task.critic.cpu().eval()
        last_val = dict(result.last_validation)
        chosen_step = int(result.step)
        if keep is not None and keep.state is not None:
            critic.load_state_dict(keep.state)
            chosen_step = keep.best_step
        say(
            f"trained {result.step} steps in {fit_seconds:.0f} s; kept the weights of step {chosen_step} "
            f"({recipe.selection_metric} = {None if keep is None else keep.best_value})"
        )

        # Float32 storage always measured (the reference); half storage kept if it holds within HALF_TOLERANCE.
        scratch = Path(work_dir) / "stored_check.pt"
        fig32, slice32 = _store_and_measure(critic, False, scratch, held, sl)
        storage = "float32"
        fig16 = slice16 = None
        if half:
            fig16, slice16 = _store_and_measure(critic, True, scratch, held, sl)
            change = _largest_fraction_change(fig32, fig16)
            if change <= HALF_TOLERANCE:
                storage = "float16"
            else:
                say(f"float16 storage moves a held-out fraction by {change:.4f} > {HALF_TOLERANCE}: storing float32")
        figures, slice_figures = (fig16, slice16) if storage == "float16" else (fig32, slice32)

        card: Dict[str, Any] = {
            "model": "SMPLCritic (HMR's factorised SMPL pose-and-shape discriminator, here a critic)",
            "method": "Kanazawa et al., CVPR 2018 (HMR discriminator); Mao et al., ICCV 2017 (least-squares GAN); "
            "trained against a small 6D-rotation generator (Zhou et al., CVPR 2019)",
            "data": "CMU motion shipped with weakpose (weakpose.recipes.split.cmu_tracks('train')), retargeted "
            "onto the default body (weakpose.body.retarget.retarget_h36m17: no twist about limb axes; "
            "collars, wrists, hands, feet, spine2, head at rest), betas ~ N(0, 1) per sequence",
            "augmentation": f"left/right mirror of half of each real batch ({recipe.mirror}); real betas redrawn "
            f"from N(0, {recipe.beta_std:g}²) every batch",
            "protocol": "for each corruption of weakpose.priors.corruptions.implausible_versions (seed "
            f"{EVAL_SEED}): fraction of held-out real frames scored (mean of the 25 outputs) above "
            "their own corrupted copy; plus the mean real score (1 = real, 0 = generated). Measured "
            "with the weights loaded back from this file. Held-out sequences are never trained on nor "
            "used for checkpoint selection",
            "input": "body_pose (B, 23, 3, 3) rotation matrices or (B, 69) axis-angle (SMPL joints 1..23, no "
            "global orientation); betas (B, 10)",
            "figures": figures,
            "slice_figures": slice_figures,
            "figures_float32": fig32,
            "figures_float16": fig16,
            "slice_figures_float32": slice32,
            "slice_figures_float16": slice16,
            "storage": storage,
            "half_tolerance": HALF_TOLERANCE,
            "train_frames": int(len(train)),
            "train_sequences": len(train.sequences),
            "validation_sequences": list(VAL_SEQUENCES),
            "validation_frames": int(len(val)),
            "held_out_sequences": list(HELD_OUT_SEQUENCES),
            "held_out_frames": int(len(held)),
            "slice_frames": int(len(sl)),
            "steps": int(result.step),
            "batch_size": int(recipe.train.batch_size),
            "selection": {
                "metric": recipe.selection_metric,
                "chosen_step": chosen_step,
                "value": None if keep is None else keep.best_value,
                "candidates_from_step": None if keep is None else keep.start_step,
                "every": int(recipe.train.val_every),
                "history": {} if keep is None else {str(k): v for k, v in keep.history.items()},
                "validation_betas": f"one draw per frame from N(0, {recipe.beta_std:g}²), seeded",
                "last_validation": last_val,
            },
            "hyperparameters": {k: v for k, v in dataclasses.asdict(recipe).items() if k != "train"},
            "seed": int(seed),
            "seconds": round(fit_seconds, 1),
            "torch_threads": int(torch.get_num_threads()),
            "torch": str(torch.__version__),
            "python": platform.python_version(),
            "acknowledgement": ACKNOWLEDGEMENT,
        }
        card["total_seconds"] = round(time.perf_counter() - t_start, 1)  # data, training and both measurements
        scratch.unlink(missing_ok=True)
        final = _stored_copy(critic, storage == "float16")
        final.meta = card
        final.save(out_path)
        # The card's figures must be those of the file as written: load it back and check.
        loaded = SMPLCritic.load(out_path)
        again, again_slice = evaluate_smpl_prior(loaded, held), evaluate_smpl_prior(loaded, sl)
        if again != figures or again_slice != slice_figures:
            raise RuntimeError(
                f"{out_path}: figures of the file as written differ from the card's ({again} vs {figures})"
            )
        _write_slice(slice_out, sl, slice_figures, EVAL_SEED)
        say(
            f"wrote {out_path} ({out_path.stat().st_size / 1e6:.2f} MB, {storage}) and {slice_out} "
            f"({slice_out.stat().st_size / 1e3:.0f} KB)"
        )
        return card
    finally:
        if num_threads:
            torch.set_num_threads(old_threads)
        if tmp_dir is not None:
            tmp_dir.cleanup()
