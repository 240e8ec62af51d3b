"""What every sample script does first: log to the console, read its config, pin threads, seed; and how it ends.

:func:`start_run` reads the config; :func:`run_script` wraps a script's ``main`` so that an error the user can fix
(a bad config value, a missing file, a malformed dataset) ends the script with one line on stderr instead of a
Python traceback. Every sample script ends with::

    if __name__ == "__main__":
        sys.exit(run_script(main))
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Any, Callable, Optional, Sequence, Tuple, Type, TypeVar

import torch

from weakpose.train.config import Shortcut, parse_config_args
from weakpose.train.seeding import seed_everything

__all__ = ["start_run", "run_script", "is_user_error", "error_message", "USER_ERROR_TYPES", "DEBUG_FLAG", "DEBUG_ENV"]

C = TypeVar("C")

DEBUG_FLAG = "--debug"
DEBUG_ENV = "WEAKPOSE_DEBUG"

# Built-in exceptions that report a problem with the user's input (files, config, data) rather than a bug.
USER_ERROR_TYPES: Tuple[Type[BaseException], ...] = (
    FileNotFoundError,
    FileExistsError,
    NotADirectoryError,
    IsADirectoryError,
    PermissionError,
    ValueError,
    KeyError,
)


def start_run(
    config_cls: Type[C],
    argv: Optional[Sequence[str]] = None,
    description: Optional[str] = None,
    shortcuts: Sequence[Shortcut] = (),
) -> Tuple[C, Any]:
    """Parse ``config_cls`` from ``--config``/``key=value`` arguments (``--help`` shows ``description``, the
    script's ``shortcuts`` and every config key), apply its ``num_threads`` (> 0 pins torch's thread count) and seed
    everything from ``train.seed``; returns ``(config, args)`` like ``parse_config_args``."""
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    cfg, args = parse_config_args(config_cls, argv, description=description, shortcuts=shortcuts)
    run = getattr(cfg, "run", None)  # the shared run section (weakpose.train.run_config), or a top-level key
    threads = getattr(run, "num_threads", None) if run is not None else getattr(cfg, "num_threads", 0)
    if threads and threads > 0:
        torch.set_num_threads(threads)
    seed_everything(cfg.train.seed)
    return cfg, args


def _defined_in_weakpose(cls: type) -> bool:
    module = getattr(cls, "__module__", "") or ""
    return module == "weakpose" or module.startswith("weakpose.")


def is_user_error(exc: BaseException) -> bool:
    """Whether ``exc`` is the user's to fix, so that a one-line message is all they need.

    The rule: an exception whose class (or any base class) is defined in a ``weakpose.*`` module -- the library's
    own errors (``ConfigError``, ``H36MFormatError``, ``BodyModelFileError``, ``BvhFormatError``, ...) are raised on
    purpose, with a message that names the key, file or value -- or one of :data:`USER_ERROR_TYPES` (missing,
    existing or unreadable paths, ``ValueError``, ``KeyError``), which is how config and data checks everywhere
    report bad input. Anything else (``TypeError``, ``AttributeError``, ``IndexError``, a ``RuntimeError`` from
    torch, ...) is taken for a bug and keeps its traceback.
    """
    if isinstance(exc, USER_ERROR_TYPES):
        return True
    return any(_defined_in_weakpose(cls) for cls in type(exc).__mro__ if cls not in (BaseException, object))


def error_message(exc: BaseException) -> str:
    """The message of ``exc`` as one readable line (no quotes around a KeyError's text, no ``[Errno 2]``)."""
    if isinstance(exc, OSError) and exc.strerror and exc.filename is not None:
        msg = f"{exc.strerror}: {os.fsdecode(exc.filename)}"
        if exc.filename2 is not None:
            msg += f" -> {os.fsdecode(exc.filename2)}"
    elif isinstance(exc, KeyError) and type(exc).__str__ is KeyError.__str__ and len(exc.args) == 1:
        key = exc.args[0]
        if isinstance(key, str) and " " in key.strip():
            msg = key  # a sentence passed to KeyError: print it without the quotes KeyError adds
        else:
            msg = f"missing key {key!r}"  # a bare lookup failure: say what it is
    else:
        msg = str(exc)
    lines = [line.strip() for line in msg.splitlines() if line.strip()]
    return " ".join(lines) if lines else type(exc).__name__


def _debug_requested(argv: Sequence[str]) -> bool:
    if os.environ.get(DEBUG_ENV, "").strip().lower() not in ("", "0", "false", "no", "off"):
        return True
    args = list(argv)
    if "--" in args:
        args = args[: args.index("--")]
    return DEBUG_FLAG in args


def run_script(
    main: Callable[..., Optional[int]], argv: Optional[Sequence[str]] = None, prog: Optional[str] = None
) -> int:
    """Call ``main()`` (or ``main(argv)`` when ``argv`` is given) and return the script's exit status.

    * A user error (see :func:`is_user_error`) prints ``<prog>: error: <message>`` -- one line -- to stderr and
      returns 2 (argparse's status for bad arguments).
    * ``KeyboardInterrupt`` prints ``<prog>: interrupted`` and returns 130 (128 + SIGINT).
    * Any other exception propagates with its full traceback (exit status 1): it is a bug to report.
    * ``--debug`` among the arguments (before a ``--``), or the environment variable ``WEAKPOSE_DEBUG=1``,
      re-raises every error with its full traceback. :func:`weakpose.train.config.add_standard_args` accepts
      ``--debug`` so the config parser does not refuse it.

    ``prog`` defaults to the script's file name (``sys.argv[0]``), as argparse names it.
    """
    prog = prog or Path(sys.argv[0]).name or "weakpose"
    args = list(sys.argv[1:] if argv is None else argv)
    debug = _debug_requested(args)
    try:
        code = main() if argv is None else main(list(argv))
    except KeyboardInterrupt:
        if debug:
            raise
        _flush_stdout()
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 -- sorted below, bugs are re-raised
        if debug or not is_user_error(exc):
            raise
        _flush_stdout()
        print(f"{prog}: error: {error_message(exc)}", file=sys.stderr)
        return 2
    return int(code or 0)


def _flush_stdout() -> None:
    try:
        sys.stdout.flush()
    except Exception:  # noqa: BLE001 -- a closed pipe must not hide the error message
        pass
