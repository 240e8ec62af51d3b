"""The one training loop every sample script uses.

A script builds a :class:`TrainTask` (it owns the networks, optimisers and losses and implements one training
step) and hands it with its datasets to :class:`Trainer`, which does everything else: device moves, a seeded
data order that survives restarts, the step counter, logging, validation, checkpoints, ``--resume`` and DDP.

Exact resume: the checkpoint holds the task (modules, optimisers, schedulers), every global RNG (per rank), the
position in the epoch and the partly-accumulated log averages. The data order of an epoch is a permutation fixed
by ``(seed, epoch)``, so a resumed run skips the batches already consumed and continues the same loss curve.
Randomness inside ``Dataset.__getitem__`` resumes exactly with ``num_workers=0``; with worker processes, derive
it from the sample index (and epoch) instead of from worker-global generators.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
import signal
import sys
import threading
import time
import warnings
from pathlib import Path
from typing import Any, Callable, Hashable, Iterator, Mapping, Sequence, TypeVar

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset
from tqdm.auto import tqdm

from weakpose.io_utils import clean_output_folder
from weakpose.train.batching import BatchedDataset, has_get_batch, passthrough
from weakpose.train.checkpoint import CHECKPOINT_FORMAT, CheckpointMismatchError, load_checkpoint, save_checkpoint
from weakpose.train.config import TrainConfig, config_to_dict, find_train_config, save_config
from weakpose.train.distributed import (
    ShardedSampler,
    all_gather_objects,
    all_reduce_gradients,
    any_rank,
    barrier,
    init_distributed,
    reduce_sums,
    resume_batch_in_epoch,
    unwrap_module,
    wrap_ddp,
)
from weakpose.train.metrics_log import MultiLogger, make_loggers
from weakpose.train.run_lock import RunFolderLock, RunFolderLockedError
from weakpose.train.seeding import derive_seed, get_rng_state, seed_everything, set_deterministic, set_rng_state

__all__ = [
    "TrainTask",
    "Trainer",
    "FitResult",
    "Callback",
    "WallClockBudget",
    "move_to_device",
    "batch_size_of",
    "split_train_val",
]

log = logging.getLogger("weakpose.train")
T = TypeVar("T")

try:  # LRScheduler is the public base class since torch 2.0
    from torch.optim.lr_scheduler import LRScheduler as _LRScheduler
except ImportError:  # pragma: no cover
    from torch.optim.lr_scheduler import _LRScheduler  # type: ignore[attr-defined,no-redef]


# ----------------------------------------------------------------------------------------------- batches


def move_to_device(obj: Any, device: torch.device, non_blocking: bool = False) -> Any:
    """Move tensors inside nested dicts, lists, tuples, namedtuples and dataclasses to ``device``."""
    if isinstance(obj, torch.Tensor):
        return obj.to(device, non_blocking=non_blocking)
    if isinstance(obj, Mapping):
        moved = {k: move_to_device(v, device, non_blocking) for k, v in obj.items()}
        try:
            return type(obj)(moved)
        except TypeError:
            return moved
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):
        return type(obj)(*(move_to_device(v, device, non_blocking) for v in obj))
    if isinstance(obj, (list, tuple)):
        return type(obj)(move_to_device(v, device, non_blocking) for v in obj)
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        changes = {
            f.name: move_to_device(getattr(obj, f.name), device, non_blocking)
            for f in dataclasses.fields(obj)
            if f.init
        }
        return dataclasses.replace(obj, **changes)
    return obj


def batch_size_of(batch: Any) -> int:
    """Leading dimension of the first tensor found in ``batch`` (depth first)."""
    if isinstance(batch, torch.Tensor):
        if batch.ndim == 0:
            raise ValueError("cannot take a batch size from a 0-d tensor")
        return int(batch.shape[0])
    if isinstance(batch, Mapping):
        children: Sequence[Any] = list(batch.values())
    elif isinstance(batch, (list, tuple)):
        children = batch
    elif dataclasses.is_dataclass(batch) and not isinstance(batch, type):
        children = [getattr(batch, f.name) for f in dataclasses.fields(batch)]
    else:
        children = []
    for child in children:
        try:
            return batch_size_of(child)
        except ValueError:
            continue
    raise ValueError(f"no tensor in batch of type {type(batch).__name__} to take the batch size from")


# ----------------------------------------------------------------------------------------------- validation split


def split_train_val(
    items: Sequence[T],
    key_fn: Callable[[T], Hashable],
    val_fraction: float | None = None,
    val_groups: Sequence[Hashable] | None = None,
    seed: int = 0,
) -> tuple[list[T], list[T]]:
    """Split TRAINING items into (train, val) by group (subject, sequence...), so no group is in both.

    Give either ``val_groups`` (these groups go to validation) or ``val_fraction`` (that fraction of the groups,
    at least one, chosen by ``seed`` independently of the items' order). Item order is kept in both parts.
    Model selection uses this split; test subjects must never be passed in (the data layer guards that).
    """
    if (val_fraction is None) == (val_groups is None):
        raise ValueError("split_train_val needs exactly one of val_fraction or val_groups")
    groups: dict[Hashable, None] = {}
    keys = [key_fn(item) for item in items]
    for k in keys:
        groups.setdefault(k, None)
    ordered = sorted(groups, key=lambda g: (type(g).__name__, str(g)))
    if val_groups is not None:
        missing = [g for g in val_groups if g not in groups]
        if missing:
            raise KeyError(f"validation groups {missing} not among the training groups {ordered}")
        chosen = set(val_groups)
    else:
        if not 0.0 < float(val_fraction) < 1.0:  # type: ignore[arg-type]
            raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction}")
        n_val = max(1, int(round(float(val_fraction) * len(ordered))))  # type: ignore[arg-type]
        if n_val >= len(ordered):
            raise ValueError(f"cannot hold out {n_val} of {len(ordered)} groups ({ordered}) and keep one for training")
        order = np.random.default_rng(seed).permutation(len(ordered))
        chosen = {ordered[i] for i in order[:n_val]}
    if len(chosen) >= len(groups):
        raise ValueError(f"all groups {ordered} would go to validation; none left for training")
    train = [item for item, k in zip(items, keys) if k not in chosen]
    val = [item for item, k in zip(items, keys) if k in chosen]
    return train, val


# ----------------------------------------------------------------------------------------------- task


class TrainTask:
    """Base class of what a script trains: owns modules, optimisers, schedulers and implements the steps.

    Every attribute that is an ``nn.Module``, an optimiser, an LR scheduler or a ``GradScaler`` is found
    automatically and saved in checkpoints; put extra counters in :meth:`extra_state`.

    Under DDP the Trainer replaces each trainable module attribute by its DDP wrapper for the duration of
    ``fit`` (call modules through ``self.<name>``; validation sees the plain modules). DDP expects every trainable
    parameter of a wrapped module to get a gradient in each backward: a GAN task that freezes its critic with
    ``requires_grad_(False)`` during the generator step, or takes gradient penalties with ``autograd.grad``,
    should list the critic in ``ddp_exclude`` (or set ``train.find_unused_parameters``). Gradients of excluded
    modules are averaged over ranks by :meth:`optimizer_step` (or call ``all_reduce_gradients`` yourself).
    """

    ddp_exclude: tuple[str, ...] = ()

    # -- to implement ------------------------------------------------------------------------------
    def training_step(self, batch: Any, step: int) -> Mapping[str, Any]:
        """One optimisation step (or several, e.g. critic then generator) on ``batch``; returns scalars to log."""
        raise NotImplementedError

    # Optional: ``validate_dataset(dataset, rank, world_size, device) -> {name: (sum, count)}`` scores the
    # validation split in one call (this rank's share) instead of batch by batch through validation_step; the
    # Trainer sums over ranks and divides. Temporal lifters use it to lift whole sequences.

    def validation_step(self, batch: Any) -> Mapping[str, Any]:
        """Per-batch MEAN metrics on a validation batch (the Trainer weights them by batch size)."""
        raise NotImplementedError

    def on_epoch_end(self, epoch: int) -> None:
        """Called after the last step of each epoch (``epoch`` counts from 0), e.g. to step an LR schedule."""

    def extra_state(self) -> dict[str, Any]:
        """Tensors/primitives besides modules and optimisers to checkpoint."""
        return {}

    def load_extra_state(self, state: Mapping[str, Any]) -> None:
        """Restore what :meth:`extra_state` returned."""

    # -- helpers -----------------------------------------------------------------------------------
    @property
    def device(self) -> torch.device:
        return getattr(self, "_device", torch.device("cpu"))

    @property
    def trainer(self) -> "Trainer | None":
        return getattr(self, "_trainer", None)

    def has_validation(self) -> bool:
        return type(self).validation_step is not TrainTask.validation_step

    def _components(self) -> dict[str, dict[str, Any]]:
        kinds: dict[str, dict[str, Any]] = {"modules": {}, "optimizers": {}, "schedulers": {}, "scalers": {}}
        for name, value in sorted(vars(self).items()):
            if name.startswith("_"):
                continue
            if isinstance(value, nn.Module):
                kinds["modules"][name] = value
            elif isinstance(value, torch.optim.Optimizer):
                kinds["optimizers"][name] = value
            elif isinstance(value, _LRScheduler):
                kinds["schedulers"][name] = value
            elif type(value).__name__ == "GradScaler" and hasattr(value, "state_dict"):
                kinds["scalers"][name] = value
        return kinds

    def modules_by_name(self) -> dict[str, nn.Module]:
        """Module attributes by name, unwrapped from DDP."""
        return {k: unwrap_module(m) for k, m in self._components()["modules"].items()}

    def optimizers_by_name(self) -> dict[str, torch.optim.Optimizer]:
        return self._components()["optimizers"]

    def train(self, mode: bool = True) -> "TrainTask":
        for m in self._components()["modules"].values():
            m.train(mode)
        return self

    def eval(self) -> "TrainTask":
        return self.train(False)

    def to(self, device: torch.device | str) -> "TrainTask":
        """Move all modules (in place: optimisers keep pointing at the same parameters)."""
        for m in self._components()["modules"].values():
            m.to(device)
        self._device = torch.device(device)
        return self

    def state_dict(self) -> dict[str, Any]:
        comps = self._components()
        return {
            "modules": {k: unwrap_module(m).state_dict() for k, m in comps["modules"].items()},
            "optimizers": {k: o.state_dict() for k, o in comps["optimizers"].items()},
            "schedulers": {k: s.state_dict() for k, s in comps["schedulers"].items()},
            "scalers": {k: s.state_dict() for k, s in comps["scalers"].items()},
            "extra": self.extra_state(),
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        comps = self._components()
        for kind in ("modules", "optimizers", "schedulers", "scalers"):
            saved = state.get(kind, {})
            have = comps[kind]
            if set(saved) != set(have):
                raise KeyError(
                    f"checkpoint {kind} {sorted(saved)} do not match the task's {sorted(have)}; "
                    "was it written by a different script or model configuration?"
                )
            for name, obj in have.items():
                target = unwrap_module(obj) if kind == "modules" else obj
                target.load_state_dict(saved[name])
        self.load_extra_state(state.get("extra", {}))

    def optimizer_step(
        self, optimizer: torch.optim.Optimizer, loss: torch.Tensor, retain_graph: bool = False
    ) -> float | None:
        """zero_grad, backward, clip to ``train.grad_clip`` (if set), step. Returns the pre-clip gradient norm.

        Under DDP, gradients of parameters outside DDP-wrapped modules (``ddp_exclude``) are averaged over ranks
        here, before clipping, so every rank takes the same step.
        """
        optimizer.zero_grad(set_to_none=True)
        loss.backward(retain_graph=retain_graph)
        params = [p for g in optimizer.param_groups for p in g["params"] if p.grad is not None]
        synced = getattr(self, "_ddp_param_ids", None)
        if synced is not None:
            all_reduce_gradients([p for p in params if id(p) not in synced])
        norm = None
        clip = self.trainer.cfg.grad_clip if self.trainer is not None else None
        if clip is not None:
            norm = float(torch.nn.utils.clip_grad_norm_(params, clip))
        optimizer.step()
        return norm

    def _wrap_modules(self, wrap: Callable[[nn.Module], nn.Module]) -> None:
        synced: set[int] = set()
        for name, m in self._components()["modules"].items():
            if name not in self.ddp_exclude:
                wrapped = wrap(m)
                setattr(self, name, wrapped)
                if wrapped is not m:
                    synced.update(id(p) for p in m.parameters())
        self._ddp_param_ids = synced

    def _unwrap_modules(self) -> dict[str, nn.Module]:
        """Put the plain modules back; returns the wrappers taken off (by attribute name)."""
        wrapped = {}
        for name, m in self._components()["modules"].items():
            inner = unwrap_module(m)
            if inner is not m:
                wrapped[name] = m
                setattr(self, name, inner)
        return wrapped

    @contextlib.contextmanager
    def unwrapped(self) -> Iterator["TrainTask"]:
        """Temporarily call the plain modules (no DDP collectives), e.g. for validation on uneven shards."""
        wrapped = self._unwrap_modules()
        try:
            yield self
        finally:
            for name, m in wrapped.items():
                setattr(self, name, m)


class Callback:
    """Optional hooks; subclass and override any. Exceptions raised here propagate (no checkpoint is written)."""

    def on_fit_start(self, trainer: "Trainer") -> None: ...

    def on_step_end(self, trainer: "Trainer", step: int, outputs: Mapping[str, Any]) -> None: ...

    def on_validation_end(self, trainer: "Trainer", step: int, metrics: Mapping[str, float]) -> None: ...

    def on_checkpoint(self, trainer: "Trainer", path: Path) -> None: ...

    def on_fit_end(self, trainer: "Trainer", result: "FitResult") -> None: ...


class WallClockBudget(Callback):
    """Finish training once ``minutes`` of wall-clock time have passed in this run (a resumed run gets its own
    budget). Ranks agree on the decision, so DDP processes stop on the same step."""

    def __init__(self, minutes: float):
        if not minutes > 0:
            raise ValueError(f"budget minutes must be positive; got {minutes}")
        self.seconds = 60.0 * float(minutes)
        self._start = None

    def on_fit_start(self, trainer: "Trainer") -> None:
        self._start = time.perf_counter()

    def on_step_end(self, trainer: "Trainer", step: int, outputs: Mapping[str, Any]) -> None:
        if any_rank(time.perf_counter() - self._start >= self.seconds):
            trainer.finish_early()


@dataclasses.dataclass
class FitResult:
    step: int
    epoch: int
    interrupted: bool
    best_value: float | None
    best_step: int | None
    last_validation: dict[str, float]
    checkpoint: Path | None


# ----------------------------------------------------------------------------------------------- trainer


class Trainer:
    """Drive a :class:`TrainTask` over map-style datasets according to a :class:`TrainConfig`.

    ``config`` is the experiment config (saved as ``<out_dir>/config.yaml`` and inside checkpoints); it must be
    a ``TrainConfig`` or have a ``train: TrainConfig`` field. ``resume``: None (fresh run), True (continue from
    ``<out_dir>/last.pt`` when it exists) or a checkpoint path. Steps are counted from 0; ``training_step`` gets
    the index of the step it performs, and ``trainer.step`` is the number of completed steps. ``batch_size``:
    dataset items per step when the script counts ``train.batch_size`` in other units (a chunk holds several
    output frames); by default ``train.batch_size``.
    Files in ``out_dir``: config.yaml, last.pt, best.pt (when ``best_metric`` is set), metrics.csv,
    metrics.jsonl, tb/ (TensorBoard, when installed).
    """

    def __init__(
        self,
        task: TrainTask,
        config: Any,
        train_data: Dataset,
        val_data: Dataset | None = None,
        *,
        collate_fn: Callable[[list[Any]], Any] | None = None,
        batch_size: int | None = None,
        resume: bool | str | Path | None = None,
        callbacks: Sequence[Any] = (),
    ) -> None:
        if not isinstance(task, TrainTask):
            raise TypeError(f"task must subclass weakpose.train.TrainTask, got {type(task).__name__}")
        for name, data in (("train_data", train_data), ("val_data", val_data)):
            if isinstance(data, DataLoader):
                raise TypeError(
                    f"{name}: pass the Dataset, not a DataLoader — the Trainer owns batching and data order "
                    "so that a resumed run sees the same batches"
                )
            if data is not None and not (hasattr(data, "__len__") and hasattr(data, "__getitem__")):
                raise TypeError(f"{name} must be a map-style dataset (with __len__ and __getitem__)")
        self.task = task
        self.config = config
        self.cfg: TrainConfig = find_train_config(config)
        self.train_data = train_data
        self.val_data = val_data if (val_data is not None and len(val_data) > 0) else None
        if val_data is not None and self.val_data is not None and not task.has_validation():
            raise TypeError(f"val_data given but {type(task).__name__} does not implement validation_step")
        if self.cfg.best_metric is not None and self.val_data is None:
            raise ValueError(f"train.best_metric={self.cfg.best_metric!r} needs val_data (a split of training data)")
        self.collate_fn = collate_fn
        self.resume = resume
        self.callbacks = list(callbacks)
        self.out_dir = Path(self.cfg.out_dir)
        self.ctx, self.device = init_distributed(self.cfg.device)
        task._trainer = self  # type: ignore[attr-defined]
        task._device = self.device  # type: ignore[attr-defined]

        self.sampler = ShardedSampler(
            len(train_data), seed=self.cfg.seed, shuffle=True, rank=self.ctx.rank, world_size=self.ctx.world_size
        )
        # Items per step: train.batch_size unless the script counts it in other units (chunks of several outputs).
        self.batch_size = int(batch_size) if batch_size is not None else self.cfg.batch_size
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size}")
        bs = self.batch_size
        shard = self.sampler.shard_size
        self.steps_per_epoch = shard // bs if self.cfg.drop_last else -(-shard // bs)
        if self.steps_per_epoch < 1:
            raise ValueError(
                f"{len(train_data)} training samples over {self.ctx.world_size} process(es) give no full batch of "
                f"{bs} with drop_last=True"
            )
        self.total_steps = (
            self.cfg.max_steps if self.cfg.max_steps is not None else self.cfg.epochs * self.steps_per_epoch
        )

        self.step = 0
        self.epoch = 0
        self.batch_in_epoch = 0
        self.best_value: float | None = None
        self.best_step: int | None = None
        self.last_validation: dict[str, float] = {}
        self._acc: dict[str, list[Any]] = {}
        self._stop_requested = False
        self._loggers: MultiLogger | None = None
        self._last_log_time = time.perf_counter()
        self._steps_since_log = 0
        self._saved_at: int | None = None

    # -- public --------------------------------------------------------------------------------------
    @property
    def is_main(self) -> bool:
        return self.ctx.is_main

    def restore_best(self, result: "FitResult") -> Path:
        """Load the checkpoint chosen on the validation split (best.pt, else last.pt) into the task; return its
        path. Scripts call this before evaluating, so test numbers never come from test-set selection."""
        best = self.out_dir / "best.pt"
        path = best if best.exists() else self.out_dir / "last.pt"
        self.task.load_state_dict(load_checkpoint(path)["task"])
        self.task.to(self.device)
        if self.is_main and result.best_value is not None and path == best:
            log.info(
                "restored %s (step %s, chosen on the validation split: %s = %.4g)",
                path.name,
                result.best_step,
                self.cfg.best_metric,
                result.best_value,
            )
        return path

    def finish_early(self) -> None:
        """End training after the current step as if ``max_steps`` had been reached (final validation and
        checkpoint included; the result is not marked interrupted). Call from a callback on every rank."""
        self.total_steps = min(self.total_steps, self.step)

    def fit(self) -> FitResult:
        """Train until ``max_steps``/``epochs`` are done or SIGTERM/Ctrl-C asks to stop (then checkpoint and return).

        The main process holds the run folder's lock (:class:`~weakpose.train.run_lock.RunFolderLock`) throughout:
        a second trainer of the same ``out_dir`` gets :class:`RunFolderLockedError` before it reads or writes
        anything there. Temporaries that killed writers left in the folder are removed first.
        """
        lock = self._lock_run_folder()
        try:
            return self._fit()
        finally:
            if lock is not None:
                lock.release()

    def _lock_run_folder(self) -> RunFolderLock | None:
        """Lock ``out_dir`` on the main rank; every rank raises if it is taken (else they would wait forever)."""
        lock: RunFolderLock | None = None
        failure: Exception | None = None
        if self.is_main:
            try:
                lock = RunFolderLock(self.out_dir).acquire()
            except (RunFolderLockedError, OSError) as exc:
                failure = exc
        outcome = all_gather_objects(None if failure is None else (type(failure).__name__, str(failure)))[0]
        if failure is not None:
            raise failure
        if outcome is not None:
            kind, message = outcome
            if kind == RunFolderLockedError.__name__:
                raise RunFolderLockedError(message, self.out_dir)
            raise RuntimeError(f"rank 0 could not lock the run folder: {message}")
        if self.is_main:
            clean_output_folder(self.out_dir)  # partial checkpoints of killed saves
        return lock

    def _fit(self) -> FitResult:
        cfg = self.cfg
        if cfg.deterministic:
            set_deterministic(True)
        self.task.to(self.device)
        resume_path = self._resume_path()
        resumed_state = load_checkpoint(resume_path) if resume_path is not None else None
        if resumed_state is not None:
            self._load_state(resumed_state, resume_path)  # type: ignore[arg-type]
        positions = all_gather_objects((self.step, str(resume_path)))
        if len(set(positions)) > 1:  # ranks that disagree would wait on each other's collectives forever
            raise RuntimeError(f"ranks resumed from different checkpoints/steps: {positions}")
        if self.ctx.is_distributed:
            self.task._wrap_modules(lambda m: wrap_ddp(m, self.device, cfg.find_unused_parameters))
        if self.is_main:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            save_config(self.config, self.out_dir / "config.yaml")
            self._loggers = make_loggers(
                self.out_dir, resume_step=self.step if resumed_state is not None else None, tensorboard=cfg.tensorboard
            )
        # RNG last, so nothing between here and the first step draws from it.
        if resumed_state is not None:
            self._restore_rng(resumed_state)
        else:
            seed_everything(derive_seed(cfg.seed, self.ctx.rank))
        for cb in self.callbacks:
            _call(cb, "on_fit_start", self)

        pbar = tqdm(
            total=self.total_steps,
            initial=self.step,
            desc="train",
            dynamic_ncols=True,
            disable=not (cfg.progress and self.is_main and sys.stderr.isatty()),
        )
        # Without a terminal (nohup, a batch queue, `| tee`) the bar is off: plain log lines take its place.
        self._log_lines = cfg.progress and self.is_main and pbar.disable
        self._fit_clock = (time.perf_counter(), self.step)
        old_handlers = self._install_signal_handlers()
        interrupted = False
        try:
            self.task.train(True)
            self._last_log_time = time.perf_counter()
            while self.step < self.total_steps:
                if self._run_epoch(pbar):
                    interrupted = True
                    break
            ckpt = self.out_dir / "last.pt"
            if self._saved_at != self.step:
                self.save_checkpoint(ckpt)
            if interrupted and self.is_main:
                log.warning("stopped at step %d; checkpoint %s (continue with --resume)", self.step, ckpt)
        finally:
            self._restore_signal_handlers(old_handlers)
            pbar.close()
            self.task._unwrap_modules()
            self.task._ddp_param_ids = None  # type: ignore[attr-defined]
            if self._loggers is not None:
                self._loggers.close()
                self._loggers = None
        result = FitResult(
            step=self.step,
            epoch=self.epoch,
            interrupted=interrupted,
            best_value=self.best_value,
            best_step=self.best_step,
            last_validation=dict(self.last_validation),
            checkpoint=self.out_dir / "last.pt",
        )
        for cb in self.callbacks:
            _call(cb, "on_fit_end", self, result)
        return result

    def validate(self) -> dict[str, float]:
        """Mean of ``validation_step`` over the validation split (all ranks), keys prefixed 'val/'."""
        if self.val_data is None:
            return {}
        sampler = ShardedSampler(
            len(self.val_data), seed=0, shuffle=False, rank=self.ctx.rank, world_size=self.ctx.world_size, pad=False
        )
        loader = self._loader(self.val_data, sampler, drop_last=False, generator_seed=derive_seed(self.cfg.seed, 2**31))
        sums: dict[str, list[float]] = {}
        was_training = [m.training for m in self.task.modules_by_name().values()]
        self.task.train(False)
        whole = getattr(self.task, "validate_dataset", None)
        try:
            with torch.no_grad(), self.task.unwrapped():
                if callable(whole):  # the task scores the split itself (e.g. whole sequences); this rank's share
                    sums = {
                        k: [float(s), float(c)]
                        for k, (s, c) in whole(self.val_data, self.ctx.rank, self.ctx.world_size, self.device).items()
                    }
                    loader = []
                for batch in loader:
                    n = batch_size_of(batch)
                    out = self.task.validation_step(move_to_device(batch, self.device))
                    for k, v in out.items():
                        acc = sums.setdefault(k, [0.0, 0.0])
                        acc[0] += float(v) * n
                        acc[1] += n
        finally:
            for m, mode in zip(self.task.modules_by_name().values(), was_training):
                m.train(mode)
        reduced = reduce_sums({k: (s, c) for k, (s, c) in sums.items()})
        metrics = {f"val/{k}": s / c for k, (s, c) in reduced.items() if c > 0}
        self.last_validation = metrics
        for cb in self.callbacks:
            _call(cb, "on_validation_end", self, self.step, metrics)
        return metrics

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue exactly; collective under DDP (all ranks must call it)."""
        per_rank = all_gather_objects(
            {"rng": get_rng_state(), "log_acc": {k: [float(s), float(c)] for k, (s, c) in self._acc.items()}}
        )
        return {
            "format": CHECKPOINT_FORMAT,
            "step": self.step,
            "epoch": self.epoch,
            "batch_in_epoch": self.batch_in_epoch,
            "batch_size": self.batch_size,
            "num_train_samples": len(self.train_data),
            "world_size": self.ctx.world_size,
            "task_class": _class_name(type(self.task)),
            "config_class": _class_name(type(self.config)),
            "task": self.task.state_dict(),
            "rng": [r["rng"] for r in per_rank],
            "log_acc": [r["log_acc"] for r in per_rank],
            "best": {"metric": self.cfg.best_metric, "value": self.best_value, "step": self.best_step},
            "config": config_to_dict(self.config),
            "torch_version": str(torch.__version__),
        }

    def save_checkpoint(self, path: str | Path) -> Path:
        """Write the state (rank 0 only; all ranks must call this under DDP)."""
        state = self.state_dict()
        path = Path(path)
        if self.is_main:
            save_checkpoint(state, path)
            for cb in self.callbacks:
                _call(cb, "on_checkpoint", self, path)
        barrier()  # no rank moves on (e.g. to resume from this file) before it is complete
        if path.name == "last.pt":
            self._saved_at = self.step
        return path

    # -- the loop ----------------------------------------------------------------------------------
    def _run_epoch(self, pbar: Any) -> bool:
        """Run the rest of the current epoch; True when a stop was requested."""
        cfg = self.cfg
        if self.batch_in_epoch >= self.steps_per_epoch:  # a resume rounded up past this epoch's last batch
            self.task.on_epoch_end(self.epoch)
            self.epoch += 1
            self.batch_in_epoch = 0
            return False
        self.sampler.set_epoch(self.epoch)
        self.sampler.set_start(min(self.batch_in_epoch * self.batch_size, self.sampler.shard_size))
        loader = self._loader(
            self.train_data,
            self.sampler,
            cfg.drop_last,
            generator_seed=derive_seed(cfg.seed, self.epoch, self.ctx.rank),
        )
        for batch in loader:
            outputs = self.task.training_step(move_to_device(batch, self.device, non_blocking=True), self.step)
            self.step += 1
            self.batch_in_epoch += 1
            self._steps_since_log += 1
            self._accumulate(outputs or {})
            for cb in self.callbacks:
                _call(cb, "on_step_end", self, self.step, outputs)

            epoch_done = self.batch_in_epoch >= self.steps_per_epoch
            if epoch_done:
                self.task.on_epoch_end(self.epoch)
                self.epoch += 1
                self.batch_in_epoch = 0
            final = self.step >= self.total_steps

            row: dict[str, float] = {}
            if self.step % cfg.log_every == 0 or final:
                row.update(self._train_row())
            validate_now = self.val_data is not None and (
                (cfg.val_every > 0 and self.step % cfg.val_every == 0) or (cfg.val_every == 0 and epoch_done) or final
            )
            if validate_now:
                val = self.validate()
                row.update(val)
                self._update_best(val)
            if row and self._loggers is not None:
                self._loggers.log(self.step, {"epoch": self.step / self.steps_per_epoch, **row})
            if row:
                shown = {k: v for k, v in row.items() if k.startswith(("train/", "val/"))}
                pbar.set_postfix({k: f"{v:.4g}" for k, v in shown.items()}, refresh=False)
                if getattr(self, "_log_lines", False):
                    log.info(self._progress_line(shown))
            pbar.update(1)

            stop = any_rank(self._stop_requested)
            if (cfg.ckpt_every > 0 and self.step % cfg.ckpt_every == 0) or final or stop:
                self.save_checkpoint(self.out_dir / "last.pt")
            if stop:
                return True
            if final or epoch_done:
                return False
        return False

    def _loader(self, data: Dataset, sampler: ShardedSampler, drop_last: bool, generator_seed: int) -> DataLoader:
        # An explicit generator: otherwise DataLoader draws its worker base seed from the global torch RNG, and a
        # resumed run (which creates its loader mid-epoch) would shift every later random draw.
        collate_fn = self.collate_fn
        if collate_fn is None and has_get_batch(data):
            # Pose datasets gather a whole batch by index arithmetic (the same samples, tens of times faster).
            data, collate_fn = BatchedDataset(data), passthrough
        return DataLoader(
            data,
            batch_size=self.batch_size,
            sampler=sampler,
            drop_last=drop_last,
            num_workers=self.cfg.num_workers,
            collate_fn=collate_fn,
            pin_memory=self.device.type == "cuda",
            generator=torch.Generator().manual_seed(generator_seed),
        )

    def _accumulate(self, outputs: Mapping[str, Any]) -> None:
        for k, v in outputs.items():
            if isinstance(v, torch.Tensor):
                if v.numel() != 1:
                    raise ValueError(f"training_step output {k!r} must be a scalar, got shape {tuple(v.shape)}")
                v = v.detach().double().reshape(())
            elif isinstance(v, (int, float, np.floating, np.integer)) and not isinstance(v, bool):
                v = float(v)
            else:
                raise TypeError(f"training_step output {k!r} must be a number or scalar tensor, got {type(v).__name__}")
            acc = self._acc.setdefault(k, [0.0, 0])
            acc[0] = acc[0] + v
            acc[1] += 1

    def _progress_line(self, shown: Mapping[str, float]) -> str:
        """``step 250/1500 (17%) | train/loss 0.123 val/mpjpe 0.081 | 3.2 steps/s | ETA 6.5 min``."""
        start, first_step = self._fit_clock
        elapsed = time.perf_counter() - start
        rate = (self.step - first_step) / elapsed if elapsed > 0 else 0.0
        left = (self.total_steps - self.step) / rate if rate > 0 else float("nan")
        eta = f"{left / 60:.1f} min" if left == left else "?"
        values = " ".join(f"{k} {v:.4g}" for k, v in shown.items() if not k.startswith("train/time"))
        return (
            f"step {self.step}/{self.total_steps} ({100 * self.step / max(self.total_steps, 1):.0f}%) | {values} | "
            f"{rate:.3g} steps/s | ETA {eta}"
        )

    def _train_row(self) -> dict[str, float]:
        sums = {k: (float(s), float(c)) for k, (s, c) in self._acc.items()}
        self._acc = {}
        reduced = reduce_sums(sums)
        row = {f"train/{k}": s / c for k, (s, c) in reduced.items() if c > 0}
        for name, opt in self.task.optimizers_by_name().items():
            row[f"lr/{name}"] = float(opt.param_groups[0]["lr"])
        now = time.perf_counter()
        row["time/step_s"] = (now - self._last_log_time) / max(self._steps_since_log, 1)
        self._last_log_time, self._steps_since_log = now, 0
        return row

    def _update_best(self, val: Mapping[str, float]) -> None:
        name = self.cfg.best_metric
        if name is None:
            return
        if name not in val:
            raise KeyError(f"train.best_metric={name!r} is not among the validation metrics {sorted(val)}")
        value = float(val[name])
        if math.isnan(value):
            return
        better = self.best_value is None or (
            value < self.best_value if self.cfg.best_mode == "min" else value > self.best_value
        )
        if better:
            self.best_value, self.best_step = value, self.step
            self.save_checkpoint(self.out_dir / "best.pt")

    # -- resume ------------------------------------------------------------------------------------
    def _resume_path(self) -> Path | None:
        last = self.out_dir / "last.pt"
        if self.resume is None or self.resume is False:
            if last.exists() and self.is_main:
                warnings.warn(
                    f"starting a fresh run in {self.out_dir}, which holds {last.name}; it will be overwritten "
                    "(pass resume=True / --resume to continue it)",
                    stacklevel=3,
                )
            return None
        if self.resume is True:
            if not last.exists():
                if self.is_main:
                    warnings.warn(f"--resume: no {last} yet, starting a fresh run", stacklevel=3)
                return None
            return last
        path = Path(self.resume)
        if not path.is_file():
            raise FileNotFoundError(f"checkpoint to resume from not found: {path}")
        return path

    def _load_state(self, state: Mapping[str, Any], path: Path) -> None:
        if state.get("format") != CHECKPOINT_FORMAT:
            raise ValueError(f"{path}: not a weakpose.train checkpoint (format {state.get('format')!r})")
        self._check_same_script(state, path)
        try:
            self.task.load_state_dict(state["task"])
        except (RuntimeError, KeyError, ValueError) as exc:
            raise self._mismatch_error(state, path, exc) from exc
        self.step = int(state["step"])
        self.epoch = int(state["epoch"])
        self.batch_in_epoch = int(state["batch_in_epoch"])
        old_bs, old_world = int(state["batch_size"]), int(state["world_size"])
        if old_bs != self.batch_size or old_world != self.ctx.world_size:
            # Continue at the next global-batch boundary after the samples all ranks consumed (see
            # resume_batch_in_epoch); _run_epoch finishes the epoch if that boundary is past its last batch.
            self.batch_in_epoch = min(
                resume_batch_in_epoch(self.batch_in_epoch, old_bs, old_world, self.batch_size, self.ctx.world_size),
                self.steps_per_epoch,
            )
            warnings.warn(
                f"{path}: batch size/world size changed ({old_bs}x{old_world} -> "
                f"{self.batch_size}x{self.ctx.world_size}); continuing epoch {self.epoch} at batch "
                f"{self.batch_in_epoch}, but not bit-exactly",
                stacklevel=3,
            )
        if int(state["num_train_samples"]) != len(self.train_data):
            warnings.warn(
                f"{path}: the training set had {state['num_train_samples']} samples, now {len(self.train_data)}",
                stacklevel=3,
            )
        best = state.get("best", {})
        if best.get("metric") == self.cfg.best_metric:
            self.best_value, self.best_step = best.get("value"), best.get("step")
        rank = self.ctx.rank
        accs = state.get("log_acc", [])
        self._acc = {k: [v[0], int(v[1])] for k, v in accs[rank].items()} if rank < len(accs) else {}
        saved_cfg = state.get("config")
        now_cfg = config_to_dict(self.config)
        if isinstance(saved_cfg, dict) and self.is_main:
            diffs = _dict_diff(saved_cfg, now_cfg)
            if diffs:
                log.warning("resuming %s with a changed config: %s", path, "; ".join(diffs))
        if self.is_main:
            log.info(
                "resuming from %s at step %d (epoch %d, batch %d)", path, self.step, self.epoch, self.batch_in_epoch
            )

    def _check_same_script(self, state: Mapping[str, Any], path: Path) -> None:
        """Refuse a checkpoint whose task or config class (stored since they were added) is not this run's."""
        for key, obj, what in (("task_class", self.task, "task"), ("config_class", self.config, "config")):
            saved = state.get(key)
            if isinstance(saved, str) and saved.rpartition(":")[2] != type(obj).__qualname__:
                raise CheckpointMismatchError(
                    f"{path} was written by a different task/script ({what} {saved}, this run's is "
                    f"{_class_name(type(obj))}); resume from a checkpoint of this script, or start a fresh run "
                    "in another train.out_dir",
                    path,
                )

    def _mismatch_error(self, state: Mapping[str, Any], path: Path, exc: BaseException) -> CheckpointMismatchError:
        """One sentence for a task state that does not load: other component names mean another script;
        otherwise list the config fields that changed (model sizes first), else torch's first line."""
        how = "resume with the config that wrote it, or start a fresh run in another train.out_dir"
        names = _component_name_diff(state.get("task", {}), self.task)
        if names:
            return CheckpointMismatchError(
                f"{path} was written by a different task/script ({names}); resume from a checkpoint of this "
                "script, or start a fresh run in another train.out_dir",
                path,
            )
        saved_cfg, now_cfg = state.get("config"), config_to_dict(self.config)
        if isinstance(saved_cfg, dict) and isinstance(now_cfg, dict):
            if "config_class" not in state and set(saved_cfg) != set(now_cfg):
                return CheckpointMismatchError(
                    f"{path} was written by a different task/script (config sections {sorted(saved_cfg)}, this "
                    f"run's {sorted(now_cfg)}); resume from a checkpoint of this script, or start a fresh run in "
                    "another train.out_dir",
                    path,
                )
            diffs = _config_diffs(saved_cfg, now_cfg, _train_section(self.config))
            if diffs:
                shown = "; ".join(diffs[:6]) + (f"; and {len(diffs) - 6} more" if len(diffs) > 6 else "")
                return CheckpointMismatchError(f"{path} was written with a different config ({shown}); {how}", path)
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0].strip()
        return CheckpointMismatchError(f"{path} does not fit this task ({_short(first)}); {how}", path)

    def _restore_rng(self, state: Mapping[str, Any]) -> None:
        rngs = state.get("rng", [])
        if self.ctx.rank < len(rngs):
            set_rng_state(rngs[self.ctx.rank])
        else:
            warnings.warn(f"checkpoint has no RNG state for rank {self.ctx.rank}; seeding it afresh", stacklevel=3)
            seed_everything(derive_seed(self.cfg.seed, self.ctx.rank, self.step))

    # -- signals -----------------------------------------------------------------------------------
    def _install_signal_handlers(self) -> dict[int, Any]:
        if threading.current_thread() is not threading.main_thread():
            return {}
        old = {}
        for sig in (signal.SIGTERM, signal.SIGINT):
            old[sig] = signal.signal(sig, self._on_signal)
        return old

    def _on_signal(self, signum: int, frame: Any) -> None:
        if signum == signal.SIGINT and self._stop_requested:
            raise KeyboardInterrupt  # a second Ctrl-C: stop at once, without a checkpoint
        self._stop_requested = True
        if self.is_main:
            log.warning("signal %d: finishing this step, saving a checkpoint, then stopping", signum)

    @staticmethod
    def _restore_signal_handlers(old: Mapping[int, Any]) -> None:
        for sig, handler in old.items():
            signal.signal(sig, handler)


def _call(obj: Any, hook: str, *args: Any) -> None:
    fn = getattr(obj, hook, None)
    if fn is not None:
        fn(*args)


def _class_name(cls: type) -> str:
    """``module:qualname``; resumes compare only the qualname (a script may run as ``__main__`` or by module)."""
    return f"{cls.__module__}:{cls.__qualname__}"


def _short(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _component_name_diff(saved: Any, task: TrainTask) -> str:
    """ "checkpoint modules ['a'], this task's ['b']" for each kind of component whose names differ; '' if none."""
    if not isinstance(saved, Mapping):
        return "no task state"
    have = task._components()
    parts = []
    for kind in ("modules", "optimizers", "schedulers", "scalers"):
        s, h = sorted(saved.get(kind, {}) or {}), sorted(have[kind])
        if s != h:
            parts.append(f"checkpoint {kind} {s}, this task's {h}")
    return "; ".join(parts)


def _train_section(config: Any) -> str | None:
    """The name of the config section holding the TrainConfig (None when the config is one)."""
    return None if isinstance(config, TrainConfig) else "train"


def _config_diffs(saved: Mapping[str, Any], now: Mapping[str, Any], train_section: str | None) -> list[str]:
    """Changed config fields, model/data fields before the train section's (they are what changes shapes)."""
    diffs = _dict_diff(saved, now)
    if train_section is None:
        return diffs
    head = f"{train_section}."
    return [d for d in diffs if not d.startswith(head)] + [d for d in diffs if d.startswith(head)]


def _dict_diff(a: Mapping[str, Any], b: Mapping[str, Any], prefix: str = "") -> list[str]:
    out = []
    for k in sorted(set(a) | set(b), key=str):
        key = f"{prefix}{k}"
        va, vb = a.get(k, "<missing>"), b.get(k, "<missing>")
        if isinstance(va, Mapping) and isinstance(vb, Mapping):
            out.extend(_dict_diff(va, vb, key + "."))
        elif va != vb:
            out.append(f"{key}: {va!r} -> {vb!r}")
    return out
