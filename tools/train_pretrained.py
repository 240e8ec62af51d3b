"""Rebuild the models shipped in weakpose/pretrained/weights/ from the CMU motion shipped with weakpose.

    python tools/train_pretrained.py pose-discriminator     # ~5 min on one CPU thread
    python tools/train_pretrained.py temporal-lifter        # ~15-20 min on one CPU thread
    python tools/train_pretrained.py smpl-prior             # ~8 min on one CPU thread
    python tools/train_pretrained.py all

Every run is seeded, trains on weakpose's Trainer for a fixed number of steps (run folders under runs/pretrained/),
and picks a checkpoint, if at all, on training-side validation sequences only; the held-out CMU sequences
(weakpose.recipes.split.HELD_OUT_SEQUENCES, whole sequences) are only read after training, to compute the model
card stored in the file's meta (README "Pretrained models" shows the same figures) and the small slice the tests
reproduce those figures on. Logs go to runs/pretrained/. The motion is CMU's: "The data used in this project was
obtained from mocap.cs.cmu.edu. The database was created with funding from NSF EIA-0196217."
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

from weakpose.io_utils import atomic_write_path
from weakpose.pretrained import PRETRAINED_FILES, WEIGHTS_DIR, slice_path
from weakpose.recipes.recordings import held_out_recordings, training_recordings
from weakpose.recipes.split import HELD_OUT_SEQUENCES, cmu_tracks
from weakpose.train.startup import run_script

ACKNOWLEDGEMENT = (
    "The data used in this project was obtained from mocap.cs.cmu.edu. The database was created "
    "with funding from NSF EIA-0196217."
)
AUGMENTATION = (
    "per copy of each training track: Human3.6M-like bone lengths (S1's lengths x U(0.88, 1.12) x "
    "per-bone exp(0.05 N(0,1)), left = right), mirror with p = 0.5, uniform heading, one virtual camera "
    "(half Human3.6M-like: 1000x1002 px, f ~ 1145 px, 4-6.5 m, 0.9-1.9 m high; half random: common "
    "video sizes, 35-90 deg horizontal field of view, 2.5-9 m, 0.2-3 m high, roll N(0, 5 deg))"
)
NOISE = (
    "2D detector noise drawn afresh per window: Gaussian jitter with std ~ U(0, 8) px per window, 2% of joints "
    "misplaced by N(0, 60 px), 1% dropped to pixel (0, 0) (pixels of a 1000-px-wide image, scaled with width)"
)
PROTOCOL = (
    "held-out CMU sequences (one whole sequence per action; washwindow unseen): seeded Human3.6M-like "
    "proportions, captured motion unchanged, filmed by the four real Human3.6M cameras of S9"
)
RUNS = Path("runs/pretrained")


def _provenance(seconds: float, steps: int) -> dict:
    return {
        "acknowledgement": ACKNOWLEDGEMENT,
        "held_out_sequences": list(HELD_OUT_SEQUENCES),
        "steps": steps,
        "train_seconds": round(seconds, 1),
        "torch": str(torch.__version__),
        "machine": platform.processor() or platform.machine(),
        "threads": torch.get_num_threads(),
        "recipe": "tools/train_pretrained.py",
    }


def build_temporal_lifter(steps: int, copies: int, batch_size: int, seed: int) -> dict:
    from weakpose.data.motion.augment import NoiseConfig, detector_noise
    from weakpose.metrics import mpjpe, p_mpjpe
    from weakpose.recipes.lifter import (
        LIFTER_KWARGS,
        evaluate_lifter,
        lift_recording,
        reload,
        save_shipped_lifter,
        train_lifter,
    )

    train_tracks = cmu_tracks("train")
    train = training_recordings(train_tracks, copies, seed=seed)
    print(
        f"temporal lifter: {len(train)} recordings, {sum(len(r.uv) for r in train)} frames of "
        f"{len(train_tracks)} training tracks"
    )
    t0 = time.perf_counter()
    model = train_lifter(
        train,
        steps,
        batch_size=batch_size,
        seed=seed,
        log_path=RUNS / "temporal_lifter.csv",
        work_dir=RUNS / "temporal_lifter",
    )
    seconds = time.perf_counter() - t0
    path = WEIGHTS_DIR / PRETRAINED_FILES["temporal_lifter"]
    save_shipped_lifter(model, path, meta={})
    stored = reload(path)  # the card describes the weights exactly as shipped (float16 storage)
    held = held_out_recordings(cmu_tracks("held_out"))
    figures = {
        "clean_2d": evaluate_lifter(stored, held),
        "detector_noise_2d": evaluate_lifter(stored, held, noise_seed=0),
    }
    fp32 = {"clean_2d": evaluate_lifter(model, held)}

    # the stored slice: 120 noisy frames of one camera of each held-out sequence
    rng = np.random.default_rng(1)
    xs, ys, labels = [], [], []
    for rec in held[::4]:
        uv = detector_noise(rec.uv[:120], rec.image_size[0], rng, NoiseConfig())
        from weakpose.geometry import normalize_screen_coordinates

        xs.append(np.asarray(normalize_screen_coordinates(uv, *rec.image_size), dtype=np.float32))
        ys.append(rec.root_relative_3d[:120].astype(np.float32))
        labels.append(rec.label)
    preds = [lift_recording(stored, x) for x in xs]
    slice_figures = {
        "mpjpe_mm": round(float(np.mean([mpjpe(p, y) for p, y in zip(preds, ys)])) * 1000, 3),
        "p_mpjpe_mm": round(float(np.mean([p_mpjpe(p, y) for p, y in zip(preds, ys)])) * 1000, 3),
    }
    lengths = np.array([len(x) for x in xs])
    with atomic_write_path(slice_path("temporal_lifter")) as tmp:
        np.savez_compressed(
            tmp, inputs_2d=np.concatenate(xs), targets_3d=np.concatenate(ys), lengths=lengths, labels=np.array(labels)
        )
    card = {
        "model": "TemporalLifter (VideoPose3D-style TCN), 27-frame centred window, 512 channels, float16 storage",
        "kwargs": LIFTER_KWARGS,
        "input": "H36M-17 2D keypoints, normalised screen coordinates",
        "output": "root-relative H36M-17 3D, camera frame, metres",
        "data": f"CMU motion shipped with weakpose: {len(train_tracks)} training tracks x {copies} augmented "
        f"recordings ({sum(len(r.uv) for r in train)} frames, 50 Hz)",
        "augmentation": AUGMENTATION + "; " + NOISE,
        "protocol": PROTOCOL,
        "figures": figures,
        "figures_float32_before_storage": fp32,
        "slice_figures": slice_figures,
        "slice": "one camera of each held-out sequence, first 120 frames, seeded detector noise (rng seed 1)",
        **_provenance(seconds, steps),
    }
    save_shipped_lifter(model, path, meta=card)
    return card


def build_pose_critic(steps: int, copies: int, batch_size: int, seed: int) -> dict:
    from weakpose.priors import PoseCritic
    from weakpose.recipes.pose_prior import (
        VALIDATION_SEQUENCES,
        camera_frame_poses,
        evaluate_pose_prior,
        train_pose_prior,
    )

    tracks = cmu_tracks("train")
    train_tracks = [t for t in tracks if t[0] not in VALIDATION_SEQUENCES]
    val_tracks = [t for t in tracks if t[0] in VALIDATION_SEQUENCES]
    poses = camera_frame_poses(training_recordings(train_tracks, copies, seed=seed))
    val_poses = camera_frame_poses(training_recordings(val_tracks, 4, seed=seed + 1), stride=2)
    print(
        f"pose critic: {len(poses)} camera-frame poses of {len(train_tracks)} training tracks, "
        f"{len(val_poses)} validation poses of {len(val_tracks)} other training-side tracks"
    )
    t0 = time.perf_counter()
    critic = train_pose_prior(
        poses,
        steps,
        batch_size=batch_size,
        seed=seed,
        log_path=RUNS / "pose_prior.csv",
        val_poses=val_poses,
        work_dir=RUNS / "pose_discriminator",
    )
    seconds = time.perf_counter() - t0
    selection = dict(critic.meta)
    path = WEIGHTS_DIR / PRETRAINED_FILES["pose_discriminator"]
    critic.save(path)
    stored = PoseCritic.load(path)
    held = camera_frame_poses(held_out_recordings(cmu_tracks("held_out")), stride=5)
    figures = evaluate_pose_prior(stored, held)
    slice_poses = held[np.random.default_rng(2).choice(len(held), 512, replace=False)]
    slice_figures = evaluate_pose_prior(stored, slice_poses)
    with atomic_write_path(slice_path("pose_discriminator")) as tmp:
        np.savez_compressed(tmp, poses=slice_poses.astype(np.float32))
    stored.meta = {
        "model": "PoseCritic (RepNet pose + KCS paths, widths 100)",
        "frame": "camera",
        "input": "H36M-17 3D poses, metres, camera frame (x right, y down, z forward); root-relative inside",
        "data": f"CMU motion shipped with weakpose: {len(train_tracks)} training tracks x {copies} augmented "
        f"recordings ({len(poses)} poses)",
        "augmentation": AUGMENTATION + "; left/right mirror of half of every batch",
        "training": f"WGAN-GP against a noise-to-pose generator, {steps} critic steps of "
        f"{batch_size}, 5 critic steps per generator step, Adam 1e-4 (0.5, 0.9), lambda = 10",
        "protocol": PROTOCOL + "; every 5th frame of every camera; corruptions of weakpose.priors.corruptions (seed 0)",
        "figures": figures,
        "slice_figures": slice_figures,
        "slice": "512 of the held-out poses (rng seed 2)",
        "real_score_mean": figures["real_score_mean"],
        "selection": f"best mean rank accuracy on validation poses of {list(VALIDATION_SEQUENCES)} (kept out "
        f"of training), checked every 500 steps: step {selection.get('selected_step')}, "
        f"{selection.get('validation_rank_accuracy_%')} %",
        **_provenance(seconds, steps),
    }
    stored.save(path)
    return stored.meta


def build_smpl_prior(steps: int, seed: int) -> dict:
    from weakpose.recipes.smpl_prior import train_smpl_prior

    return train_smpl_prior(
        WEIGHTS_DIR / PRETRAINED_FILES["smpl_prior"], steps=steps, seed=seed, work_dir=RUNS / "smpl_prior"
    )


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("model", choices=["pose-discriminator", "temporal-lifter", "smpl-prior", "all"])
    p.add_argument("--steps", type=int, default=None, help="training steps (default: the shipped model's)")
    p.add_argument("--copies", type=int, default=16, help="augmented recordings per training track")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--debug", action="store_true", help="show the full Python traceback of an error")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")  # the Trainer's progress lines without a terminal
    if args.steps is not None and args.steps < 1:
        p.error(f"--steps must be >= 1, got {args.steps}")
    if args.copies < 1:
        p.error(f"--copies must be >= 1, got {args.copies}")
    if args.threads < 1:
        p.error(f"--threads must be >= 1, got {args.threads}")
    torch.set_num_threads(args.threads)
    RUNS.mkdir(parents=True, exist_ok=True)
    todo = ["pose-discriminator", "temporal-lifter", "smpl-prior"] if args.model == "all" else [args.model]
    for name in todo:
        if name == "pose-discriminator":
            card = build_pose_critic(args.steps or 6000, args.copies, 256, args.seed)
        elif name == "temporal-lifter":
            card = build_temporal_lifter(args.steps or 2500, args.copies, 256, args.seed)
        else:
            card = build_smpl_prior(args.steps or 5000, args.seed)
        with atomic_write_path(RUNS / f"{name}_card.json") as tmp:
            Path(tmp).write_text(json.dumps(card, indent=1))
        print(f"{name}: {json.dumps(card.get('figures'), indent=1)}")
    return 0


if __name__ == "__main__":
    sys.exit(run_script(main))
