"""One training loop for every sample script: configs, seeding, checkpoints, exact resume, logging, DDP.

Typical use::

    cfg, args = parse_config_args(MyConfig)
    seed_everything(cfg.train.seed)
    task = MyTask(cfg)                      # a TrainTask: owns modules/optimisers, implements training_step
    train, val = split_train_val(train_items, key_fn=lambda s: s.subject, val_groups=["S8"])
    Trainer(task, cfg, MyDataset(train), MyDataset(val), resume=args.resume).fit()
"""

from weakpose.train.callbacks import KeepBestWeights
from weakpose.train.checkpoint import (
    CHECKPOINT_FORMAT,
    CheckpointMismatchError,
    check_weights_only_safe,
    load_checkpoint,
    save_checkpoint,
)
from weakpose.train.config import (
    ConfigError,
    Shortcut,
    TrainConfig,
    add_standard_args,
    apply_overrides,
    config_from_args,
    config_from_dict,
    config_to_dict,
    find_train_config,
    load_config,
    parse_config_args,
    save_config,
)
from weakpose.train.distributed import (
    DistContext,
    ShardedSampler,
    all_reduce_gradients,
    cleanup_distributed,
    epoch_permutation,
    get_context,
    init_distributed,
    resolve_device,
    resume_batch_in_epoch,
)
from weakpose.train.loop import (
    Callback,
    FitResult,
    Trainer,
    TrainTask,
    WallClockBudget,
    batch_size_of,
    move_to_device,
    split_train_val,
)
from weakpose.train.metrics_log import CSVLogger, JSONLLogger, make_loggers, read_csv_log, read_jsonl_log
from weakpose.train.run_lock import RunFolderLock, RunFolderLockedError
from weakpose.train.seeding import derive_seed, get_rng_state, seed_everything, set_deterministic, set_rng_state
from weakpose.train.startup import start_run

__all__ = [
    "CHECKPOINT_FORMAT",
    "Callback",
    "CheckpointMismatchError",
    "ConfigError",
    "CSVLogger",
    "DistContext",
    "FitResult",
    "JSONLLogger",
    "KeepBestWeights",
    "RunFolderLock",
    "RunFolderLockedError",
    "ShardedSampler",
    "TrainConfig",
    "TrainTask",
    "Trainer",
    "WallClockBudget",
    "add_standard_args",
    "all_reduce_gradients",
    "apply_overrides",
    "batch_size_of",
    "check_weights_only_safe",
    "cleanup_distributed",
    "config_from_args",
    "config_from_dict",
    "config_to_dict",
    "derive_seed",
    "epoch_permutation",
    "find_train_config",
    "get_context",
    "get_rng_state",
    "init_distributed",
    "load_checkpoint",
    "load_config",
    "make_loggers",
    "move_to_device",
    "parse_config_args",
    "read_csv_log",
    "read_jsonl_log",
    "resolve_device",
    "resume_batch_in_epoch",
    "save_checkpoint",
    "save_config",
    "seed_everything",
    "set_deterministic",
    "set_rng_state",
    "split_train_val",
    "start_run",
    "Shortcut",
]
