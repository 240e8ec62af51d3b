"""Dataclass configs: YAML files, ``key=value`` command-line overrides, and the resolved config saved with the run.

A script describes its options as nested dataclasses (one section per concern) and reads them with
:func:`load_config` or :func:`parse_config_args`. Precedence, lowest first: dataclass defaults, the YAML file,
the ``--device``/``--out`` shortcuts, then ``section.field=value`` overrides. Every value is checked against (and
converted to) the type annotation of its field, and an unknown key is an error that lists the valid ones.
Obviously unusable numbers (a learning rate <= 0, a batch size < 1, ...) are refused by field name when the config
is read: see :func:`check_values`.

Override style: dotted keys with ``=``, e.g. ``train.batch_size=64 optim.lr=1e-3 model.dims=[256,256]``.
"""

from __future__ import annotations

import argparse
import collections.abc as cabc
import dataclasses
import difflib
import enum
import inspect
import os
import re
import types
import typing
from pathlib import Path
from typing import Any, Callable, Literal, Mapping, Optional, Sequence, TypeVar, Union

import yaml

from weakpose.io_utils import atomic_write_text

__all__ = [
    "ConfigError",
    "TrainConfig",
    "load_config",
    "save_config",
    "config_to_dict",
    "config_from_dict",
    "check_values",
    "apply_overrides",
    "add_standard_args",
    "config_from_args",
    "parse_config_args",
    "find_train_config",
    "Shortcut",
    "config_keys_help",
]

C = TypeVar("C")

_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}
_NONE = {"null", "none", "~", ""}


class ConfigError(ValueError):
    """A config value or key is invalid; the message names the key and where it came from."""


@dataclasses.dataclass
class TrainConfig:
    """Options of the shared training loop (:class:`weakpose.train.Trainer`).

    ``batch_size`` is per process: under ``torchrun`` with N processes one optimiser step sees N × batch_size
    samples. ``max_steps``, when set, overrides ``epochs``. Intervals are in optimiser steps (calls of the task's
    ``training_step``); ``val_every=0`` validates at the end of every epoch, ``ckpt_every=0`` checkpoints only at the
    end and on SIGTERM/Ctrl-C. ``best_metric`` names a validation metric (``val/<key>``): best.pt is judged on the
    validation split only, never on test subjects.
    """

    out_dir: str = "runs/default"
    seed: int = 0
    device: str = "auto"  # 'auto' | 'cpu' | 'cuda' | 'cuda:<index>'
    epochs: int = 1
    max_steps: Optional[int] = None
    batch_size: int = 32
    num_workers: int = 0
    drop_last: bool = False
    log_every: int = 50
    val_every: int = 0
    ckpt_every: int = 1000
    grad_clip: Optional[float] = None  # max global L2 norm of each optimiser's gradients; None = no clipping
    deterministic: bool = False
    best_metric: Optional[str] = None
    best_mode: Literal["min", "max"] = "min"
    progress: bool = True  # tqdm bar on rank 0 when stderr is a terminal
    tensorboard: bool = True  # also log to TensorBoard when the package is installed
    find_unused_parameters: bool = False  # passed to DistributedDataParallel

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size", "log_every"):
            if getattr(self, name) < 1:
                raise ConfigError(f"train.{name} must be >= 1, got {getattr(self, name)}")
        for name in ("num_workers", "val_every", "ckpt_every"):
            if getattr(self, name) < 0:
                raise ConfigError(f"train.{name} must be >= 0, got {getattr(self, name)}")
        if self.max_steps is not None and self.max_steps < 1:
            raise ConfigError(f"train.max_steps must be >= 1 or null, got {self.max_steps}")
        if self.grad_clip is not None and not self.grad_clip > 0:
            raise ConfigError(f"train.grad_clip must be > 0 or null, got {self.grad_clip}")
        if self.best_metric is not None and not self.best_metric.startswith("val/"):
            raise ConfigError(
                f"train.best_metric={self.best_metric!r}: the best checkpoint is chosen on the validation split "
                "only, so the metric must be a validation metric named 'val/<key>'"
            )
        dev = self.device
        if not (dev in ("auto", "cpu", "cuda", "mps") or (dev.startswith("cuda:") and dev[5:].isdigit())):
            raise ConfigError(f"train.device={dev!r}: expected 'auto', 'cpu', 'cuda', 'cuda:<index>' or 'mps'")


# ----------------------------------------------------------------------------------------------- type coercion


def _is_optional(tp: Any) -> bool:
    return typing.get_origin(tp) in (Union, types.UnionType) and type(None) in typing.get_args(tp)


def _type_name(tp: Any) -> str:
    if typing.get_origin(tp) is not None:
        return str(tp).replace("typing.", "")
    return getattr(tp, "__name__", None) or str(tp)


def _hints(cls: type) -> dict[str, Any]:
    try:
        return typing.get_type_hints(cls)
    except Exception as exc:  # unresolvable string annotation: name the class
        raise ConfigError(f"cannot resolve the type annotations of {cls.__name__}: {exc}") from exc


def _parse_text(text: str) -> Any:
    """Parse a command-line value as YAML, with the float forms PyYAML misses (``1e-3``) made floats."""
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    if isinstance(value, str):
        try:
            return float(value) if value.strip().lower() not in ("nan", "inf", "-inf", "infinity") else value
        except ValueError:
            return value
    return value


def _coerce(value: Any, tp: Any, key: str, source: str, text: bool = False) -> Any:
    """Check ``value`` against annotation ``tp`` and convert it; ``text`` marks a raw command-line string."""

    def fail(why: str = "") -> ConfigError:
        return ConfigError(
            f"config key '{key}' ({source}): expected {_type_name(tp)}, got {value!r}" + (f" ({why})" if why else "")
        )

    if tp is Any or tp is object:
        return _parse_text(value) if text else value

    origin = typing.get_origin(tp)
    args = typing.get_args(tp)

    if origin in (Union, types.UnionType):
        if type(None) in args and (value is None or (text and value.strip().lower() in _NONE)):
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(value, arg, key, source, text)
            except ConfigError as exc:
                errors.append(str(exc))
        raise fail()

    if origin is Literal:
        candidates = [_coerce_literal_text(value, a) if text else value for a in args]
        for cand, allowed in zip(candidates, args):
            if cand == allowed and type(cand) is type(allowed):
                return allowed
        raise fail(f"allowed: {', '.join(repr(a) for a in args)}")

    if dataclasses.is_dataclass(tp):
        if text:
            raise ConfigError(
                f"config key '{key}' ({source}) is a section; set its fields one by one, e.g. '{key}.<field>=...'"
            )
        if isinstance(value, tp):
            return value
        if not isinstance(value, Mapping):
            raise fail("a section needs a mapping")
        return _build(tp, value, key, source, base=None)

    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            return value.strip().lower() in _TRUE
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        raise fail("use true/false")

    if tp is int:
        if isinstance(value, bool):
            raise fail()
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str):
            try:
                return int(value.strip().replace("_", ""))
            except ValueError:
                try:
                    f = float(value)
                except ValueError:
                    raise fail() from None
                if f.is_integer():
                    return int(f)
        raise fail()

    if tp is float:
        if isinstance(value, bool):
            raise fail()
        if isinstance(value, (int, float)):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                raise fail() from None
        raise fail()

    if tp is str:
        if isinstance(value, str):
            return value
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)
        raise fail("quote it in YAML")

    if tp in (Path, os.PathLike) or (isinstance(tp, type) and issubclass(tp, Path)):
        if isinstance(value, (str, os.PathLike)):
            return Path(value)
        raise fail()

    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        if isinstance(value, tp):
            return value
        for member in tp:
            if value == member.value or value == member.name:
                return member
        raise fail(f"allowed: {', '.join(str(m.value) for m in tp)}")

    if origin in (list, tuple, cabc.Sequence) or tp in (list, tuple):
        if text:
            value = _parse_text(value)
        if not isinstance(value, (list, tuple)):
            raise fail("expected a list, e.g. [1, 2]")
        if origin is tuple and args and not (len(args) == 2 and args[1] is Ellipsis):
            if len(value) != len(args):
                raise fail(f"expected {len(args)} items")
            return tuple(_coerce(v, a, f"{key}[{i}]", source) for i, (v, a) in enumerate(zip(value, args)))
        item_tp = args[0] if args else Any
        items = [_coerce(v, item_tp, f"{key}[{i}]", source) for i, v in enumerate(value)]
        return tuple(items) if (origin is tuple or tp is tuple) else items

    if origin in (dict, cabc.Mapping) or tp is dict:
        if text:
            value = _parse_text(value)
        if not isinstance(value, Mapping):
            raise fail("expected a mapping, e.g. {a: 1}")
        key_tp, val_tp = args if args else (Any, Any)
        return {
            _coerce(k, key_tp, f"{key}.{k}", source): _coerce(v, val_tp, f"{key}.{k}", source) for k, v in value.items()
        }

    # Any other class: accept instances as they are.
    if isinstance(tp, type) and isinstance(value, tp):
        return value
    raise fail("unsupported field type")


def _coerce_literal_text(text: str, allowed: Any) -> Any:
    if isinstance(allowed, str):
        return text
    parsed = _parse_text(text)
    return parsed


def _build(cls: type, data: Mapping[str, Any], prefix: str, source: str, base: Any) -> Any:
    """Build dataclass ``cls`` from a mapping; fields missing from it come from ``base`` or the defaults."""
    hints = _hints(cls)
    init_fields = [f for f in dataclasses.fields(cls) if f.init]
    names = [f.name for f in init_fields]
    for k in data:
        if k not in names:
            raise _unknown_key(k, prefix, names, source)
    kwargs: dict[str, Any] = {}
    for f in init_fields:
        key = f"{prefix}.{f.name}" if prefix else f.name
        if f.name in data:
            tp = hints[f.name]
            value = data[f.name]
            if dataclasses.is_dataclass(tp) and isinstance(value, Mapping):
                sub_base = getattr(base, f.name) if base is not None else _default_of(f)
                kwargs[f.name] = _build(tp, value, key, source, sub_base)
            else:
                kwargs[f.name] = _coerce(value, tp, key, source)
        elif base is not None:
            kwargs[f.name] = getattr(base, f.name)
    try:
        return cls(**kwargs)
    except TypeError as exc:  # a required field left unset
        raise ConfigError(f"cannot build config section '{prefix or cls.__name__}' ({source}): {exc}") from exc


def _default_of(f: dataclasses.Field) -> Any:
    if f.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
        return f.default_factory()  # type: ignore[misc]
    if f.default is not dataclasses.MISSING:
        return f.default
    return None


def _unknown_key(k: str, prefix: str, valid: Sequence[str], source: str) -> ConfigError:
    full = f"{prefix}.{k}" if prefix else k
    where = f"section '{prefix}'" if prefix else "the top level"
    close = difflib.get_close_matches(str(k), list(valid), n=1)
    hint = f"; did you mean '{close[0]}'?" if close else ""
    return ConfigError(
        f"unknown config key '{full}' ({source}); valid keys in {where}: {', '.join(sorted(valid))}{hint}"
    )


# ---------------------------------------------------------------------------------------------- public helpers


def config_to_dict(cfg: Any) -> Any:
    """Plain nested dict/list/str/number form of a config (YAML- and ``weights_only``-safe)."""
    if dataclasses.is_dataclass(cfg) and not isinstance(cfg, type):
        return {f.name: config_to_dict(getattr(cfg, f.name)) for f in dataclasses.fields(cfg)}
    if isinstance(cfg, Mapping):
        return {config_to_dict(k): config_to_dict(v) for k, v in cfg.items()}
    if isinstance(cfg, (list, tuple)):
        return [config_to_dict(v) for v in cfg]
    if isinstance(cfg, enum.Enum):
        return cfg.value
    if isinstance(cfg, os.PathLike):
        return os.fspath(cfg)
    if cfg is None or isinstance(cfg, (bool, int, str)):
        return cfg
    if isinstance(cfg, float):
        return cfg
    if hasattr(cfg, "item") and callable(cfg.item):  # numpy / torch scalar
        return cfg.item()
    raise ConfigError(f"config value {cfg!r} of type {type(cfg).__name__} cannot be saved as YAML")


def config_from_dict(cls: type[C], data: Mapping[str, Any], source: str = "dict") -> C:
    """Build ``cls`` from a (possibly partial) nested mapping, checking keys and types."""
    if not dataclasses.is_dataclass(cls):
        raise TypeError(f"config class must be a dataclass, got {cls!r}")
    if not isinstance(data, Mapping):
        raise ConfigError(f"config ({source}) must be a mapping at the top level, got {type(data).__name__}")
    cfg = _build(cls, data, "", source, base=_try_default(cls))
    check_values(cfg)
    return cfg


# Range checks keyed on field names, applied to every section of every config (see check_values): a value that
# no run can use is refused when the config is read, not steps (or a data generation) later.
def _is_lr(name: str) -> bool:
    return name == "lr" or name.endswith("_lr")


_VALUE_RULES: tuple[tuple[Callable[[str], bool], Callable[[float], bool], str], ...] = (
    (_is_lr, lambda v: v > 0, "> 0"),
    (lambda n: n == "batch_size" or n.endswith("_batch_size"), lambda v: v >= 1, ">= 1"),
    (lambda n: n == "max_steps", lambda v: v >= 1, ">= 1 or null"),
    (lambda n: n == "stride" or n.endswith("_stride"), lambda v: v >= 1, ">= 1"),
    (lambda n: n == "decay_every", lambda v: v >= 1, ">= 1"),
    (lambda n: n == "lr_decay", lambda v: v > 0, "> 0"),
    (lambda n: n == "n_critic", lambda v: v >= 1, ">= 1"),
    (lambda n: n == "dropout", lambda v: 0 <= v < 1, "in [0, 1)"),
    (lambda n: n == "weight_decay", lambda v: v >= 0, ">= 0"),
)


def check_values(cfg: Any, prefix: str = "") -> None:
    """Refuse obviously unusable numbers in any section of ``cfg``, by field name, with one sentence such as
    ``optim.lr must be > 0, got 0.0``: learning rates (``lr``, ``*_lr``) > 0, batch sizes (``batch_size``,
    ``*_batch_size``), ``max_steps``, strides (``stride``, ``*_stride``), ``decay_every`` and ``n_critic`` >= 1,
    ``lr_decay`` > 0, ``dropout`` in [0, 1), ``weight_decay`` >= 0. ``None`` (an unset optional) is not checked.
    Called by :func:`config_from_dict` (so by :func:`load_config` and :func:`parse_config_args`)."""
    if not dataclasses.is_dataclass(cfg) or isinstance(cfg, type):
        return
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name, None)
        key = f"{prefix}.{f.name}" if prefix else f.name
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            check_values(value, key)
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            continue
        for applies, ok, requirement in _VALUE_RULES:
            if applies(f.name) and not ok(value):
                raise ConfigError(f"{key} must be {requirement}, got {value}")


def _try_default(cls: type) -> Any:
    try:
        return cls()
    except TypeError:  # a required field without default: build from the given values only
        return None


def _field_type_at(cls: type, parts: list[str], source: str) -> Any:
    """Annotation of the dotted key ``parts`` inside dataclass ``cls``; unknown keys raise ConfigError."""
    tp: Any = cls
    for i, part in enumerate(parts):
        prefix = ".".join(parts[:i])
        if dataclasses.is_dataclass(tp):
            names = [f.name for f in dataclasses.fields(tp) if f.init]
            if part not in names:
                raise _unknown_key(part, prefix, names, source)
            tp = _hints(tp)[part]
        elif typing.get_origin(tp) in (dict, cabc.Mapping) or tp is dict:
            args = typing.get_args(tp)
            tp = args[1] if args else Any
        elif tp is Any:
            pass
        else:
            raise ConfigError(f"config key '{'.'.join(parts)}' ({source}): '{prefix}' is a value, not a section")
    return tp


def apply_overrides(cls: type, data: dict[str, Any], overrides: Sequence[str]) -> dict[str, Any]:
    """Merge ``key=value`` strings into nested mapping ``data`` (in place and returned), typed by ``cls``."""
    for item in overrides:
        source = f"command-line override {item!r}"
        if item.startswith("-") or "=" not in item:
            raise ConfigError(
                f"cannot read override {item!r}: write overrides as dotted key=value, e.g. 'train.batch_size=64'"
            )
        key, text = item.split("=", 1)
        key = key.strip()
        parts = key.split(".")
        if not all(parts):
            raise ConfigError(f"malformed key in override {item!r}")
        tp = _field_type_at(cls, parts, source)
        value = _coerce(text, tp, key, source, text=True)
        node = data
        for part in parts[:-1]:
            child = node.get(part)
            if not isinstance(child, dict):
                child = {} if child is None else dict(child)
                node[part] = child
            node = child
        node[parts[-1]] = value
    return data


def load_config(cls: type[C], yaml_path: str | os.PathLike | None = None, argv: Sequence[str] | None = None) -> C:
    """Defaults of ``cls``, updated by the YAML file at ``yaml_path`` and then by ``key=value`` strings in ``argv``."""
    data: dict[str, Any] = {}
    source = "defaults"
    if yaml_path is not None:
        path = Path(yaml_path)
        if not path.is_file():
            raise FileNotFoundError(f"config file not found: {path}")
        try:
            loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            raise ConfigError(f"cannot parse YAML config {path}: {exc}") from exc
        if loaded is None:
            loaded = {}
        if not isinstance(loaded, Mapping):
            raise ConfigError(f"config file {path} must hold a mapping at the top level, got {type(loaded).__name__}")
        # Validate the file on its own first so an error names the file, not an override.
        config_from_dict(cls, loaded, source=f"file {path}")
        data = _deep_copy_mapping(loaded)
        source = f"file {path}"
    if argv:
        apply_overrides(cls, data, list(argv))
        source += " + command-line overrides"
    return config_from_dict(cls, data, source=source)


def _deep_copy_mapping(m: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _deep_copy_mapping(v) if isinstance(v, Mapping) else v for k, v in m.items()}


def save_config(cfg: Any, path: str | os.PathLike) -> Path:
    """Write the resolved config as YAML, atomically; :func:`load_config` reads it back to an equal config."""
    path = Path(path)
    text = yaml.safe_dump(config_to_dict(cfg), sort_keys=False, default_flow_style=False)
    atomic_write_text(path, text)
    return path


def find_train_config(cfg: Any) -> TrainConfig:
    """The :class:`TrainConfig` of an experiment config: the config itself, or its ``train`` section."""
    if isinstance(cfg, TrainConfig):
        return cfg
    section = getattr(cfg, "train", None)
    if isinstance(section, TrainConfig):
        return section
    raise ConfigError(
        f"{type(cfg).__name__} has no TrainConfig: give it a field 'train: TrainConfig' or subclass TrainConfig"
    )


# ---------------------------------------------------------------------------------------------- command line

_FIELD_LINE = re.compile(r"^\s+(\w+)\s*:[^#]*?(?:#\s*(.*))?$")


def _field_comments(cls: type) -> dict[str, str]:
    """``field -> help`` for a dataclass: ``metadata["help"]``, else the comment on the field's source line (the
    style every config here is written in: ``lr: float = 1e-3  # Adam step``), else ""."""
    out: dict[str, str] = {}
    try:
        lines = inspect.getsource(cls).splitlines()
    except (OSError, TypeError):  # classes built at run time have no source
        lines = []
    for line in lines:
        m = _FIELD_LINE.match(line)
        if m and m.group(2):
            out.setdefault(m.group(1), m.group(2).strip())
    for f in dataclasses.fields(cls):
        if f.metadata.get("help"):
            out[f.name] = str(f.metadata["help"])
    return out


def _short_value(value: Any) -> str:
    text = yaml.safe_dump(config_to_dict(value), default_flow_style=True, width=10_000).strip()
    text = text[:-4].strip() if text.endswith("...") else text
    return text if len(text) <= 40 else text[:37] + "..."


def config_keys_help(cls: type, defaults: Any = None) -> list[tuple[str, str, str, str]]:
    """Every leaf key of a config class: ``(dotted key, type, default, help)``, sections in field order."""
    base = defaults if defaults is not None else _try_default(cls)
    rows: list[tuple[str, str, str, str]] = []

    def walk(tp: type, value: Any, prefix: str) -> None:
        hints, comments = _hints(tp), _field_comments(tp)
        for f in dataclasses.fields(tp):
            if not f.init:
                continue
            key = f"{prefix}{f.name}"
            ftp = hints[f.name]
            current = getattr(value, f.name, None) if value is not None else None
            if dataclasses.is_dataclass(ftp) and isinstance(ftp, type):
                walk(ftp, current, key + ".")
            else:
                rows.append(
                    (key, _type_name(ftp).replace("NoneType", "None"), _short_value(current), comments.get(f.name, ""))
                )

    walk(cls, base, "")
    return rows


def _keys_epilog(cls: type) -> str:
    rows = config_keys_help(cls)
    width = min(34, max(len(k) for k, *_ in rows))
    lines = ["config keys (KEY=VALUE overrides; YAML files hold the same nested keys):"]
    for key, tp, default, text in rows:
        head = f"  {key:<{width}}  {tp} = {default}"
        lines.append(head + (f"  -- {text}" if text else ""))
    return "\n".join(lines)


@dataclasses.dataclass(frozen=True)
class Shortcut:
    """A script's flag that stands for a config override, shown in ``--help``: ``--data DIR`` -> ``data.root=DIR``
    (``value=None``), or a switch, ``--temporal-critic`` -> ``loss.temporal_critic=true`` (``value="true"``)."""

    flag: str
    key: str
    help: str = ""
    value: Optional[str] = None
    choices: Optional[Sequence[str]] = None

    def add_to(self, parser: argparse.ArgumentParser) -> None:
        dest = "shortcut_" + self.flag.lstrip("-").replace("-", "_")
        help_ = f"{self.help} (= {self.key}={self.value or self.flag.lstrip('-').upper().replace('-', '_')})"
        if self.value is None:
            parser.add_argument(
                self.flag,
                dest=dest,
                default=None,
                choices=self.choices,
                help=help_,
                metavar=self.flag.lstrip("-").upper().replace("-", "_"),
            )
        else:
            parser.add_argument(self.flag, dest=dest, action="store_const", const=self.value, default=None, help=help_)

    def override(self, args: argparse.Namespace) -> Optional[str]:
        value = getattr(args, "shortcut_" + self.flag.lstrip("-").replace("-", "_"), None)
        return None if value is None else f"{self.key}={value}"


def add_standard_args(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add ``--config``, ``--resume``, ``--resume-from``, ``--device``, ``--out``, ``--print-config``, ``--debug``
    and positional overrides. ``--debug`` is read by :func:`weakpose.train.startup.run_script` (full tracebacks)."""
    parser.add_argument("--config", metavar="YAML", default=None, help="YAML config file")
    parser.add_argument(
        "--print-config",
        action="store_true",
        help="print the resolved config (defaults + YAML + overrides) as YAML and exit",
    )
    parser.add_argument(
        "--resume", action="store_true", help="continue from <out>/last.pt if it exists (start fresh otherwise)"
    )
    parser.add_argument("--resume-from", metavar="CKPT", default=None, help="continue from this checkpoint")
    parser.add_argument("--device", default=None, help="shortcut for train.device=... (auto, cpu, cuda, cuda:0)")
    parser.add_argument("--out", default=None, help="shortcut for train.out_dir=...")
    parser.add_argument(
        "--debug", action="store_true", help="show the full Python traceback of an error instead of one line"
    )
    parser.add_argument(
        "overrides", nargs="*", metavar="KEY=VALUE", help="config overrides, e.g. train.batch_size=64 (keys below)"
    )
    return parser


def config_from_args(cls: type[C], args: argparse.Namespace) -> C:
    """Resolve a config from arguments parsed with :func:`add_standard_args`.

    When resuming without ``--config``, the run's saved ``config.yaml`` (next to the checkpoint) is the base, so
    ``--resume`` alone continues with the settings the run started with; overrides still apply on top.
    """
    overrides: list[str] = list(getattr(args, "shortcut_overrides", None) or [])
    train_key = _train_prefix(cls)
    if args.device is not None:
        overrides.append(f"{train_key}device={args.device}")
    if args.out is not None:
        overrides.append(f"{train_key}out_dir={args.out}")
    overrides.extend(args.overrides or [])
    yaml_path = args.config
    if yaml_path is None and getattr(args, "resume_from", None):
        saved = Path(args.resume_from).parent / "config.yaml"
        yaml_path = saved if saved.is_file() else None
    elif yaml_path is None and getattr(args, "resume", False):
        out_dir = find_train_config(load_config(cls, None, overrides)).out_dir
        saved = Path(out_dir) / "config.yaml"
        yaml_path = saved if saved.is_file() else None
    if yaml_path is not None and args.config is None:
        # The run's own config.yaml: keys this script does not know mean the run was another script's.
        try:
            return load_config(cls, yaml_path, overrides)
        except ConfigError as exc:
            if "unknown config key" not in str(exc):
                raise
            checkpoint = getattr(args, "resume_from", None) or Path(yaml_path).with_name("last.pt")
            raise ConfigError(
                f"{checkpoint} was written by a different script: its {yaml_path} does not fit this "
                f"one ({exc}); resume from a checkpoint of this script, or start a fresh run in "
                f"another train.out_dir"
            ) from None
    return load_config(cls, yaml_path, overrides)


def _train_prefix(cls: type) -> str:
    if isinstance(cls, type) and issubclass(cls, TrainConfig):
        return ""
    hints = _hints(cls)
    if "train" in hints and isinstance(hints["train"], type) and issubclass(hints["train"], TrainConfig):
        return "train."
    raise ConfigError(f"{cls.__name__} has no 'train: TrainConfig' field; --device/--out need one")


def parse_config_args(
    cls: type[C],
    argv: Sequence[str] | None = None,
    description: str | None = None,
    shortcuts: Sequence[Shortcut] = (),
    prog: str | None = None,
) -> tuple[C, argparse.Namespace]:
    """One call for scripts: parse ``argv`` (default ``sys.argv[1:]``) and return ``(config, args)``.

    ``--help`` shows ``description`` (the script's docstring), the standard flags, the script's ``shortcuts`` and
    every config key with its type, default and help; ``--print-config`` prints the resolved config and exits.
    ``args.resume`` is normalised to ``None`` (fresh run), ``True`` (``--resume``: <out>/last.pt if present) or
    the checkpoint path given with ``--resume-from``; pass it to ``Trainer(resume=...)``. A shortcut's override
    comes before the ``key=value`` ones, so an explicit key wins.
    """
    parser = argparse.ArgumentParser(
        prog=prog,
        description=description,
        epilog=_keys_epilog(cls),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_standard_args(parser)
    for shortcut in shortcuts:
        shortcut.add_to(parser)
    args = parser.parse_intermixed_args(argv)
    args.shortcut_overrides = [o for o in (s.override(args) for s in shortcuts) if o is not None]
    cfg = config_from_args(cls, args)
    if args.print_config:
        print(yaml.safe_dump(config_to_dict(cfg), sort_keys=False, default_flow_style=False), end="")
        raise SystemExit(0)
    args.resume = args.resume_from if args.resume_from else (True if args.resume else None)
    return cfg, args
