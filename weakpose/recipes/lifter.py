"""Recipe of the shipped temporal lifter: a 27-frame VideoPose3D-style TCN trained on augmented CMU recordings.

Why 27 frames, centred: ``weakpose lift`` works on whole files, so latency does not matter and the symmetric
window (13 past + 13 future frames) sees both sides of every frame; Pavllo et al. (CVPR 2019) report the symmetric
27-frame model more accurate than a causal one of the same size, and 27 frames keep the network small enough to
ship (512 channels, 2.2 M parameters, stored in half precision). A causal model only pays off for live video.

Training: windows of :func:`weakpose.recipes.recordings.training_recordings` with fresh detector-like noise
(:func:`weakpose.data.motion.augment.detector_noise`) on every batch, MPJPE loss on root-relative camera-frame joints,
Adam with an exponentially decaying rate, a fixed number of steps and no checkpoint selection (nothing held out is
looked at before the end). Protocol of the card: :func:`evaluate_lifter` on the held-out recordings.
"""

from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from weakpose.data.motion.augment import NoiseConfig, detector_noise
from weakpose.geometry import normalize_screen_coordinates
from weakpose.lifters import load_lifter, save_lifter
from weakpose.metrics import mpjpe_per_frame, p_mpjpe_per_frame
from weakpose.models.temporal import TemporalLifter
from weakpose.recipes.fitting import fit_recipe
from weakpose.recipes.recordings import Recording
from weakpose.train import TrainTask

__all__ = ["LIFTER_KWARGS", "NoisyWindows", "train_lifter", "evaluate_lifter", "lift_recording"]

LIFTER_KWARGS = dict(
    num_joints_in=17,
    in_features=2,
    num_joints_out=17,
    filter_widths=[3, 3, 3],
    channels=512,
    dropout=0.25,
    causal=False,
)


class NoisyWindows(Dataset):
    """Every frame of many recordings as the centre of a 27-frame window, with detector noise drawn afresh each
    time a window is served (a Dataset whose ``get_batch`` gathers a whole batch by index arithmetic).

    Frames are concatenated once; a window is clamped to its own recording (edge frames repeat, as
    ``TemporalLifter.forward(pad_edges=True)`` does at test time). The noise comes from a NumPy generator seeded
    by the torch RNG, which the Trainer seeds and checkpoints, so a run is repeatable and resumes exactly."""

    def __init__(
        self, recordings: Sequence[Recording], receptive_field: int = 27, noise: Optional[NoiseConfig] = NoiseConfig()
    ):
        if not recordings:
            raise ValueError("NoisyWindows: no recordings")
        self.uv = np.concatenate([r.uv for r in recordings]).astype(np.float32)
        self.target = np.concatenate([r.root_relative_3d for r in recordings]).astype(np.float32)
        lengths = [len(r.uv) for r in recordings]
        ends = np.cumsum(lengths)
        self.start = np.repeat(ends - lengths, lengths)
        self.end = np.repeat(ends, lengths)
        self.size = np.repeat(np.array([r.image_size for r in recordings], dtype=np.float32), lengths, axis=0)
        self.half = receptive_field // 2
        self.offsets = np.arange(-self.half, self.half + 1)
        self.noise = noise

    def __len__(self) -> int:
        return len(self.uv)

    def __getitem__(self, index: int):
        x, y = self.get_batch([index])
        return x[0], y[0]

    def get_batch(self, indices):
        """``(x (n, 27, 17, 2) normalised screen coordinates, y (n, 17, 3) metres)`` of the windows centred on
        ``indices``, as torch tensors."""
        centre = np.asarray(indices, dtype=np.int64)
        idx = np.clip(centre[:, None] + self.offsets, self.start[centre, None], self.end[centre, None] - 1)
        uv = self.uv[idx].astype(np.float64)
        w, h = self.size[centre, 0], self.size[centre, 1]
        if self.noise is not None:
            rng = np.random.default_rng(int(torch.randint(0, 2**62, ()).item()))
            uv = detector_noise(uv, w, rng, self.noise, independent=True)
        x = normalize_screen_coordinates(uv, w[:, None, None], h[:, None, None])
        return torch.from_numpy(x.astype(np.float32)), torch.from_numpy(self.target[centre])


class _LifterTask(TrainTask):
    """MPJPE of the strided training twin on single windows; Adam (AMSGrad) with a rate decaying exponentially
    from ``lr`` to ``final_lr`` over ``steps``."""

    def __init__(self, model: TemporalLifter, steps: int, lr: float, final_lr: float):
        self.model = model
        self._twin = model.training_twin()  # shares the model's parameters: not a second component
        self.optimizer = torch.optim.Adam(model.parameters(), lr=lr, amsgrad=True)
        self.scheduler = torch.optim.lr_scheduler.ExponentialLR(
            self.optimizer, (final_lr / lr) ** (1.0 / max(steps, 1))
        )

    def training_step(self, batch, step: int):
        x, y = batch
        loss = (self._twin(x)[:, 0] - y).norm(dim=-1).mean()
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
        self.scheduler.step()
        return {"mpjpe_mm": loss.detach() * 1000, "lr": self.optimizer.param_groups[0]["lr"]}


def lift_recording(model: TemporalLifter, x: np.ndarray) -> np.ndarray:
    """Root-relative 3D (N, 17, 3) of every frame of normalised 2D ``x`` (N, 17, 2): the whole sequence at once,
    edges padded, in bounded-memory chunks (:meth:`TemporalLifter.lift_sequence`; eval mode)."""
    model.eval()
    out = model.lift_sequence(torch.as_tensor(x, dtype=torch.float32))
    return out.numpy().astype(np.float64)


def evaluate_lifter(
    model: TemporalLifter,
    recordings: Sequence[Recording],
    noise_seed: Optional[int] = None,
    noise: NoiseConfig = NoiseConfig(),
) -> Dict[str, object]:
    """MPJPE and P-MPJPE (mm) on ``recordings``: clean 2D, or with seeded detector noise when ``noise_seed`` is
    given (one generator for all recordings, in order). Means over all frames and over actions (the part of the
    label before "/"), plus per action."""
    model.eval()
    rng = np.random.default_rng(noise_seed) if noise_seed is not None else None
    per_action: Dict[str, List[np.ndarray]] = {}
    for rec in recordings:
        uv = rec.uv if rng is None else detector_noise(rec.uv, rec.image_size[0], rng, noise)
        x = normalize_screen_coordinates(uv, *rec.image_size)
        pred = lift_recording(model, x)
        target = rec.root_relative_3d
        errs = np.stack([mpjpe_per_frame(pred, target), p_mpjpe_per_frame(pred, target)], 1) * 1000.0
        per_action.setdefault(rec.label.split("/")[0], []).append(errs)
    actions = {a: np.concatenate(v).mean(0) for a, v in sorted(per_action.items())}
    frames = np.concatenate([e for v in per_action.values() for e in v])
    return {
        "mpjpe_frames_mm": round(float(frames[:, 0].mean()), 2),
        "p_mpjpe_frames_mm": round(float(frames[:, 1].mean()), 2),
        "mpjpe_actions_mm": round(float(np.mean([v[0] for v in actions.values()])), 2),
        "p_mpjpe_actions_mm": round(float(np.mean([v[1] for v in actions.values()])), 2),
        "per_action_mm": {a: [round(float(v[0]), 2), round(float(v[1]), 2)] for a, v in actions.items()},
        "frames": int(len(frames)),
    }


def train_lifter(
    train: Sequence[Recording],
    steps: int,
    batch_size: int = 256,
    lr: float = 1e-3,
    final_lr: float = 1e-4,
    seed: int = 0,
    log_path: Optional[Path] = None,
    noise: Optional[NoiseConfig] = NoiseConfig(),
    kwargs: Optional[dict] = None,
    work_dir: Optional[Path] = None,
) -> TemporalLifter:
    """Train a :class:`TemporalLifter` (``LIFTER_KWARGS`` unless ``kwargs``) for ``steps`` steps with the
    :class:`~weakpose.train.Trainer`; returns it in eval mode. ``work_dir``: the run folder (checkpoint,
    metrics.csv; a temporary one, removed afterwards, when None). ``log_path``: a copy of the run's metrics.csv
    (step, training MPJPE in mm, learning rate, ...)."""
    torch.manual_seed(seed)  # the initial weights; the Trainer seeds the data order and noise itself
    model = TemporalLifter(**(kwargs or LIFTER_KWARGS))
    task = _LifterTask(model, steps, lr, final_lr)
    windows = NoisyWindows(train, model.receptive_field(), noise)
    fit_recipe("lifter", task, windows, steps, batch_size, seed, work_dir=work_dir, log_path=log_path)
    return model.eval()


def save_shipped_lifter(model: TemporalLifter, path: Path, meta: dict, half: bool = True) -> Path:
    """Write the lifter file (:mod:`weakpose.lifters` format); ``half`` stores float tensors as float16 (loading
    copies them into the float32 model)."""
    if half:
        model = _half_copy(model)
    return save_lifter(path, model, "temporal", LIFTER_KWARGS, output_frame="camera", meta=meta)


def _half_copy(model: TemporalLifter) -> torch.nn.Module:
    class _Stored(torch.nn.Module):  # only state_dict() is used by save_lifter
        def __init__(self, state):
            super().__init__()
            self._state = state

        def state_dict(self, *args, **kwargs):
            return self._state

    state = {k: (v.half() if v.is_floating_point() else v) for k, v in model.state_dict().items()}
    return _Stored(state)


def reload(path: Path) -> TemporalLifter:
    """The lifter exactly as stored (float16 weights copied into float32)."""
    return load_lifter(path)[0]
