"""Which CMU sequences train the shipped models and which are held out to measure them (whole sequences).

Rule: one sequence per action is held out — the source's ``test_1`` where the action has one, otherwise its
highest-numbered training sequence — so every figure on a model card comes from motion no shipped model has seen.
``washwindow`` has a single sequence and is therefore an unseen action altogether. The three shipped BVH clips
(subject 131: StartWalk, Hop) only train.
"""

from __future__ import annotations

from typing import List, Tuple

import numpy as np

from weakpose.skeleton import H36M17

__all__ = ["HELD_OUT_SEQUENCES", "cmu_tracks"]

HELD_OUT_SEQUENCES: Tuple[str, ...] = (
    "basketball/test_1",
    "basketball_signal/train_5",
    "directing_traffic/train_4",
    "jumping/test_1",
    "running/test_1",
    "soccer/test_1",
    "walking/test_1",
    "washwindow/test_1",
)


def cmu_tracks(split: str) -> List[Tuple[str, np.ndarray]]:
    """``[(label, (N, 17, 3) float64)]`` world tracks (metres, Z up, 50 Hz, floor at z = 0) of ``split``:
    ``"train"`` (CMU sequences not held out + the BVH clips) or ``"held_out"``. As in the keypoint default, the
    root joint is moved to the hip midpoint (Human3.6M's pelvis sits at hip height, CMU's root above it)."""
    from weakpose.data.motion.cmu import load_cmu_bvh_clips, load_cmu_motion

    if split not in ("train", "held_out"):
        raise ValueError(f"cmu_tracks: split must be 'train' or 'held_out'; got {split!r}")
    motion = load_cmu_motion()
    known = {f"{a}/{k}" for a, seqs in motion.items() for k in seqs}
    missing = sorted(set(HELD_OUT_SEQUENCES) - known)
    if missing:
        raise KeyError(f"held-out sequences {missing} are not in the shipped CMU motion")
    out = []
    for action, seqs in motion.items():
        for key, p in seqs.items():
            label = f"{action}/{key}"
            if (label in HELD_OUT_SEQUENCES) == (split == "held_out"):
                out.append((label, p))
    if split == "train":
        for action, clips in load_cmu_bvh_clips(fps=50.0).items():
            out += [(f"bvh/{clip}", p) for clip, p in clips.items()]
    hips = [H36M17.index("RHip"), H36M17.index("LHip")]
    tracks = []
    for label, p in sorted(out, key=lambda t: t[0]):
        p = np.asarray(p, dtype=np.float64).copy()
        p[:, 0] = p[:, hips].mean(axis=1)
        tracks.append((label, p))
    return tracks
