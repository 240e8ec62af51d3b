"""Device choice and distributed data-parallel training under ``torchrun``.

``torchrun --nproc_per_node N script.py ...`` sets RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR and MASTER_PORT;
:func:`init_distributed` reads them and joins the process group: 'nccl' when the device is a GPU, 'gloo' on CPU.
Without those variables everything here degrades to a single process, so the same script runs both ways.

The data order is one seeded permutation per epoch, shared by every rank; :class:`ShardedSampler` gives rank r the
positions r, r+N, r+2N, ... of it. Global step t therefore sees exactly the samples a single process with an
N-times larger batch would see at step t, and averaging gradients over ranks (what DDP does) reproduces that
process's gradient.
"""

from __future__ import annotations

import atexit
import datetime
import os
from dataclasses import dataclass
from typing import Any, Iterable, Iterator, Mapping

import torch
import torch.distributed as dist
from torch.utils.data import Sampler

from weakpose.train.seeding import derive_seed

__all__ = [
    "DistContext",
    "resolve_device",
    "init_distributed",
    "cleanup_distributed",
    "get_context",
    "barrier",
    "all_gather_objects",
    "reduce_sums",
    "any_rank",
    "all_reduce_gradients",
    "wrap_ddp",
    "unwrap_module",
    "ShardedSampler",
    "epoch_permutation",
    "resume_batch_in_epoch",
]


@dataclass(frozen=True)
class DistContext:
    """Where this process stands: its rank among ``world_size`` processes and its GPU index on the node."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    backend: str | None = None

    @property
    def is_distributed(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """Only the main process (rank 0) logs, shows progress and writes checkpoints."""
        return self.rank == 0


_created_group = False
_comm_device = torch.device("cpu")


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"environment variable {name}={value!r} is not an integer") from None


def resolve_device(spec: str | torch.device = "auto", local_rank: int = 0) -> torch.device:
    """Turn 'auto' | 'cpu' | 'cuda' | 'cuda:<i>' | 'mps' into a device; 'auto' is the GPU of this rank or the CPU.

    A requested GPU that is not there is an error rather than a silent fall-back to the CPU.
    """
    if isinstance(spec, torch.device):
        spec = str(spec)
    spec = spec.strip().lower()
    if spec == "auto":
        return torch.device("cuda", local_rank) if torch.cuda.is_available() else torch.device("cpu")
    if spec == "cpu":
        return torch.device("cpu")
    if spec.startswith("cuda"):
        if not torch.cuda.is_available():
            raise RuntimeError(f"device {spec!r} requested but CUDA is not available; use device=cpu or auto")
        index = local_rank if spec == "cuda" else int(spec.split(":", 1)[1])
        if index >= torch.cuda.device_count():
            raise RuntimeError(f"device {spec!r} (index {index}) but only {torch.cuda.device_count()} GPUs are visible")
        return torch.device("cuda", index)
    if spec == "mps":
        if not (hasattr(torch.backends, "mps") and torch.backends.mps.is_available()):
            raise RuntimeError("device 'mps' requested but it is not available")
        return torch.device("mps")
    raise ValueError(f"unknown device {spec!r}; expected auto, cpu, cuda, cuda:<index> or mps")


def get_context() -> DistContext:
    """The context of the current process group (rank 0 of 1 when none is initialised)."""
    if dist.is_available() and dist.is_initialized():
        return DistContext(
            rank=dist.get_rank(),
            world_size=dist.get_world_size(),
            local_rank=_env_int("LOCAL_RANK", 0),
            backend=str(dist.get_backend()),
        )
    return DistContext()


def init_distributed(
    device: str | torch.device = "auto", timeout_s: float = 1800.0
) -> tuple[DistContext, torch.device]:
    """Join the ``torchrun`` process group when WORLD_SIZE > 1 and return ``(context, device)``.

    Backend 'nccl' for CUDA devices, 'gloo' otherwise. Idempotent: an existing group is reused. The group is
    destroyed at interpreter exit (or earlier by :func:`cleanup_distributed`).
    """
    global _created_group, _comm_device
    world_size = _env_int("WORLD_SIZE", 1)
    local_rank = _env_int("LOCAL_RANK", 0)
    dev = resolve_device(device, local_rank)
    if world_size <= 1 and not (dist.is_available() and dist.is_initialized()):
        return DistContext(), dev
    if not dist.is_available():
        raise RuntimeError("WORLD_SIZE > 1 but this torch build has no torch.distributed")
    if not dist.is_initialized():
        for name in ("RANK", "MASTER_ADDR", "MASTER_PORT"):
            if name not in os.environ:
                raise RuntimeError(f"WORLD_SIZE={world_size} but {name} is unset; launch with torchrun")
        backend = "nccl" if dev.type == "cuda" else "gloo"
        if dev.type == "cuda":
            torch.cuda.set_device(dev)
        dist.init_process_group(backend=backend, init_method="env://", timeout=datetime.timedelta(seconds=timeout_s))
        _created_group = True
        atexit.register(cleanup_distributed)
    _comm_device = dev if str(dist.get_backend()) == "nccl" else torch.device("cpu")
    return get_context(), dev


def cleanup_distributed() -> None:
    """Destroy the process group if :func:`init_distributed` created it."""
    global _created_group
    if _created_group and dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
    _created_group = False


def _active() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def barrier() -> None:
    if _active():
        dist.barrier()


def all_gather_objects(obj: Any) -> list[Any]:
    """Every rank's ``obj`` (picklable), in rank order; ``[obj]`` without a process group."""
    if not _active():
        return [obj]
    out: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(out, obj)
    return out


def reduce_sums(sums: Mapping[str, tuple[float, float]]) -> dict[str, tuple[float, float]]:
    """Sum ``{key: (total, count)}`` over ranks (keys may differ between ranks); float64 so no precision is lost."""
    if not _active():
        return {k: (float(s), float(c)) for k, (s, c) in sums.items()}
    keys = sorted(set().union(*all_gather_objects(sorted(sums))))
    buf = torch.zeros(len(keys), 2, dtype=torch.float64, device=_comm_device)
    for i, k in enumerate(keys):
        if k in sums:
            buf[i, 0], buf[i, 1] = float(sums[k][0]), float(sums[k][1])
    dist.all_reduce(buf, op=dist.ReduceOp.SUM)
    values = buf.cpu().tolist()
    return {k: (v[0], v[1]) for k, v in zip(keys, values)}


def any_rank(flag: bool) -> bool:
    """True on every rank if ``flag`` is true on any rank (e.g. one rank caught SIGTERM)."""
    if not _active():
        return bool(flag)
    t = torch.tensor([1 if flag else 0], dtype=torch.int32, device=_comm_device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item())


def all_reduce_gradients(params: Iterable[torch.nn.Parameter]) -> None:
    """Average ``.grad`` over ranks in place — for modules a task keeps out of DDP (see ``TrainTask.ddp_exclude``)."""
    if not _active():
        return
    world = dist.get_world_size()
    for p in params:
        if p.grad is not None:
            dist.all_reduce(p.grad, op=dist.ReduceOp.SUM)
            p.grad.div_(world)


def wrap_ddp(module: torch.nn.Module, device: torch.device, find_unused_parameters: bool = False) -> torch.nn.Module:
    """Wrap in DistributedDataParallel when a process group is active and the module has trainable weights."""
    if not _active() or not any(p.requires_grad for p in module.parameters()):
        return module
    from torch.nn.parallel import DistributedDataParallel

    device_ids = [device.index] if device.type == "cuda" else None
    return DistributedDataParallel(module, device_ids=device_ids, find_unused_parameters=find_unused_parameters)


def unwrap_module(module: Any) -> Any:
    """The module inside a DDP (or DataParallel) wrapper; anything else unchanged."""
    from torch.nn.parallel import DataParallel, DistributedDataParallel

    return module.module if isinstance(module, (DataParallel, DistributedDataParallel)) else module


def epoch_permutation(num_samples: int, seed: int, epoch: int, shuffle: bool = True) -> torch.Tensor:
    """The data order of one epoch: a permutation of ``range(num_samples)`` fixed by ``(seed, epoch)``."""
    if not shuffle:
        return torch.arange(num_samples)
    gen = torch.Generator().manual_seed(derive_seed(seed, epoch))
    return torch.randperm(num_samples, generator=gen)


def resume_batch_in_epoch(
    batch_in_epoch: int, batch_size: int, world_size: int, new_batch_size: int, new_world_size: int
) -> int:
    """Where a run resumed with another batch size or process count continues in the current epoch.

    Rank r of N takes positions r, r+N, ... of the epoch's permutation, so after b full steps of B samples per rank
    the ranks together consumed exactly its first b·B·N positions, whatever N. The resumed run takes B'·N'
    positions per step; it continues at the first global-batch boundary at or after the consumed prefix:
    b' = ceil(b·B·N / (B'·N')). No sample is seen twice in the epoch; fewer than B'·N' (one new global batch)
    are skipped when the prefix is not a multiple of it. (Rounding down instead would repeat them.)
    """
    consumed = int(batch_in_epoch) * int(batch_size) * int(world_size)
    per_step = int(new_batch_size) * int(new_world_size)
    return -(-consumed // per_step)


class ShardedSampler(Sampler[int]):
    """Seeded, epoch-dependent order sharded over ranks, with a start offset for resuming mid-epoch.

    Rank r of N takes positions r, r+N, ... of :func:`epoch_permutation`. With ``pad=True`` the permutation is
    extended by wrapping round so every rank gets the same number of samples (training: ranks must take the same
    number of steps). With ``pad=False`` shards may differ by one (validation: no sample counted twice).
    ``set_start(k)`` skips this rank's first ``k`` samples of the epoch — the batches a killed run already consumed.
    """

    def __init__(
        self,
        num_samples: int,
        seed: int = 0,
        shuffle: bool = True,
        rank: int = 0,
        world_size: int = 1,
        pad: bool = True,
    ) -> None:
        if num_samples < 1:
            raise ValueError(f"ShardedSampler needs a non-empty dataset, got {num_samples} samples")
        if not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} outside world of size {world_size}")
        self.num_samples, self.seed, self.shuffle = int(num_samples), int(seed), bool(shuffle)
        self.rank, self.world_size, self.pad = int(rank), int(world_size), bool(pad)
        self.epoch = 0
        self.start = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def set_start(self, start: int) -> None:
        if not 0 <= start <= self.shard_size:
            raise ValueError(f"start {start} outside this rank's shard of {self.shard_size} samples")
        self.start = int(start)

    @property
    def shard_size(self) -> int:
        """Samples this rank sees in a whole epoch."""
        if self.pad:
            return -(-self.num_samples // self.world_size)
        return len(range(self.rank, self.num_samples, self.world_size))

    def shard_indices(self) -> torch.Tensor:
        """This rank's whole-epoch index list (ignores ``start``)."""
        perm = epoch_permutation(self.num_samples, self.seed, self.epoch, self.shuffle)
        if self.pad:
            total = self.shard_size * self.world_size
            if total > self.num_samples:
                reps = -(-total // self.num_samples)
                perm = perm.repeat(reps)[:total]
        return perm[self.rank :: self.world_size]

    def __iter__(self) -> Iterator[int]:
        return iter(self.shard_indices()[self.start :].tolist())

    def __len__(self) -> int:
        return self.shard_size - self.start
